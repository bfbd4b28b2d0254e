/* test_http_date.c: IMF-fixdate formatting and parsing (nd_http_date,
 * nd_http_date_parse), round trips over two centuries, the obsolete rfc850
 * and asctime forms, malformed dates, and the Content-Type table
 * (nd_static_type). */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "http_static.h"

Test(http_date, formats_a_known_tm)
{
    struct tm tm = { .tm_year = 94, .tm_mon = 10, .tm_mday = 6, .tm_hour = 8,
                     .tm_min = 49, .tm_sec = 37, .tm_wday = 0 };
    char buf[40];

    nd_http_date(buf, sizeof(buf), &tm);
    cr_assert_str_eq(buf, "Sun, 06 Nov 1994 08:49:37 GMT");

    tm = (struct tm){ .tm_year = 70, .tm_mon = 0, .tm_mday = 1, .tm_wday = 4 };
    nd_http_date(buf, sizeof(buf), &tm);
    cr_assert_str_eq(buf, "Thu, 01 Jan 1970 00:00:00 GMT");

    tm = (struct tm){ .tm_year = 124, .tm_mon = 1, .tm_mday = 29, .tm_hour = 23,
                      .tm_min = 59, .tm_sec = 59, .tm_wday = 4 };
    nd_http_date(buf, sizeof(buf), &tm);
    cr_assert_str_eq(buf, "Thu, 29 Feb 2024 23:59:59 GMT");
}

Test(http_date, formats_from_gmtime)
{
    static const struct { time_t t; const char *s; } known[] = {
        { 0, "Thu, 01 Jan 1970 00:00:00 GMT" },
        { 784111777, "Sun, 06 Nov 1994 08:49:37 GMT" },
        { 951782400, "Tue, 29 Feb 2000 00:00:00 GMT" },
        { 2147483647, "Tue, 19 Jan 2038 03:14:07 GMT" },
        { 4102444800, "Fri, 01 Jan 2100 00:00:00 GMT" },
        { 253402300799, "Fri, 31 Dec 9999 23:59:59 GMT" },
    };
    char buf[40];

    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        struct tm tm;

        cr_assert_not_null(gmtime_r(&known[i].t, &tm));
        nd_http_date(buf, sizeof(buf), &tm);
        cr_expect_str_eq(buf, known[i].s, "%lld formatted as %s", (long long)known[i].t, buf);
    }
}

Test(http_date, truncates_to_the_buffer)
{
    struct tm tm = { .tm_year = 94, .tm_mon = 10, .tm_mday = 6, .tm_hour = 8,
                     .tm_min = 49, .tm_sec = 37, .tm_wday = 0 };
    char buf[40];

    memset(buf, 'Z', sizeof(buf));
    nd_http_date(buf, 10, &tm);
    cr_assert_str_eq(buf, "Sun, 06 N");
    cr_assert_eq(buf[10], 'Z', "wrote past the length given");
    nd_http_date(buf, 30, &tm);
    cr_assert_str_eq(buf, "Sun, 06 Nov 1994 08:49:37 GMT", "29 bytes and the NUL fit in 30");
    cr_assert_eq(buf[30], 'Z', "wrote past the length given");
}

Test(http_date, parses_the_rfc_example)
{
    time_t t = 0;

    cr_assert_eq(nd_http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", 29, &t), 0);
    cr_assert_eq(t, 784111777);
    cr_assert_eq(nd_http_date_parse("Thu, 01 Jan 1970 00:00:00 GMT", 29, &t), 0);
    cr_assert_eq(t, 0);
    cr_assert_eq(nd_http_date_parse("Fri, 31 Dec 9999 23:59:59 GMT", 29, &t), 0);
    cr_assert_eq(t, 253402300799);
}

Test(http_date, round_trips)
{
    static const time_t fixed[] = {
        0, 1, 59, 60, 86399, 86400, 784111777, 951782400, 951868800, 1709164800,
        2147483647, 2147483648, 4102444800, 253402300799,
    };
    char buf[40];
    time_t t, back;
    size_t n = 0;

    /* The fixed points, then a walk over 1970..2100 by odd steps. */
    for (t = 0; t < (time_t)4102444800; t += 86400 * 13 + 3607 * 5 + 11, n++) {
        time_t v = n < sizeof(fixed) / sizeof(fixed[0]) ? fixed[n] : t;
        struct tm tm;

        cr_assert_not_null(gmtime_r(&v, &tm));
        nd_http_date(buf, sizeof(buf), &tm);
        cr_assert_eq(strlen(buf), 29, "%s", buf);
        back = -1;
        cr_assert_eq(nd_http_date_parse(buf, 29, &back), 0, "refused its own %s", buf);
        cr_assert_eq(back, v, "%s parsed as %lld, formatted from %lld", buf,
                     (long long)back, (long long)v);
    }
    cr_assert_gt(n, 3000);
}

/* RFC 9110 5.6.7: a recipient accepts all three forms. */
Test(http_date, parses_the_obsolete_forms)
{
    time_t fix = 0, t = 0;
    struct tm now;
    time_t sec = time(NULL);
    char buf[64];
    int year;

    cr_assert_eq(nd_http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", 29, &fix), 0);
    cr_assert_eq(nd_http_date_parse("Sun Nov  6 08:49:37 1994", 24, &t), 0);
    cr_expect_eq(t, fix);
    t = 0;
    cr_assert_eq(nd_http_date_parse("Sun Nov 06 08:49:37 1994", 24, &t), 0);
    cr_expect_eq(t, fix);
    t = 0;
    cr_assert_eq(nd_http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", 30, &t), 0);
    cr_expect_eq(t, fix);
    cr_assert_eq(nd_http_date_parse("Wednesday, 09-Nov-94 08:49:37 GMT", 33, &t), 0);
    cr_expect_eq(t, fix + 3 * 86400);
    cr_assert_eq(nd_http_date_parse("Thu Jan  1 00:00:00 1970", 24, &t), 0);
    cr_expect_eq(t, 0);
    cr_assert_eq(nd_http_date_parse("Mon Dec 31 23:59:59 2001", 24, &t), 0);
    cr_expect_eq(t, 1009843199);

    /* Two digits: a year up to 50 ahead of this one is ahead, further is
     * a century back; and so, going back, down to 49 behind. */
    gmtime_r(&sec, &now);
    for (int ahead = -49; ahead <= 52; ahead++) {
        struct tm tm;
        int want = now.tm_year + 1900 + ahead - (ahead > 50 ? 100 : 0);

        snprintf(buf, sizeof(buf), "Monday, 01-Jan-%02d 00:00:00 GMT",
                 (now.tm_year + 1900 + ahead) % 100);
        cr_assert_eq(nd_http_date_parse(buf, strlen(buf), &t), 0, "%s", buf);
        gmtime_r(&t, &tm);
        year = tm.tm_year + 1900;
        cr_expect_eq(year, want, "%s read as %d, not %d", buf, year, want);
    }
}

Test(http_date, rejects_malformed)
{
    static const struct { const char *s; size_t len; } bad[] = {
#define L(s) { (s), sizeof(s) - 1 }
        L(""),
        L("Sun, 06 Nov 1994 08:49:37 GM"),
        L("Sun, 06 Nov 1994 08:49:37 GMT "),
        L(" Sun, 06 Nov 1994 08:49:37 GMT"),
        { "Sun, 06 Nov 1994 08:49:37 GMT", 28 },
        L("Sun, 06 Nov 1994 08:49:37 UTC"),
        L("Sun, 06 Nov 1994 08:49:37 gmt"),
        L("Sun, 06 Nov 1994 08:49:37 +00"),
        L("Sun, 06 Nov 1994 08:49:37 G\0T"),
        L("Sun, 06 Nov 1994 08:49:37GMT "),
        L("Sun, 06 Foo 1994 08:49:37 GMT"),
        L("Sun, 06 nov 1994 08:49:37 GMT"),
        L("Sun, 06 NOV 1994 08:49:37 GMT"),
        L("Sun, 06 No  1994 08:49:37 GMT"),
        L("Sun, 0a Nov 1994 08:49:37 GMT"),
        L("Sun,  6 Nov 1994 08:49:37 GMT"),
        L("Sun, +6 Nov 1994 08:49:37 GMT"),
        L("Sun, 06 Nov 19x4 08:49:37 GMT"),
        L("Sun, 06 Nov -994 08:49:37 GMT"),
        L("Sun, 06 Nov 1994 0a:49:37 GMT"),
        L("Sun, 06 Nov 1994 08:4 :37 GMT"),
        L("Sun, 06 Nov 1994 08:49:3x GMT"),
        L("Sun, 06 Nov 1994 08:49:\x80" "7 GMT"),
        L("Sun, 06-Nov-1994 08:49:37 GMT"),
        L("Sun; 06 Nov 1994 08:49:37 GMT"),
        L("Sun, 06 Nov 1994 08.49.37 GMT"),
        L("Sun, 06 Nov 1994T08:49:37 GMT"),
        L("Sunday, 06-Nov-1994 08:49:37 GMT"),
        L("Sun, 06-Nov-94 08:49:37 GMT"),
        L("Sundae, 06-Nov-94 08:49:37 GMT"),
        L("sunday, 06-Nov-94 08:49:37 GMT"),
        L("Sunday, 06 Nov 94 08:49:37 GMT"),
        L("Sunday, 06-Nov-94 08:49:37 UTC"),
        L("Sunday, 6-Nov-94 08:49:37 GMT "),
        L("Sunday, 06-Nov-9x 08:49:37 GMT"),
        L("Sunday, 06-Nov-94 08:49:37 GMT "),
        L("Sunday,06-Nov-94 08:49:37 GMT "),
        L("Wednesdays, 06-Nov-94 08:49:37 GMT"),
        L("Sun Nov  6 08:49:37 1994 "),
        L("Sun Nov 6 08:49:37 1994 "),
        L("Sun Nov  6 08:49:37 94  "),
        L("Sun Nov  6 08:49:37  1994"),
        L("Sun Nov 6  08:49:37 1994"),
        L("Sun Nov  0 08:49:37 1994"),
        L("Sun Nov 32 08:49:37 1994"),
        L("Sun Nov  x 08:49:37 1994"),
        L("Sun Nov  6 08:49:37 199x"),
        L("Sun Nov  6 25:49:37 1994"),
        L("Xyz Nov  6 08:49:37 1994"),
        L("Sun Now  6 08:49:37 1994"),
        L("Xyz, 06 Nov 1994 08:49:37 GMT"),
        L("sun, 06 Nov 1994 08:49:37 GMT"),
        L("Sun, 00 Nov 1994 08:49:37 GMT"),
        L("Sun, 32 Nov 1994 08:49:37 GMT"),
        L("Sun, 06 Nov 1994 24:00:00 GMT"),
        L("Sun, 06 Nov 1994 08:60:37 GMT"),
        L("Sun, 06 Nov 1994 08:49:61 GMT"),
        L("1994-11-06T08:49:37Z         "),
#undef L
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        time_t t = 12345;

        cr_expect_eq(nd_http_date_parse(bad[i].s, bad[i].len, &t), -1,
                     "accepted '%.*s' (%zu bytes) as %lld", (int)bad[i].len, bad[i].s,
                     bad[i].len, (long long)t);
    }
}

Test(http_date, content_types)
{
    static const struct { const char *name, *type; } types[] = {
        { "index.html", "text/html; charset=utf-8" },
        { "/a/b/index.htm", "text/html; charset=utf-8" },
        { "x.HtMl", "text/html; charset=utf-8" },
        { "/a/b/style.CSS", "text/css; charset=utf-8" },
        { "/app.js", "text/javascript; charset=utf-8" },
        { "/mod.mjs", "text/javascript; charset=utf-8" },
        { "data.json", "application/json" },
        { "/notes.txt", "text/plain; charset=utf-8" },
        { "README.md", "text/markdown; charset=utf-8" },
        { "logo.svg", "image/svg+xml" },
        { "photo.JPG", "image/jpeg" },
        { "photo.jpeg", "image/jpeg" },
        { "icon.png", "image/png" },
        { "favicon.ico", "image/x-icon" },
        { "font.woff", "font/woff" },
        { "font.woff2", "font/woff2" },
        { "a.tar.gz", "application/gzip" },
        { "a.tar", "application/x-tar" },
        { "doc.pdf", "application/pdf" },
        { "/a.b/c.txt", "text/plain; charset=utf-8" },
        { "README", "application/octet-stream" },
        { "/srv/www/README", "application/octet-stream" },
        { "/dir.d/README", "application/octet-stream" },
        { "/dir.html/file", "application/octet-stream" },
        { "/dir.html/", "application/octet-stream" },
        { "file.", "application/octet-stream" },
        { "x.unknown", "application/octet-stream" },
        { "x.htmlx", "application/octet-stream" },
        { "x.ht", "application/octet-stream" },
        { ".hidden", "application/octet-stream" },
        { "", "application/octet-stream" },
        { "/", "application/octet-stream" },
    };

    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        const char *got = nd_static_type(types[i].name);

        cr_expect(got != NULL && strcmp(got, types[i].type) == 0, "%s: %s, want %s",
                  types[i].name, got ? got : "(null)", types[i].type);
    }
}
