#!/usr/bin/env bash
# test_monitoring_live.sh - the real Prometheus (Debian package) with the shipped
# prometheus.yml and rules scrapes the real rulsrv prediction and feedback services while
# traffic flows; check_live.py then checks targets, the first feedback record after the start,
# counters, and every dashboard and rule
# expression through Prometheus's HTTP API. Only what the test needs is substituted in the
# configuration: target ports, a 1 s scrape/evaluation interval, absolute rule paths.
set -euo pipefail
src=${RULSRV_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${RULSRV_BUILD_DIR:-$src/build}

skip() { echo "skip: $*"; exit 77; }
[ -x /usr/bin/prometheus ] || skip "/usr/bin/prometheus missing (Debian package prometheus; make test-deps)"
command -v curl >/dev/null || skip "curl missing (make test-deps)"
python3 -c 'import yaml' 2>/dev/null || skip "python3-yaml missing (make test-deps)"
[ -x "$build/bin/rulsrv" ] || skip "$build/bin/rulsrv not built yet"
for p in predict_forest drift_psi feedback export_prometheus; do
	[ -f "$build/plugins/$p.so" ] || skip "plugin $build/plugins/$p.so not built yet"
done
# The model bundle of conf/rulsrv.conf, or another one (RULSRV_TEST_BUNDLE=/abs/dir).
bundle=${RULSRV_TEST_BUNDLE:-}
if [ -z "$bundle" ]; then
	bundle=$src/$(sed -n 's|^ *bundle = "\.\./\(.*\)";|\1|p' "$src/conf/rulsrv.conf" | head -n1)
fi
[ -f "$bundle/bundle.json" ] || skip "model bundle $bundle (conf/rulsrv.conf) not there yet"

data=""
for d in "${CMAPSS_DIR:-}" "$src/data/cmapss" "$src/../shared/data/cmapss"; do
	if [ -n "$d" ] && [ -f "$d/test_FD001.txt.gz" ]; then data=$d; break; fi
done
[ -n "$data" ] || echo "note: C-MAPSS data not found; synthetic engines are used"

tmp=$(mktemp -d /tmp/rulsrv-monitoring.XXXXXX)
pids=()
declare -A port spid
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
	local pid
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

dump_logs() {
	local f
	for f in "$tmp"/*.log; do echo "---- $f (last 30 lines)"; tail -n 30 "$f"; done
}

# rulsrv.conf with absolute paths (the file moves to $tmp), port 0 listeners, its own store.
mkdir -p "$tmp/var"
sed -e "s|\"\.\./build/plugins\"|\"$build/plugins\"|" \
    -e "s|\"\.\./models/[^\"]*\"|\"$bundle\"|g" \
    -e "s|\"\.\./var/|\"$tmp/var/|g" \
    -e "s|\"\.\./|\"$src/|g" \
    -e 's|listen = "127\.0\.0\.1:[0-9]*"|listen = "127.0.0.1:0"|' \
    "$src/conf/rulsrv.conf" >"$tmp/rulsrv.conf"

# One process per service, as the systemd template units run them.
start_service() {
	local name=$1 p="" i
	: >"$tmp/rulsrv-$name.log"
	"$build/bin/rulsrv" -c "$tmp/rulsrv.conf" -s "$name" 2>"$tmp/rulsrv-$name.log" &
	pids+=($!)
	spid[$name]=$!
	for i in $(seq 100); do
		p=$(sed -n "s/.*service '$name' listening on [0-9.]*:\([0-9]*\).*/\1/p" \
			"$tmp/rulsrv-$name.log" | head -n1)
		if [ -n "$p" ] && curl --noproxy "*" -fsS "http://127.0.0.1:$p/readyz" >/dev/null 2>&1; then
			port[$name]=$p
			return 0
		fi
		kill -0 "$!" 2>/dev/null || break
		sleep 0.2
	done
	echo "FAIL: service $name did not become ready"
	dump_logs
	exit 1
}
start_service prediction
start_service feedback
echo "prediction on :${port[prediction]} (pid ${spid[prediction]}), feedback on :${port[feedback]} (pid ${spid[feedback]})"

prom_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
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

/usr/bin/prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/prom" \
	--web.listen-address="127.0.0.1:$prom_port" --log.level=warn 2>"$tmp/prometheus.log" &
pids+=($!)
for i in $(seq 100); do
	curl --noproxy "*" -fsS "http://127.0.0.1:$prom_port/-/ready" >/dev/null 2>&1 && break
	[ "$i" = 100 ] && { echo "FAIL: Prometheus did not become ready"; dump_logs; exit 1; }
	sleep 0.2
done

rc=0
python3 "$src/tests/scripts/monitoring/check_live.py" --src "$src" \
	--prom "http://127.0.0.1:$prom_port" \
	--predict "http://127.0.0.1:${port[prediction]}" \
	--feedback "http://127.0.0.1:${port[feedback]}" \
	--conf "$tmp/rulsrv.conf" --feedback-pid "${spid[feedback]}" --data "$data" || rc=$?
[ "$rc" = 0 ] || dump_logs
exit "$rc"
