#!/usr/bin/env bash
# predlog_wait.sh - what waiting for the prediction log costs an answer: the feedback plugin's
# log_before_answer = "none", "cycles" (the default) and "all", side by side on one build.
#
# Usage: bench/predlog_wait.sh [BUILD_DIR]
# Environment: RUNS (3) alternated rounds of the three modes, DUR (4) seconds per figure,
# CONNS (32), CMAPSS_DIR as usual. Prints a Markdown table: per mode and figure the median over
# the rounds, and its ratio to "none" (the log behind every answer). Ratios of one run, with
# the modes taken by turns, are what to quote from a shared machine; absolute figures are not.
#
# The figures: POST /v1/predict with one engine x 30 cycles, and with 256 engines x 30 cycles
# (requests/s and p99), and POST /v1/cycles with the newest cycle of one engine (requests/s and
# p99; bench/cycles.lua). Each daemon is the default configuration (conf/rulsrv.conf, service
# `prediction`), its port and store moved into a scratch folder, new for every figure.
set -euo pipefail
export LC_ALL=C

src="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$src/build}"
build="$(cd "$build" && pwd)"
RUNS="${RUNS:-3}" DUR="${DUR:-4}" CONNS="${CONNS:-32}"
command -v wrk >/dev/null || { echo "predlog_wait.sh: wrk is not installed (apt-get install wrk)" >&2; exit 1; }
# shellcheck source=bench/daemon.sh
. "$src/bench/daemon.sh"

bench_scratch predlog-wait
say() { printf '[predlog-wait %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

cmake --build "$build" -j "$(nproc)" --target rulsrv predict_forest drift_psi feedback \
	export_prometheus console bench_compute >/dev/null
"$build/bin/bench_compute" bodies "$src/models/fd001" "$work/bodies" >/dev/null

# figure MODE NAME: one daemon with log_before_answer = MODE, one wrk run of figure NAME;
# appends "requests/s p99_ms" to $work/MODE.NAME.
figure() {
	local mode=$1 name=$2 port r path script body
	rm -rf "$work/db" && mkdir -p "$work/db"
	"$build/bin/rulsrv" -c "$src/conf/rulsrv.conf" -s prediction -o "plugin_dir=$build/plugins" \
		-o services.prediction.listen=127.0.0.1:0 \
		-o "plugins.model.settings.database=$work/db/rulsrv.db" \
		-o "plugins.feedback.settings.database=$work/db/rulsrv.db" \
		-o "plugins.feedback.settings.log_before_answer=\"$mode\"" 2>"$work/rulsrv.log" &
	PID[rulsrv]=$!
	port=$(ready_port "$work/rulsrv.log" prediction 300) ||
		{ cat "$work/rulsrv.log" >&2; echo "predlog_wait.sh: the daemon did not start" >&2; exit 1; }
	case $name in
	cycles-1) path=/v1/cycles script=cycles.lua body="" ;;
	*) path=/v1/predict script=predict.lua body=$work/bodies/${name#predict-}.json ;;
	esac
	r=$(BODY=$body BATCH=1 wrk -t1 -c"$CONNS" -d"${DUR}s" --timeout 10s -s "$src/bench/$script" \
		"http://127.0.0.1:$port$path" | sed -n 's/^RESULT //p')
	kill "${PID[rulsrv]}"
	wait "${PID[rulsrv]}" || true
	unset "PID[rulsrv]"
	field() { echo "$r" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
	[ "$(field non2xx)" = 0 ] && [ "$(field sockerr)" = 0 ] ||
		echo "predlog_wait.sh: $mode $name: $(field non2xx) non-2xx, $(field sockerr) socket errors" >&2
	awk -v ok="$(field ok)" -v s="$(field seconds)" -v p99="$(field p99_ms)" \
		'BEGIN {printf "%.1f %s\n", ok / s, p99}' >>"$work/$mode.$name"
}

figures="predict-one-w30 predict-batch256-w30 cycles-1"
modes="none cycles all"
say "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq 1 "$RUNS"); do
	for name in $figures; do
		for mode in $modes; do
			say "round $i of $RUNS: $name, log_before_answer = $mode"
			figure "$mode" "$name"
		done
	done
done
say "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

med() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
echo "| figure (median of $RUNS, $CONNS connections) | none | cycles (default) | all | cycles / none | all / none |"
echo "|---|---|---|---|---|---|"
for name in $figures; do
	for col in 1 2; do
		label="$name: requests/s"
		[ "$col" = 2 ] && label="$name: p99 (ms)"
		declare -A v=()
		for mode in $modes; do v[$mode]=$(cut -d' ' -f"$col" "$work/$mode.$name" | med); done
		awk -v l="$label" -v n="${v[none]}" -v c="${v[cycles]}" -v a="${v[all]}" 'BEGIN {
			printf "| %s | %s | %s | %s | %.2f | %.2f |\n", l, n, c, a, c / n, a / n }'
	done
done
