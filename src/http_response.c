/* http_response.c: writing answers: status lines and the headers every
 * answer carries. The core gathers what one callback writes, so the answers
 * to pipelined requests go out in one write. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "http.h"
#include "http_static.h"
#include "nd/module.h"
#include "nd/util.h"

/* The Date header's value, formatted once a second. */
static const char *
date_now(void)
{
    static char buf[40];
    static time_t cached = -1;
    time_t t = time(NULL);

    if (t != cached) {
        struct tm tm;

        gmtime_r(&t, &tm);
        nd_http_date(buf, sizeof(buf), &tm);
        cached = t;
    }
    return buf;
}

const char *
nd_http_reason(int status)
{
    static const struct { int status; const char *reason; } tab[] = {
        { 100, "Continue" }, { 101, "Switching Protocols" }, { 200, "OK" }, { 201, "Created" }, { 202, "Accepted" },
        { 203, "Non-Authoritative Information" }, { 204, "No Content" },
        { 205, "Reset Content" }, { 206, "Partial Content" },
        { 300, "Multiple Choices" }, { 301, "Moved Permanently" }, { 302, "Found" },
        { 303, "See Other" }, { 304, "Not Modified" }, { 305, "Use Proxy" },
        { 307, "Temporary Redirect" }, { 308, "Permanent Redirect" },
        { 400, "Bad Request" }, { 401, "Unauthorized" }, { 402, "Payment Required" },
        { 403, "Forbidden" }, { 404, "Not Found" }, { 405, "Method Not Allowed" },
        { 406, "Not Acceptable" }, { 407, "Proxy Authentication Required" },
        { 408, "Request Timeout" }, { 409, "Conflict" }, { 410, "Gone" },
        { 411, "Length Required" }, { 412, "Precondition Failed" },
        { 413, "Content Too Large" }, { 414, "URI Too Long" },
        { 415, "Unsupported Media Type" }, { 416, "Range Not Satisfiable" },
        { 417, "Expectation Failed" }, { 418, "I'm a teapot" },
        { 421, "Misdirected Request" }, { 422, "Unprocessable Content" },
        { 425, "Too Early" }, { 426, "Upgrade Required" },
        { 428, "Precondition Required" }, { 429, "Too Many Requests" },
        { 431, "Request Header Fields Too Large" },
        { 451, "Unavailable For Legal Reasons" },
        { 500, "Internal Server Error" }, { 501, "Not Implemented" },
        { 502, "Bad Gateway" }, { 503, "Service Unavailable" },
        { 504, "Gateway Timeout" }, { 505, "HTTP Version Not Supported" },
        { 506, "Variant Also Negotiates" }, { 507, "Insufficient Storage" },
        { 508, "Loop Detected" }, { 510, "Not Extended" },
        { 511, "Network Authentication Required" },
    };
    size_t i;

    for (i = 0; i < ND_ARRAY_LEN(tab); i++)
        if (tab[i].status == status)
            return tab[i].reason;
    return NULL;
}

static void
count(struct nd_conn *c, int status)
{
    uint64_t *ctr = nd_service_module_counters(nd_conn_service(c));

    ctr[0]++;
    if (status >= 100 && status < 600)
        ctr[status / 100]++;
}

int
nd_http_head(struct nd_conn *c, struct http_conn *h, int status, const char *ctype,
          int64_t length, const char *extra)
{
    const char *reason = nd_http_reason(status);
    char buf[8192], clen[48] = "";  /* extra may be 4 KiB (/status) or a long Location */
    int n;

    if (length >= 0)
        snprintf(clen, sizeof(clen), "Content-Length: %lld\r\n", (long long)length);
    n = snprintf(buf, sizeof(buf),
                 "HTTP/1.1 %d %s\r\nServer: netdemo/" ND_VERSION "\r\nDate: %s\r\n"
                 "%s%s%s%s%s%s\r\n",
                 status, reason ? reason : "Unknown", date_now(),
                 ctype ? "Content-Type: " : "", ctype ? ctype : "", ctype ? "\r\n" : "",
                 clen, extra ? extra : "",
                 !h->keep_alive ? "Connection: close\r\n"
                 : h->minor == 0 ? "Connection: keep-alive\r\n" : "");
    if (n < 0 || (size_t)n >= sizeof(buf))
        return -1;
    count(c, status);
    nd_http_access_status(h, status);
    return nd_conn_write(c, buf, (size_t)n);
}

int
nd_http_respond(struct nd_conn *c, struct http_conn *h, int status, const char *ctype,
             const char *body, size_t len, const char *extra)
{
    if (nd_http_head(c, h, status, ctype, (int64_t)len, extra) < 0)
        return -1;
    if (!h->head_only && len > 0)
        return nd_conn_write(c, body, len);
    return 0;
}

int
nd_http_error(struct nd_conn *c, struct http_conn *h, int status, int keep, const char *extra)
{
    const char *reason = nd_http_reason(status);
    char body[80];
    int n;

    if (!keep)
        h->keep_alive = 0;
    n = snprintf(body, sizeof(body), "%d %s\n", status, reason ? reason : "Unknown");
    if (n < 0 || (size_t)n >= sizeof(body))
        return -1;
    return nd_http_respond(c, h, status, "text/plain; charset=utf-8", body, (size_t)n, extra);
}
