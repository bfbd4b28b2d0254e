/* heap.c: the timer min-heap. Slot 0 holds the earliest deadline; each timer
 * records its slot so it can be removed or re-keyed without a search. */
#include <errno.h>
#include <stdlib.h>

#include "heap.h"

static void
put(struct nd_heap *h, size_t i, struct nd_timer *t)
{
    h->v[i] = t;
    t->slot = i;
}

static void
sift_up(struct nd_heap *h, size_t i)
{
    struct nd_timer *t = h->v[i];

    while (i > 0) {
        size_t parent = (i - 1) / 2;

        if (h->v[parent]->when <= t->when)
            break;
        put(h, i, h->v[parent]);
        i = parent;
    }
    put(h, i, t);
}

static void
sift_down(struct nd_heap *h, size_t i)
{
    struct nd_timer *t = h->v[i];

    for (;;) {
        size_t c = 2 * i + 1;

        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->v[c + 1]->when < h->v[c]->when)
            c++;
        if (t->when <= h->v[c]->when)
            break;
        put(h, i, h->v[c]);
        i = c;
    }
    put(h, i, t);
}

int
nd_heap_push(struct nd_heap *h, struct nd_timer *t)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        struct nd_timer **v = realloc(h->v, cap * sizeof(*v));

        if (v == NULL)
            return -ENOMEM;
        h->v = v;
        h->cap = cap;
    }
    put(h, h->n++, t);
    sift_up(h, h->n - 1);
    return 0;
}

void
nd_heap_remove(struct nd_heap *h, struct nd_timer *t)
{
    size_t i = t->slot;

    if (i == ND_HEAP_NONE || i >= h->n || h->v[i] != t)
        return;
    t->slot = ND_HEAP_NONE;
    if (i == --h->n)
        return;
    put(h, i, h->v[h->n]);
    if (i > 0 && h->v[(i - 1) / 2]->when > h->v[i]->when)
        sift_up(h, i);
    else
        sift_down(h, i);
}

void
nd_heap_free(struct nd_heap *h)
{
    free(h->v);
    h->v = NULL;
    h->n = h->cap = 0;
}
