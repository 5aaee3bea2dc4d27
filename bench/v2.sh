#!/usr/bin/env bash
# v2.sh - one engine x 30 cycles: the Open Inference Protocol's binary request (FP32 rows,
# binary outputs, as tritonclient.http sends by default) against the JSON /v1/predict body,
# on the same daemon, with wrk. Requests/s and the server's CPU per request (utime + stime of
# the daemon from /proc, over the run, divided by the answers), ROUNDS alternated runs of each,
# medians with [min - max], and the ratio V2/V1. Both bodies carry the same 30 rows (C-MAPSS
# test_FD001 unit 1 when $CMAPSS_DIR or data/cmapss has it, else made-up rows): V1 as the
# data set's decimals, V2 as their float32 values.
#
# Usage: bench/v2.sh [BUILD_DIR] [SECONDS] [CONNECTIONS] [ROUNDS]   (build, 10, 32, 3)
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
build="$(cd "${1:-$src/build}" && pwd)"
secs="${2:-10}"
conns="${3:-32}"
rounds="${4:-3}"
command -v wrk >/dev/null || { echo "v2.sh: wrk is not installed" >&2; exit 1; }
command -v python3 >/dev/null || { echo "v2.sh: python3 is not installed" >&2; exit 1; }

dir="$(mktemp -d /tmp/rulsrv-bench-v2.XXXXXX)"
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT

cat >"$dir/rulsrv.conf" <<CONF
plugin_dir = "$build/plugins";
log_level = "info";
plugins = { model = { file = "predict_forest.so"; settings = { bundle = "$src/models/fd001"; }; }; };
services = { prediction = { listen = "127.0.0.1:0"; plugins = [ "model" ]; }; };
CONF
"$build/bin/rulsrv" -c "$dir/rulsrv.conf" 2>"$dir/log" &
pid=$!
port=""
for _ in $(seq 1 200); do
  port="$(sed -n "s/.*service 'prediction' listening on .*:\([0-9]*\).*/\1/p" "$dir/log" | tail -1 || true)"
  [ -n "$port" ] && break
  sleep 0.05
done
[ -n "$port" ] || { cat "$dir/log" >&2; exit 1; }
model="$(curl -s "http://127.0.0.1:$port/v1/models" | python3 -c 'import json,sys; print(json.load(sys.stdin)["models"][0]["name"])')"

# The two bodies, and the V2 JSON header's length.
header_length="$(python3 - "$dir" "${CMAPSS_DIR:-$src/data/cmapss}" <<'PY'
import gzip, json, os, struct, sys
out, data = sys.argv[1], sys.argv[2]
rows = []
for name in ("test_FD001.txt", "test_FD001.txt.gz"):
    p = os.path.join(data, name)
    if os.path.exists(p):
        f = gzip.open(p, "rt") if p.endswith(".gz") else open(p)
        rows = [[float(x) for x in l.split()] for l in f if l.split() and l.split()[0] == "1"][:30]
        break
if len(rows) < 30:
    rows = [[1, c + 1] + [100 + 0.01 * c + k for k in range(24)] for c in range(30)]
# V1 gets the numbers as the data set writes them (short decimals, as a client would send
# them); V2 their float32 values, as tritonclient.http sends a float32 array.
v1 = {"unit": 1, "cycles": [{"cycle": int(r[1]), "settings": r[2:5], "sensors": r[5:26]} for r in rows]}
open(os.path.join(out, "v1.json"), "w").write(json.dumps(v1, separators=(",", ":")))
raw = struct.pack("<%df" % (30 * 26), *[v for r in rows for v in r])
head = json.dumps({"inputs": [{"name": "rows", "shape": [30, 26], "datatype": "FP32",
                               "parameters": {"binary_data_size": len(raw)}}],
                   "parameters": {"binary_data_output": True}}, separators=(",", ":")).encode()
open(os.path.join(out, "v2.bin"), "wb").write(head + raw)
print(len(head))
PY
)"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz="$(getconf CLK_TCK)"
run() { # name body path content-type header-length
  local t0 t1 r ok s
  t0="$(cpu_ticks)"
  r="$(BODY="$2" URL_PATH="$3" CT="$4" HEADER_LENGTH="$5" wrk -t2 -c"$conns" -d"${secs}s" \
       -s "$src/bench/v2.lua" "http://127.0.0.1:$port" | sed -n 's/^RESULT //p')"
  t1="$(cpu_ticks)"
  ok="$(echo "$r" | tr ' ' '\n' | sed -n 's/^ok=//p')"
  s="$(echo "$r" | tr ' ' '\n' | sed -n 's/^seconds=//p')"
  [ "$(echo "$r" | tr ' ' '\n' | sed -n 's/^non2xx=//p')" = 0 ] || { echo "v2.sh: $1: non-2xx answers: $r" >&2; exit 1; }
  awk -v o="$ok" -v s="$s" -v c="$((t1 - t0))" -v hz="$hz" -v n="$1" -v r="$r" \
    'BEGIN { printf "%s %.0f %.1f\n", n, o / s, 1e6 * c / hz / o > "/dev/stderr"; printf "%.0f %.2f\n", o / s, 1e6 * c / hz / o }'
}
v1_rps=(); v1_cpu=(); v2_rps=(); v2_cpu=()
echo "v2.sh: one engine x 30 cycles, $conns connections, ${secs}s runs, $rounds rounds, load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
echo "run: name requests/s server-CPU-us/request"
for _ in $(seq 1 "$rounds"); do
  read -r a b < <(run "v1-json" "$dir/v1.json" /v1/predict application/json "" 2>&2)
  v1_rps+=("$a"); v1_cpu+=("$b")
  read -r a b < <(run "v2-binary" "$dir/v2.bin" "/v2/models/$model/infer" application/octet-stream "$header_length" 2>&2)
  v2_rps+=("$a"); v2_cpu+=("$b")
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {m = (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2; printf "%s [%s - %s]", m, v[1], v[NR]}'; }
ratios() { # a[] b[]: the median of the ratios b/a, run by run
  local -n a_="$1" b_="$2"; local i out=()
  for i in "${!a_[@]}"; do out+=("$(awk -v a="${a_[$i]}" -v b="${b_[$i]}" 'BEGIN{printf "%.2f", b / a}')"); done
  median "${out[@]}"
}
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "V1 JSON:    $(median "${v1_rps[@]}") requests/s, $(median "${v1_cpu[@]}") us server CPU per request"
echo "V2 binary:  $(median "${v2_rps[@]}") requests/s, $(median "${v2_cpu[@]}") us server CPU per request"
echo "V2/V1: $(ratios v1_rps v2_rps) x requests/s, $(ratios v1_cpu v2_cpu) x server CPU per request"
