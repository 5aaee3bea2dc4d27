#!/usr/bin/env bash
# fleet.sh - fleet mode at one million tracked engines: the daemon's RSS and bytes per engine
# (against the same daemon with no engine, measured in the same run), and the cost of a
# restart that loads every window from the store (against a start on an empty store).
#
# Usage: [OLD_BUILD=DIR] bench/fleet.sh [BUILD_DIR] [ENGINES] [ROUNDS]
#   ENGINES (1000000) engines of 30 cycles each (the default window) are written once by
#   bench_fleet_fill through the fleet's own store code; FLEET_DB=PATH reuses such a file.
#   Each round starts the daemon on the empty store, then on the full one; medians printed.
#   OLD_BUILD: the build of an older tree whose store has the layout of schema version 1
#   (one row per cycle): its bench_fleet_fill writes the store, its daemon is measured first,
#   then BUILD_DIR's daemon migrates the file at its first start (timed once) and is measured
#   on it; the ratio of the two restarts is printed.
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=bench/daemon.sh
. "$src/bench/daemon.sh"
build="$(cd "${1:-$src/build}" && pwd)"
engines="${2:-1000000}"
rounds="${3:-3}"
old="${OLD_BUILD:+$(cd "$OLD_BUILD" && pwd)}"
work="$(mktemp -d /tmp/rulsrv-fleet-bench.XXXXXX)"
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

db="${FLEET_DB:-$work/fleet.db}"
if [ -z "${FLEET_DB:-}" ]; then
  "${old:-$build}/bin/bench_fleet_fill" "$db" "$engines" 30
fi

now() { date +%s.%N; }

# start BUILD DATABASE: runs the daemon, waits for /healthz; sets pid, port, ready_s
start() {
  cat > "$work/rulsrv.conf" <<CONF
plugin_dir = "$1/plugins";
plugins = {
  model = { file = "predict_forest.so";
    settings = { bundle = "$src/models/fd001"; fleet = true; database = "$2"; }; };
};
services = { prediction = { listen = "127.0.0.1:0"; plugins = ["model"]; }; };
CONF
  local t0 t1
  t0=$(now)
  rm -f "$work/log"  # a new file: nothing a stopped daemon left can be read as this one's port
  "$1/bin/rulsrv" -c "$work/rulsrv.conf" 2> "$work/log" &
  pid=$!
  port=$(live_port "$work/log" "$pid") || exit 1
  t1=$(now)
  ready_s=$(echo "$t1 - $t0" | bc -l)
}

rss_bytes() { awk '/^VmRSS/ { printf "%.0f\n", $2 * 1024 }' "/proc/$pid/status"; }

stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }

median() { sort -g | awk '{ v[NR] = $1 } END { printf "%.6f\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

check_tracked() {
  local tracked
  tracked=$(curl -s "http://127.0.0.1:$port/v1/engines?limit=1" | sed -n 's/.*"tracked":\([0-9]*\).*/\1/p')
  [ "$tracked" = "$engines" ] || { echo "fleet.sh: $tracked engines tracked, want $engines" >&2; exit 1; }
}

# measure BUILD TAG: ROUNDS rounds of empty and full starts; prints the medians
measure() {
  local b=$1 t=$2 r e_rss f_rss e_s f_s per
  : > "$work/$t.empty_rss"; : > "$work/$t.full_rss"; : > "$work/$t.empty_s"; : > "$work/$t.full_s"
  for r in $(seq "$rounds"); do
    rm -f "$work/empty.db"*
    start "$b" "$work/empty.db"
    rss_bytes >> "$work/$t.empty_rss"; echo "$ready_s" >> "$work/$t.empty_s"
    stop
    start "$b" "$db"
    check_tracked
    rss_bytes >> "$work/$t.full_rss"; echo "$ready_s" >> "$work/$t.full_s"
    grep -o 'fleet: [0-9]* engines loaded .*' "$work/log"
    stop
    echo "$t round $r: empty $(tail -1 "$work/$t.empty_rss") B in $(tail -1 "$work/$t.empty_s") s;" \
         "full $(tail -1 "$work/$t.full_rss") B in $(tail -1 "$work/$t.full_s") s"
  done
  e_rss=$(median < "$work/$t.empty_rss"); f_rss=$(median < "$work/$t.full_rss")
  e_s=$(median < "$work/$t.empty_s"); f_s=$(median < "$work/$t.full_s")
  per=$(echo "($f_rss - $e_rss) / $engines" | bc -l)
  echo "$f_s" > "$work/$t.restart"
  printf '%s: engines %d, medians of %d rounds\n' "$t" "$engines" "$rounds"
  printf '%s: RSS empty store %.0f MiB, full %.0f MiB\n' "$t" "$(echo "$e_rss / 1048576" | bc -l)" "$(echo "$f_rss / 1048576" | bc -l)"
  printf '%s: bytes per engine %.0f (%.3f x the 6056 bytes of header and 30-cycle ring)\n' "$t" "$per" "$(echo "$per / 6056" | bc -l)"
  printf '%s: start to ready: empty %.3f s, full %.1f s (%.0f x), %.2f us per engine\n' "$t" "$e_s" "$f_s" "$(echo "$f_s / $e_s" | bc -l)" "$(echo "($f_s - $e_s) * 1000000 / $engines" | bc -l)"
}

if [ -n "$old" ]; then
  measure "$old" old
  start "$build" "$db"   # the first start of the new daemon migrates the file
  check_tracked
  echo "migration: the first start of $build on the old file took $ready_s s"
  grep -o 'fleet: [0-9]* engines loaded .*' "$work/log"
  stop
fi
measure "$build" new
if [ -n "$old" ]; then
  printf 'restart with %d engines: old %.1f s, new %.1f s: %.1f x faster\n' "$engines" \
    "$(cat "$work/old.restart")" "$(cat "$work/new.restart")" \
    "$(echo "$(cat "$work/old.restart") / $(cat "$work/new.restart")" | bc -l)"
fi
