/* http_static.c: serving files from a document root. Paths arrive already
 * decoded and free of dot segments; openat2(RESOLVE_BENEATH) then makes the
 * kernel refuse any step, symlinks included, that would leave the root. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "http_parse.h"
#include "http_static.h"

static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const months[] = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

void
nd_http_date(char *buf, size_t len, const struct tm *tm)
{
    snprintf(buf, len, "%s, %02d %s %04d %02d:%02d:%02d GMT",
             days[tm->tm_wday % 7], tm->tm_mday, months[tm->tm_mon % 12],
             tm->tm_year + 1900, tm->tm_hour, tm->tm_min, tm->tm_sec);
}

static int
digits(const char *s, int n, int *v)
{
    int i;

    *v = 0;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        *v = *v * 10 + (s[i] - '0');
    }
    return 0;
}

/* A day name, "Sun" or (whole) "Sunday": which one is not checked against
 * the date. */
static int
is_day(const char *s, size_t len)
{
    static const char *const whole[] = {
        "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
    };
    int i;

    for (i = 0; i < 7; i++)
        if (len == 3 ? memcmp(s, days[i], 3) == 0
                     : len == strlen(whole[i]) && memcmp(s, whole[i], len) == 0)
            return 1;
    return 0;
}

static int
month_of(const char *s)
{
    int i;

    for (i = 0; i < 12; i++)
        if (memcmp(s, months[i], 3) == 0)
            return i;
    return -1;
}

/* "08:49:37" */
static int
clock_of(const char *s, struct tm *tm)
{
    if (s[2] != ':' || s[5] != ':' || digits(s, 2, &tm->tm_hour) ||
        digits(s + 3, 2, &tm->tm_min) || digits(s + 6, 2, &tm->tm_sec))
        return -1;
    return tm->tm_hour > 23 || tm->tm_min > 59 || tm->tm_sec > 60 ? -1 : 0;
}

static int
to_time(struct tm *tm, int mon, int year, time_t *t)
{
    if (mon < 0 || tm->tm_mday < 1 || tm->tm_mday > 31)
        return -1;
    tm->tm_mon = mon;
    tm->tm_year = year - 1900;
    *t = timegm(tm);
    return 0;
}

int
nd_http_date_parse(const char *s, size_t len, time_t *t)
{
    struct tm tm;
    const char *p;
    int year;

    memset(&tm, 0, sizeof(tm));
    /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT", 29 fixed bytes. */
    if (len == 29 && s[3] == ',') {
        if (!is_day(s, 3) || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
            memcmp(s + 25, " GMT", 4) != 0 || digits(s + 5, 2, &tm.tm_mday) ||
            digits(s + 12, 4, &year) || clock_of(s + 17, &tm) < 0)
            return -1;
        return to_time(&tm, month_of(s + 8), year, t);
    }
    /* asctime: "Sun Nov  6 08:49:37 1994", the day as two digits or a
     * space and one. */
    if (len == 24 && s[3] == ' ') {
        if (!is_day(s, 3) || s[7] != ' ' || s[10] != ' ' || s[19] != ' ' ||
            (s[8] == ' ' ? digits(s + 9, 1, &tm.tm_mday) : digits(s + 8, 2, &tm.tm_mday)) ||
            digits(s + 20, 4, &year) || clock_of(s + 11, &tm) < 0)
            return -1;
        return to_time(&tm, month_of(s + 4), year, t);
    }
    /* rfc850: "Sunday, 06-Nov-94 08:49:37 GMT", a whole day name and a
     * two-digit year, read as the one within 50 years of now: one more than
     * 50 years ahead is the last such year past (RFC 9110 5.6.7). */
    p = memchr(s, ',', len < 10 ? len : 10);
    if (p != NULL && p - s > 3 && len - (size_t)(p - s) == 24) {
        time_t now = time(NULL);
        struct tm today;

        if (!is_day(s, (size_t)(p - s)) || p[1] != ' ' || p[4] != '-' || p[8] != '-' ||
            p[11] != ' ' || memcmp(p + 20, " GMT", 4) != 0 || digits(p + 2, 2, &tm.tm_mday) ||
            digits(p + 9, 2, &year) || clock_of(p + 12, &tm) < 0 ||
            gmtime_r(&now, &today) == NULL)
            return -1;
        year += (today.tm_year + 1900) / 100 * 100;
        if (year > today.tm_year + 1900 + 50)
            year -= 100;
        else if (year <= today.tm_year + 1900 - 50)
            year += 100;
        return to_time(&tm, month_of(p + 5), year, t);
    }
    return -1;
}

const char *
nd_static_type(const char *name)
{
    static const struct { const char *ext, *type; } types[] = {
        { "html", "text/html; charset=utf-8" }, { "htm", "text/html; charset=utf-8" },
        { "css", "text/css; charset=utf-8" }, { "js", "text/javascript; charset=utf-8" },
        { "mjs", "text/javascript; charset=utf-8" }, { "json", "application/json" },
        { "txt", "text/plain; charset=utf-8" }, { "md", "text/markdown; charset=utf-8" },
        { "xml", "application/xml" }, { "svg", "image/svg+xml" },
        { "png", "image/png" }, { "jpg", "image/jpeg" }, { "jpeg", "image/jpeg" },
        { "gif", "image/gif" }, { "webp", "image/webp" }, { "ico", "image/x-icon" },
        { "pdf", "application/pdf" }, { "wasm", "application/wasm" },
        { "woff", "font/woff" }, { "woff2", "font/woff2" },
        { "mp4", "video/mp4" }, { "webm", "video/webm" }, { "mp3", "audio/mpeg" },
        { "zip", "application/zip" }, { "gz", "application/gzip" },
        { "tar", "application/x-tar" },
    };
    const char *slash = strrchr(name, '/'), *dot = strrchr(name, '.');
    size_t i;

    if (dot == NULL || (slash != NULL && dot < slash))
        return "application/octet-stream";
    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strcasecmp(dot + 1, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

static int
open_beneath(int dirfd, const char *rel)
{
    struct open_how how = {
        .flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };

    return (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
}

static int
status_of(int err)
{
    switch (err) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG:
        return 404;
    case EACCES:
    case EPERM:
    case EXDEV:     /* a symlink pointing out of the root */
    case ELOOP:
        return 403;
    default:
        return 500;
    }
}

int
nd_static_open(int root_fd, const char *path, const struct http_request *req,
               struct nd_static_file *f)
{
    const char *rel = path[1] ? path + 1 : ".";
    const struct http_header *ims;
    const char *name = path;
    struct stat st;
    struct tm tm;
    int fd;

    fd = open_beneath(root_fd, rel);
    if (fd < 0)
        return status_of(errno);
    if (fstat(fd, &st) < 0)
        goto fail;
    if (S_ISDIR(st.st_mode)) {
        int dfd = fd;

        if (path[strlen(path) - 1] != '/') {
            close(fd);
            return 301;
        }
        fd = open_beneath(dfd, "index.html");
        close(dfd);
        if (fd < 0)
            return errno == ENOENT ? 403 : status_of(errno);   /* no listings */
        if (fstat(fd, &st) < 0)
            goto fail;
        name = "index.html";
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return 403;
    }
    f->fd = fd;
    f->size = (uint64_t)st.st_size;
    f->ctype = nd_static_type(name);
    gmtime_r(&st.st_mtime, &tm);
    nd_http_date(f->last_modified, sizeof(f->last_modified), &tm);
    ims = nd_http_header_find(req, "if-modified-since");
    if (ims != NULL) {
        time_t since;

        if (nd_http_date_parse(ims->value, ims->value_len, &since) == 0 &&
            st.st_mtime <= since)
            return 304;
    }
    return 200;

fail:
    {
        int err = errno;

        close(fd);
        return status_of(err);
    }
}
