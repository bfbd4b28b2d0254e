/* log.h: leveled logging to stderr. Levels are syslog priorities; under the
 * systemd journal each line starts with <N> so `journalctl -p` works. */
#ifndef ND_LOG_H
#define ND_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <syslog.h>

/* Reads JOURNAL_STREAM and decides the line format; call once at start. */
void nd_log_init(void);

void nd_log_set_level(int level);

/* The priorities' names, indexed by priority, NULL-terminated: "emerg" to
 * "debug" (a settings table's words for log_level). */
extern const char *const nd_log_level_names[];

void nd_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Same, with ": strerror(errno)" appended. */
void nd_log_errno(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- the access log ----
 *
 * A service with access_log = on has one line per HTTP request and one per
 * echo or WebSocket connection when it ends written to stdout: "<6>LINE"
 * under the journal (JOURNAL_STREAM names stdout), else an ISO-8601 UTC
 * timestamp, a space and LINE. The format is in README.md ("Access log").
 * Lines are gathered in one buffer and written once per loop iteration (or
 * when 16 KiB are waiting); log_level does not filter them. */

/* One HTTP request. Strings are (pointer, length); NULL means "-". */
struct nd_access_http {
    const char *service;
    const char *client;         /* "127.0.0.1:5555", NUL-terminated */
    const char *method;         /* NULL: target is a malformed request's line */
    size_t method_len;
    const char *target;
    size_t target_len;
    int status;                 /* 0: no answer was sent */
    uint64_t bytes;             /* of the answer, head and body */
    uint64_t duration_us;
    const char *reqid;          /* X-Request-Id */
    size_t reqid_len;
};

/* One connection, when it ends. */
struct nd_access_conn {
    const char *kind;           /* "echo", "ws" */
    const char *service;
    const char *peer;
    uint64_t in, out;           /* bytes from and to the peer */
    uint64_t duration_us;
};

void nd_access_http(const struct nd_access_http *r);
void nd_access_conn(const struct nd_access_conn *r);

/* Writes what is gathered, as much as stdout takes without blocking; the
 * loop calls it before it sleeps. */
void nd_access_flush(void);

/* CLOCK_MONOTONIC in microseconds, for durations. */
uint64_t nd_now_us(void);

#endif
