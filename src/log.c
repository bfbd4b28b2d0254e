/* log.c: one line per message on stderr. Under the journal (JOURNAL_STREAM
 * names our stderr) a line is "<N>message" so journald files it at priority
 * N; elsewhere it is "netdemo: level: message". */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nd/log.h"

static int threshold = LOG_INFO;
static int journal;

const char *const nd_log_level_names[] = {
    [LOG_EMERG] = "emerg", [LOG_ALERT] = "alert", [LOG_CRIT] = "crit",
    [LOG_ERR] = "err", [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
    [LOG_INFO] = "info", [LOG_DEBUG] = "debug", [LOG_DEBUG + 1] = NULL,
};

void
nd_log_init(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;

    journal = 0;
    if (js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 &&
        fstat(STDERR_FILENO, &st) == 0 &&
        (unsigned long long)st.st_dev == dev &&
        (unsigned long long)st.st_ino == ino)
        journal = 1;
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
