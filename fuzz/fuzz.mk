# fuzz/fuzz.mk: libFuzzer targets (clang-14) for the codecs and the http
# module's input path. Included from the top-level Makefile, or used alone
# from the top of the tree: make -f fuzz/fuzz.mk fuzz-replay
#
#   make fuzz          build, then run each target for FUZZ_SECONDS (60) on
#                      its committed corpus; new inputs go to build/fuzz/
#   make fuzz-replay   build, then run each target once over its committed
#                      corpus (fast, for CI); installs clang-14 with apt-get
#                      when it is missing and we are root, skips otherwise
#   make fuzz-crashes  run the reproducers of open bugs (fuzz/crashes/TARGET/)
#                      and say which still crash; a fixed one moves into
#                      fuzz/corpus/TARGET/ with its fix
#
# FUZZ_ARGS adds libFuzzer options to `make fuzz` (e.g. -jobs=2, -runs=N).

FUZZ_MK      := $(lastword $(MAKEFILE_LIST))
FUZZ_SAVED_GOAL := $(.DEFAULT_GOAL)

FUZZ_CC      ?= clang-14
FUZZ_SECONDS ?= 60
FUZZ_ARGS    ?=
FUZZ_CFLAGS  := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer \
                -g -O1 -std=gnu11 -Iinclude -Isrc -D_GNU_SOURCE
FUZZ_BUILD   := build/fuzz
FUZZ_TARGETS := fuzz_http_parse fuzz_values fuzz_ini fuzz_http_input fuzz_ws fuzz_resp
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/%)
FUZZ_HDRS    := $(wildcard include/nd/*.h src/*.h) fuzz/check.h

# The src/ files each target links (never main.c; the http input target
# brings its own fake core instead of conn.c, server.c and loop.c).
FUZZ_SRC_fuzz_http_parse := src/http_parse.c
FUZZ_SRC_fuzz_values     := src/addr.c src/http_path.c src/http_parse.c src/http_static.c
FUZZ_SRC_fuzz_ws         := src/ws.c src/json.c src/buf.c
FUZZ_SRC_fuzz_resp       := src/resp.c src/buf.c
FUZZ_SRC_fuzz_ini        := $(filter-out src/main.c,$(wildcard src/*.c))
FUZZ_SRC_fuzz_http_input := src/mod_http.c src/http_access.c src/access_fmt.c src/conf_key.c src/http_parse.c src/http_path.c src/http_ws.c src/http_chat.c src/chat_room.c src/ws.c \
                            src/http_static.c src/http_response.c src/http_probe.c src/http_metrics.c \
                            src/json.c src/addr.c src/buf.c src/redis_url.c

.PHONY: fuzz fuzz-replay fuzz-build fuzz-deps fuzz-run fuzz-replay-run fuzz-crashes

define FUZZ_RULE
$(FUZZ_BUILD)/$(1): fuzz/$(1).c $(FUZZ_SRC_$(1)) $(FUZZ_HDRS) $(FUZZ_MK)
	@mkdir -p $(FUZZ_BUILD)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $$@ fuzz/$(1).c $(FUZZ_SRC_$(1))
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call FUZZ_RULE,$(t))))

# clang-14 and its fuzzer runtime: installed when root, else a notice.
fuzz-deps:
	@if command -v $(FUZZ_CC) >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "fuzz: installing clang-14 and libclang-rt-14-dev"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q clang-14 libclang-rt-14-dev \
	    || { apt-get update -q && DEBIAN_FRONTEND=noninteractive \
	         apt-get install -y -q clang-14 libclang-rt-14-dev; }; \
	fi

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-deps
	@if command -v $(FUZZ_CC) >/dev/null 2>&1; then \
	    $(MAKE) --no-print-directory -f $(FUZZ_MK) fuzz-run; \
	else echo "fuzz: $(FUZZ_CC) not found (and not root to install it): skipped"; exit 1; fi

fuzz-replay: fuzz-deps
	@if command -v $(FUZZ_CC) >/dev/null 2>&1; then \
	    $(MAKE) --no-print-directory -f $(FUZZ_MK) fuzz-replay-run; \
	else echo "fuzz-replay: $(FUZZ_CC) not found (and not root to install it): skipped"; fi

# Each target in turn (the machine is shared: one fuzzer at a time). New
# inputs go to build/fuzz/corpus/TARGET, crashes to build/fuzz/artifacts/.
fuzz-run: $(FUZZ_BINS)
	@mkdir -p $(FUZZ_BUILD)/artifacts
	@set -e; for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ_BUILD)/corpus/$$t; \
	    dict=; case $$t in \
	        fuzz_http_parse|fuzz_http_input) dict=-dict=fuzz/dict/http.dict;; \
	        fuzz_ini) dict=-dict=fuzz/dict/ini.dict;; \
	        fuzz_values) dict=-dict=fuzz/dict/values.dict;; \
        fuzz_resp) dict=-dict=fuzz/dict/resp.dict;; \
	    esac; \
	    echo "fuzz: $$t for $(FUZZ_SECONDS)s"; \
	    $(FUZZ_BUILD)/$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	        -artifact_prefix=$(FUZZ_BUILD)/artifacts/$$t- $$dict $(FUZZ_ARGS) \
	        $(FUZZ_BUILD)/corpus/$$t fuzz/corpus/$$t; \
	done

# Every committed input once; a crash fails the target.
fuzz-replay-run: $(FUZZ_BINS)
	@set -e; for t in $(FUZZ_TARGETS); do \
	    echo "fuzz-replay: $$t ($$(ls fuzz/corpus/$$t | wc -l) inputs)"; \
	    $(FUZZ_BUILD)/$$t -runs=0 -artifact_prefix=$(FUZZ_BUILD)/replay-$$t- fuzz/corpus/$$t 2>$(FUZZ_BUILD)/$$t.log \
	        || { cat $(FUZZ_BUILD)/$$t.log; exit 1; }; \
	done

# Each reproducer of an open bug, alone; fails while any still crashes.
fuzz-crashes: $(FUZZ_BINS)
	@bad=0; for t in $(FUZZ_TARGETS); do \
	    for f in $$(ls fuzz/crashes/$$t/* 2>/dev/null); do \
	        if $(FUZZ_BUILD)/$$t $$f >$(FUZZ_BUILD)/crash.log 2>&1; then \
	            echo "fixed:          $$f"; \
	        else \
	            bad=1; echo "still crashes:  $$f"; \
	            grep -m3 -E "invariant failed|ERROR: AddressSanitizer|runtime error" \
	                $(FUZZ_BUILD)/crash.log | sed 's/^/    /'; \
	        fi; \
	    done; \
	done; exit $$bad

ifneq ($(FUZZ_SAVED_GOAL),)
.DEFAULT_GOAL := $(FUZZ_SAVED_GOAL)
endif
