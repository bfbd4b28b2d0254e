# netdemo: `make` builds build/netdemo; `make run` runs it on conf/netdemo.ini;
# `make test` runs the unit and end-to-end suites on the plain and the
# sanitizer builds. See README.md.

# make's own default for CC is cc, so `CC ?= gcc` would never take: gcc
# unless CC comes from the command line or the environment.
ifeq ($(origin CC),default)
CC       := gcc
endif
PYTHON   ?= python3
CFLAGS   ?= -O2 -g
WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wpointer-arith -Wwrite-strings -Wformat=2 -Wundef -Wvla -Wconversion
ALLCPPFLAGS = -Iinclude -D_GNU_SOURCE $(CPPFLAGS)

SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
             -fno-sanitize-recover=undefined

# The release build is hardened as distributions build daemons: checked
# string and memory calls (level 3 takes effect with gcc >= 12 and glibc >=
# 2.34, at -O1 and above; older ones fall back to 2 or to none), canaries in
# functions with arrays, a position-independent executable, and relocations
# resolved at start and then made read-only. The sanitizer flavour keeps
# none of it: fortified calls hide the real ones from ASan's interceptors.
HARDEN_CFLAGS  := -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=3 -fstack-protector-strong -fPIE
HARDEN_LDFLAGS := -pie -Wl,-z,relro,-z,now

# SAN=1 builds the AddressSanitizer + UBSan flavour in build/asan/. Its flags
# have a variable of their own: `make SAN=1 EXTRA_CFLAGS=...` on the command
# line would otherwise replace them.
ifeq ($(SAN),1)
BUILD := build/asan
FLAVOUR := $(SAN_FLAGS)
FLAVOUR_LDFLAGS := $(SAN_FLAGS)
else
BUILD := build
FLAVOUR := $(HARDEN_CFLAGS)
FLAVOUR_LDFLAGS := $(HARDEN_LDFLAGS)
endif
ALLCFLAGS = -std=gnu11 $(WARN) $(CFLAGS) $(FLAVOUR) $(EXTRA_CFLAGS)

# The objects depend on the flags they were compiled with: the file holds
# them and the link flags too. Its rule writes it when it is missing; here
# it is rewritten when the flags differ, and only then, so that its time
# changes with them.
FLAGS_FILE := $(BUILD)/obj/flags
FLAGS_LINE = $(CC) $(ALLCPPFLAGS) $(ALLCFLAGS); link: $(FLAVOUR_LDFLAGS) $(LDFLAGS) \
             $(LDLIBS)
# Goals that compile nothing here themselves (make test only runs sub-makes
# with their own flags) leave the file alone: rewriting it with their flags
# would make the next sub-make rebuild everything.
NO_FLAGS_GOALS := test deps clean clean-objs test-layers check-tour fuzz fuzz-replay fuzz-build \
                  fuzz-deps fuzz-crashes bench-deps test-systemd
ifneq ($(MAKECMDGOALS),)
ifeq ($(filter-out $(NO_FLAGS_GOALS),$(MAKECMDGOALS)),)
KEEP_FLAGS_FILE := 1
endif
endif
ifneq ($(KEEP_FLAGS_FILE),1)
$(shell [ ! -f $(FLAGS_FILE) ] || echo '$(FLAGS_LINE)' | cmp -s - $(FLAGS_FILE) || \
        echo '$(FLAGS_LINE)' > $(FLAGS_FILE))
endif

SRCS := $(wildcard src/*.c)
LIB_SRCS := $(filter-out src/main.c,$(SRCS))
OBJS := $(SRCS:src/%.c=$(BUILD)/obj/%.o)
LIB_OBJS := $(LIB_SRCS:src/%.c=$(BUILD)/obj/%.o)
UNIT_SRCS := $(wildcard tests/unit/*.c)
UNIT_BIN := $(BUILD)/unit-tests

.PHONY: all asan run test check unit soak deps clean-objs clean check-layers test-layers \
        check-tour

all: $(BUILD)/netdemo

$(BUILD)/netdemo: $(OBJS)
	$(CC) $(FLAVOUR_LDFLAGS) $(LDFLAGS) -o $@ $(OBJS) $(LDLIBS)

$(BUILD)/obj/%.o: src/%.c $(FLAGS_FILE)
	$(CC) $(ALLCPPFLAGS) $(ALLCFLAGS) -MMD -MP -c -o $@ $<

$(FLAGS_FILE):
	@mkdir -p $(@D) && echo '$(FLAGS_LINE)' > $@

$(BUILD)/libnetdemo.a: $(LIB_OBJS)
	rm -f $@ && ar rcs $@ $(LIB_OBJS)

$(UNIT_BIN): $(UNIT_SRCS) $(wildcard tests/unit/*.h) $(BUILD)/libnetdemo.a
	$(CC) $(ALLCPPFLAGS) $(ALLCFLAGS) -Isrc -Itests/unit -o $@ $(UNIT_SRCS) \
	    $(BUILD)/libnetdemo.a $(FLAVOUR_LDFLAGS) $(LDFLAGS) -lcriterion

asan:
	$(MAKE) SAN=1

run: all
	$(BUILD)/netdemo -c conf/netdemo.ini

# The whole suite: dependencies, a warning-free build, unit tests and the
# integration tests, first on the plain build, then on the sanitizer build;
# last, the fuzz targets' committed corpora (clang-14 is installed when
# missing and we are root; skipped with a notice otherwise). No clean first:
# the objects depend on $(FLAGS_FILE), so adding -Werror rebuilds them, and
# what was already built with these flags is not built again.
test: deps test-layers check-tour
	$(MAKE) EXTRA_CFLAGS=-Werror check
	$(MAKE) SAN=1 EXTRA_CFLAGS=-Werror check
	$(MAKE) fuzz-replay

# One flavour: the layers of its objects, unit tests, then the integration
# and hostile-client tests against $(BUILD)/netdemo.
check: all $(UNIT_BIN) check-layers
	ASAN_OPTIONS=detect_leaks=1 $(UNIT_BIN) --jobs 2
	$(PYTHON) tests/integration/run.py --binary $(BUILD)/netdemo
	$(PYTHON) tests/faults/run.py --binary $(BUILD)/netdemo

unit: $(UNIT_BIN)
	$(UNIT_BIN)

# The layers of src/LAYERS, checked on the objects with nm: no object uses
# one of a higher layer, none takes part in a cycle, every one is placed.
# `--edges` (LAYERS_ARGS=--edges) prints who uses whom as well.
check-layers: $(OBJS)
	$(PYTHON) tools/check_layers.py $(LAYERS_ARGS) src/LAYERS $(OBJS)

# README.md's source tour names every file in src/ (tools/check_tour.py).
check-tour:
	$(PYTHON) tools/check_tour.py README.md $(wildcard src/*.c src/*.h) src/LAYERS

# The checker itself, on objects of its own (tests/layers/run.sh).
test-layers:
	@sh tests/layers/run.sh $(PYTHON)

# Every kind of client at once for SOAK_SECONDS, then checks that memory
# stayed flat and fds came back (tests/soak/run.py). Not part of `make test`.
SOAK_SECONDS ?= 120
soak: all bench-deps bench-bin
	$(PYTHON) tests/soak/run.py --binary $(BUILD)/netdemo --seconds $(SOAK_SECONDS)

deps:
	@sh tests/deps.sh

clean-objs:
	rm -rf build/obj build/asan/obj

clean:
	rm -rf build

# make install / uninstall / test-systemd live beside the unit files.
include systemd/install.mk
include bench/bench.mk
include fuzz/fuzz.mk

-include $(OBJS:.o=.d)
