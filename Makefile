# Thin wrapper over CMake: `make run` and `make test` are the two commands a user needs.
BUILD   ?= build
CONFIG  ?= conf/rulsrv.conf
JOBS    ?= $(shell nproc)
CMAKE_FLAGS ?=
# CI builds with warnings as errors; a user's build does not fail on a new compiler's warning.
ifneq ($(CI),)
CMAKE_FLAGS += -DRULSRV_WERROR=ON
endif

.PHONY: all deps test-deps build run test test-asan models bench bench-quick deb fuzz soak clean

all: build

deps:
	@sh scripts/install-deps.sh build

test-deps:
	@sh scripts/install-deps.sh test

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

run: build
	mkdir -p var
	$(BUILD)/bin/rulsrv -c $(CONFIG)

test: test-deps build
	ctest --test-dir $(BUILD) --output-on-failure

# Everything again under AddressSanitizer + UndefinedBehaviorSanitizer, in its own tree.
test-asan: test-deps
	$(MAKE) BUILD=build-asan CMAKE_FLAGS="$(CMAKE_FLAGS) -DRULSRV_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug" build
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		ctest --test-dir build-asan --output-on-failure

# A Debian package from a Release build: rulsrv_<version>-1_<arch>.deb in this folder.
deb: deps
	BUILD=$(abspath $(BUILD)) sh packaging/deb/build-deb.sh .

clean:
	rm -rf $(BUILD) build-asan
