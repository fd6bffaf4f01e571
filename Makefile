# Thin wrapper over CMake so that the README's two commands are `make run`
# and `make test`. Both set up the machine first (scripts/setup is
# idempotent and quick when everything is there).
BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_TSAN ?= build-tsan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
PREFIX     ?= /usr/local
CTEST_ARGS ?= --output-on-failure

.PHONY: all help setup build run test test-fast asan tsan bench install fuzz clean

all: build

help:
	@echo 'make run        set up the machine, build, run the tour (agentmem demo)'
	@echo 'make test       set up, build, run every test, then again under ASan/UBSan and TSan'
	@echo 'make test-fast  build and run every test (gcc build only)'
	@echo 'make build      the library, the CLI, the server, the tests and the API docs;'
	@echo '                not the benchmarks (bench_*), which only bench builds'
	@echo 'make bench      build every bench_* program, then run bench/run_*.sh; each'
	@echo '                bench/run_<what>.sh also builds what it runs, so running'
	@echo '                one alone never times a stale binary'
	@echo 'make asan|tsan  the sanitizer builds and their tests'
	@echo 'make install    install under PREFIX (default /usr/local)'
	@echo 'make fuzz       build the libFuzzer targets (clang)'
	@echo 'make clean      remove the build directories'

setup:
	@bash scripts/setup

$(BUILD)/Makefile: CMakeLists.txt
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX)

build: $(BUILD)/Makefile
	cmake --build $(BUILD) -j $(JOBS)

# The main job: a tour of agentmem on the embedded default (SQLite).
run: setup build
	./$(BUILD)/agentmem demo

# Every test: the normal build (gcc), then the whole suite again under
# AddressSanitizer + UndefinedBehaviorSanitizer (clang), then the threaded
# tests under ThreadSanitizer.
test: setup build
	cd $(BUILD) && ctest $(CTEST_ARGS) -j $(JOBS)
	$(MAKE) --no-print-directory asan tsan

test-fast: build
	cd $(BUILD) && ctest $(CTEST_ARGS) -j $(JOBS)

# The server's shell tests (HTTP, MCP, OpenAPI, tenancy, encryption) start the
# sanitized `agentmem` as a server, an MCP stdio server and a CLI, often in
# the background where a report on stderr would go unseen (a server killed
# by the test, a stdio server whose stderr the MCP client drops). So every
# process writes its report into <build>/sanitizer-logs, and any file there
# fails the run. TSan takes the two with concurrent clients (the worker
# pool, 20 concurrent MCP writers in two processes): the other two are
# sequential curl and add nothing under TSan.
SERVER_SH_ASAN = ^test_(server|server_openapi|server_tenancy|server_timeout|mcp|crypt_server)_sh$$
SERVER_SH_TSAN = ^test_(server|mcp)_sh$$
# $(call san_run,BUILD_DIR,TEST_REGEX,ENV...)
define san_run
	logs=$(abspath $(1))/sanitizer-logs; rm -rf "$$logs" && mkdir -p "$$logs" && \
	cd $(1) && $(3) ctest $(CTEST_ARGS) -j $(JOBS) -R '$(2)'; rc=$$?; \
	if [ -n "$$(ls "$$logs")" ]; then cat "$$logs"/*; \
	    echo "sanitizer reports above (from $$logs)"; exit 1; fi; exit $$rc
endef

asan:
	CC=clang cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DAM_SANITIZE=address,undefined
	cmake --build $(BUILD_ASAN) -j $(JOBS)
	cd $(BUILD_ASAN) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    ctest $(CTEST_ARGS) -j $(JOBS) -E '_sh$$'
	$(call san_run,$(BUILD_ASAN),$(SERVER_SH_ASAN),\
	    ASAN_OPTIONS=detect_leaks=1:log_path=$$logs/asan \
	    UBSAN_OPTIONS=print_stacktrace=1:log_path=$$logs/ubsan)

# Tests whose name ends in _mt share handles between threads (_mt_pg: the
# same on PostgreSQL, whose connection the handle's lock serializes); the
# server's tests with concurrent clients drive its worker pool. This build
# leaves encryption at rest out (the system's libsqlite3, as before), and
# runs test_crypt too: there it shows that a key is refused (the other
# builds have SQLCipher and test encryption itself).
tsan:
	CC=clang cmake -S . -B $(BUILD_TSAN) -DCMAKE_BUILD_TYPE=Debug -DAM_SANITIZE=thread \
	    -DAGENTMEM_ENCRYPTION=OFF
	cmake --build $(BUILD_TSAN) -j $(JOBS)
	cd $(BUILD_TSAN) && TSAN_OPTIONS=halt_on_error=1 ctest $(CTEST_ARGS) -j $(JOBS) -R '_mt$$|_mt_pg$$|^test_crypt$$'
	$(call san_run,$(BUILD_TSAN),$(SERVER_SH_TSAN),\
	    TSAN_OPTIONS=halt_on_error=1:log_path=$$logs/tsan)

# The benchmarks are EXCLUDE_FROM_ALL (`make build` leaves them out):
# build them all here, and each bench/run_*.sh builds its own again, so a
# stale bench_* never answers for the current code
# (tests/test_bench_scripts.sh holds every script to that).
bench: setup build
	cmake --build $(BUILD) -j $(JOBS) --target benches
	bash bench/run_all.sh $(BUILD)

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

fuzz:
	CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DAM_FUZZ=ON -DAM_SANITIZE=address,undefined
	cmake --build build-fuzz -j $(JOBS) --target fuzzers

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_TSAN) build-fuzz
