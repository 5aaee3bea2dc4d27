#!/usr/bin/env bash
# fleet.sh - fleet mode at one million tracked engines: the daemon's RSS and bytes per engine
# (against the same daemon with no engine, measured in the same run), and the cost of a
# restart that loads every window from the store (against a start on an empty store).
#
# Usage: bench/fleet.sh [BUILD_DIR] [ENGINES] [ROUNDS]
#   ENGINES (1000000) engines of 30 cycles each (the default window) are written once by
#   bench_fleet_fill through the fleet's own store code; FLEET_DB=PATH reuses such a file.
#   Each round starts the daemon on the empty store, then on the full one; medians printed.
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
build="$(cd "${1:-$src/build}" && pwd)"
engines="${2:-1000000}"
rounds="${3:-3}"
work="$(mktemp -d /tmp/rulsrv-fleet-bench.XXXXXX)"
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

db="${FLEET_DB:-$work/fleet.db}"
if [ -z "${FLEET_DB:-}" ]; then
  "$build/bin/bench_fleet_fill" "$db" "$engines" 30
fi

now() { date +%s.%N; }

# start DATABASE: runs the daemon, waits for /healthz; sets pid, port, ready_s
start() {
  cat > "$work/rulsrv.conf" <<CONF
plugin_dir = "$build/plugins";
plugins = {
  model = { file = "predict_forest.so";
    settings = { bundle = "$src/models/fd001"; fleet = true; database = "$1"; }; };
};
services = { prediction = { listen = "127.0.0.1:0"; plugins = ["model"]; }; };
CONF
  local t0 t1
  t0=$(now)
  "$build/bin/rulsrv" -c "$work/rulsrv.conf" 2> "$work/log" &
  pid=$!
  port=""
  while [ -z "$port" ]; do
    kill -0 "$pid" 2>/dev/null || { cat "$work/log" >&2; exit 1; }
    port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$work/log" | head -1)
    [ -n "$port" ] || sleep 0.01
  done
  until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do sleep 0.01; done
  t1=$(now)
  ready_s=$(echo "$t1 - $t0" | bc -l)
}

rss_bytes() { awk '/^VmRSS/ { printf "%.0f\n", $2 * 1024 }' "/proc/$pid/status"; }

stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }

median() { sort -g | awk '{ v[NR] = $1 } END { printf "%.6f\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

: > "$work/empty_rss"; : > "$work/full_rss"; : > "$work/empty_s"; : > "$work/full_s"
for r in $(seq "$rounds"); do
  rm -f "$work/empty.db"*
  start "$work/empty.db"
  rss_bytes >> "$work/empty_rss"; echo "$ready_s" >> "$work/empty_s"
  stop
  start "$db"
  tracked=$(curl -s "http://127.0.0.1:$port/v1/engines?limit=1" | sed -n 's/.*"tracked":\([0-9]*\).*/\1/p')
  [ "$tracked" = "$engines" ] || { echo "fleet.sh: $tracked engines tracked, want $engines" >&2; exit 1; }
  rss_bytes >> "$work/full_rss"; echo "$ready_s" >> "$work/full_s"
  grep -o 'fleet: [0-9]* engines loaded .*' "$work/log"
  stop
  echo "round $r: empty $(tail -1 "$work/empty_rss") B in $(tail -1 "$work/empty_s") s;" \
       "full $(tail -1 "$work/full_rss") B in $(tail -1 "$work/full_s") s"
done
e_rss=$(median < "$work/empty_rss"); f_rss=$(median < "$work/full_rss")
e_s=$(median < "$work/empty_s"); f_s=$(median < "$work/full_s")
per=$(echo "($f_rss - $e_rss) / $engines" | bc -l)
printf 'engines %d, medians of %d rounds\n' "$engines" "$rounds"
printf 'RSS empty store %.0f MiB, full %.0f MiB\n' "$(echo "$e_rss / 1048576" | bc -l)" "$(echo "$f_rss / 1048576" | bc -l)"
printf 'bytes per engine %.0f (%.3f x the 6040 bytes of header and 30-cycle ring)\n' "$per" "$(echo "$per / 6040" | bc -l)"
printf 'start to ready: empty %.3f s, full %.1f s (%.0f x), %.2f us per engine\n' "$e_s" "$f_s" "$(echo "$f_s / $e_s" | bc -l)" "$(echo "($f_s - $e_s) * 1000000 / $engines" | bc -l)"
