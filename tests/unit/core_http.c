/* core_http.c: the HTTP parser on a table of requests, each fed whole, one
 * byte at a time, and split at every offset; the chunked decoder likewise. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "nd/http_parse.h"

static const struct http_limits lim = { 8192, 16384, 100 };
static struct http_header hdrs[100];

struct want {
    const char *req;
    int result;                 /* 1, or the error status */
    enum http_method method;
    int minor, keep_alive;
    enum http_body body;
    uint64_t length;
    size_t nheaders;
};

static const struct want table[] = {
    { "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 1, HTTP_GET, 1, 1, HTTP_BODY_NONE, 0, 1 },
    { "HEAD /x?y HTTP/1.0\r\n\r\n", 1, HTTP_HEAD, 0, 0, HTTP_BODY_NONE, 0, 0 },
    { "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 1, HTTP_GET, 0, 1, HTTP_BODY_NONE, 0, 1 },
    { "GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n", 1, HTTP_GET, 1, 0,
      HTTP_BODY_NONE, 0, 2 },
    { "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n", 1, HTTP_POST, 1, 1,
      HTTP_BODY_LENGTH, 5, 2 },
    { "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", 1, HTTP_POST, 1, 1,
      HTTP_BODY_LENGTH, 5, 2 },
    { "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", 1, HTTP_POST, 1, 1,
      HTTP_BODY_NONE, 0, 2 },
    { "POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 1, HTTP_POST, 1, 1,
      HTTP_BODY_CHUNKED, 0, 2 },
    { "BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n", 1, HTTP_OTHER, 1, 1, HTTP_BODY_NONE, 0, 1 },
    { "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", 1, HTTP_OPTIONS, 1, 1, HTTP_BODY_NONE, 0, 1 },
    { "GET http://a/b HTTP/1.1\r\nHost: a\r\n\r\n", 1, HTTP_GET, 1, 1, HTTP_BODY_NONE, 0, 1 },
    { "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 1, HTTP_GET, 1, 1, HTTP_BODY_NONE, 0, 1 },
    { "GET / HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9 \xff  \r\n\r\n", 1, HTTP_GET, 1, 1,
      HTTP_BODY_NONE, 0, 2 },
    { "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", 1, HTTP_GET, 1, 1, HTTP_BODY_NONE, 0, 1 },
    /* rejections */
    { "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, HTTP_OTHER, 0, 0, HTTP_BODY_NONE, 0, 0 },
    { "GET / HTTP/1.1\r\nHost: a, b\r\n\r\n", 400, HTTP_OTHER, 0, 0, HTTP_BODY_NONE, 0, 0 },
    { "GET / HTTP/1.1\r\nHost: a/b@c\r\n\r\n", 400, HTTP_OTHER, 0, 0, HTTP_BODY_NONE, 0, 0 },
    { "GET / HTTP/1.1\r\n\r\n", 400, HTTP_OTHER, 0, 0, HTTP_BODY_NONE, 0, 0 },
    { "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, HTTP_OTHER, 0, 0, HTTP_BODY_NONE, 0, 0 },
    { "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, HTTP_OTHER, 0, 0, HTTP_BODY_NONE, 0, 0 },
    { "GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n z\r\n\r\n", 400, HTTP_OTHER, 0, 0, HTTP_BODY_NONE, 0, 0 },
    { "GET / HTTP/1.1\r\nHost: a\r\n\tz\r\n\r\n", 400, HTTP_OTHER, 0, 0, HTTP_BODY_NONE, 0, 0 },
    { "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", 400, HTTP_OTHER, 0, 0, HTTP_BODY_NONE, 0, 0 },
    { "GET / HTTP/1.1\nHost: a\r\n\r\n", 400, HTTP_OTHER, 0, 0, HTTP_BODY_NONE, 0, 0 },
    { "GET / HTTP/1.1\r\nHost: a\n\r\n", 400, HTTP_OTHER, 0, 0, HTTP_BODY_NONE, 0, 0 },
    { "G T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, HTTP_OTHER, 0, 0, HTTP_BODY_NONE, 0, 0 },
    { "G\x01T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, HTTP_OTHER, 0, 0, HTTP_BODY_NONE, 0, 0 },
    { "GET / HTTP/1.1\r\nHo\"st: a\r\n\r\n", 400, HTTP_OTHER, 0, 0, HTTP_BODY_NONE, 0, 0 },
    { "GET / HTTP/1.1\r\n: a\r\n\r\n", 400, HTTP_OTHER, 0, 0, HTTP_BODY_NONE, 0, 0 },
    { "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400, HTTP_OTHER, 0, 0, HTTP_BODY_NONE, 0, 0 },
    { "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400, HTTP_OTHER, 0, 0, HTTP_BODY_NONE, 0, 0 },
    { "GET /\x80 HTTP/1.1\r\nHost: a\r\n\r\n", 400, HTTP_OTHER, 0, 0, HTTP_BODY_NONE, 0, 0 },
    { "GET / http/1.1\r\nHost: a\r\n\r\n", 400, HTTP_OTHER, 0, 0, HTTP_BODY_NONE, 0, 0 },
    { "GET /\r\nHost: a\r\n\r\n", 400, HTTP_OTHER, 0, 0, HTTP_BODY_NONE, 0, 0 },
    { "GET / HTTP/1.1\r\nHost: a\r\nCL: 1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400, HTTP_OTHER, 0, 0, HTTP_BODY_NONE, 0, 0 },
    { "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400, HTTP_OTHER, 0, 0, HTTP_BODY_NONE, 0, 0 },
    { "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400, HTTP_OTHER, 0, 0, HTTP_BODY_NONE, 0, 0 },
    { "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400, HTTP_OTHER, 0, 0, HTTP_BODY_NONE, 0, 0 },
    { "GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, HTTP_OTHER, 0, 0, HTTP_BODY_NONE, 0, 0 },
    { "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 2\r\n\r\n", 400, HTTP_OTHER, 0, 0, HTTP_BODY_NONE, 0, 0 },
    { "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", 400, HTTP_OTHER, 0, 0, HTTP_BODY_NONE, 0, 0 },
    { "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n", 400, HTTP_OTHER, 0, 0, HTTP_BODY_NONE, 0, 0 },
    { "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400, HTTP_OTHER, 0, 0, HTTP_BODY_NONE, 0, 0 },
    { "GET / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400, HTTP_OTHER, 0, 0, HTTP_BODY_NONE, 0, 0 },
    { "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 184467440737095516160\r\n\r\n", 400, HTTP_OTHER, 0, 0, HTTP_BODY_NONE, 0, 0 },
    { "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: foo, chunked\r\n\r\n", 501, HTTP_OTHER, 0, 0, HTTP_BODY_NONE, 0, 0 },
    { "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, HTTP_OTHER, 0, 0, HTTP_BODY_NONE, 0, 0 },
    { "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505, HTTP_OTHER, 0, 0, HTTP_BODY_NONE, 0, 0 },
    { "GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505, HTTP_OTHER, 0, 0, HTTP_BODY_NONE, 0, 0 },
};

static void
check_fields(const struct want *w, const struct http_request *r, size_t len)
{
    cr_assert_eq(r->head_len, len, "%s: head_len", w->req);
    cr_assert_eq(r->method, w->method, "%s: method", w->req);
    cr_assert_eq(r->minor, w->minor, "%s: minor", w->req);
    cr_assert_eq(r->keep_alive, w->keep_alive, "%s: keep_alive", w->req);
    cr_assert_eq(r->body, w->body, "%s: body", w->req);
    if (w->body == HTTP_BODY_LENGTH)
        cr_assert_eq(r->content_length, w->length, "%s: length", w->req);
    cr_assert_eq(r->nheaders, w->nheaders, "%s: headers", w->req);
}

/* Feeds prefixes of growing length (as the module does), with one scan. */
static int
feed(const char *req, size_t len, const size_t *cuts, size_t ncuts, struct http_request *r)
{
    struct http_scan scan = { 0 };
    size_t i;
    int rc;

    for (i = 0; i < ncuts; i++) {
        rc = http_parse_request(req, cuts[i], &scan, &lim, r, hdrs);
        if (rc != 0)
            return rc;
    }
    return http_parse_request(req, len, &scan, &lim, r, hdrs);
}

Test(core_http, table_whole_bytewise_and_every_split)
{
    static size_t cuts[20000];

    for (size_t t = 0; t < sizeof(table) / sizeof(table[0]); t++) {
        const struct want *w = &table[t];
        size_t len = strlen(w->req), i;
        struct http_request r;
        int rc;

        rc = feed(w->req, len, cuts, 0, &r);
        cr_assert_eq(rc, w->result, "whole: %s (%s)", w->req, r.error ? r.error : "");
        if (rc == 1)
            check_fields(w, &r, len);
        for (i = 0; i < len - 1; i++)
            cuts[i] = i + 1;
        rc = feed(w->req, len, cuts, len - 1, &r);
        cr_assert_eq(rc, w->result, "bytewise: %s", w->req);
        if (rc == 1)
            check_fields(w, &r, len);
        for (i = 1; i < len; i++) {
            size_t cut = i;

            rc = feed(w->req, len, &cut, 1, &r);
            cr_assert_eq(rc, w->result, "split at %zu: %s", i, w->req);
            if (rc == 1)
                check_fields(w, &r, len);
        }
    }
}

Test(core_http, limits_give_414_and_431)
{
    static const struct http_limits small = { 32, 64, 3 };
    struct http_scan scan = { 0 };
    struct http_request r;
    char buf[256];

    /* The request line may be exactly 32 bytes, not 33. */
    snprintf(buf, sizeof(buf), "GET /%s HTTP/1.1\r\nHost: a\r\n\r\n", "aaaaaaaaaaaaaaaaaa");
    cr_assert_eq(http_parse_request(buf, strlen(buf), &scan, &small, &r, hdrs), 1);
    memset(&scan, 0, sizeof(scan));
    snprintf(buf, sizeof(buf), "GET /%s HTTP/1.1\r\nHost: a\r\n\r\n", "aaaaaaaaaaaaaaaaaaa");
    cr_assert_eq(http_parse_request(buf, strlen(buf), &scan, &small, &r, hdrs), 414);
    /* Too long even before the line ends. */
    memset(&scan, 0, sizeof(scan));
    memset(buf, 'a', 40);
    cr_assert_eq(http_parse_request(buf, 40, &scan, &small, &r, hdrs), 414);
    memset(&scan, 0, sizeof(scan));
    snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: a\r\nX: %070d\r\n\r\n", 0);
    cr_assert_eq(http_parse_request(buf, strlen(buf), &scan, &small, &r, hdrs), 431);
    memset(&scan, 0, sizeof(scan));
    snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n");
    cr_assert_eq(http_parse_request(buf, strlen(buf), &scan, &small, &r, hdrs), 431);
}

Test(core_http, pipelined_head_len)
{
    static const char two[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n";
    struct http_scan scan = { 0 };
    struct http_request r;

    cr_assert_eq(http_parse_request(two, sizeof(two) - 1, &scan, &lim, &r, hdrs), 1);
    cr_assert_eq(r.head_len, (sizeof(two) - 1) / 2);
    cr_assert_eq(r.target_len, 2);
    cr_assert(memcmp(r.target, "/a", 2) == 0);
    cr_assert(r.host_len == 1 && r.host[0] == 'x');
}

/* Decodes a chunked body fed in pieces of `step` bytes. */
static int
dechunk(const char *in, size_t len, size_t step, char *out, size_t *outlen, size_t *used_total)
{
    struct http_chunked ch = { 0 };
    size_t off = 0, have = 0;

    *outlen = 0;
    while (off < len) {
        size_t n = len - off < step ? len - off : step, used, dlen;
        const char *data;
        int rc;

        /* Offer what is unconsumed (the module keeps leftovers). */
        have = n;
        while (have > 0) {
            rc = http_chunked_feed(&ch, in + off, have, &used, &data, &dlen);
            if (dlen > 0)
                memcpy(out + *outlen, data, dlen);
            *outlen += dlen;
            off += used;
            have -= used;
            if (rc != 0) {
                *used_total = off;
                return rc;
            }
            if (used == 0)
                break;
        }
    }
    *used_total = off;
    return 0;
}

Test(core_http, chunked_valid_at_every_step)
{
    static const char body[] = "5\r\nhello\r\n1A;ext=1;q=\"x\"\r\nabcdefghijklmnopqrstuvwxyz\r\n"
                               "0\r\nTrailer: t\r\n\r\nNEXT";
    char out[256];
    size_t outlen, used;

    for (size_t step = 1; step <= sizeof(body); step++) {
        int rc = dechunk(body, sizeof(body) - 1, step, out, &outlen, &used);

        cr_assert_eq(rc, 1, "step %zu", step);
        cr_assert_eq(outlen, 31);
        cr_assert(memcmp(out, "helloabcdefghijklmnopqrstuvwxyz", 31) == 0);
        cr_assert_eq(used, sizeof(body) - 1 - 4, "the bytes after the body are not eaten");
    }
    cr_assert_eq(dechunk("0\r\n\r\n", 5, 1, out, &outlen, &used), 1);
    cr_assert_eq(outlen, 0);
}

Test(core_http, chunked_invalid)
{
    static const char *const bad[] = {
        "zz\r\n", "5\r\nhelloX\r\n", "5\nhello\r\n", "5\r\nhello\n", "\r\n",
        "FFFFFFFFFFFFFFFFF\r\n", "5;a\x01\r\n", "0\r\n\r\x00", "0\r\nX\x01\r\n\r\n", "-5\r\n",
    };
    char out[256];
    size_t outlen, used;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(dechunk(bad[i], strlen(bad[i]) + (i == 7 ? 1 : 0), 1, out, &outlen, &used),
                     -1, "accepted %zu", i);
}
