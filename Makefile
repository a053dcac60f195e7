# The two commands of the README: `make run` and `make test`. Both install any
# missing Debian packages first (deploy/install-deps.sh) and build Release in build/.
BUILD ?= build
JOBS ?= $(shell nproc)
CTEST_JOBS ?= 2

.PHONY: all deps configure build run test bench format clean

all: build

deps:
	@./deploy/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null

build: configure
	@cmake --build $(BUILD) -j$(JOBS)

run: build
	./$(BUILD)/supportbot serve

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(CTEST_JOBS)

bench: build
	./$(BUILD)/tests/bench/store_bench

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

clean:
	rm -rf $(BUILD)
