#!/bin/bash
# SPDX-License-Identifier: MIT
# test_statsd_etsy.sh - export_statsd against the real Etsy statsd daemon (npm package
# "statsd", pinned by tests/statsd/package-lock.json, installed into the build tree). The test
# starts statsd with a config of its own on loopback, runs rulsrv with the plugin, sends
# traffic, and reads statsd's admin interface (counters, gauges, timers): what rulsrv counted
# arrived, statsd found no bad line, DogStatsD tags work, and without the plugin in the
# service's list nothing arrives.
set -euo pipefail

SRC=${RULSRV_SOURCE_DIR:?RULSRV_SOURCE_DIR not set}
BUILD=${RULSRV_BUILD_DIR:?RULSRV_BUILD_DIR not set}
skip() { echo "SKIPPED: $*"; exit 77; }
fail() { echo "FAIL: $*"; echo "--- rulsrv log"; cat "$TMP"/rulsrv*.log 2>/dev/null || true; echo "--- statsd log"; cat "$TMP/statsd.log" 2>/dev/null || true; exit 1; }

command -v node >/dev/null || skip "node is not installed (Debian package nodejs)"
command -v npm >/dev/null || skip "npm is not installed (Debian package npm)"
command -v curl >/dev/null || skip "curl is not installed"
[ -x "$BUILD/bin/rulsrv" ] || skip "$BUILD/bin/rulsrv is not built"
[ -f "$BUILD/plugins/export_statsd.so" ] || skip "export_statsd.so is not built"

# Install statsd once per build tree (and again when the lock file changes).
STATSD_DIR=$BUILD/statsd-etsy
if ! cmp -s "$SRC/tests/statsd/package-lock.json" "$STATSD_DIR/package-lock.json" ||
   [ ! -f "$STATSD_DIR/node_modules/statsd/stats.js" ]; then
	mkdir -p "$STATSD_DIR"
	cp "$SRC/tests/statsd/package.json" "$SRC/tests/statsd/package-lock.json" "$STATSD_DIR/"
	(cd "$STATSD_DIR" && npm ci --omit=optional --no-audit --no-fund >npm.log 2>&1) ||
		skip "cannot install statsd with npm ci (see $STATSD_DIR/npm.log)"
fi

TMP=$(mktemp -d /tmp/rulsrv-statsd-XXXXXX)
STATSD_PID= RULSRV_PID=
cleanup() {
	[ -n "$RULSRV_PID" ] && kill "$RULSRV_PID" 2>/dev/null && wait "$RULSRV_PID" 2>/dev/null
	[ -n "$STATSD_PID" ] && kill "$STATSD_PID" 2>/dev/null && wait "$STATSD_PID" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

# Two free loopback ports (UDP for metrics, TCP for the admin interface), found by node itself.
read -r UDP MGMT < <(node -e '
const dgram = require("dgram"), net = require("net");
const u = dgram.createSocket("udp4");
u.bind(0, "127.0.0.1", () => {
  const t = net.createServer().listen(0, "127.0.0.1", () => {
    console.log(u.address().port + " " + t.address().port);
    u.close(); t.close();
  });
});')

cat >"$TMP/statsd.js" <<EOF
{
  address: "127.0.0.1", port: $UDP,
  mgmt_address: "127.0.0.1", mgmt_port: $MGMT,
  flushInterval: 3600000, backends: [], deleteIdleStats: false
}
EOF
node "$STATSD_DIR/node_modules/statsd/stats.js" "$TMP/statsd.js" >"$TMP/statsd.log" 2>&1 &
STATSD_PID=$!

# admin COMMAND: the admin interface's answer to one command (one command per packet: statsd
# reads a packet as one command line). health answers one line, the others end with END.
admin() {
	local out= line
	exec 3<>"/dev/tcp/127.0.0.1/$MGMT" || return 1
	printf '%s\n' "$1" >&3
	while IFS= read -r -t 5 line <&3; do
		out+="$line"$'\n'
		[ "$1" = health ] || [ "$line" = END ] && break
	done
	exec 3<&-
	printf '%s' "$out"
}
# value ANSWER KEY: the number after 'KEY': in an admin answer (empty when absent).
value() { grep -o "'$2': [-0-9.e+]*" <<<"$1" | head -1 | sed 's/.*: //'; }

for _ in $(seq 100); do
	admin health 2>/dev/null | grep -q "health: up" && break
	sleep 0.1
done
admin health | grep -q "health: up" || fail "statsd did not come up"

# start_rulsrv NAME PLUGINS STATSD_SETTINGS: run rulsrv with one service 'prediction'.
start_rulsrv() {
	cat >"$TMP/$1.conf" <<EOF
plugin_dir = "$BUILD/plugins";
plugins = {
  prometheus = { file = "export_prometheus.so"; };
  statsd = { file = "export_statsd.so"; settings = { port = $UDP; interval_ms = 100; $3 }; };
};
services = { prediction = { listen = "127.0.0.1:0"; plugins = [ $2 ]; }; };
EOF
	"$BUILD/bin/rulsrv" -c "$TMP/$1.conf" >"$TMP/rulsrv-$1.log" 2>&1 &
	RULSRV_PID=$!
	PORT=
	for _ in $(seq 150); do
		PORT=$(grep -o "'prediction' listening on 127.0.0.1:[0-9]*" "$TMP/rulsrv-$1.log" | sed 's/.*://' || true)
		[ -n "$PORT" ] && curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && return 0
		sleep 0.1
	done
	fail "rulsrv ($1) did not start"
}
stop_rulsrv() {
	kill "$RULSRV_PID"
	wait "$RULSRV_PID" || fail "rulsrv exited with status $?"
	RULSRV_PID=
}
traffic() {
	for _ in $(seq 25); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null; done
	curl -s "http://127.0.0.1:$PORT/no/such/path" >/dev/null
}
# wait_for KEY WANT: poll statsd's counters until KEY equals WANT (5 s at most).
wait_for() {
	local got=
	for _ in $(seq 50); do
		got=$(value "$(admin counters)" "$1")
		[ "$got" = "$2" ] && return 0
		sleep 0.1
	done
	fail "statsd counter '$1' is '${got}', rulsrv counted $2"
}

# 1. Plain statsd: labels folded into the name.
start_rulsrv plain '"prometheus", "statsd"' 'prefix = "rulsrv";'
traffic
sleep 0.3
want=$(curl -fs "http://127.0.0.1:$PORT/metrics" |
	grep '^http_requests_total{handler="/healthz",code="200"} ' | sed 's/.* //')
[ "${want:-0}" -ge 26 ] || fail "rulsrv counted only '$want' /healthz requests"
wait_for 'rulsrv.prediction.http_requests_total._healthz.200' "$want"
wait_for 'rulsrv.prediction.http_requests_total.other.404' 1
counters=$(admin counters)
gauges=$(admin gauges)
timers=$(admin timers)
[ "$(value "$counters" statsd.bad_lines_seen)" = 0 ] || fail "statsd saw bad lines: $counters"
[ "$(value "$gauges" 'rulsrv.prediction.rulsrv_build_info.0_1_0')" = 1 ] ||
	grep -q "'rulsrv.prediction.rulsrv_build_info.[0-9_a-z-]*': 1" <<<"$gauges" ||
	fail "no rulsrv_build_info gauge: $gauges"
threads=$(value "$gauges" 'rulsrv.prediction.process_threads')
[ "${threads:-0}" -ge 1 ] || fail "process_threads gauge is '$threads': $gauges"
grep -q "'rulsrv.prediction.http_request_duration_ms._healthz': \[" <<<"$timers" ||
	fail "no http_request_duration_ms timer: $timers"
echo "plain: statsd has http_requests_total._healthz.200 = $want (as /metrics), process_threads = $threads, timers present, no bad lines"
stop_rulsrv

# 2. The same daemon without the plugin in the service's list: nothing arrives.
packets=$(value "$(admin counters)" statsd.packets_received)
snapshot=$(admin counters | grep "'rulsrv\." | sort)
start_rulsrv off '"prometheus"' ''
traffic
sleep 0.6
[ "$(value "$(admin counters)" statsd.packets_received)" = "$packets" ] ||
	fail "statsd received packets from a rulsrv without the statsd plugin"
[ "$(admin counters | grep "'rulsrv\." | sort)" = "$snapshot" ] || fail "counters changed"
echo "off: no packet arrived"
stop_rulsrv

# 3. DogStatsD tags (statsd 0.9 files them into the key as ;name=value).
start_rulsrv tags '"statsd"' 'prefix = "tagged"; dogstatsd_tags = true;'
traffic
wait_for 'tagged.http_requests_total;service=prediction;handler=-healthz;code=200' 26
[ "$(value "$(admin counters)" statsd.bad_lines_seen)" = 0 ] || fail "statsd saw bad lines"
echo "tags: counters arrived with their tags"
stop_rulsrv
echo "PASS"
