/* addr.c: parsers for the values of the INI file: listener addresses,
 * durations, sizes, numbers and booleans. Each is strict: trailing junk,
 * signs, empty strings and overflow are errors with a reason. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "nd/addr.h"

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

int
nd_parse_uint(const char *s, uint64_t *v, char *err, size_t errlen)
{
    uint64_t n = 0;
    const char *p;

    if (*s == '\0')
        return fail(err, errlen, "empty number");
    for (p = s; *p; p++) {
        if (!isdigit((unsigned char)*p))
            return fail(err, errlen, "'%s' is not a number", s);
        if (n > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
            return fail(err, errlen, "'%s' is too large", s);
        n = n * 10 + (uint64_t)(*p - '0');
    }
    *v = n;
    return 0;
}

/* Splits "123unit" into a number and a unit suffix. */
static int
number_unit(const char *s, uint64_t *n, const char **unit, const char *what,
            char *err, size_t errlen)
{
    char digits[32];
    size_t i = 0;

    while (isdigit((unsigned char)s[i]))
        i++;
    if (i == 0) {
        snprintf(err, errlen, "'%s' is not a %s", s, what);
        return -1;
    }
    if (i >= sizeof(digits)) {
        snprintf(err, errlen, "'%s' is too large", s);
        return -1;
    }
    memcpy(digits, s, i);
    digits[i] = '\0';
    if (nd_parse_uint(digits, n, err, errlen) < 0)
        return -1;
    *unit = s + i;
    return 0;
}

static int
scale(uint64_t n, uint64_t mult, uint64_t *out, const char *s,
      char *err, size_t errlen)
{
    if (mult != 0 && n > UINT64_MAX / mult)
        return fail(err, errlen, "'%s' is too large", s);
    *out = n * mult;
    return 0;
}

int
nd_parse_duration(const char *s, uint64_t *ms, char *err, size_t errlen)
{
    static const struct { const char *unit; uint64_t ms; } units[] = {
        { "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 },
        { "h", 3600000 },
    };
    const char *unit;
    uint64_t n;
    size_t i;

    if (number_unit(s, &n, &unit, "duration", err, errlen) < 0)
        return -1;
    for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strcmp(unit, units[i].unit) == 0)
            return scale(n, units[i].ms, ms, s, err, errlen);
    return fail(err, errlen, "'%s': a duration takes ms, s, m or h", s);
}

int
nd_parse_size(const char *s, uint64_t *bytes, char *err, size_t errlen)
{
    static const struct { const char *unit; uint64_t mult; } units[] = {
        { "", 1 }, { "k", 1024 }, { "K", 1024 }, { "m", 1024 * 1024 },
        { "M", 1024 * 1024 }, { "g", 1024 * 1024 * 1024 },
        { "G", 1024 * 1024 * 1024 },
    };
    const char *unit;
    uint64_t n;
    size_t i;

    if (number_unit(s, &n, &unit, "size", err, errlen) < 0)
        return -1;
    for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strcmp(unit, units[i].unit) == 0)
            return scale(n, units[i].mult, bytes, s, err, errlen);
    return fail(err, errlen, "'%s': a size takes k, m or g", s);
}

int
nd_parse_bool(const char *s, int *v, char *err, size_t errlen)
{
    static const char *const yes[] = { "on", "yes", "true", "1" };
    static const char *const no[] = { "off", "no", "false", "0" };
    size_t i;

    for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcmp(s, yes[i]) == 0) {
            *v = 1;
            return 0;
        }
        if (strcmp(s, no[i]) == 0) {
            *v = 0;
            return 0;
        }
    }
    return fail(err, errlen, "'%s' is not a boolean (%s/%s, %s/%s, %s/%s, %s/%s)", s, yes[0],
                no[0], yes[1], no[1], yes[2], no[2], yes[3], no[3]);
}

static int
parse_port(const char *s, in_port_t *port, char *err, size_t errlen)
{
    uint64_t n;

    if (nd_parse_uint(s, &n, err, errlen) < 0)
        return fail(err, errlen, "bad port '%s'", s);
    if (n == 0 || n > 65535)
        return fail(err, errlen, "port %s is out of range 1-65535", s);
    *port = htons((uint16_t)n);
    return 0;
}

/* HOST:PORT with HOST a dotted IPv4 address or [IPv6]. */
static int
parse_inet(struct nd_addr *a, const char *s, char *err, size_t errlen)
{
    char host[INET6_ADDRSTRLEN + 8];
    const char *port;
    size_t hlen;

    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->sa;

        if (close == NULL || close[1] != ':')
            return fail(err, errlen, "'%s': expected [IPv6]:PORT", s);
        hlen = (size_t)(close - s - 1);
        if (hlen == 0 || hlen >= sizeof(host))
            return fail(err, errlen, "'%s': bad IPv6 address", s);
        memcpy(host, s + 1, hlen);
        host[hlen] = '\0';
        port = close + 2;
        memset(sin6, 0, sizeof(*sin6));
        sin6->sin6_family = AF_INET6;
        if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
            return fail(err, errlen, "'%s' is not an IPv6 address", host);
        if (parse_port(port, &sin6->sin6_port, err, errlen) < 0)
            return -1;
        a->len = sizeof(*sin6);
        inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
        snprintf(a->text, sizeof(a->text), "%s://[%s]:%u",
                 a->transport == ND_TCP ? "tcp" : "udp", host,
                 ntohs(sin6->sin6_port));
    } else {
        const char *colon = strrchr(s, ':');
        struct sockaddr_in *sin = (struct sockaddr_in *)&a->sa;

        if (colon == NULL)
            return fail(err, errlen, "'%s': expected HOST:PORT", s);
        hlen = (size_t)(colon - s);
        if (hlen == 0 || hlen >= sizeof(host))
            return fail(err, errlen, "'%s': expected HOST:PORT", s);
        memcpy(host, s, hlen);
        host[hlen] = '\0';
        port = colon + 1;
        memset(sin, 0, sizeof(*sin));
        sin->sin_family = AF_INET;
        if (strchr(host, ':') != NULL)
            return fail(err, errlen, "'%s': write IPv6 addresses as [ADDR]:PORT", s);
        if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
            return fail(err, errlen,
                        "'%s' is not an IPv4 address (host names are not resolved)",
                        host);
        if (parse_port(port, &sin->sin_port, err, errlen) < 0)
            return -1;
        a->len = sizeof(*sin);
        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
        snprintf(a->text, sizeof(a->text), "%s://%s:%u",
                 a->transport == ND_TCP ? "tcp" : "udp", host,
                 ntohs(sin->sin_port));
    }
    return 0;
}

/* unix:/path, unix:relative/path or unix:@abstract. */
static int
parse_unix(struct nd_addr *a, const char *path, char *err, size_t errlen)
{
    struct sockaddr_un *sun = (struct sockaddr_un *)&a->sa;
    size_t len = strlen(path);

    if (len == 0 || (path[0] == '@' && len == 1))
        return fail(err, errlen, "empty unix socket path");
    if (len >= sizeof(sun->sun_path))
        return fail(err, errlen, "unix socket path '%s' is longer than 107 bytes",
                    path);
    if (len + 6 >= sizeof(a->text))
        return fail(err, errlen, "unix socket path '%s' is too long", path);
    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, path, len);
    if (path[0] == '@') {
        sun->sun_path[0] = '\0';    /* abstract namespace, no file */
        a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    } else {
        a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
    }
    snprintf(a->text, sizeof(a->text), "unix:%s", path);
    return 0;
}

int
nd_addr_parse(struct nd_addr *a, const char *s, char *err, size_t errlen)
{
    memset(a, 0, sizeof(*a));
    if (strncmp(s, "tcp://", 6) == 0) {
        a->transport = ND_TCP;
        return parse_inet(a, s + 6, err, errlen);
    }
    if (strncmp(s, "udp://", 6) == 0) {
        a->transport = ND_UDP;
        return parse_inet(a, s + 6, err, errlen);
    }
    if (strncmp(s, "unix:", 5) == 0) {
        a->transport = ND_UNIX;
        return parse_unix(a, s + 5, err, errlen);
    }
    return fail(err, errlen,
                "bad address '%s': expected tcp://HOST:PORT, udp://HOST:PORT or unix:PATH",
                s);
}

int
nd_addr_from_sockaddr(struct nd_addr *a, enum nd_transport t,
                      const struct sockaddr *sa, socklen_t len)
{
    const char *scheme = t == ND_UDP ? "udp" : "tcp";
    char host[INET6_ADDRSTRLEN];

    if (len > sizeof(a->sa))
        return -1;
    memset(a, 0, sizeof(*a));
    a->transport = t;
    memcpy(&a->sa, sa, len);
    a->len = len;
    switch (sa->sa_family) {
    case AF_INET: {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)sa;

        if (t == ND_UNIX || len != sizeof(*sin))
            return -1;
        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
        snprintf(a->text, sizeof(a->text), "%s://%s:%u", scheme, host, ntohs(sin->sin_port));
        return 0;
    }
    case AF_INET6: {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)sa;

        if (t == ND_UNIX || len != sizeof(*sin6))
            return -1;
        inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
        snprintf(a->text, sizeof(a->text), "%s://[%s]:%u", scheme, host, ntohs(sin6->sin6_port));
        return 0;
    }
    case AF_UNIX: {
        const struct sockaddr_un *sun = (const struct sockaddr_un *)(const void *)sa;
        size_t n = len - offsetof(struct sockaddr_un, sun_path);

        if (t != ND_UNIX || len <= offsetof(struct sockaddr_un, sun_path))
            return -1;
        if (sun->sun_path[0] == '\0')
            snprintf(a->text, sizeof(a->text), "unix:@%.*s", (int)(n - 1), sun->sun_path + 1);
        else
            snprintf(a->text, sizeof(a->text), "unix:%.*s", (int)strnlen(sun->sun_path, n),
                     sun->sun_path);
        return 0;
    }
    }
    return -1;
}

int
nd_addr_equal(const struct nd_addr *a, const struct nd_addr *b)
{
    return a->transport == b->transport && a->len == b->len &&
           memcmp(&a->sa, &b->sa, a->len) == 0;
}

int
nd_parse_value(enum nd_value t, const char *s, uint64_t min, uint64_t max,
               uint64_t *v, char *err, size_t errlen)
{
    const char *unit = t == ND_VAL_DURATION ? "ms" : "";
    int rc = 0, b = 0;

    switch (t) {
    case ND_VAL_COUNT:
        rc = nd_parse_uint(s, v, err, errlen);
        break;
    case ND_VAL_SIZE:
        rc = nd_parse_size(s, v, err, errlen);
        break;
    case ND_VAL_DURATION:
        rc = nd_parse_duration(s, v, err, errlen);
        break;
    case ND_VAL_BOOL:
        rc = nd_parse_bool(s, &b, err, errlen);
        *v = (uint64_t)b;
        break;
    }
    if (rc < 0)
        return -1;
    if (*v < min || *v > max) {
        snprintf(err, errlen, "%s is out of range (%llu%s to %llu%s)", s,
                 (unsigned long long)min, unit, (unsigned long long)max, unit);
        return -2;
    }
    return 0;
}
