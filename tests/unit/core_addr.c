/* core_addr.c: addresses, durations, sizes, numbers. */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <string.h>

#include "nd/addr.h"

static char err[256];

Test(core_addr, canonical_forms)
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

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        cr_assert_eq(nd_addr_parse(&a, ok[i].in, err, sizeof(err)), 0, "%s: %s", ok[i].in, err);
        cr_assert_str_eq(a.text, ok[i].text);
        cr_assert_eq(a.transport, ok[i].t);
        cr_assert_eq(a.sa.ss_family, ok[i].family);
    }
}

Test(core_addr, refusals)
{
    static const char *const bad[] = {
        "", "127.0.0.1:7", "tcp://", "tcp://127.0.0.1", "tcp://127.0.0.1:", "tcp://127.0.0.1:0",
        "tcp://127.0.0.1:65536", "tcp://127.0.0.1:-1", "tcp://127.0.0.1:7x", "tcp://::1:7",
        "tcp://[::1]7", "tcp://[::1", "tcp://[zz]:7", "tcp://localhost:7", "tcp://1.2.3:4",
        "udp://[::1]:", "unix:", "unix:@", "sctp://1.2.3.4:5",
    };
    struct nd_addr a;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        cr_assert_eq(nd_addr_parse(&a, bad[i], err, sizeof(err)), -1, "accepted %s", bad[i]);
        cr_assert(err[0] != '\0', "no reason for %s", bad[i]);
    }
    char longpath[200] = "unix:/";
    memset(longpath + 6, 'a', 150);
    cr_assert_eq(nd_addr_parse(&a, longpath, err, sizeof(err)), -1);
}

Test(core_addr, equality)
{
    struct nd_addr a, b, c;

    nd_addr_parse(&a, "tcp://[::1]:7", err, sizeof(err));
    nd_addr_parse(&b, "tcp://[0::1]:7", err, sizeof(err));
    nd_addr_parse(&c, "udp://[::1]:7", err, sizeof(err));
    cr_assert(nd_addr_equal(&a, &b));
    cr_assert(!nd_addr_equal(&a, &c), "tcp and udp on one port differ");
}

Test(core_addr, durations)
{
    static const struct { const char *in; uint64_t ms; } ok[] = {
        { "0", 0 }, { "300s", 300000 }, { "1500ms", 1500 }, { "5m", 300000 }, { "2h", 7200000 },
        { "7", 7000 },
    };
    static const char *const bad[] = {
        "", "s", "5x", "-1s", "+1s", "1.5s", " 5s", "5s ", "5 s", "99999999999999999999s",
        "18446744073709551615h",
    };
    uint64_t v;

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        cr_assert_eq(nd_parse_duration(ok[i].in, &v, err, sizeof(err)), 0, "%s", ok[i].in);
        cr_assert_eq(v, ok[i].ms, "%s", ok[i].in);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(nd_parse_duration(bad[i], &v, err, sizeof(err)), -1, "accepted %s", bad[i]);
}

Test(core_addr, sizes_numbers_bools)
{
    uint64_t v;
    int b;

    cr_assert_eq(nd_parse_size("64k", &v, err, sizeof(err)), 0);
    cr_assert_eq(v, 65536);
    cr_assert_eq(nd_parse_size("1M", &v, err, sizeof(err)), 0);
    cr_assert_eq(v, 1048576);
    cr_assert_eq(nd_parse_size("2g", &v, err, sizeof(err)), 0);
    cr_assert_eq(v, 2ULL << 30);
    cr_assert_eq(nd_parse_size("512", &v, err, sizeof(err)), 0);
    cr_assert_eq(v, 512);
    cr_assert_eq(nd_parse_size("1kb", &v, err, sizeof(err)), -1);
    cr_assert_eq(nd_parse_size("17179869184g", &v, err, sizeof(err)), -1, "overflow");
    cr_assert_eq(nd_parse_uint("0x5", &v, err, sizeof(err)), -1);
    cr_assert_eq(nd_parse_uint("18446744073709551615", &v, err, sizeof(err)), 0);
    cr_assert_eq(nd_parse_uint("18446744073709551616", &v, err, sizeof(err)), -1);
    cr_assert_eq(nd_parse_bool("on", &b, err, sizeof(err)), 0);
    cr_assert_eq(b, 1);
    cr_assert_eq(nd_parse_bool("off", &b, err, sizeof(err)), 0);
    cr_assert_eq(b, 0);
    cr_assert_eq(nd_parse_bool("maybe", &b, err, sizeof(err)), -1);
}
