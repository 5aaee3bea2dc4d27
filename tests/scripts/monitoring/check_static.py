#!/usr/bin/env python3
# check_static.py SRC OUTDIR - structural checks of the shipped monitoring files, no server
# needed: dashboards (JSON, ids, grid, datasource uid, hosts, queries, variables, metric
# names), provisioning, docker-compose.yml and the retention flags. Writes OUTDIR/exprs.yml,
# every dashboard expression as a recording rule, for `promtool check rules` to parse.
import os
import re
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import promql  # noqa: E402

SRC, OUT = sys.argv[1], sys.argv[2]
errors = []


def fail(msg):
    errors.append(msg)


# docs/METRICS.md, the metric names the services export, plus Prometheus's own `up` and the
# drift plugin's reference proportions (the other half of the fleet-wide PSI).
EXPORTED = {
    "prediction_requests_total", "predictions_total", "prediction_errors_total",
    "prediction_latency_seconds", "rul_prediction_value", "model_info", "drift_psi",
    "drift_psi_max", "drift_window_index", "drift_window_observations",
    "drift_window_start_timestamp_seconds", "drift_window_info", "drift_bin_observations_total",
    "drift_reference_proportion", "feedback_count_total", "feedback_errors_total",
    "feedback_squared_error_sum_total", "feedback_abs_error_sum_total", "model_rmse",
    "model_mae", "model_nasa_score", "feedback_residual_cycles", "http_requests_total",
    "http_request_duration_seconds", "http_requests_in_flight", "rulsrv_build_info",
    "rulsrv_plugin_up", "rulsrv_config_last_reload_successful",
    "rulsrv_config_last_reload_success_timestamp_seconds", "process_cpu_seconds_total",
    "process_resident_memory_bytes", "process_virtual_memory_bytes",
    "process_start_time_seconds", "process_open_fds", "process_max_fds", "process_threads",
    "fleet_engines", "fleet_cycles_total", "fleet_cycle_refusals_total", "fleet_evictions_total",
    "fleet_engines_below_rul", "feedback_store_up", "up",
}
HISTOGRAMS = {"prediction_latency_seconds", "rul_prediction_value", "feedback_residual_cycles",
              "http_request_duration_seconds"}
for h in HISTOGRAMS:
    EXPORTED |= {h + "_bucket", h + "_sum", h + "_count"}
RECORDED = {r["record"] for _, _, r in promql.rules(SRC) if "record" in r}
KNOWN = EXPORTED | RECORDED
HOST_RE = re.compile(r"https?://|localhost|\b\d{1,3}(\.\d{1,3}){3}\b|\b[a-z0-9-]+\.(com|net|org|io)\b",
                     re.I)


def strings(node, path=""):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from strings(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from strings(v, f"{path}[{i}]")
    elif isinstance(node, str):
        yield path, node


def datasource_refs(node, path=""):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "datasource":
                yield f"{path}.{k}", v
            yield from datasource_refs(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from datasource_refs(v, f"{path}[{i}]")


def check_grid(name, panels):
    boxes = []
    for p in panels:
        g = p.get("gridPos")
        if not g or not all(isinstance(g.get(k), int) for k in ("x", "y", "w", "h")):
            fail(f"{name}: panel {p.get('id')} has no complete integer gridPos")
            continue
        if g["x"] < 0 or g["y"] < 0 or g["w"] < 1 or g["h"] < 1 or g["x"] + g["w"] > 24:
            fail(f"{name}: panel {p.get('id')} gridPos {g} is outside the 24-column grid")
        for q, h in boxes:
            if (g["x"] < h["x"] + h["w"] and h["x"] < g["x"] + g["w"] and
                    g["y"] < h["y"] + h["h"] and h["y"] < g["y"] + g["h"]):
                fail(f"{name}: panels {q} and {p.get('id')} overlap ({h} / {g})")
        boxes.append((p.get("id"), g))


def check_dashboard(name, d, uids):
    for key in ("uid", "title", "panels", "schemaVersion"):
        if key not in d:
            fail(f"{name}: no '{key}'")
    if not 36 <= d.get("schemaVersion", 0) <= 39:
        fail(f"{name}: schemaVersion {d.get('schemaVersion')} is not one of Grafana 9/10 (36-39)")
    if d.get("uid") in uids:
        fail(f"{name}: uid '{d.get('uid')}' used twice")
    uids.add(d.get("uid"))
    if d.get("id") is not None:
        fail(f"{name}: 'id' must be null in a provisioned dashboard")
    panels = list(promql.walk_panels(d.get("panels", [])))
    ids = [p.get("id") for p in panels]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup or None in ids:
        fail(f"{name}: panel ids not unique or missing: {sorted(map(str, dup))}")
    check_grid(name, d.get("panels", []))
    for path, ref in datasource_refs(d):
        if not isinstance(ref, dict) or ref.get("uid") != promql.DATASOURCE_UID or \
                ref.get("type") != "prometheus":
            fail(f"{name}: {path} = {ref!r}, not the provisioned datasource "
                 f"uid '{promql.DATASOURCE_UID}'")
    for path, s in strings(d):
        if HOST_RE.search(s):
            fail(f"{name}: hard-coded host or URL at {path}: {s!r}")
    variables = {v["name"] for v in d.get("templating", {}).get("list", [])}
    for p in panels:
        if p.get("type") == "row":
            continue
        if "datasource" not in p:
            fail(f"{name}: panel {p.get('id')} names no datasource")
        targets = p.get("targets", [])
        if not targets or not all(t.get("expr", "").strip() for t in targets):
            fail(f"{name}: panel {p.get('id')} '{p.get('title')}' has a target without a query")
        refs = [t.get("refId") for t in targets]
        if len(set(refs)) != len(refs) or None in refs:
            fail(f"{name}: panel {p.get('id')} refIds not unique: {refs}")
        for t in targets:
            if "datasource" not in t:
                fail(f"{name}: panel {p.get('id')} target {t.get('refId')} names no datasource")
        if p.get("repeat") and p["repeat"] not in variables:
            fail(f"{name}: panel {p.get('id')} repeats over undefined ${p['repeat']}")
    for a in d.get("annotations", {}).get("list", []):
        if not (a.get("expr") or a.get("target", {}).get("expr")):
            fail(f"{name}: annotation '{a.get('name')}' has no query")
    for where, expr in promql.dashboard_exprs(SRC):
        if not where.startswith(name):
            continue
        for var in re.findall(r"\$\{?([A-Za-z_]\w*)", expr):
            if not var.startswith("__") and var not in variables:
                fail(f"{where}: uses undefined variable ${var}")
            if var.startswith("__") and "$" + var not in promql.BUILTIN_VARS:
                fail(f"{where}: unknown Grafana variable ${var}")


def check_dashboards():
    boards = promql.dashboards(SRC)
    expected = {"model_performance.json", "drift_monitoring.json", "system_health.json"}
    if set(boards) != expected:
        fail(f"dashboards: found {sorted(boards)}, want {sorted(expected)}")
    uids = set()
    for name, d in boards.items():
        check_dashboard(name, d, uids)


def check_metric_names():
    for where, expr in promql.dashboard_exprs(SRC) + promql.rule_exprs(SRC):
        for m in promql.metric_names(expr):
            if m not in KNOWN:
                fail(f"{where}: unknown metric '{m}' (not in docs/METRICS.md nor a recording rule)")


def write_expr_rules():
    rules = []
    for i, (where, expr) in enumerate(promql.dashboard_exprs(SRC)):
        e = promql.substitute(expr, {"feature": "s2", "instance": ".*"})
        rules.append({"record": f"dashboard_expr_{i}", "expr": e,
                      "labels": {"where": where[:200]}})
    with open(os.path.join(OUT, "exprs.yml"), "w") as f:
        yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}, f)


def load_yaml(rel):
    with open(os.path.join(SRC, rel)) as f:
        return yaml.safe_load(f)


def retention_flags(text):
    return sorted(set(re.findall(r"--storage\.tsdb\.retention\.(?:time|size)=[0-9A-Za-z]+", text)))


def check_provisioning():
    ds = load_yaml("monitoring/grafana/provisioning/datasources.yml")
    proms = [d for d in ds.get("datasources", []) if d.get("type") == "prometheus"]
    if len(proms) != 1 or proms[0].get("uid") != promql.DATASOURCE_UID:
        fail(f"datasources.yml: want one prometheus datasource with uid {promql.DATASOURCE_UID}")
    elif proms[0].get("url") != "http://prometheus:9090":
        fail("datasources.yml: url must be http://prometheus:9090 (the docker-compose name)")
    prov = load_yaml("monitoring/grafana/provisioning/dashboards.yml")
    if not any(p.get("type") == "file" and p.get("options", {}).get("path")
               for p in prov.get("providers", [])):
        fail("dashboards.yml: no file provider with a path")
    return prov


def check_compose(prov):
    c = load_yaml("monitoring/docker-compose.yml")
    svc = c.get("services", {})
    prom, graf = svc.get("prometheus", {}), svc.get("grafana", {})
    if not prom or not graf:
        fail("docker-compose.yml: needs services prometheus and grafana")
        return []
    cmd = " ".join(prom.get("command", []))
    if "--web.listen-address=:9090" not in cmd and "9090:9090" not in prom.get("ports", []):
        fail("docker-compose.yml: Prometheus is not on port 9090")
    if "--config.file=/etc/prometheus/prometheus.yml" not in cmd:
        fail("docker-compose.yml: Prometheus does not read /etc/prometheus/prometheus.yml")
    if not any(str(p).startswith("3002:3000") for p in graf.get("ports", [])):
        fail("docker-compose.yml: Grafana is not published on port 3002")
    mounts = {}
    for service in (prom, graf):
        for v in service.get("volumes", []):
            host, _, rest = v.partition(":")
            target = rest.split(":")[0]
            mounts[target] = host
            if host.startswith("."):
                if not os.path.exists(os.path.join(SRC, "monitoring", host)):
                    fail(f"docker-compose.yml: mounts {host}, which does not exist")
    if mounts.get("/etc/prometheus") != "./prometheus":
        fail("docker-compose.yml: ./prometheus is not mounted at /etc/prometheus")
    want = {"/etc/grafana/provisioning/datasources/rulsrv.yml": "./grafana/provisioning/datasources.yml",
            "/etc/grafana/provisioning/dashboards/rulsrv.yml": "./grafana/provisioning/dashboards.yml"}
    for target, host in want.items():
        if mounts.get(target) != host:
            fail(f"docker-compose.yml: {host} is not mounted at {target}")
    path = prov.get("providers", [{}])[0].get("options", {}).get("path")
    if mounts.get(path) != "./grafana/dashboards":
        fail(f"docker-compose.yml: dashboards are not mounted at the provider path {path}")
    return retention_flags(cmd)


def check_retention(compose_flags):
    with open(os.path.join(SRC, "monitoring/prometheus/default-prometheus")) as f:
        args = [ln for ln in f if ln.startswith("ARGS=")]
    if len(args) != 1:
        fail("default-prometheus: want exactly one ARGS= line")
        return
    debian = retention_flags(args[0])
    with open(os.path.join(SRC, "monitoring/prometheus/prometheus.yml")) as f:
        header = f.read()
    docs_path = os.path.join(SRC, "docs/MONITORING.md")
    docs = open(docs_path).read() if os.path.exists(docs_path) else ""
    if len(compose_flags) != 2:
        fail(f"docker-compose.yml: want retention time and size flags, got {compose_flags}")
    if debian != compose_flags:
        fail(f"retention differs: default-prometheus {debian}, docker-compose {compose_flags}")
    for flag in compose_flags:
        if flag not in header:
            fail(f"prometheus.yml header does not document {flag}")
        if flag not in docs:
            fail(f"docs/MONITORING.md does not show {flag}")


check_dashboards()
check_metric_names()
write_expr_rules()
check_retention(check_compose(check_provisioning()))
for e in errors:
    print("FAIL:", e)
print(f"check_static: {len(errors)} problem(s)")
sys.exit(1 if errors else 0)
