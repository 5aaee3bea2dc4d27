#!/usr/bin/env bash
# ablation.sh - where the request path's time and tail go: the prediction service with each of
# its observing plugins left out in turn, beside the nginx floor, in one run.
#
# Usage: bench/ablation.sh [BUILD_DIR]
# Environment: RUNS (3) alternated rounds, DUR (4) seconds per figure, CONNS (32), BODY
# (one-w30: a body of bench_compute's, e.g. batch256-w30), CMAPSS_DIR as usual. Prints a
# Markdown table: per variant the median requests/s and p99 over the rounds, and each as a
# ratio to the floor (nginx answering the same bytes to the same bodies, bench/floor.sh) and
# to the default configuration.
#
# Variants: the default prediction service (conf/rulsrv.conf: model, drift, feedback's
# prediction log, prometheus, console); without the prediction log; without drift; the model
# alone (with prometheus, which the service's own metrics need no plugin for, left out too).
# wrk runs on one thread (-t1), as the request-path targets are set.
set -euo pipefail
export LC_ALL=C

src="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$src/build}"
build="$(cd "$build" && pwd)"
RUNS="${RUNS:-3}" DUR="${DUR:-4}" CONNS="${CONNS:-32}" BODY="${BODY:-one-w30}"
command -v wrk >/dev/null || { echo "ablation.sh: wrk is not installed (apt-get install wrk)" >&2; exit 1; }
# shellcheck source=bench/daemon.sh
. "$src/bench/daemon.sh"

bench_scratch ablation
say() { printf '[ablation %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

cmake --build "$build" -j "$(nproc)" --target rulsrv predict_forest drift_psi feedback \
	export_prometheus console bench_compute >/dev/null
"$build/bin/bench_compute" bodies "$src/models/fd001" "$work/bodies" >/dev/null
body="$work/bodies/$BODY.json"
[ -f "$body" ] || { echo "ablation.sh: no body $BODY (see bench_compute bodies)" >&2; exit 2; }

declare -A LIST=(
	[default]=""
	[no-log]='[model, drift, prometheus, console]'
	[no-drift]='[model, feedback, prometheus, console]'
	[model-only]='[model]'
)
variants="default no-log no-drift model-only"

# start NAME: the variant's daemon, PID[NAME] and PORT[NAME] set.
start() {
	local name=$1 args=()
	mkdir -p "$work/$name"
	[ -z "${LIST[$name]}" ] || args=(-o "services.prediction.plugins=${LIST[$name]}")
	"$build/bin/rulsrv" -c "$src/conf/rulsrv.conf" -s prediction -o "plugin_dir=$build/plugins" \
		-o services.prediction.listen=127.0.0.1:0 \
		-o "plugins.model.settings.database=$work/$name/rulsrv.db" \
		-o "plugins.feedback.settings.database=$work/$name/rulsrv.db" "${args[@]}" \
		2>"$work/$name.log" &
	PID[$name]=$!
	PORT[$name]=$(ready_port "$work/$name.log" prediction 300) ||
		{ cat "$work/$name.log" >&2; echo "ablation.sh: $name did not start" >&2; exit 1; }
}

# run NAME: one wrk run against it; appends "requests/s p99_ms" to $work/NAME.res.
run() {
	local r
	r=$(BODY="$body" wrk -t1 -c"$CONNS" -d"${DUR}s" --timeout 10s -s "$src/bench/predict.lua" \
		"http://127.0.0.1:${PORT[$1]}/v1/predict" | sed -n 's/^RESULT //p')
	field() { echo "$r" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
	[ "$(field non2xx)" = 0 ] && [ "$(field sockerr)" = 0 ] ||
		echo "ablation.sh: $1: $(field non2xx) non-2xx, $(field sockerr) socket errors" >&2
	awk -v ok="$(field ok)" -v s="$(field seconds)" -v p99="$(field p99_ms)" \
		'BEGIN {printf "%.1f %s\n", ok / s, p99}' >>"$work/$1.res"
}

. "$src/bench/floor.sh"
floor_start || exit 1
# the floor answers the bytes the daemon answers to this body
for v in $variants; do start "$v"; done
curl -sf -H 'Content-Type: application/json' --data-binary "@$body" \
	"http://127.0.0.1:${PORT[default]}/v1/predict" >"$work/floor/root/v1/predict"
say "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for v in floor $variants; do run "$v" >/dev/null; : >"$work/$v.res"; done # warm-up
for i in $(seq 1 "$RUNS"); do
	for v in floor $variants; do
		say "round $i of $RUNS: $v"
		run "$v"
	done
done
say "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

med() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
fr=$(cut -d' ' -f1 "$work/floor.res" | med) fp=$(cut -d' ' -f2 "$work/floor.res" | med)
dr=$(cut -d' ' -f1 "$work/default.res" | med) dp=$(cut -d' ' -f2 "$work/default.res" | med)
echo "| $BODY, $CONNS connections, median of $RUNS | requests/s | p99 (ms) | requests/s ÷ floor | p99 ÷ floor's | requests/s ÷ default | p99 ÷ default's |"
echo "|---|---|---|---|---|---|---|"
for v in floor $variants; do
	r=$(cut -d' ' -f1 "$work/$v.res" | med) p=$(cut -d' ' -f2 "$work/$v.res" | med)
	awk -v v="$v" -v r="$r" -v p="$p" -v fr="$fr" -v fp="$fp" -v dr="$dr" -v dp="$dp" 'BEGIN {
		printf "| %s | %.0f | %.2f | %.2f | %.2f | %.2f | %.2f |\n", v, r, p, r / fr, p / fp, r / dr, p / dp }'
done
