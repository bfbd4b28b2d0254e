/* core_buf.c: buffers and the chunk pool. */
#include <criterion/criterion.h>
#include <string.h>

#include "nd/buf.h"

Test(core_buf, pool_reuses_chunks)
{
    nd_buf_pool_drain();
    struct nd_buf *a = nd_buf_new(100);

    cr_assert_not_null(a);
    cr_assert_eq(a->cap, ND_BUF_CHUNK);
    nd_buf_free(a);
    cr_assert_eq(nd_buf_pool_count(), 1);
    struct nd_buf *b = nd_buf_new(ND_BUF_CHUNK);
    cr_assert_eq(b, a, "the pooled chunk comes back");
    cr_assert_eq(nd_buf_len(b), 0);
    nd_buf_free(b);
    nd_buf_pool_drain();
    cr_assert_eq(nd_buf_pool_count(), 0);
}

Test(core_buf, append_grows_and_keeps_bytes)
{
    struct nd_buf *b = NULL;
    char src[100000];

    for (size_t i = 0; i < sizeof(src); i++)
        src[i] = (char)(i * 7);
    for (size_t off = 0; off < sizeof(src); off += 999)
        cr_assert_eq(nd_buf_append(&b, src + off,
                                   off + 999 < sizeof(src) ? 999 : sizeof(src) - off), 0);
    cr_assert_eq(nd_buf_len(b), sizeof(src));
    cr_assert(memcmp(nd_buf_head(b), src, sizeof(src)) == 0);
    nd_buf_free(b);
    nd_buf_pool_drain();
}

Test(core_buf, reserve_compacts_before_growing)
{
    struct nd_buf *b = nd_buf_new(ND_BUF_CHUNK), *same;
    char x[ND_BUF_CHUNK];

    memset(x, 'x', sizeof(x));
    cr_assert_eq(nd_buf_append(&b, x, ND_BUF_CHUNK), 0);
    nd_buf_consume(b, ND_BUF_CHUNK - 10);
    same = b;
    cr_assert_eq(nd_buf_reserve(&b, 100), 0);
    cr_assert_eq(b, same, "room came from moving 10 bytes, not from growing");
    cr_assert_eq(b->start, 0);
    cr_assert_eq(nd_buf_len(b), 10);
    nd_buf_consume(b, 10);
    cr_assert_eq(b->start, 0, "an emptied buffer rewinds");
    cr_assert_eq(b->end, 0);
    nd_buf_free(b);
    nd_buf_pool_drain();
}
