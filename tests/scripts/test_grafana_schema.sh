#!/usr/bin/env bash
# test_grafana_schema.sh - the three Grafana dashboards against Grafana's own published schema:
# @grafana/schema (the TypeScript types Grafana generates from its CUE kinds), pinned at the
# release monitoring/docker-compose.yml runs, through the TypeScript compiler
# (tests/grafana-schema/check.mjs): panel types, options and field configs of each panel's
# plugin, datasource references, targets, templating and annotations. Then broken copies
# must fail, so the check is known to catch what it is for.
set -euo pipefail
src=${RULSRV_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${RULSRV_BUILD_DIR:-$src/build}

skip() { echo "skip: $*"; exit 77; }
command -v node >/dev/null || skip "node missing (make test-deps)"
command -v npm >/dev/null || skip "npm missing (make test-deps)"
command -v python3 >/dev/null || skip "python3 missing"
dir=$src/tests/grafana-schema
if [ ! -d "$dir/node_modules/@grafana/schema" ] || [ ! -d "$dir/node_modules/typescript" ]; then
	(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) || skip "npm ci failed (no npm registry?)"
fi

out=$build/test-artifacts/grafana-schema
rm -rf "$out"
mkdir -p "$out"
node "$dir/check.mjs" "$out/shipped" "$src"/monitoring/grafana/dashboards/*.json

# Each broken copy of a shipped dashboard must be refused.
rc=0
broken() {
	local what=$1 dashboard=$2 edit=$3 copy
	copy=$out/broken/$(echo "$what" | tr -c 'a-z0-9\n' '_').json
	mkdir -p "$out/broken"
	python3 - "$src/monitoring/grafana/dashboards/$dashboard" "$copy" "$edit" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
exec(sys.argv[3])
json.dump(d, open(sys.argv[2], "w"), indent=2)
PY
	if node "$dir/check.mjs" "$out/broken-ts" "$copy" >"$copy.log" 2>&1; then
		echo "FAIL: the check accepts a dashboard with $what"
		rc=1
	else
		echo "ok: refused: $what ($(grep -m1 -o 'error TS[0-9]*: .*' "$copy.log" | cut -c1-150))"
	fi
}
broken "a panel type Grafana no longer has (graph)" model_performance.json \
	'd["panels"][0]["type"] = "graph"'
broken "a datasource that is not the provisioned one" drift_monitoring.json \
	'd["panels"][1]["datasource"]["uid"] = "prometheus-other"'
broken "a misspelt option" system_health.json \
	'next(p for p in d["panels"] if p["type"] == "timeseries")["options"]["legend"]["displaymode"] = "list"'
broken "a field config value out of its enum" model_performance.json \
	'next(p for p in d["panels"] if p["type"] == "timeseries")["fieldConfig"]["defaults"]["custom"]["drawStyle"] = "lines"'
broken "a variable of no known type" drift_monitoring.json \
	'd["templating"]["list"][0]["type"] = "querry"'
broken "a target without a query" system_health.json \
	'del d["panels"][0]["targets"][0]["expr"]'
broken "a row with a misspelt field" model_performance.json \
	'next(p for p in d["panels"] if p["type"] == "row")["colapsed"] = False'
broken "a threshold step that is not a number" drift_monitoring.json \
	'd["panels"][0]["fieldConfig"]["defaults"]["thresholds"]["steps"][0]["value"] = "high"'
exit "$rc"
