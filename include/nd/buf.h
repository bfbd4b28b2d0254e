/* buf.h: byte buffers with a read and a write offset, and a small pool of
 * fixed-size chunks so a busy connection does not malloc per message and an
 * idle one holds no buffer at all. */
#ifndef ND_BUF_H
#define ND_BUF_H

#include <stddef.h>

/* The size of a pooled chunk: one read's worth of input. */
#define ND_BUF_CHUNK 16384

/* Bytes [start, end) of data[] are live; data[] has room for cap bytes. */
struct nd_buf {
    size_t start;
    size_t end;
    size_t cap;
    char data[];
};

static inline size_t
nd_buf_len(const struct nd_buf *b)
{
    return b->end - b->start;
}

static inline char *
nd_buf_head(struct nd_buf *b)
{
    return b->data + b->start;
}

static inline size_t
nd_buf_room(const struct nd_buf *b)
{
    return b->cap - b->end;
}

/* A buffer with at least cap bytes of room; chunk-sized ones come from the
 * pool. Returns NULL when memory is short. */
struct nd_buf *nd_buf_new(size_t cap);

/* Gives a buffer back: to the pool if it is a chunk and the pool has room,
 * otherwise to free(). NULL is fine. */
void nd_buf_free(struct nd_buf *b);

/* Makes room for n more bytes after end, first by moving live bytes to the
 * front, then by growing (which may move *bp). Returns 0 or -ENOMEM. */
int nd_buf_reserve(struct nd_buf **bp, size_t n);

/* Appends n bytes, growing as needed. *bp may be NULL. Returns 0 or -ENOMEM. */
int nd_buf_append(struct nd_buf **bp, const void *p, size_t n);

/* Drops n bytes from the front; an emptied buffer is rewound. */
void nd_buf_consume(struct nd_buf *b, size_t n);

/* How many chunks the pool holds right now, and a way to empty it. */
size_t nd_buf_pool_count(void);
void nd_buf_pool_drain(void);

#endif
