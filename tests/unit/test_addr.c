/* test_addr.c: the value parsers of the configuration: listener addresses
 * with their canonical text and socket address, and durations, sizes,
 * numbers and booleans with their strictness (signs, junk, overflow). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/un.h>

#include "nd/addr.h"

static struct nd_addr
addr(const char *s)
{
    struct nd_addr a;
    char err[256] = "";

    cr_assert_eq(nd_addr_parse(&a, s, err, sizeof(err)), 0, "%s: %s", s, err);
    return a;
}

/* s must be refused with a reason that contains want. */
static void
bad_addr(const char *s, const char *want)
{
    struct nd_addr a;
    char err[256] = "";

    cr_expect_eq(nd_addr_parse(&a, s, err, sizeof(err)), -1, "%s was accepted", s);
    cr_expect_not_null(strstr(err, want), "%s: reason \"%s\" lacks \"%s\"", s, err, want);
}

Test(addr, tcp_ipv6)
{
    struct nd_addr a = addr("tcp://[::1]:7007");
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&a.sa;

    cr_assert_eq(a.transport, ND_TCP);
    cr_assert_str_eq(a.text, "tcp://[::1]:7007");
    cr_assert_eq(sin6->sin6_family, AF_INET6);
    cr_assert_eq(ntohs(sin6->sin6_port), 7007);
    cr_assert(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
    cr_assert_eq(a.len, sizeof(struct sockaddr_in6));
    cr_assert(nd_addr_is_stream(&a));
}

Test(addr, ipv6_text_is_canonical)
{
    cr_assert_str_eq(addr("tcp://[0:0:0:0:0:0:0:1]:80").text, "tcp://[::1]:80");
    cr_assert_str_eq(addr("udp://[::]:53").text, "udp://[::]:53");
    cr_assert_str_eq(addr("tcp://[2001:DB8:0::0:1]:65535").text,
                     "tcp://[2001:db8::1]:65535");
    cr_assert_str_eq(addr("tcp://[::ffff:127.0.0.1]:1").text, "tcp://[::ffff:127.0.0.1]:1");
}

Test(addr, udp_ipv4)
{
    struct nd_addr a = addr("udp://127.0.0.1:9");
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&a.sa;

    cr_assert_eq(a.transport, ND_UDP);
    cr_assert_str_eq(a.text, "udp://127.0.0.1:9");
    cr_assert_eq(sin->sin_family, AF_INET);
    cr_assert_eq(ntohs(sin->sin_port), 9);
    cr_assert_eq(ntohl(sin->sin_addr.s_addr), INADDR_LOOPBACK);
    cr_assert_eq(a.len, sizeof(struct sockaddr_in));
    cr_assert_not(nd_addr_is_stream(&a));
    cr_assert_str_eq(addr("tcp://0.0.0.0:65535").text, "tcp://0.0.0.0:65535");
}

Test(addr, unix_path)
{
    struct nd_addr a = addr("unix:/tmp/x");
    const struct sockaddr_un *sun = (const struct sockaddr_un *)&a.sa;

    cr_assert_eq(a.transport, ND_UNIX);
    cr_assert_str_eq(a.text, "unix:/tmp/x");
    cr_assert_eq(sun->sun_family, AF_UNIX);
    cr_assert_str_eq(sun->sun_path, "/tmp/x");
    cr_assert_eq(a.len, offsetof(struct sockaddr_un, sun_path) + strlen("/tmp/x") + 1);
    cr_assert(nd_addr_is_stream(&a));
    cr_assert_str_eq(addr("unix:relative/sock").text, "unix:relative/sock");
}

Test(addr, unix_abstract)
{
    struct nd_addr a = addr("unix:@name");
    const struct sockaddr_un *sun = (const struct sockaddr_un *)&a.sa;

    cr_assert_eq(a.transport, ND_UNIX);
    cr_assert_str_eq(a.text, "unix:@name");
    cr_assert_eq(sun->sun_family, AF_UNIX);
    cr_assert_eq(sun->sun_path[0], '\0');
    cr_assert_eq(memcmp(sun->sun_path + 1, "name", 4), 0);
    /* No trailing NUL: it would be part of the abstract name. */
    cr_assert_eq(a.len, offsetof(struct sockaddr_un, sun_path) + 1 + 4);
}

Test(addr, unix_path_length_limit)
{
    char s[200];

    strcpy(s, "unix:/");
    memset(s + 6, 'p', 106);            /* a 107-byte path fits with its NUL */
    s[112] = '\0';
    cr_assert_eq(addr(s).len, offsetof(struct sockaddr_un, sun_path) + 108);
    s[112] = 'p';
    s[113] = '\0';
    bad_addr(s, "longer than 107 bytes");
    s[5] = '@';                         /* an abstract name of the same size */
    bad_addr(s, "longer than 107 bytes");
}

Test(addr, bad_addresses)
{
    bad_addr("127.0.0.1:80", "expected tcp://HOST:PORT");
    bad_addr("", "expected tcp://HOST:PORT");
    bad_addr("TCP://127.0.0.1:80", "expected tcp://HOST:PORT");
    bad_addr("tcp:/127.0.0.1:80", "expected tcp://HOST:PORT");
    bad_addr("sctp://127.0.0.1:80", "expected tcp://HOST:PORT");
    bad_addr("tcp://127.0.0.1", "expected HOST:PORT");
    bad_addr("tcp://:80", "expected HOST:PORT");
    bad_addr("tcp://256.0.0.1:80", "not an IPv4 address");
    bad_addr("tcp://1.2.3:80", "not an IPv4 address");
    bad_addr("tcp://localhost:80", "host names are not resolved");
    bad_addr("tcp://::1:80", "write IPv6 addresses as [ADDR]:PORT");
    bad_addr("tcp://[::1]", "expected [IPv6]:PORT");
    bad_addr("tcp://[::1]80", "expected [IPv6]:PORT");
    bad_addr("tcp://[::1:80", "expected [IPv6]:PORT");
    bad_addr("tcp://[]:80", "bad IPv6 address");
    bad_addr("tcp://[127.0.0.1]:80", "not an IPv6 address");
    bad_addr("udp://[fe80::1%lo]:80", "not an IPv6 address");
    bad_addr("tcp://127.0.0.1:0", "port 0 is out of range 1-65535");
    bad_addr("tcp://[::1]:65536", "port 65536 is out of range 1-65535");
    bad_addr("tcp://127.0.0.1:99999999999999999999999", "bad port");
    bad_addr("tcp://127.0.0.1:", "bad port ''");
    bad_addr("tcp://127.0.0.1:-1", "bad port '-1'");
    bad_addr("tcp://127.0.0.1:+80", "bad port '+80'");
    bad_addr("tcp://127.0.0.1:80 ", "bad port '80 '");
    bad_addr("tcp://127.0.0.1:0x50", "bad port");
    bad_addr("unix:", "empty unix socket path");
    bad_addr("unix:@", "empty unix socket path");
}

/* Each form with its canonical text, transport and family, one spelling
 * more than above each; then refusals the table above lacks (a port with
 * junk, a bad IPv6 literal, an unclosed bracket, an empty udp port). */
Test(addr, canonical_forms)
{
    static const struct { const char *in, *text; enum nd_transport t; int family; } ok[] = {
        { "tcp://127.0.0.1:7007", "tcp://127.0.0.1:7007", ND_TCP, AF_INET },
        { "tcp://[::1]:7007", "tcp://[::1]:7007", ND_TCP, AF_INET6 },
        { "tcp://[0:0::1]:80", "tcp://[::1]:80", ND_TCP, AF_INET6 },
        { "udp://0.0.0.0:9", "udp://0.0.0.0:9", ND_UDP, AF_INET },
        { "unix:/run/x.sock", "unix:/run/x.sock", ND_UNIX, AF_UNIX },
        { "unix:@abstract", "unix:@abstract", ND_UNIX, AF_UNIX },
    };
    struct nd_addr a;
    char err[256] = "";

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        cr_assert_eq(nd_addr_parse(&a, ok[i].in, err, sizeof(err)), 0, "%s: %s", ok[i].in, err);
        cr_assert_str_eq(a.text, ok[i].text);
        cr_assert_eq(a.transport, ok[i].t);
        cr_assert_eq(a.sa.ss_family, ok[i].family);
    }
}

Test(addr, refusals)
{
    static const char *const bad[] = {
        "", "127.0.0.1:7", "tcp://", "tcp://127.0.0.1", "tcp://127.0.0.1:", "tcp://127.0.0.1:0",
        "tcp://127.0.0.1:65536", "tcp://127.0.0.1:-1", "tcp://127.0.0.1:7x", "tcp://::1:7",
        "tcp://[::1]7", "tcp://[::1", "tcp://[zz]:7", "tcp://localhost:7", "tcp://1.2.3:4",
        "udp://[::1]:", "unix:", "unix:@", "sctp://1.2.3.4:5",
    };
    struct nd_addr a;
    char err[256];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        cr_assert_eq(nd_addr_parse(&a, bad[i], err, sizeof(err)), -1, "accepted %s", bad[i]);
        cr_assert(err[0] != '\0', "no reason for %s", bad[i]);
    }
    char longpath[200] = "unix:/";
    memset(longpath + 6, 'a', 150);
    cr_assert_eq(nd_addr_parse(&a, longpath, err, sizeof(err)), -1);
}

/* Whether x and y name the same socket, both ways round. */
static int
same(const char *x, const char *y)
{
    struct nd_addr a = addr(x), b = addr(y);
    int ab = nd_addr_equal(&a, &b), ba = nd_addr_equal(&b, &a);

    cr_assert_eq(ab, ba, "%s and %s: equality is not symmetric", x, y);
    return ab;
}

Test(addr, equal_ipv4)
{
    cr_assert(same("tcp://127.0.0.1:80", "tcp://127.0.0.1:80"));
    cr_assert_not(same("tcp://127.0.0.1:80", "udp://127.0.0.1:80"));
    cr_assert_not(same("tcp://127.0.0.1:80", "tcp://127.0.0.1:81"));
    cr_assert_not(same("tcp://127.0.0.1:80", "tcp://127.0.0.2:80"));
    cr_assert_not(same("tcp://127.0.0.1:80", "tcp://[::ffff:127.0.0.1]:80"));
}

Test(addr, equal_ipv6)
{
    cr_assert(same("tcp://[::1]:80", "tcp://[0::1]:80"));
    cr_assert_not(same("tcp://[::1]:80", "tcp://[::2]:80"));
    cr_assert_not(same("tcp://[::1]:80", "udp://[::1]:80"));
    cr_assert_not(same("tcp://0.0.0.0:80", "tcp://[::]:80"));
}

Test(addr, equal_unix)
{
    cr_assert(same("unix:/a", "unix:/a"));
    cr_assert_not(same("unix:/a", "unix:@/a"));
    cr_assert_not(same("unix:/a", "unix:/ab"));
    cr_assert_not(same("unix:/a", "unix:/"));
    cr_assert(same("unix:@/a", "unix:@/a"));
    cr_assert_not(same("unix:@a", "unix:@ab"));
}

Test(addr, from_sockaddr_round_trip)
{
    static const char *const cases[] = {
        "tcp://127.0.0.1:7007", "udp://[::1]:9", "unix:/tmp/sock", "unix:@abstract",
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct nd_addr a = addr(cases[i]), b;

        cr_assert_eq(nd_addr_from_sockaddr(&b, a.transport, (struct sockaddr *)&a.sa,
                                           a.len), 0, "%s", cases[i]);
        cr_expect_str_eq(b.text, cases[i]);
        cr_expect(nd_addr_equal(&a, &b), "%s", cases[i]);
    }
}

Test(addr, from_sockaddr_refuses_a_mismatched_transport)
{
    struct nd_addr a = addr("tcp://127.0.0.1:1"), u = addr("unix:/x"), b;

    cr_assert_eq(nd_addr_from_sockaddr(&b, ND_UNIX, (struct sockaddr *)&a.sa, a.len), -1);
    cr_assert_eq(nd_addr_from_sockaddr(&b, ND_TCP, (struct sockaddr *)&u.sa, u.len), -1);
}

/* ---- durations ---- */

static uint64_t
duration(const char *s)
{
    uint64_t v = 12345;
    char err[256] = "";

    cr_assert_eq(nd_parse_duration(s, &v, err, sizeof(err)), 0, "%s: %s", s, err);
    return v;
}

static void
bad_duration(const char *s, const char *want)
{
    uint64_t v = 12345;
    char err[256] = "";

    cr_expect_eq(nd_parse_duration(s, &v, err, sizeof(err)), -1, "'%s' was accepted", s);
    cr_expect_eq(v, 12345, "'%s': the result was written on failure", s);
    cr_expect_not_null(strstr(err, want), "'%s': reason \"%s\" lacks \"%s\"", s, err, want);
}

Test(duration, units)
{
    cr_assert_eq(duration("1500ms"), 1500);
    cr_assert_eq(duration("300s"), 300000);
    cr_assert_eq(duration("5m"), 300000);
    cr_assert_eq(duration("2h"), 7200000);
    cr_assert_eq(duration("0ms"), 0);
    cr_assert_eq(duration("0"), 0);
    cr_assert_eq(duration("007s"), 7000);
}

Test(duration, a_bare_number_is_seconds)
{
    cr_assert_eq(duration("30"), 30000);
    cr_assert_eq(duration("1"), 1000);
}

Test(duration, overflow)
{
    cr_assert_eq(duration("18446744073709551615ms"), UINT64_MAX);
    cr_assert_eq(duration("18446744073709551s"), 18446744073709551000ULL);
    bad_duration("18446744073709551616ms", "too large");
    bad_duration("18446744073709552s", "too large");
    bad_duration("18446744073709552", "too large");
    bad_duration("5124095576030432h", "too large");
    bad_duration("99999999999999999999999999999999999999h", "too large");
}

Test(duration, junk)
{
    bad_duration("5x", "a duration takes ms, s, m or h");
    bad_duration("5 s", "a duration takes");
    bad_duration("5s ", "a duration takes");
    bad_duration("5S", "a duration takes");
    bad_duration("5sec", "a duration takes");
    bad_duration("1.5s", "a duration takes");
    bad_duration("5ms5", "a duration takes");
    bad_duration(" 5s", "is not a duration");
    bad_duration("s", "is not a duration");
    bad_duration("ms", "is not a duration");
}

Test(duration, empty)
{
    bad_duration("", "is not a duration");
}

Test(duration, sign)
{
    bad_duration("-5s", "is not a duration");
    bad_duration("+5s", "is not a duration");
    bad_duration("-0", "is not a duration");
}

/* ---- sizes ---- */

static uint64_t
size(const char *s)
{
    uint64_t v = 12345;
    char err[256] = "";

    cr_assert_eq(nd_parse_size(s, &v, err, sizeof(err)), 0, "%s: %s", s, err);
    return v;
}

static void
bad_size(const char *s, const char *want)
{
    uint64_t v = 12345;
    char err[256] = "";

    cr_expect_eq(nd_parse_size(s, &v, err, sizeof(err)), -1, "'%s' was accepted", s);
    cr_expect_eq(v, 12345, "'%s': the result was written on failure", s);
    cr_expect_not_null(strstr(err, want), "'%s': reason \"%s\" lacks \"%s\"", s, err, want);
}

Test(size, units_are_powers_of_1024)
{
    cr_assert_eq(size("512"), 512);
    cr_assert_eq(size("0"), 0);
    cr_assert_eq(size("64k"), 65536);
    cr_assert_eq(size("64K"), 65536);
    cr_assert_eq(size("1m"), 1048576);
    cr_assert_eq(size("3M"), 3 * 1048576);
    cr_assert_eq(size("1g"), 1073741824);
    cr_assert_eq(size("2G"), 2147483648ULL);
}

Test(size, overflow)
{
    cr_assert_eq(size("18446744073709551615"), UINT64_MAX);
    cr_assert_eq(size("17179869183g"), UINT64_MAX - 1073741823ULL);
    cr_assert_eq(size("18014398509481983k"), UINT64_MAX - 1023);
    bad_size("17179869184g", "too large");
    bad_size("18014398509481984k", "too large");
    bad_size("17592186044416m", "too large");
    bad_size("18446744073709551616", "too large");
}

Test(size, junk)
{
    bad_size("abc", "is not a size");
    bad_size("", "is not a size");
    bad_size("k", "is not a size");
    bad_size("-1", "is not a size");
    bad_size("+1k", "is not a size");
    bad_size(" 1k", "is not a size");
    bad_size("1kb", "a size takes k, m or g");
    bad_size("1 k", "a size takes k, m or g");
    bad_size("1t", "a size takes k, m or g");
    bad_size("1.5m", "a size takes k, m or g");
    bad_size("1kk", "a size takes k, m or g");
}

/* ---- plain numbers and booleans ---- */

static void
bad_uint(const char *s, const char *want)
{
    uint64_t v = 12345;
    char err[256] = "";

    cr_expect_eq(nd_parse_uint(s, &v, err, sizeof(err)), -1, "'%s' was accepted", s);
    cr_expect_eq(v, 12345, "'%s': the result was written on failure", s);
    cr_expect_not_null(strstr(err, want), "'%s': reason \"%s\" lacks \"%s\"", s, err, want);
}

Test(uint, good)
{
    static const struct { const char *s; uint64_t v; } ok[] = {
        { "0", 0 }, { "7", 7 }, { "000123", 123 }, { "4294967296", 4294967296ULL },
        { "18446744073709551615", UINT64_MAX },
        { "18446744073709551609", UINT64_MAX - 6 },
    };
    size_t i;

    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        uint64_t v = 12345;
        char err[256] = "";

        cr_expect_eq(nd_parse_uint(ok[i].s, &v, err, sizeof(err)), 0, "%s: %s",
                     ok[i].s, err);
        cr_expect_eq(v, ok[i].v, "%s", ok[i].s);
    }
}

Test(uint, bad)
{
    bad_uint("", "empty number");
    bad_uint("18446744073709551616", "too large");
    bad_uint("18446744073709551620", "too large");
    bad_uint("100000000000000000000", "too large");
    bad_uint("-1", "is not a number");
    bad_uint("+1", "is not a number");
    bad_uint(" 1", "is not a number");
    bad_uint("1 ", "is not a number");
    bad_uint("0x10", "is not a number");
    bad_uint("1e3", "is not a number");
    bad_uint("1k", "is not a number");
}

Test(bool, good)
{
    static const struct { const char *s; int v; } ok[] = {
        { "on", 1 }, { "yes", 1 }, { "true", 1 }, { "1", 1 },
        { "off", 0 }, { "no", 0 }, { "false", 0 }, { "0", 0 },
    };
    size_t i;

    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        int v = 42;
        char err[256] = "";

        cr_expect_eq(nd_parse_bool(ok[i].s, &v, err, sizeof(err)), 0, "%s", ok[i].s);
        cr_expect_eq(v, ok[i].v, "%s", ok[i].s);
    }
}

Test(bool, bad)
{
    static const char *const bad[] = { "", "ON", "Yes", "2", "maybe", "on ", " off", "y" };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int v = 42;
        char err[256] = "";

        cr_expect_eq(nd_parse_bool(bad[i], &v, err, sizeof(err)), -1, "'%s'", bad[i]);
        cr_expect_eq(v, 42, "'%s'", bad[i]);
        cr_expect_not_null(strstr(err, "is not a boolean (on/off, yes/no, true/false, 1/0)"), "'%s': %s", bad[i], err);
    }
}
