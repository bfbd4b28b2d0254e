/* log.h: leveled logging to stderr. Levels are syslog priorities; under the
 * systemd journal each line starts with <N> so `journalctl -p` works. */
#ifndef ND_LOG_H
#define ND_LOG_H

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

#endif
