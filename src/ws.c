/* ws.c: the WebSocket codec. Everything a peer sends is checked here
 * against RFC 6455 before a module sees a byte of payload. */
#include <string.h>

#include "ws.h"

int
nd_ws_parse_header(const uint8_t *buf, size_t len, struct ws_frame *f)
{
    size_t need = 2;
    uint64_t n;
    int i;

    if (len < 2)
        return 0;
    f->fin = buf[0] >> 7;
    f->opcode = buf[0] & 0x0f;
    f->masked = buf[1] >> 7;
    n = buf[1] & 0x7f;
    if (buf[0] & 0x70)
        return WS_CLOSE_PROTOCOL;       /* RSV1-3 without an extension */
    if (f->opcode > WS_BINARY && f->opcode < WS_CLOSE)
        return WS_CLOSE_PROTOCOL;
    if (f->opcode > WS_PONG)
        return WS_CLOSE_PROTOCOL;
    if (!f->masked)
        return WS_CLOSE_PROTOCOL;       /* clients always mask */
    if (f->opcode >= WS_CLOSE && (!f->fin || n > 125))
        return WS_CLOSE_PROTOCOL;
    if (n == 126)
        need += 2;
    else if (n == 127)
        need += 8;
    need += 4;
    if (len < need)
        return 0;
    if (n == 126) {
        n = (uint64_t)buf[2] << 8 | buf[3];
        if (n < 126)
            return WS_CLOSE_PROTOCOL;   /* not the shortest form */
    } else if (n == 127) {
        n = 0;
        for (i = 0; i < 8; i++)
            n = n << 8 | buf[2 + i];
        if (n >> 63 || n <= 0xffff)
            return WS_CLOSE_PROTOCOL;
    }
    memcpy(f->mask, buf + need - 4, 4);
    f->len = n;
    f->header_len = need;
    return 1;
}

void
nd_ws_unmask(uint8_t *data, size_t n, const uint8_t mask[4], uint64_t offset)
{
    size_t i;

    for (i = 0; i < n; i++)
        data[i] ^= mask[(offset + i) & 3];
}

size_t
nd_ws_put_header(uint8_t *out, int fin, int opcode, uint64_t len)
{
    size_t i;

    out[0] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0f));
    if (len < 126) {
        out[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xffff) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = 127;
    for (i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    return 10;
}

int
nd_ws_utf8_feed(struct ws_utf8 *u, const uint8_t *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        uint8_t c = s[i];

        if (u->need == 0) {
            if (c < 0x80)
                continue;
            if (c >= 0xc2 && c <= 0xdf) {
                u->need = 1;
                u->cp = c & 0x1f;
                u->min = 0x80;
            } else if (c >= 0xe0 && c <= 0xef) {
                u->need = 2;
                u->cp = c & 0x0f;
                u->min = 0x800;
            } else if (c >= 0xf0 && c <= 0xf4) {
                u->need = 3;
                u->cp = c & 0x07;
                u->min = 0x10000;
            } else {
                return -1;
            }
            continue;
        }
        if ((c & 0xc0) != 0x80)
            return -1;
        u->cp = u->cp << 6 | (c & 0x3f);
        u->need--;
        /* Reject as early as the second byte allows: overlong forms,
         * surrogates and values above U+10FFFF. */
        if (u->need == 0) {
            if (u->cp < u->min || u->cp > 0x10ffff || (u->cp >= 0xd800 && u->cp <= 0xdfff))
                return -1;
        } else {
            uint32_t lo = u->cp << (6 * u->need);
            uint32_t hi = lo | ((1u << (6 * u->need)) - 1);

            if (hi < u->min || lo > 0x10ffff || (lo >= 0xd800 && hi <= 0xdfff))
                return -1;
        }
    }
    return 0;
}

int
nd_ws_utf8_complete(const struct ws_utf8 *u)
{
    return u->need == 0;
}

int
nd_ws_close_code_valid(unsigned code)
{
    if (code >= 3000 && code <= 4999)
        return 1;       /* registered and private use */
    switch (code) {
    case 1000: case 1001: case 1002: case 1003: case 1007: case 1008:
    case 1009: case 1010: case 1011: case 1012: case 1013: case 1014:
        return 1;
    default:
        return 0;       /* 1004-1006 and 1015 are never sent on the wire */
    }
}

/* ---- SHA-1 ---- */

static uint32_t
rol(uint32_t x, int n)
{
    return x << n | x >> (32 - n);
}

static void
sha1_block(uint32_t h[5], const uint8_t *p)
{
    uint32_t w[80], a, b, c, d, e, t;
    int i;

    for (i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (; i < 80; i++)
        w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    a = h[0];
    b = h[1];
    c = h[2];
    d = h[3];
    e = h[4];
    for (i = 0; i < 80; i++) {
        uint32_t f, k;

        if (i < 20) {
            f = (b & c) | (~b & d);
            k = 0x5a827999;
        } else if (i < 40) {
            f = b ^ c ^ d;
            k = 0x6ed9eba1;
        } else if (i < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8f1bbcdc;
        } else {
            f = b ^ c ^ d;
            k = 0xca62c1d6;
        }
        t = rol(a, 5) + f + e + k + w[i];
        e = d;
        d = c;
        c = rol(b, 30);
        b = a;
        a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

void
nd_ws_sha1(const void *data, size_t len, uint8_t digest[20])
{
    uint32_t h[5] = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0 };
    const uint8_t *p = data;
    uint8_t tail[128];
    uint64_t bits = (uint64_t)len * 8;
    size_t rest, tl, i;

    for (; len >= 64; len -= 64, p += 64)
        sha1_block(h, p);
    rest = len;
    memcpy(tail, p, rest);
    tail[rest] = 0x80;
    tl = rest + 1 + 8 <= 64 ? 64 : 128;
    memset(tail + rest + 1, 0, tl - rest - 1);
    for (i = 0; i < 8; i++)
        tail[tl - 1 - i] = (uint8_t)(bits >> (8 * i));
    for (i = 0; i < tl; i += 64)
        sha1_block(h, tail + i);
    for (i = 0; i < 5; i++) {
        digest[4 * i] = (uint8_t)(h[i] >> 24);
        digest[4 * i + 1] = (uint8_t)(h[i] >> 16);
        digest[4 * i + 2] = (uint8_t)(h[i] >> 8);
        digest[4 * i + 3] = (uint8_t)h[i];
    }
}

static int
b64val(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int
nd_ws_accept_key(const char *key, size_t len, char out[29])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char buf[24 + sizeof(guid)];
    uint8_t d[20];
    size_t i;
    int o = 0;

    /* 16 random bytes in base64: 22 characters and "==". */
    if (len != 24 || key[22] != '=' || key[23] != '=' || (b64val(key[21]) & 0x0f))
        return -1;
    for (i = 0; i < 22; i++)
        if (b64val((unsigned char)key[i]) < 0)
            return -1;
    memcpy(buf, key, 24);
    memcpy(buf + 24, guid, sizeof(guid) - 1);
    nd_ws_sha1(buf, 24 + sizeof(guid) - 1, d);
    for (i = 0; i < 18; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8 | d[i + 2];

        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = tab[(v >> 6) & 63];
        out[o++] = tab[v & 63];
    }
    {
        uint32_t v = (uint32_t)d[18] << 16 | (uint32_t)d[19] << 8;

        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = tab[(v >> 6) & 63];
        out[o++] = '=';
    }
    out[o] = '\0';
    return 0;
}
