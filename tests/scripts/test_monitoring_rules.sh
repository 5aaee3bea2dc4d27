#!/usr/bin/env bash
# test_monitoring_rules.sh - the shipped Prometheus configuration and rules pass promtool:
# `check config` (which also loads the rule files), `check rules`, and the unit tests of
# monitoring/prometheus/tests/ (every alert firing and not firing, recording rule values).
set -euo pipefail
src=${RULSRV_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
mon=$src/monitoring/prometheus

if ! command -v promtool >/dev/null; then
	echo "skip: promtool not installed (Debian package prometheus; make test-deps)"
	exit 77
fi
if ! python3 -c 'import yaml' 2>/dev/null; then
	echo "skip: python3-yaml not installed (make test-deps)"
	exit 77
fi

promtool check config "$mon/prometheus.yml"
# The many-instance variant, with its file_sd targets files (docs/SCALING.md).
promtool check config "$mon/prometheus-fleet.yml"
promtool check rules "$mon"/rules/*.yml "$mon"/rules-fleet/*.yml
promtool test rules "$mon"/tests/*.yml

# Every alert has a unit test, a severity and both annotations.
python3 - "$mon" <<'PY'
import glob, sys, yaml
mon = sys.argv[1]
alerts = {}
for path in glob.glob(mon + "/rules/*.yml"):
    for g in yaml.safe_load(open(path))["groups"]:
        for r in g["rules"]:
            if "alert" in r:
                alerts[r["alert"]] = r
tested_firing, tested_quiet = set(), set()
for path in glob.glob(mon + "/tests/*.yml"):
    for t in yaml.safe_load(open(path))["tests"]:
        for a in t.get("alert_rule_test", []):
            (tested_firing if a.get("exp_alerts") else tested_quiet).add(a["alertname"])
bad = []
for name, r in sorted(alerts.items()):
    if r.get("labels", {}).get("severity") not in ("critical", "warning"):
        bad.append(f"{name}: severity label must be critical or warning")
    for ann in ("summary", "description"):
        if not r.get("annotations", {}).get(ann):
            bad.append(f"{name}: no {ann} annotation")
    if name not in tested_firing:
        bad.append(f"{name}: no promtool test where it fires")
    if name not in tested_quiet:
        bad.append(f"{name}: no promtool test where it does not fire")
for b in bad:
    print("FAIL:", b)
if len(alerts) < 7:
    bad.append("fewer than 7 alerts")
    print("FAIL: fewer than the 7 alerts of issue 9")
if not bad:
    print(f"{len(alerts)} alerts, each tested firing and not firing")
sys.exit(1 if bad else 0)
PY
