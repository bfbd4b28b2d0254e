/* test_access_fmt.c: the access log's escaping (every byte value, cutting
 * long fields), its timestamp, and its two line formats field by field. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "access_fmt.h"

static char out[ND_ACCESS_LINE_MAX + 1];

static const char *
esc(const char *s, size_t n, size_t cap, int in_quotes)
{
    size_t k = nd_access_escape(out, cap, s, n, in_quotes);

    cr_assert_leq(k, cap);
    out[k] = '\0';
    return out;
}

Test(access_fmt, escaping_table)
{
    static const struct { const char *in; size_t n; int q; const char *out; } t[] = {
        { "/index.html?a=1&b=2", 19, 1, "/index.html?a=1&b=2" },
        { "", 0, 1, "" },
        { "a\"b", 3, 1, "a\\x22b" },
        { "a\\b", 3, 1, "a\\x5cb" },
        { "a b", 3, 1, "a b" },            /* inside quotes a space is safe */
        { "a b", 3, 0, "a\\x20b" },        /* outside it would split the field */
        { "\n\r\t", 3, 1, "\\x0a\\x0d\\x09" },
        { "\0x", 2, 1, "\\x00x" },
        { "\x7f", 1, 1, "\\x7f" },
        { "caf\xc3\xa9", 5, 1, "caf\\xc3\\xa9" },
        { "~!", 2, 0, "~!" },
    };
    size_t i;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        cr_assert_str_eq(esc(t[i].in, t[i].n, 64, t[i].q), t[i].out, "case %zu", i);
}

Test(access_fmt, every_byte_value)
{
    int b;

    for (b = 0; b < 256; b++) {
        char in = (char)b;
        int kept = b > 0x20 && b < 0x7f && b != '"' && b != '\\';
        char want[8];

        if (kept)
            snprintf(want, sizeof(want), "%c", b);
        else
            snprintf(want, sizeof(want), "\\x%02x", b);
        cr_assert_str_eq(esc(&in, 1, 8, 0), want, "byte 0x%02x", b);
        /* Whatever the byte, the result can neither end a line nor a field. */
        cr_assert_null(strpbrk(out, "\n\r \"\t"), "byte 0x%02x", b);
    }
}

Test(access_fmt, a_long_field_is_cut_whole_and_marked)
{
    cr_assert_str_eq(esc("abcdefgh", 8, 8, 1), "abcdefgh");        /* fits exactly */
    cr_assert_str_eq(esc("abcdefghi", 9, 8, 1), "abcde...");
    /* An escape is never cut in half: \x01 does not fit in the 2 bytes left. */
    cr_assert_str_eq(esc("abc\x01xyz", 7, 8, 1), "abc...");
    cr_assert_str_eq(esc("\x01\x02\x03", 3, 8, 1), "\\x01...");
    cr_assert_str_eq(esc("\x01\x02", 2, 8, 1), "\\x01\\x02");
}

Test(access_fmt, iso8601_utc_with_milliseconds)
{
    char s[25] = { 0 };

    nd_access_iso8601(s, 0, 0);
    cr_assert_str_eq(s, "1970-01-01T00:00:00.000Z");
    nd_access_iso8601(s, 1796253005, 123);      /* 2026-12-02 23:10:05 UTC */
    cr_assert_str_eq(s, "2026-12-02T23:10:05.123Z");
    nd_access_iso8601(s, 951782400 - 1, 999);   /* the day before 2000-02-29 */
    cr_assert_str_eq(s, "2000-02-28T23:59:59.999Z");
}

static const char *
http_line(const struct nd_access_http *r)
{
    size_t n = nd_access_format_http(out, r);

    cr_assert_lt(n, sizeof(out));
    out[n] = '\0';
    return out;
}

Test(access_fmt, http_line)
{
    struct nd_access_http r = {
        .service = "web", .client = "127.0.0.1:5555",
        .method = "GET", .method_len = 3, .target = "/a?x=\"1\"", .target_len = 8,
        .status = 404, .bytes = 147, .duration_us = 93,
        .reqid = "id 7\t\xc3\xa9", .reqid_len = 7,
    };

    cr_assert_str_eq(http_line(&r), "http web 127.0.0.1:5555 \"GET /a?x=\\x221\\x22\" 404 147 93 "
                                    "id\\x207\\x09\\xc3\\xa9\n");
    r.reqid = NULL;
    r.status = 0;
    r.method = NULL;            /* a malformed request: its raw line */
    r.target = "GET /\x01 HTTP/1.1";
    r.target_len = 15;
    cr_assert_str_eq(http_line(&r), "http web 127.0.0.1:5555 \"GET /\\x01 HTTP/1.1\" - 147 93 -\n");
    r.target = NULL;            /* nothing but a part of a head */
    cr_assert_str_eq(http_line(&r), "http web 127.0.0.1:5555 \"-\" - 147 93 -\n");
}

Test(access_fmt, http_line_with_every_field_at_its_longest_fits)
{
    static char big[20000];
    struct nd_access_http r = { 0 };
    size_t n;

    memset(big, 0x01, sizeof(big));     /* each byte escapes to four */
    r.service = r.client = "x";
    r.method = r.target = r.reqid = big;
    r.method_len = r.target_len = r.reqid_len = sizeof(big);
    r.status = 599;
    r.bytes = r.duration_us = UINT64_MAX;
    n = nd_access_format_http(out, &r);
    cr_assert_leq(n, ND_ACCESS_LINE_MAX);
    cr_assert_eq(out[n - 1], '\n');
    cr_assert_null(memchr(out, '\n', n - 1), "one line only");
    out[n] = '\0';
    cr_assert(strstr(out, "...\" 599 18446744073709551615 18446744073709551615 ") != NULL, "%s",
              out + n - 120);
}

Test(access_fmt, connection_line)
{
    struct nd_access_conn r = {
        .kind = "ws", .service = "web", .peer = "[::1]:80",
        .in = 10, .out = 0, .duration_us = 1234567,
    };
    size_t n = nd_access_format_conn(out, &r);

    out[n] = '\0';
    cr_assert_str_eq(out, "ws web [::1]:80 in=10 out=0 duration_us=1234567\n");
    r.kind = "echo";
    r.peer = NULL;
    n = nd_access_format_conn(out, &r);
    out[n] = '\0';
    cr_assert_str_eq(out, "echo web - in=10 out=0 duration_us=1234567\n");
}
