/* buf.c: growable byte buffers and the pool of chunk-sized ones that
 * connections borrow for a read and give back when they are empty. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nd/buf.h"

/* Enough for a few hundred busy connections; beyond it chunks go to free(). */
#define POOL_MAX 256

static struct {
    struct nd_buf *free[POOL_MAX];
    size_t n;
} pool;

struct nd_buf *
nd_buf_new(size_t cap)
{
    struct nd_buf *b;

    if (cap > SIZE_MAX / 2)
        return NULL;
    if (cap <= ND_BUF_CHUNK && pool.n > 0) {
        b = pool.free[--pool.n];
    } else {
        if (cap < ND_BUF_CHUNK)
            cap = ND_BUF_CHUNK;
        b = malloc(sizeof(*b) + cap);
        if (b == NULL)
            return NULL;
        b->cap = cap;
    }
    b->start = b->end = 0;
    return b;
}

void
nd_buf_free(struct nd_buf *b)
{
    if (b == NULL)
        return;
    if (b->cap == ND_BUF_CHUNK && pool.n < POOL_MAX)
        pool.free[pool.n++] = b;
    else
        free(b);
}

int
nd_buf_reserve(struct nd_buf **bp, size_t n)
{
    struct nd_buf *b = *bp, *nb;
    size_t len, want;

    if (b == NULL) {
        *bp = nd_buf_new(n);
        return *bp ? 0 : -ENOMEM;
    }
    if (nd_buf_room(b) >= n)
        return 0;
    len = nd_buf_len(b);
    if (b->cap - len >= n) {
        memmove(b->data, b->data + b->start, len);
        b->start = 0;
        b->end = len;
        return 0;
    }
    if (n > SIZE_MAX / 2 || len > SIZE_MAX / 2 - n)
        return -ENOMEM;     /* checked so that neither sum can wrap */
    want = b->cap * 2;
    if (want < len + n)
        want = len + n;
    nb = malloc(sizeof(*nb) + want);
    if (nb == NULL)
        return -ENOMEM;
    memcpy(nb->data, b->data + b->start, len);
    nb->start = 0;
    nb->end = len;
    nb->cap = want;
    nd_buf_free(b);
    *bp = nb;
    return 0;
}

int
nd_buf_append(struct nd_buf **bp, const void *p, size_t n)
{
    int rc = nd_buf_reserve(bp, n);

    if (rc < 0)
        return rc;
    memcpy((*bp)->data + (*bp)->end, p, n);
    (*bp)->end += n;
    return 0;
}

void
nd_buf_consume(struct nd_buf *b, size_t n)
{
    if (n >= nd_buf_len(b)) {
        b->start = b->end = 0;
        return;
    }
    b->start += n;
}

size_t
nd_buf_pool_count(void)
{
    return pool.n;
}

void
nd_buf_pool_drain(void)
{
    while (pool.n > 0)
        free(pool.free[--pool.n]);
}
