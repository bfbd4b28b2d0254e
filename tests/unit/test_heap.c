/* test_heap.c: the timer min-heap against a sorted array of deadlines.
 * Thousands of random pushes and removals (fixed seed), with the heap's
 * shape, every slot index and the minimum checked after each step. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "heap.h"
#include "fixtures.h"

#define NTIMERS 300
#define NOPS 6000

static uint64_t rng_state;

/* xorshift64: the same sequence on every libc. */
static uint64_t
rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* The reference: the deadlines of the armed timers, kept sorted. */
struct ref {
    uint64_t v[NTIMERS];
    size_t n;
};

static void
ref_add(struct ref *r, uint64_t when)
{
    size_t i = r->n++;

    while (i > 0 && r->v[i - 1] > when) {
        r->v[i] = r->v[i - 1];
        i--;
    }
    r->v[i] = when;
}

static void
ref_del(struct ref *r, uint64_t when)
{
    size_t i;

    for (i = 0; i < r->n && r->v[i] != when; i++)
        ;
    cr_assert_lt(i, r->n, "deadline %llu not in the reference", (unsigned long long)when);
    memmove(&r->v[i], &r->v[i + 1], (r->n - i - 1) * sizeof(r->v[0]));
    r->n--;
}

/* Every parent no later than its children, every timer at its own slot,
 * and the minimum the reference's first deadline. */
static void
check(const struct nd_heap *h, const struct ref *r)
{
    size_t i;

    cr_assert_eq(h->n, r->n);
    for (i = 0; i < h->n; i++) {
        cr_assert_eq(h->v[i]->slot, i, "timer at %zu says slot %zu", i, h->v[i]->slot);
        if (i > 0)
            cr_assert_leq(h->v[(i - 1) / 2]->when, h->v[i]->when, "heap order at %zu", i);
    }
    if (r->n == 0)
        cr_assert_null(nd_heap_min(h));
    else
        cr_assert_eq(nd_heap_min(h)->when, r->v[0]);
}

static void
random_ops(uint64_t seed, uint64_t range)
{
    static struct nd_timer t[NTIMERS];
    struct nd_heap h = { 0 };
    struct ref r = { .n = 0 };
    size_t i, op, pushes = 0, removes = 0;

    rng_state = seed;
    for (i = 0; i < NTIMERS; i++)
        nd_timer_init(&t[i], NULL);
    for (op = 0; op < NOPS; op++) {
        /* Lean towards pushing for the first half, removing after. */
        int push = rng() % 100 < (op < NOPS / 2 ? 65u : 35u);
        struct nd_timer *x = &t[rng() % NTIMERS];

        if (push && !nd_timer_armed(x)) {
            x->when = rng() % range;
            cr_assert_eq(nd_heap_push(&h, x), 0);
            ref_add(&r, x->when);
            pushes++;
        } else if (!push && nd_timer_armed(x)) {
            ref_del(&r, x->when);
            nd_heap_remove(&h, x);
            cr_assert_eq(x->slot, ND_HEAP_NONE);
            removes++;
        } else if (!push) {
            nd_heap_remove(&h, x);  /* not in the heap: nothing happens */
            cr_assert_eq(x->slot, ND_HEAP_NONE);
        }
        check(&h, &r);
    }
    cr_assert_gt(pushes, 1000);
    cr_assert_gt(removes, 1000);
    /* Drain through the minimum: deadlines come out sorted. */
    while (r.n > 0) {
        struct nd_timer *m = nd_heap_min(&h);

        cr_assert_eq(m->when, r.v[0]);
        nd_heap_remove(&h, m);
        cr_assert_eq(m->slot, ND_HEAP_NONE);
        ref_del(&r, m->when);
        check(&h, &r);
    }
    for (i = 0; i < NTIMERS; i++)
        cr_assert_not(nd_timer_armed(&t[i]), "timer %zu still armed", i);
    nd_heap_free(&h);
    nd_test_no_leaks();
}

Test(heap, random_inserts_and_deletes)
{
    random_ops(0x9e3779b97f4a7c15ULL, UINT64_MAX);
}

Test(heap, random_inserts_and_deletes_with_many_equal_deadlines)
{
    random_ops(42, 16);
}

Test(heap, equal_deadlines)
{
    struct nd_timer t[100];
    struct nd_heap h = { 0 };
    size_t i, n;
    int seen[100] = { 0 };

    for (i = 0; i < 100; i++) {
        nd_timer_init(&t[i], NULL);
        t[i].when = 500;
        cr_assert_eq(nd_heap_push(&h, &t[i]), 0);
    }
    cr_assert_eq(h.n, 100);
    for (n = 100; n > 0; n--) {
        struct nd_timer *m = nd_heap_min(&h);

        cr_assert_not_null(m);
        cr_assert_eq(m->when, 500);
        cr_assert_not(seen[m - t], "timer %td came out twice", m - t);
        seen[m - t] = 1;
        nd_heap_remove(&h, m);
        cr_assert_eq(h.n, n - 1);
    }
    cr_assert_null(nd_heap_min(&h));
    nd_heap_free(&h);
}

Test(heap, ascending_and_descending_pushes)
{
    struct nd_timer t[200];
    struct nd_heap h = { 0 };
    struct ref r = { .n = 0 };
    size_t i;

    for (i = 0; i < 200; i++) {
        nd_timer_init(&t[i], NULL);
        t[i].when = i < 100 ? i : 300 - i;
        cr_assert_eq(nd_heap_push(&h, &t[i]), 0);
        ref_add(&r, t[i].when);
        check(&h, &r);
    }
    nd_heap_free(&h);
}

Test(heap, removing_a_timer_not_in_the_heap_does_nothing)
{
    struct nd_timer a, b, c, stranger;
    struct nd_heap h = { 0 }, other = { 0 };
    struct nd_timer *before[3];

    nd_timer_init(&a, NULL);
    nd_timer_init(&b, NULL);
    nd_timer_init(&c, NULL);
    nd_timer_init(&stranger, NULL);
    a.when = 10;
    b.when = 20;
    c.when = 30;
    cr_assert_eq(nd_heap_push(&h, &a), 0);
    cr_assert_eq(nd_heap_push(&h, &b), 0);
    cr_assert_eq(nd_heap_push(&h, &c), 0);
    memcpy(before, h.v, sizeof(before));

    /* Never armed. */
    nd_heap_remove(&h, &stranger);
    cr_assert_eq(h.n, 3);
    cr_assert_eq(memcmp(before, h.v, sizeof(before)), 0);
    cr_assert_eq(stranger.slot, ND_HEAP_NONE);

    /* Armed in another heap, at a slot that exists in this one. */
    stranger.when = 1;
    cr_assert_eq(nd_heap_push(&other, &stranger), 0);
    cr_assert_eq(stranger.slot, 0);
    nd_heap_remove(&h, &stranger);
    cr_assert_eq(h.n, 3);
    cr_assert_eq(memcmp(before, h.v, sizeof(before)), 0);
    cr_assert_eq(nd_heap_min(&h), &a);
    cr_assert_eq(stranger.slot, 0, "the other heap's timer lost its slot");

    /* Removed once already. */
    nd_heap_remove(&h, &b);
    cr_assert_eq(b.slot, ND_HEAP_NONE);
    cr_assert_eq(h.n, 2);
    nd_heap_remove(&h, &b);
    cr_assert_eq(h.n, 2);
    cr_assert_eq(nd_heap_min(&h), &a);

    nd_heap_free(&h);
    nd_heap_free(&other);
}

Test(heap, slots_are_none_after_removal)
{
    struct nd_timer t[10];
    struct nd_heap h = { 0 };
    size_t i;

    for (i = 0; i < 10; i++) {
        nd_timer_init(&t[i], NULL);
        cr_assert_eq(t[i].slot, ND_HEAP_NONE);
        cr_assert_not(nd_timer_armed(&t[i]));
        t[i].when = 100 - i;
        cr_assert_eq(nd_heap_push(&h, &t[i]), 0);
        cr_assert(nd_timer_armed(&t[i]));
    }
    /* The last slot, the root, and one in between. */
    nd_heap_remove(&h, h.v[h.n - 1]);
    nd_heap_remove(&h, h.v[0]);
    nd_heap_remove(&h, h.v[3]);
    for (i = 0; i < 10; i++) {
        if (nd_timer_armed(&t[i]))
            cr_assert_eq(h.v[t[i].slot], &t[i]);
    }
    cr_assert_eq(h.n, 7);
    while (h.n > 0)
        nd_heap_remove(&h, h.v[h.n / 2]);
    for (i = 0; i < 10; i++)
        cr_assert_eq(t[i].slot, ND_HEAP_NONE, "timer %zu", i);
    nd_heap_free(&h);
    cr_assert_null(h.v);
    cr_assert_eq(h.n, 0);
}

Test(heap, a_removed_timer_can_be_pushed_again)
{
    struct nd_timer a, b;
    struct nd_heap h = { 0 };

    nd_timer_init(&a, NULL);
    nd_timer_init(&b, NULL);
    a.when = 5;
    b.when = 7;
    cr_assert_eq(nd_heap_push(&h, &a), 0);
    cr_assert_eq(nd_heap_push(&h, &b), 0);
    nd_heap_remove(&h, &a);
    cr_assert_eq(nd_heap_min(&h), &b);
    a.when = 9;
    cr_assert_eq(nd_heap_push(&h, &a), 0);
    cr_assert_eq(nd_heap_min(&h), &b);
    a.when = 1;
    nd_heap_remove(&h, &a);
    cr_assert_eq(nd_heap_push(&h, &a), 0);
    cr_assert_eq(nd_heap_min(&h), &a);
    nd_heap_free(&h);
}
