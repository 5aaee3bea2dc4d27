#!/bin/bash
# soak.sh - bench/soak.sh [BUILD_DIR]: run the default two services (prediction with the forest
# model, drift and the feedback log; feedback) under load at about SOAK_FRACTION (0.7) of the
# measured maximum for SOAK_SECONDS (600), and check: no failed request, resident memory growth
# under SOAK_MAX_GROWTH_PCT (5) % from the end of the warm-up (the first fifth) to the end,
# open file descriptors back where they were once the load stops, the feedback database's WAL
# under SOAK_MAX_WAL_MB (256), a clean SIGTERM exit and no error in the log.
# `make soak SOAK_SECONDS=60` is the CI version. Exit 0 pass, 1 fail, 77 cannot run here.
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-${BUILD:-$src/build}}" 2>/dev/null && pwd) || { echo "soak: no build dir"; exit 77; }
seconds=${SOAK_SECONDS:-600}
fraction=${SOAK_FRACTION:-0.7}
max_growth=${SOAK_MAX_GROWTH_PCT:-5}
probe=${SOAK_PROBE_SECONDS:-10}
max_wal_mb=${SOAK_MAX_WAL_MB:-256}
delay_ms=10
# the default configuration's prediction service; e.g. '"model", "prometheus"' to isolate the model
plugins=${SOAK_PREDICTION_PLUGINS:-'"model", "drift", "feedback", "prometheus"'}

for need in wrk awk curl; do
	command -v $need >/dev/null || { echo "soak: SKIP: $need is not installed"; exit 77; }
done
[ -x "$build/bin/rulsrv" ] || { echo "soak: SKIP: no $build/bin/rulsrv (build first)"; exit 77; }
[ -f "$src/models/fd001/bundle.json" ] || { echo "soak: SKIP: no models/fd001"; exit 77; }

. "$src/bench/daemon.sh"
dir=$(mktemp -d /tmp/rulsrv-soak-XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
cat >"$dir/rulsrv.conf" <<CONF
plugin_dir = "$build/plugins";
log_level = "warning";
plugins = {
  model = { file = "predict_forest.so"; settings = { bundle = "$src/models/fd001"; }; };
  drift = { file = "drift_psi.so"; settings = { reference = "$src/models/fd001"; }; };
  feedback = { file = "feedback.so"; settings = { database = "$dir/feedback.db"; }; };
  prometheus = { file = "export_prometheus.so"; };
};
services = {
  prediction = { listen = "127.0.0.1:0"; plugins = [ $plugins ]; };
  feedback = { listen = "127.0.0.1:0"; plugins = [ "feedback", "prometheus" ]; };
};
CONF
"$build/bin/rulsrv" -c "$dir/rulsrv.conf" -o log_level=\"info\" 2>"$dir/rulsrv.log" &
pid=$!
port=$(ready_port "$dir/rulsrv.log" prediction 100)
[ -n "$port" ] || { echo "soak: FAIL: rulsrv did not start"; cat "$dir/rulsrv.log"; exit 1; }
url="http://127.0.0.1:$port"

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status"; }
fds() { ls "/proc/$pid/fd" | wc -l; }
result() { sed -n 's/^RESULT //p' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

# 1. the maximum: as fast as 16 connections go
SOAK_DELAY_MS=0 wrk -t1 -c16 -d"${probe}s" -s "$src/bench/soak.lua" "$url" >"$dir/probe.txt" 2>&1
max=$(result "$dir/probe.txt" rps)
[ -n "$max" ] || { echo "soak: FAIL: the probe run printed no result"; cat "$dir/probe.txt"; exit 1; }
target=$(awk -v m="$max" -v f="$fraction" 'BEGIN { printf "%d", m * f }')
# each connection sends one request per delay_ms (plus its latency): connections for the target
conns=$(awk -v t="$target" -v d="$delay_ms" 'BEGIN { c = int(t * d / 1000 + 0.5); print (c < 1 ? 1 : c) }')
# 2. calibrate once: latency adds to the delay
SOAK_DELAY_MS=$delay_ms wrk -t1 -c"$conns" -d5s -s "$src/bench/soak.lua" "$url" >"$dir/calib.txt" 2>&1
got=$(result "$dir/calib.txt" rps)
conns=$(awk -v c="$conns" -v t="$target" -v g="${got:-0}" \
	'BEGIN { if (g > 0) c = int(c * t / g + 0.5); print (c < 1 ? 1 : c) }')
sleep 1
fds_idle_before=$(fds)
echo "soak: maximum ${max} req/s (16 connections, ${probe} s); target ${target} req/s" \
     "(${fraction}) with ${conns} connections pausing ${delay_ms} ms, for ${seconds} s"

# 3. the soak, sampled every 5 s
SOAK_DELAY_MS=$delay_ms wrk -t1 -c"$conns" -d"${seconds}s" -s "$src/bench/soak.lua" "$url" \
	>"$dir/soak.txt" 2>&1 &
wrk_pid=$!
start=$(date +%s)
warm=$((seconds / 5))
rss_base=
echo "time_s rss_kb fds" >"$dir/samples.txt"
while kill -0 "$wrk_pid" 2>/dev/null; do
	sleep 5
	kill -0 "$pid" 2>/dev/null || break
	t=$(($(date +%s) - start))
	r=$(rss_kb)
	echo "$t $r $(fds)" >>"$dir/samples.txt"
	[ -z "$rss_base" ] && [ "$t" -ge "$warm" ] && rss_base=$r && fds_base=$(fds)
done
wait "$wrk_pid"
status=0
if ! kill -0 "$pid" 2>/dev/null; then
	echo "soak: FAIL: rulsrv died"; tail -20 "$dir/rulsrv.log"; pid=; exit 1
fi
rss_end=$(tail -1 "$dir/samples.txt" | awk '{ print $2 }')
fds_load_end=$(tail -1 "$dir/samples.txt" | awk '{ print $3 }')
rss_max=$(awk 'NR > 1 && $2 > m { m = $2 } END { print m }' "$dir/samples.txt")
sleep 2
fds_idle_after=$(fds)
req=$(result "$dir/soak.txt" requests)
non2xx=$(result "$dir/soak.txt" non2xx)
sockerr=$(result "$dir/soak.txt" sockerr)
rps=$(result "$dir/soak.txt" rps)
growth=$(awk -v a="${rss_base:-0}" -v b="${rss_end:-0}" 'BEGIN { if (a > 0) printf "%.2f", (b - a) * 100 / a; else print "nan" }')
db_kb=$(du -sk "$dir" | awk '{ print $1 }')
wal_kb=$(du -sk "$dir/feedback.db-wal" 2>/dev/null | awk '{ print $1 }')
echo "soak: ${req:-?} requests in ${seconds} s (${rps:-?} req/s), non-2xx ${non2xx:-?}," \
     "socket errors ${sockerr:-?}; p50 $(result "$dir/soak.txt" p50_ms) ms," \
     "p99 $(result "$dir/soak.txt" p99_ms) ms, max $(result "$dir/soak.txt" max_ms) ms"
echo "soak: resident memory ${rss_base:-?} kB after the warm-up (${warm} s), ${rss_end:-?} kB" \
     "at the end (${growth} %), peak ${rss_max} kB; fds ${fds_idle_before} idle before," \
     "${fds_base:-?} -> ${fds_load_end} under load, ${fds_idle_after} idle after;" \
     "feedback database and log ${db_kb} kB (WAL ${wal_kb:-0} kB)"
if [ -z "$req" ] || [ "$req" -eq 0 ]; then echo "soak: FAIL: no requests"; status=1; fi
if [ "${non2xx:-1}" != 0 ] || [ "${sockerr:-1}" != 0 ]; then echo "soak: FAIL: failed requests"; status=1; fi
if [ "$growth" = nan ] || awk -v g="$growth" -v m="$max_growth" 'BEGIN { exit !(g >= m) }'; then
	echo "soak: FAIL: resident memory grew ${growth} % (limit ${max_growth} %)"; status=1
fi
if [ "${wal_kb:-0}" -gt $((max_wal_mb * 1024)) ]; then
	echo "soak: FAIL: the feedback WAL grew to ${wal_kb} kB (limit ${max_wal_mb} MB): checkpoints do not keep up"
	status=1
fi
if [ "$fds_idle_after" -gt "$fds_idle_before" ]; then
	echo "soak: FAIL: ${fds_idle_before} descriptors before the load, ${fds_idle_after} after"; status=1
fi
if ! curl -sf "$url/healthz" >/dev/null; then echo "soak: FAIL: not healthy after"; status=1; fi
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
if [ "$rc" -ne 0 ]; then echo "soak: FAIL: exit $rc on SIGTERM"; tail -5 "$dir/rulsrv.log"; status=1; fi
if grep -q '\[error\]' "$dir/rulsrv.log"; then
	echo "soak: FAIL: errors in the log:"; grep '\[error\]' "$dir/rulsrv.log" | head -5; status=1
fi
[ "${SOAK_KEEP_SAMPLES:-}" ] && cp "$dir/samples.txt" "$SOAK_KEEP_SAMPLES"
[ "$status" -eq 0 ] && echo "soak: PASS"
exit "$status"
