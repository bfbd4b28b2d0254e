/* notify.c: sd_notify(3) without libsystemd. The protocol is a single
 * datagram to an AF_UNIX socket; the socket is opened once at start, so a
 * message costs one sendto(). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "nd/addr.h"
#include "nd/log.h"
#include "notify.h"

static int sock = -1;
static struct sockaddr_un dest;
static socklen_t destlen;
static uint64_t watchdog_ms;

void
nd_notify_init(void)
{
    const char *path = getenv("NOTIFY_SOCKET");
    const char *wd = getenv("WATCHDOG_USEC");
    const char *wpid = getenv("WATCHDOG_PID");
    uint64_t v;
    char err[128];
    size_t len;

    if (wd && nd_parse_uint(wd, &v, err, sizeof(err)) == 0 && v > 0) {
        uint64_t pid;

        /* WATCHDOG_PID, when set, names the process meant to ping. */
        if (wpid == NULL ||
            (nd_parse_uint(wpid, &pid, err, sizeof(err)) == 0 && pid == (uint64_t)getpid()))
            watchdog_ms = v / 1000;
    }
    if (path == NULL || (path[0] != '/' && path[0] != '@'))
        return;
    len = strlen(path);
    if (len < 2 || len >= sizeof(dest.sun_path)) {
        nd_log(LOG_WARNING, "NOTIFY_SOCKET is not a usable socket address");
        return;
    }
    memset(&dest, 0, sizeof(dest));
    dest.sun_family = AF_UNIX;
    memcpy(dest.sun_path, path, len);
    if (path[0] == '@')
        dest.sun_path[0] = '\0';
    destlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
                          (path[0] == '@' ? 0 : 1));
    sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (sock < 0)
        nd_log_errno(LOG_WARNING, "notify socket");
}

int
nd_notify_enabled(void)
{
    return sock >= 0;
}

uint64_t
nd_notify_watchdog_ms(void)
{
    return watchdog_ms;
}

int
nd_notify(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    int n;

    if (sock < 0)
        return 0;
    va_start(ap, fmt);
    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0)
        return -EINVAL;
    if ((size_t)n >= sizeof(msg))
        n = (int)sizeof(msg) - 1;
    if (sendto(sock, msg, (size_t)n, MSG_NOSIGNAL, (struct sockaddr *)&dest, destlen) < 0) {
        nd_log_errno(LOG_DEBUG, "notify");
        return -errno;
    }
    return 0;
}
