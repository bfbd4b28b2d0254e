/* json.c: JSON string escaping and base64, for the http module's probe
 * answers. Whatever bytes a client sends in a header, the JSON we write
 * stays valid. */
#include <errno.h>
#include <string.h>

#include "nd/buf.h"
#include "nd/json.h"

size_t
nd_utf8_valid(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len, i;
    unsigned cp;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;   /* a continuation byte, 0xc0, 0xc1 or above 0xf4 */
    }
    if (n < len)
        return 0;
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;   /* overlong, out of range, or a surrogate */
    return len;
}

int
nd_json_string(struct nd_buf **b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    /* The worst case is 6 output bytes per input byte, plus the quotes. */
    if (n > ((size_t)-1 - 2) / 6 || nd_buf_reserve(b, n * 6 + 2) < 0)
        return -ENOMEM;
    {
        char *o = (*b)->data + (*b)->end;

        *o++ = '"';
        while (i < n) {
            unsigned c = p[i];
            size_t k;

            if (c == '"' || c == '\\') {
                *o++ = '\\';
                *o++ = (char)c;
                i++;
            } else if (c < 0x20 || c == 0x7f) {
                *o++ = '\\';
                if (c == '\n') {
                    *o++ = 'n';
                } else if (c == '\r') {
                    *o++ = 'r';
                } else if (c == '\t') {
                    *o++ = 't';
                } else {
                    *o++ = 'u';
                    *o++ = '0';
                    *o++ = '0';
                    *o++ = hex[c >> 4];
                    *o++ = hex[c & 15];
                }
                i++;
            } else if ((k = nd_utf8_valid(p + i, n - i)) > 0) {
                memcpy(o, p + i, k);
                o += k;
                i += k;
            } else {
                memcpy(o, "\\ufffd", 6);
                o += 6;
                i++;
            }
        }
        *o++ = '"';
        (*b)->end = (size_t)(o - (*b)->data);
    }
    return 0;
}

int
nd_base64(struct nd_buf **b, const char *s, size_t n)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = (const unsigned char *)s;
    size_t i;
    char *o;

    if (nd_buf_reserve(b, (n + 2) / 3 * 4) < 0)
        return -ENOMEM;
    o = (*b)->data + (*b)->end;
    for (i = 0; i + 2 < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];

        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = tab[(v >> 6) & 63];
        *o++ = tab[v & 63];
    }
    if (i < n) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0);

        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    (*b)->end = (size_t)(o - (*b)->data);
    return 0;
}
