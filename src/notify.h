/* notify.h: the systemd notification protocol, by hand: one datagram of
 * "KEY=VALUE" lines to the socket named in $NOTIFY_SOCKET (a path, or
 * "@name" in the abstract namespace). Everything is a no-op without it. */
#ifndef ND_NOTIFY_H
#define ND_NOTIFY_H

#include <stdint.h>

/* Reads $NOTIFY_SOCKET and $WATCHDOG_USEC/$WATCHDOG_PID once. */
void nd_notify_init(void);

/* True when a supervisor listens. */
int nd_notify_enabled(void);

/* Sends one message, e.g. nd_notify("READY=1\nSTATUS=%s", text). Returns 0,
 * or -errno (also logged at debug) when it could not be sent. */
int nd_notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The watchdog interval systemd expects pings within, in ms; 0 if none. */
uint64_t nd_notify_watchdog_ms(void);

#endif
