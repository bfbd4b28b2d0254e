/* core_json.c: JSON string escaping (every byte value, invalid UTF-8),
 * base64, UTF-8 validation, query parameters, and the status table. */
#include <criterion/criterion.h>
#include <string.h>

#include "nd/buf.h"
#include "nd/http_path.h"
#include "nd/json.h"
#include "../../src/http.h"

static char *
json(const char *s, size_t n)
{
    static char out[4096];
    struct nd_buf *b = NULL;

    cr_assert_eq(nd_json_string(&b, s, n), 0);
    cr_assert_lt(nd_buf_len(b), sizeof(out));
    memcpy(out, nd_buf_head(b), nd_buf_len(b));
    out[nd_buf_len(b)] = '\0';
    nd_buf_free(b);
    return out;
}

Test(core_json, escaping_table)
{
    static const struct { const char *in; size_t n; const char *out; } t[] = {
        { "plain", 5, "\"plain\"" },
        { "", 0, "\"\"" },
        { "a\"b\\c", 5, "\"a\\\"b\\\\c\"" },
        { "\n\r\t", 3, "\"\\n\\r\\t\"" },
        { "\x01\x1f\x7f", 3, "\"\\u0001\\u001f\\u007f\"" },
        { "\0x", 2, "\"\\u0000x\"" },
        { "caf\xc3\xa9", 5, "\"caf\xc3\xa9\"" },                  /* valid 2-byte */
        { "\xe2\x82\xac", 3, "\"\xe2\x82\xac\"" },                /* euro sign */
        { "\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\"" },        /* 4-byte */
        { "\x80", 1, "\"\\ufffd\"" },                             /* lone continuation */
        { "\xff\xfe", 2, "\"\\ufffd\\ufffd\"" },
        { "\xc0\xaf", 2, "\"\\ufffd\\ufffd\"" },                  /* overlong '/' */
        { "\xe0\x80\xaf", 3, "\"\\ufffd\\ufffd\\ufffd\"" },       /* overlong 3-byte */
        { "\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"" },       /* surrogate U+D800 */
        { "\xf4\x90\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\"" }, /* above U+10FFFF */
        { "\xc3", 1, "\"\\ufffd\"" },                             /* truncated */
        { "a\xc3(", 3, "\"a\\ufffd(\"" },
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        cr_assert_str_eq(json(t[i].in, t[i].n), t[i].out, "case %zu", i);
}

Test(core_json, every_byte_gives_valid_output)
{
    /* Each single byte, and each pair, is escaped into printable ASCII or
     * valid UTF-8 with no raw control character. */
    for (int a = 0; a < 256; a++) {
        for (int b = 0; b < 256; b += 17) {
            char in[2] = { (char)a, (char)b };
            const unsigned char *o = (const unsigned char *)json(in, 2);

            for (size_t k = 0; o[k]; k++)
                cr_assert(o[k] >= 0x20 && o[k] != 0x7f, "raw control in output for %02x %02x", a, b);
        }
    }
}

Test(core_json, base64)
{
    static const struct { const char *in, *out; } t[] = {
        { "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
        { "foobar", "Zm9vYmFy" }, { "\x00\xff\xfe", "AP/+" },
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct nd_buf *b = NULL;
        size_t n = i == 5 ? 3 : strlen(t[i].in);

        cr_assert_eq(nd_base64(&b, t[i].in, n), 0);
        cr_assert_eq(nd_buf_len(b), strlen(t[i].out));
        cr_assert(memcmp(nd_buf_head(b), t[i].out, strlen(t[i].out)) == 0, "case %zu", i);
        nd_buf_free(b);
    }
}

Test(core_json, query_parameters)
{
    static const char q[] = "a=1&b=x+y&a=%41%42&empty=&flag&bad=%4&c=%2F";
    char v[64];

    cr_assert_eq(http_query_get(q, strlen(q), "a", 0, v, sizeof(v)), 1);
    cr_assert_str_eq(v, "1");
    cr_assert_eq(http_query_get(q, strlen(q), "a", 1, v, sizeof(v)), 2);
    cr_assert_str_eq(v, "AB");
    cr_assert_eq(http_query_get(q, strlen(q), "a", 2, v, sizeof(v)), -1);
    cr_assert_eq(http_query_get(q, strlen(q), "b", 0, v, sizeof(v)), 3);
    cr_assert_str_eq(v, "x y");
    cr_assert_eq(http_query_get(q, strlen(q), "empty", 0, v, sizeof(v)), 0);
    cr_assert_eq(http_query_get(q, strlen(q), "flag", 0, v, sizeof(v)), 0);
    cr_assert_eq(http_query_get(q, strlen(q), "bad", 0, v, sizeof(v)), -2);
    cr_assert_eq(http_query_get(q, strlen(q), "c", 0, v, sizeof(v)), 1);
    cr_assert_str_eq(v, "/");
    cr_assert_eq(http_query_get(q, strlen(q), "nope", 0, v, sizeof(v)), -1);
    cr_assert_eq(http_query_get(q, strlen(q), "b", 0, v, 3), -2, "does not fit");
}

Test(core_json, status_table)
{
    cr_assert_str_eq(http_reason(200), "OK");
    cr_assert_str_eq(http_reason(418), "I'm a teapot");
    cr_assert_str_eq(http_reason(431), "Request Header Fields Too Large");
    cr_assert_str_eq(http_reason(505), "HTTP Version Not Supported");
    cr_assert_null(http_reason(299));
    cr_assert_str_eq(http_reason(101), "Switching Protocols");
    for (int s = 200; s < 600; s++) {
        const char *r = http_reason(s);

        if (r)
            for (const char *p = r; *p; p++)
                cr_assert(*p >= 0x20 && *p < 0x7f, "reason of %d", s);
    }
}
