#!/usr/bin/env bash
# test_monitoring_live.sh - the real Prometheus (Debian package) with the shipped
# prometheus.yml and rules scrapes the real rulsrv prediction and feedback services while
# traffic flows; check_live.py then checks targets, the first feedback record after the start,
# counters, and every dashboard and rule
# expression through Prometheus's HTTP API. Only what the test needs is substituted in the
# configuration: target ports, a 1 s scrape/evaluation interval, absolute rule paths.
set -euo pipefail
# shellcheck source=tests/scripts/lib/common.sh
. "$(dirname "$0")/lib/common.sh"

[ -x /usr/bin/prometheus ] || skip "/usr/bin/prometheus missing (Debian package prometheus; make test-deps)"
python3 -c 'import yaml' 2>/dev/null || skip "python3-yaml missing (make test-deps)"
need_rulsrv
cmapss_data
[ -n "$data" ] || echo "note: C-MAPSS data not found; synthetic engines are used"
scratch monitoring

# The shipped configuration, console included; one process per service, as the systemd
# template units run them.
make_conf "$tmp/instance"
conf=$tmp/instance/rulsrv.conf
start_rulsrv prediction "$conf" prediction
start_rulsrv feedback "$conf" feedback
port[prediction]=${port[prediction/prediction]}
port[feedback]=${port[feedback/feedback]}

prom_port=$(free_port)
sed -e 's|^\(  scrape_interval:\).*|\1 1s|' \
    -e 's|^\(  scrape_timeout:\).*|\1 1s|' \
    -e 's|^\(  evaluation_interval:\).*|\1 1s|' \
    -e "s|\"localhost:3000\"|\"127.0.0.1:${port[prediction]}\"|" \
    -e "s|\"localhost:3001\"|\"127.0.0.1:${port[feedback]}\"|" \
    -e "s|\"localhost:9090\"|\"127.0.0.1:$prom_port\"|" \
    -e "s|^\(  - \)rules/|\1$src/monitoring/prometheus/rules/|" \
    "$src/monitoring/prometheus/prometheus.yml" >"$tmp/prometheus.yml"
grep -q "127.0.0.1:${port[prediction]}" "$tmp/prometheus.yml" || { echo "FAIL: target substitution"; exit 1; }
grep -q "scrape_interval: 1s" "$tmp/prometheus.yml" || { echo "FAIL: interval substitution"; exit 1; }

start_prometheus "$tmp/prometheus.yml" "$prom_port"

rc=0
python3 "$src/tests/scripts/monitoring/check_live.py" --src "$src" \
	--prom "http://127.0.0.1:$prom_port" \
	--predict "http://127.0.0.1:${port[prediction]}" \
	--feedback "http://127.0.0.1:${port[feedback]}" \
	--conf "$conf" --feedback-pid "${spid[feedback]}" --data "$data" || rc=$?
[ "$rc" = 0 ] || dump_logs
exit "$rc"
