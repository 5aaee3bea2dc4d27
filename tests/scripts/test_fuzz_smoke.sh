#!/bin/sh
# test_fuzz_smoke.sh - build the libFuzzer harnesses with clang and run each briefly (bounded).
# FUZZ_SMOKE_SECONDS per harness (default 10). Skips (77) without clang/libFuzzer.
set -u
src=${RULSRV_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${RULSRV_BUILD_DIR:-$src/build}
exec sh "$src/tests/fuzz/run.sh" "$build/fuzz" "${FUZZ_SMOKE_SECONDS:-10}"
