/* log.c: one line per message on stderr. Under the journal (JOURNAL_STREAM
 * names our stderr) a line is "<N>message" so journald files it at priority
 * N; elsewhere it is "netdemo: level: message". And the access log's
 * buffer, written to stdout without ever blocking the loop. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "access_fmt.h"
#include "nd/log.h"

static int threshold = LOG_INFO;
static int journal;

/* The access log: lines wait here until the loop is about to sleep, or
 * until FLUSH_AT bytes wait. What stdout does not take at once stays, up to
 * BOUND bytes; beyond that whole lines are dropped and counted, never a
 * part of one, so a slow journal costs lines, not the loop's time. */
#define ACCESS_FLUSH_AT (16 * 1024)
#define ACCESS_BOUND (64 * 1024)

enum out_kind { OUT_OTHER, OUT_SOCKET, OUT_FILE };

static struct {
    char buf[ACCESS_BOUND];
    size_t len;
    int journal;            /* stdout is the journal: "<6>" lines */
    enum out_kind kind;
    int broken;             /* stdout failed: lines are dropped */
    uint64_t dropped;       /* lines dropped in the current episode */
    time_t sec;             /* the second stamp[] holds */
    char stamp[24];
} acc = { .sec = -1 };

static int
is_journal(int fd, const char *js)
{
    unsigned long long dev, ino;
    struct stat st;

    return js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(fd, &st) == 0 &&
           (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

const char *const nd_log_level_names[] = {
    [LOG_EMERG] = "emerg", [LOG_ALERT] = "alert", [LOG_CRIT] = "crit",
    [LOG_ERR] = "err", [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
    [LOG_INFO] = "info", [LOG_DEBUG] = "debug", [LOG_DEBUG + 1] = NULL,
};

void
nd_log_init(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    struct stat st;

    journal = is_journal(STDERR_FILENO, js);
    acc.journal = is_journal(STDOUT_FILENO, js);
    acc.kind = OUT_OTHER;
    if (fstat(STDOUT_FILENO, &st) == 0 && S_ISSOCK(st.st_mode))
        acc.kind = OUT_SOCKET;
    else if (fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode))
        acc.kind = OUT_FILE;
}

void
nd_log_set_level(int level)
{
    threshold = level;
}

static const char *
level_name(int level)
{
    return level >= LOG_EMERG && level <= LOG_DEBUG ? nd_log_level_names[level] : "?";
}

static void
vlog(int level, int err, const char *fmt, va_list ap)
{
    char line[2048];
    int n;

    if (journal)
        n = snprintf(line, sizeof(line), "<%d>", level);
    else
        n = snprintf(line, sizeof(line), "netdemo: %s: ", level_name(level));
    n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    if (n >= (int)sizeof(line) - 1)
        n = (int)sizeof(line) - 2;
    if (err)
        n += snprintf(line + n, sizeof(line) - (size_t)n, ": %s", strerror(err));
    if (n >= (int)sizeof(line) - 1)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    /* One write per line keeps lines whole even when stderr is shared. */
    (void)!fwrite(line, 1, (size_t)n, stderr);
    fflush(stderr);
}

void
nd_log(int level, const char *fmt, ...)
{
    va_list ap;

    if (level > threshold)
        return;
    va_start(ap, fmt);
    vlog(level, 0, fmt, ap);
    va_end(ap);
}

void
nd_log_errno(int level, const char *fmt, ...)
{
    int err = errno;
    va_list ap;

    if (level > threshold)
        return;
    va_start(ap, fmt);
    vlog(level, err, fmt, ap);
    va_end(ap);
    errno = err;
}

/* ---- the access log ---- */

uint64_t
nd_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* One write to stdout that does not block: a socket (the journal) is told
 * so per call; a file's writes do not wait for a reader; a pipe or a
 * terminal that polls writable takes PIPE_BUF bytes without blocking. The
 * descriptor's own flags are left alone: it may be shared. */
static ssize_t
out_write(const char *p, size_t n)
{
    struct pollfd pfd = { .fd = STDOUT_FILENO, .events = POLLOUT };

    switch (acc.kind) {
    case OUT_SOCKET:
        return send(STDOUT_FILENO, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    case OUT_FILE:
        return write(STDOUT_FILENO, p, n);
    default:
        if (poll(&pfd, 1, 0) < 0)
            return -1;
        if (!(pfd.revents & (POLLOUT | POLLERR | POLLHUP | POLLNVAL))) {
            errno = EAGAIN;
            return -1;
        }
        return write(STDOUT_FILENO, p, n < PIPE_BUF ? n : PIPE_BUF);
    }
}

void
nd_access_flush(void)
{
    size_t off = 0;

    if (acc.len == 0)
        return;     /* every loop iteration asks: the usual answer */
    while (off < acc.len) {
        ssize_t k = out_write(acc.buf + off, acc.len - off);

        if (k > 0) {
            off += (size_t)k;
        } else if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        } else if (k < 0 && errno != EINTR) {
            /* stdout is gone (closed, a pipe without reader): stop trying. */
            nd_log_errno(LOG_WARNING, "access log: writing to stdout; access lines are "
                         "dropped from now on");
            acc.broken = 1;
            acc.len = 0;
            return;
        }
    }
    memmove(acc.buf, acc.buf + off, acc.len - off);
    acc.len -= off;
    if (acc.len == 0 && acc.dropped > 0) {
        nd_log(LOG_WARNING, "access log: %llu line%s dropped: stdout did not keep up",
               (unsigned long long)acc.dropped, acc.dropped == 1 ? "" : "s");
        acc.dropped = 0;
    }
}

/* The line's prefix: the journal's priority, or the time. */
static size_t
prefix(char *dst)
{
    struct timespec ts;

    if (acc.journal) {
        memcpy(dst, "<6>", 3);
        return 3;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != acc.sec) {
        nd_access_iso8601(acc.stamp, ts.tv_sec, 0);
        acc.sec = ts.tv_sec;
    }
    memcpy(dst, acc.stamp, 24);
    /* Only the milliseconds change within a second. */
    dst[20] = (char)('0' + ts.tv_nsec / 100000000);
    dst[21] = (char)('0' + ts.tv_nsec / 10000000 % 10);
    dst[22] = (char)('0' + ts.tv_nsec / 1000000 % 10);
    dst[24] = ' ';
    return 25;
}

static void
append(const char *line, size_t n)
{
    if (acc.broken)
        return;
    if (acc.len + n > sizeof(acc.buf)) {
        if (acc.dropped++ == 0)
            nd_log(LOG_WARNING, "access log: stdout is not keeping up; dropping lines");
        return;
    }
    memcpy(acc.buf + acc.len, line, n);
    acc.len += n;
    if (acc.len >= ACCESS_FLUSH_AT)
        nd_access_flush();
}

void
nd_access_http(const struct nd_access_http *r)
{
    char line[32 + ND_ACCESS_LINE_MAX];
    size_t n = prefix(line);

    n += nd_access_format_http(line + n, r);
    append(line, n);
}

void
nd_access_conn(const struct nd_access_conn *r)
{
    char line[32 + ND_ACCESS_LINE_MAX];
    size_t n = prefix(line);

    n += nd_access_format_conn(line + n, r);
    append(line, n);
}
