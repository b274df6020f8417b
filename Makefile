# sluice: one command for the demonstration (make demo), one for every test (make test).
CARGO ?= cargo
CC ?= cc
CXX ?= c++
RELEASE_LIB := target/release/libsluice.so
CFLAGS_STRICT := -Wall -Wextra -Werror -Iinclude
C_TESTS := $(patsubst tests/c/%.c,target/ctest/%,$(wildcard tests/c/*.c))
CXX_TESTS := $(patsubst tests/c/%.c,target/ctest/%_cpp,$(wildcard tests/c/*.c))

.PHONY: all release header demo test test-rust test-c test-symbols test-readers test-python test-node bench bench-quick clean

all: release

release:
	$(CARGO) build --release

# Copies the header cbindgen generated during the build into include/ (a test fails when stale).
header: release
	cp "$$(ls -t target/release/build/sluice-*/out/sluice.h | head -n 1)" include/sluice.h

target/examples/quickstart_c: examples/c/quickstart.c include/sluice.h release
	mkdir -p target/examples
	$(CC) -std=c11 $(CFLAGS_STRICT) -pthread -o $@ $< -Ltarget/release -lsluice -Wl,-rpath,'$$ORIGIN/../release'

demo: target/examples/quickstart_c
	./target/examples/quickstart_c
	@if [ -f examples/python/quickstart.py ]; then bindings/python/run.sh examples/python/quickstart.py; fi
	@if [ -f examples/node/quickstart.mjs ]; then bindings/node/run.sh examples/node/quickstart.mjs; fi

test: test-rust test-c test-symbols test-readers test-python test-node
	@echo "make test: every suite passed"

test-rust:
	$(CARGO) test --release

target/ctest/%: tests/c/%.c include/sluice.h release
	mkdir -p target/ctest
	$(CC) -std=c11 $(CFLAGS_STRICT) -g -pthread -o $@ $< -Ltarget/release -lsluice -Wl,-rpath,'$$ORIGIN/../release'

target/ctest/%_cpp: tests/c/%.c include/sluice.h release
	mkdir -p target/ctest
	$(CXX) -std=c++17 -x c++ $(CFLAGS_STRICT) -g -pthread -o $@ $< -Ltarget/release -lsluice -Wl,-rpath,'$$ORIGIN/../release'

test-c: $(C_TESTS) $(CXX_TESTS)
	tests/c/run.sh $(C_TESTS) $(CXX_TESTS)

# Only sluice_* symbols may be exported from the shared library.
test-symbols: release
	@others=$$(nm -D --defined-only $(RELEASE_LIB) | awk '{print $$3}' | grep -v '^sluice_' || true); \
	if [ -n "$$others" ]; then echo "unexpected exported symbols:"; echo "$$others"; exit 1; fi; \
	echo "symbols: only sluice_* exported ($$(nm -D --defined-only $(RELEASE_LIB) | grep -c ' sluice_') functions)"

# The built-in exporters' files read back with real readers (csv, json, pyarrow).
test-readers: release
	tests/python/run.sh

test-python: release
	@if [ -x bindings/python/test.sh ]; then bindings/python/test.sh; else echo "python binding: not present"; fi

test-node: release
	@if [ -x bindings/node/test.sh ]; then bindings/node/test.sh; else echo "node binding: not present"; fi

# Everything side by side with the peers (installed under benches/), written to benches/RESULTS.md.
bench: release
	@if [ -x benches/run.sh ]; then benches/run.sh; else $(CARGO) bench --bench add && $(CARGO) bench --bench files; fi

# sluice rows only, a few seconds: what CI runs.
bench-quick: release
	@if [ -x benches/run.sh ]; then benches/run.sh --quick; else SLUICE_BENCH_QUICK=1 $(CARGO) bench --bench add; fi

clean:
	$(CARGO) clean
