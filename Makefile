# Ember - a thin front for the CMake build (CMakeLists.txt does the real work).
# It installs Debian packages, configures build/ (Release) or build-asan/
# (Debug, ASan+UBSan), and runs ctest, the demo and the benchmarks. It holds no
# compiler flags or source lists: change those in CMake. `make help` lists targets.

# Debian packages the build, the tests and the demo need (`make deps`).
# chromium runs the serve_browser test (headless); it is the big one: about
# 210 MB to download and 730 MB installed on top of the rest, with its
# recommends.
PACKAGES := build-essential cmake pkg-config libopenblas-dev libcjson-dev libssl-dev \
            zlib1g-dev libutf8proc-dev libstb-dev libmicrohttpd-dev dataset-fashion-mnist python3 \
            chromium libopenmpi-dev openmpi-bin

BUILD_DIR := build
ASAN_DIR  := build-asan
PREFIX    ?= /usr/local
JOBS      := $(shell nproc 2>/dev/null || echo 2)
SUDO      := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
# Extra ctest arguments for `make asan` (e.g. ASAN_CTEST_ARGS='-R layers').
ASAN_CTEST_ARGS ?=

# Prerequisites run in the order written (deps before build); CMake parallelises.
.NOTPARALLEL:
.PHONY: all build deps test demo install asan noomp bench clean help

all: build

$(BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release

build: $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j$(JOBS)

deps:
	@missing=""; \
	for p in $(PACKAGES); do \
	  [ "$$(dpkg-query -W -f='$${Status}' $$p 2>/dev/null)" = "install ok installed" ] \
	    || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "deps: all installed"; exit 0; fi; \
	echo "deps: installing$$missing"; \
	$(SUDO) DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	$(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null

test: deps build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j2

# The reference text model (Embedding 64 -> GlobalAveragePooling1D -> Dense 128 relu ->
# Dense softmax, Adam, batch 32, 10 epochs) on the bundled Banking77 data, then the
# test report.
demo: deps build
	build/ember train --train data/banking77/train.csv --valid data/banking77/test.csv \
	    --arch text --epochs 10 --batch-size 32 --out build/demo-banking77.safetensors
	build/ember test build/demo-banking77.safetensors data/banking77/test.csv

# Re-configure with PREFIX first: GNUInstallDirs picks the libdir (lib or
# lib/<multiarch> for /usr) from CMAKE_INSTALL_PREFIX at configure time.
install:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=$(PREFIX)
	cmake --build $(BUILD_DIR) -j$(JOBS)
	cmake --install $(BUILD_DIR) --prefix $(PREFIX)

asan:
	cmake -S . -B $(ASAN_DIR) -DEMBER_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
	cmake --build $(ASAN_DIR) -j$(JOBS)
	ctest --test-dir $(ASAN_DIR) --output-on-failure -j2 $(ASAN_CTEST_ARGS)

# The build and the tests must also pass with OpenMP off (STYLE.md 6).
NOOMP_DIR := build-noomp
noomp:
	cmake -S . -B $(NOOMP_DIR) -DEMBER_OPENMP=OFF -DCMAKE_BUILD_TYPE=Release
	cmake --build $(NOOMP_DIR) -j$(JOBS)
	ctest --test-dir $(NOOMP_DIR) --output-on-failure -j2

# ---- fuzzing (fuzz/README.md) and valgrind: CI runs `make fuzz-ci` and
# `make valgrind` after the test suite. Their packages are not in PACKAGES,
# so `make deps` stays lean: `make fuzz-deps` / `make valgrind-deps`.

# libFuzzer needs clang and its runtime libraries (on Debian 12 the
# libFuzzer, ASan and UBSan archives are in libclang-rt-14-dev).
.PHONY: fuzz-deps fuzz-build fuzz fuzz-ci valgrind-deps valgrind clean-fuzz
FUZZ_PACKAGES := clang libclang-rt-14-dev
VALGRIND_PACKAGES := valgrind
FUZZ_DIR := build-fuzz
# Seconds per harness for `make fuzz` (12 harnesses, 2 at a time: about half
# an hour). `make fuzz-ci` runs a fixed number of inputs per harness from a
# fixed seed instead (fuzz/run.sh --ci: reproducible, about 3.5 minutes).
FUZZ_SECONDS ?= 300
VALGRIND_DIR := build-valgrind
# The tests `make valgrind` runs under memcheck: the unit tests of the core,
# layers, data readers, model files and serve, and the replays of the fuzz
# corpora; not the training runs (fashion_*), the scripts (cli, serve_*,
# install), the long gradient checks (conv) or hash_vocab's 280,000-token case,
# which take minutes there (ASan covers them).
VALGRIND_TESTS ?= ^(api_guards|calibrate|conv_edges|data_check|data_manifest|embedding|idx|image_data|layers|metrics|model_file|model_torture|optim|safetensors|serve|serve_recommend|share|text_pipeline|text_reader|fuzz_.*)$$
# memcheck: any error or a definitely/indirectly lost block fails the test
# (exit 1). No suppressions: with OpenMP off and one OpenBLAS thread nothing
# outside Ember is reported (libgomp's and OpenBLAS's thread pools, which
# live until exit, are what suppression files usually hide). Still-reachable
# blocks (libcrypto's and OpenBLAS's one-time setup) are not errors.
VALGRIND_OPTIONS := --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect \
                    --show-leak-kinds=definite,indirect --track-origins=yes --num-callers=30

# apt-get install the packages of $(1) that are missing; $(2) names the step.
define apt_install_missing
	@missing=""; \
	for p in $(1); do \
	  [ "$$(dpkg-query -W -f='$${Status}' $$p 2>/dev/null)" = "install ok installed" ] \
	    || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "$(2): all installed"; exit 0; fi; \
	echo "$(2): installing$$missing"; \
	$(SUDO) DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	$(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null
endef

fuzz-deps:
	$(call apt_install_missing,$(FUZZ_PACKAGES),fuzz-deps)

# clang, OpenMP off (the harnesses are single-threaded), no tests or benchmarks.
fuzz-build: deps fuzz-deps
	cmake -S . -B $(FUZZ_DIR) -DCMAKE_C_COMPILER=clang -DEMBER_FUZZ=ON -DEMBER_OPENMP=OFF \
	    -DEMBER_BUILD_TESTS=OFF -DEMBER_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug
	cmake --build $(FUZZ_DIR) -j$(JOBS) --target fuzzers

fuzz: fuzz-build
	FUZZ_BUILD_DIR=$(FUZZ_DIR) fuzz/run.sh $(FUZZ_SECONDS)

fuzz-ci: fuzz-build
	FUZZ_BUILD_DIR=$(FUZZ_DIR) fuzz/run.sh --ci

valgrind-deps:
	$(call apt_install_missing,$(VALGRIND_PACKAGES),valgrind-deps)

# OpenMP off and one OpenBLAS thread (see VALGRIND_OPTIONS); ctest's memcheck
# mode runs each test under valgrind and keeps the logs in
# $(VALGRIND_DIR)/Testing/Temporary/MemoryChecker.*.log.
valgrind: deps valgrind-deps
	cmake -S . -B $(VALGRIND_DIR) -DEMBER_OPENMP=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    -DEMBER_BUILD_BENCH=OFF -DMEMORYCHECK_COMMAND=$$(command -v valgrind) \
	    "-DMEMORYCHECK_COMMAND_OPTIONS=$(VALGRIND_OPTIONS)"
	cmake --build $(VALGRIND_DIR) -j$(JOBS)
	OPENBLAS_NUM_THREADS=1 ctest --test-dir $(VALGRIND_DIR) -T memcheck --output-on-failure \
	    -j2 -R '$(VALGRIND_TESTS)'

# `make clean` removes these two as well.
clean: clean-fuzz
clean-fuzz:
	rm -rf $(FUZZ_DIR) $(VALGRIND_DIR)

bench: build
	@set -e; n=0; \
	for b in $(BUILD_DIR)/bench/bench_*; do \
	  [ -f "$$b" ] && [ -x "$$b" ] || continue; \
	  echo "== $$b"; "$$b"; n=$$((n + 1)); \
	done; \
	echo "bench: ran $$n benchmark(s)"

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) $(NOOMP_DIR)

help:
	@echo "make [build]      configure (Release, $(BUILD_DIR)/) and build"
	@echo "make deps         apt-get install the missing packages: $(PACKAGES)"
	@echo "make test         deps + build, then ctest"
	@echo "make demo         deps + build, then train and test the reference text model on Banking77"
	@echo "make install      build and install to PREFIX (now $(PREFIX))"
	@echo "make asan         Debug build with ASan+UBSan in $(ASAN_DIR)/, then ctest (what CI runs)"
	@echo "make noomp        build and ctest with OpenMP off in $(NOOMP_DIR)/ (CI runs it too)"
	@echo "make bench        build, then run every $(BUILD_DIR)/bench/bench_*"
	@echo "make fuzz         build the libFuzzer harnesses (clang) in $(FUZZ_DIR)/, run each $(FUZZ_SECONDS) s"
	@echo "make fuzz-ci      the same, a fixed number of inputs from a fixed seed (what CI runs)"
	@echo "make fuzz-deps    apt-get install $(FUZZ_PACKAGES)"
	@echo "make valgrind     build in $(VALGRIND_DIR)/ (OpenMP off), run the core tests under memcheck (CI runs it)"
	@echo "make valgrind-deps apt-get install $(VALGRIND_PACKAGES)"
	@echo "make clean        remove $(BUILD_DIR)/ and $(ASAN_DIR)/"
