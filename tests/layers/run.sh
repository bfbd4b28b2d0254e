#!/bin/sh
# tests/layers/run.sh: tools/check_layers.py on three tiny objects of its own
# (nothing in src/ is involved): a clean set passes; a call from the low layer
# to the high one, a cycle inside one layer and an object in no layer each
# fail, and the output names the objects and symbols.
#   sh tests/layers/run.sh [PYTHON]
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
py=${1:-python3}
cc=${CC:-cc}
t=$(mktemp -d /tmp/netdemo-layers.XXXXXX) || exit 1
trap 'rm -rf "$t"' EXIT
trap 'exit 130' INT TERM
passed=0 failed=0
pass() { echo "PASS layers.$1"; passed=$((passed + 1)); }
fail() { echo "FAIL layers.$1: $2"; failed=$((failed + 1)); }

# low: a function, a variable and a static helper whose name high.c also uses
# for a static of its own (statics must make no edge). mid uses low's function
# and its variable; high uses mid and libc. `cc` builds PIE by default here;
# -fPIE and the stack protector are given anyway, for their symbols.
cat >"$t/low.c" <<'C'
int low_counter = 1;
static int helper(int x) { return x + low_counter; }
int low_add(int x);
int low_add(int x) { return helper(x); }
C
cat >"$t/mid.c" <<'C'
extern int low_counter;
int low_add(int x);
int mid_twice(int x);
int mid_twice(int x) { low_counter++; return low_add(low_add(x)); }
C
cat >"$t/high.c" <<'C'
#include <stdio.h>
#include <string.h>
int mid_twice(int x);
int high_main(const char *s);
static int helper(int x) { return x * 3; }
int high_main(const char *s)
{
    char b[64];
    snprintf(b, sizeof b, "%s", s);
    return mid_twice(helper((int)strlen(b)));
}
C
# The bad versions: low calls back up into high; low calls mid, its peer.
sed 's/return helper(x); }/int high_main(const char *s); return helper(x) + high_main("up"); }/' \
    "$t/low.c" >"$t/low_back.c"
sed 's/return helper(x); }/int mid_twice(int x); return x > 9 ? helper(x) : mid_twice(x + 1); }/' \
    "$t/low.c" >"$t/low_peer.c"
for f in low mid high low_back low_peer; do
    mkdir -p "$t/$f"
    o=$t/$f/${f%_*}.o
    $cc -std=gnu11 -O2 -fPIE -fstack-protector-strong -c -o "$o" "$t/$f.c" ||
        { echo "FAIL layers.compile: $f.c"; exit 1; }
done
printf '# test layers\nlow\nmid\nhigh future_object\n' >"$t/LAYERS"
printf 'low mid\nhigh\n' >"$t/LAYERS.flat"
printf 'low\nmid\n' >"$t/LAYERS.short"

check() {   # check NAME WANT_STATUS LAYERS OBJ... ; output in $t/out
    name=$1 want=$2 layers=$3; shift 3
    "$py" "$top/tools/check_layers.py" "$layers" "$@" >"$t/out" 2>&1
    st=$?
    if [ $st != "$want" ]; then
        fail "$name" "exit $st, wanted $want: $(cat "$t/out")"
        return 1
    fi
}
has() {     # has NAME PATTERN: the last output has a line matching PATTERN
    grep -q -- "$2" "$t/out" || { fail "$1" "no '$2' in: $(cat "$t/out")"; return 1; }
}

L=$t/low/low.o M=$t/mid/mid.o H=$t/high/high.o
check clean 0 "$t/LAYERS" "$L" "$M" "$H" &&
    has clean "3 objects, 2 edges, 0 violations (not built, skipped: future_object)" &&
    pass clean
"$py" "$top/tools/check_layers.py" --edges "$t/LAYERS" "$L" "$M" "$H" >"$t/out" 2>&1
has edges "^edge: mid (layer 1) -> low (layer 0): low_add, low_counter$" &&
    has edges "^edge: high (layer 2) -> mid (layer 1): mid_twice$" &&
    ! grep -q "helper\|snprintf\|__" "$t/out" && pass edges_no_statics_libc_compiler

check back_call 1 "$t/LAYERS" "$t/low_back/low.o" "$M" "$H" &&
    has back_call "^upward: low (layer 0) -> high (layer 2): high_main$" &&
    has back_call "^cycle: high -> mid -> low -> high$" &&
    pass back_call

check cycle_in_layer 1 "$t/LAYERS.flat" "$t/low_peer/low.o" "$M" "$H" &&
    has cycle_in_layer "^cycle (within layer 0): low -> mid -> low$" &&
    has cycle_in_layer "low (layer 0) -> mid (layer 0): mid_twice" &&
    has cycle_in_layer "mid (layer 0) -> low (layer 0): low_add, low_counter" &&
    ! grep -q '^upward' "$t/out" && pass cycle_in_layer
# Peers in one layer without a loop are fine.
check peers_without_cycle 0 "$t/LAYERS.flat" "$L" "$M" "$H" && pass peers_without_cycle

check unlisted 1 "$t/LAYERS.short" "$L" "$M" "$H" &&
    has unlisted "^unlisted: $H is in no layer of $t/LAYERS.short" &&
    has unlisted "1 violation$" && pass unlisted

echo "layers: $passed passed, $failed failed"
[ $failed = 0 ]
