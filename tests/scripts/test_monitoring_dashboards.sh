#!/usr/bin/env bash
# test_monitoring_dashboards.sh - structure of the Grafana dashboards and provisioning and of
# docker-compose.yml (no Docker needed): valid JSON and YAML, unique panel ids, grid positions
# inside 24 columns without overlap, the provisioned datasource uid everywhere, no hard-coded
# host, a query in every panel, only known metric names, retention flags the same everywhere;
# and every dashboard query parses as PromQL (promtool check rules on a generated rule file).
set -euo pipefail
src=${RULSRV_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}

if ! python3 -c 'import yaml' 2>/dev/null; then
	echo "skip: python3-yaml not installed (make test-deps)"
	exit 77
fi
if ! command -v promtool >/dev/null; then
	echo "skip: promtool not installed (Debian package prometheus; make test-deps)"
	exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

python3 "$src/tests/scripts/monitoring/check_static.py" "$src" "$tmp"
promtool check rules "$tmp/exprs.yml"
