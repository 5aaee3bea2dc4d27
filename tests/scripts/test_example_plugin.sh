#!/usr/bin/env bash
# test_example_plugin.sh - examples/plugin/hello.c, the plugin a user starts from, builds
# warning-free against the ABI header of this tree (core/include) with the flags
# examples/plugin/Makefile gives a plugin, exports only its descriptor, and the daemon of this
# build loads it: GET /hello answers with the configured greeting, its counter is exported, its
# timer runs, a reload keeps it serving with the uptime handed over, and SIGTERM exits 0.
set -euo pipefail
src=${RULSRV_SOURCE_DIR:?}
build=${RULSRV_BUILD_DIR:?}
command -v cc >/dev/null || { echo "SKIP: no C compiler (cc)"; exit 77; }
command -v curl >/dev/null || { echo "SKIP: no curl"; exit 77; }
[ -x "$build/bin/rulsrv" ] || { echo "FAIL: $build/bin/rulsrv is not built"; exit 1; }

work=$(mktemp -d)
pid=""
cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

echo "== build hello.c against $src/core/include"
# PLUGIN_CFLAGS and PLUGIN_LDFLAGS of examples/plugin/Makefile, with -Werror.
cc -std=c11 -D_GNU_SOURCE -fPIC -fvisibility=hidden -Wall -Wextra -Werror -O2 \
	-I"$src/core/include" -shared -Wl,-z,defs -o "$work/hello.so" "$src/examples/plugin/hello.c"
exported=$(nm -D --defined-only "$work/hello.so" | awk '$2 ~ /^[A-Z]$/ && $2 != "A" { print $3 }')
[ "$exported" = rulsrv_plugin ] ||
	{ echo "FAIL: hello.so exports '$exported', not only rulsrv_plugin"; exit 1; }
echo "ok: hello.so builds with -Wall -Wextra -Werror -std=c11 and exports only rulsrv_plugin"

cat > "$work/rulsrv.conf" <<EOF
plugin_dir = "$build/plugins";
plugins = {
  hello = { file = "$work/hello.so"; settings = { greeting = "built against this tree"; }; };
  prometheus = { file = "export_prometheus.so"; };
};
services = {
  prediction = { listen = "127.0.0.1:0"; plugins = [ "hello", "prometheus" ]; };
};
EOF

echo "== rulsrv -t"
"$build/bin/rulsrv" -c "$work/rulsrv.conf" -t 2>"$work/check.log" ||
	{ cat "$work/check.log"; echo "FAIL: rulsrv -t refuses the configuration with hello.so"; exit 1; }

echo "== the daemon loads it"
"$build/bin/rulsrv" -c "$work/rulsrv.conf" 2>"$work/log" &
pid=$!
port=""
for _ in $(seq 150); do
	port=$(sed -n "s/.*service 'prediction' listening on 127.0.0.1:\([0-9]*\).*/\1/p" "$work/log")
	[ -n "$port" ] && curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
	port=""
	sleep 0.1
done
[ -n "$port" ] || { cat "$work/log"; echo "FAIL: rulsrv did not start with hello.so"; exit 1; }

hello() {
	local body
	body=$(curl -s "http://127.0.0.1:$port/hello")
	echo "GET /hello: $body"
	case "$body" in *'"greeting": "built against this tree"'*) ;;
	*) cat "$work/log"; echo "FAIL: /hello did not answer with the configured greeting"; exit 1 ;;
	esac
}
hello
hello
greetings=$(curl -s "http://127.0.0.1:$port/metrics" | sed -n 's/^hello_greetings_total \([0-9.e+]*\)$/\1/p')
[ "$greetings" = 2 ] || { echo "FAIL: hello_greetings_total is '$greetings', want 2"; exit 1; }
echo "ok: hello_greetings_total $greetings"

uptime() {
	curl -s "http://127.0.0.1:$port/metrics" | sed -n 's/^hello_uptime_seconds \([0-9.e+]*\)$/\1/p'
}
now() { date +%s.%N; }
# hello's timer refreshes hello_uptime_seconds every second: 3 s of it before the reload.
u0=0
for _ in $(seq 200); do
	u0=$(uptime)
	awk -v u="${u0:-0}" 'BEGIN { exit !(u >= 3) }' && break
	sleep 0.1
done
awk -v u="${u0:-0}" 'BEGIN { exit !(u >= 3) }' ||
	{ echo "FAIL: hello_uptime_seconds is '$u0' after 20 s: the timer does not run"; exit 1; }

echo "== a reload keeps it serving, and its handoff keeps the uptime"
reloaded_at=$(now)
kill -HUP "$pid"
for _ in $(seq 100); do
	grep -q "configuration reloaded" "$work/log" && break
	sleep 0.1
done
grep -q "configuration reloaded" "$work/log" || { cat "$work/log"; echo "FAIL: no reload"; exit 1; }
hello
# The new instance's timer ticks: with the predecessor's start handed over, the uptime goes
# on past u0; a fresh start could show no more than the time since the reload.
carried=""
for _ in $(seq 200); do
	u1=$(uptime)
	since=$(awk -v a="$(now)" -v b="$reloaded_at" 'BEGIN { print a - b }')
	if awk -v u="${u1:-0}" -v u0="$u0" -v t="$since" 'BEGIN { exit !(u > u0 + 1.5 && u > t + 2) }'; then
		carried=yes
		break
	fi
	sleep 0.1
done
[ -n "$carried" ] || { echo "FAIL: hello_uptime_seconds $u1, $u0 before the reload: not carried over"; exit 1; }
echo "ok: hello_uptime_seconds $u0 before the reload, $u1 ${since}s after it"

kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=""
[ "$status" = 0 ] || { cat "$work/log"; echo "FAIL: rulsrv exited with $status on SIGTERM"; exit 1; }
echo "ok: SIGTERM exit 0"
