/* http_static.h: files under a document root, for the http module: opening
 * a cleaned path without ever leaving the root (symlinks included), the
 * Content-Type table, and HTTP dates. */
#ifndef ND_HTTP_STATIC_H
#define ND_HTTP_STATIC_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct http_request;

struct nd_static_file {
    int fd;
    uint64_t size;
    const char *ctype;
    char last_modified[40];
};

/* Opens path (clean, starting with '/') under root_fd. Returns 200 (f is
 * filled and f->fd open), 304 (likewise: not modified since the request's
 * If-Modified-Since), 301 (a directory named without its trailing '/'),
 * 403, 404 or 500. */
int nd_static_open(int root_fd, const char *path, const struct http_request *req,
                   struct nd_static_file *f);

/* The Content-Type for a file name, by its extension. */
const char *nd_static_type(const char *name);

/* IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT". */
void nd_http_date(char *buf, size_t len, const struct tm *tm);

/* Parses an HTTP-date in any of its three forms (RFC 9110 5.6.7):
 * IMF-fixdate, and the obsolete rfc850 and asctime ones. The day name is
 * not checked against the date. Returns 0 and the time, or -1. */
int nd_http_date_parse(const char *s, size_t len, time_t *t);

#endif
