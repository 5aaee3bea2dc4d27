#!/usr/bin/env bash
# feedback.sh - durable POST /v1/feedback throughput: records/s in batches of 100 and
# single-record requests/s, against the real daemon with wrk. Every answer counted is a 2xx,
# given only after the group commit (WAL, synchronous=FULL) returned.
# Usage: bench/feedback.sh [BUILD_DIR] [SECONDS] [CONNECTIONS] [SERVICE_THREADS]
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
build="$(cd "${1:-$src/build}" && pwd)"
secs="${2:-10}"
conns="${3:-32}"
threads="${4:-32}"
command -v wrk >/dev/null || { echo "feedback.sh: wrk is not installed" >&2; exit 1; }
dir="$(mktemp -d /tmp/rulsrv-bench-feedback.XXXXXX)"
pid=""
cleanup() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi; rm -rf "$dir"; }
trap cleanup EXIT

cat >"$dir/rulsrv.conf" <<CONF
plugin_dir = "$build/plugins";
log_level = "info";
plugins = {
  feedback = { file = "feedback.so"; settings = { database = "$dir/feedback.db"; }; };
  prometheus = { file = "export_prometheus.so"; };
};
services = {
  feedback = { listen = "127.0.0.1:0"; threads = $threads; plugins = [ "feedback", "prometheus" ]; };
};
CONF
: >"$dir/log"
"$build/bin/rulsrv" -c "$dir/rulsrv.conf" 2>>"$dir/log" &
pid=$!
port=""
for _ in $(seq 1 200); do
  port="$(sed -n "s/.*service 'feedback' listening on .*:\([0-9]*\).*/\1/p" "$dir/log" | tail -1 || true)"
  [ -n "$port" ] && break
  sleep 0.05
done
[ -n "$port" ] || { cat "$dir/log" >&2; exit 1; }

commits() { # count and total seconds of the group commits so far
  curl -s "http://127.0.0.1:$port/metrics" |
    awk '/^feedback_commit_duration_seconds_count/ {c=$2} /^feedback_commit_duration_seconds_sum/ {s=$2} END {print c+0, s+0}'
}
per_commit() { # before after requests: "N requests per commit, M ms per commit"
  echo "$1 $2 $3" | awk '{c=$3-$1; s=$4-$2; if (c > 0) printf "%.1f requests and %.2f ms per commit", $5/c, 1000*s/c}'
}
run() { # batch
  BATCH="$1" wrk -t2 -c"$conns" -d"${secs}s" -s "$src/bench/feedback.lua" "http://127.0.0.1:$port" |
    sed -n 's/^RESULT //p'
}
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

echo "rulsrv feedback: $conns connections, $threads service threads, ${secs}s per run, $(nproc) cores"
before="$(curl -s "http://127.0.0.1:$port/v1/feedback/stats" | sed 's/^{"count":\([0-9]*\).*/\1/')"
c0="$(commits)"
r="$(run 100)"
c1="$(commits)"
ok="$(field "$r" ok)"; s="$(field "$r" seconds)"
echo "batches of 100: $(awk -v o="$ok" -v s="$s" 'BEGIN{printf "%.0f", o*100/s}') records/s" \
     "($(awk -v o="$ok" -v s="$s" 'BEGIN{printf "%.0f", o/s}') requests/s," \
     "p50 $(field "$r" p50_ms) ms, p99 $(field "$r" p99_ms) ms;" \
     "$(per_commit "$c0" "$c1" "$(field "$r" requests)"))"
r1="$(run 1)"
c2="$(commits)"
ok1="$(field "$r1" ok)"; s1="$(field "$r1" seconds)"
echo "single records: $(awk -v o="$ok1" -v s="$s1" 'BEGIN{printf "%.0f", o/s}') requests/s" \
     "(p50 $(field "$r1" p50_ms) ms, p99 $(field "$r1" p99_ms) ms;" \
     "$(per_commit "$c1" "$c2" "$(field "$r1" requests)"))"
after="$(curl -s "http://127.0.0.1:$port/v1/feedback/stats" | sed 's/^{"count":\([0-9]*\).*/\1/')"
acked=$((ok * 100 + ok1))
echo "stored $((after - before)) records, acknowledged $acked"
[ $((after - before)) -ge "$acked" ] || { echo "fewer records stored than acknowledged" >&2; exit 1; }
