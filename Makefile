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
            chromium

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
	@echo "make clean        remove $(BUILD_DIR)/ and $(ASAN_DIR)/"
