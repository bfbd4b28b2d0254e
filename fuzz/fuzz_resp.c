/* fuzz_resp.c: libFuzzer target for the RESP codec (resp.c). Input: byte 0
 * chooses where to cut the rest in two, byte 1's low bit small limits
 * (bulk 16 bytes, depth 3, 8 nodes), the rest is what a server sent,
 * replies back to back. Each reply is parsed whole, in two pieces (each in
 * a buffer of its exact size, so any over-read faults), without a node
 * array, and one byte at a time when short: every way must agree, and a
 * finished tree must hold together inside the reply. Then the rest, cut
 * at its zero bytes, is built into a command that must parse back to the
 * same arguments. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nd/buf.h"
#include "resp.h"

#include "check.h"

#define NODES 64
#define MAX_ARGS 16

struct outcome {
    int rc;
    size_t used;
    const char *why;
    size_t n;
    struct nd_resp_node nodes[NODES];
};

static void
limits(struct nd_resp_parser *p, int small)
{
    if (small) {
        p->max_bulk = 16;
        p->max_depth = 3;
        p->max_elems = 8;
    } else {
        p->max_elems = NODES;
    }
}

static int
aggregate(enum nd_resp_type t)
{
    return t == ND_RESP_ARRAY || t == ND_RESP_MAP || t == ND_RESP_SET || t == ND_RESP_PUSH;
}

/* The tree holds together: pre-order, children chained by next, strings
 * inside the reply. */
static void
check_tree(const struct outcome *o, const char *buf)
{
    check(o->n >= 1 && o->n <= NODES && o->nodes[0].next == o->n);
    for (size_t i = 0; i < o->n; i++) {
        const struct nd_resp_node *n = &o->nodes[i];

        check(n->next > i && n->next <= o->n);
        if (aggregate(n->type)) {
            size_t j = i + 1;

            for (size_t k = 0; k < n->len; k++) {
                check(j < n->next);
                check(nd_resp_child(o->nodes, i, k) == &o->nodes[j]);
                j = o->nodes[j].next;
            }
            check(j == n->next);
            check(nd_resp_child(o->nodes, i, n->len) == NULL);
            check(n->type != ND_RESP_MAP || n->len % 2 == 0);
        } else {
            check(n->next == i + 1);
        }
        if (n->str) {
            check(n->str == buf + n->off && n->off + n->len <= o->used);
            check(n->len > 0 || n->type == ND_RESP_STRING || n->type == ND_RESP_ERROR ||
                  n->type == ND_RESP_BULK);
        }
        check(n->type != ND_RESP_BOOL || n->num == 0 || n->num == 1);
    }
}

/* Parses buf[0..len) (a copy of exactly len bytes) with p's progress. */
static void
parse_copy(struct nd_resp_parser *p, const uint8_t *in, size_t len, struct outcome *o)
{
    char *b = malloc(len ? len : 1);

    memcpy(b, in, len);
    o->rc = nd_resp_parse(p, b, len, &o->used);
    check(o->rc == ND_RESP_MORE || o->rc == ND_RESP_DONE || o->rc == ND_RESP_BAD);
    o->why = o->rc == ND_RESP_BAD ? p->why : NULL;
    check(o->rc != ND_RESP_BAD || o->why != NULL);
    o->n = o->rc == ND_RESP_DONE ? p->n : 0;
    if (o->rc == ND_RESP_DONE) {
        check(o->used > 0 && o->used <= len);
        memcpy(o->nodes, p->nodes, o->n * sizeof(o->nodes[0]));
        check_tree(o, b);
    }
    free(b);
}

static int
same(const struct outcome *a, const struct outcome *b)
{
    if (a->rc != b->rc || a->used != b->used || a->why != b->why || a->n != b->n)
        return 0;
    for (size_t i = 0; i < a->n; i++) {
        const struct nd_resp_node *x = &a->nodes[i], *y = &b->nodes[i];

        if (x->type != y->type || x->len != y->len || x->num != y->num || x->off != y->off ||
            x->next != y->next || (x->str == NULL) != (y->str == NULL))
            return 0;
    }
    return 1;
}

/* One reply at in[0..len): returns its length, or 0 when there is none. */
static size_t
one_reply(const uint8_t *in, size_t len, size_t cut, int small)
{
    static struct nd_resp_node nodes[NODES];
    static struct outcome whole, split;
    struct nd_resp_parser p;
    size_t used;
    int rc;

    nd_resp_init(&p, nodes, NODES);
    limits(&p, small);
    parse_copy(&p, in, len, &whole);

    /* In two pieces: the first may only say less, never otherwise. */
    nd_resp_init(&p, nodes, NODES);
    limits(&p, small);
    parse_copy(&p, in, cut, &split);
    if (split.rc == ND_RESP_MORE)
        parse_copy(&p, in, len, &split);
    else
        check(split.rc == whole.rc);
    check(same(&split, &whole));

    /* Without nodes: the same verdict, length and count. */
    nd_resp_init(&p, NULL, 0);
    limits(&p, small);
    rc = nd_resp_parse(&p, (const char *)in, len, &used);
    check(rc == whole.rc);
    check(rc != ND_RESP_DONE || (used == whole.used && p.n == whole.n));
    check(rc != ND_RESP_BAD || p.why == whole.why);

    /* One byte at a time, for short inputs: MORE until the same verdict. */
    if (len <= 128) {
        nd_resp_init(&p, nodes, NODES);
        limits(&p, small);
        split.rc = ND_RESP_MORE;
        for (size_t k = 0; k <= len && split.rc == ND_RESP_MORE; k++)
            parse_copy(&p, in, k, &split);
        check(same(&split, &whole));
    }
    return whole.rc == ND_RESP_DONE ? whole.used : 0;
}

static void
round_trip(const uint8_t *in, size_t len)
{
    static struct nd_resp_node nodes[MAX_ARGS + 1];
    const char *argv[MAX_ARGS];
    size_t lens[MAX_ARGS], used;
    struct nd_resp_parser p;
    struct nd_buf *b = NULL;
    int argc = 0;
    const uint8_t *at = in, *end = in + len, *z;

    while (argc < MAX_ARGS) {
        z = memchr(at, 0, (size_t)(end - at));
        argv[argc] = (const char *)at;
        lens[argc++] = (size_t)((z ? z : end) - at);
        if (!z)
            break;
        at = z + 1;
    }
    check(nd_resp_cmd(&b, argc, argv, lens) == 0);
    nd_resp_init(&p, nodes, MAX_ARGS + 1);
    check(nd_resp_parse(&p, nd_buf_head(b), nd_buf_len(b), &used) == ND_RESP_DONE);
    check(used == nd_buf_len(b) && nodes[0].type == ND_RESP_ARRAY &&
          nodes[0].len == (size_t)argc && p.n == (size_t)argc + 1);
    for (int i = 0; i < argc; i++) {
        const struct nd_resp_node *n = nd_resp_child(nodes, 0, (size_t)i);

        check(n && n->type == ND_RESP_BULK && n->len == lens[i]);
        check(lens[i] == 0 || memcmp(n->str, argv[i], lens[i]) == 0);
    }
    nd_buf_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    size_t cut, k, done = 0;
    int small;

    if (size < 2)
        return 0;
    cut = in[0];
    small = in[1] & 1;
    in += 2;
    size -= 2;

    /* Replies back to back, each cut at the same offset into it. */
    for (int i = 0; i < 16 && done < size; i++) {
        k = one_reply(in + done, size - done, cut % (size - done + 1), small);
        if (k == 0)
            break;
        done += k;
    }
    round_trip(in, size);
    return 0;
}
