# Entry points. Every target installs what is missing first (scripts/install-deps.sh is
# idempotent), so `make run` and `make test` work on a fresh Debian 12 machine.
BUILD_DIR ?= build
JOBS ?= 2
CMAKE_FLAGS ?=

.PHONY: all deps build test run bench fuzz soak mutations clean format

all: build

deps:
	@scripts/install-deps.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)
	@BUILD_DIR=$(BUILD_DIR) scripts/build-dashboard.sh

test: build
	@BUILD_DIR=$(BUILD_DIR) scripts/install-test-servers.sh
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 600

run: build
	$(BUILD_DIR)/bin/proximadb-server

bench:
	@scripts/install-deps.sh --bench
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DPROXIMADB_BUILD_BENCH=ON $(CMAKE_FLAGS)
	cmake --build $(BUILD_DIR) -j $(JOBS)
	$(BUILD_DIR)/bin/proximadb-simd-bench --benchmark_min_time=0.1
	$(BUILD_DIR)/bin/proximadb-ingest-bench
	$(BUILD_DIR)/bin/proximadb-ingest-bench --sustained
	$(BUILD_DIR)/bin/proximadb-search-bench
	@BUILD_DIR=$(BUILD_DIR) scripts/install-test-servers.sh
	$(BUILD_DIR)/bin/proximadb-tiers-bench
	python3 bench/cluster_bench.py --server $(BUILD_DIR)/bin/proximadb-server
	$(BUILD_DIR)/bin/proximadb-ann-bench --dataset fashion-mnist --json $(BUILD_DIR)/ann-fashion-mnist.jsonl
	$(BUILD_DIR)/bench-venv/bin/python bench/ann_peers.py --dataset fashion-mnist --queries-limit 2000 \
	  --json $(BUILD_DIR)/ann-peers-fashion-mnist.jsonl
	if [ -n "$$PROXIMADB_WORDNET_DIR" ] || [ -d ../shared/data/wordnet-minilm ]; then \
	  $(BUILD_DIR)/bin/proximadb-ann-bench --dataset wordnet-minilm --no-filtered \
	    --json $(BUILD_DIR)/ann-wordnet-minilm.jsonl; \
	  $(BUILD_DIR)/bench-venv/bin/python bench/ann_peers.py --dataset wordnet-minilm \
	    --json $(BUILD_DIR)/ann-peers-wordnet-minilm.jsonl; fi
	$(BUILD_DIR)/bin/proximadb-server-load-bench --dataset clustered --n 100000 --dim 128
	$(BUILD_DIR)/bin/proximadb-server-load-bench --dataset clustered --n 100000 --dim 128 \
	  --search-only 1 --ef 48 --apis rest --clients 1,16 --rounds 3
	$(BUILD_DIR)/bin/proximadb-server-load-bench --dataset fashion-mnist

# Every fuzz target for FUZZ_SECONDS (60) each under libFuzzer and the sanitizers, in build-fuzz
# (scripts/fuzz.sh, fuzz/README.md). Not part of `make test`, which replays the targets' seeds
# and regression inputs.
fuzz:
	scripts/fuzz.sh

# The long runs (scripts/soak.sh): 1,000 kill -9 rounds, 1,008 power losses, an hour of mixed
# load with RSS sampled, every fuzz target for 30 minutes, and a cluster's checked history
# through 40 random faults (several hours in all).
soak: build
	scripts/soak.sh

# The mutation check (scripts/mutations.py): a rebuild and the end-to-end suites per mutation.
mutations: build
	scripts/mutations.py --build-dir $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR) build-fuzz

format:
	clang-format -i $$(git ls-files '*.h' '*.cc')
