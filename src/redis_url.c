/* redis_url.c: the chat_backend value parsed: local, a Redis over TCP (with
 * user, password and database in the URL) or over a unix socket. */
#include <stdio.h>
#include <string.h>

#include "conf_key.h"
#include "redis_url.h"

static int
hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Copies p[0..n) into out (size bytes), undoing %XX. 0 or -1. */
static int
unescape(const char *p, size_t n, char *out, size_t size)
{
    size_t i, k = 0;

    for (i = 0; i < n; i++) {
        int c = (unsigned char)p[i];

        if (c == '%') {
            int hi, lo;

            if (i + 2 >= n)
                return -1;
            hi = hexval(p[i + 1]);
            lo = hexval(p[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = hi << 4 | lo;
            i += 2;
        }
        if (c == 0 || k + 1 >= size)
            return -1;
        out[k++] = (char)c;
    }
    out[k] = '\0';
    return 0;
}

/* A decimal number in p[0..n), at most max. 0 or -1. */
static int
number(const char *p, size_t n, unsigned long max, unsigned long *out)
{
    unsigned long v = 0;
    size_t i;

    if (n == 0 || n > 10)
        return -1;
    for (i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (unsigned long)(p[i] - '0');
    }
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

/* The message names the value, but never its password: it goes to the
 * terminal and to the journal. */
static int
fail(char *err, size_t errlen, const char *s, const char *why)
{
    size_t off, len;

    if (nd_conf_url_password(s, &off, &len))
        snprintf(err, errlen, "'%.*s%s%s': %s", (int)off, s, ND_CONF_MASK, s + off + len, why);
    else
        snprintf(err, errlen, "'%s': %s", s, why);
    return -1;
}

int
nd_redis_url_parse(const char *s, struct nd_redis_url *u, char *err, size_t errlen)
{
    static const char tcp[] = "redis://", unx[] = "redis+unix:";
    const char *p, *at, *end, *host, *colon;
    unsigned long port = 6379, db = 0;
    size_t hl;

    memset(u, 0, sizeof(*u));
    if (strcmp(s, "local") == 0) {
        u->local = 1;
        return 0;
    }
    if (strncmp(s, unx, sizeof(unx) - 1) == 0) {
        p = s + sizeof(unx) - 1;
        if (p[0] != '/' || p[1] == '\0')
            return fail(err, errlen, s, "a unix socket is redis+unix:/PATH");
        if (strlen(p) + 6 > sizeof(u->addr) || strlen(p) >= 108)
            return fail(err, errlen, s, "the path is too long");
        snprintf(u->addr, sizeof(u->addr), "unix:%s", p);
        return 0;
    }
    if (strncmp(s, tcp, sizeof(tcp) - 1) != 0)
        return fail(err, errlen, s, "not local, redis://HOST:PORT[/DB] or redis+unix:/PATH");
    p = s + sizeof(tcp) - 1;
    end = p + strcspn(p, "/");
    at = memchr(p, '@', (size_t)(end - p));
    if (at != NULL) {
        colon = memchr(p, ':', (size_t)(at - p));
        if (colon == NULL)
            return fail(err, errlen, s, "the user part is USER:PASSWORD or :PASSWORD");
        if (unescape(p, (size_t)(colon - p), u->user, sizeof(u->user)) < 0 ||
            unescape(colon + 1, (size_t)(at - colon - 1), u->password, sizeof(u->password)) < 0)
            return fail(err, errlen, s, "a bad or too long user name or password");
        if (u->password[0] == '\0')
            return fail(err, errlen, s, "an empty password");
        p = at + 1;
    }
    host = p;
    if (*host == '[') {
        const char *rb = memchr(host, ']', (size_t)(end - host));

        if (rb == NULL)
            return fail(err, errlen, s, "an IPv6 address without its ']'");
        hl = (size_t)(rb + 1 - host);
        colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
        if (rb + 1 < end && colon == NULL)
            return fail(err, errlen, s, "junk after the IPv6 address");
    } else {
        colon = memchr(host, ':', (size_t)(end - host));
        hl = colon ? (size_t)(colon - host) : (size_t)(end - host);
    }
    if (hl == 0 || (*host == '[' && hl <= 2))
        return fail(err, errlen, s, "no host");
    if (colon != NULL && number(colon + 1, (size_t)(end - colon - 1), 65535, &port) < 0)
        return fail(err, errlen, s, "the port is not a number from 1 to 65535");
    if (port == 0)
        return fail(err, errlen, s, "the port is not a number from 1 to 65535");
    if (*end == '/' && number(end + 1, strlen(end + 1), 65535, &db) < 0)
        return fail(err, errlen, s, "the database is not a number from 0 to 65535");
    if (hl + 20 > sizeof(u->addr))
        return fail(err, errlen, s, "the host is too long");
    snprintf(u->addr, sizeof(u->addr), "tcp://%.*s:%lu", (int)hl, host, port);
    u->db = (unsigned)db;
    return 0;
}
