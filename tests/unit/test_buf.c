/* test_buf.c: byte buffers and their pool: chunks are reused, growth keeps
 * the bytes, reserve moves bytes to the front before it grows, and an
 * emptied buffer starts again at offset 0. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "nd/buf.h"
#include "fixtures.h"

/* Byte i of a pattern that does not repeat within a chunk. */
static char
pat(size_t i)
{
    return (char)((i * 131 + (i >> 8) * 7 + 3) & 0xff);
}

static void
fill(char *p, size_t from, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        p[i] = pat(from + i);
}

/* b holds pattern bytes [from, from + len). */
static void
check_pattern(struct nd_buf *b, size_t from, size_t len)
{
    size_t i;

    cr_assert_eq(nd_buf_len(b), len);
    for (i = 0; i < len; i++)
        cr_assert_eq(nd_buf_head(b)[i], pat(from + i), "byte %zu", i);
}

static void
drain_pool(void)
{
    nd_buf_pool_drain();
}

/* The end of a test: the pool emptied, nothing else may be left. */
static void
done(void)
{
    nd_buf_pool_drain();
    nd_test_no_leaks();
}

TestSuite(buf, .init = drain_pool, .fini = drain_pool);

Test(buf, new_buffers_are_empty_chunks)
{
    struct nd_buf *b = nd_buf_new(10), *c = nd_buf_new(0);

    cr_assert_not_null(b);
    cr_assert_not_null(c);
    cr_assert_eq(b->cap, ND_BUF_CHUNK);
    cr_assert_eq(c->cap, ND_BUF_CHUNK);
    cr_assert_eq(nd_buf_len(b), 0);
    cr_assert_eq(nd_buf_room(b), ND_BUF_CHUNK);
    nd_buf_free(b);
    nd_buf_free(c);
    nd_buf_free(NULL);
}

Test(buf, pool_reuse)
{
    struct nd_buf *a, *b, *c;

    cr_assert_eq(nd_buf_pool_count(), 0);
    a = nd_buf_new(ND_BUF_CHUNK);
    b = nd_buf_new(100);
    cr_assert_neq(a, b);
    a->end = 50;
    a->start = 10;
    nd_buf_free(a);
    cr_assert_eq(nd_buf_pool_count(), 1);
    nd_buf_free(b);
    cr_assert_eq(nd_buf_pool_count(), 2);

    /* Last in, first out; and a reused chunk comes back empty. */
    c = nd_buf_new(1);
    cr_assert_eq(c, b);
    cr_assert_eq(nd_buf_pool_count(), 1);
    c = nd_buf_new(ND_BUF_CHUNK);
    cr_assert_eq(c, a);
    cr_assert_eq(c->start, 0);
    cr_assert_eq(c->end, 0);
    cr_assert_eq(c->cap, ND_BUF_CHUNK);
    cr_assert_eq(nd_buf_pool_count(), 0);
    nd_buf_free(b);
    nd_buf_free(c);
    cr_assert_eq(nd_buf_pool_count(), 2);
    nd_buf_pool_drain();
    cr_assert_eq(nd_buf_pool_count(), 0);
}

Test(buf, big_buffers_bypass_the_pool)
{
    struct nd_buf *small = nd_buf_new(1), *big;

    nd_buf_free(small);
    cr_assert_eq(nd_buf_pool_count(), 1);
    big = nd_buf_new(ND_BUF_CHUNK + 1);
    cr_assert_neq(big, small, "a pooled chunk is too small for this");
    cr_assert_geq(big->cap, ND_BUF_CHUNK + 1);
    cr_assert_eq(nd_buf_pool_count(), 1);
    nd_buf_free(big);
    cr_assert_eq(nd_buf_pool_count(), 1, "a big buffer went into the pool");
    done();
}

Test(buf, the_pool_is_bounded)
{
    static struct nd_buf *v[600];
    size_t i, most;

    for (i = 0; i < 600; i++)
        cr_assert_not_null(v[i] = nd_buf_new(ND_BUF_CHUNK));
    for (i = 0; i < 600; i++)
        nd_buf_free(v[i]);
    most = nd_buf_pool_count();
    cr_assert_gt(most, 0);
    cr_assert_lt(most, 600);
    done();
}

Test(buf, append_to_null_allocates)
{
    struct nd_buf *b = NULL;
    char data[100];

    fill(data, 0, sizeof(data));
    cr_assert_eq(nd_buf_append(&b, data, sizeof(data)), 0);
    cr_assert_not_null(b);
    check_pattern(b, 0, sizeof(data));
    nd_buf_free(b);
}

Test(buf, growth_beyond_a_chunk_preserves_bytes)
{
    static char data[5 * ND_BUF_CHUNK + 123];
    struct nd_buf *b = NULL;
    size_t off = 0, step = 1000;

    fill(data, 0, sizeof(data));
    while (off < sizeof(data)) {
        size_t n = sizeof(data) - off < step ? sizeof(data) - off : step;

        cr_assert_eq(nd_buf_append(&b, data + off, n), 0);
        off += n;
        step += 777;
        check_pattern(b, 0, off);
    }
    cr_assert_geq(b->cap, sizeof(data));
    cr_assert_eq(b->start, 0);
    nd_buf_free(b);
    cr_assert_eq(nd_buf_pool_count(), 1, "only the first chunk goes back to the pool");
    done();
}

Test(buf, growth_keeps_only_the_live_bytes)
{
    static char data[ND_BUF_CHUNK];
    struct nd_buf *b = NULL;

    fill(data, 0, sizeof(data));
    cr_assert_eq(nd_buf_append(&b, data, sizeof(data)), 0);
    nd_buf_consume(b, 100);
    cr_assert_eq(nd_buf_reserve(&b, 2 * ND_BUF_CHUNK), 0);
    cr_assert_eq(b->start, 0);
    cr_assert_geq(nd_buf_room(b), 2 * ND_BUF_CHUNK);
    check_pattern(b, 100, ND_BUF_CHUNK - 100);
    nd_buf_free(b);
    done();
}

Test(buf, reserve_compacts_before_growing)
{
    static char data[ND_BUF_CHUNK];
    struct nd_buf *b = NULL, *before;

    fill(data, 0, sizeof(data));
    cr_assert_eq(nd_buf_append(&b, data, sizeof(data)), 0);
    before = b;
    nd_buf_consume(b, 1000);
    cr_assert_eq(nd_buf_room(b), 0);

    /* Room for 1000 exists at the front: no new memory. */
    cr_assert_eq(nd_buf_reserve(&b, 1000), 0);
    cr_assert_eq(b, before, "reserve grew a buffer that had room");
    cr_assert_eq(b->cap, ND_BUF_CHUNK);
    cr_assert_eq(b->start, 0);
    cr_assert_eq(nd_buf_room(b), 1000);
    check_pattern(b, 1000, ND_BUF_CHUNK - 1000);
    cr_assert_eq(nd_buf_pool_count(), 0);

    /* Now it must grow, and the old chunk goes back to the pool. */
    cr_assert_eq(nd_buf_reserve(&b, 1001), 0);
    cr_assert_gt(b->cap, ND_BUF_CHUNK);
    cr_assert_geq(nd_buf_room(b), 1001);
    check_pattern(b, 1000, ND_BUF_CHUNK - 1000);
    cr_assert_eq(nd_buf_pool_count(), 1);
    nd_buf_free(b);
    done();
}

Test(buf, reserve_with_room_changes_nothing)
{
    struct nd_buf *b = NULL, *before;

    cr_assert_eq(nd_buf_append(&b, "hello", 5), 0);
    nd_buf_consume(b, 2);
    before = b;
    cr_assert_eq(nd_buf_reserve(&b, ND_BUF_CHUNK - 5), 0);
    cr_assert_eq(b, before);
    cr_assert_eq(b->start, 2, "bytes moved although there was room after them");
    cr_assert_eq(memcmp(nd_buf_head(b), "llo", 3), 0);
    nd_buf_free(b);
}

Test(buf, reserve_of_an_impossible_size_fails)
{
    struct nd_buf *b = NULL;

    cr_assert_eq(nd_buf_append(&b, "0123456789", 10), 0);
    /* len + n wraps around SIZE_MAX: no buffer can hold this. */
    cr_assert_eq(nd_buf_reserve(&b, SIZE_MAX - 5), -ENOMEM,
                 "reserve succeeded with room for %zu bytes", nd_buf_room(b));
    cr_assert_eq(nd_buf_reserve(&b, SIZE_MAX / 2 + 1), -ENOMEM);
    cr_assert_eq(memcmp(nd_buf_head(b), "0123456789", 10), 0);
    nd_buf_free(b);
    done();
}

Test(buf, an_impossible_new_buffer_is_refused)
{
    struct nd_buf *b = NULL;

    cr_assert_null(nd_buf_new(SIZE_MAX));
    cr_assert_null(nd_buf_new(SIZE_MAX - sizeof(struct nd_buf) + 1));
    cr_assert_eq(nd_buf_reserve(&b, SIZE_MAX), -ENOMEM);
    cr_assert_null(b);
    cr_assert_eq(nd_buf_append(&b, "", SIZE_MAX - 3), -ENOMEM);
    cr_assert_null(b);
}

Test(buf, consume_to_empty_rewinds)
{
    struct nd_buf *b = NULL;

    cr_assert_eq(nd_buf_append(&b, "abcdefgh", 8), 0);
    nd_buf_consume(b, 3);
    cr_assert_eq(b->start, 3);
    cr_assert_eq(nd_buf_len(b), 5);
    cr_assert_eq(memcmp(nd_buf_head(b), "defgh", 5), 0);
    nd_buf_consume(b, 5);
    cr_assert_eq(nd_buf_len(b), 0);
    cr_assert_eq(b->start, 0);
    cr_assert_eq(b->end, 0);
    cr_assert_eq(nd_buf_room(b), b->cap);

    cr_assert_eq(nd_buf_append(&b, "xyz", 3), 0);
    nd_buf_consume(b, 100);     /* more than there is */
    cr_assert_eq(b->start, 0);
    cr_assert_eq(b->end, 0);
    nd_buf_consume(b, 0);
    cr_assert_eq(b->end, 0);
    nd_buf_free(b);
}

Test(buf, consume_nothing)
{
    struct nd_buf *b = NULL;

    cr_assert_eq(nd_buf_append(&b, "ab", 2), 0);
    nd_buf_consume(b, 0);
    cr_assert_eq(nd_buf_len(b), 2);
    cr_assert_eq(b->start, 0);
    nd_buf_free(b);
}
