#!/bin/sh
# build.sh - build the libFuzzer harnesses of tests/fuzz with clang: tests/fuzz/build.sh [OUT_DIR]
# Each harness links the project's own parser sources with -fsanitize=fuzzer,address,undefined.
# Exit 77 when clang or its libFuzzer runtime is missing (the smoke test then skips).
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$src/build-fuzz}
cc=${CLANG:-}
if [ -z "$cc" ]; then
	for c in clang clang-16 clang-15 clang-14; do
		if command -v "$c" >/dev/null 2>&1; then cc=$c; break; fi
	done
fi
if [ -z "$cc" ]; then
	echo "build.sh: no clang found (apt-get install clang libclang-rt-14-dev)" >&2
	exit 77
fi
if ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' |
	"$cc" -x c -fsanitize=fuzzer -o /dev/null - 2>/dev/null; then
	echo "build.sh: $cc cannot link libFuzzer (apt-get install libclang-rt-14-dev)" >&2
	exit 77
fi
mkdir -p "$out"
flags="-g -O1 -std=gnu11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined
	-fno-sanitize-recover=undefined -fno-omit-frame-pointer
	-I$src/core -I$src/core/include -I$src/lib -I$src/plugins/predict -I$src/plugins/feedback
	$(pkg-config --cflags libcjson libconfig)"
libs="$(pkg-config --libs libcjson libconfig zlib) -lm"
model="$src/plugins/predict/predict_request.c $src/lib/cmapss.c $src/lib/number.c"
build() {
	name=$1
	shift
	echo "build.sh: $name"
	# shellcheck disable=SC2086
	"$cc" $flags -o "$out/$name" "$src/tests/fuzz/$name.c" "$@" $libs
}
build fuzz_predict_json $model
build fuzz_predict_text $model
build fuzz_number $model
build fuzz_v2 $model "$src/plugins/predict/v2_infer.c"
build fuzz_feedback "$src/plugins/feedback/parse.c" "$src/lib/utf8.c"
build fuzz_config "$src/core/config.c" "$src/core/config_value.c" "$src/core/log.c"
