#!/usr/bin/env bash
# test_haproxy.sh - HAProxy with examples/haproxy/rulsrv.cfg (only its listen addresses, stats
# socket and server lines replaced) in front of two rulsrv prediction services and one
# feedback service, as a plain process. Fleet-mode traffic flows through it routed by engine;
# then one prediction instance is SIGKILLed between two requests, and every request after
# it must still be answered (HAProxy retries the refused connection on the other instance,
# then its health check takes the dead one out). tests/scripts/haproxy/check_haproxy.py holds
# the traffic and the checks; docs/SCALING.md the design.
set -euo pipefail
src=${RULSRV_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${RULSRV_BUILD_DIR:-$src/build}

skip() { echo "skip: $*"; exit 77; }
haproxy=$(command -v haproxy || echo /usr/sbin/haproxy)
[ -x "$haproxy" ] || skip "haproxy missing (Debian package haproxy; make test-deps)"
command -v curl >/dev/null || skip "curl missing (make test-deps)"
command -v python3 >/dev/null || skip "python3 missing"
[ -x "$build/bin/rulsrv" ] || skip "$build/bin/rulsrv not built yet"
for p in predict_forest drift_psi feedback export_prometheus; do
	[ -f "$build/plugins/$p.so" ] || skip "plugin $build/plugins/$p.so not built yet"
done
bundle=${RULSRV_TEST_BUNDLE:-}
if [ -z "$bundle" ]; then
	bundle=$src/$(sed -n 's|^ *bundle = "\.\./\(.*\)";|\1|p' "$src/conf/rulsrv.conf" | head -n1)
fi
[ -f "$bundle/bundle.json" ] || skip "model bundle $bundle (conf/rulsrv.conf) not there yet"

tmp=$(mktemp -d /tmp/rulsrv-haproxy.XXXXXX)
pids=()
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

data=""
for d in "${CMAPSS_DIR:-}" "$src/data/cmapss" "$src/../shared/data/cmapss"; do
	if [ -n "$d" ] && [ -f "$d/test_FD001.txt.gz" ]; then data=$d; break; fi
done
if [ -z "$data" ]; then
	echo "note: C-MAPSS data not found; synthetic engines from cmapss-synth are used"
	data=$tmp/synth
	"$build/bin/cmapss-synth" --out "$data" --seed 18 --units 20 --test-units 30 >/dev/null
fi

# rulsrv.conf with absolute paths, port 0 listeners, the instance's own database, no console.
make_conf() {
	local dir=$1
	mkdir -p "$dir"
	sed -e "s|\"\.\./build/plugins\"|\"$build/plugins\"|" \
	    -e "s|\"\.\./models/[^\"]*\"|\"$bundle\"|g" \
	    -e "s|\"\.\./var/feedback\.db\"|\"$dir/feedback.db\"|g" \
	    -e "s|\"\.\./|\"$src/|g" \
	    -e 's|listen = "127\.0\.0\.1:[0-9]*"|listen = "127.0.0.1:0"|' \
	    -e 's|, "console" \]| ]|' \
	    "$src/conf/rulsrv.conf" >"$dir/rulsrv.conf"
	grep -q "\"$dir/feedback.db\"" "$dir/rulsrv.conf" || { echo "FAIL: database substitution"; exit 1; }
}

# start_service NAME CONF_DIR SERVICE: one service of one instance, as rulsrv@SERVICE runs it.
declare -A port spid
start_service() {
	local name=$1 dir=$2 svc=$3 log=$tmp/rulsrv-$1.log p=""
	: >"$log"
	"$build/bin/rulsrv" -c "$dir/rulsrv.conf" -s "$svc" 2>"$log" &
	pids+=($!)
	spid[$name]=$!
	for _ in $(seq 150); do
		p=$(sed -n "s/.*service '$svc' listening on [0-9.]*:\([0-9]*\).*/\1/p" "$log" | head -n1)
		if [ -n "$p" ] && curl --noproxy "*" -fsS "http://127.0.0.1:$p/readyz" >/dev/null 2>&1; then
			port[$name]=$p
			echo "$name ($svc): :$p (pid ${spid[$name]})"
			return 0
		fi
		kill -0 "${spid[$name]}" 2>/dev/null || break
		sleep 0.2
	done
	echo "FAIL: $name did not become ready"
	dump_logs
	exit 1
}
make_conf "$tmp/i1"
make_conf "$tmp/i2"
start_service predict1 "$tmp/i1" prediction
start_service predict2 "$tmp/i2" prediction
start_service feedback1 "$tmp/i1" feedback

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
hp=$(free_port)
hf=$(free_port)

# The shipped example, with only the addresses replaced (tests/scripts/haproxy/make_cfg.py).
python3 "$src/tests/scripts/haproxy/make_cfg.py" "$src/examples/haproxy/rulsrv.cfg" \
	"$tmp/haproxy.cfg" "$hp" "$hf" "$tmp/haproxy.sock" \
	--predict "predict1=${port[predict1]}" "predict2=${port[predict2]}" \
	--feedback "feedback1=${port[feedback1]}"
"$haproxy" -c -f "$tmp/haproxy.cfg" >"$tmp/haproxy-check.log" 2>&1 || { cat "$tmp/haproxy-check.log"; exit 1; }

# -db: in the foreground, not a daemon; the EXIT trap stops it.
"$haproxy" -db -f "$tmp/haproxy.cfg" 2>"$tmp/haproxy.log" &
pids+=($!)

rc=0
python3 "$src/tests/scripts/haproxy/check_haproxy.py" --data "$data" \
	--predict "http://127.0.0.1:$hp" --feedback "http://127.0.0.1:$hf" \
	--stats "$tmp/haproxy.sock" --kill "predict2=${spid[predict2]}=${port[predict2]}" || rc=$?
[ "$rc" = 0 ] || dump_logs
exit "$rc"
