/* fuzz_values.c: libFuzzer target for the small value parsers: addresses,
 * durations, sizes, numbers, booleans (addr.c), request paths and query
 * parameters (http_path.c) and HTTP dates (http_static.c). Each runs on a
 * NUL-terminated copy of the input (the path, query and date parsers, which
 * take a length, on the raw bytes), and what it accepts is checked against
 * a plain reference or a round trip. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nd/addr.h"
#include "http_path.h"
#include "http_static.h"

#include "check.h"


/* A decimal prefix of at most 31 digits (as addr.c takes them), exactly. */
static int
ref_number(const char *s, uint64_t *v, const char **rest)
{
    unsigned __int128 n = 0;
    size_t i = 0;

    while (s[i] >= '0' && s[i] <= '9') {
        n = n * 10 + (unsigned)(s[i] - '0');
        if (n > UINT64_MAX)
            n = (unsigned __int128)UINT64_MAX + 1;  /* saturate: too large */
        i++;
    }
    *rest = s + i;
    if (i == 0 || i > 31 || n > UINT64_MAX)
        return -1;
    *v = (uint64_t)n;
    return 0;
}

static int
ref_scaled(const char *s, const char *const *units, const uint64_t *mult, size_t nunits,
           uint64_t *out)
{
    const char *rest;
    uint64_t n;
    size_t i;

    if (ref_number(s, &n, &rest) < 0)
        return -1;
    for (i = 0; i < nunits; i++) {
        if (strcmp(rest, units[i]) == 0) {
            unsigned __int128 r = (unsigned __int128)n * mult[i];

            if (r > UINT64_MAX)
                return -1;
            *out = (uint64_t)r;
            return 0;
        }
    }
    return -1;
}

static void
values(const char *s)
{
    static const char *const dunits[] = { "", "ms", "s", "m", "h" };
    static const uint64_t dmult[] = { 1000, 1, 1000, 60000, 3600000 };
    static const char *const sunits[] = { "", "k", "K", "m", "M", "g", "G" };
    static const uint64_t smult[] = { 1, 1024, 1024, 1 << 20, 1 << 20, 1 << 30, 1 << 30 };
    char err[256], tiny[8];
    uint64_t v, ref;
    const char *rest;
    int b, rc, rrc;

    rc = nd_parse_uint(s, &v, err, sizeof(err));
    rrc = ref_number(s, &ref, &rest);
    /* The reference stops at 31 digits; nd_parse_uint has no such limit. */
    if (strlen(s) <= 31)
        check(rc == (rrc == 0 && *rest == '\0' ? 0 : -1));
    if (rc == 0 && rrc == 0)
        check(v == ref);
    if (rc < 0)
        check(memchr(err, '\0', sizeof(err)) != NULL);

    rc = nd_parse_duration(s, &v, err, sizeof(err));
    rrc = ref_scaled(s, dunits, dmult, 5, &ref);
    check(rc == rrc);
    if (rc == 0)
        check(v == ref);

    rc = nd_parse_size(s, &v, tiny, sizeof(tiny));     /* errors truncated */
    rrc = ref_scaled(s, sunits, smult, 7, &ref);
    check(rc == rrc);
    if (rc == 0)
        check(v == ref);
    else
        check(memchr(tiny, '\0', sizeof(tiny)) != NULL);

    rc = nd_parse_bool(s, &b, err, sizeof(err));
    rrc = !strcmp(s, "on") || !strcmp(s, "yes") || !strcmp(s, "true") || !strcmp(s, "1")
              ? 1
          : !strcmp(s, "off") || !strcmp(s, "no") || !strcmp(s, "false") || !strcmp(s, "0")
              ? 0
              : -1;
    check(rc == (rrc < 0 ? -1 : 0));
    if (rc == 0)
        check(b == rrc);

    check(nd_static_type(s) != NULL);
}

static void
address(const char *s)
{
    struct nd_addr a, b;
    char err[256];

    if (nd_addr_parse(&a, s, err, sizeof(err)) < 0) {
        check(memchr(err, '\0', sizeof(err)) != NULL);
        return;
    }
    check(memchr(a.text, '\0', sizeof(a.text)) != NULL);
    check(a.len > 0 && a.len <= sizeof(a.sa));
    check(a.transport == ND_TCP || a.transport == ND_UDP || a.transport == ND_UNIX);
    check(strncmp(s, a.transport == ND_TCP ? "tcp://" : a.transport == ND_UDP ? "udp://"
                                                                              : "unix:",
                  a.transport == ND_UNIX ? 5 : 6) == 0);
    /* The canonical text names the same socket, and is its own canonical form. */
    check(nd_addr_parse(&b, a.text, err, sizeof(err)) == 0);
    check(nd_addr_equal(&a, &b));
    check(strcmp(a.text, b.text) == 0);
    if (a.transport != ND_UNIX) {
        struct nd_addr c;

        check(nd_addr_from_sockaddr(&c, a.transport, (const struct sockaddr *)&a.sa,
                                    a.len) == 0);
        check(nd_addr_equal(&a, &c) && strcmp(a.text, c.text) == 0);
    }
}

static void
path(const char *t, size_t len, size_t small)
{
    char out[8193], out2[64];
    const char *q, *q2, *why, *why2;
    int n, n2;
    size_t i;

    /* An authority-form target is a host, ':' and digits: never a path,
     * userinfo or a query. */
    if (nd_http_authority_form(t, len)) {
        const char *colon = memrchr(t, ':', len);

        check(colon != NULL && colon > t && len - (size_t)(colon - t) - 1 <= 5);
        check(memchr(t, '@', len) == NULL && memchr(t, '/', len) == NULL &&
              memchr(t, '?', len) == NULL);
    }
    n = nd_http_path_clean(t, len, out, sizeof(out), &q, &why);
    n2 = nd_http_path_clean(t, len, out2, small, &q2, &why2);
    if (n < 0) {
        check(why != NULL);
        check(n2 < 0);
        return;
    }
    check(out[0] == '/' && (size_t)n == strlen(out) && (size_t)n < sizeof(out));
    for (i = 0; i < (size_t)n; i++)
        check((unsigned char)out[i] >= 0x20 && out[i] != 0x7f);
    /* No "." or ".." segment survives. */
    for (i = 0; i < (size_t)n; i++) {
        if (out[i] != '/')
            continue;
        check(!(out[i + 1] == '.' && (out[i + 2] == '/' || out[i + 2] == '\0')));
        check(!(out[i + 1] == '.' && out[i + 2] == '.' &&
                (out[i + 3] == '/' || out[i + 3] == '\0')));
    }
    if (q != NULL)
        check(q > t && q <= t + len && q[-1] == '?');
    /* No userinfo was let through in an absolute-form target's authority. */
    if (len >= 7 && t[0] != '/') {
        size_t end = 7;

        while (end < len && t[end] != '/' && t[end] != '?')
            end++;
        check(memchr(t + 7, '@', end - 7) == NULL);
    }
    if (n2 >= 0) {
        check((size_t)n2 < small && n2 == n && strcmp(out, out2) == 0);
        check(q2 == q);
    }
}

static void
query(const char *q, size_t len, size_t outlen)
{
    static const char *const names[] = { "a", "format", "header", "" };
    char out[64];
    size_t i, k;

    for (i = 0; i < 4; i++) {
        for (k = 0; k < 3; k++) {
            int n = nd_http_query_get(q, len, names[i], k, out, outlen);

            check(n >= -2);
            if (n >= 0)
                check((size_t)n < outlen && out[n] == '\0');
        }
    }
}

static void
date(const char *s, size_t len)
{
    char again[64];
    struct tm tm;
    time_t t, t2;

    if (nd_http_date_parse(s, len, &t) < 0)
        return;
    /* What we accept, written back, reads as the same instant. */
    check(gmtime_r(&t, &tm) != NULL);
    nd_http_date(again, sizeof(again), &tm);
    if (strlen(again) == 29) {
        check(nd_http_date_parse(again, 29, &t2) == 0);
        check(t == t2);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    char *s = malloc(size + 1);

    if (s == NULL)
        return 0;
    memcpy(s, in, size);
    s[size] = '\0';
    values(s);
    address(s);
    path(s, size, 1 + (size ? (uint8_t)in[0] % 64 : 0));
    query(s, size, size ? 1 + (uint8_t)in[size - 1] % 64 : 0);
    date(s, size);
    free(s);
    return 0;
}
