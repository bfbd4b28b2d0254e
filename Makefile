# netdemo: `make` builds build/netdemo; `make run` runs it on conf/netdemo.ini;
# `make test` runs the unit and end-to-end suites on the plain and the
# sanitizer builds. See README.md.

CC       ?= gcc
PYTHON   ?= python3
CFLAGS   ?= -O2 -g
WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wpointer-arith -Wwrite-strings -Wformat=2 -Wundef -Wvla
ALLCPPFLAGS = -Iinclude -D_GNU_SOURCE $(CPPFLAGS)

SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
             -fno-sanitize-recover=undefined

# SAN=1 builds the AddressSanitizer + UBSan flavour in build/asan/. Its flags
# have a variable of their own: `make SAN=1 EXTRA_CFLAGS=...` on the command
# line would otherwise replace them.
ifeq ($(SAN),1)
BUILD := build/asan
FLAVOUR := $(SAN_FLAGS)
else
BUILD := build
FLAVOUR :=
endif
ALLCFLAGS = -std=gnu11 $(WARN) $(CFLAGS) $(FLAVOUR) $(EXTRA_CFLAGS)

# The objects depend on the flags they were compiled with: the file holds
# them. Its rule writes it when it is missing; here it is rewritten when the
# flags differ, and only then, so that its time changes with them.
FLAGS_FILE := $(BUILD)/obj/flags
FLAGS_LINE = $(CC) $(ALLCPPFLAGS) $(ALLCFLAGS)
$(shell [ ! -f $(FLAGS_FILE) ] || echo '$(FLAGS_LINE)' | cmp -s - $(FLAGS_FILE) || \
        echo '$(FLAGS_LINE)' > $(FLAGS_FILE))

SRCS := $(wildcard src/*.c)
LIB_SRCS := $(filter-out src/main.c,$(SRCS))
OBJS := $(SRCS:src/%.c=$(BUILD)/obj/%.o)
LIB_OBJS := $(LIB_SRCS:src/%.c=$(BUILD)/obj/%.o)
UNIT_SRCS := $(wildcard tests/unit/*.c)
UNIT_BIN := $(BUILD)/unit-tests

.PHONY: all asan run test check unit soak deps clean-objs clean

all: $(BUILD)/netdemo

$(BUILD)/netdemo: $(OBJS)
	$(CC) $(FLAVOUR) $(LDFLAGS) -o $@ $(OBJS) $(LDLIBS)

$(BUILD)/obj/%.o: src/%.c $(FLAGS_FILE)
	$(CC) $(ALLCPPFLAGS) $(ALLCFLAGS) -MMD -MP -c -o $@ $<

$(FLAGS_FILE):
	@mkdir -p $(@D) && echo '$(FLAGS_LINE)' > $@

$(BUILD)/libnetdemo.a: $(LIB_OBJS)
	rm -f $@ && ar rcs $@ $(LIB_OBJS)

$(UNIT_BIN): $(UNIT_SRCS) $(wildcard tests/unit/*.h) $(BUILD)/libnetdemo.a
	$(CC) $(ALLCPPFLAGS) $(ALLCFLAGS) -Itests/unit -o $@ $(UNIT_SRCS) \
	    $(BUILD)/libnetdemo.a $(LDFLAGS) -lcriterion

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
test: deps
	$(MAKE) EXTRA_CFLAGS=-Werror check
	$(MAKE) SAN=1 EXTRA_CFLAGS=-Werror check
	$(MAKE) fuzz-replay

# One flavour: unit tests, then the integration and hostile-client tests
# against $(BUILD)/netdemo.
check: all $(UNIT_BIN)
	ASAN_OPTIONS=detect_leaks=1 $(UNIT_BIN) --jobs 2
	$(PYTHON) tests/integration/run.py --binary $(BUILD)/netdemo
	$(PYTHON) tests/faults/run.py --binary $(BUILD)/netdemo

unit: $(UNIT_BIN)
	$(UNIT_BIN)

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
