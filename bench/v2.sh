#!/usr/bin/env bash
# v2.sh - one engine x 30 cycles: the Open Inference Protocol's binary request (FP32 rows,
# binary outputs, as tritonclient.http sends by default) against the JSON /v1/predict body,
# on the same daemon, each beside the HTTP floor (bench/floor.sh: nginx answering rulsrv's very
# answer bytes to the same POST bodies), with wrk. Requests/s and server CPU per request
# (utime + stime from /proc over the run, divided by the answers: the daemon's, and nginx's
# master and workers' together), ROUNDS rounds of the four runs in turn (V1 rulsrv, V1 floor,
# V2 rulsrv, V2 floor), medians with [min - max]; ratios are taken run by run (rulsrv over the
# floor run right after it, V2 over the V1 run of its round), then their median. Both bodies
# carry the same 30 rows (C-MAPSS test_FD001 unit 1 when $CMAPSS_DIR or data/cmapss has it,
# else made-up rows): V1 as the data set's decimals, V2 as their float32 values.
#
# Usage: bench/v2.sh [BUILD_DIR] [SECONDS] [CONNECTIONS] [ROUNDS]   (build, 10, 32, 3)
# Without nginx (FLOOR_NGINX, default /usr/sbin/nginx) it says so and measures rulsrv alone.
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
build="$(cd "${1:-$src/build}" && pwd)"
secs="${2:-10}"
conns="${3:-32}"
rounds="${4:-3}"
for tool in wrk python3 curl; do
  command -v "$tool" >/dev/null || { echo "v2.sh: $tool is not installed" >&2; exit 1; }
done

work="$(mktemp -d /tmp/rulsrv-bench-v2.XXXXXX)"
declare -A PID PORT
say() { echo "v2.sh: $*" >&2; }
cleanup() {
  local p
  for p in "${PID[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/rulsrv.conf" <<CONF
plugin_dir = "$build/plugins";
log_level = "info";
plugins = { model = { file = "predict_forest.so"; settings = { bundle = "$src/models/fd001"; }; }; };
services = { prediction = { listen = "127.0.0.1:0"; plugins = [ "model" ]; }; };
CONF
"$build/bin/rulsrv" -c "$work/rulsrv.conf" 2>"$work/log" &
PID[rulsrv]=$!
for _ in $(seq 1 200); do
  PORT[rulsrv]="$(sed -n "s/.*service 'prediction' listening on .*:\([0-9]*\).*/\1/p" "$work/log" | tail -1 || true)"
  [ -n "${PORT[rulsrv]}" ] && break
  sleep 0.05
done
[ -n "${PORT[rulsrv]}" ] || { cat "$work/log" >&2; exit 1; }
model="$(curl -s "http://127.0.0.1:${PORT[rulsrv]}/v1/models" | python3 -c 'import json,sys; print(json.load(sys.stdin)["models"][0]["name"])')"
v2_path="/v2/models/$model/infer"

# The two bodies, and the V2 JSON header's length.
header_length="$(python3 - "$work" "${CMAPSS_DIR:-$src/data/cmapss}" <<'PY'
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

# rulsrv's answers to both: the floor gives the same bytes (and, for V2, the same header).
base="http://127.0.0.1:${PORT[rulsrv]}"
curl -sf -X POST -H 'Content-Type: application/json' --data-binary "@$work/v1.json" \
  -o "$work/v1.answer" "$base/v1/predict"
curl -sf -X POST -H 'Content-Type: application/octet-stream' \
  -H "Inference-Header-Content-Length: $header_length" --data-binary "@$work/v2.bin" \
  -D "$work/v2.headers" -o "$work/v2.answer" "$base$v2_path"
answer_length="$(tr -d '\r' <"$work/v2.headers" | sed -n 's/^[Ii]nference-[Hh]eader-[Cc]ontent-[Ll]ength: *//p')"
[ -n "$answer_length" ] || { say "the V2 answer has no Inference-Header-Content-Length"; exit 1; }

. "$src/bench/floor.sh"
FLOOR_LOCATIONS="$(floor_location "$v2_path" "default_type application/octet-stream" \
  "add_header Inference-Header-Content-Length $answer_length always")"
floor=0
if floor_start; then
  floor=1
  cp "$work/v1.answer" "$work/floor/root/v1/predict"
  mkdir -p "$work/floor/root$(dirname "$v2_path")"
  cp "$work/v2.answer" "$work/floor/root$v2_path"
  # the floor answers what rulsrv answers, byte for byte
  curl -sf -X POST --data-binary "@$work/v2.bin" -D "$work/floor.headers" \
    -o "$work/floor.answer" "http://127.0.0.1:${PORT[floor]}$v2_path"
  cmp -s "$work/floor.answer" "$work/v2.answer" ||
    { say "the floor's V2 answer differs from rulsrv's"; exit 1; }
  grep -qi "^Inference-Header-Content-Length: $answer_length" "$work/floor.headers" ||
    { say "the floor's V2 answer lacks the header length"; exit 1; }
fi

# CPU ticks of a process and its children (nginx's workers; rulsrv has threads, no children).
cpu_ticks() {
  local p kids
  kids="$(cat /proc/"$1"/task/*/children 2>/dev/null || true)"
  for p in "$1" $kids; do
    sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null || true
  done | awk '{t += $12 + $13} END {print t + 0}'
}
hz="$(getconf CLK_TCK)"
run() { # target name body path content-type header-length: prints "requests/s cpu-us/request"
  local t0 t1 r ok s
  t0="$(cpu_ticks "${PID[$1]}")"
  r="$(BODY="$3" URL_PATH="$4" CT="$5" HEADER_LENGTH="$6" wrk -t2 -c"$conns" -d"${secs}s" \
       -s "$src/bench/v2.lua" "http://127.0.0.1:${PORT[$1]}" | sed -n 's/^RESULT //p')"
  t1="$(cpu_ticks "${PID[$1]}")"
  ok="$(echo "$r" | tr ' ' '\n' | sed -n 's/^ok=//p')"
  s="$(echo "$r" | tr ' ' '\n' | sed -n 's/^seconds=//p')"
  [ "$(echo "$r" | tr ' ' '\n' | sed -n 's/^non2xx=//p')" = 0 ] || { say "$2 on $1: non-2xx answers: $r"; exit 1; }
  awk -v o="$ok" -v s="$s" -v c="$((t1 - t0))" -v hz="$hz" -v n="$2 $1" \
    'BEGIN { printf "%s %.0f %.1f\n", n, o / s, 1e6 * c / hz / o > "/dev/stderr"; printf "%.0f %.2f\n", o / s, 1e6 * c / hz / o }'
}

declare -A RPS CPU # by "body.target": the runs' figures, space-separated
targets="rulsrv"
[ "$floor" = 1 ] && targets="rulsrv floor"
echo "v2.sh: one engine x 30 cycles, $conns connections, ${secs}s runs, $rounds rounds, floor: $(floor_version), load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
echo "run: body target requests/s server-CPU-us/request"
for _ in $(seq 1 "$rounds"); do
  for body in v1 v2; do
    for t in $targets; do
      if [ "$body" = v1 ]; then
        read -r a b < <(run "$t" "v1-json" "$work/v1.json" /v1/predict application/json "")
      else
        read -r a b < <(run "$t" "v2-binary" "$work/v2.bin" "$v2_path" application/octet-stream "$header_length")
      fi
      RPS[$body.$t]="${RPS[$body.$t]:-} $a"
      CPU[$body.$t]="${CPU[$body.$t]:-} $b"
    done
  done
done

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {m = (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2; printf "%s [%s - %s]", m, v[1], v[NR]}'; }
ratios() { # "a1 a2 ..." "b1 b2 ...": the median of b_i / a_i
  local -a a_ b_ out=()
  local i
  read -ra a_ <<<"$1"
  read -ra b_ <<<"$2"
  for i in "${!a_[@]}"; do out+=("$(awk -v a="${a_[$i]}" -v b="${b_[$i]}" 'BEGIN{printf "%.2f", b / a}')"); done
  median "${out[@]}"
}
# shellcheck disable=SC2086 # the runs' figures are words
{
  echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "V1 JSON,   rulsrv: $(median ${RPS[v1.rulsrv]}) requests/s, $(median ${CPU[v1.rulsrv]}) us server CPU per request"
  if [ "$floor" = 1 ]; then
    echo "V1 JSON,   floor:  $(median ${RPS[v1.floor]}) requests/s, $(median ${CPU[v1.floor]}) us server CPU per request"
    echo "V1 rulsrv/floor: $(ratios "${RPS[v1.floor]}" "${RPS[v1.rulsrv]}") x requests/s, $(ratios "${CPU[v1.floor]}" "${CPU[v1.rulsrv]}") x server CPU per request"
  fi
  echo "V2 binary, rulsrv: $(median ${RPS[v2.rulsrv]}) requests/s, $(median ${CPU[v2.rulsrv]}) us server CPU per request"
  if [ "$floor" = 1 ]; then
    echo "V2 binary, floor:  $(median ${RPS[v2.floor]}) requests/s, $(median ${CPU[v2.floor]}) us server CPU per request"
    echo "V2 rulsrv/floor: $(ratios "${RPS[v2.floor]}" "${RPS[v2.rulsrv]}") x requests/s, $(ratios "${CPU[v2.floor]}" "${CPU[v2.rulsrv]}") x server CPU per request"
  fi
  echo "V2/V1 rulsrv: $(ratios "${RPS[v1.rulsrv]}" "${RPS[v2.rulsrv]}") x requests/s, $(ratios "${CPU[v1.rulsrv]}" "${CPU[v2.rulsrv]}") x server CPU per request"
}
