# bench/bench.mk: `make bench`, netdemo against nginx, Tornado and the C
# ceiling, and WebSocket broadcast against node's ws and across two
# instances through Redis (see bench/README.md). Included by the top-level Makefile.
# `make bench BENCH_SECONDS=1 BENCH_ROUNDS=1` is a quick smoke run.

PYTHON        ?= python3
BENCH_OUT     := build/bench
BENCH_CFLAGS  := -O2 -g -std=gnu11 -Wall -Wextra -pthread
BENCH_SECONDS ?= 2
BENCH_ROUNDS  ?= 3

.PHONY: bench bench-bin bench-deps

bench: bench-deps bench-bin
	@$(MAKE) --no-print-directory SAN= all
	$(PYTHON) bench/run.py --netdemo build/netdemo --bin $(BENCH_OUT) --out $(BENCH_OUT) \
	    --seconds $(BENCH_SECONDS) --rounds $(BENCH_ROUNDS)

bench-bin: $(BENCH_OUT)/ceiling $(BENCH_OUT)/loadgen $(BENCH_OUT)/wsbcast

$(BENCH_OUT)/ceiling $(BENCH_OUT)/loadgen $(BENCH_OUT)/wsbcast: $(BENCH_OUT)/%: bench/%.c bench/hist.h bench/bench.mk
	@mkdir -p $(BENCH_OUT)
	$(CC) $(BENCH_CFLAGS) -o $@ $< -lm

bench-deps:
	@sh bench/deps.sh
