/* access_fmt.c: the access log's line formats and its escaping. Pure: the
 * caller brings the clock's reading and the bytes; nothing is written here
 * but the caller's buffer. */
#include <stdio.h>
#include <string.h>

#include "access_fmt.h"

/* Bounds of the fields, escaped (each leaves ND_ACCESS_LINE_MAX room). */
#define SERVICE_MAX 256
#define ADDR_MAX 160
#define METHOD_MAX 64
#define TARGET_MAX 4096
#define REQID_MAX 256

static const char hex[] = "0123456789abcdef";

static int
keep(unsigned char b, int in_quotes)
{
    if (b == ' ')
        return in_quotes;
    return b > ' ' && b < 0x7f && b != '"' && b != '\\';
}

size_t
nd_access_escape(char *dst, size_t cap, const char *s, size_t n, int in_quotes)
{
    size_t i, o = 0, need = 0;
    int cut;

    for (i = 0; i < n; i++)
        need += keep((unsigned char)s[i], in_quotes) ? 1 : 4;
    cut = need > cap;
    if (cut)
        cap -= 3;       /* room for "..." */
    for (i = 0; i < n; i++) {
        unsigned char b = (unsigned char)s[i];

        if (keep(b, in_quotes)) {
            if (o + 1 > cap)
                break;
            dst[o++] = (char)b;
        } else {
            if (o + 4 > cap)
                break;
            dst[o++] = '\\';
            dst[o++] = 'x';
            dst[o++] = hex[b >> 4];
            dst[o++] = hex[b & 15];
        }
    }
    if (cut) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    return o;
}

void
nd_access_iso8601(char dst[24], time_t sec, unsigned ms)
{
    struct tm tm;
    char tmp[64];

    gmtime_r(&sec, &tm);
    /* The snprintf bound is the real one; tmp is wide for -Wformat-truncation. */
    snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
    memcpy(dst, tmp, 24);
}

/* A field: the escaped string, or "-" for NULL. */
static size_t
field(char *dst, size_t cap, const char *s, size_t n, int in_quotes)
{
    if (s == NULL) {
        dst[0] = '-';
        return 1;
    }
    return nd_access_escape(dst, cap, s, n, in_quotes);
}

/* " PREFIX<decimal>": by hand, as sprintf costs more than the rest of a
 * line at 100k lines a second. */
static size_t
number(char *dst, const char *prefix, uint64_t v)
{
    char digits[20];
    size_t o = 0, k = 0, plen = strlen(prefix);

    dst[o++] = ' ';
    memcpy(dst + o, prefix, plen);
    o += plen;
    do {
        digits[k++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    while (k > 0)
        dst[o++] = digits[--k];
    return o;
}

size_t
nd_access_format_http(char *dst, const struct nd_access_http *r)
{
    size_t o;

    memcpy(dst, "http ", 5);
    o = 5;
    o += field(dst + o, SERVICE_MAX, r->service, r->service ? strlen(r->service) : 0, 0);
    dst[o++] = ' ';
    o += field(dst + o, ADDR_MAX, r->client, r->client ? strlen(r->client) : 0, 0);
    dst[o++] = ' ';
    dst[o++] = '"';
    if (r->method != NULL) {
        o += nd_access_escape(dst + o, METHOD_MAX, r->method, r->method_len, 1);
        dst[o++] = ' ';
    }
    o += field(dst + o, TARGET_MAX, r->target, r->target_len, 1);
    dst[o++] = '"';
    if (r->status > 0) {
        o += number(dst + o, "", (uint64_t)r->status);
    } else {
        memcpy(dst + o, " -", 2);
        o += 2;
    }
    o += number(dst + o, "", r->bytes);
    o += number(dst + o, "", r->duration_us);
    dst[o++] = ' ';
    o += field(dst + o, REQID_MAX, r->reqid, r->reqid_len, 0);
    dst[o++] = '\n';
    return o;
}

size_t
nd_access_format_conn(char *dst, const struct nd_access_conn *r)
{
    size_t o = 0;

    o += field(dst + o, METHOD_MAX, r->kind, r->kind ? strlen(r->kind) : 0, 0);
    dst[o++] = ' ';
    o += field(dst + o, SERVICE_MAX, r->service, r->service ? strlen(r->service) : 0, 0);
    dst[o++] = ' ';
    o += field(dst + o, ADDR_MAX, r->peer, r->peer ? strlen(r->peer) : 0, 0);
    o += number(dst + o, "in=", r->in);
    o += number(dst + o, "out=", r->out);
    o += number(dst + o, "duration_us=", r->duration_us);
    dst[o++] = '\n';
    return o;
}

_Static_assert(5 + SERVICE_MAX + 1 + ADDR_MAX + 2 + METHOD_MAX + 1 + TARGET_MAX + 1 +
               3 * 21 + 1 + REQID_MAX + 1 <= ND_ACCESS_LINE_MAX, "a line may not fit");
