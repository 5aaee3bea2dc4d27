# Thin wrapper over CMake: `make run` and `make test` are the two commands a user needs.
BUILD   ?= build
CONFIG  ?= conf/rulsrv.conf
JOBS    ?= $(shell nproc)
CMAKE_FLAGS ?=
# CI builds with warnings as errors; a user's build does not fail on a new compiler's warning.
ifneq ($(CI),)
CMAKE_FLAGS += -DRULSRV_WERROR=ON
endif

.PHONY: all deps test-deps build run test test-asan test-topology models bench bench-quick deb fuzz soak clean

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

# $(call run_ctest,TREE[,ENV]): every test of TREE, then the skipped ones with the reason each
# printed (tests/report_skips.sh); the status is ctest's. CTEST_FLAGS=-j2: two at a time.
CTEST_FLAGS ?=
run_ctest = rm -f $(1)/Testing/junit.xml; $(2) ctest --test-dir $(1) --output-on-failure \
		$(CTEST_FLAGS) --output-junit $(abspath $(1))/Testing/junit.xml; status=$$?; \
	sh tests/report_skips.sh $(1)/Testing/junit.xml; exit $$status

test: test-deps build
	$(call run_ctest,$(BUILD))

# Everything again under AddressSanitizer + UndefinedBehaviorSanitizer, in its own tree.
test-asan: test-deps
	$(MAKE) BUILD=build-asan CMAKE_FLAGS="$(CMAKE_FLAGS) -DRULSRV_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug" build
	$(call run_ctest,build-asan,ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1)

# A Debian package from a Release build: rulsrv_<version>-1_<arch>.deb in this folder.
deb: deps
	BUILD=$(abspath $(BUILD)) sh packaging/deb/build-deb.sh .

# Model bundles from the real C-MAPSS data (docs/MODEL.md): models/fd001 (committed, 20 FD001
# units held out for the replay), and per-subset and all-subset bundles in $(BUILD)/models/.
MODEL_VERSION ?= 2026.11.25-1
MODEL_SEED    ?= 3
models: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) --target rulsrv-train -j $(JOBS)
	@data=""; for d in "$$CMAPSS_DIR" data/cmapss ../shared/data/cmapss; do \
		if [ -n "$$d" ] && { [ -f "$$d/train_FD001.txt" ] || [ -f "$$d/train_FD001.txt.gz" ]; }; then \
			data="$$d"; break; fi; done; \
	if [ -z "$$data" ]; then \
		echo "models: C-MAPSS data absent (\$$CMAPSS_DIR, data/cmapss, ../shared/data/cmapss); nothing built"; \
		exit 1; fi; \
	set -e; train="$(BUILD)/bin/rulsrv-train --data $$data --seed $(MODEL_SEED) --version $(MODEL_VERSION) --threads 2"; \
	echo "== FD001 (20 units held out) -> models/fd001"; \
	$$train --subset FD001 --holdout 20 --name rul-fd001 --out models/fd001; \
	mkdir -p $(BUILD)/models; \
	for s in FD001 FD002 FD003 FD004; do \
		n=$$(echo $$s | tr A-Z a-z); echo "== $$s -> $(BUILD)/models/$$n"; \
		$$train --subset $$s --name rul-$$n --out $(BUILD)/models/$$n; done; \
	echo "== FD001-FD004 -> $(BUILD)/models/all"; \
	$$train --subset FD001,FD002,FD003,FD004 --name rul-all --out $(BUILD)/models/all

clean:
	rm -rf $(BUILD) build-asan

# ---- benchmarks (bench/run.sh; not part of `make test`) -------------------------------------
# `make bench`: every figure of docs/BENCHMARKS.md, measured on this machine and written there
# (about 15 minutes; run it on a quiet machine). `make bench-quick`: fewer, shorter runs in
# under 2 minutes once built, written to $(BUILD)/bench/BENCHMARKS-quick.md.
bench: test-deps
	bash bench/run.sh $(BUILD)

bench-quick: test-deps
	bash bench/run.sh --quick $(BUILD)

# ---- reliability (docs/FUZZING.md, bench/soak.sh; not part of `make test`) ----------------------
# `make fuzz`: every libFuzzer harness of tests/fuzz for FUZZ_SECONDS each (FUZZ_HARNESS=name for
# one), corpus kept in build-fuzz/. `make soak`: load at 70% of the measured maximum for
# SOAK_SECONDS (default 600), then SHUTDOWNS (default 500) graceful shutdowns under load
# (bench/shutdowns.sh). CI: `make soak SOAK_SECONDS=60 SHUTDOWNS=50`.
FUZZ_SECONDS ?= 3600
FUZZ_HARNESS ?=
SOAK_SECONDS ?= 600
SHUTDOWNS ?= 500
fuzz:
	sh tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS) $(FUZZ_HARNESS)

soak: build
	SOAK_SECONDS=$(SOAK_SECONDS) bash bench/soak.sh $(BUILD)
	SHUTDOWNS=$(SHUTDOWNS) bash bench/shutdowns.sh $(BUILD)

# `make test-topology`: PostgreSQL, HAProxy, Prometheus, 3 prediction and 2 feedback instances,
# a replay with two SIGKILLs (tests/scripts/topology/run_topology.sh), alone. `make test` runs
# it too, as the ctest entry test_topology (tests/scripts/test_topology.sh; about 30 s).
test-topology: test-deps build
	RULSRV_BUILD_DIR=$(abspath $(BUILD)) bash tests/scripts/topology/run_topology.sh
