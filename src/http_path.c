/* http_path.c: percent-decoding and dot-segment removal for request paths,
 * done before any lookup so that "/a/%2e%2e/b" and "/a/../b" are one path. */
#include <string.h>

#include "http_path.h"
#include "http_parse.h"

static int
refuse(const char **why, const char *reason)
{
    *why = reason;
    return -1;
}

int
nd_http_path_clean(const char *target, size_t len, char *out, size_t outlen,
                const char **query, const char **why)
{
    const char *p = target, *end = target + len, *q;
    size_t n = 0, i;

    *query = NULL;
    if (len >= 7 && nd_http_token_eq(target, 7, "http://")) {
        p = memchr(target + 7, '/', len - 7);
        q = memchr(target + 7, '?', len - 7);
        if (p == NULL || (q != NULL && q < p))
            p = q ? q : end;    /* "http://host" or "http://host?x": path "/" */
        /* RFC 9110 4.2.4: a sender must not put userinfo in an http URI,
         * and a recipient should treat it as an error. */
        if (memchr(target + 7, '@', (size_t)(p - target - 7)) != NULL)
            return refuse(why, "userinfo in the request target");
    } else if (len >= 8 && nd_http_token_eq(target, 8, "https://")) {
        return refuse(why, "https target on a plain connection");
    } else if (len == 0 || *p != '/') {
        return refuse(why, "request target is not a path");
    }
    q = memchr(p, '?', (size_t)(end - p));
    if (q != NULL) {
        *query = q + 1;
        end = q;
    }
    if (outlen < 2)
        return refuse(why, "path too long");

    /* Decode into out, then remove dot segments in place. */
    if (p == end)
        out[n++] = '/';
    while (p < end) {
        int c = (unsigned char)*p++;

        if (c == '%') {
            int h, l;

            if (end - p < 2 || (h = nd_http_hexval((unsigned char)p[0])) < 0 ||
                (l = nd_http_hexval((unsigned char)p[1])) < 0)
                return refuse(why, "malformed percent-encoding");
            c = h * 16 + l;
            p += 2;
            if (c == 0)
                return refuse(why, "encoded NUL in path");
            if (c == '/')
                return refuse(why, "encoded '/' in path");
        }
        if (c < 0x20 || c == 0x7f)
            return refuse(why, "control character in path");
        if (n + 1 >= outlen)
            return refuse(why, "path too long");
        out[n++] = (char)c;
    }
    out[n] = '\0';

    /* Segment by segment: "." is dropped, ".." drops the previous one. */
    {
        size_t w = 0;

        i = 0;
        while (i < n) {
            size_t s = i + 1, e = s;

            while (e < n && out[e] != '/')
                e++;
            /* out[i] is '/', the segment is out[s..e) */
            if (e - s == 1 && out[s] == '.') {
                if (e == n)
                    out[w++] = '/';     /* "/a/." names the directory "/a/" */
            } else if (e - s == 2 && out[s] == '.' && out[s + 1] == '.') {
                if (w == 0)
                    return refuse(why, "path climbs above the root");
                while (w > 0 && out[w - 1] != '/')
                    w--;
                if (w > 0)
                    w--;                /* drop the '/' before the segment */
                if (e == n)
                    out[w++] = '/';
            } else {
                memmove(out + w, out + i, e - i);
                w += e - i;
            }
            i = e;
        }
        if (w == 0)
            out[w++] = '/';
        out[w] = '\0';
        n = w;
    }
    return (int)n;
}

int
nd_http_query_get(const char *query, size_t len, const char *name, size_t index,
               char *out, size_t outlen)
{
    size_t nlen = strlen(name), i = 0;

    while (i < len) {
        size_t s = i, e, eq;

        while (i < len && query[i] != '&')
            i++;
        e = i++;
        for (eq = s; eq < e && query[eq] != '='; eq++)
            ;
        if (eq - s != nlen || memcmp(query + s, name, nlen) != 0)
            continue;
        if (index-- > 0)
            continue;
        {
            size_t n = 0, k = eq < e ? eq + 1 : e;

            while (k < e) {
                int c = (unsigned char)query[k++];

                if (c == '+') {
                    c = ' ';
                } else if (c == '%') {
                    int h, l;

                    if (e - k < 2 || (h = nd_http_hexval((unsigned char)query[k])) < 0 ||
                        (l = nd_http_hexval((unsigned char)query[k + 1])) < 0)
                        return -2;
                    c = h * 16 + l;
                    k += 2;
                }
                if (n + 1 >= outlen)
                    return -2;
                out[n++] = (char)c;
            }
            if (outlen == 0)
                return -2;
            out[n] = '\0';
            return (int)n;
        }
    }
    return -1;
}

/* reg-name and IPv4address characters: unreserved, pct-encoded (checked
 * loosely: '%' then anything hex), sub-delims (RFC 3986 3.2.2). */
static int
reg_name_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("-._~%!$&'()*+,;=", c) != NULL);
}

int
nd_http_authority_form(const char *t, size_t len)
{
    size_t i = 0, port;

    if (len > 0 && t[0] == '[') {
        for (i = 1; i < len && t[i] != ']'; i++)
            if (nd_http_hexval((unsigned char)t[i]) < 0 && t[i] != ':' && t[i] != '.')
                return 0;
        if (i == len || i == 1)
            return 0;
        i++;
    } else {
        while (i < len && reg_name_char((unsigned char)t[i]))
            i++;
        if (i == 0)
            return 0;
    }
    if (i == len || t[i] != ':')
        return 0;
    for (port = ++i; i < len; i++)
        if (t[i] < '0' || t[i] > '9')
            return 0;
    return len - port >= 1 && len - port <= 5;
}
