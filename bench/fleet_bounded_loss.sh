#!/usr/bin/env bash
# fleet_bounded_loss.sh - what a SIGKILL loses with durability = "bounded": THREADS clients
# stream batches of BATCH newest cycles of ENGINES engines as fast as the daemon answers; after
# SECONDS the daemon is killed (SIGKILL), started again, and each engine's last stored cycle
# (GET /v1/engines/{unit}) is compared with its last acknowledged one. ROUNDS rounds; prints
# the acknowledged cycles lost per round, the bound, and the rate they were acknowledged at.
#
# Usage: bench/fleet_bounded_loss.sh [BUILD_DIR]
# Environment: ENGINES (8192), BATCH (256), THREADS (4), SECONDS (4), ROUNDS (3),
#   FLUSH_MS (100), MAX_UNFLUSHED (10000), DURABILITY (bounded)
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=bench/daemon.sh
. "$src/bench/daemon.sh"
build="$(cd "${1:-$src/build}" && pwd)"
ENGINES="${ENGINES:-8192}" BATCH="${BATCH:-256}" THREADS="${THREADS:-4}" SECS="${SECONDS_RUN:-4}"
ROUNDS="${ROUNDS:-3}" FLUSH_MS="${FLUSH_MS:-100}" MAX_UNFLUSHED="${MAX_UNFLUSHED:-10000}"
DURABILITY="${DURABILITY:-bounded}"
work="$(mktemp -d /tmp/rulsrv-bounded.XXXXXX)"
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

start() {
  "$build/bin/rulsrv" -c "$work/rulsrv.conf" 2> "$work/log" &
  pid=$!
  port=$(live_port "$work/log" "$pid") || exit 1
}

for r in $(seq "$ROUNDS"); do
  rm -f "$work/fleet.db"*
  cat > "$work/rulsrv.conf" <<CONF
plugin_dir = "$build/plugins";
plugins = {
  model = { file = "predict_forest.so";
    settings = { bundle = "$src/models/fd001"; fleet = true; database = "$work/fleet.db";
                 max_instances = 100000; durability = "$DURABILITY";
                 flush_interval_ms = $FLUSH_MS; max_unflushed_cycles = $MAX_UNFLUSHED; }; };
};
services = { prediction = { listen = "127.0.0.1:0"; max_body_bytes = 16777216;
  plugins = ["model"]; }; };
CONF
  start
  python3 "$src/bench/fleet_bounded_loss.py" "$port" "$ENGINES" "$BATCH" "$THREADS" > "$work/acked.json" &
  client=$!
  sleep "$SECS"
  kill -9 "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  wait "$client" || true
  start
  python3 - "$port" "$work/acked.json" "$SECS" "$BATCH" "$MAX_UNFLUSHED" <<'PY'
import http.client, json, sys
port, path, secs, per, bound = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
d = json.load(open(path))
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
lost = ahead = 0
for u, a in d["acked"].items():
    conn.request("GET", "/v1/engines/%s" % u)
    r = conn.getresponse()
    b = r.read()
    stored = json.loads(b)["cycle"] if r.status == 200 else 0
    lost += max(0, a - stored)
    ahead += max(0, stored - a)
rate = d["answered"] * per / secs
print("round: %d requests answered (%.0f engine-cycles/s), %d acknowledged cycles lost "
      "(bound %d; %.1f ms of the stream), %d stored beyond the acknowledged"
      % (d["answered"], rate, lost, bound, lost / rate * 1000 if rate else 0, ahead))
PY
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
done
