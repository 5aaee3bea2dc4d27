#!/bin/sh
# run.sh - build and run the libFuzzer harnesses: tests/fuzz/run.sh OUT_DIR SECONDS [HARNESS...]
# Every harness (or the ones named) runs SECONDS in turn on OUT_DIR/corpus/<harness> (grown from
# the seeds in tests/fuzz/corpus/<harness>, kept between runs); a crash, leak or timeout stops
# the run with exit 1 and leaves the input in OUT_DIR/crashes/. Before fuzzing, the inputs in
# tests/fuzz/regressions/<harness>/ (every crash found so far) are replayed.
# Exit 77 when clang or libFuzzer is missing. See docs/FUZZING.md.
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:?usage: run.sh OUT_DIR SECONDS [HARNESS...]}
secs=${2:?usage: run.sh OUT_DIR SECONDS [HARNESS...]}
shift 2
harnesses=${*:-fuzz_predict_json fuzz_predict_text fuzz_v2 fuzz_number fuzz_feedback fuzz_config}

sh "$src/tests/fuzz/build.sh" "$out"
rc=$?
[ "$rc" -eq 0 ] || exit "$rc"
mkdir -p "$out/crashes"
export LSAN_OPTIONS="suppressions=$src/tests/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
status=0
for h in $harnesses; do
	if [ -d "$src/tests/fuzz/regressions/$h" ] &&
	   [ -n "$(ls -A "$src/tests/fuzz/regressions/$h")" ]; then
		if ! "$out/$h" "$src/tests/fuzz/regressions/$h"/* >"$out/$h.regressions.log" 2>&1; then
			echo "run.sh: $h: a regression input fails again (see $out/$h.regressions.log)"
			status=1
			continue
		fi
	fi
	mkdir -p "$out/corpus/$h"
	"$out/$h" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-dict="$src/tests/fuzz/json.dict" -artifact_prefix="$out/crashes/$h-" \
		"$out/corpus/$h" "$src/tests/fuzz/corpus/$h" >"$out/$h.log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$h.log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out/$h.log")
	cov=$(grep -o 'cov: [0-9]*' "$out/$h.log" | tail -1)
	echo "run.sh: $h: ${execs:-?} runs in ${secs}s (${rate:-?}/s), $cov, corpus $(ls "$out/corpus/$h" | wc -l) files, exit $rc"
	if [ "$rc" -ne 0 ]; then
		grep -E 'ERROR|SUMMARY|Test unit written' "$out/$h.log" | head -5
		status=1
	fi
done
exit "$status"
