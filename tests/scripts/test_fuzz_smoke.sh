#!/bin/sh
# test_fuzz_smoke.sh - build the libFuzzer harnesses with clang and run each briefly (bounded).
# FUZZ_SMOKE_SECONDS per harness (default 10; 0 skips). Skips (77) without clang/libFuzzer and
# in the sanitizer tree (make test-asan).
set -u
src=${RULSRV_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${RULSRV_BUILD_DIR:-$src/build}
# The harnesses are built by clang with their own ASan+UBSan, whatever this tree is: once is enough.
if grep -q '^RULSRV_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
	echo "SKIP: the sanitizer tree; the fuzz smoke runs in the plain tree (same clang build)"
	exit 77
fi
[ "${FUZZ_SMOKE_SECONDS:-10}" -gt 0 ] || { echo "SKIP: FUZZ_SMOKE_SECONDS=0"; exit 77; }
exec sh "$src/tests/fuzz/run.sh" "$build/fuzz" "${FUZZ_SMOKE_SECONDS:-10}"
