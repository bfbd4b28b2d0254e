/* test_resp.c: the RESP codec: every type, nulls, nesting, limits and
 * malformed replies, each fed whole, one byte at a time and cut in two at
 * every point (the pieces in buffers of their exact size, so that ASan sees
 * any over-read, and the second one elsewhere, as after a buffer grew);
 * commands built and parsed back; a big bulk fed bytewise in linear work. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "nd/buf.h"
#include "resp.h"

#define NODES 64

/* The tree as text: +OK, -ERR x, :42, $bulk, _, #t, ,1.5, (123, and
 * aggregates as *[a b], %[k v], ~[..], >[..]. */
static size_t
render(const struct nd_resp_node *nodes, size_t i, char *out, size_t room)
{
    const struct nd_resp_node *n = &nodes[i];
    size_t w;

    switch (n->type) {
    case ND_RESP_INTEGER:
        return (size_t)snprintf(out, room, ":%lld", n->num);
    case ND_RESP_BOOL:
        return (size_t)snprintf(out, room, "#%c", n->num ? 't' : 'f');
    case ND_RESP_NULL:
        return (size_t)snprintf(out, room, "_");
    case ND_RESP_ARRAY:
    case ND_RESP_MAP:
    case ND_RESP_SET:
    case ND_RESP_PUSH:
        w = (size_t)snprintf(out, room, "%c[", (char)n->type);
        for (size_t k = 0; k < n->len && w < room; k++) {
            const struct nd_resp_node *c = nd_resp_child(nodes, i, k);

            cr_assert_not_null(c);
            if (k > 0)
                w += (size_t)snprintf(out + w, room - w, " ");
            w += render(nodes, (size_t)(c - nodes), out + w, room - w);
        }
        cr_assert_null(nd_resp_child(nodes, i, n->len));
        return w + (size_t)snprintf(out + w, room - w, "]");
    default:
        if (n->len > 64)
            return (size_t)snprintf(out, room, "%c<%zu bytes>", (char)n->type, n->len);
        return (size_t)snprintf(out, room, "%c%.*s", (char)n->type, (int)n->len, n->str);
    }
}

/* The verdict on a reply: "DONE <used> <tree>", "BAD <why>" or "MORE". */
struct verdict {
    char text[4096];
};

static void
describe(struct verdict *v, int rc, const struct nd_resp_parser *p, size_t used)
{
    if (rc == ND_RESP_MORE) {
        snprintf(v->text, sizeof(v->text), "MORE");
    } else if (rc == ND_RESP_BAD) {
        snprintf(v->text, sizeof(v->text), "BAD %s", p->why);
    } else {
        size_t w = (size_t)snprintf(v->text, sizeof(v->text), "DONE %zu ", used);

        cr_assert_eq(p->nodes[0].next, p->n, "the root's subtree is the reply");
        render(p->nodes, 0, v->text + w, sizeof(v->text) - w);
    }
}

/* Parses s[0..n) in a buffer of exactly n bytes. */
static int
feed(struct nd_resp_parser *p, const char *s, size_t n, size_t *used)
{
    char *b = malloc(n ? n : 1);
    int rc;

    memcpy(b, s, n);
    rc = nd_resp_parse(p, b, n, used);
    /* Strings point into the buffer: check them before it goes. */
    for (size_t i = 0; rc == ND_RESP_DONE && i < p->n; i++)
        if (p->nodes[i].str)
            cr_assert(p->nodes[i].str == b + p->nodes[i].off &&
                      p->nodes[i].off + p->nodes[i].len <= *used);
    free(b);
    return rc;
}

static void
whole(const char *s, size_t n, struct verdict *v, struct nd_resp_parser *cfg)
{
    static struct nd_resp_node nodes[NODES];
    struct nd_resp_parser p;
    size_t used = 0;
    int rc;

    nd_resp_init(&p, nodes, NODES);
    if (cfg) {
        p.max_bulk = cfg->max_bulk;
        p.max_depth = cfg->max_depth;
        p.max_elems = cfg->max_elems;
    }
    /* Render while the buffer lives: strings point into it. */
    char *b = malloc(n ? n : 1);

    memcpy(b, s, n);
    rc = nd_resp_parse(&p, b, n, &used);
    describe(v, rc, &p, used);
    free(b);
}

/* Checks s[0..n) gives `want` whole, cut in two at every point, and one
 * byte at a time; a split may only delay the verdict, never change it. */
static void
check_reply(const char *s, size_t n, const char *want, struct nd_resp_parser *cfg)
{
    static struct nd_resp_node nodes[NODES];
    struct nd_resp_parser p;
    struct verdict v, got;
    size_t used = 0, step = n > 4096 ? 997 : 1;
    int rc;

    whole(s, n, &v, cfg);
    cr_assert_str_eq(v.text, want, "whole: %s", v.text);

    for (size_t cut = 0; cut <= n; cut += step) {
        nd_resp_init(&p, nodes, NODES);
        if (cfg) {
            p.max_bulk = cfg->max_bulk;
            p.max_depth = cfg->max_depth;
            p.max_elems = cfg->max_elems;
        }
        rc = feed(&p, s, cut, &used);
        if (rc == ND_RESP_MORE) {
            char *b = malloc(n ? n : 1);

            memcpy(b, s, n);
            rc = nd_resp_parse(&p, b, n, &used);
            describe(&got, rc, &p, used);
            free(b);
        } else {
            /* Decided within the first piece: it must be the same verdict,
             * the tree rendered from a fresh whole parse of that piece. */
            char *b = malloc(cut ? cut : 1);

            memcpy(b, s, cut);
            nd_resp_init(&p, nodes, NODES);
            if (cfg) {
                p.max_bulk = cfg->max_bulk;
                p.max_depth = cfg->max_depth;
                p.max_elems = cfg->max_elems;
            }
            rc = nd_resp_parse(&p, b, cut, &used);
            describe(&got, rc, &p, used);
            free(b);
        }
        cr_assert_str_eq(got.text, want, "cut at %zu: %s", cut, got.text);
    }

    /* One byte at a time, each time in a new buffer of exact size. */
    nd_resp_init(&p, nodes, NODES);
    if (cfg) {
        p.max_bulk = cfg->max_bulk;
        p.max_depth = cfg->max_depth;
        p.max_elems = cfg->max_elems;
    }
    rc = ND_RESP_MORE;
    size_t k;

    for (k = 0; k <= n && rc == ND_RESP_MORE; k++) {
        char *b = malloc(k ? k : 1);

        memcpy(b, s, k);
        rc = nd_resp_parse(&p, b, k, &used);
        describe(&got, rc, &p, used);
        free(b);
    }
    cr_assert_str_eq(got.text, want, "bytewise: %s", got.text);

    /* Without a node array: the same verdict and length. */
    nd_resp_init(&p, NULL, 0);
    if (cfg) {
        p.max_bulk = cfg->max_bulk;
        p.max_depth = cfg->max_depth;
        p.max_elems = cfg->max_elems;
    }
    rc = nd_resp_parse(&p, s, n, &used);
    if (strncmp(want, "DONE", 4) == 0) {
        cr_assert_eq(rc, ND_RESP_DONE);
        cr_assert_eq(used, strtoul(want + 5, NULL, 10));
    } else if (strncmp(want, "BAD", 3) == 0) {
        cr_assert_eq(rc, ND_RESP_BAD);
        cr_assert_str_eq(p.why, want + 4);
    }
    nd_test_no_leaks();
}

#define CHECK(lit, want) check_reply(lit, sizeof(lit) - 1, want, NULL)

/* "DONE <len of lit> tree" */
static void
check_done(const char *s, size_t n, const char *tree)
{
    char want[4096];

    snprintf(want, sizeof(want), "DONE %zu %s", n, tree);
    check_reply(s, n, want, NULL);
}

#define OK(lit, tree) check_done(lit, sizeof(lit) - 1, tree)

Test(resp, resp2_types)
{
    OK("+OK\r\n", "+OK");
    OK("+\r\n", "+");
    OK("-ERR unknown command 'FOO'\r\n", "-ERR unknown command 'FOO'");
    OK(":0\r\n", ":0");
    OK(":1000\r\n", ":1000");
    OK(":-42\r\n", ":-42");
    OK(":9223372036854775807\r\n", ":9223372036854775807");
    OK(":-9223372036854775808\r\n", ":-9223372036854775808");
    OK("$5\r\nhello\r\n", "$hello");
    OK("$0\r\n\r\n", "$");
    OK("$4\r\na\r\nb\r\n", "$a\r\nb");         /* CR and LF inside a bulk are data */
    OK("$3\r\n\n\r\r\r\n", "$\n\r\r");
}

Test(resp, nulls)
{
    OK("$-1\r\n", "_");
    OK("*-1\r\n", "_");
    OK("_\r\n", "_");
    OK("*3\r\n$-1\r\n*-1\r\n_\r\n", "*[_ _ _]");
}

Test(resp, arrays_and_nesting)
{
    OK("*0\r\n", "*[]");
    OK("*2\r\n$3\r\nfoo\r\n:1\r\n", "*[$foo :1]");
    OK("*2\r\n*1\r\n+a\r\n*0\r\n", "*[*[+a] *[]]");
    OK("*3\r\n*2\r\n:1\r\n*1\r\n:2\r\n:3\r\n*2\r\n-E x\r\n$1\r\nz\r\n",
       "*[*[:1 *[:2]] :3 *[-E x $z]]");
    /* Eight levels is the default limit, and allowed. */
    OK("*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", "*[*[*[*[*[*[*[*[:1]]]]]]]]");
}

Test(resp, resp3_types)
{
    OK("#t\r\n", "#t");
    OK("#f\r\n", "#f");
    OK(",1.5\r\n", ",1.5");
    OK(",-inf\r\n", ",-inf");
    OK(",1.23e+300\r\n", ",1.23e+300");
    OK("(3492890328409238509324850943850943825024385\r\n",
       "(3492890328409238509324850943850943825024385");
    OK("(-12\r\n", "(-12");
    OK("%2\r\n+a\r\n:1\r\n+b\r\n#f\r\n", "%[+a :1 +b #f]");
    OK("%0\r\n", "%[]");
    OK("~2\r\n+a\r\n+b\r\n", "~[+a +b]");
    OK(">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n", ">[$message $ch $hi]");
    OK("!21\r\nSYNTAX invalid syntax\r\n", "-SYNTAX invalid syntax");
    OK("=15\r\ntxt:Some string\r\n", "$txt:Some string");
}

Test(resp, framing_errors)
{
    CHECK("+OK\n", "BAD LF without CR");
    CHECK("+OK\rX\r\n", "BAD CR without LF");
    CHECK("*1\r\n+OK\n", "BAD LF without CR");
    CHECK("$5\r\nhelloXY", "BAD bulk string not followed by CRLF");
    CHECK("$5\r\nhello\rX", "BAD bulk string not followed by CRLF");
    CHECK("$5\r\nhello\n\r", "BAD bulk string not followed by CRLF");
    CHECK("$5\n", "BAD LF without CR");
    CHECK("?x\r\n", "BAD unknown type byte");
    CHECK("\r\n", "BAD unknown type byte");
    CHECK("OK\r\n", "BAD unknown type byte");
    CHECK("*2\r\n:1\r\nx\r\n", "BAD unknown type byte");
    CHECK("\0", "BAD unknown type byte");
    CHECK("", "MORE");
    CHECK("*2\r\n:1\r\n", "MORE");
    CHECK("$10\r\nhello", "MORE");
}

Test(resp, bad_lengths)
{
    CHECK("$abc\r\n", "BAD bad length");
    CHECK("$\r\n", "BAD bad length");
    CHECK("$-2\r\n", "BAD bad length");
    CHECK("$-0\r\n", "BAD bad length");
    CHECK("$+5\r\n", "BAD bad length");
    CHECK("$5 \r\n", "BAD bad length");
    CHECK("*-2\r\n", "BAD bad length");
    CHECK("%-1\r\n", "BAD bad length");
    CHECK("!-1\r\n", "BAD bad length");
    CHECK("*1x\r\n", "BAD bad length");
    CHECK("$99999999999999999999999\r\n", "BAD bulk string too long");
    CHECK("$67108865\r\n", "BAD bulk string too long");
    CHECK("$67108864\r\n", "MORE");
    CHECK("*99999999999999999999\r\n", "BAD too many elements");
    CHECK("$000000000000000000000000000000005\r\n", "BAD line too long");
    CHECK("=3\r\ntxt\r\n", "BAD verbatim string without its format");
    CHECK("=4\r\ntxtx\r\n", "BAD verbatim string without its format");
}

Test(resp, bad_values)
{
    CHECK(":12a\r\n", "BAD bad integer");
    CHECK(":\r\n", "BAD bad integer");
    CHECK(":-\r\n", "BAD bad integer");
    CHECK(":+1\r\n", "BAD bad integer");
    CHECK(": 1\r\n", "BAD bad integer");
    CHECK(":9223372036854775808\r\n", "BAD bad integer");
    CHECK(":-9223372036854775809\r\n", "BAD bad integer");
    CHECK(":99999999999999999999\r\n", "BAD bad integer");
    CHECK("#x\r\n", "BAD bad boolean");
    CHECK("#\r\n", "BAD bad boolean");
    CHECK("#tt\r\n", "BAD bad boolean");
    CHECK("_x\r\n", "BAD bad null");
    CHECK(",\r\n", "BAD bad double");
    CHECK(",1.5x\r\n", "BAD bad double");
    CHECK("(1a\r\n", "BAD bad big number");
    CHECK("(-\r\n", "BAD bad big number");
}

Test(resp, limits)
{
    struct nd_resp_parser cfg;
    static char line[ND_RESP_MAX_LINE + 3];

    /* Nine levels is one too many; so is an empty ninth. */
    CHECK("*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", "BAD nesting too deep");
    CHECK("*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*0\r\n", "BAD nesting too deep");

    /* Smaller limits, set after init. */
    nd_resp_init(&cfg, NULL, 0);
    cfg.max_bulk = 10;
    cfg.max_depth = 2;
    cfg.max_elems = NODES;
    check_reply("$10\r\n0123456789\r\n", 17, "DONE 17 $0123456789", &cfg);
    check_reply("$11\r\n", 5, "BAD bulk string too long", &cfg);
    check_reply("!11\r\n", 5, "BAD bulk string too long", &cfg);
    check_reply("*1\r\n*1\r\n:1\r\n", 12, "DONE 12 *[*[:1]]", &cfg);
    check_reply("*1\r\n*1\r\n*1\r\n", 12, "BAD nesting too deep", &cfg);

    /* Elements: the node array bounds them; a count past it is refused
     * at once, not after its elements arrive. */
    cfg.max_depth = 8;
    cfg.max_elems = 4;
    check_reply("*3\r\n:1\r\n:2\r\n:3\r\n", 16, "DONE 16 *[:1 :2 :3]", &cfg);
    check_reply("*4\r\n", 4, "BAD too many elements", &cfg);
    check_reply("%2\r\n", 4, "BAD too many elements", &cfg);
    check_reply("*2\r\n*1\r\n:1\r\n*1\r\n:2\r\n", 20, "BAD too many elements", &cfg);

    /* A simple string line: 64 KiB of text is fine, one byte more is not. */
    memset(line, 'a', sizeof(line));
    line[0] = '+';
    line[ND_RESP_MAX_LINE + 1] = '\r';
    line[ND_RESP_MAX_LINE + 2] = '\n';
    check_reply(line, sizeof(line), "DONE 65539 +<65536 bytes>", NULL);
    line[ND_RESP_MAX_LINE + 1] = 'a';
    check_reply(line, sizeof(line), "BAD line too long", NULL);
}

Test(resp, node_array_bounds_elements)
{
    struct nd_resp_node nodes[3];
    struct nd_resp_parser p;
    size_t used;

    nd_resp_init(&p, nodes, 3);
    p.max_elems = 1000;                 /* clamped to the array */
    cr_assert_eq(nd_resp_parse(&p, "*2\r\n:1\r\n:2\r\n", 12, &used), ND_RESP_DONE);
    cr_assert_eq(nd_resp_parse(&p, "*3\r\n", 4, &used), ND_RESP_BAD);
    cr_assert_str_eq(p.why, "too many elements");
}

Test(resp, pipelined_replies)
{
    static const char in[] = "+OK\r\n:7\r\n*1\r\n$1\r\nx\r\n+PART";
    struct nd_resp_node nodes[8];
    struct nd_resp_parser p;
    const char *at = in;
    size_t left = sizeof(in) - 1, used;

    nd_resp_init(&p, nodes, 8);
    cr_assert_eq(nd_resp_parse(&p, at, left, &used), ND_RESP_DONE);
    cr_assert(used == 5 && nd_resp_eq(&nodes[0], "OK"));
    at += used, left -= used;
    cr_assert_eq(nd_resp_parse(&p, at, left, &used), ND_RESP_DONE);
    cr_assert(used == 4 && nodes[0].num == 7);
    at += used, left -= used;
    cr_assert_eq(nd_resp_parse(&p, at, left, &used), ND_RESP_DONE);
    cr_assert(used == 11 && p.n == 2 && nd_resp_eq(nd_resp_child(nodes, 0, 0), "x"));
    at += used, left -= used;
    cr_assert_eq(nd_resp_parse(&p, at, left, &used), ND_RESP_MORE);
}

Test(resp, a_buffer_that_lost_bytes)
{
    struct nd_resp_parser p;
    size_t used;

    nd_resp_init(&p, NULL, 0);
    cr_assert_eq(nd_resp_parse(&p, "*2\r\n:1\r\n", 8, &used), ND_RESP_MORE);
    cr_assert_eq(nd_resp_parse(&p, "*2\r\n", 4, &used), ND_RESP_BAD);
    /* The next call starts a new reply; reset forgets one under way. */
    cr_assert_eq(nd_resp_parse(&p, "*2\r\n:1\r\n", 8, &used), ND_RESP_MORE);
    nd_resp_reset(&p);
    cr_assert_eq(nd_resp_parse(&p, "+A\r\n", 4, &used), ND_RESP_DONE);
}

Test(resp, pubsub_messages)
{
    static const char msg[] = "*3\r\n$7\r\nmessage\r\n$4\r\nroom\r\n$5\r\nhello\r\n";
    static const char pmsg[] = "*4\r\n$8\r\npmessage\r\n$2\r\nr*\r\n$4\r\nroom\r\n$3\r\nhey\r\n";
    static const char sub[] = "*3\r\n$9\r\nsubscribe\r\n$4\r\nroom\r\n:1\r\n";
    struct nd_resp_node nodes[8];
    struct nd_resp_parser p;
    const struct nd_resp_node *n;
    size_t used;

    check_done(msg, sizeof(msg) - 1, "*[$message $room $hello]");
    nd_resp_init(&p, nodes, 8);
    cr_assert_eq(nd_resp_parse(&p, msg, sizeof(msg) - 1, &used), ND_RESP_DONE);
    cr_assert(nodes[0].type == ND_RESP_ARRAY && nodes[0].len == 3);
    cr_assert(nd_resp_eq(nd_resp_child(nodes, 0, 0), "message"));
    cr_assert(nd_resp_eq(nd_resp_child(nodes, 0, 1), "room"));
    n = nd_resp_child(nodes, 0, 2);
    cr_assert(n->len == 5 && memcmp(n->str, "hello", 5) == 0);
    cr_assert(!nd_resp_eq(nd_resp_child(nodes, 0, 0), "messag"));
    cr_assert_null(nd_resp_child(nodes, 0, 3));
    cr_assert_null(nd_resp_child(nodes, 1, 0));     /* a string has no children */

    check_done(pmsg, sizeof(pmsg) - 1, "*[$pmessage $r* $room $hey]");
    cr_assert_eq(nd_resp_parse(&p, pmsg, sizeof(pmsg) - 1, &used), ND_RESP_DONE);
    cr_assert(nd_resp_eq(nd_resp_child(nodes, 0, 0), "pmessage"));
    cr_assert(nd_resp_eq(nd_resp_child(nodes, 0, 3), "hey"));

    cr_assert_eq(nd_resp_parse(&p, sub, sizeof(sub) - 1, &used), ND_RESP_DONE);
    n = nd_resp_child(nodes, 0, 2);
    cr_assert(n->type == ND_RESP_INTEGER && n->num == 1);
}

Test(resp, errors_by_code)
{
    static const char noscript[] = "-NOSCRIPT No matching script. Please use EVAL.\r\n";
    struct nd_resp_node nodes[4];
    struct nd_resp_parser p;
    size_t used;

    nd_resp_init(&p, nodes, 4);
    cr_assert_eq(nd_resp_parse(&p, noscript, sizeof(noscript) - 1, &used), ND_RESP_DONE);
    cr_assert(nd_resp_err_is(&nodes[0], "NOSCRIPT"));
    cr_assert(!nd_resp_err_is(&nodes[0], "NOSCRIP"));
    cr_assert(!nd_resp_err_is(&nodes[0], "ERR"));
    cr_assert(!nd_resp_eq(&nodes[0], "NOSCRIPT"));
    cr_assert_eq(nd_resp_parse(&p, "-ERR\r\n", 6, &used), ND_RESP_DONE);
    cr_assert(nd_resp_err_is(&nodes[0], "ERR"));
    cr_assert_eq(nd_resp_parse(&p, "!7\r\nERR x y\r\n", 13, &used), ND_RESP_DONE);
    cr_assert(nd_resp_err_is(&nodes[0], "ERR"));
    cr_assert_eq(nd_resp_parse(&p, "+ERR x\r\n", 8, &used), ND_RESP_DONE);
    cr_assert(!nd_resp_err_is(&nodes[0], "ERR"));
}

Test(resp, command_round_trip)
{
    static const char bin[] = { 'a', '\r', '\n', '\0', 'b' };
    const char *argv[] = { "EVALSHA", "0123abcd", "", bin };
    const size_t lens[] = { 7, 8, 0, sizeof(bin) };
    struct nd_resp_node nodes[8];
    struct nd_resp_parser p;
    struct nd_buf *b = NULL;
    size_t used;

    cr_assert_eq(nd_resp_cmd(&b, 4, argv, lens), 0);
    cr_assert_eq(nd_buf_len(b), 48);
    cr_assert(memcmp(nd_buf_head(b), "*4\r\n$7\r\nEVALSHA\r\n$8\r\n0123abcd\r\n$0\r\n\r\n$5\r\n", 41) == 0);
    nd_resp_init(&p, nodes, 8);
    cr_assert_eq(nd_resp_parse(&p, nd_buf_head(b), nd_buf_len(b), &used), ND_RESP_DONE);
    cr_assert_eq(used, nd_buf_len(b));
    cr_assert_eq(nodes[0].len, 4);
    for (size_t i = 0; i < 4; i++) {
        const struct nd_resp_node *n = nd_resp_child(nodes, 0, i);

        cr_assert(n->type == ND_RESP_BULK && n->len == lens[i]);
        cr_assert(memcmp(n->str, argv[i], lens[i]) == 0);
    }

    /* Appended after what the buffer holds; C strings without lens. */
    const char *ping[] = { "PUBLISH", "room", "hi there" };

    cr_assert_eq(nd_resp_cmd(&b, 3, ping, NULL), 0);
    cr_assert_eq(nd_buf_len(b), 48 + 41);
    cr_assert(memcmp(nd_buf_head(b) + 48, "*3\r\n$7\r\nPUBLISH\r\n$4\r\nroom\r\n$8\r\nhi there\r\n",
                     41) == 0);
    cr_assert_eq(nd_resp_cmd(&b, 0, ping, NULL), -EINVAL);
    cr_assert_eq(nd_buf_len(b), 89);
    nd_buf_free(b);
    nd_buf_pool_drain();
    nd_test_no_leaks();
}

Test(resp, command_with_many_and_long_arguments)
{
    static char big[100000];
    static const char *argv[1000];
    static size_t lens[1000];
    static struct nd_resp_node nodes[1001];
    struct nd_resp_parser p;
    struct nd_buf *b = NULL;
    size_t used;

    memset(big, 'x', sizeof(big));
    for (size_t i = 0; i < 1000; i++) {
        argv[i] = big;
        lens[i] = i * 100;              /* 1, 2, 3 ... 5 digits of length */
    }
    cr_assert_eq(nd_resp_cmd(&b, 1000, argv, lens), 0);
    nd_resp_init(&p, nodes, 1001);
    cr_assert_eq(nd_resp_parse(&p, nd_buf_head(b), nd_buf_len(b), &used), ND_RESP_DONE);
    cr_assert(used == nd_buf_len(b) && p.n == 1001 && nodes[0].len == 1000);
    for (size_t i = 0; i < 1000; i++)
        cr_assert_eq(nd_resp_child(nodes, 0, i)->len, i * 100);
    nd_buf_free(b);
    nd_buf_pool_drain();
    nd_test_no_leaks();
}

Test(resp, big_bulk_bytewise_is_linear)
{
    size_t size = 1u << 20, n, head, used = 0, calls = 0;
    char *s;
    struct nd_resp_node nodes[2];
    struct nd_resp_parser p;
    int rc = ND_RESP_MORE;

    s = malloc(size + 16);
    n = head = (size_t)sprintf(s, "$%zu\r\n", size);
    memset(s + n, 'b', size);
    n += size;
    memcpy(s + n, "\r\n", 2);
    n += 2;

    nd_resp_init(&p, nodes, 2);
    for (size_t k = 1; k <= n && rc == ND_RESP_MORE; k++, calls++)
        rc = nd_resp_parse(&p, s, k, &used);
    cr_assert_eq(rc, ND_RESP_DONE);
    cr_assert(used == n && calls == n && nodes[0].len == size && nodes[0].str == s + head);
    /* The header once (its CR twice, when the LF came in a later call),
     * the CRLF after the payload once: the payload is never scanned,
     * however many calls it took to arrive. */
    cr_assert_leq(p.scanned, head + 1 + 2, "scanned %zu bytes", p.scanned);
    free(s);
    nd_test_no_leaks();
}

Test(resp, long_line_bytewise_is_linear)
{
    size_t n = ND_RESP_MAX_LINE + 3, used;
    char *s = malloc(n);
    struct nd_resp_parser p;
    int rc = ND_RESP_MORE;

    memset(s, 'x', n);
    s[0] = '-';
    s[n - 2] = '\r';
    s[n - 1] = '\n';
    nd_resp_init(&p, NULL, 0);
    for (size_t k = 1; k <= n && rc == ND_RESP_MORE; k++)
        rc = nd_resp_parse(&p, s, k, &used);
    cr_assert_eq(rc, ND_RESP_DONE);
    cr_assert_eq(used, n);
    cr_assert_leq(p.scanned, n + 1, "scanned %zu bytes of %zu", p.scanned, n);
    free(s);
    nd_test_no_leaks();
}
