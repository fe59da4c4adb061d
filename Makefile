# ndpar - one entry point for set-up, build, tests, demo and benchmarks.
#   make demo    set up, build, run `ndpar demo`
#   make test    set up, build, run every C, sanitizer, fuzz, Python and CLI test
#   make check   the quick tier for the edit-test loop: plain build, C tests,
#                Python and CLI tests at two ISA levels with fewer examples
#   make bench   run bench/ and rewrite BENCHMARKS.md (+ bench/core.png)
# Set-up installs Debian packages with apt-get when they are missing (needs
# root, as on the project's machines) and Python packages into .venv.

PYTHON   ?= python3
VENV     := .venv
VPY      := $(abspath $(VENV))/bin/python
VBIN     := $(abspath $(VENV)/bin)
MESON    := $(VBIN)/meson
DEBS     := libsleef-dev libcmocka-dev pkg-config clang libclang-rt-14-dev
export PATH := $(VBIN):$(PATH)

.PHONY: all setup build install demo test test-c test-asan test-tsan test-fuzz \
        test-py check bench fuzz clean

all: install

$(VENV)/.debs:
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
	@mkdir -p $(VENV) && touch $@

$(VENV)/.pydeps: requirements-dev.txt | $(VENV)/.debs
	@[ -x $(VPY) ] || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	@touch $@

setup: $(VENV)/.debs $(VENV)/.pydeps

# C library, command and C tests (tests need no Python).
build: setup
	@[ -f build/build.ninja ] || $(MESON) setup build -Dwerror=true >/dev/null
	$(MESON) compile -C build

# The Python package and the `ndpar` command into .venv.
install: setup
	$(VPY) -m pip install -q --disable-pip-version-check --no-build-isolation .

demo: install
	$(VBIN)/ndpar demo

test-c: build
	$(MESON) test -C build --print-errorlogs

test-asan: setup
	@[ -f build-asan/build.ninja ] || CC=clang $(MESON) setup build-asan -Dbuildtype=debug \
	  -Db_sanitize=address,undefined -Db_lundef=false -Dwerror=true >/dev/null
	$(MESON) compile -C build-asan
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  $(MESON) test -C build-asan --print-errorlogs

test-tsan: setup
	@[ -f build-tsan/build.ninja ] || CC=clang $(MESON) setup build-tsan -Dbuildtype=debugoptimized \
	  -Db_sanitize=thread -Db_lundef=false -Dwerror=true >/dev/null
	$(MESON) compile -C build-tsan tests/c/test_pool tests/c/test_ufunc tests/c/test_rolling tests/c/test_expr tests/c/test_shm tests/c/test_apply tests/c/test_kernel
	TSAN_OPTIONS=halt_on_error=1:die_after_fork=0 $(MESON) test -C build-tsan --print-errorlogs pool ufunc rolling expr shm apply kernel

# libFuzzer on every parser (.npy header, expressions, shared-segment
# header): Meson builds the targets listed in fuzz/meson.build (clang,
# ASan+UBSan, -fsanitize=fuzzer); each runs briefly from its corpus with a
# fixed seed. New inputs go to build-fuzz/corpus-*; crashes found are added
# to fuzz/corpus by hand, where meson test replays them.
FUZZ_SECONDS ?= 20
FUZZ_SEED ?= 1
FUZZ_TARGETS := npy_header expr shm_header kernel
fuzz test-fuzz: setup
	@[ -f build-fuzz/build.ninja ] || CC=clang $(MESON) setup build-fuzz -Dbuildtype=debugoptimized \
	  -Db_sanitize=address,undefined -Db_lundef=false -Dc_args=-fsanitize=fuzzer-no-link \
	  -Dfuzz=true -Dtests=false -Dwerror=true >/dev/null
	$(MESON) compile -C build-fuzz $(addprefix fuzz/fuzz_,$(FUZZ_TARGETS))
	@set -e; for t in $(FUZZ_TARGETS); do mkdir -p build-fuzz/corpus-$$t; \
	  echo "fuzzing $$t for $(FUZZ_SECONDS) s"; \
	  build-fuzz/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -seed=$(FUZZ_SEED) -timeout=5 \
	    -rss_limit_mb=4096 build-fuzz/corpus-$$t fuzz/corpus/$$t; done

test-py: install
	cd tests && $(VPY) -m pytest -q -p no:cacheprovider python cli

test: test-c test-asan test-tsan test-fuzz test-py

# The quick tier: no sanitizers or fuzzing; the ISA x dtype matrices at the
# best level and the reference only, hypothesis with fewer examples, and the
# bigmem test left out.
check: test-c install
	cd tests && NDPAR_TEST_ISAS=quick HYPOTHESIS_PROFILE=quick \
	  $(VPY) -m pytest -q -p no:cacheprovider -m "not bigmem" -x python cli

bench: install
	$(VPY) -m pip install -q --disable-pip-version-check -r requirements-bench.txt
	$(VPY) bench/bench_core.py
	$(VPY) bench/bench_rolling.py
	$(VPY) bench/bench_expr.py
	$(VPY) bench/bench_apply.py
	$(VPY) bench/bench_shared.py
	$(VPY) bench/bench_kernels.py
	$(VPY) bench/bench_calls.py
	$(VPY) bench/bench_ufunc.py
	$(VPY) bench/bench_dask.py

clean:
	rm -rf build build-asan build-tsan build-fuzz .mesonpy-* 
