#!/usr/bin/env bash
# fleet_write_path.sh - the write path of fleet mode: ENGINES engines streamed CYCLES cycles each,
# cycle-major as a live fleet reports, BATCH cycles per POST /v1/cycles over one connection
# (bench/fleet_write_path.py), each answer durable (SQLite store). With OLD_BUILD, that build's
# daemon is measured in the same run, each round on a fresh store, alternating; medians and
# the ratio printed.
#
# Usage: [OLD_BUILD=DIR] bench/fleet_write_path.sh [BUILD_DIR] [ENGINES] [CYCLES] [BATCH] [ROUNDS]
#   defaults: build, 2000, 60 (two windows of 30), 250, 3
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=bench/daemon.sh
. "$src/bench/daemon.sh"
build="$(cd "${1:-$src/build}" && pwd)"
engines="${2:-2000}"
cycles="${3:-60}"
per="${4:-250}"
rounds="${5:-3}"
old="${OLD_BUILD:+$(cd "$OLD_BUILD" && pwd)}"
work="$(mktemp -d /tmp/rulsrv-fleet-write.XXXXXX)"
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# run BUILD TAG: one round on a fresh store; appends the seconds to work/TAG
run() {
  rm -f "$work/fleet.db"*
  cat > "$work/rulsrv.conf" <<CONF
plugin_dir = "$1/plugins";
plugins = {
  model = { file = "predict_forest.so";
    settings = { bundle = "$src/models/fd001"; fleet = true; database = "$work/fleet.db";
                 max_instances = 100000; }; };
};
services = { prediction = { listen = "127.0.0.1:0"; max_body_bytes = 16777216;
  plugins = ["model"]; }; };
CONF
  rm -f "$work/log"  # a new file: nothing a stopped daemon left can be read as this one's port
  "$1/bin/rulsrv" -c "$work/rulsrv.conf" 2> "$work/log" &
  pid=$!
  port=$(live_port "$work/log" "$pid") || exit 1
  s=$(python3 "$src/bench/fleet_write_path.py" "$port" "$engines" "$cycles" "$per")
  echo "$s" >> "$work/$2"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  echo "$2 round: $s s ($(echo "$engines * $cycles / $s" | bc -l | xargs printf '%.0f') cycles/s)"
}

median() { sort -g | awk '{ v[NR] = $1 } END { printf "%.6f\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

for r in $(seq "$rounds"); do
  [ -z "$old" ] || run "$old" old
  run "$build" new
done
n=$((engines * cycles))
new_s=$(median < "$work/new")
printf 'engines %d x cycles %d, batches of %d, medians of %d rounds\n' "$engines" "$cycles" "$per" "$rounds"
printf 'new: %.2f s, %.0f cycles/s\n' "$new_s" "$(echo "$n / $new_s" | bc -l)"
if [ -n "$old" ]; then
  old_s=$(median < "$work/old")
  printf 'old: %.2f s, %.0f cycles/s\n' "$old_s" "$(echo "$n / $old_s" | bc -l)"
  printf 'new / old time: %.2f\n' "$(echo "$new_s / $old_s" | bc -l)"
fi
