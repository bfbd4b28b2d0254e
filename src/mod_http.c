/* mod_http.c: the http module. It turns parsed requests into responses:
 * the built-in welcome page, /health, /stats, and files under `root`. The
 * parser (http_parse.c) decides what is a valid request; this file decides
 * what to answer, and when to close. Responses made during one input() call
 * are gathered and handed to the core in one write. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nd/addr.h"
#include "nd/buf.h"
#include "nd/http_parse.h"
#include "nd/http_path.h"
#include "nd/http_static.h"
#include "nd/module.h"
#include "nd/util.h"

#define SERVER_HEADER "Server: netdemo/" ND_VERSION "\r\n"
#define MAX_HEADERS_LIMIT 1000

/* Module counters: requests in all, then by status class 1xx..5xx. */
#define C_REQUESTS 0

struct http_conf {
    char *root;
    int root_fd;
    uint64_t max_request_line;
    uint64_t max_header_size;
    uint64_t max_headers;
    uint64_t max_body;
    uint64_t header_timeout;
    uint64_t keepalive_timeout;
    uint64_t send_timeout;
    struct http_limits lim;
    char *page;                 /* the welcome page, made on first use */
    size_t page_len;
};

enum phase { PH_HEAD, PH_BODY, PH_FILE };

/* What the connection is waiting for, which decides its deadline. */
enum wait { W_NONE, W_KEEPALIVE, W_HEAD, W_BODY, W_SEND };

struct http_conn {
    struct http_scan scan;
    struct http_chunked chunk;
    uint64_t body_left;         /* Content-Length bytes still to read */
    uint64_t body_seen;         /* chunked bytes read so far */
    int64_t file_off;
    uint64_t file_left;
    int file_fd;                /* -1, or the file being sent */
    uint32_t requests;
    unsigned char phase;
    unsigned char wait;
    unsigned char chunked;
    unsigned char keep_alive;
    unsigned char partial;      /* some bytes of a request have arrived */
};

/* ---- configuration ---- */

static void *
http_conf_new(void)
{
    struct http_conf *cf = calloc(1, sizeof(*cf));

    if (cf == NULL)
        return NULL;
    cf->root_fd = -1;
    cf->max_request_line = 8 * 1024;
    cf->max_header_size = 16 * 1024;
    cf->max_headers = 100;
    cf->max_body = 1024 * 1024;
    cf->header_timeout = 10 * 1000;
    cf->keepalive_timeout = 75 * 1000;
    cf->send_timeout = 60 * 1000;
    return cf;
}

enum ktype { K_SIZE, K_COUNT, K_DURATION };

static const struct {
    const char *name;
    enum ktype type;
    size_t off;
    uint64_t min, max;
} keys[] = {
    { "max_request_line",  K_SIZE,     offsetof(struct http_conf, max_request_line),  256, 1024 * 1024 },
    { "max_header_size",   K_SIZE,     offsetof(struct http_conf, max_header_size),   1024, 1024 * 1024 },
    { "max_headers",       K_COUNT,    offsetof(struct http_conf, max_headers),       1, MAX_HEADERS_LIMIT },
    { "max_body",          K_SIZE,     offsetof(struct http_conf, max_body),          0, 1024ULL * 1024 * 1024 },
    { "header_timeout",    K_DURATION, offsetof(struct http_conf, header_timeout),    100, 3600 * 1000 },
    { "keepalive_timeout", K_DURATION, offsetof(struct http_conf, keepalive_timeout), 0, 3600 * 1000 },
    { "send_timeout",      K_DURATION, offsetof(struct http_conf, send_timeout),      100, 3600 * 1000 },
};

static int
http_conf_set(void *conf, const char *key, const char *value, char *err, size_t errlen)
{
    struct http_conf *cf = conf;
    uint64_t v;
    size_t i;
    int rc;

    if (strcmp(key, "root") == 0) {
        if (value[0] == '\0') {
            snprintf(err, errlen, "empty directory");
            return ND_CONF_BAD;
        }
        free(cf->root);
        cf->root = strdup(value);
        return cf->root ? 0 : ND_CONF_BAD;
    }
    for (i = 0; i < ND_ARRAY_LEN(keys); i++) {
        if (strcmp(key, keys[i].name) != 0)
            continue;
        if (keys[i].type == K_SIZE)
            rc = nd_parse_size(value, &v, err, errlen);
        else if (keys[i].type == K_COUNT)
            rc = nd_parse_uint(value, &v, err, errlen);
        else
            rc = nd_parse_duration(value, &v, err, errlen);
        if (rc < 0)
            return ND_CONF_BAD;
        if (v < keys[i].min || v > keys[i].max) {
            snprintf(err, errlen, "%s is out of range (%llu to %llu%s)", value,
                     (unsigned long long)keys[i].min, (unsigned long long)keys[i].max,
                     keys[i].type == K_DURATION ? " ms" : "");
            return ND_CONF_BAD;
        }
        *(uint64_t *)(void *)((char *)cf + keys[i].off) = v;
        return 0;
    }
    return ND_CONF_UNKNOWN;
}

static int
http_conf_check(void *conf, char *err, size_t errlen)
{
    struct http_conf *cf = conf;

    cf->lim.max_request_line = (size_t)cf->max_request_line;
    cf->lim.max_header_size = (size_t)cf->max_header_size;
    cf->lim.max_headers = (size_t)cf->max_headers;
    if (cf->root != NULL) {
        cf->root_fd = open(cf->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (cf->root_fd < 0) {
            snprintf(err, errlen, "root %s: %s", cf->root, strerror(errno));
            return -1;
        }
    }
    return 0;
}

static void
http_conf_free(void *conf)
{
    struct http_conf *cf = conf;

    if (cf->root_fd >= 0)
        close(cf->root_fd);
    free(cf->root);
    free(cf->page);
    free(cf);
}

static size_t
http_input_max(const void *conf)
{
    const struct http_conf *cf = conf;

    /* A whole head must fit: request line, header section, CRLFs. */
    return (size_t)(cf->max_request_line + cf->max_header_size + 64);
}

/* ---- output ---- */

/* Responses gathered during one callback, written in one go. The daemon has
 * one thread, and a callback serves one connection, so one buffer will do. */
static struct {
    char data[16384];
    size_t len;
} out;

static int
out_flush(struct nd_conn *c)
{
    size_t n = out.len;

    out.len = 0;
    return n ? nd_conn_write(c, out.data, n) : 0;
}

static int
out_put(struct nd_conn *c, const void *p, size_t n)
{
    if (out.len + n > sizeof(out.data)) {
        if (out_flush(c) < 0)
            return -1;
        if (n > sizeof(out.data))
            return nd_conn_write(c, p, n);
    }
    memcpy(out.data + out.len, p, n);
    out.len += n;
    return 0;
}

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

static const char *
status_line(int status)
{
    switch (status) {
    case 200: return "HTTP/1.1 200 OK\r\n";
    case 301: return "HTTP/1.1 301 Moved Permanently\r\n";
    case 304: return "HTTP/1.1 304 Not Modified\r\n";
    case 400: return "HTTP/1.1 400 Bad Request\r\n";
    case 403: return "HTTP/1.1 403 Forbidden\r\n";
    case 404: return "HTTP/1.1 404 Not Found\r\n";
    case 405: return "HTTP/1.1 405 Method Not Allowed\r\n";
    case 408: return "HTTP/1.1 408 Request Timeout\r\n";
    case 413: return "HTTP/1.1 413 Content Too Large\r\n";
    case 414: return "HTTP/1.1 414 URI Too Long\r\n";
    case 431: return "HTTP/1.1 431 Request Header Fields Too Large\r\n";
    case 501: return "HTTP/1.1 501 Not Implemented\r\n";
    case 505: return "HTTP/1.1 505 HTTP Version Not Supported\r\n";
    default:  return "HTTP/1.1 500 Internal Server Error\r\n";
    }
}

static void
count(struct nd_conn *c, int status)
{
    uint64_t *ctr = nd_service_module_counters(nd_conn_service(c));

    ctr[C_REQUESTS]++;
    if (status >= 100 && status < 600)
        ctr[status / 100]++;
}

/* Writes a status line and headers. extra holds whole header lines. */
static int
put_head(struct nd_conn *c, struct http_conn *h, int status, int minor,
         const char *ctype, uint64_t length, const char *extra)
{
    char buf[1024];
    int n;

    n = snprintf(buf, sizeof(buf),
                 "%s" SERVER_HEADER "Date: %s\r\n%s%s%sContent-Length: %llu\r\n%s%s\r\n",
                 status_line(status), date_now(),
                 ctype ? "Content-Type: " : "", ctype ? ctype : "", ctype ? "\r\n" : "",
                 (unsigned long long)length, extra ? extra : "",
                 !h->keep_alive ? "Connection: close\r\n"
                 : minor == 0 ? "Connection: keep-alive\r\n" : "");
    if (n < 0 || (size_t)n >= sizeof(buf))
        return -1;
    count(c, status);
    return out_put(c, buf, (size_t)n);
}

static int
respond(struct nd_conn *c, struct http_conn *h, int status, int minor, int head_only,
        const char *ctype, const char *body, size_t len, const char *extra)
{
    if (put_head(c, h, status, minor, ctype, len, extra) < 0)
        return -1;
    if (!head_only && len > 0)
        return out_put(c, body, len);
    return 0;
}

/* An error page; these end the connection unless keep is set. */
static int
respond_error(struct nd_conn *c, struct http_conn *h, int status, int minor,
              int head_only, int keep, const char *extra)
{
    char body[96];
    const char *line = status_line(status) + 9;     /* after "HTTP/1.1 " */
    size_t n = strlen(line);

    if (n + 1 > sizeof(body))
        n = sizeof(body) - 1;
    memcpy(body, line, n - 2);      /* without the CRLF */
    body[n - 2] = '\n';
    if (!keep)
        h->keep_alive = 0;
    return respond(c, h, status, minor, head_only, "text/plain; charset=utf-8",
                   body, n - 1, extra);
}

/* ---- resources ---- */

static const char *
welcome_page(struct http_conf *cf, const char *service, size_t *len)
{
    if (cf->page == NULL) {
        int n = asprintf(&cf->page,
            "<!DOCTYPE html>\n"
            "<html lang=\"en\">\n"
            "<head><meta charset=\"utf-8\"><title>netdemo</title></head>\n"
            "<body>\n"
            "<h2>Welcome to netdemo</h2>\n"
            "<p>This is the <b>%s</b> service, answered by netdemo %s from a "
            "single-threaded epoll loop.</p>\n"
            "</body>\n"
            "</html>\n", service, ND_VERSION);

        if (n < 0) {
            cf->page = NULL;
            return NULL;
        }
        cf->page_len = (size_t)n;
    }
    *len = cf->page_len;
    return cf->page;
}

static int
stats(struct nd_conn *c, struct http_conn *h, int minor, int head_only)
{
    struct nd_service *svc = nd_conn_service(c);
    const uint64_t *m = nd_service_module_counters(svc);
    struct nd_counters k;
    char body[512];
    int n;

    nd_service_counters(svc, &k);
    n = snprintf(body, sizeof(body),
                 "{\"service\":\"%s\",\"version\":\"%s\",\"uptime_ms\":%llu,"
                 "\"connections\":{\"current\":%llu,\"total\":%llu},"
                 "\"requests\":{\"total\":%llu,\"1xx\":%llu,\"2xx\":%llu,"
                 "\"3xx\":%llu,\"4xx\":%llu,\"5xx\":%llu},"
                 "\"bytes\":{\"in\":%llu,\"out\":%llu}}\n",
                 nd_service_name(svc), ND_VERSION, (unsigned long long)k.uptime_ms,
                 (unsigned long long)k.conns_cur, (unsigned long long)k.conns_total,
                 (unsigned long long)m[0], (unsigned long long)m[1],
                 (unsigned long long)m[2], (unsigned long long)m[3],
                 (unsigned long long)m[4], (unsigned long long)m[5],
                 (unsigned long long)k.bytes_in, (unsigned long long)k.bytes_out);
    if (n < 0 || (size_t)n >= sizeof(body))
        return -1;
    return respond(c, h, 200, minor, head_only, "application/json", body, (size_t)n, NULL);
}

/* The raw path of the target, for a Location that keeps its encoding. */
static void
raw_path(const struct http_request *req, const char **p, size_t *n)
{
    const char *t = req->target, *end = t + req->target_len, *q;

    if (*t != '/') {
        t = memchr(t + 7, '/', (size_t)(end - t - 7));
        if (t == NULL)
            t = end;
    }
    q = memchr(t, '?', (size_t)(end - t));
    *p = t;
    *n = (size_t)((q ? q : end) - t);
}

static int
serve_file(struct nd_conn *c, struct http_conn *h, struct http_conf *cf,
           const struct http_request *req, const char *path, int head_only)
{
    struct nd_static_file f;
    char extra[2200];
    int status, n;

    status = nd_static_open(cf->root_fd, path, req, &f);
    if (status == 301) {
        const char *p;
        size_t len;

        raw_path(req, &p, &len);
        if (len > 2000)
            return respond_error(c, h, 414, req->minor, head_only, 1, NULL);
        n = snprintf(extra, sizeof(extra), "Location: %.*s/\r\n", (int)len, p);
        return respond_error(c, h, 301, req->minor, head_only, 1, extra);
    }
    if (status != 200 && status != 304)
        return respond_error(c, h, status, req->minor, head_only, 1, NULL);
    n = snprintf(extra, sizeof(extra), "Last-Modified: %s\r\n", f.last_modified);
    if (n < 0 || put_head(c, h, status, req->minor, f.ctype, f.size, extra) < 0) {
        close(f.fd);
        return -1;
    }
    if (status == 304 || head_only || f.size == 0) {
        close(f.fd);
        return 0;
    }
    h->file_fd = f.fd;
    h->file_off = 0;
    h->file_left = f.size;
    return 0;
}

/* Chooses the answer for a complete, valid request head. */
static int
route(struct nd_conn *c, struct http_conn *h, struct http_conf *cf,
      const struct http_request *req)
{
    int head_only = req->method == HTTP_HEAD;
    const char *query, *why;
    char path[8192 + 1];
    size_t len;
    int n;

    if (req->method == HTTP_OTHER)
        return respond_error(c, h, 501, req->minor, 0, 1, NULL);
    if (req->method != HTTP_GET && req->method != HTTP_HEAD)
        return respond_error(c, h, 405, req->minor, 0, 1, "Allow: GET, HEAD\r\n");
    n = http_path_clean(req->target, req->target_len, path, sizeof(path), &query, &why);
    if (n < 0)
        return respond_error(c, h, 400, req->minor, head_only, 0, NULL);
    if (strcmp(path, "/") == 0) {
        const char *page = welcome_page(cf, nd_service_name(nd_conn_service(c)), &len);

        if (page == NULL)
            return -1;
        return respond(c, h, 200, req->minor, head_only, "text/html; charset=utf-8",
                       page, len, NULL);
    }
    if (strcmp(path, "/health") == 0)
        return respond(c, h, 200, req->minor, head_only, "text/plain; charset=utf-8",
                       "ok\n", 3, NULL);
    if (strcmp(path, "/stats") == 0)
        return stats(c, h, req->minor, head_only);
    if (cf->root_fd >= 0)
        return serve_file(c, h, cf, req, path, head_only);
    return respond_error(c, h, 404, req->minor, head_only, 1, NULL);
}

/* ---- the request cycle ---- */

/* Sets the deadline for what the connection now waits for. The head's
 * deadline is not moved by further bytes: it bounds the whole head. */
static void
set_wait(struct nd_conn *c, struct http_conn *h, struct http_conf *cf, int partial)
{
    enum wait w;
    uint64_t ms;

    if (h->phase == PH_FILE || nd_conn_pending(c) > 0) {
        w = W_SEND;
        ms = cf->send_timeout;
    } else if (h->phase == PH_BODY) {
        w = W_BODY;
        ms = cf->header_timeout;
    } else if (partial) {
        if (h->wait == W_HEAD)
            return;
        w = W_HEAD;
        ms = cf->header_timeout;
    } else {
        if (h->wait == W_KEEPALIVE)
            return;
        w = W_KEEPALIVE;
        ms = cf->keepalive_timeout;
    }
    h->wait = (unsigned char)w;
    h->partial = (unsigned char)partial;
    nd_conn_set_deadline(c, ms ? ms : 1);
}

/* The request is answered. Returns what the core should do next. */
static int
request_done(struct nd_conn *c, struct http_conn *h)
{
    if (!h->keep_alive)
        return ND_FINISH;
    h->phase = PH_HEAD;
    h->wait = W_NONE;
    memset(&h->scan, 0, sizeof(h->scan));
    ND_UNUSED(c);
    return ND_KEEP;
}

/* Sends file bytes while the socket takes them. */
static int
send_file(struct nd_conn *c, struct http_conn *h)
{
    long n;

    if (out_flush(c) < 0)
        return ND_ABORT;
    n = nd_conn_sendfile(c, h->file_fd, &h->file_off, (size_t)h->file_left);
    if (n < 0)
        return ND_ABORT;
    h->file_left -= (uint64_t)n;
    if (h->file_left > 0)
        return ND_KEEP;     /* drained() brings us back */
    close(h->file_fd);
    h->file_fd = -1;
    nd_conn_hold(c, 0);
    return request_done(c, h);
}

/* After the head (and any body) of a request: a file to send, or done. */
static int
after_request(struct nd_conn *c, struct http_conn *h)
{
    if (h->file_fd >= 0) {
        h->phase = PH_FILE;
        nd_conn_hold(c, 1);     /* the next request waits for this file */
        return send_file(c, h);
    }
    return request_done(c, h);
}

/* Reads (and discards) a request body. */
static int
read_body(struct nd_conn *c, struct http_conn *h, struct http_conf *cf, struct nd_buf *in)
{
    size_t len = nd_buf_len(in);

    if (!h->chunked) {
        size_t n = len < h->body_left ? len : (size_t)h->body_left;

        nd_buf_consume(in, n);
        h->body_left -= n;
    } else {
        while (len > 0) {
            const char *data;
            size_t used, dlen;
            int rc = http_chunked_feed(&h->chunk, nd_buf_head(in), len, &used, &data, &dlen);

            nd_buf_consume(in, used);
            len -= used;
            h->body_seen += dlen;
            if (rc < 0 || h->body_seen > cf->max_body) {
                /* The answer is out already: all we can do is stop. */
                return ND_ABORT;
            }
            if (rc == 1) {
                h->chunked = 0;
                h->body_left = 0;
                break;
            }
        }
    }
    if (h->chunked || h->body_left > 0)
        return ND_KEEP;
    return after_request(c, h);
}

/* Parses and answers one request head. Returns ND_KEEP with bytes consumed,
 * 2 when more bytes are needed, or ND_FINISH/ND_ABORT. */
static int
read_head(struct nd_conn *c, struct http_conn *h, struct http_conf *cf, struct nd_buf *in)
{
    struct http_header headers[MAX_HEADERS_LIMIT];
    struct http_request req;
    int rc;

    rc = http_parse_request(nd_buf_head(in), nd_buf_len(in), &h->scan, &cf->lim,
                            &req, headers);
    if (rc == 0)
        return 2;
    h->requests++;
    if (rc != 1) {
        if (respond_error(c, h, rc, 1, 0, 0, NULL) < 0)
            return ND_ABORT;
        return ND_FINISH;
    }
    h->keep_alive = (unsigned char)req.keep_alive;
    if (req.body == HTTP_BODY_LENGTH && req.content_length > cf->max_body) {
        if (respond_error(c, h, 413, req.minor, 0, 0, NULL) < 0)
            return ND_ABORT;
        return ND_FINISH;
    }
    if (route(c, h, cf, &req) < 0)
        return ND_ABORT;
    if (!h->keep_alive && h->file_fd < 0)
        return ND_FINISH;   /* no need to read a body we will not answer */
    nd_buf_consume(in, req.head_len);
    if (req.body != HTTP_BODY_NONE) {
        h->phase = PH_BODY;
        h->chunked = req.body == HTTP_BODY_CHUNKED;
        h->body_left = req.content_length;
        h->body_seen = 0;
        memset(&h->chunk, 0, sizeof(h->chunk));
        return ND_KEEP;
    }
    return after_request(c, h);
}

static int
http_input(struct nd_conn *c, struct nd_buf *in)
{
    struct http_conn *h = nd_conn_data(c);
    struct http_conf *cf = nd_service_conf(nd_conn_service(c));
    int v = ND_KEEP;

    while (v == ND_KEEP && nd_buf_len(in) > 0 && h->phase != PH_FILE) {
        if (h->phase == PH_BODY) {
            v = read_body(c, h, cf, in);
        } else if ((v = read_head(c, h, cf, in)) == 2) {
            v = ND_KEEP;
            break;
        }
    }
    if (out_flush(c) < 0)
        return ND_ABORT;
    if (v == ND_KEEP)
        set_wait(c, h, cf, nd_buf_len(in) > 0);
    return v;
}

static int
http_drained(struct nd_conn *c)
{
    struct http_conn *h = nd_conn_data(c);
    struct http_conf *cf = nd_service_conf(nd_conn_service(c));
    int v = ND_KEEP;

    if (h->phase == PH_FILE)
        v = send_file(c, h);
    if (v == ND_KEEP)
        set_wait(c, h, cf, h->partial && h->wait == W_HEAD);
    return v;
}

static int
http_timeout(struct nd_conn *c)
{
    struct http_conn *h = nd_conn_data(c);
    int v = ND_FINISH;

    switch (h->wait) {
    case W_SEND:
        return ND_ABORT;    /* the peer stopped reading */
    case W_HEAD:
    case W_BODY:
        if (nd_conn_pending(c) == 0) {
            respond_error(c, h, 408, 1, 0, 0, NULL);
            if (out_flush(c) < 0)
                v = ND_ABORT;
        }
        return v;
    default:
        return ND_FINISH;   /* an idle keep-alive connection: just close */
    }
}

static int
http_open(struct nd_conn *c)
{
    struct http_conn *h = calloc(1, sizeof(*h));
    struct http_conf *cf = nd_service_conf(nd_conn_service(c));

    if (h == NULL)
        return ND_ABORT;
    h->file_fd = -1;
    h->keep_alive = 1;
    nd_conn_set_data(c, h);
    /* A connection that never sends a request is dropped quietly. */
    h->wait = W_KEEPALIVE;
    nd_conn_set_deadline(c, cf->header_timeout);
    return ND_KEEP;
}

static void
http_close(struct nd_conn *c)
{
    struct http_conn *h = nd_conn_data(c);

    if (h == NULL)
        return;
    if (h->file_fd >= 0)
        close(h->file_fd);
    free(h);
    nd_conn_set_data(c, NULL);
}

const struct nd_module nd_mod_http = {
    .name = "http",
    .transports = ND_MOD_STREAM,
    .conf_new = http_conf_new,
    .conf_set = http_conf_set,
    .conf_check = http_conf_check,
    .conf_free = http_conf_free,
    .input_max = http_input_max,
    .open = http_open,
    .input = http_input,
    .drained = http_drained,
    .timeout = http_timeout,
    .close = http_close,
};
