/* test_ws.c: the WebSocket codec: frame headers whole and at every split,
 * every protocol error, UTF-8 validation at every split, SHA-1 and the
 * handshake key against published vectors. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "ws.h"

Test(ws, rfc_masked_hello_at_every_split)
{
    /* RFC 6455 5.7: a masked text frame "Hello". */
    static const uint8_t frame[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                     0x7f, 0x9f, 0x4d, 0x51, 0x58 };
    struct ws_frame f;
    uint8_t payload[5];

    for (size_t cut = 0; cut < 6; cut++)
        cr_assert_eq(nd_ws_parse_header(frame, cut, &f), 0, "complete with %zu bytes", cut);
    cr_assert_eq(nd_ws_parse_header(frame, sizeof(frame), &f), 1);
    cr_assert(f.fin && f.opcode == WS_TEXT && f.masked && f.len == 5 && f.header_len == 6);
    memcpy(payload, frame + 6, 5);
    nd_ws_unmask(payload, 2, f.mask, 0);
    nd_ws_unmask(payload + 2, 3, f.mask, 2);       /* in two pieces */
    cr_assert(memcmp(payload, "Hello", 5) == 0);
}

Test(ws, lengths)
{
    uint8_t h[14];
    struct ws_frame f;
    static const uint64_t lens[] = { 0, 125, 126, 65535, 65536, 1ULL << 40 };

    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        size_t n = nd_ws_put_header(h, 1, WS_BINARY, lens[i]);

        cr_assert_eq(n, lens[i] < 126 ? 2 : lens[i] <= 0xffff ? 4 : 10);
        h[1] |= 0x80;                       /* as a client would send it */
        memset(h + n, 0, 4);
        cr_assert_eq(nd_ws_parse_header(h, n + 4, &f), 1);
        cr_assert_eq(f.len, lens[i]);
        cr_assert_eq(f.header_len, n + 4);
    }
}

Test(ws, protocol_errors)
{
    static const struct { uint8_t b[14]; size_t n; } bad[] = {
        { { 0xc1, 0x80, 0, 0, 0, 0 }, 6 },          /* RSV1 */
        { { 0xa1, 0x80, 0, 0, 0, 0 }, 6 },          /* RSV2 */
        { { 0x83, 0x80, 0, 0, 0, 0 }, 6 },          /* opcode 3 */
        { { 0x8b, 0x80, 0, 0, 0, 0 }, 6 },          /* opcode 0xb */
        { { 0x81, 0x05 }, 2 },                      /* unmasked */
        { { 0x09, 0x80, 0, 0, 0, 0 }, 6 },          /* fragmented ping */
        { { 0x89, 0xfe, 0, 126, 0, 0, 0, 0 }, 8 },  /* ping longer than 125 */
        { { 0x82, 0xfe, 0, 100, 0, 0, 0, 0 }, 8 },  /* 16-bit length for 100 */
        { { 0x82, 0xff, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0 }, 14 },  /* 64-bit for 65535 */
        { { 0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, 14 },     /* top bit */
    };
    struct ws_frame f;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(nd_ws_parse_header(bad[i].b, bad[i].n, &f), WS_CLOSE_PROTOCOL, "case %zu", i);
}

static int
utf8_ok(const char *s, size_t n, size_t cut)
{
    struct ws_utf8 u = { 0 };

    if (nd_ws_utf8_feed(&u, (const uint8_t *)s, cut) < 0 ||
        nd_ws_utf8_feed(&u, (const uint8_t *)s + cut, n - cut) < 0)
        return 0;
    return nd_ws_utf8_complete(&u);
}

Test(ws, utf8_table_at_every_split)
{
    static const struct { const char *s; size_t n; int ok; } t[] = {
        { "", 0, 1 }, { "hello", 5, 1 }, { "\xc2\x80", 2, 1 }, { "\xdf\xbf", 2, 1 },
        { "\xe0\xa0\x80", 3, 1 }, { "\xed\x9f\xbf", 3, 1 }, { "\xee\x80\x80", 3, 1 },
        { "\xef\xbf\xbf", 3, 1 }, { "\xf0\x90\x80\x80", 4, 1 }, { "\xf4\x8f\xbf\xbf", 4, 1 },
        { "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", 11, 1 },   /* Greek "kosme" */
        { "\x80", 1, 0 }, { "\xbf", 1, 0 }, { "\xc0\x80", 2, 0 }, { "\xc1\xbf", 2, 0 },
        { "\xe0\x80\x80", 3, 0 }, { "\xe0\x9f\xbf", 3, 0 },          /* overlong */
        { "\xf0\x80\x80\x80", 4, 0 }, { "\xf0\x8f\xbf\xbf", 4, 0 },
        { "\xed\xa0\x80", 3, 0 }, { "\xed\xbf\xbf", 3, 0 },          /* surrogates */
        { "\xf4\x90\x80\x80", 4, 0 }, { "\xf5\x80\x80\x80", 4, 0 }, { "\xff", 1, 0 },
        { "\xc2", 1, 0 }, { "\xe2\x82", 2, 0 }, { "\xf0\x9f\x98", 3, 0 },  /* truncated */
        { "a\xc2z", 3, 0 },
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        for (size_t cut = 0; cut <= t[i].n; cut++)
            cr_assert_eq(utf8_ok(t[i].s, t[i].n, cut), t[i].ok, "case %zu cut %zu", i, cut);
}

Test(ws, utf8_rejects_early)
{
    struct ws_utf8 u = { 0 };

    /* The second byte of a surrogate already decides: no need to wait. */
    cr_assert_eq(nd_ws_utf8_feed(&u, (const uint8_t *)"\xed\xa0", 2), -1);
    memset(&u, 0, sizeof(u));
    cr_assert_eq(nd_ws_utf8_feed(&u, (const uint8_t *)"\xf4\x90", 2), -1);
    memset(&u, 0, sizeof(u));
    cr_assert_eq(nd_ws_utf8_feed(&u, (const uint8_t *)"\xe0\x80", 2), -1);
}

static void
hex(const uint8_t *d, char *out)
{
    for (int i = 0; i < 20; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

Test(ws, sha1_vectors)
{
    static char million[1000000];
    uint8_t d[20];
    char h[41];

    nd_ws_sha1("", 0, d);
    hex(d, h);
    cr_assert_str_eq(h, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    nd_ws_sha1("abc", 3, d);
    hex(d, h);
    cr_assert_str_eq(h, "a9993e364706816aba3e25717850c26c9cd0d89d");
    nd_ws_sha1("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, d);
    hex(d, h);
    cr_assert_str_eq(h, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    memset(million, 'a', sizeof(million));
    nd_ws_sha1(million, sizeof(million), d);
    hex(d, h);
    cr_assert_str_eq(h, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

Test(ws, accept_key)
{
    char out[29];

    /* RFC 6455 1.3 */
    cr_assert_eq(nd_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", 24, out), 0);
    cr_assert_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    cr_assert_eq(nd_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ=", 23, out), -1);
    cr_assert_eq(nd_ws_accept_key("dGhlIHNhbXBsZSBub25jZR==", 24, out), -1, "not 16 bytes");
    cr_assert_eq(nd_ws_accept_key("dGhlIHNhbXBsZSBub25j*Q==", 24, out), -1);
}

Test(ws, close_codes)
{
    static const unsigned ok[] = { 1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011,
                                   3000, 4999 };
    static const unsigned bad[] = { 0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000 };

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        cr_assert(nd_ws_close_code_valid(ok[i]), "%u", ok[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert(!nd_ws_close_code_valid(bad[i]), "%u", bad[i]);
}
