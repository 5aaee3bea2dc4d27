#!/usr/bin/env bash
# test_haproxy.sh - HAProxy with examples/haproxy/rulsrv.cfg (only its listen addresses, stats
# socket and server lines replaced) in front of two rulsrv prediction services and one
# feedback service, as a plain process. Fleet-mode traffic flows through it routed by engine;
# then one prediction instance is SIGKILLed between two requests, and every request after
# it must still be answered (HAProxy retries the refused connection on the other instance,
# then its health check takes the dead one out). tests/scripts/haproxy/check_haproxy.py holds
# the traffic and the checks; docs/SCALING.md the design.
set -euo pipefail
# shellcheck source=tests/scripts/lib/common.sh
. "$(dirname "$0")/lib/common.sh"

haproxy=$(command -v haproxy || echo /usr/sbin/haproxy)
[ -x "$haproxy" ] || skip "haproxy missing (Debian package haproxy; make test-deps)"
need_rulsrv
scratch haproxy

cmapss_data
if [ -z "$data" ]; then
	echo "note: C-MAPSS data not found; synthetic engines from cmapss-synth are used"
	data=$tmp/synth
	"$build/bin/cmapss-synth" --out "$data" --seed 18 --units 20 --test-units 30 >/dev/null
fi

# Two instances, each with its own database and without the console; one process per service.
make_conf "$tmp/i1" "${no_console[@]}"
make_conf "$tmp/i2" "${no_console[@]}"
start_rulsrv predict1 "$tmp/i1/rulsrv.conf" prediction
start_rulsrv predict2 "$tmp/i2/rulsrv.conf" prediction
start_rulsrv feedback1 "$tmp/i1/rulsrv.conf" feedback
hp=$(free_port)
hf=$(free_port)

# The shipped example, with only the addresses replaced (tests/scripts/haproxy/make_cfg.py).
python3 "$src/tests/scripts/haproxy/make_cfg.py" "$src/examples/haproxy/rulsrv.cfg" \
	"$tmp/haproxy.cfg" "$hp" "$hf" "$tmp/haproxy.sock" \
	--predict "predict1=${port[predict1/prediction]}" "predict2=${port[predict2/prediction]}" \
	--feedback "feedback1=${port[feedback1/feedback]}"
"$haproxy" -c -f "$tmp/haproxy.cfg" >"$tmp/haproxy-check.log" 2>&1 || { cat "$tmp/haproxy-check.log"; exit 1; }

# -db: in the foreground, not a daemon; the EXIT trap stops it.
"$haproxy" -db -f "$tmp/haproxy.cfg" 2>"$tmp/haproxy.log" &
pids+=($!)

rc=0
python3 "$src/tests/scripts/haproxy/check_haproxy.py" --data "$data" \
	--predict "http://127.0.0.1:$hp" --feedback "http://127.0.0.1:$hf" \
	--stats "$tmp/haproxy.sock" --kill "predict2=${spid[predict2]}=${port[predict2/prediction]}" || rc=$?
[ "$rc" = 0 ] || dump_logs
exit "$rc"
