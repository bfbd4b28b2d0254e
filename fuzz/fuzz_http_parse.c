/* fuzz_http_parse.c: libFuzzer target for the pure HTTP codec
 * (nd_http_parse_request and nd_http_chunked_feed). Each input is parsed twice:
 * fed in pieces whose sizes come from the input's first bytes, with the
 * bytes not yet "received" poisoned so that any read past them is caught,
 * and whole; both results must agree and every pointer must lie inside the
 * head. Pipelined requests and their bodies are walked as the module does;
 * nd_http_header_find and nd_http_list_has are checked against plain references
 * on every complete head.
 *
 * Input: [flags] [step0..step3] data...
 *   flags & 3   limits preset
 *   flags & 4   the data is a chunked body only (no request head)
 *   stepN       piece sizes, cycled: stepN + 1 bytes (255: all at once) */
#include <sanitizer/asan_interface.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_parse.h"

#include "check.h"

#define MAX_PIPELINED 64


static const struct http_limits presets[4] = {
    { 8192, 16384, 100 },       /* the module's defaults */
    { 256, 1024, 4 },           /* the smallest the configuration allows */
    { 16, 48, 1 },              /* below that: the parser must cope anyway */
    { 1 << 20, 1 << 20, 1000 }, /* the largest */
};

struct pieces {
    const uint8_t *steps;
    size_t i;
};

static size_t
next_piece(struct pieces *p, size_t left)
{
    uint8_t s = p->steps[p->i++ & 3];

    return s == 255 || (size_t)s + 1 > left ? left : (size_t)s + 1;
}

/* Only [base, base + avail) may be read; the rest of buf is poisoned. */
static void
expose(const char *buf, size_t len, const char *base, size_t avail)
{
    ASAN_POISON_MEMORY_REGION(buf, len);
    ASAN_UNPOISON_MEMORY_REGION(base, avail);
}

static void
unexpose(const char *buf, size_t len)
{
    ASAN_UNPOISON_MEMORY_REGION(buf, len);
}

static int
is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int
inside(const char *p, size_t n, const char *base, size_t len)
{
    return p >= base && n <= len && (size_t)(p - base) <= len - n;
}

/* What must hold of any answer of nd_http_parse_request on base[0..len). */
static void
check_result(int rc, const struct http_request *req, const struct http_scan *sc,
             const char *base, size_t len, const struct http_limits *lim,
             const struct http_header *headers)
{
    size_t i;

    check(sc->pos <= len);
    if (rc == 0)
        return;
    if (rc != 1) {
        check(rc == 400 || rc == 414 || rc == 431 || rc == 501 || rc == 505);
        check(req->error != NULL);
        return;
    }
    check(req->head_len <= len);
    check(req->head_len >= 4 && memcmp(base + req->head_len - 4, "\r\n\r\n", 4) == 0);
    check(req->method_len > 0 && inside(req->method_name, req->method_len, base, req->head_len));
    for (i = 0; i < req->method_len; i++)
        check(is_tchar((unsigned char)req->method_name[i]));
    check(req->target_len > 0 && inside(req->target, req->target_len, base, req->head_len));
    for (i = 0; i < req->target_len; i++)
        check((unsigned char)req->target[i] > 0x20 && (unsigned char)req->target[i] < 0x7f);
    check(req->minor == 0 || req->minor == 1);
    check(req->headers == headers);
    check(req->nheaders <= lim->max_headers);
    for (i = 0; i < req->nheaders; i++) {
        const struct http_header *h = &req->headers[i];
        size_t k;

        check(h->name_len > 0 && inside(h->name, h->name_len, base, req->head_len));
        check(inside(h->value, h->value_len, base, req->head_len));
        check(h->name[h->name_len] == ':');
        for (k = 0; k < h->name_len; k++)
            check(is_tchar((unsigned char)h->name[k]));
        for (k = 0; k < h->value_len; k++) {
            unsigned char c = (unsigned char)h->value[k];

            check(c == '\t' || (c >= 0x20 && c != 0x7f));
        }
        if (h->value_len > 0) {
            check(h->value[0] != ' ' && h->value[0] != '\t');
            check(h->value[h->value_len - 1] != ' ' && h->value[h->value_len - 1] != '\t');
        }
    }
    if (req->host != NULL)
        check(inside(req->host, req->host_len, base, req->head_len));
    else
        check(req->minor == 0);
    check(req->keep_alive == 0 || req->keep_alive == 1);
    check(req->body == HTTP_BODY_NONE || req->body == HTTP_BODY_LENGTH ||
          req->body == HTTP_BODY_CHUNKED);
    if (req->body == HTTP_BODY_LENGTH)
        check(req->content_length > 0);
    if (req->body == HTTP_BODY_CHUNKED)
        check(req->minor == 1);
}

static int
lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* The helpers the module routes with, against plain references. */
static void
check_helpers(const struct http_request *req)
{
    static const char *const tokens[] = { "upgrade", "websocket", "close", "keep-alive",
                                          "chunked", "a" };
    size_t i, j, k;

    for (i = 0; i < req->nheaders; i++) {
        const struct http_header *h = &req->headers[i];
        char name[64];

        /* find(name) is the first field with that name, any case. */
        if (h->name_len < sizeof(name)) {
            for (k = 0; k < h->name_len; k++)
                name[k] = (char)lower((unsigned char)h->name[k]);
            name[k] = '\0';
            for (j = 0; j < req->nheaders; j++)
                if (req->headers[j].name_len == h->name_len &&
                    strncasecmp(req->headers[j].name, name, h->name_len) == 0)
                    break;
            check(nd_http_header_find(req, name) == &req->headers[j]);
        }
        /* list_has(v, t): some comma-separated item, trimmed, is t. */
        for (j = 0; j < sizeof(tokens) / sizeof(tokens[0]); j++) {
            size_t tl = strlen(tokens[j]), s = 0, e;
            int ref = 0;

            while (s <= h->value_len) {
                size_t a, b;

                for (e = s; e < h->value_len && h->value[e] != ','; e++)
                    ;
                for (a = s; a < e && (h->value[a] == ' ' || h->value[a] == '\t'); a++)
                    ;
                for (b = e; b > a && (h->value[b - 1] == ' ' || h->value[b - 1] == '\t'); b--)
                    ;
                if (b - a == tl && strncasecmp(h->value + a, tokens[j], tl) == 0)
                    ref = 1;
                s = e + 1;
            }
            check(!!nd_http_list_has(h->value, h->value_len, tokens[j]) == ref);
        }
    }
}

/* Two parses of one request agree (pointers compared as offsets). */
static void
check_same(int rc1, const struct http_request *a, const char *abase, int rc2,
           const struct http_request *b, const char *bbase)
{
    size_t i;

    check(rc1 == rc2);
    if (rc1 != 1)
        return;
    check(a->head_len == b->head_len);
    check(a->method == b->method);
    check(a->method_name - abase == b->method_name - bbase);
    check(a->method_len == b->method_len);
    check(a->target - abase == b->target - bbase);
    check(a->target_len == b->target_len);
    check(a->minor == b->minor);
    check(a->nheaders == b->nheaders);
    for (i = 0; i < a->nheaders; i++) {
        check(a->headers[i].name - abase == b->headers[i].name - bbase);
        check(a->headers[i].name_len == b->headers[i].name_len);
        check(a->headers[i].value - abase == b->headers[i].value - bbase);
        check(a->headers[i].value_len == b->headers[i].value_len);
    }
    check((a->host == NULL) == (b->host == NULL));
    if (a->host != NULL)
        check(a->host - abase == b->host - bbase && a->host_len == b->host_len);
    check(a->keep_alive == b->keep_alive);
    check(a->body == b->body);
    check(a->content_length == b->content_length);
}

/* Decodes a chunked body at base[0..len): result, bytes used, data out. */
struct dechunk {
    int rc;
    size_t used;
    size_t dlen;
    char *data;
};

static void
dechunk_whole(const char *base, size_t len, struct dechunk *d)
{
    struct http_chunked ch = { 0 };
    size_t off = 0;

    d->rc = 0;
    d->dlen = 0;
    for (;;) {
        const char *data;
        size_t used, dlen;
        int rc = nd_http_chunked_feed(&ch, base + off, len - off, &used, &data, &dlen);

        check(rc == -1 || rc == 0 || rc == 1);
        if (rc < 0) {
            d->rc = -1;
            break;
        }
        check(used <= len - off);
        check(dlen == 0 || (data >= base + off && data + dlen == base + off + used));
        if (dlen > 0)
            memcpy(d->data + d->dlen, data, dlen);
        d->dlen += dlen;
        off += used;
        if (rc == 1) {
            d->rc = 1;
            break;
        }
        if (off == len)
            break;
        check(used > 0);    /* no progress with bytes left would loop forever */
    }
    d->used = off;
}

static void
dechunk_pieces(const char *buf, size_t buflen, const char *base, size_t len,
               struct pieces *p, struct dechunk *d)
{
    struct http_chunked ch = { 0 };
    size_t off = 0, avail = 0;

    d->rc = 0;
    d->dlen = 0;
    while (avail < len) {
        avail += next_piece(p, len - avail);
        expose(buf, buflen, base, avail);
        while (off < avail) {
            const char *data;
            size_t used, dlen;
            int rc = nd_http_chunked_feed(&ch, base + off, avail - off, &used, &data, &dlen);

            check(rc == -1 || rc == 0 || rc == 1);
            if (rc < 0) {
                d->rc = -1;
                goto out;
            }
            check(used <= avail - off);
            check(dlen == 0 || (data >= base + off && data + dlen == base + off + used));
            if (dlen > 0)
                memcpy(d->data + d->dlen, data, dlen);
            d->dlen += dlen;
            off += used;
            if (rc == 1) {
                d->rc = 1;
                goto out;
            }
            if (off < avail)
                check(used > 0);
        }
    }
out:
    unexpose(buf, buflen);
    d->used = off;
}

/* Chunked decoding gives the same answer whatever the split. Returns the
 * bytes the body took, or 0 when it did not end well. */
static size_t
check_chunked(const char *buf, size_t buflen, const char *base, size_t len,
              struct pieces *p)
{
    struct dechunk a, b;
    size_t used;

    a.data = malloc(len + 1);
    b.data = malloc(len + 1);
    check(a.data && b.data);
    dechunk_whole(base, len, &a);
    dechunk_pieces(buf, buflen, base, len, p, &b);
    check(a.rc == b.rc);
    if (a.rc >= 0) {
        check(a.used == b.used);
        check(a.dlen == b.dlen && memcmp(a.data, b.data, a.dlen) == 0);
    }
    check(a.dlen <= len);
    used = a.rc == 1 ? a.used : 0;
    free(a.data);
    free(b.data);
    return used;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    const struct http_limits *lim;
    struct http_header *h1, *h2;
    struct pieces p;
    size_t len, off = 0;
    char *buf;
    int n;

    if (size < 5)
        return 0;
    lim = &presets[in[0] & 3];
    p.steps = in + 1;
    p.i = 0;
    len = size - 5;
    buf = malloc(len ? len : 1);
    check(buf != NULL);
    memcpy(buf, in + 5, len);

    if (in[0] & 4) {
        check_chunked(buf, len, buf, len, &p);
        free(buf);
        return 0;
    }

    h1 = malloc(lim->max_headers * sizeof(*h1));
    h2 = malloc(lim->max_headers * sizeof(*h2));
    check(h1 && h2);
    for (n = 0; n < MAX_PIPELINED && off < len; n++) {
        const char *base = buf + off;
        size_t left = len - off, avail = 0;
        struct http_scan s1 = { 0 }, s2 = { 0 };
        struct http_request r1, r2;
        int rc1, rc2;

        /* In pieces, as reads arrive. */
        do {
            avail += next_piece(&p, left - avail);
            expose(buf, len, base, avail);
            rc1 = nd_http_parse_request(base, avail, &s1, lim, &r1, h1);
            unexpose(buf, len);
            check_result(rc1, &r1, &s1, base, avail, lim, h1);
        } while (rc1 == 0 && avail < left);

        /* All at once. */
        expose(buf, len, base, left);
        rc2 = nd_http_parse_request(base, left, &s2, lim, &r2, h2);
        unexpose(buf, len);
        check_result(rc2, &r2, &s2, base, left, lim, h2);
        check_same(rc1, &r1, base, rc2, &r2, base);
        if (rc1 == 1)
            check(s1.pos == s2.pos && s1.start == s2.start && s1.line_end == s2.line_end);
        if (rc1 != 1)
            break;
        check_helpers(&r2);

        /* The body, then the next request, as the module reads them. */
        off += r1.head_len;
        if (r1.body == HTTP_BODY_LENGTH) {
            if (r1.content_length > len - off)
                break;
            off += (size_t)r1.content_length;
        } else if (r1.body == HTTP_BODY_CHUNKED) {
            size_t used = check_chunked(buf, len, buf + off, len - off, &p);

            if (used == 0)
                break;
            off += used;
        }
    }
    free(h1);
    free(h2);
    free(buf);
    return 0;
}
