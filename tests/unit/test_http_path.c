/* test_http_path.c: nd_http_path_clean on a table of request targets, each to
 * its cleaned path and query or to a refusal; and nd_http_query_get. Every call
 * gets a copy of exactly the target's bytes and an output buffer of exactly
 * outlen bytes, so ASan sees a read or write past either. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "http_path.h"

struct pcase {
    const char *target;
    size_t len;
    size_t outlen;      /* 0: 256 */
    const char *want;   /* NULL: refused */
    long query;         /* offset of the query in target, -1: none */
};

#define T(s) .target = (s), .len = sizeof(s) - 1
#define OK(s, w) { T(s), .want = (w), .query = -1 }
#define OKQ(s, w, q) { T(s), .want = (w), .query = (q) }
#define NO(s) { T(s), .want = NULL, .query = -1 }

static const struct pcase paths[] = {
    OK("/", "/"),
    OK("/a/b", "/a/b"),
    OK("/a/b/", "/a/b/"),
    OK("/a//b", "/a//b"),
    OK("/a/./b", "/a/b"),
    OK("/a/../b", "/b"),
    OK("/a/b/../../c", "/c"),
    OK("/a/./../b/./c/.", "/b/c/"),
    OK("/a/..", "/"),
    OK("/a/", "/a/"),
    OK("/a/.", "/a/"),
    OK("/a/b/..", "/a/"),
    OK("/a/b/.", "/a/b/"),
    OK("/.", "/"),
    OK("/./", "/"),
    OK("/a/./", "/a/"),
    OK("/a/../", "/"),
    OK("/a//../b", "/a/b"),
    OK("//..", "/"),
    OK("/.a/..b/...", "/.a/..b/..."),
    OK("/a/.%2e/b", "/b"),
    OK("/a/%2e%2E/b", "/b"),
    OK("/a/%2e/b", "/a/b"),
    NO("/../a"),
    NO("/.."),
    NO("/../"),
    NO("/./.."),
    NO("/a/../.."),
    NO("/a/../../b"),
    NO("/a/b/../../.."),
    NO("/%2e%2e/x"),
    NO("/%2E%2E/x"),
    NO("/.%2e/x"),
    NO("/..%2fx"),
    NO("/a%2fb"),
    NO("/a%2Fb"),
    NO("/a%00"),
    NO("/a%00b"),
    NO("/a%2"),
    NO("/a%"),
    NO("/a%zz"),
    NO("/a%g0"),
    NO("/a%0g"),
    NO("/a%%41"),
    OK("/%41", "/A"),
    OK("/%7e%7E", "/~~"),
    OK("/%25", "/%"),
    OK("/%2541", "/%41"),
    OK("/a%20b", "/a b"),
    OK("/a+b", "/a+b"),
    OK("/caf%C3%A9", "/caf\xc3\xa9"),
    OK("/caf\xc3\xa9", "/caf\xc3\xa9"),
    OKQ("/a%3Fb?c", "/a?b", 7),
    NO("/a\x01"),
    NO("/a\tb"),
    NO("/a\x7f"),
    NO("/a\0b"),
    NO("/a%01"),
    NO("/a%0a"),
    NO("/a%0D%0A"),
    NO("/a%1F"),
    NO("/a%7f"),
    OKQ("/x?y=1", "/x", 3),
    OKQ("/x?", "/x", 3),
    OKQ("/?a=b", "/", 2),
    OKQ("/x?y=/../..&z=%zz", "/x", 3),
    OKQ("/a/../b?q", "/b", 8),
    OKQ("http://host/p?q", "/p", 14),
    OK("http://host", "/"),
    OKQ("http://host?x", "/", 12),
    OKQ("http://host?x/y", "/", 12),
    OK("http://host/", "/"),
    OK("HTTP://Host/a/./b", "/a/b"),
    OK("http://host/a/../b", "/b"),
    OK("http://host:8080/%41", "/A"),
    NO("http://user:pw@host/"),     /* userinfo: RFC 9110 4.2.4 */
    NO("http://user@host"),
    NO("http://@host/x"),
    NO("http://u@host?x"),
    OKQ("http://host/p?a@b", "/p", 14),
    OK("http://host/a@b", "/a@b"),
    NO("http://host/../b"),
    NO("http://host/%2e%2e"),
    NO("https://host/a"),
    NO("HTTPS://host/a"),
    NO("ftp://host/a"),
    NO("http:/a"),
    NO("*"),
    NO(""),
    NO("a/b"),
    NO("host:80"),
    NO("?x"),
    /* The output is outlen bytes, NUL included. */
    { T("/abc"), .outlen = 5, .want = "/abc", .query = -1 },
    { T("/abc"), .outlen = 4, .want = NULL, .query = -1 },
    { T("/%41bc"), .outlen = 5, .want = "/Abc", .query = -1 },
    { T("/abc?long-query-string"), .outlen = 5, .want = "/abc", .query = 5 },
    { T("/"), .outlen = 2, .want = "/", .query = -1 },
    { T("/"), .outlen = 1, .want = NULL, .query = -1 },
    { T("http://host"), .outlen = 2, .want = "/", .query = -1 },
    { T("http://host"), .outlen = 1, .want = NULL, .query = -1 },
    { T("/a/."), .outlen = 5, .want = "/a/", .query = -1 },
};

static void
show(const char *s, size_t n, char *out, size_t outlen)
{
    static const char hexd[] = "0123456789abcdef";
    size_t o = 0;

    for (size_t i = 0; i < n && o + 5 < outlen; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c >= 0x20 && c < 0x7f) {
            out[o++] = (char)c;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hexd[c >> 4];
            out[o++] = hexd[c & 15];
        }
    }
    out[o] = '\0';
}

Test(http_path, clean_table)
{
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        const struct pcase *p = &paths[i];
        size_t outlen = p->outlen ? p->outlen : 256;
        char *target = malloc(p->len ? p->len : 1), *out = malloc(outlen), name[128];
        const char *query = target, *why = NULL;
        int rc;

        cr_assert(target != NULL && out != NULL);
        memcpy(target, p->target, p->len);
        show(p->target, p->len, name, sizeof(name));
        rc = nd_http_path_clean(target, p->len, out, outlen, &query, &why);
        if (p->want == NULL) {
            cr_expect_eq(rc, -1, "%s (outlen %zu): accepted as '%s'", name, outlen,
                         rc >= 0 ? out : "");
            cr_expect(rc != -1 || why != NULL, "%s: refused without a reason", name);
        } else if (rc < 0) {
            cr_expect_geq(rc, 0, "%s (outlen %zu): refused: %s", name, outlen, why);
        } else {
            cr_expect_eq((size_t)rc, strlen(p->want), "%s: length %d", name, rc);
            cr_expect_eq(strlen(out), (size_t)rc, "%s: NUL at %zu, length %d", name,
                         strlen(out), rc);
            cr_expect_str_eq(out, p->want, "%s: cleaned to '%s'", name, out);
            if (p->query < 0)
                cr_expect_null(query, "%s: a query where there is none", name);
            else
                cr_expect_eq(query, target + p->query, "%s: query at %ld, want %ld", name,
                             query ? (long)(query - target) : -1L, p->query);
        }
        free(target);
        free(out);
    }
}

Test(http_path, long_path_refused)
{
    char target[1024], out[256];
    const char *query, *why;

    target[0] = '/';
    memset(target + 1, 'a', sizeof(target) - 1);
    cr_assert_eq(nd_http_path_clean(target, 255, out, sizeof(out), &query, &why), 255);
    cr_assert_eq(nd_http_path_clean(target, 256, out, sizeof(out), &query, &why), -1);
    cr_assert_eq(nd_http_path_clean(target, sizeof(target), out, sizeof(out), &query, &why), -1);
    cr_assert_not_null(why);
}

/* ---- nd_http_query_get ---- */

Test(http_path, query_get)
{
    static const char q[] = "a=1&b=x+y%21&a=3&empty=&flag&c=%zz&a=";
    char out[16];

    cr_assert_eq(nd_http_query_get(q, sizeof(q) - 1, "a", 0, out, sizeof(out)), 1);
    cr_assert_str_eq(out, "1");
    cr_assert_eq(nd_http_query_get(q, sizeof(q) - 1, "a", 1, out, sizeof(out)), 1);
    cr_assert_str_eq(out, "3");
    cr_assert_eq(nd_http_query_get(q, sizeof(q) - 1, "a", 2, out, sizeof(out)), 0);
    cr_assert_str_eq(out, "");
    cr_assert_eq(nd_http_query_get(q, sizeof(q) - 1, "a", 3, out, sizeof(out)), -1);
    cr_assert_eq(nd_http_query_get(q, sizeof(q) - 1, "b", 0, out, sizeof(out)), 4);
    cr_assert_str_eq(out, "x y!");
    cr_assert_eq(nd_http_query_get(q, sizeof(q) - 1, "empty", 0, out, sizeof(out)), 0);
    cr_assert_eq(nd_http_query_get(q, sizeof(q) - 1, "flag", 0, out, sizeof(out)), 0);
    cr_assert_eq(nd_http_query_get(q, sizeof(q) - 1, "c", 0, out, sizeof(out)), -2);
    cr_assert_eq(nd_http_query_get(q, sizeof(q) - 1, "fla", 0, out, sizeof(out)), -1);
    cr_assert_eq(nd_http_query_get(q, sizeof(q) - 1, "B", 0, out, sizeof(out)), -1);
    cr_assert_eq(nd_http_query_get(q, sizeof(q) - 1, "b", 0, out, 4), -2, "x y! needs 5 bytes");
    cr_assert_eq(nd_http_query_get(q, sizeof(q) - 1, "b", 0, out, 5), 4);
    cr_assert_eq(nd_http_query_get(q, sizeof(q) - 1, "empty", 0, out, 0), -2);
    cr_assert_eq(nd_http_query_get("", 0, "a", 0, out, sizeof(out)), -1);
    cr_assert_eq(nd_http_query_get("a=%4", 4, "a", 0, out, sizeof(out)), -2);
}

/* ---- nd_http_authority_form ---- */

Test(http_path, authority_form)
{
    static const char *const good[] = {
        "host:443", "a:1", "127.0.0.1:8080", "[::1]:443", "[2001:db8::1]:65535",
        "ex-ample.com:80", "h%41st:1",
    };
    static const char *const bad[] = {
        "", "host", "host:", "host:x", "host:123456", ":443", "[::1]", "[]:1",
        "[::1]443", "[::g]:1", "user@host:443", "host:443/x", "/", "*", "host:4 43",
        "http://host:80",
    };

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        size_t n = strlen(good[i]);
        char *t = malloc(n);   /* exactly its bytes, for ASan */

        cr_assert_not_null(t);
        memcpy(t, good[i], n);
        cr_expect(nd_http_authority_form(t, n), "%s: refused", good[i]);
        free(t);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t n = strlen(bad[i]);
        char *t = malloc(n ? n : 1);

        cr_assert_not_null(t);
        memcpy(t, bad[i], n);
        cr_expect(!nd_http_authority_form(t, n), "%s: accepted", bad[i]);
        free(t);
    }
}
