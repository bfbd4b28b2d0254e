/* heap.h: a binary min-heap of timers keyed by deadline. Each timer knows its
 * slot, so removal is O(log n) and needs no search. Pure: no clock, no I/O. */
#ifndef ND_HEAP_H
#define ND_HEAP_H

#include <stddef.h>
#include <stdint.h>

#define ND_HEAP_NONE ((size_t)-1)

struct nd_timer;
struct nd_loop;

typedef void nd_timer_fn(struct nd_loop *loop, struct nd_timer *t);

struct nd_timer {
    uint64_t when;      /* deadline, monotonic milliseconds */
    size_t slot;        /* index in the heap, ND_HEAP_NONE when not armed */
    nd_timer_fn *cb;
};

struct nd_heap {
    struct nd_timer **v;
    size_t n;
    size_t cap;
};

static inline void
nd_timer_init(struct nd_timer *t, nd_timer_fn *cb)
{
    t->when = 0;
    t->slot = ND_HEAP_NONE;
    t->cb = cb;
}

static inline int
nd_timer_armed(const struct nd_timer *t)
{
    return t->slot != ND_HEAP_NONE;
}

/* Inserts t (which must not be in a heap). Returns 0 or -ENOMEM. */
int nd_heap_push(struct nd_heap *h, struct nd_timer *t);

/* Removes t if it is in the heap; otherwise does nothing. */
void nd_heap_remove(struct nd_heap *h, struct nd_timer *t);

/* The timer with the earliest deadline, or NULL. */
static inline struct nd_timer *
nd_heap_min(const struct nd_heap *h)
{
    return h->n ? h->v[0] : NULL;
}

void nd_heap_free(struct nd_heap *h);

#endif
