/* core_heap.c: the timer heap against a sorted reference, under random
 * inserts and removals. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "nd/heap.h"

#define N 2000

static struct nd_timer timers[N];
static int in_heap[N];

static uint64_t
reference_min(void)
{
    uint64_t m = UINT64_MAX;

    for (int i = 0; i < N; i++)
        if (in_heap[i] && timers[i].when < m)
            m = timers[i].when;
    return m;
}

Test(core_heap, random_against_reference)
{
    struct nd_heap h = { 0 };
    size_t count = 0;

    srand(12345);
    for (int i = 0; i < N; i++)
        nd_timer_init(&timers[i], NULL);
    for (int step = 0; step < 20000; step++) {
        int i = rand() % N;

        if (in_heap[i]) {
            nd_heap_remove(&h, &timers[i]);
            in_heap[i] = 0;
            count--;
            cr_assert(!nd_timer_armed(&timers[i]));
        } else {
            timers[i].when = (uint64_t)(rand() % 500);  /* many equal deadlines */
            cr_assert_eq(nd_heap_push(&h, &timers[i]), 0);
            in_heap[i] = 1;
            count++;
        }
        cr_assert_eq(h.n, count);
        if (count)
            cr_assert_eq(nd_heap_min(&h)->when, reference_min(), "step %d", step);
        else
            cr_assert_null(nd_heap_min(&h));
    }
    /* Popping everything yields a non-decreasing sequence. */
    uint64_t last = 0;
    while (h.n) {
        struct nd_timer *t = nd_heap_min(&h);

        cr_assert_geq(t->when, last);
        last = t->when;
        nd_heap_remove(&h, t);
        in_heap[t - timers] = 0;
    }
    nd_heap_free(&h);
}

Test(core_heap, remove_not_armed_is_noop)
{
    struct nd_heap h = { 0 };
    struct nd_timer a, b;

    nd_timer_init(&a, NULL);
    nd_timer_init(&b, NULL);
    a.when = 5;
    cr_assert_eq(nd_heap_push(&h, &a), 0);
    nd_heap_remove(&h, &b);
    cr_assert_eq(h.n, 1);
    cr_assert_eq(nd_heap_min(&h), &a);
    nd_heap_remove(&h, &a);
    nd_heap_remove(&h, &a);
    cr_assert_eq(h.n, 0);
    nd_heap_free(&h);
}
