#!/usr/bin/env bash
# feedback.sh - durable POST /v1/feedback throughput: records/s in batches of 100 and
# single-record requests/s, against the real daemon with wrk. Every answer counted is a 2xx,
# given only after the group commit (WAL, synchronous=FULL) returned.
#
# Usage: bench/feedback.sh [BUILD_DIR] [SECONDS] [CONNECTIONS] [SERVICE_THREADS]
#   One build; SERVICE_THREADS "default" (the default) leaves `threads` to the core (one per
#   core).
#        bench/feedback.sh --compare OLD_BUILD [NEW_BUILD] [SECONDS] [CONNECTIONS] [ROUNDS]
#   OLD_BUILD at threads = 32 against NEW_BUILD (default: build/) at the core's default and,
#   for reference, at 32; the three alternate, ROUNDS times (3), each run on a fresh daemon
#   and database; prints every run, the medians and the ratio new/old.
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
command -v wrk >/dev/null || { echo "feedback.sh: wrk is not installed" >&2; exit 1; }

dir=""
pid=""
port=""
stop_daemon() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  pid=""
  if [ -n "$dir" ]; then rm -rf "$dir"; fi
  dir=""
}
trap stop_daemon EXIT

start_daemon() { # build threads ("default": none set)
  local build="$1" threads_line=""
  [ "$2" = default ] || threads_line="threads = $2;"
  dir="$(mktemp -d /tmp/rulsrv-bench-feedback.XXXXXX)"
  cat >"$dir/rulsrv.conf" <<CONF
plugin_dir = "$build/plugins";
log_level = "info";
plugins = {
  feedback = { file = "feedback.so"; settings = { database = "$dir/feedback.db"; }; };
  prometheus = { file = "export_prometheus.so"; };
};
services = {
  feedback = { listen = "127.0.0.1:0"; $threads_line plugins = [ "feedback", "prometheus" ]; };
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
}

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
stored() { curl -s "http://127.0.0.1:$port/v1/feedback/stats" | sed 's/^{"count":\([0-9]*\).*/\1/'; }

# One daemon, both forms. Prints the two report lines; sets batch_rps and single_rps.
measure() { # build threads
  local before c0 c1 c2 r r1 ok s ok1 s1 after acked
  start_daemon "$1" "$2"
  before="$(stored)"
  c0="$(commits)"
  r="$(run 100)"
  c1="$(commits)"
  ok="$(field "$r" ok)"; s="$(field "$r" seconds)"
  batch_rps="$(awk -v o="$ok" -v s="$s" 'BEGIN{printf "%.0f", o/s}')"
  echo "${ind}batches of 100: $(awk -v o="$ok" -v s="$s" 'BEGIN{printf "%.0f", o*100/s}') records/s" \
       "($batch_rps requests/s, p50 $(field "$r" p50_ms) ms, p99 $(field "$r" p99_ms) ms;" \
       "$(per_commit "$c0" "$c1" "$(field "$r" requests)"))"
  r1="$(run 1)"
  c2="$(commits)"
  ok1="$(field "$r1" ok)"; s1="$(field "$r1" seconds)"
  single_rps="$(awk -v o="$ok1" -v s="$s1" 'BEGIN{printf "%.0f", o/s}')"
  echo "${ind}single records: $single_rps requests/s" \
       "(p50 $(field "$r1" p50_ms) ms, p99 $(field "$r1" p99_ms) ms;" \
       "$(per_commit "$c1" "$c2" "$(field "$r1" requests)"))"
  after="$(stored)"
  acked=$((ok * 100 + ok1))
  echo "${ind}stored $((after - before)) records, acknowledged $acked"
  [ $((after - before)) -ge "$acked" ] || { echo "fewer records stored than acknowledged" >&2; exit 1; }
  stop_daemon
}

ind="" # bench/run.sh reads the single-build lines as they start
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

if [ "${1:-}" != --compare ]; then
  build="$(cd "${1:-$src/build}" && pwd)"
  secs="${2:-10}"
  conns="${3:-32}"
  threads="${4:-default}"
  echo "rulsrv feedback: $conns connections, service threads $threads, ${secs}s per run, $(nproc) cores"
  measure "$build" "$threads"
  exit 0
fi

old="$(cd "${2:?--compare needs the old build directory}" && pwd)"
new="$(cd "${3:-$src/build}" && pwd)"
secs="${4:-10}"
conns="${5:-32}"
rounds="${6:-3}"
ind="  "
configs=("old:$old:32" "new:$new:default" "new:$new:32")
declare -A batches singles
echo "rulsrv feedback, compared: $conns connections, ${secs}s per run, $rounds rounds, $(nproc) cores"
echo "  old = $old, new = $new"
for round in $(seq 1 "$rounds"); do
  for cfg in "${configs[@]}"; do
    IFS=: read -r name build threads <<<"$cfg"
    echo "round $round, $name, threads $threads:"
    measure "$build" "$threads"
    batches[$name@$threads]+=" $batch_rps"
    singles[$name@$threads]+=" $single_rps"
  done
done
echo "medians of $rounds (requests/s; a batch request is 100 records):"
for cfg in "${configs[@]}"; do
  IFS=: read -r name build threads <<<"$cfg"
  key="$name@$threads"
  echo "  $key: single $(echo "${singles[$key]}" | median), batches of 100 $(echo "${batches[$key]}" | median)" \
       "(runs: single${singles[$key]}; batches${batches[$key]})"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{if (b > 0) printf "%.2f", a/b; else print "n/a"}'; }
echo "ratio new@default / old@32: single $(ratio "$(echo "${singles[new@default]}" | median)" "$(echo "${singles[old@32]}" | median)")," \
     "batches $(ratio "$(echo "${batches[new@default]}" | median)" "$(echo "${batches[old@32]}" | median)")"
