# promql.py - every PromQL expression the monitoring stack ships, with where it comes from.
# Used by check_static.py (syntax, metric names) and check_live.py (against a real Prometheus).
import glob
import json
import os
import re

import yaml

DATASOURCE_UID = "rulsrv-prometheus"

# Grafana's built-in variables, replaced by what Grafana would send for a short time range.
BUILTIN_VARS = {
    "$__rate_interval": "1m",
    "$__interval_ms": "15000",
    "$__interval": "15s",
    "$__range_s": "300",
    "$__range_ms": "300000",
    "$__range": "5m",
}

PROMQL_WORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "bool", "offset", "inf", "nan", "Inf", "NaN",
}


def dashboards(src):
    """{file name: parsed dashboard} of monitoring/grafana/dashboards/*.json."""
    out = {}
    for path in sorted(glob.glob(os.path.join(src, "monitoring/grafana/dashboards/*.json"))):
        with open(path) as f:
            out[os.path.basename(path)] = json.load(f)
    return out


def walk_panels(panels):
    for p in panels:
        yield p
        yield from walk_panels(p.get("panels", []))


def variable_query(var):
    q = var.get("query")
    if isinstance(q, dict):
        q = q.get("query")
    return q or var.get("definition") or ""


def dashboard_exprs(src):
    """[(where, expr)] for every panel target, annotation and variable query."""
    out = []
    for name, d in dashboards(src).items():
        for p in walk_panels(d.get("panels", [])):
            for t in p.get("targets", []):
                out.append((f"{name} panel {p.get('id')} '{p.get('title')}' {t.get('refId')}",
                            t.get("expr", "")))
        for a in d.get("annotations", {}).get("list", []):
            expr = a.get("expr") or a.get("target", {}).get("expr", "")
            out.append((f"{name} annotation '{a.get('name')}'", expr))
        for v in d.get("templating", {}).get("list", []):
            if v.get("type") == "query":
                m = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\)\s*", variable_query(v))
                if m:
                    out.append((f"{name} variable ${v['name']}", m.group(1)))
    return out


def rule_files(src):
    return sorted(glob.glob(os.path.join(src, "monitoring/prometheus/rules/*.yml")))


def rules(src):
    """[(file, group, rule dict)] of every recording and alerting rule."""
    out = []
    for path in rule_files(src):
        with open(path) as f:
            doc = yaml.safe_load(f)
        for g in doc["groups"]:
            for r in g["rules"]:
                out.append((os.path.basename(path), g["name"], r))
    return out


def rule_exprs(src):
    out = []
    for fname, group, r in rules(src):
        kind = "alert" if "alert" in r else "record"
        out.append((f"{fname} {kind} {r.get('alert') or r.get('record')}", r["expr"]))
    return out


def substitute(expr, variables):
    """Replace Grafana variables: built-ins first (longest first), then dashboard ones."""
    for k in sorted(BUILTIN_VARS, key=len, reverse=True):
        expr = expr.replace(k, BUILTIN_VARS[k])
    for k, v in variables.items():
        expr = re.sub(r"\$\{" + k + r"(:[a-z]+)?\}|\$" + k + r"\b", v, expr)
    return expr


def metric_names(expr):
    """Names of the series an expression selects (heuristic good enough for our files)."""
    e = re.sub(r'"(\\.|[^"\\])*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", e):
        word = m.group(0)
        rest = e[m.end():].lstrip()
        if word in PROMQL_WORDS or rest.startswith("("):
            continue
        if re.fullmatch(r"\d+[smhdwy]", word) or word.startswith("$"):
            continue
        before = e[:m.start()]
        if re.search(r"[0-9.]$", before):  # 1e-4 and the like
            continue
        names.add(word)
    return names
