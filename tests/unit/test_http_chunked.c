/* test_http_chunked.c: nd_http_chunked_feed on valid and malformed bodies, fed
 * whole, one byte at a time and split at every offset, the unconsumed bytes
 * offered again as the module does. The data spans are reassembled and the
 * bytes consumed counted, so that nothing after the body is eaten. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"

/* What follows a body on the connection: it must never be consumed. */
static const char next_request[] = "GET /next HTTP/1.1\r\nHost: a\r\n\r\n";

struct dc_result {
    int rc;             /* 1 done, -1 malformed, 0 the input ran out */
    size_t used;        /* bytes consumed from the start */
    char *out;
    size_t outlen;
};

/* Feeds in[0..len) arriving in pieces ending at arrivals[] (the last one
 * must be len). Each call gets a fresh copy of exactly the unconsumed bytes
 * that have arrived. */
static void
dc_run(const char *in, size_t len, const size_t *arrivals, size_t narr, struct dc_result *res)
{
    struct http_chunked ch = { 0 };
    size_t off = 0;

    res->out = realloc(res->out, len + 1);
    cr_assert_not_null(res->out);
    res->outlen = 0;
    for (size_t a = 0; a < narr; a++) {
        size_t avail = arrivals[a];

        while (off < avail) {
            size_t n = avail - off, used = SIZE_MAX, dlen = SIZE_MAX;
            const char *data = in;      /* anything but what the call sets */
            char *copy = malloc(n);
            int rc;

            cr_assert_not_null(copy);
            memcpy(copy, in + off, n);
            rc = nd_http_chunked_feed(&ch, copy, n, &used, &data, &dlen);
            if (rc < 0) {
                free(copy);
                res->rc = -1;
                res->used = off;
                return;
            }
            cr_assert(rc == 0 || rc == 1, "rc %d", rc);
            cr_assert_leq(used, n, "used %zu of %zu", used, n);
            cr_assert_neq(dlen, SIZE_MAX, "dlen not set");
            if (dlen > 0) {
                cr_assert(data >= copy && (size_t)(data - copy) + dlen <= used,
                          "data span outside the consumed bytes");
                memcpy(res->out + res->outlen, data, dlen);
                res->outlen += dlen;
            }
            free(copy);
            off += used;
            if (rc == 1) {
                res->rc = 1;
                res->used = off;
                return;
            }
            cr_assert_gt(used, 0, "no progress at offset %zu", off);
        }
    }
    res->rc = 0;
    res->used = off;
}

/* Whole, byte by byte, and at every split: calls check() on each result. */
static void
dc_every_way(const char *in, size_t len, const void *want,
             void (*check)(const void *want, const struct dc_result *res, const char *mode,
                           size_t at))
{
    struct dc_result res = { 0 };
    size_t *arr = malloc((len + 1) * sizeof(*arr));

    cr_assert_not_null(arr);
    arr[0] = len;
    dc_run(in, len, arr, 1, &res);
    check(want, &res, "whole", 0);
    for (size_t i = 0; i < len; i++)
        arr[i] = i + 1;
    dc_run(in, len, arr, len, &res);
    check(want, &res, "bytewise", 0);
    for (size_t k = 1; k < len; k++) {
        arr[0] = k;
        arr[1] = len;
        dc_run(in, len, arr, 2, &res);
        check(want, &res, "split", k);
    }
    free(arr);
    free(res.out);
}

/* ---- valid bodies ---- */

struct chunk_ok {
    const char *what;
    const char *body;
    size_t len;
    const char *data;
    size_t dlen;
};

#define BODY(s) .body = (s), .len = sizeof(s) - 1
#define DATA(s) .data = (s), .dlen = sizeof(s) - 1

static const struct chunk_ok valid[] = {
    { "empty body", BODY("0\r\n\r\n"), DATA("") },
    { "one chunk", BODY("5\r\nhello\r\n0\r\n\r\n"), DATA("hello") },
    { "several chunks, CRLF inside the data",
      BODY("4\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n"),
      DATA("Wikipedia in\r\n\r\nchunks.") },
    { "lower and upper case hex",
      BODY("a\r\n0123456789\r\nA\r\nabcdefghij\r\n1f\r\nABCDEFGHIJKLMNOPQRSTUVWXYZ01234\r\n"
           "1F\r\nabcdefghijklmnopqrstuvwxyz56789\r\n0\r\n\r\n"),
      DATA("0123456789abcdefghijABCDEFGHIJKLMNOPQRSTUVWXYZ01234abcdefghijklmnopqrstuvwxyz56789") },
    { "leading zeros", BODY("000005\r\nhello\r\n000\r\n\r\n"), DATA("hello") },
    { "chunk extensions",
      BODY("5;name=value\r\nhello\r\n6;a;b=\"q s\"\r\n world\r\n0;last=1\r\n\r\n"),
      DATA("hello world") },
    { "whitespace before an extension", BODY("5 ;x=1\r\nhello\r\n3\t;y\r\nabc\r\n0\r\n\r\n"),
      DATA("helloabc") },
    { "obs-text in a quoted extension value", BODY("1;x=\"\xff\xfe\"\r\nA\r\n0\r\n\r\n"),
      DATA("A") },
    { "trailer fields", BODY("5\r\nhello\r\n0\r\nExpires: never\r\nX-Sum: 1\r\n\r\n"),
      DATA("hello") },
    { "trailers after an empty body", BODY("0\r\nX: y\r\n\r\n"), DATA("") },
    { "data that looks like framing", BODY("3\r\n0\r\n\r\n0\r\n\r\n"), DATA("0\r\n") },
    { "binary data", BODY("8\r\n\0\x01\r\n\xff\0\n\r\r\n1\r\n\0\r\n0\r\n\r\n"),
      DATA("\0\x01\r\n\xff\0\n\r\0") },
};

static void
check_ok(const void *w, const struct dc_result *res, const char *mode, size_t at)
{
    const struct chunk_ok *c = w;

    cr_assert_eq(res->rc, 1, "%s (%s %zu): rc %d", c->what, mode, at, res->rc);
    cr_assert_eq(res->used, c->len, "%s (%s %zu): consumed %zu of a %zu-byte body",
                 c->what, mode, at, res->used, c->len);
    cr_assert_eq(res->outlen, c->dlen, "%s (%s %zu): %zu data bytes", c->what, mode, at,
                 res->outlen);
    cr_assert(memcmp(res->out, c->data, c->dlen) == 0, "%s (%s %zu): data '%.*s'", c->what,
              mode, at, (int)res->outlen, res->out);
}

/* Every body of t[0..n) must decode to its data, however it is fed. */
static void
check_valid(const struct chunk_ok *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct chunk_ok *c = &t[i];
        size_t len = c->len + sizeof(next_request) - 1;
        char *in = malloc(len);

        cr_assert_not_null(in);
        memcpy(in, c->body, c->len);
        memcpy(in + c->len, next_request, sizeof(next_request) - 1);
        /* Alone (the input ends with the body), and with a request after it. */
        dc_every_way(in, c->len, c, check_ok);
        dc_every_way(in, len, c, check_ok);
        free(in);
    }
}

Test(http_chunked, valid_bodies)
{
    check_valid(valid, sizeof(valid) / sizeof(valid[0]));
}

Test(http_chunked, large_chunks)
{
    static const size_t sizes[] = { 0x1000, 0x1, 0x7ff, 0x100 };
    char *in = malloc(16384), *data = malloc(16384);
    size_t len = 0, dlen = 0;
    struct chunk_ok c = { .what = "large chunks" };

    cr_assert(in != NULL && data != NULL);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        len += (size_t)sprintf(in + len, "%zx\r\n", sizes[i]);
        for (size_t k = 0; k < sizes[i]; k++)
            data[dlen++] = in[len++] = (char)(k * 7 + i);
        memcpy(in + len, "\r\n", 2);
        len += 2;
    }
    memcpy(in + len, "0\r\n\r\n", 5);
    len += 5;
    c.body = in;
    c.len = len;
    c.data = data;
    c.dlen = dlen;
    memcpy(in + len, "NEXT", 4);
    dc_every_way(in, len + 4, &c, check_ok);
    free(in);
    free(data);
}

Test(http_chunked, largest_size_accepted)
{
    /* 2^63 - 1 is taken; only its first bytes are here, so it waits. */
    static const char in[] = "7fffffffffffffff\r\nabc";
    struct http_chunked ch = { 0 };
    const char *data;
    size_t used, dlen, off = 0;
    int rc;

    do {
        rc = nd_http_chunked_feed(&ch, in + off, sizeof(in) - 1 - off, &used, &data, &dlen);
        off += used;
    } while (rc == 0 && dlen == 0 && off < sizeof(in) - 1);
    cr_assert_eq(rc, 0);
    cr_assert_eq(dlen, 3);
    cr_assert(memcmp(data, "abc", 3) == 0);
    cr_assert_eq(off, sizeof(in) - 1);
}

Test(http_chunked, long_extension_accepted)
{
    char in[1200];
    size_t len;
    struct chunk_ok c = { .what = "a 1000-byte extension", DATA("hello") };

    memcpy(in, "5;x=", 4);
    memset(in + 4, 'e', 1000);
    len = 1004;
    len += (size_t)sprintf(in + len, "\r\nhello\r\n0\r\n\r\n");
    c.body = in;
    c.len = len;
    dc_every_way(in, len, &c, check_ok);
}

/* ---- malformed framing ---- */

struct chunk_bad {
    const char *what;
    const char *body;
    size_t len;
};

static const struct chunk_bad invalid[] = {
    { "non-hex size", BODY("zz\r\nhello\r\n0\r\n\r\n") },
    { "g is not hex", BODY("g\r\n") },
    { "hex then junk", BODY("5g\r\nhello\r\n0\r\n\r\n") },
    { "empty size line", BODY("\r\nhello\r\n0\r\n\r\n") },
    { "space before the size", BODY(" 5\r\nhello\r\n0\r\n\r\n") },
    { "extension without a size", BODY(";x\r\nhello\r\n0\r\n\r\n") },
    { "negative size", BODY("-5\r\nhello\r\n0\r\n\r\n") },
    { "signed size", BODY("+5\r\nhello\r\n0\r\n\r\n") },
    { "0x prefix", BODY("0x5\r\nhello\r\n0\r\n\r\n") },
    { "no CRLF after the data", BODY("5\r\nhelloX\r\n0\r\n\r\n") },
    { "CR then junk after the data", BODY("5\r\nhello\rX0\r\n\r\n") },
    { "CR CR after the data", BODY("5\r\nhello\r\r\n0\r\n\r\n") },
    { "more data than the size", BODY("5\r\nhello!\r\n0\r\n\r\n") },
    { "less data than the size", BODY("5\r\nhell\r\n0\r\n\r\n") },
    { "no last chunk", BODY("5\r\nhello\r\n\r\n") },
    { "bare LF after the size", BODY("5\nhello\r\n0\r\n\r\n") },
    { "bare LF after the data", BODY("5\r\nhello\n0\r\n\r\n") },
    { "bare LF after an extension", BODY("5;ext\nhello\r\n0\r\n\r\n") },
    { "bare LF after the last chunk", BODY("0\n\r\n") },
    { "bare LF ending the trailers", BODY("0\r\n\n") },
    { "bare LF after a trailer", BODY("0\r\nX: y\n\r\n") },
    { "bare LF as the final line", BODY("0\r\nX: y\r\n\n") },
    { "bare CR after the size", BODY("5\r\rhello\r\n0\r\n\r\n") },
    { "bare CR in an extension", BODY("5;a\rb\r\nhello\r\n0\r\n\r\n") },
    { "bare CR in a trailer", BODY("0\r\nX: y\rz\r\n\r\n") },
    { "size of 2^64", BODY("10000000000000000\r\n") },
    { "size of 2^64 - 1", BODY("FFFFFFFFFFFFFFFF\r\n") },
    { "size of 2^63", BODY("8000000000000000\r\n") },
    { "size of 20 hex digits", BODY("ffffffffffffffffffff\r\n") },
    { "SOH in an extension", BODY("5;a\x01\r\nhello\r\n0\r\n\r\n") },
    { "DEL in an extension", BODY("5;a=\x7f\r\nhello\r\n0\r\n\r\n") },
    { "ESC in an extension", BODY("5;a=\x1b\r\nhello\r\n0\r\n\r\n") },
    { "NUL in an extension", BODY("5;\0\r\nhello\r\n0\r\n\r\n") },
    { "CTL in the last chunk's extension", BODY("0;\x02\r\n\r\n") },
    { "control byte after the last chunk", BODY("0\r\n\x01\r\n\r\n") },
    { "space after the last chunk", BODY("0\r\n \r\n\r\n") },
    { "folded trailer", BODY("0\r\n\tX: y\r\n\r\n") },
    { "colon starting a trailer", BODY("0\r\n:\r\n\r\n") },
    { "control byte in a trailer", BODY("0\r\nX: \x01\r\n\r\n") },
    { "control byte in a trailer name", BODY("0\r\nX\x01\r\n\r\n") },
    { "NUL in a trailer", BODY("0\r\nX: \0\r\n\r\n") },
    { "CR then junk at the end", BODY("0\r\n\rX") },
    { "CR CR at the end", BODY("0\r\n\r\r") },
    { "CR NUL at the end", BODY("0\r\n\r\0") },
};

static void
check_bad(const void *w, const struct dc_result *res, const char *mode, size_t at)
{
    const struct chunk_bad *c = w;

    cr_assert_eq(res->rc, -1, "%s (%s %zu): rc %d, consumed %zu", c->what, mode, at,
                 res->rc, res->used);
}

Test(http_chunked, malformed_framing)
{
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
        dc_every_way(invalid[i].body, invalid[i].len, &invalid[i], check_bad);
}

/* ---- chunk extensions, exactly per RFC 9112 7.1.1 ----
 *
 *   chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
 *   chunk-ext-name = token, chunk-ext-val = token / quoted-string
 *
 * Anything else on a size line is malformed framing: a lenient decoder that
 * skips to the CR reads "1 0" or "5 junk" differently from a proxy that
 * does not, and the two then disagree about where the body ends. */

static const struct chunk_ok ext_valid[] = {
    { "name=token", BODY("5;x=1\r\nhello\r\n0\r\n\r\n"), DATA("hello") },
    { "BWS around ';' and '='", BODY("5 ; x = 1\r\nhello\r\n0\r\n\r\n"), DATA("hello") },
    { "tabs as BWS", BODY("5\t;\ta=b\r\nhello\r\n0\r\n\r\n"), DATA("hello") },
    { "runs of BWS", BODY("5 \t ;  a \t;\t b\t =\t c\r\nhello\r\n0\r\n\r\n"), DATA("hello") },
    { "a name alone, then name=token", BODY("5;a;b=2\r\nhello\r\n0\r\n\r\n"), DATA("hello") },
    { "quoted-pair and ';' in a quoted value",
      BODY("5;a=\"q\\\"uo;ted\"\r\nhello\r\n0\r\n\r\n"), DATA("hello") },
    { "an empty quoted value", BODY("5;a=\"\"\r\nhello\r\n0\r\n\r\n"), DATA("hello") },
    { "BWS around a quoted value", BODY("5;a = \"x y\" ;b\r\nhello\r\n0\r\n\r\n"),
      DATA("hello") },
    { "quoted-string: HTAB, SP, '=', obs-text, escaped backslash",
      BODY("5;a=\"\t x=\x80\xff\\\\\"\r\nhello\r\n0\r\n\r\n"), DATA("hello") },
    { "quoted-pair of HTAB, SP and obs-text", BODY("5;a=\"\\\t\\ \\\xfe\"\r\nhello\r\n0\r\n\r\n"),
      DATA("hello") },
    { "every tchar in a name and a token value",
      BODY("5;!#$%&'*+-.^_`|~09AZaz=!#$%&'*+-.^_`|~09AZaz\r\nhello\r\n0\r\n\r\n"),
      DATA("hello") },
    { "extensions on every chunk and the last",
      BODY("2;a=1\r\nhe\r\n3 ;b;c=\"d\"\r\nllo\r\n0;end=\"\\\"\"\r\nT: v\r\n\r\n"),
      DATA("hello") },
};

static const struct chunk_bad ext_invalid[] = {
    { "no ';' before the text", BODY("2 erfrferferf\r\nhi\r\n0\r\n\r\n") },
    { "no ';' before a name=value", BODY("2 a=b\r\nhi\r\n0\r\n\r\n") },
    { "',' instead of ';'", BODY("2,a=b\r\nhi\r\n0\r\n\r\n") },
    { "an empty name", BODY("2;\r\nhi\r\n0\r\n\r\n") },
    { "an empty name after BWS", BODY("2 ; \r\nhi\r\n0\r\n\r\n") },
    { "an empty name between ';'", BODY("2;;a\r\nhi\r\n0\r\n\r\n") },
    { "an empty name before '='", BODY("2;=x\r\nhi\r\n0\r\n\r\n") },
    { "a quoted name", BODY("2;\"a\"=b\r\nhi\r\n0\r\n\r\n") },
    { "obs-text in a name", BODY("2;a\x80\r\nhi\r\n0\r\n\r\n") },
    { "obs-text in a token value", BODY("1;x=\xff\xfe\r\nA\r\n0\r\n\r\n") },
    { "an empty value", BODY("2;a=\r\nhi\r\n0\r\n\r\n") },
    { "an empty value before ';'", BODY("2;a=;b\r\nhi\r\n0\r\n\r\n") },
    { "an empty value after BWS", BODY("2;a= \r\nhi\r\n0\r\n\r\n") },
    { "'=' twice", BODY("2;a==b\r\nhi\r\n0\r\n\r\n") },
    { "'=' in a token value", BODY("2;a=b=c\r\nhi\r\n0\r\n\r\n") },
    { "'\"' in a token value", BODY("2;a=b\"c\"\r\nhi\r\n0\r\n\r\n") },
    { "two names with only BWS between", BODY("2;a b\r\nhi\r\n0\r\n\r\n") },
    { "two tokens with only BWS between", BODY("2;a=b c\r\nhi\r\n0\r\n\r\n") },
    { "text after a quoted value", BODY("2;a=\"x\"y\r\nhi\r\n0\r\n\r\n") },
    { "two quoted values", BODY("2;a=\"x\"\"y\"\r\nhi\r\n0\r\n\r\n") },
    { "an unbalanced quote", BODY("5;a=\"abc;b=c\r\nhello\r\n0\r\n\r\n") },
    { "an unbalanced quote, escaped", BODY("5;a=\"abc\\\"\r\nhello\r\n0\r\n\r\n") },
    { "BWS after the size alone", BODY("a \r\n0123456789\r\n0\r\n\r\n") },
    { "a tab after the size alone", BODY("a\t\r\n0123456789\r\n0\r\n\r\n") },
    { "a digit after BWS: 1 0", BODY("1 0\r\nX\r\n0\r\n\r\n") },
    { "a digit after a tab: 1\\t0", BODY("1\t0\r\nX\r\n0\r\n\r\n") },
    { "a digit after BWS in the last chunk", BODY("0 0\r\n\r\n") },
    { "BWS after a name", BODY("2;a \r\nhi\r\n0\r\n\r\n") },
    { "BWS after a token value", BODY("2;a=b\t\r\nhi\r\n0\r\n\r\n") },
    { "BWS after a quoted value", BODY("2;a=\"b\" \r\nhi\r\n0\r\n\r\n") },
    { "BWS after '=' at the end", BODY("2;a =\t\r\nhi\r\n0\r\n\r\n") },
    { "bare CR in a name", BODY("2;a\rb\r\nhi\r\n0\r\n\r\n") },
    { "bare CR after BWS", BODY("2 \r;a\r\nhi\r\n0\r\n\r\n") },
    { "bare CR after '='", BODY("2;a=\r\r\nhi\r\n0\r\n\r\n") },
    { "bare CR in a token value", BODY("2;a=b\rc\r\nhi\r\n0\r\n\r\n") },
    { "bare CR after a quoted value", BODY("2;a=\"b\"\rc\r\nhi\r\n0\r\n\r\n") },
    { "CR CR ending an extension", BODY("2;a\r\r\nhi\r\n0\r\n\r\n") },
    { "bare LF ending a name", BODY("2;a\nhi\r\n0\r\n\r\n") },
    { "bare LF ending a value", BODY("2;a=b\nhi\r\n0\r\n\r\n") },
    { "bare LF ending a quoted value", BODY("2;a=\"b\"\nhi\r\n0\r\n\r\n") },
    { "bare LF in a name", BODY("2;a\nb\r\nhi\r\n0\r\n\r\n") },
    { "bare LF after the size", BODY("2 ;a\n\r\nhi\r\n0\r\n\r\n") },
    { "CR in a quoted value", BODY("2;a=\"b\rc\"\r\nhi\r\n0\r\n\r\n") },
    { "LF in a quoted value", BODY("2;a=\"b\nc\"\r\nhi\r\n0\r\n\r\n") },
    { "SOH in a quoted value", BODY("2;a=\"b\x01\"\r\nhi\r\n0\r\n\r\n") },
    { "NUL in a quoted value", BODY("2;a=\"\0\"\r\nhi\r\n0\r\n\r\n") },
    { "DEL in a quoted value", BODY("2;a=\"\x7f\"\r\nhi\r\n0\r\n\r\n") },
    { "quoted-pair of a control byte", BODY("2;a=\"\\\x01\"\r\nhi\r\n0\r\n\r\n") },
    { "quoted-pair of DEL", BODY("2;a=\"\\\x7f\"\r\nhi\r\n0\r\n\r\n") },
    { "quoted-pair of CR", BODY("2;a=\"\\\r\n\"\r\nhi\r\n0\r\n\r\n") },
    { "a quoted value with no '='", BODY("2;a\"b\"\r\nhi\r\n0\r\n\r\n") },
};

Test(http_chunked, extensions_accepted)
{
    check_valid(ext_valid, sizeof(ext_valid) / sizeof(ext_valid[0]));
}

Test(http_chunked, extensions_rejected)
{
    for (size_t i = 0; i < sizeof(ext_invalid) / sizeof(ext_invalid[0]); i++)
        dc_every_way(ext_invalid[i].body, ext_invalid[i].len, &ext_invalid[i], check_bad);
}

/* MAX_SIZE_LINE (4096) bounds every byte of a size line, CRLF included,
 * whichever part of the grammar the bytes are in. */
Test(http_chunked, size_line_bound)
{
    /* head, then fill bytes of pad, then tail, then CRLF */
    static const struct { const char *what, *head; char pad; const char *tail; } kinds[] = {
        { "leading zeros", "", '0', "5" },
        { "a token value", "5;x=", 'e', "" },
        { "a quoted value", "5;x=\"", 'q', "\"" },
        { "BWS", "5", ' ', ";x" },
    };
    char in[4200];

    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        for (size_t line = 4095; line <= 4097; line++) {
            size_t hl = strlen(kinds[k].head), tl = strlen(kinds[k].tail);
            size_t fill = line - hl - tl - 2, len;
            char what[64];

            memcpy(in, kinds[k].head, hl);
            memset(in + hl, kinds[k].pad, fill);
            memcpy(in + hl + fill, kinds[k].tail, tl);
            len = hl + fill + tl;
            len += (size_t)sprintf(in + len, "\r\nhello\r\n0\r\n\r\n");
            snprintf(what, sizeof(what), "%s, a %zu-byte size line", kinds[k].what, line);
            if (line <= 4096) {
                struct chunk_ok c = { .what = what, .body = in, .len = len, DATA("hello") };

                dc_every_way(in, len, &c, check_ok);
            } else {
                struct chunk_bad c = { .what = what, .body = in, .len = len };

                dc_every_way(in, len, &c, check_bad);
            }
        }
    }
}

/* Line lengths are bounded: a peer cannot make the decoder scan forever. */
Test(http_chunked, endless_lines_refused)
{
    static const char *const what[] = { "leading zeros", "extension", "trailers" };
    size_t n = 40000;
    char *in = malloc(n + 16);

    cr_assert_not_null(in);
    for (int kind = 0; kind < 3; kind++) {
        struct chunk_bad c = { .what = what[kind], .body = in, .len = n };
        struct dc_result res = { 0 };
        size_t whole = n;

        if (kind == 0) {
            memset(in, '0', n);
        } else if (kind == 1) {
            memcpy(in, "5;", 2);
            memset(in + 2, 'x', n - 2);
        } else {
            size_t k;

            memcpy(in, "0\r\n", 3);
            for (k = 3; k + 8 <= n; k += 8)
                memcpy(in + k, "X: abc\r\n", 8);
            memset(in + k, 'Y', n - k);
        }
        dc_run(in, n, &whole, 1, &res);
        check_bad(&c, &res, "whole", 0);
        free(res.out);
    }
    free(in);
}

/* http_parse.h: "Sets *used to the bytes consumed" on every return, and the
 * module's read_body() consumes *used before it looks at the verdict. On -1
 * the decoder leaves *used as it was: read_body() then consumes an
 * uninitialized count (valgrind: "Conditional jump or move depends on
 * uninitialised value(s)" at nd_buf_consume, buf.c:101). */
Test(http_chunked, used_set_when_malformed)
{
    static const struct { const char *in; size_t len; } bad[] = {
        { "zz\r\n", 4 },
        { "5\r\nhelloX\r\n", 11 },
        { "0\r\n\x01\r\n\r\n", 8 },
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct http_chunked ch = { 0 };
        size_t off = 0, used, dlen;
        const char *data;
        int rc;

        do {
            used = SIZE_MAX;
            rc = nd_http_chunked_feed(&ch, bad[i].in + off, bad[i].len - off, &used, &data, &dlen);
            if (rc == 0)
                off += used;
        } while (rc == 0 && off < bad[i].len);
        cr_assert_eq(rc, -1, "case %zu", i);
        cr_expect_leq(used, bad[i].len - off,
                      "case %zu: -1 with *used left unset (%zu), %zu bytes offered",
                      i, used, bad[i].len - off);
    }
}
