/* addr.h: listener addresses as written in the configuration
 * (tcp://127.0.0.1:7007, udp://[::1]:7007, unix:/run/netdemo/echo.sock,
 * unix:@abstract), and the duration and size values of the INI file.
 * Pure parsers: no sockets are opened here. */
#ifndef ND_ADDR_H
#define ND_ADDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum nd_transport {
    ND_TCP = 1,
    ND_UDP = 2,
    ND_UNIX = 3,
};

/* Long enough for "tcp://[" + an IPv6 text + "]:65535" and for a unix path. */
#define ND_ADDR_TEXT 128

struct nd_addr {
    enum nd_transport transport;
    socklen_t len;
    struct sockaddr_storage sa;
    char text[ND_ADDR_TEXT];    /* canonical form, for logs and errors */
};

/* Parses one address. On error returns -1 and writes a reason to err. */
int nd_addr_parse(struct nd_addr *a, const char *s, char *err, size_t errlen);

/* Fills a from a socket address (as getsockname() gives it), with its
 * canonical text. Returns -1 for a family netdemo does not serve. */
int nd_addr_from_sockaddr(struct nd_addr *a, enum nd_transport t,
                          const struct sockaddr *sa, socklen_t len);

/* True when a and b name the same socket (transport, family, address, port
 * or path). */
int nd_addr_equal(const struct nd_addr *a, const struct nd_addr *b);

/* Stream (TCP, unix) or datagram (UDP). */
static inline int
nd_addr_is_stream(const struct nd_addr *a)
{
    return a->transport != ND_UDP;
}

/* "300s", "1500ms", "5m", "2h"; a bare number is seconds. Result in ms. */
int nd_parse_duration(const char *s, uint64_t *ms, char *err, size_t errlen);

/* "512", "64k", "1m", "1g" (powers of 1024). Result in bytes. */
int nd_parse_size(const char *s, uint64_t *bytes, char *err, size_t errlen);

/* A plain decimal unsigned integer, no sign, no spaces. */
int nd_parse_uint(const char *s, uint64_t *v, char *err, size_t errlen);

/* "on"/"off", "yes"/"no", "true"/"false", "1"/"0"; anything else is
 * "'S' is not a boolean (on/off, yes/no, true/false, 1/0)". */
int nd_parse_bool(const char *s, int *v, char *err, size_t errlen);

/* The kinds of value a settings table holds. */
enum nd_value {
    ND_VAL_COUNT,       /* nd_parse_uint */
    ND_VAL_SIZE,        /* nd_parse_size */
    ND_VAL_DURATION,    /* nd_parse_duration, in ms */
    ND_VAL_BOOL,        /* nd_parse_bool, as 0 or 1 */
};

/* Parses s as a value of type t within [min, max]. Returns 0; -1 when s is
 * not such a value; -2 when it is out of range, err then reading
 * "S is out of range (MIN to MAX)" (durations in ms). */
int nd_parse_value(enum nd_value t, const char *s, uint64_t min, uint64_t max,
                   uint64_t *v, char *err, size_t errlen);

#endif
