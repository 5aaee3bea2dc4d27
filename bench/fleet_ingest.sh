#!/usr/bin/env bash
# fleet_ingest.sh - ingestion through POST /v1/cycles as a fleet sends it, durable (the default:
# an answer only after its cycles are committed), beside the HTTP floor measured in the same run.
#
# Usage: bench/fleet_ingest.sh [BUILD_DIR]
# Environment: RUNS (5) runs of DUR (3) seconds per figure, CONNS (32), ENGINES (51200 per wrk
# thread; all of them get cycles before the runs, then SETTLE (10) seconds), DURABILITY (durable, or bounded: the fleet's durability setting), RULSRV_OPTS (more
# -o overrides), CMAPSS_DIR as usual. Prints a Markdown table (also BUILD_DIR/bench/fleet_ingest.md).
#
# Two bodies: the newest cycle of one engine per request, and the newest cycles of 256 engines
# per request (bench/cycles.lua builds them: every engine's cycle one higher than its last).
# The daemon is the default configuration (conf/rulsrv.conf, service `prediction`: forest,
# drift, prediction log, Prometheus, fleet mode on) with the port and the store moved into a
# scratch folder. The floor (bench/floor.sh) is nginx reading the same bodies whole and
# answering the bytes the daemon answered to one of them; daemon and floor run by turns.
set -euo pipefail
export LC_ALL=C

src="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$src/build}"
mkdir -p "$build"
build="$(cd "$build" && pwd)"
RUNS="${RUNS:-5}" DUR="${DUR:-3}" CONNS="${CONNS:-32}" ENGINES="${ENGINES:-51200}"
DURABILITY="${DURABILITY:-durable}"

command -v wrk >/dev/null || { echo "fleet_ingest.sh: wrk is not installed (apt-get install wrk)" >&2; exit 1; }
# shellcheck source=bench/daemon.sh
. "$src/bench/daemon.sh"
bench_scratch ingest
say() { printf '[ingest %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
calc() { awk "BEGIN {printf \"%.6g\", $*}"; }
# "median [min – max]" of the numbers in file $1, with $2 decimals
mmm() {
	sort -g "$1" | awk -v d="$2" '{v[NR] = $1} END {
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		f = "%\047." d "f"; printf f " [" f " – " f "]\n", m, v[1], v[NR]}'
}
med() { sort -g "$1" | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
clk_tck="$(getconf CLK_TCK)"
cpu_of() { awk -v t="$clk_tck" '{sub(/^.*\) /, ""); printf "%.4f\n", ($12 + $13) / t}' "/proc/$1/stat"; }

say "building in $build"
[ -f "$build/CMakeCache.txt" ] || cmake -S "$src" -B "$build" >/dev/null
cmake --build "$build" -j "$(nproc)" --target rulsrv predict_forest drift_psi feedback \
	export_prometheus console >/dev/null

: >"$work/rulsrv.log"
"$build/bin/rulsrv" -c "$src/conf/rulsrv.conf" -s prediction -o "plugin_dir=$build/plugins" \
	-o services.prediction.listen=127.0.0.1:0 \
	-o "plugins.model.settings.database=$work/fleet.db" \
	-o "plugins.feedback.settings.database=$work/fleet.db" \
	-o "plugins.model.settings.durability=$DURABILITY" ${RULSRV_OPTS:-} 2>>"$work/rulsrv.log" &
PID[rulsrv]=$!
for i in $(seq 1 400); do
	grep -q '\] rulsrv .* ready' "$work/rulsrv.log" && break
	kill -0 "${PID[rulsrv]}" 2>/dev/null || { cat "$work/rulsrv.log" >&2; exit 1; }
	sleep 0.05
done
PORT[rulsrv]="$(sed -n "s/.*listening on .*:\([0-9]*\)$/\1/p" "$work/rulsrv.log" | tail -1)"
[ -n "${PORT[rulsrv]}" ] || { cat "$work/rulsrv.log" >&2; exit 1; }

. "$src/bench/floor.sh"
floor=0
floor_start && floor=1

# answer_of BATCH: the daemon's answer to one body of BATCH engines (units far above the ones
# the runs use), which the floor then gives to every request.
answer_of() {
	local b="$1" i body="" row
	row='"settings":[-0.0007,-0.0004,100.0],"sensors":[518.67,641.82,1589.70,1400.60,14.62,21.61,554.36,2388.06,9046.19,1.30,47.47,521.66,2388.02,8138.62,8.4195,0.03,392,2388,100.00,39.06,23.4190]'
	for i in $(seq 1 "$b"); do
		body="$body${body:+,}{\"unit\":$((900000000 + b * 1000 + i)),\"cycle\":1,$row}"
	done
	[ "$b" = 1 ] || body="{\"cycles\":[$body]}"
	curl -sf -H 'Content-Type: application/json' --data-binary "$body" \
		"http://127.0.0.1:${PORT[rulsrv]}/v1/cycles"
}

run=0
# wrk_run NAME PATH BATCH CONNS LABEL: one run; appends rps, ecs (engine-cycles/s), p99, cpu
wrk_run() {
	local d="$1" path="$2" b="$3" c="$4" label="$5" r c0 c1 ok s req
	run=$((run + 1))
	c0="$(cpu_of "${PID[$d]}")"
	r="$(BATCH="$b" ENGINES="$ENGINES" CYCLE0=$((run * 10000)) wrk -t2 -c"$c" -d"${DUR}s" \
		--timeout 10s -s "$src/bench/cycles.lua" "http://127.0.0.1:${PORT[$d]}$path" |
		sed -n 's/^RESULT //p')"
	c1="$(cpu_of "${PID[$d]}")"
	field() { echo "$r" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
	ok="$(field ok)" s="$(field seconds)" req="$(field requests)"
	if [ "$(field non2xx)" != 0 ] || [ "$(field sockerr)" != 0 ]; then
		say "$label: $(field non2xx) non-2xx answers, $(field sockerr) socket errors"
		echo "$label: $(field non2xx) non-2xx, $(field sockerr) socket errors" >>"$work/errors"
	fi
	echo "$(calc "$ok / $s")" >>"$work/$label.rps"
	echo "$(calc "$ok * $b / $s")" >>"$work/$label.ecs"
	echo "$(field p99_ms)" >>"$work/$label.p99"
	echo "$(calc "($c1 - $c0) * 1e6 / ($req > 0 ? $req : 1)")" >>"$work/$label.cpu"
}

# The fleet first: every engine gets its first cycles (batches of 256) before anything is
# measured, then the store is given SETTLE seconds to write them, so that the runs stream
# to engines the server already tracks, as a live fleet does. Without it the first runs
# measured mostly the creation of engines, which costs less than a cycle of a known engine
# (its rows are new, at the end of the tables) and made every figure look better.
engines_now() { curl -sf "http://127.0.0.1:${PORT[rulsrv]}/metrics" | sed -n 's/^fleet_engines \([0-9.e+]*\).*/\1/p' | head -1; }
say "filling the fleet: $((2 * ENGINES)) engines"
for i in $(seq 1 30); do
	BATCH=256 ENGINES="$ENGINES" CYCLE0=$((i * 100)) wrk -t2 -c8 -d2s --timeout 10s \
		-s "$src/bench/cycles.lua" "http://127.0.0.1:${PORT[rulsrv]}/v1/cycles" >/dev/null
	[ "$(awk -v n="$(engines_now)" -v w=$((2 * ENGINES)) 'BEGIN {print (n >= w)}')" = 1 ] && break
done
sleep "${SETTLE:-10}"
load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
for b in 1 256; do
	if [ "$floor" = 1 ]; then
		answer_of "$b" >"$work/floor/root/v1/predict.new"
		mv "$work/floor/root/v1/predict.new" "$work/floor/root/v1/predict"
	fi
	for c in $CONNS; do
		say "batches of $b, $c connections, $RUNS x ${DUR}s, daemon and floor by turns"
		for i in $(seq 1 "$RUNS"); do
			wrk_run rulsrv /v1/cycles "$b" "$c" "rulsrv.b$b.c$c"
			if [ "$floor" = 1 ]; then
				wrk_run floor /v1/predict "$b" "$c" "floor.b$b.c$c"
				echo "$(calc "$(tail -1 "$work/rulsrv.b$b.c$c.rps") / $(tail -1 "$work/floor.b$b.c$c.rps")")" >>"$work/ratio.b$b.c$c.rps"
				echo "$(calc "$(tail -1 "$work/rulsrv.b$b.c$c.p99") / $(tail -1 "$work/floor.b$b.c$c.p99")")" >>"$work/ratio.b$b.c$c.p99"
			fi
		done
	done
done
engines_tracked="$(curl -sf "http://127.0.0.1:${PORT[rulsrv]}/metrics" | sed -n 's/^fleet_engines \([0-9.e+]*\).*/\1/p' | head -1)"

out="$build/bench/fleet_ingest.md"
mkdir -p "$(dirname "$out")"
{
	echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo unknown), $(nproc) cores, load average at start $load_start; $RUNS runs of ${DUR} s per figure, wrk -t2, medians [min – max]; durability = $DURABILITY${RULSRV_OPTS:+, $RULSRV_OPTS}; floor: $(floor_version); engines tracked at the end: ${engines_tracked:-?}."
	echo
	echo "| body | connections | rulsrv req/s | engine-cycles/s | server CPU µs/request | p99 ms | floor req/s | floor p99 ms | req/s ÷ floor | p99 ÷ floor |"
	echo "|---|---|---|---|---|---|---|---|---|---|"
	for b in 1 256; do
		for c in $CONNS; do
			l="b$b.c$c"
			printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
				"$([ "$b" = 1 ] && echo "newest cycle of 1 engine" || echo "newest cycles of $b engines")" "$c" \
				"$(mmm "$work/rulsrv.$l.rps" 0)" "$(mmm "$work/rulsrv.$l.ecs" 0)" \
				"$(mmm "$work/rulsrv.$l.cpu" 0)" "$(mmm "$work/rulsrv.$l.p99" 2)" \
				"$([ "$floor" = 1 ] && mmm "$work/floor.$l.rps" 0 || echo n/a)" \
				"$([ "$floor" = 1 ] && mmm "$work/floor.$l.p99" 2 || echo n/a)" \
				"$([ "$floor" = 1 ] && mmm "$work/ratio.$l.rps" 2 || echo n/a)" \
				"$([ "$floor" = 1 ] && mmm "$work/ratio.$l.p99" 2 || echo n/a)"
		done
	done
	if [ -s "$work/errors" ]; then
		echo
		echo "Runs with errors:"
		sed 's/^/- /' "$work/errors"
	fi
} >"$out"
cat "$out"
