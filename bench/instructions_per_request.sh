#!/usr/bin/env bash
# instructions_per_request.sh - instructions the prediction service executes per request, for
# one or two source trees: a figure that does not move with the machine's load.
#
# Usage: bench/instructions_per_request.sh OLD_TREE [NEW_TREE]
#   Each tree is built in TREE/build. For each body (one engine x 30 cycles, batches of 256
#   engines x 1 and x 30 cycles) the tree's daemon, in its default configuration, runs under
#   `valgrind --tool=callgrind` twice: serving no request, then N requests sent one at a time
#   with curl. (Instructions with N - instructions with none) / N is the figure; every thread
#   counts (the drift and prediction-log threads too), start-up and shut-down cancel out.
#   Wall-clock figures from a shared 2-core machine move by tens of percent between runs;
#   instruction counts of the same binary and input repeat to a fraction of a percent (timers
#   that fire a different number of times are what remains).
# Environment: CMAPSS_DIR (the bodies are built from C-MAPSS test_FD001 when present).
set -euo pipefail
export LC_ALL=C

[ $# -ge 1 ] || { sed -n '2,14p' "$0" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "instructions_per_request.sh: valgrind is not installed" >&2; exit 1; }
src="$(cd "$(dirname "$0")/.." && pwd)"
trees=()
for t in "$@"; do trees+=("$(cd "$t" && pwd)"); done
work="$(mktemp -d /tmp/rulsrv-instr.XXXXXX)"
trap 'rm -rf "$work"' EXIT

"${trees[0]}/build/bin/bench_compute" bodies "${trees[0]}/models/fd001" "$work/bodies" >/dev/null

# instructions TREE BODY N: total Ir of a daemon that served N requests of BODY.
instructions() {
	local tree="$1" body="$2" n="$3" log="$work/daemon.log" pid port i
	rm -f "$work"/cg.* "$work"/x.db*
	: >"$log"
	valgrind --tool=callgrind --callgrind-out-file="$work/cg.%p" --combine-dumps=yes \
		"$tree/build/bin/rulsrv" -c "$tree/conf/rulsrv.conf" -s prediction \
		-o "plugin_dir=$tree/build/plugins" -o services.prediction.listen=127.0.0.1:0 \
		-o "plugins.feedback.settings.database=$work/x.db" \
		-o "plugins.model.settings.database=$work/x.db" 2>>"$log" &
	pid=$!
	for i in $(seq 1 600); do
		grep -q '\] rulsrv .* ready' "$log" && break
		kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
		sleep 0.1
	done
	port="$(sed -n 's/.*listening on .*:\([0-9]*\)$/\1/p' "$log" | tail -1)"
	for i in $(seq 1 "$n"); do
		curl -sf -o /dev/null -H 'Content-Type: application/json' \
			--data-binary @"$work/bodies/$body.json" "http://127.0.0.1:$port/v1/predict" ||
			{ echo "instructions_per_request.sh: request $i of $body failed" >&2; exit 1; }
	done
	kill -TERM "$pid"
	wait "$pid" || true
	awk '/^(summary|totals):/ {print $2; exit}' "$work"/cg.*
}

printf '| body | requests |'
for t in "${trees[@]}"; do printf ' %s |' "$(git -C "$t" rev-parse --short HEAD 2>/dev/null || basename "$t")"; done
[ ${#trees[@]} = 2 ] && printf ' new / old |'
printf '\n|---|---|'
for _ in "${trees[@]}"; do printf -- '---|'; done
[ ${#trees[@]} = 2 ] && printf -- '---|'
printf '\n'
for spec in one-w30:200 batch256-w1:50 batch256-w30:20; do
	body="${spec%%:*}" n="${spec##*:}"
	per=()
	for t in "${trees[@]}"; do
		idle="$(instructions "$t" "$body" 0)"
		busy="$(instructions "$t" "$body" "$n")"
		per+=("$(awk -v b="$busy" -v i="$idle" -v n="$n" 'BEGIN {printf "%.0f", (b - i) / n}')")
	done
	printf '| %s | %s |' "$body" "$n"
	for p in "${per[@]}"; do printf ' %s |' "$(printf "%'d" "$p" 2>/dev/null || echo "$p")"; done
	[ ${#trees[@]} = 2 ] && printf ' %s |' "$(awk -v a="${per[1]}" -v b="${per[0]}" 'BEGIN {printf "%.3f", a / b}')"
	printf '\n'
done
