#!/usr/bin/env bash
# run.sh - `make bench`: measure every figure of docs/BENCHMARKS.md and write them there.
#
# Usage: bench/run.sh [--quick] [BUILD_DIR]
#   BUILD_DIR   build tree to use (default: build); configured and the needed targets built.
#   --quick     `make bench-quick`: fewer and shorter runs (under 2 minutes once built); writes
#               BUILD_DIR/bench/BENCHMARKS-quick.md and leaves docs/BENCHMARKS.md alone.
# Environment: BENCH_OUT (document to write), CMAPSS_DIR (the data set, else found as usual),
# BENCH_RUNS and BENCH_DUR (runs per figure and seconds per run: smoke tests of this script),
# BENCH_COMMIT (the commit to name when the tree is an export without .git).
#
# The full run replaces only the part of the document between the markers
# "<!-- bench:begin -->" and "<!-- bench:end -->"; the hand-written sections around them stay.
# Every daemon is the default configuration (conf/rulsrv.conf, service `prediction`) with the
# listen port, plugin folder and database (the feedback plugin's and the fleet's: one file, as
# in the default) moved into a scratch folder by -o overrides.
set -euo pipefail
export LC_ALL=C

src="$(cd "$(dirname "$0")/.." && pwd)"
quick=0
if [ "${1:-}" = "--quick" ]; then
	quick=1
	shift
fi
build="${1:-$src/build}"
mkdir -p "$build"
build="$(cd "$build" && pwd)"

if [ "$quick" = 1 ]; then
	RUNS=5 DUR=1 GDUR=1 CONNS="32" REPEATS=5 FB_RUNS=1 FB_SECS=2 MET_RUNS=1 DRIFT_RUNS=1
	START_RUNS=5 GROWTH=0 TREES=0
	out="${BENCH_OUT:-$build/bench/BENCHMARKS-quick.md}"
else
	RUNS=5 DUR=3 GDUR=2 CONNS="1 8 32 128" REPEATS=7 FB_RUNS=5 FB_SECS=4 MET_RUNS=5
	DRIFT_RUNS=5 START_RUNS=5 GROWTH=1 TREES=1
	out="${BENCH_OUT:-$src/docs/BENCHMARKS.md}"
fi

# Smoke tests of this script: BENCH_RUNS=1 BENCH_DUR=1 override the runs and seconds of everything.
if [ -n "${BENCH_RUNS:-}" ]; then
	RUNS="$BENCH_RUNS" FB_RUNS="$BENCH_RUNS" MET_RUNS="$BENCH_RUNS" DRIFT_RUNS="$BENCH_RUNS" START_RUNS="$BENCH_RUNS"
	REPEATS=$((BENCH_RUNS > 3 ? BENCH_RUNS : 3))
fi
if [ -n "${BENCH_DUR:-}" ]; then
	DUR="$BENCH_DUR" GDUR="$BENCH_DUR" FB_SECS="$BENCH_DUR"
fi

command -v wrk >/dev/null || { echo "run.sh: wrk is not installed (apt-get install wrk)" >&2; exit 1; }
command -v curl >/dev/null || { echo "run.sh: curl is not installed" >&2; exit 1; }

# shellcheck source=bench/daemon.sh
. "$src/bench/daemon.sh"
bench_scratch bench
res="$work/res"
mkdir -p "$res" "$work/bodies" "$(dirname "$out")"

say() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# ---- build ---------------------------------------------------------------------------------
say "building in $build"
[ -f "$build/CMakeCache.txt" ] || cmake -S "$src" -B "$build" >/dev/null
cmake --build "$build" -j "$(nproc)" --target rulsrv predict_forest predict_xgboost drift_psi \
	feedback export_prometheus console bench_compute bench_metrics bench_drift rulsrv-train >/dev/null
bin="$build/bin"
build_type="$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build/CMakeCache.txt")"
# an empty cache entry is CMakeLists.txt's default, which it sets as a plain variable
build_type="${build_type:-RelWithDebInfo}"
cflags="$(sed -n "s/^CMAKE_C_FLAGS_$(echo "${build_type:-none}" | tr a-z A-Z):STRING=//p" "$build/CMakeCache.txt")"

# ---- small helpers -------------------------------------------------------------------------
# "median min max" of the numbers in file $1 (one per line).
stat3() {
	[ -s "$1" ] || { echo "nan nan nan"; return 0; }
	sort -g "$1" | awk '{v[NR]=$1} END {if (NR==0) {print "nan nan nan"; exit}
		printf "%s %s %s\n", v[int((NR+1)/2)], v[1], v[NR]}'
}
# Format number $1 with $2 decimals and thousands separators.
fmt() {
	awk -v x="$1" -v d="${2:-0}" 'BEGIN {
		if (x == "nan" || x == "") {print "n/a"; exit}
		s = sprintf("%." d "f", x); neg = (substr(s,1,1) == "-"); if (neg) s = substr(s,2)
		i = index(s, "."); ip = i ? substr(s,1,i-1) : s; fp = i ? substr(s,i) : ""
		o = ""; while (length(ip) > 3) {o = "," substr(ip, length(ip)-2) o; ip = substr(ip,1,length(ip)-3)}
		print (neg ? "-" : "") ip o fp}'
}
# "median [min – max]" of file $1 with $2 decimals.
mmm() {
	local m lo hi
	read -r m lo hi < <(stat3 "$1")
	echo "$(fmt "$m" "$2") [$(fmt "$lo" "$2") – $(fmt "$hi" "$2")]"
}
med() { stat3 "$1" | cut -d' ' -f1; }
# pass or miss: value $1 compared to target $3 with operator $2 (ge, le, lt)
mark() {
	awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN {
		if (v == "nan" || v == "") {print "n/a"; exit}
		ok = (op == "ge") ? v >= t : (op == "le") ? v <= t : v < t
		print ok ? "pass" : "**miss**"}'
}
# An A/B difference against an upper bound: pass when every run is under it, miss when every
# run is over it, else the spread of the runs is wider than what is measured.
abmark() {
	local m lo hi
	read -r m lo hi < <(stat3 "$1")
	awk -v lo="$lo" -v hi="$hi" -v t="$2" 'BEGIN {
		if (lo == "nan") print "n/a"; else if (hi < t) print "pass"; else if (lo > t) print "**miss**"
		else print "inconclusive (runs spread across the target)"}'
}
calc() {
	case "$*" in *nan*|*inf*) echo nan; return 0 ;; esac
	awk "BEGIN {printf \"%.6g\", $*}" 2>/dev/null || echo nan
}
add() { [ -z "$2" ] || [ "$2" = nan ] || echo "$2" >>"$res/$1"; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

clk_tck="$(getconf CLK_TCK)"
# CPU seconds (user + system) a process has used so far.
cpu_of() { awk -v t="$clk_tck" '{sub(/^.*\) /, ""); printf "%.4f\n", ($12 + $13) / t}' "/proc/$1/stat"; }
mem_of() { sed -n "s/^$2:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$1/status"; }

# ---- daemons -------------------------------------------------------------------------------
# start NAME [-o SETTING=VALUE]...: the default prediction service, waits until it is ready.
start() {
	local name="$1" i
	shift
	: >"$work/$name.log"
	"$bin/rulsrv" -c "$src/conf/rulsrv.conf" -s prediction -o "plugin_dir=$build/plugins" \
		-o services.prediction.listen=127.0.0.1:0 \
		-o "plugins.feedback.settings.database=$work/$name.db" \
		-o "plugins.model.settings.database=$work/$name.db" "$@" 2>>"$work/$name.log" &
	PID[$name]=$!
	for i in $(seq 1 400); do
		if grep -q '\] rulsrv .* ready' "$work/$name.log"; then
			PORT[$name]="$(sed -n "s/.*listening on .*:\([0-9]*\)$/\1/p" "$work/$name.log" | tail -1)"
			return 0
		fi
		kill -0 "${PID[$name]}" 2>/dev/null || break
		sleep 0.05
	done
	cat "$work/$name.log" >&2
	echo "run.sh: daemon '$name' did not start" >&2
	exit 1
}
stop() {
	kill -TERM "${PID[$1]}" 2>/dev/null || true
	wait "${PID[$1]}" 2>/dev/null || true
	unset "PID[$1]"
}

engines_of() { case "$1" in one-*) echo 1 ;; *) echo "$1" | sed 's/^batch\([0-9]*\)-.*/\1/' ;; esac; }

# wrk_run DAEMON BODY CONNS SECONDS LABEL: one wrk run; appends rps, eps, p50, p99, cpu
# (server CPU microseconds per request) to $res/LABEL.*.
wrk_run() {
	local d="$1" body="$2" c="$3" secs="$4" label="$5" t="${WRK_THREADS:-2}" r c0 c1 ok s req e
	[ "$c" -lt 2 ] && t=1
	c0="$(cpu_of "${PID[$d]}")"
	r="$(BODY="$work/bodies/$body.json" wrk -t"$t" -c"$c" -d"${secs}s" --timeout 10s \
		-s "$src/bench/predict.lua" "http://127.0.0.1:${PORT[$d]}/v1/predict" | sed -n 's/^RESULT //p')"
	c1="$(cpu_of "${PID[$d]}")"
	field() { echo "$r" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
	ok="$(field ok)"; s="$(field seconds)"; req="$(field requests)"; e="$(engines_of "$body")"
	if [ "$(field non2xx)" != 0 ] || [ "$(field sockerr)" != 0 ]; then
		echo "$label: $(field non2xx) non-2xx answers, $(field sockerr) socket errors" >>"$work/errors"
	fi
	add "$label.rps" "$(calc "$ok / $s")"
	add "$label.eps" "$(calc "$ok * $e / $s")"
	add "$label.p50" "$(field p50_ms)"
	add "$label.p99" "$(field p99_ms)"
	add "$label.cpu" "$(calc "($c1 - $c0) * 1e6 / ($req > 0 ? $req : 1)")"
}
warm() { wrk_run "$1" "$2" 8 1 "warmup" ; }

# ---- machine -------------------------------------------------------------------------------
load_start="$(loadavg)"
date_start="$(date -u '+%Y-%m-%d %H:%M UTC')"
cpu_model="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
mem_total="$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
if [ -n "${BENCH_COMMIT:-}" ]; then # a tree exported with git archive has no .git
	commit="$BENCH_COMMIT" dirty=""
else
	commit="$(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo unknown)"
	dirty="$(git -C "$src" status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo " (with uncommitted changes)" || true)"
fi
say "load average at start: $load_start"

# ---- bodies and bundles --------------------------------------------------------------------
"$bin/bench_compute" bodies "$src/models/fd001" "$work/bodies" >"$work/bodies.txt"
data_source="$(sed -n 's/^I data source="\([^"]*\)".*/\1/p' "$work/bodies.txt")"
bytes_of() { wc -c <"$work/bodies/$1.json" | tr -d ' '; }
if [ "$TREES" = 1 ]; then
	mkdir -p "$build/bench-models"
	for r in 50 1000; do
		if [ ! -f "$build/bench-models/r$r/bundle.json" ]; then
			say "training a $r-tree bundle (FD001, depth 4) for the tree-count axis"
			"$bin/rulsrv-train" --subset FD001 --holdout 20 --seed 3 --threads 2 --no-tune \
				--rounds "$r" --max-depth 4 --eta 0.05 --name "rul-fd001-r$r" \
				--version bench --quiet --out "$build/bench-models/r$r" >/dev/null 2>"$work/train.log" ||
				{ cat "$work/train.log" >&2; TREES=0; }
		fi
	done
fi

# ---- 1. model compute in process -----------------------------------------------------------
say "model compute in process"
"$bin/bench_compute" "$([ "$quick" = 1 ] && echo model || echo all)" "$src/models/fd001" "$REPEATS" >"$work/compute.txt"
if [ "$TREES" = 1 ]; then
	for r in 50 1000; do
		"$bin/bench_compute" model "$build/bench-models/r$r" "$REPEATS" >"$work/compute-r$r.txt"
	done
fi
# R key unit median min max -> "median [min – max]"
cval() { awk -v k="$2" '$1 == "R" && $2 == k {print $4; exit}' "$1"; }
cmmm() {
	awk -v k="$2" -v d="$3" '$1 == "R" && $2 == k {f = "%." d "f"; printf f " [" f " – " f "]\n", $4, $5, $6; exit}' "$1"
}
trees_of() { sed -n 's/^I model trees=\([0-9]*\).*/\1/p' "$1"; }
nodes_of() { sed -n 's/^I model.* nodes=\([0-9]*\).*/\1/p' "$1"; }

# ---- 2. HTTP predict -----------------------------------------------------------------------
say "HTTP predict: starting daemons"
start forest
start xgboost -o plugins.model.file=predict_xgboost.so
start nodrift -o 'services.prediction.plugins=[model, feedback, prometheus]'
start nolog -o 'services.prediction.plugins=[model, drift, prometheus]'
# The floor: nginx answering the same bytes to the same bodies (bench/floor.sh).
. "$src/bench/floor.sh"
floor=0
floor_start && floor=1
# floor_pair LABEL FLOOR_LABEL: the ratios to the floor of the last run of each (rps, p99).
floor_pair() {
	[ "$floor" = 1 ] || return 0
	add "$1.rps_floor" "$(calc "$(tail -1 "$res/$1.rps") / $(tail -1 "$res/$2.rps")")"
	add "$1.p99_floor" "$(calc "$(tail -1 "$res/$1.p99") / $(tail -1 "$res/$2.p99")")"
	add "$1.eps_floor" "$(calc "$(tail -1 "$res/$1.eps") / $(tail -1 "$res/$2.eps")")"
}
for d in forest xgboost nodrift nolog; do
	add "rss_idle.$d" "$(mem_of "${PID[$d]}" VmRSS)"
done
for d in forest xgboost nodrift nolog; do warm "$d" one-w30; done

heads="one-w30 batch256-w1 batch256-w30"
for body in $heads; do
	conns="$CONNS"
	[ "$body" = one-w30 ] && [ "$quick" = 0 ] && conns="1 8 16 32 128"
	[ "$floor" = 1 ] && floor_answer "$body" forest
	for c in $conns; do
		say "HTTP $body, $c connections, $RUNS x ${DUR}s per backend and the floor"
		for run in $(seq 1 "$RUNS"); do
			wrk_run forest "$body" "$c" "$DUR" "http.forest.$body.c$c"
			wrk_run xgboost "$body" "$c" "$DUR" "http.xgboost.$body.c$c"
			if [ "$floor" = 1 ]; then
				wrk_run floor "$body" "$c" "$DUR" "http.floor.$body.c$c"
				floor_pair "http.forest.$body.c$c" "http.floor.$body.c$c"
				floor_pair "http.xgboost.$body.c$c" "http.floor.$body.c$c"
			fi
			add "http.ratio.$body.c$c" "$(calc "$(tail -1 "$res/http.forest.$body.c$c.rps") / $(tail -1 "$res/http.xgboost.$body.c$c.rps")")"
			if [ "$body" = one-w30 ] && [ "$c" = 32 ]; then
				wrk_run nodrift "$body" "$c" "$DUR" "http.nodrift.$body.c$c"
				wrk_run nolog "$body" "$c" "$DUR" "http.nolog.$body.c$c"
				f="$(tail -1 "$res/http.forest.$body.c$c.rps")"
				n="$(tail -1 "$res/http.nodrift.$body.c$c.rps")"
				add drift.rps_cost "$(calc "(1 - $f / $n) * 100")"
				f="$(tail -1 "$res/http.forest.$body.c$c.cpu")"
				n="$(tail -1 "$res/http.nodrift.$body.c$c.cpu")"
				add drift.cpu_cost "$(calc "($f / $n - 1) * 100")"
			fi
		done
	done
	for d in forest xgboost; do
		add "rss_after.$d.$body" "$(mem_of "${PID[$d]}" VmRSS)"
		add "hwm_after.$d.$body" "$(mem_of "${PID[$d]}" VmHWM)"
	done
done

# The latency target again with wrk on one thread: with two, wrk's threads and the server's two
# workers compete for the 2 cores, and the tail is mostly the scheduler's time slices.
say "HTTP one-w30, 32 connections, wrk -t1, $RUNS x ${DUR}s per backend"
for run in $(seq 1 "$RUNS"); do
	WRK_THREADS=1 wrk_run forest one-w30 32 "$DUR" "http.forest.one-w30.c32t1"
	WRK_THREADS=1 wrk_run xgboost one-w30 32 "$DUR" "http.xgboost.one-w30.c32t1"
	if [ "$floor" = 1 ]; then
		[ "$run" = 1 ] && floor_answer one-w30 forest
		WRK_THREADS=1 wrk_run floor one-w30 32 "$DUR" "http.floor.one-w30.c32t1"
		floor_pair "http.forest.one-w30.c32t1" "http.floor.one-w30.c32t1"
		floor_pair "http.xgboost.one-w30.c32t1" "http.floor.one-w30.c32t1"
	fi
done

# Where the forest daemon's CPU goes under load: perf (cpu-clock sampling, which works without
# hardware counters) on the daemon while wrk drives it, when perf is usable here.
perf_ok=0
if command -v perf >/dev/null && perf record -q -e cpu-clock -o "$work/perf-check.data" true >/dev/null 2>&1; then
	perf_ok=1
fi
# profile BODY SECONDS: $work/prof.BODY.txt = "share category" lines, $work/top.BODY.txt the top symbols
profile() {
	local body="$1" secs="$2" w
	BODY="$work/bodies/$body.json" wrk -t2 -c32 -d"$((secs + 2))s" -s "$src/bench/predict.lua" \
		"http://127.0.0.1:${PORT[forest]}/v1/predict" >/dev/null &
	w=$!
	sleep 1
	perf record -q -e cpu-clock -F 1999 -p "${PID[forest]}" -o "$work/perf.$body.data" -- sleep "$secs" >/dev/null 2>&1 || true
	wait "$w" || true
	perf report -i "$work/perf.$body.data" --no-children --sort dso,sym --stdio -g none \
		--percent-limit 0 2>/dev/null | grep -v '^#' | awk -v top="$work/top.$body.txt" 'NF >= 4 && $1 ~ /%$/ {
			p = $1; sub(/%/, "", p); dso = $2; sym = $4
			if (dso ~ /kallsyms/) c = "kernel (TCP over loopback, memory)"
			else if (dso ~ /microhttpd/) c = "libmicrohttpd (HTTP parsing, connections)"
			else if (dso == "rulsrv" && sym ~ /^metrics_|^process_metrics/) c = "metrics registry (core/metrics.c)"
			else if (dso == "rulsrv") c = "core, other (core/http.c routing, host)"
			else if (dso ~ /^predict_/ && sym ~ /^(number_|parse_|next_or_close|grow_|predict_request_|get_string|hex4|fail_|fast_|cycle_member|engine_member|stream_member|plain_key|skip_|validate_json|rows_)/) c = "/v1/predict parser (plugins/predict/predict_request.c)"
			else if (dso ~ /^predict_/ && sym ~ /^(feature|span_|ewma_)/) c = "features (lib/feature_pipeline.c)"
			else if (dso ~ /^predict_/ && sym ~ /^(forest_|heap_|fb_predict|tree_depth)/) c = "forest walk (lib/forest.c)"
			else if (dso ~ /xgboost/) c = "XGBoost"
			else if (dso ~ /^predict_/) c = "predict service, other (plugins/predict/predict_service.c)"
			else if (dso ~ /^drift_psi/) c = "drift_psi observer"
			else if (dso ~ /^feedback|sqlite/) c = "prediction log (feedback.so + SQLite)"
			else if (dso ~ /^libc/) c = "libc (malloc, memcpy, ...)"
			else c = "other"
			share[c] += p
			if (n < 12) printf "%s %s %s\n", p, dso, sym > top
			n++
		} END {for (c in share) printf "%.1f %s\n", share[c], c}' | sort -rg >"$work/prof.$body.txt"
}
if [ "$perf_ok" = 1 ]; then
	for body in $([ "$quick" = 1 ] && echo "one-w30 batch256-w1" || echo "one-w30 batch256-w1 batch256-w30"); do
		say "profile: $body, 32 connections"
		profile "$body" "$([ "$quick" = 1 ] && echo 3 || echo 6)"
	done
fi

# Live /metrics of the loaded forest daemon: series, bytes, scrape time.
metrics_url="http://127.0.0.1:${PORT[forest]}/metrics"
curl -s "$metrics_url" >"$work/live-metrics.txt"
live_series="$(grep -vc '^#' "$work/live-metrics.txt")"
live_bytes="$(wc -c <"$work/live-metrics.txt" | tr -d ' ')"
for i in $(seq 1 21); do
	add live_scrape "$(curl -s -o /dev/null -w '%{time_total}' "$metrics_url" | awk '{print $1 * 1000}')"
done
plog_written="$(awk '/^feedback_prediction_log_written_total/ {print $2}' "$work/live-metrics.txt")"
plog_dropped="$(awk '/^feedback_prediction_log_dropped_total/ {print $2}' "$work/live-metrics.txt")"

# ---- growth: engines per batch, window length, trees ---------------------------------------
if [ "$GROWTH" = 1 ]; then
	for body in one-w1 one-w10 one-w100 batch8-w1 batch64-w1 batch1024-w1 batch8-w30 batch64-w30; do
		say "growth: $body, 32 connections"
		for run in $(seq 1 "$RUNS"); do
			wrk_run forest "$body" 32 "$GDUR" "grow.forest.$body"
		done
	done
fi
if [ "$TREES" = 1 ]; then
	for r in 50 1000; do
		start "forest-r$r" -o "plugins.model.settings.bundle=$build/bench-models/r$r" \
			-o "plugins.drift.settings.reference=$build/bench-models/r$r"
		start "xgboost-r$r" -o plugins.model.file=predict_xgboost.so \
			-o "plugins.model.settings.bundle=$build/bench-models/r$r" \
			-o "plugins.drift.settings.reference=$build/bench-models/r$r"
		for d in "forest-r$r" "xgboost-r$r"; do
			add "rss_idle.$d" "$(mem_of "${PID[$d]}" VmRSS)"
			warm "$d" one-w30
		done
	done
	for body in one-w30 batch256-w1; do
		say "trees: $body, 32 connections, 50/250/1000 trees side by side"
		for run in $(seq 1 "$RUNS"); do
			for d in forest-r50 forest forest-r1000 xgboost-r50 xgboost xgboost-r1000; do
				wrk_run "$d" "$body" 32 "$GDUR" "trees.$d.$body"
			done
		done
	done
	for d in forest-r50 forest-r1000 xgboost-r50 xgboost-r1000; do stop "$d"; done
fi
for d in forest xgboost nodrift nolog; do
	add "hwm_final.$d" "$(mem_of "${PID[$d]}" VmHWM)"
	stop "$d"
done

# ---- start-up time -------------------------------------------------------------------------
# Milliseconds from exec to the "ready" line (models loaded, listener bound).
startup_once() {
	local t0 t1="" line p
	t0="$EPOCHREALTIME"
	coproc STARTUP { exec "$bin/rulsrv" -c "$src/conf/rulsrv.conf" -s prediction \
		-o "plugin_dir=$build/plugins" -o services.prediction.listen=127.0.0.1:0 \
		-o "plugins.feedback.settings.database=$work/startup.db" \
		-o "plugins.model.settings.database=$work/startup.db" "$@" 2>&1; }
	p="$STARTUP_PID"
	while IFS= read -r line <&"${STARTUP[0]}"; do
		case "$line" in *"] rulsrv "*" ready"*) t1="$EPOCHREALTIME"; break ;; esac
	done
	kill -TERM "$p" 2>/dev/null || true
	cat <&"${STARTUP[0]}" >/dev/null 2>&1 || true
	wait "$p" 2>/dev/null || true
	[ -n "$t1" ] && calc "($t1 - $t0) * 1000"
}
say "start-up time"
for i in $(seq 1 "$START_RUNS"); do
	add startup.forest "$(startup_once)"
	add startup.xgboost "$(startup_once -o plugins.model.file=predict_xgboost.so)"
	if [ "$TREES" = 1 ]; then
		add startup.forest-r1000 "$(startup_once -o "plugins.model.settings.bundle=$build/bench-models/r1000" \
			-o "plugins.drift.settings.reference=$build/bench-models/r1000")"
		add startup.xgboost-r1000 "$(startup_once -o plugins.model.file=predict_xgboost.so \
			-o "plugins.model.settings.bundle=$build/bench-models/r1000" \
			-o "plugins.drift.settings.reference=$build/bench-models/r1000")"
	fi
done

# ---- metrics: instrumentation and scrape ---------------------------------------------------
say "metrics registry and scrape render"
for i in $(seq 1 "$MET_RUNS"); do
	"$bin/bench_metrics" "$([ "$quick" = 1 ] && echo 2 || echo 10)" >"$work/metrics-$i.txt"
	awk '/^one predict request/ {print $(NF-3)}' "$work/metrics-$i.txt" >>"$res/instr.ns1"
	awk '/^one predict request/ {print $(NF-1)}' "$work/metrics-$i.txt" >>"$res/instr.ns2"
	for n in 100 1000 5000; do
		awk -v n="$n" '$1 == n && /counters, gauges/ {for (i = 1; i <= NF; i++) if ($i == "wall") print $(i+2)}' \
			"$work/metrics-$i.txt" >>"$res/scrape.plain.$n"
		awk -v n="$n" '$1 == n && /histograms/ {for (i = 1; i <= NF; i++) if ($i == "wall") print $(i+2)}' \
			"$work/metrics-$i.txt" >>"$res/scrape.hist.$n"
		awk -v n="$n" '$1 == n && /histograms/ {for (i = 1; i <= NF; i++) if ($i == "cpu") print $(i+2)}' \
			"$work/metrics-$i.txt" >>"$res/scrape.histcpu.$n"
		awk -v n="$n" '$1 == n && /histograms/ {for (i = 2; i <= NF; i++) if ($i == "lines") print $(i-1)}' \
			"$work/metrics-$i.txt" >"$work/lines.$n"
	done
done

# ---- drift in process ----------------------------------------------------------------------
say "drift observer in process"
for i in $(seq 1 "$DRIFT_RUNS"); do
	"$bin/bench_drift" "$src/models/fd001" >"$work/drift-$i.txt"
	awk '/1 prediction per call, 1 thread/ {print $(NF-3)}' "$work/drift-$i.txt" >>"$res/drift.ns"
	awk '/^  features \+ forest/ {print $(NF-1)}' "$work/drift-$i.txt" >>"$res/drift.inproc_nojson"
	awk '/JSON body parse/ {print $(NF-1)}' "$work/drift-$i.txt" >>"$res/drift.inproc_json"
done

# ---- feedback ------------------------------------------------------------------------------
say "feedback ingestion, $FB_RUNS x bench/feedback.sh"
for i in $(seq 1 "$FB_RUNS"); do
	bash "$src/bench/feedback.sh" "$build" "$FB_SECS" 32 default >"$work/feedback-$i.txt" 2>&1 ||
		{ cat "$work/feedback-$i.txt" >&2; echo "run.sh: feedback.sh failed" >&2; exit 1; }
	sed -n 's/^batches of 100: \([0-9]*\) records\/s.*p50 \([0-9.]*\) ms, p99 \([0-9.]*\) ms.*/\1 \2 \3/p' \
		"$work/feedback-$i.txt" | while read -r a b c; do add fb.batch.rps "$a"; add fb.batch.p50 "$b"; add fb.batch.p99 "$c"; done
	sed -n 's/^single records: \([0-9]*\) requests\/s (p50 \([0-9.]*\) ms, p99 \([0-9.]*\) ms.*/\1 \2 \3/p' \
		"$work/feedback-$i.txt" | while read -r a b c; do add fb.single.rps "$a"; add fb.single.p50 "$b"; add fb.single.p99 "$c"; done
done
load_end="$(loadavg)"
say "load average at end: $load_end"

# ---- the document --------------------------------------------------------------------------
gen="$work/gen.md"
{
cat <<EOF
<!-- bench:begin -->
<!-- Generated by bench/run.sh (\`make bench\`); edit the hand-written sections outside these markers. -->
## Measured figures$([ "$quick" = 1 ] && echo " (quick run: fewer and shorter runs, indicative only)")

Run of $date_start on commit \`$commit\`$dirty. Regenerate with \`make bench\` (about 15 minutes)
or \`bench/run.sh [BUILD_DIR]\`; \`make bench-quick\` runs a reduced set in under 2 minutes and
writes \`build/bench/BENCHMARKS-quick.md\` instead.

Every figure is "median [min – max]" over the runs stated; ratios are taken run by run from
figures measured one right after the other in the same run, then the median of the ratios.

### Machine and conditions

| | |
|---|---|
| CPU | $cpu_model, $(nproc) cores (KVM guest) |
| memory | $mem_total |
| system | $(. /etc/os-release && echo "$PRETTY_NAME"), Linux $(uname -r) |
| build | $build_type (\`$cflags\`), $(cc --version | head -1) |
| libraries | XGBoost $(pkg-config --modversion xgboost 2>/dev/null || echo "?"), libmicrohttpd $(pkg-config --modversion libmicrohttpd 2>/dev/null || echo "?"), SQLite $(pkg-config --modversion sqlite3 2>/dev/null || echo "?") |
| HTTP floor | $(floor_version) (bench/floor.sh) |
| load generator | $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2), on the same $(nproc) cores as the daemon |
| load average (1, 5, 15 min) | at start $load_start, at end $load_end |
| input data | $data_source |

The daemon under test is the default configuration: \`conf/rulsrv.conf\`, service
\`prediction\` (plugins \`model\` = predict_forest with \`models/fd001\`, \`drift\` = drift_psi,
\`feedback\` logging every prediction to SQLite, \`prometheus\`), \`threads\` at its default
(one per core: $(nproc)), started as
\`rulsrv -c conf/rulsrv.conf -s prediction -o plugin_dir=BUILD/plugins -o services.prediction.listen=127.0.0.1:0 -o plugins.feedback.settings.database=SCRATCH/x.db -o plugins.model.settings.database=SCRATCH/x.db\`.
The XGBoost daemon adds \`-o plugins.model.file=predict_xgboost.so\`; the one without drift adds
\`-o 'services.prediction.plugins=[model, feedback, prometheus]'\`, the one without the
prediction log \`-o 'services.prediction.plugins=[model, drift, prometheus]'\`.
EOF

# -- summary
m_r1="$(cval "$work/compute.txt" model.ratio.b1)"
m_r256="$(cval "$work/compute.txt" model.ratio.b256)"
h_rps="$(med "$res/http.forest.one-w30.c32.rps")"
h_p99="$(med "$res/http.forest.one-w30.c32.p99")"
best_eps() { # body -> "median conns" of the connection count with the highest median engines/s
	local b="$1" c best="" bc=""
	for c in $CONNS; do
		v="$(med "$res/http.forest.$b.c$c.eps")"
		if [ -z "$best" ] || awk -v a="$v" -v b="$best" 'BEGIN {exit !(a > b)}'; then best="$v"; bc="$c"; fi
	done
	echo "$best $bc"
}
read -r eps1 eps1c < <(best_eps batch256-w1)
read -r eps30 eps30c < <(best_eps batch256-w30)
rss_idle="$(calc "$(med "$res/rss_idle.forest") / 1024")"
fb_b="$(med "$res/fb.batch.rps")"
fb_s="$(med "$res/fb.single.rps")"
sc_h="$(med "$res/scrape.hist.5000")"
sc_p="$(med "$res/scrape.plain.5000")"
instr_ns="$(med "$res/instr.ns1")"
req_cpu="$(med "$res/http.forest.one-w30.c32.cpu")"
instr_pct="$(calc "$instr_ns / 1000 / $req_cpu * 100")"
drift_cpu="$(med "$res/drift.cpu_cost")"
drift_rps="$(med "$res/drift.rps_cost")"
drift_json="$(med "$res/drift.inproc_json")"
# pshare BODY WORD: the perf share of the category whose name starts with WORD
pshare() {
	[ -s "$work/prof.$1.txt" ] || { echo nan; return 0; }
	awk -v w="$2" '$2 == w {print $1; f = 1} END {if (!f) print 0}' "$work/prof.$1.txt"
}
pyc=16
[ -s "$res/http.forest.one-w30.c16.rps" ] || pyc=32
cat <<EOF

### Figures against targets

| figure | target (issue) | measured | |
|---|---|---|---|
| forest vs XGBoost C API, 1 engine per call (in process) | >= 10x (#5) | $(cmmm "$work/compute.txt" model.ratio.b1 1)x | $(mark "$m_r1" ge 10) |
| forest vs XGBoost C API, 256 engines per call (in process) | >= 2x (#5) | $(cmmm "$work/compute.txt" model.ratio.b256 2)x | $(mark "$m_r256" ge 2) |
| HTTP, 1 engine x 30 cycles, 32 connections: requests/s | >= 15,000 (#5) | $(mmm "$res/http.forest.one-w30.c32.rps" 0) | $(mark "$h_rps" ge 15000) |
| same: p99 latency | <= 5 ms (#5) | $(mmm "$res/http.forest.one-w30.c32.p99" 2) ms | $(mark "$h_p99" le 5) |
| same with wrk on one thread (\`-t1\`): requests/s | >= 15,000 (#5) | $(mmm "$res/http.forest.one-w30.c32t1.rps" 0) | $(mark "$(med "$res/http.forest.one-w30.c32t1.rps")" ge 15000) |
| same with wrk on one thread: p99 latency | <= 5 ms (#5) | $(mmm "$res/http.forest.one-w30.c32t1.p99" 2) ms | $(mark "$(med "$res/http.forest.one-w30.c32t1.p99")" le 5) |
| HTTP, batches of 256 engines x 1 cycle: engines/s (best of $CONNS connections: $eps1c) | >= 300,000 (#5) | $(mmm "$res/http.forest.batch256-w1.c$eps1c.eps" 0) | $(mark "$eps1" ge 300000) |
| HTTP, batches of 256 engines x 30 cycles: engines/s (best: $eps30c connections) | >= 300,000 (#5) | $(mmm "$res/http.forest.batch256-w30.c$eps30c.eps" 0) | $(mark "$eps30" ge 300000) |
| resident memory, default bundle loaded, idle | <= 50 MB (#5) | $(fmt "$rss_idle" 1) MiB | $(mark "$rss_idle" le 50) |
| feedback, batches of 100 records, durable: records/s | >= 20,000 (#6) | $(mmm "$res/fb.batch.rps" 0) | $(mark "$fb_b" ge 20000) |
| feedback, single records, durable: requests/s | >= 2,000 (#6) | $(mmm "$res/fb.single.rps" 0) | $(mark "$fb_s" ge 2000) |
| /metrics render, 5,000 series (20% histograms), wall | < 5 ms (#3) | $(mmm "$res/scrape.hist.5000" 2) ms | $(mark "$sc_h" lt 5) |
| /metrics render, 5,000 series (counters, gauges), wall | < 5 ms (#3) | $(mmm "$res/scrape.plain.5000" 2) ms | $(mark "$sc_p" lt 5) |
| instrumentation share of a predict request's CPU (estimate, see below) | < 3% (#3) | $(fmt "$instr_pct" 2)% | $(mark "$instr_pct" lt 3) |
| instrumentation: metrics registry's share of the daemon's CPU (perf), 1 engine x 30 cycles | < 3% (#3) | $(fmt "$(pshare one-w30 metrics)" 1)% | $(mark "$(pshare one-w30 metrics)" lt 3) |
| instrumentation: same, batches of 256 x 1 cycle | < 3% (#3) | $(fmt "$(pshare batch256-w1 metrics)" 1)% | $(mark "$(pshare batch256-w1 metrics)" lt 3) |
| drift: extra server CPU per request, HTTP A/B, 1 engine x 30 cycles | < 2% (#7) | $(mmm "$res/drift.cpu_cost" 2)% | $(abmark "$res/drift.cpu_cost" 2) |
| drift: drift_psi's share of the daemon's CPU (perf), 1 engine x 30 cycles | < 2% (#7) | $(fmt "$(pshare one-w30 drift_psi)" 1)% | $(mark "$(pshare one-w30 drift_psi)" lt 2) |
| drift: same, batches of 256 x 1 cycle | < 2% (#7) | $(fmt "$(pshare batch256-w1 drift_psi)" 1)% | $(mark "$(pshare batch256-w1 drift_psi)" lt 2) |
| drift: share of the in-process request path (bench_drift) | < 2% (#7) | $(mmm "$res/drift.inproc_json" 2)% | $(mark "$drift_json" lt 2) |
| HTTP, 1 engine x 30 cycles, 32 connections, wrk \`-t1\`: requests/s ÷ nginx floor | >= 0.5 (#19) | $(mmm "$res/http.forest.one-w30.c32t1.rps_floor" 2) | $(mark "$(med "$res/http.forest.one-w30.c32t1.rps_floor")" ge 0.5) |
| same: p99 ÷ nginx floor's p99 | <= 1.5 (#19) | $(mmm "$res/http.forest.one-w30.c32t1.p99_floor" 2) | $(mark "$(med "$res/http.forest.one-w30.c32t1.p99_floor")" le 1.5) |
| HTTP, batches of 256 engines x 30 cycles: engines/s (best: $eps30c connections) | >= 120,000 (#19) | $(mmm "$res/http.forest.batch256-w30.c$eps30c.eps" 0) | $(mark "$eps30" ge 120000) |
| prediction log: predictions dropped over the forest daemon's runs | 0 (#19) | $(fmt "${plog_dropped:-0}" 0) of $(fmt "$(calc "${plog_written:-0} + ${plog_dropped:-0}")" 0) | $(mark "${plog_dropped:-0}" le 0) |
| prediction log: its share of the daemon's CPU (perf), batches of 256 x 1 cycle | <= 5% (#19) | $(fmt "$(pshare batch256-w1 prediction)" 1)% | $(mark "$(pshare batch256-w1 prediction)" le 5) |

For scale, measured elsewhere (not by this run, on a machine like this one): a Python stack
(FastAPI 0.92 + uvicorn, 2 workers, xgboost, prometheus_client) serving the same 30-cycle body
on 2 cores answered about **360 requests/s with p50 44 ms** at 16 connections. Here, at $pyc
connections: **$(fmt "$(med "$res/http.forest.one-w30.c$pyc.rps")" 0) requests/s, p50 $(fmt "$(med "$res/http.forest.one-w30.c$pyc.p50")" 2) ms**
($(fmt "$(calc "$(med "$res/http.forest.one-w30.c$pyc.rps") / 360")" 0) times the requests/s).
EOF
if [ -s "$work/errors" ]; then
	echo
	echo "Errors seen during the HTTP runs (counted out of the figures above):"
	echo
	sed 's/^/- /' "$work/errors"
fi

# -- model compute
cat <<EOF

### Model compute in process

Command: \`bench_compute $([ "$quick" = 1 ] && echo model || echo all) models/fd001 $REPEATS\` ($REPEATS repeats, CPU time of
the measuring thread). Model: $(trees_of "$work/compute.txt") trees, $(nodes_of "$work/compute.txt") nodes,
$(sed -n 's/^I model.* features=\([0-9]*\).*/\1/p' "$work/compute.txt") features; rows are the features of every cycle of
$data_source. Within each repeat XGBoost (\`XGBoosterPredictFromDense\`, nthread=1, the
predict_xgboost backend) and predict_forest predict the same rows one after the other.

| engines per call | XGBoost µs/engine | forest µs/engine | forest speed-up |
|---|---|---|---|
EOF
for b in 1 8 64 256 1024; do
	[ -n "$(cval "$work/compute.txt" "model.ratio.b$b")" ] || continue
	echo "| $b | $(cmmm "$work/compute.txt" "model.xgboost.b$b" 2) | $(cmmm "$work/compute.txt" "model.forest.b$b" 2) | $(cmmm "$work/compute.txt" "model.ratio.b$b" 1)x |"
done
if [ "$quick" = 0 ]; then
cat <<EOF

The rest of one request in process, per engine (same command):

| work | window 1 | window 10 | window 30 | window 100 |
|---|---|---|---|---|
| feature pipeline (\`features_last\`), µs | $(cmmm "$work/compute.txt" features.w1 2) | $(cmmm "$work/compute.txt" features.w10 2) | $(cmmm "$work/compute.txt" features.w30 2) | $(cmmm "$work/compute.txt" features.w100 2) |
| /v1/predict parser, one engine, µs | $(cmmm "$work/compute.txt" parse.one1.w1 2) | | $(cmmm "$work/compute.txt" parse.one1.w30 2) | $(cmmm "$work/compute.txt" parse.one1.w100 2) |
| parse + features + forest, one engine, µs | $(cmmm "$work/compute.txt" pipeline.one1.w1 2) | | $(cmmm "$work/compute.txt" pipeline.one1.w30 2) | $(cmmm "$work/compute.txt" pipeline.one1.w100 2) |
| parse, batch of 256, µs per engine | $(cmmm "$work/compute.txt" parse.batch256.w1 2) | | $(cmmm "$work/compute.txt" parse.batch256.w30 2) | |
| parse + features + forest, batch of 256, µs per engine | $(cmmm "$work/compute.txt" pipeline.batch256.w1 2) | | $(cmmm "$work/compute.txt" pipeline.batch256.w30 2) | |

cJSON (\`cJSON_ParseWithLength\`) on the same 30-cycle body ($(bytes_of one-w30) bytes): $(cmmm "$work/compute.txt" cjson.one1.w30 1) µs.
The features use the last 30 cycles at most, so beyond 30 only parsing grows with the window.
EOF
fi

# -- HTTP
cat <<EOF

### HTTP predict

Command, per row: \`BODY=FILE wrk -t2 -cN -d${DUR}s -s bench/predict.lua http://127.0.0.1:PORT/v1/predict\`
(\`-t1\` at 1 connection), $RUNS runs per row and backend, the two backends run by turns. Bodies
(written by \`bench_compute bodies\`): one engine with 30 cycles, $(bytes_of one-w30) bytes; 256
engines with 1 cycle each, $(bytes_of batch256-w1) bytes; 256 engines with 30 cycles each,
$(bytes_of batch256-w30) bytes. Requests/s count 2xx answers only. "Server CPU" is the
daemon's user + system CPU time (/proc) divided by the requests answered: what one request
costs the server, whatever wrk takes from the same cores.

The floor (bench/floor.sh): $(floor_version) with one worker per core, started by the bench
on a loopback port, answering POST /v1/predict with the bytes the forest daemon answered to
the same body, after reading the whole body (the mirror module's \`mirror_request_body on\`;
without it nginx answers before the body has arrived). Its rows are run by turns with the
backends, and "÷ floor" is each run's figure over the floor's run right after it: the
fastest any HTTP server could answer these requests on this machine at this moment.

EOF
for body in $heads; do
	e="$(engines_of "$body")"
	case "$body" in
	one-w30) echo "One engine, 30-cycle window:" ;;
	batch256-w1) echo "Batches of 256 engines, 1 cycle each:" ;;
	batch256-w30) echo "Batches of 256 engines, 30 cycles each:" ;;
	esac
	echo
	echo "| connections | backend | requests/s | engines/s | p50 ms | p99 ms | server CPU µs/request | forest/XGBoost | requests/s ÷ floor | p99 ÷ floor |"
	echo "|---|---|---|---|---|---|---|---|---|---|"
	conns="$CONNS"
	[ "$body" = one-w30 ] && [ "$quick" = 0 ] && conns="1 8 16 32 128"
	for c in $conns; do
		for d in forest xgboost; do
			p="$res/http.$d.$body.c$c"
			ratio=""
			[ "$d" = forest ] && ratio="$(mmm "$res/http.ratio.$body.c$c" 2)x"
			echo "| $c | $d | $(mmm "$p.rps" 0) | $(mmm "$p.eps" 0) | $(mmm "$p.p50" 2) | $(mmm "$p.p99" 2) | $(mmm "$p.cpu" 0) | $ratio | $(mmm "$p.rps_floor" 2) | $(mmm "$p.p99_floor" 2) |"
		done
		p="$res/http.floor.$body.c$c"
		[ -s "$p.rps" ] && echo "| $c | nginx floor | $(mmm "$p.rps" 0) | $(mmm "$p.eps" 0) | $(mmm "$p.p50" 2) | $(mmm "$p.p99" 2) | | | 1 | 1 |"
	done
	if [ "$body" = one-w30 ]; then
		for d in forest xgboost; do
			p="$res/http.$d.$body.c32t1"
			echo "| 32, wrk \`-t1\` | $d | $(mmm "$p.rps" 0) | $(mmm "$p.eps" 0) | $(mmm "$p.p50" 2) | $(mmm "$p.p99" 2) | $(mmm "$p.cpu" 0) | | $(mmm "$p.rps_floor" 2) | $(mmm "$p.p99_floor" 2) |"
		done
		p="$res/http.floor.$body.c32t1"
		[ -s "$p.rps" ] && echo "| 32, wrk \`-t1\` | nginx floor | $(mmm "$p.rps" 0) | $(mmm "$p.eps" 0) | $(mmm "$p.p50" 2) | $(mmm "$p.p99" 2) | | | 1 | 1 |"
	fi
	echo
done
cat <<EOF
Prediction log (feedback plugin in the prediction service, a queue that grows to
\`queue_size\` before it drops): $(fmt "${plog_written:-0}" 0) predictions written and
$(fmt "${plog_dropped:-0}" 0) dropped (counted in \`feedback_prediction_log_dropped_total\`) over the
forest daemon's runs above, read from its /metrics after them; the requests never waited.
EOF

# -- profile
if [ "$perf_ok" = 1 ]; then
	profiled="$(for b in one-w30 batch256-w1 batch256-w30; do if [ -s "$work/prof.$b.txt" ]; then echo "$b"; fi; done | tr '\n' ' ')"
	cat <<EOF

Where the forest daemon's CPU goes (\`perf record -e cpu-clock -F 1999 -p PID\` for a few seconds
while wrk drives it at 32 connections; share of the daemon's samples, inlined functions count
in their caller):

EOF
	printf '| work |'; for b in $profiled; do printf ' %s |' "$b"; done; echo
	printf '|---|'; for b in $profiled; do printf -- '---|'; done; echo
	cat "$work"/prof.*.txt | sort -rg | cut -d' ' -f2- | awk '!seen[$0]++' | while IFS= read -r c; do
		printf '| %s |' "$c"
		for b in $profiled; do
			printf ' %s |' "$(awk -v c="$c" '{p = $1; $1 = ""; sub(/^ /, ""); if ($0 == c) {printf "%s%%", p; f = 1}} END {if (!f) printf "0%%"}' "$work/prof.$b.txt")"
		done
		echo
	done
	for b in $profiled; do
		echo
		echo "Top symbols, $b: $(awk '{printf "%s%s %s%% (%s)", (NR > 1 ? ", " : ""), $3, $1, $2}' "$work/top.$b.txt")."
	done
fi

# -- drift and instrumentation
cat <<EOF

### Cost of drift and of instrumentation

Drift, HTTP A/B: the default daemon against the same without the \`drift\` plugin, one engine
with 30 cycles, 32 connections, run by turns in the same loop ($RUNS pairs, table above):

| daemon | requests/s | server CPU µs/request |
|---|---|---|
| with drift_psi (default) | $(mmm "$res/http.forest.one-w30.c32.rps" 0) | $(mmm "$res/http.forest.one-w30.c32.cpu" 1) |
| without drift_psi | $(mmm "$res/http.nodrift.one-w30.c32.rps" 0) | $(mmm "$res/http.nodrift.one-w30.c32.cpu" 1) |
| cost of drift, pair by pair | $(mmm "$res/drift.rps_cost" 2)% | $(mmm "$res/drift.cpu_cost" 2)% |
| for comparison: without the prediction log (feedback plugin) | $(mmm "$res/http.nolog.one-w30.c32.rps" 0) | $(mmm "$res/http.nolog.one-w30.c32.cpu" 1) |

p50 and p99 of the same runs: with drift $(mmm "$res/http.forest.one-w30.c32.p50" 2) and $(mmm "$res/http.forest.one-w30.c32.p99" 2) ms;
without drift $(mmm "$res/http.nodrift.one-w30.c32.p50" 2) and $(mmm "$res/http.nodrift.one-w30.c32.p99" 2) ms;
without the prediction log $(mmm "$res/http.nolog.one-w30.c32.p50" 2) and $(mmm "$res/http.nolog.one-w30.c32.p99" 2) ms.

Drift in process (\`bench_drift models/fd001\`, $DRIFT_RUNS runs, each the median of 7):
$(mmm "$res/drift.ns" 0) ns per observed prediction on one thread, which is
$(mmm "$res/drift.inproc_json" 2)% of parse + features + forest for one 30-cycle engine, and
$(mmm "$res/drift.inproc_nojson" 2)% of features + forest alone.
The A/B through HTTP has the noise of the whole machine in it (the spread of the two rows);
the in-process figure isolates the observer.

Instrumentation: the core has no switch to turn metrics off (and adding one to the request
path is not worth it), so its cost is estimated: \`bench_metrics\` ($MET_RUNS runs) times what one
/v1/predict does to the registry (8 updates, 5 of them looking their series up by labels):
$(mmm "$res/instr.ns1" 0) ns on one thread, $(mmm "$res/instr.ns2" 0) ns each when 2 threads update the
same series at once. Against the server CPU of one request at 32 connections
($(fmt "$req_cpu" 1) µs), one thread's figure is **$(fmt "$instr_pct" 2)%**; with the 2-thread figure,
$(fmt "$(calc "$(med "$res/instr.ns2") / 1000 / $req_cpu * 100")" 2)%.

### /metrics scrape

Command: \`bench_metrics\` ($MET_RUNS runs; each figure is the median of 51 renders: \`metrics_collect\` +
text format 0.0.4 into one buffer, as \`GET /metrics\` does), wall time:

| series | counters and gauges | 20% histograms (12 buckets) | same, CPU time |
|---|---|---|---|
EOF
for n in 100 1000 5000; do
	echo "| $(fmt "$n" 0) ($(cat "$work/lines.$n" 2>/dev/null || echo "?") lines with histograms) | $(mmm "$res/scrape.plain.$n" 3) ms | $(mmm "$res/scrape.hist.$n" 3) ms | $(mmm "$res/scrape.histcpu.$n" 3) ms |"
done
cat <<EOF

The live prediction service after the HTTP runs: $live_series series, $(fmt "$live_bytes" 0) bytes;
\`curl\` scrape time over 21 scrapes, including the HTTP round trip: $(mmm "$res/live_scrape" 2) ms.
EOF

# -- feedback
cat <<EOF

### Feedback ingestion (durable)

Command: \`bench/feedback.sh BUILD $FB_SECS 32 default\`, $FB_RUNS runs: the real daemon with the
feedback plugin on a fresh SQLite database (WAL, synchronous=FULL, group commit), the core's
default thread count, wrk with 32 connections; only 2xx answers counted, each given after its
commit by a deferred response, so waiting requests hold no worker thread.

| form | throughput | p50 ms | p99 ms |
|---|---|---|---|
| batches of 100 records | $(mmm "$res/fb.batch.rps" 0) records/s | $(mmm "$res/fb.batch.p50" 1) | $(mmm "$res/fb.batch.p99" 1) |
| single records | $(mmm "$res/fb.single.rps" 0) requests/s | $(mmm "$res/fb.single.p50" 1) | $(mmm "$res/fb.single.p99" 1) |
EOF

# -- memory and start-up
kib() { echo "$(fmt "$(calc "$(med "$1") / 1024")" 1) MiB"; }
cat <<EOF

### Memory and start-up

Resident memory (VmRSS, and the peak VmHWM, from /proc) of the daemons above:

| daemon | idle after start | after 1 engine x 30 cycles | peak after batches 256 x 1 | peak after batches 256 x 30 |
|---|---|---|---|---|
EOF
for d in forest xgboost; do
	echo "| $d, models/fd001 | $(kib "$res/rss_idle.$d") | $(kib "$res/rss_after.$d.one-w30") | $(kib "$res/hwm_after.$d.batch256-w1") | $(kib "$res/hwm_after.$d.batch256-w30") |"
done
echo "| forest, without drift_psi | $(kib "$res/rss_idle.nodrift") | | | |"
cat <<EOF

A batch of 256 engines x 30 cycles is a $(fmt "$(calc "$(bytes_of batch256-w30) / 1048576")" 1) MB body, and up to one body per
connection is in memory at once (128 connections at most here): the peak under load follows
body size x connections, not the model.

Start-up to ready (exec to the \`rulsrv ... ready\` log line: config, plugins, model loaded and
warmed up, listener bound), $START_RUNS starts each:

| model | forest | XGBoost |
|---|---|---|
| models/fd001 ($(trees_of "$work/compute.txt") trees) | $(mmm "$res/startup.forest" 1) ms | $(mmm "$res/startup.xgboost" 1) ms |
EOF
if [ "$TREES" = 1 ]; then
	echo "| 1,000 trees | $(mmm "$res/startup.forest-r1000" 1) ms | $(mmm "$res/startup.xgboost-r1000" 1) ms |"
fi

# -- growth
if [ "$GROWTH" = 1 ]; then
cat <<EOF

### Growth with the work

Engines per request and window length, forest daemon, 32 connections, $RUNS runs of ${GDUR} s each
(the rows marked * are the ${DUR} s runs of the tables above):

| body | bytes | requests/s | engines/s | p50 ms | p99 ms | server CPU µs/request | µs/engine |
|---|---|---|---|---|---|---|---|
EOF
	for body in one-w1 one-w10 one-w30 one-w100 batch8-w1 batch64-w1 batch256-w1 batch1024-w1 batch8-w30 batch64-w30 batch256-w30; do
		p="$res/grow.forest.$body"
		star=""
		if [ ! -f "$p.rps" ]; then p="$res/http.forest.$body.c32"; star="*"; fi
		e="$(engines_of "$body")"
		w="${body##*-w}"
		label="$([ "$e" = 1 ] && [ "${body%%-*}" = one ] && echo "1 engine" || echo "$e engines") x $w cycles$star"
		echo "| $label | $(fmt "$(bytes_of "$body")" 0) | $(mmm "$p.rps" 0) | $(mmm "$p.eps" 0) | $(mmm "$p.p50" 2) | $(mmm "$p.p99" 2) | $(mmm "$p.cpu" 0) | $(fmt "$(calc "$(med "$p.cpu") / $e")" 2) |"
	done
fi
if [ "$TREES" = 1 ]; then
cat <<EOF

Trees in the model: bundles trained by \`rulsrv-train --subset FD001 --holdout 20 --seed 3
--no-tune --rounds R --max-depth 4 --eta 0.05\` (R = 50, 1000; the default models/fd001 has
$(trees_of "$work/compute.txt") trees of the same depth), six daemons run by turns, 32 connections, $RUNS runs of ${GDUR} s:

| trees | in process: XGBoost µs/engine, 1 per call | forest | XGBoost, 256 per call | forest | HTTP 1 x 30 cycles, forest req/s | XGBoost req/s | HTTP 256 x 1, forest engines/s | XGBoost engines/s | idle RSS forest | idle RSS XGBoost |
|---|---|---|---|---|---|---|---|---|---|---|
EOF
	for r in 50 250 1000; do
		if [ "$r" = 250 ]; then f="$work/compute.txt"; fd=forest; xd=xgboost; else f="$work/compute-r$r.txt"; fd="forest-r$r"; xd="xgboost-r$r"; fi
		echo "| $(trees_of "$f") | $(cmmm "$f" model.xgboost.b1 2) | $(cmmm "$f" model.forest.b1 2) | $(cmmm "$f" model.xgboost.b256 2) | $(cmmm "$f" model.forest.b256 2) | $(mmm "$res/trees.$fd.one-w30.rps" 0) | $(mmm "$res/trees.$xd.one-w30.rps" 0) | $(mmm "$res/trees.$fd.batch256-w1.eps" 0) | $(mmm "$res/trees.$xd.batch256-w1.eps" 0) | $(kib "$res/rss_idle.$fd") | $(kib "$res/rss_idle.$xd") |"
	done
fi
echo
echo "<!-- bench:end -->"
} >"$gen"

# ---- write ---------------------------------------------------------------------------------
if [ "$quick" = 1 ] || [ ! -f "$out" ]; then
	if [ "$quick" = 1 ]; then cp "$gen" "$out"; else { echo "# Benchmarks"; echo; cat "$gen"; } >"$out"; fi
elif grep -q '^<!-- bench:begin -->' "$out"; then
	awk -v gen="$gen" '
		/^<!-- bench:begin -->/ {while ((getline l < gen) > 0) print l; skip = 1; next}
		/^<!-- bench:end -->/ {skip = 0; next}
		!skip {print}' "$out" >"$work/out.md"
	cp "$work/out.md" "$out"
else
	{ cat "$out"; echo; cat "$gen"; } >"$work/out.md"
	cp "$work/out.md" "$out"
fi
say "wrote $out"
[ "$quick" = 1 ] && cat "$out"
exit 0
