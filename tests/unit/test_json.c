/* test_json.c: JSON string escaping (every byte value, invalid UTF-8 as
 * U+FFFD) and base64. */
#include <criterion/criterion.h>
#include <string.h>

#include "nd/buf.h"
#include "nd/json.h"

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

Test(json, escaping_table)
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

Test(json, every_byte_gives_valid_output)
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

Test(json, base64)
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
