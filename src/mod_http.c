/* mod_http.c: the http module: its settings, the request cycle (head,
 * body, answer, next request), deadlines, and the resources that are not
 * probes: the welcome page, /health and files under `root` (/stats and
 * /metrics are http_metrics.c's). The parser (http_parse.c) decides what
 * is a valid request; this file decides what to answer and when to close;
 * http_response.c writes the answers. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nd/addr.h"
#include "nd/buf.h"
#include "http_parse.h"
#include "http_path.h"
#include "http_static.h"
#include "chat_redis.h"
#include "redis_url.h"
#include "nd/module.h"
#include "nd/util.h"

#include "http.h"

#define MAX_HEADERS_LIMIT 1000

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
    cf->probes = 1;
    cf->websocket = 1;
    cf->chat = 1;
    cf->max_delay = 10 * 1000;
    cf->max_bytes = 64 * 1024 * 1024;
    cf->ws_max_message = 1024 * 1024;
    cf->ws_max_queue = 1024 * 1024;
    cf->ws_ping_interval = 30 * 1000;
    return cf;
}

#define O(f) offsetof(struct http_conf, f)

static const struct nd_conf_key http_keys[] = {
    { "probes",            ND_CONF_BOOL,     O(probes),            0, 0, NULL },
    { "websocket",         ND_CONF_BOOL,     O(websocket),         0, 0, NULL },
    { "chat",              ND_CONF_BOOL,     O(chat),              0, 0, NULL },
    { "drain",             ND_CONF_BOOL,     O(drain),             0, 0, NULL },
    { "root",              ND_CONF_STRING,   O(root),              0, 0, NULL },
    { "max_request_line",  ND_CONF_SIZE,     O(max_request_line),  256, 1024 * 1024, NULL },
    { "max_header_size",   ND_CONF_SIZE,     O(max_header_size),   1024, 1024 * 1024, NULL },
    { "max_headers",       ND_CONF_NUMBER,   O(max_headers),       1, MAX_HEADERS_LIMIT, NULL },
    { "max_body",          ND_CONF_SIZE,     O(max_body),          0, 1024ULL * 1024 * 1024, NULL },
    { "header_timeout",    ND_CONF_DURATION, O(header_timeout),    100, 3600 * 1000, NULL },
    { "keepalive_timeout", ND_CONF_DURATION, O(keepalive_timeout), 0, 3600 * 1000, NULL },
    { "send_timeout",      ND_CONF_DURATION, O(send_timeout),      100, 3600 * 1000, NULL },
    { "max_delay",         ND_CONF_DURATION, O(max_delay),         0, 3600 * 1000, NULL },
    { "max_bytes",         ND_CONF_SIZE,     O(max_bytes),         0, 1024ULL * 1024 * 1024, NULL },
    { "ws_max_message",    ND_CONF_SIZE,     O(ws_max_message),    125, 64 * 1024 * 1024, NULL },
    { "ws_max_queue",      ND_CONF_SIZE,     O(ws_max_queue),      1024, 64 * 1024 * 1024, NULL },
    { "ws_ping_interval",  ND_CONF_DURATION, O(ws_ping_interval),  100, 3600 * 1000, NULL },
    { "chat_backend",      ND_CONF_STRING,   O(backend_text),      0, 0, NULL },
    { "chat_backend_password", ND_CONF_SECRET, O(backend_password), 0, 0, NULL },
};


/* The slots http_response.c's count() fills: 0 every answer, k the kxx;
 * then the WebSocket connections open now (http_ws.c), a gauge; then the
 * shared rooms' backend (chat_redis.c): 1 while it is down (a gauge), the
 * times it came back, the messages it refused, those it did not answer
 * in time (maybe published). */
static const char *const http_counters[] = {
    "requests", "requests_1xx", "requests_2xx", "requests_3xx", "requests_4xx",
    "requests_5xx", "ws_members", "chat_backend_down", "chat_backend_reconnects",
    "chat_backend_refused", "chat_backend_unanswered", NULL,
};
_Static_assert(ND_ARRAY_LEN(http_counters) - 1 <= ND_MOD_COUNTERS,
               "more counters than slots");

/* chat_backend: "local" (backend NULL) or where the shared rooms' Redis is. */
static int
http_backend(struct http_conf *cf, char *err, size_t errlen)
{
    struct nd_redis_url u;
    char why[400];

    free(cf->backend);
    cf->backend = NULL;
    if (nd_redis_url_parse(cf->backend_text, &u, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "chat_backend: %s", why);
        return -1;
    }
    if (u.local)
        return 0;
    if ((cf->backend = malloc(sizeof(u))) == NULL) {
        snprintf(err, errlen, "chat_backend: out of memory");
        return -1;
    }
    *cf->backend = u;
    return 0;
}

static int
http_conf_check(void *conf, char *err, size_t errlen)
{
    struct http_conf *cf = conf;

    cf->lim.max_request_line = (size_t)cf->max_request_line;
    cf->lim.max_header_size = (size_t)cf->max_header_size;
    cf->lim.max_headers = (size_t)cf->max_headers;
    if (cf->backend_text != NULL && http_backend(cf, err, errlen) < 0)
        return -1;
    if (cf->backend_password != NULL) {
        if (cf->backend == NULL) {
            snprintf(err, errlen, "chat_backend_password: chat_backend is not a redis:// one");
            return -1;
        }
        if (cf->backend->password[0]) {
            snprintf(err, errlen, "chat_backend_password: chat_backend names a password already");
            return -1;
        }
        if (strlen(cf->backend_password) >= sizeof(cf->backend->password)) {
            snprintf(err, errlen, "chat_backend_password: too long");
            return -1;
        }
        strcpy(cf->backend->password, cf->backend_password);
    }
    if (cf->backend != NULL) {
        struct nd_addr a;
        char why[200];

        if (nd_addr_parse(&a, cf->backend->addr, why, sizeof(why)) < 0) {
            snprintf(err, errlen, "chat_backend: %s", why);
            return -1;
        }
    }
    if (cf->root != NULL) {
        cf->root_fd = open(cf->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (cf->root_fd < 0) {
            snprintf(err, errlen, "root: %s: %s", cf->root, strerror(errno));
            return -1;
        }
    }
    return 0;
}

static void
http_in_force(struct nd_service *svc)
{
    nd_http_chat_in_force(svc, nd_service_conf(svc));
}

static void
http_conf_free(void *conf)
{
    struct http_conf *cf = conf;

    if (cf->root_fd >= 0)
        close(cf->root_fd);
    nd_http_chat_conf_gone(cf);
    free(cf->backend);
    free(cf->backend_text);
    free(cf->backend_password);
    free(cf->root);
    free(cf->page);
    free(cf);
}

static size_t
http_input_max(const void *conf)
{
    const struct http_conf *cf = conf;

    /* A whole head must fit: request line, header section, CRLFs; and for
     * POST /echo and POST /chat/send, which need the whole body, the body
     * too. */
    return (size_t)(cf->max_request_line + cf->max_header_size + 64 +
                    (cf->probes || cf->chat ? cf->max_body : 0));
}

/* ---- resources ---- */

/* Appends to body[0..size) at *n; on overflow *n ends at or past size,
 * checked once at the end. */
static void __attribute__((format(printf, 4, 5)))
put(char *body, size_t size, size_t *n, const char *fmt, ...)
{
    va_list ap;
    int k;

    if (*n >= size)
        return;
    va_start(ap, fmt);
    k = vsnprintf(body + *n, size - *n, fmt, ap);
    va_end(ap);
    *n = k < 0 ? size : *n + (size_t)k;
}

/* The welcome page is built once per configuration from its settings and
 * lists every resource they leave on, one line each, with no external
 * assets. The service's name is at most 64 characters: 4 KiB holds it. */
#define PAGE_MAX 4096

static const char *
welcome_page(struct http_conf *cf, const char *service, size_t *len)
{
    char body[PAGE_MAX];
    size_t n = 0;

    if (cf->page != NULL) {
        *len = cf->page_len;
        return cf->page;
    }
    put(body, sizeof(body), &n,
        "<!DOCTYPE html>\n"
        "<html lang=\"en\">\n"
        "<head><meta charset=\"utf-8\"><title>netdemo</title></head>\n"
        "<body>\n"
        "<h2>Welcome to netdemo</h2>\n"
        "<p>This is the <b>%s</b> service, answered by netdemo %s from a "
        "single-threaded epoll loop. It serves:</p>\n"
        "<ul>\n"
        "<li><a href=\"/\">/</a>: this page</li>\n"
        "<li><a href=\"/health\">/health</a>: <code>ok</code>, or 503 while draining</li>\n"
        "<li><a href=\"/stats\">/stats</a>: every service's counters as JSON</li>\n"
        "<li><a href=\"/metrics\">/metrics</a>: the same for Prometheus</li>\n",
        service, ND_VERSION);
    if (cf->probes)
        put(body, sizeof(body), &n,
            "<li><a href=\"/echo\">/echo</a>: the request, reflected (GET or POST)</li>\n"
            "<li><a href=\"/status/418\">/status/CODE</a>: that status</li>\n"
            "<li><a href=\"/delay/1000\">/delay/MS</a>: an answer after MS milliseconds</li>\n"
            "<li><a href=\"/bytes/1024\">/bytes/N</a>: N pseudo-random bytes</li>\n"
            "<li><a href=\"/drip\">/drip</a>: bytes spread over a duration</li>\n");
    if (cf->chat)
        put(body, sizeof(body), &n,
            "<li><a href=\"/chat\">/chat</a>: a chat room page</li>\n"
            "<li><a href=\"/chat/poll?room=lobby\">/chat/poll</a>: a room's messages, "
            "long polling</li>\n"
            "<li><a href=\"/chat/send?room=lobby\">/chat/send</a>: POST a message "
            "to a room</li>\n");
    if (cf->websocket)
        put(body, sizeof(body), &n,
            "<li><a href=\"/ws/echo\">/ws/echo</a>: WebSocket echo</li>\n");
    if (cf->websocket && cf->chat)
        put(body, sizeof(body), &n,
            "<li><a href=\"/ws/chat?room=lobby\">/ws/chat</a>: a chat room over "
            "WebSocket</li>\n");
    if (cf->root_fd >= 0)
        put(body, sizeof(body), &n,
            "<li><a href=\"/index.html\">/PATH</a>: files under the document root</li>\n");
    put(body, sizeof(body), &n, "</ul>\n</body>\n</html>\n");
    if (n >= sizeof(body) || (cf->page = malloc(n + 1)) == NULL)
        return NULL;
    memcpy(cf->page, body, n + 1);
    cf->page_len = n;
    *len = n;
    return cf->page;
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
           const struct http_request *req, const char *path)
{
    struct nd_static_file f;
    char extra[2200];
    int status;

    status = nd_static_open(cf->root_fd, path, req, &f);
    if (status == 301) {
        const char *p;
        size_t len;

        raw_path(req, &p, &len);
        if (len > 2000)
            return nd_http_error(c, h, 414, 1, NULL);
        snprintf(extra, sizeof(extra), "Location: %.*s/\r\n", (int)len, p);
        return nd_http_error(c, h, 301, 1, extra);
    }
    if (status != 200 && status != 304)
        return nd_http_error(c, h, status, 1, NULL);
    snprintf(extra, sizeof(extra), "Last-Modified: %s\r\n", f.last_modified);
    if (nd_http_head(c, h, status, f.ctype, (int64_t)f.size, extra) < 0) {
        close(f.fd);
        return -1;
    }
    if (status == 304 || h->head_only || f.size == 0) {
        close(f.fd);
        return 0;
    }
    h->stream = S_FILE;
    h->file_fd = f.fd;
    h->file_off = 0;
    h->left = f.size;
    return 0;
}

/* The methods some resource of this server answers under its settings:
 * GET and HEAD everywhere, POST for /echo and /chat/send when they are on,
 * OPTIONS for "*". */
static const char *
server_allow(const struct http_conf *cf)
{
    return cf->probes || cf->chat ? "Allow: GET, HEAD, POST, OPTIONS\r\n"
                                  : "Allow: GET, HEAD, OPTIONS\r\n";
}

/* Answers a complete, valid request head, or sets up its stream. Returns
 * PROBE_DONE, PROBE_NEED_BODY (nothing written yet), or -1. */
static int
route(struct nd_conn *c, struct http_conn *h, struct http_conf *cf,
      const struct http_request *req)
{
    const char *query, *why;
    char path[8192 + 1];
    size_t len;
    int rc;

    if (req->method == HTTP_OTHER)
        return nd_http_error(c, h, 501, 1, NULL) < 0 ? -1 : PROBE_DONE;
    /* The two target forms that are not paths (RFC 9112 3.2.3, 3.2.4):
     * OPTIONS * asks about the server as a whole; CONNECT host:port asks
     * for a tunnel, which a known method we do not serve answers. */
    if (req->method == HTTP_OPTIONS && req->target_len == 1 && req->target[0] == '*')
        return nd_http_respond(c, h, 200, NULL, "", 0, server_allow(cf)) < 0 ? -1 : PROBE_DONE;
    if (req->method == HTTP_CONNECT) {
        if (!nd_http_authority_form(req->target, req->target_len))
            return nd_http_error(c, h, 400, 0, NULL) < 0 ? -1 : PROBE_DONE;
        return nd_http_error(c, h, 405, 1, server_allow(cf)) < 0 ? -1 : PROBE_DONE;
    }
    if (nd_http_path_clean(req->target, req->target_len, path, sizeof(path), &query, &why) < 0)
        return nd_http_error(c, h, 400, 0, NULL) < 0 ? -1 : PROBE_DONE;
    h->whole = WHOLE_ECHO;
    /* A resource switched off is not there: it falls through to 404 (or
     * to a file under root) like any unknown path. /ws/chat needs both. */
    if (cf->websocket && (cf->chat || strcmp(path, "/ws/chat") != 0) &&
        (rc = nd_http_ws_route(c, h, cf, req, path, query)) != PROBE_NO)
        return rc;
    if (cf->chat && (rc = nd_http_chat_route(c, h, cf, req, path, query)) != PROBE_NO)
        return rc;
    if (cf->probes && (rc = nd_http_probe(c, h, cf, req, path, query)) != PROBE_NO)
        return rc;
    if (req->method != HTTP_GET && req->method != HTTP_HEAD)
        return nd_http_error(c, h, 405, 1, "Allow: GET, HEAD\r\n") < 0 ? -1 : PROBE_DONE;
    if (strcmp(path, "/") == 0) {
        const char *page = welcome_page(cf, nd_service_name(nd_conn_service(c)), &len);

        if (page == NULL)
            return -1;
        rc = nd_http_respond(c, h, 200, "text/html; charset=utf-8", page, len, NULL);
    } else if (strcmp(path, "/health") == 0 && cf->drain) {
        rc = nd_http_respond(c, h, 503, "text/plain; charset=utf-8", "draining\n", 9, NULL);
    } else if (strcmp(path, "/health") == 0) {
        rc = nd_http_respond(c, h, 200, "text/plain; charset=utf-8", "ok\n", 3, NULL);
    } else if (strcmp(path, "/stats") == 0) {
        rc = nd_http_stats(c, h, cf);
    } else if (strcmp(path, "/metrics") == 0) {
        rc = nd_http_metrics(c, h);
    } else if (cf->root_fd >= 0) {
        rc = serve_file(c, h, cf, req, path);
    } else {
        rc = nd_http_error(c, h, 404, 1, NULL);
    }
    return rc < 0 ? -1 : PROBE_DONE;
}

/* ---- the request cycle ---- */

/* Sets the deadline for what the connection now waits for. The head's
 * deadline is not moved by further bytes: it bounds the whole head. A drip
 * or a delay owns the deadline itself. */
static void
set_wait(struct nd_conn *c, struct http_conn *h, struct http_conf *cf, int partial)
{
    enum http_wait w;
    uint64_t ms;

    if (h->stream == S_DRIP || h->stream == S_DELAY || h->stream == S_POLL || h->ws != NULL)
        return;     /* these own the deadline */
    if (h->phase == PH_STREAM) {
        w = W_SEND;
        ms = cf->send_timeout;
    } else if (h->phase == PH_BODY || h->phase == PH_WHOLE) {
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
static enum nd_verdict
request_done(struct nd_conn *c, struct http_conn *h)
{
    if (h->access != NULL)
        nd_http_access_end(c, h);
    if (h->phase == PH_STREAM)
        nd_conn_hold(c, 0);
    h->phase = PH_HEAD;
    h->stream = S_NONE;
    h->wait = W_NONE;
    memset(&h->scan, 0, sizeof(h->scan));
    if (h->keep_alive)
        return ND_KEEP;
    if (h->peer_closes)
        nd_conn_peer_done(c);   /* its request, body and all, is read */
    return ND_FINISH;
}

/* Sends file bytes while the socket takes them. */
static enum nd_verdict
send_file(struct nd_conn *c, struct http_conn *h)
{
    long n;

    n = nd_conn_sendfile(c, h->file_fd, &h->file_off, (size_t)h->left);
    if (n < 0)
        return ND_ABORT;
    h->left -= (uint64_t)n;
    if (h->left > 0)
        return ND_KEEP;     /* drained() brings us back */
    close(h->file_fd);
    h->file_fd = -1;
    return request_done(c, h);
}

/* Moves a stream one step; at its end, on to the next request. */
static enum nd_verdict
stream_step(struct nd_conn *c, struct http_conn *h, int tick)
{
    int rc;

    switch (h->stream) {
    case S_FILE:
        return send_file(c, h);
    case S_BYTES:
        rc = nd_http_probe_bytes(c, h);
        break;
    case S_DRIP:
    case S_DELAY:
        if (!tick)
            return ND_KEEP;     /* the deadline drives these */
        rc = nd_http_probe_tick(c, h);
        break;
    case S_POLL:
        /* Answered by an event (drained() brings us here), or its time. */
        rc = tick ? nd_http_chat_poll_timeout(c, h) : h->poll_answered;
        break;
    default:
        return request_done(c, h);
    }
    if (rc < 0)
        return ND_ABORT;
    return rc ? request_done(c, h) : ND_KEEP;
}

/* After the head (and any body) of a request: a stream to run, or done. */
static enum nd_verdict
after_request(struct nd_conn *c, struct http_conn *h)
{
    if (h->stream == S_NONE)
        return request_done(c, h);
    h->phase = PH_STREAM;
    nd_conn_hold(c, 1);     /* the next request waits for this answer */
    if (h->stream == S_DELAY || h->stream == S_DRIP || h->stream == S_POLL) {
        nd_conn_set_deadline(c, h->tick_ms ? h->tick_ms : 1);
        return ND_KEEP;
    }
    return stream_step(c, h, 0);
}

/* Reads (and discards) the body of a request already answered. */
static enum nd_verdict
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
            int rc = nd_http_chunked_feed(&h->chunk, nd_buf_head(in), len, &used, &data, &dlen);

            /* The answer is written already: let it go out, then close. */
            if (rc < 0)
                return ND_FINISH;
            nd_buf_consume(in, used);
            len -= used;
            h->body_len += dlen;
            if (h->body_len > cf->max_body)
                return ND_FINISH;
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

/* Gathers a body the answer needs, in the input buffer right after its
 * head (chunked framing is removed in place), then answers. Sets h->more
 * when more bytes are needed. */
static enum nd_verdict
read_whole(struct nd_conn *c, struct http_conn *h, struct http_conf *cf, struct nd_buf *in)
{
    struct http_header headers[MAX_HEADERS_LIMIT];
    struct http_request req;
    struct http_scan scan = { 0 };
    char *buf = nd_buf_head(in);
    size_t total;

    if (!h->chunked) {
        if (nd_buf_len(in) - h->head_len < h->body_left) {
            h->more = 1;
            return ND_KEEP;
        }
        h->body_len = h->body_left;
        total = h->head_len + h->body_left;
    } else {
        for (;;) {
            char *raw = buf + h->head_len + h->body_len;
            size_t rlen = nd_buf_len(in) - h->head_len - (size_t)h->body_len;
            const char *data;
            size_t used, dlen;
            int rc = nd_http_chunked_feed(&h->chunk, raw, rlen, &used, &data, &dlen);

            if (rc < 0)
                return nd_http_error(c, h, 400, 0, NULL) < 0 ? ND_ABORT : ND_FINISH;
            /* Keep the data, drop the framing: the bytes after it move down. */
            if (dlen > 0)
                memmove(raw, data, dlen);
            memmove(raw + dlen, raw + used, rlen - used);
            in->end -= used - dlen;
            h->body_len += dlen;
            if (h->body_len > cf->max_body)
                return nd_http_error(c, h, 413, 0, NULL) < 0 ? ND_ABORT : ND_FINISH;
            if (rc == 1)
                break;
            if (used == rlen) {
                h->more = 1;
                return ND_KEEP;
            }
        }
        total = h->head_len + (size_t)h->body_len;
    }
    /* The buffer may have moved since the head was parsed: parse it again. */
    if (nd_http_parse_request(buf, h->head_len, &scan, &cf->lim, &req, headers) != 1 ||
        (h->whole == WHOLE_CHAT_SEND
             ? nd_http_chat_send(c, h, cf, &req, buf + h->head_len, (size_t)h->body_len)
             : nd_http_probe_echo(c, h, cf, &req, buf + h->head_len, (size_t)h->body_len)) < 0)
        return ND_ABORT;
    nd_buf_consume(in, total);
    return after_request(c, h);     /* a shared room's send waits for Redis */
}

/* False when the chunked body bytes at p[0..n), the start of a body, are
 * already malformed. A resource that ignores the body answers before the
 * rest arrives: what is in must not be answered as a valid request. */
static int
chunked_prefix_valid(const char *p, size_t n)
{
    struct http_chunked ch = { 0 };

    while (n > 0) {
        const char *data;
        size_t used, dlen;
        int rc = nd_http_chunked_feed(&ch, p, n, &used, &data, &dlen);

        if (rc < 0)
            return 0;
        if (rc == 1)
            break;
        p += used;
        n -= used;
    }
    return 1;
}

/* Parses and answers one request head. Returns ND_KEEP with bytes consumed
 * (or with h->more set when more bytes are needed), or ND_FINISH/ND_ABORT. */
static enum nd_verdict
read_head(struct nd_conn *c, struct http_conn *h, struct http_conf *cf, struct nd_buf *in)
{
    struct http_header headers[MAX_HEADERS_LIMIT];
    struct http_request req;
    int rc;

    if (h->access != NULL && h->scan.pos == 0)
        nd_http_access_begin(c, h);     /* the request's first bytes */
    rc = nd_http_parse_request(nd_buf_head(in), nd_buf_len(in), &h->scan, &cf->lim,
                            &req, headers);
    if (rc == 0) {
        h->more = 1;
        return ND_KEEP;
    }
    if (h->access != NULL && rc == 1)
        nd_http_access_request(h, &req);
    else if (h->access != NULL)
        nd_http_access_raw(h, nd_buf_head(in) + h->scan.start, nd_buf_len(in) - h->scan.start);
    h->requests++;
    h->minor = 1;
    h->head_only = 0;
    if (rc != 1)
        return nd_http_error(c, h, rc, 0, NULL) < 0 ? ND_ABORT : ND_FINISH;
    h->keep_alive = (unsigned char)req.keep_alive;
    h->peer_closes = !req.keep_alive;
    h->minor = (unsigned char)req.minor;
    h->head_only = req.method == HTTP_HEAD;
    if (req.body == HTTP_BODY_LENGTH && req.content_length > cf->max_body)
        return nd_http_error(c, h, 413, 0, NULL) < 0 ? ND_ABORT : ND_FINISH;
    if (req.body == HTTP_BODY_CHUNKED &&
        !chunked_prefix_valid(nd_buf_head(in) + req.head_len, nd_buf_len(in) - req.head_len))
        return nd_http_error(c, h, 400, 0, NULL) < 0 ? ND_ABORT : ND_FINISH;
    rc = route(c, h, cf, &req);
    if (rc < 0)
        return ND_ABORT;
    h->chunked = req.body == HTTP_BODY_CHUNKED;
    h->body_left = req.content_length;
    h->body_len = 0;
    memset(&h->chunk, 0, sizeof(h->chunk));
    if (rc == PROBE_NEED_BODY) {
        h->phase = PH_WHOLE;
        h->head_len = req.head_len;
        return ND_KEEP;
    }
    if (!h->keep_alive && h->stream == S_NONE) {
        /* No need to read a body we will not answer. Without one, a
         * client that asked to close has sent all it will send. */
        if (h->peer_closes && req.body == HTTP_BODY_NONE) {
            nd_buf_consume(in, req.head_len);
            nd_conn_peer_done(c);
        }
        return ND_FINISH;
    }
    nd_buf_consume(in, req.head_len);
    if (req.body != HTTP_BODY_NONE) {
        h->phase = PH_BODY;
        return ND_KEEP;
    }
    return after_request(c, h);
}

/* The state of a connection is made when its first byte arrives: a
 * connection that only sits there costs the core's few words, no more. */
static struct http_conn *
conn_state(struct nd_conn *c)
{
    struct http_conn *h = nd_conn_data(c);

    if (h == NULL && (h = calloc(1, sizeof(*h))) != NULL) {
        struct http_conf *cf = nd_service_conf(nd_conn_service(c));

        /* An answer the client leaves unread ends it after send_timeout. */
        nd_conn_set_send_timeout(c, cf->send_timeout);
        h->file_fd = -1;
        h->keep_alive = 1;
        h->minor = 1;
        h->wait = W_KEEPALIVE;
        if (nd_http_access_attach(c, h) < 0) {
            free(h);
            return NULL;
        }
        nd_conn_set_data(c, h);
    }
    return h;
}

/* A verdict that ends the connection ends the request under way: its
 * access line is written now, not once the connection has lingered. */
static enum nd_verdict
ended(struct nd_conn *c, struct http_conn *h, enum nd_verdict v)
{
    if (v != ND_KEEP && h != NULL && h->access != NULL)
        nd_http_access_end(c, h);
    return v;
}

static enum nd_verdict
http_input(struct nd_conn *c, struct nd_buf *in)
{
    struct http_conn *h = conn_state(c);
    struct http_conf *cf = nd_service_conf(nd_conn_service(c));
    enum nd_verdict v = ND_KEEP;

    if (h == NULL)
        return ND_ABORT;

    h->more = 0;
    while (v == ND_KEEP && !h->more && nd_buf_len(in) > 0 && h->phase != PH_STREAM) {
        if (h->ws != NULL)
            return nd_http_ws_input(c, h, cf, in);
        if (h->phase == PH_BODY)
            v = read_body(c, h, cf, in);
        else if (h->phase == PH_WHOLE)
            v = read_whole(c, h, cf, in);
        else
            v = read_head(c, h, cf, in);
    }
    if (v == ND_KEEP)
        set_wait(c, h, cf, h->phase == PH_HEAD && nd_buf_len(in) > 0);
    return ended(c, h, v);
}

static enum nd_verdict
http_drained(struct nd_conn *c)
{
    struct http_conn *h = nd_conn_data(c);
    struct http_conf *cf = nd_service_conf(nd_conn_service(c));
    enum nd_verdict v = ND_KEEP;

    if (h == NULL)
        return ND_KEEP;
    if (h->phase == PH_STREAM)
        v = stream_step(c, h, 0);
    if (v == ND_KEEP)
        set_wait(c, h, cf, h->partial && h->wait == W_HEAD);
    return ended(c, h, v);
}

static enum nd_verdict
timeout_verdict(struct nd_conn *c)
{
    struct http_conn *h = nd_conn_data(c);
    enum nd_verdict v = ND_FINISH;

    if (h == NULL)
        return ND_FINISH;   /* connected, never sent a byte: just close */
    if (h->ws != NULL)
        return nd_http_ws_timeout(c, h, nd_service_conf(nd_conn_service(c)));
    if (h->phase == PH_STREAM &&
        (h->stream == S_DRIP || h->stream == S_DELAY || h->stream == S_POLL)) {
        v = stream_step(c, h, 1);
        if (v == ND_KEEP && h->phase == PH_HEAD)
            set_wait(c, h, nd_service_conf(nd_conn_service(c)), 0);
        return v;
    }
    switch (h->wait) {
    case W_SEND:
        return ND_ABORT;    /* the peer stopped reading */
    case W_HEAD:
    case W_BODY:
        if (nd_conn_pending(c) == 0 && nd_http_error(c, h, 408, 0, NULL) < 0)
            v = ND_ABORT;
        return v;
    default:
        return ND_FINISH;   /* an idle keep-alive connection: just close */
    }
}

/* The peer sent its FIN. While an answer is delayed, that is a client that
 * left: free it now. While one is streamed, finish it, then close. */
static enum nd_verdict
eof_verdict(struct nd_conn *c)
{
    struct http_conn *h = nd_conn_data(c);

    if (h == NULL || h->phase != PH_STREAM)
        return ND_FINISH;
    if (h->stream == S_DELAY || h->stream == S_POLL)
        return ND_ABORT;
    h->keep_alive = 0;
    return ND_KEEP;
}

/* The server is stopping. An idle connection (or one part way through a
 * head, as nginx treats it, or through the body of a request answered
 * already) ends now, a WebSocket with 1001 and a long poll with its
 * answer; an answer under way is completed first, then the connection
 * closes. */
static enum nd_verdict
stop_verdict(struct nd_conn *c)
{
    struct http_conn *h = nd_conn_data(c);

    if (h == NULL)
        return ND_FINISH;
    if (h->ws != NULL)
        return nd_http_ws_stop(c, h);
    if (h->phase == PH_HEAD || (h->phase == PH_BODY && h->stream == S_NONE))
        return ND_FINISH;
    h->keep_alive = 0;
    if (h->phase == PH_STREAM && h->stream == S_POLL)
        return stream_step(c, h, 1);
    return ND_KEEP;
}

static enum nd_verdict
http_timeout(struct nd_conn *c)
{
    return ended(c, nd_conn_data(c), timeout_verdict(c));
}

static enum nd_verdict
http_eof(struct nd_conn *c)
{
    return ended(c, nd_conn_data(c), eof_verdict(c));
}

static enum nd_verdict
http_stop(struct nd_conn *c)
{
    return ended(c, nd_conn_data(c), stop_verdict(c));
}

static enum nd_verdict
http_open(struct nd_conn *c)
{
    struct http_conf *cf = nd_service_conf(nd_conn_service(c));

    /* A connection that never sends a request is dropped quietly. */
    nd_conn_set_deadline(c, cf->header_timeout);
    return ND_KEEP;
}

static void
http_close(struct nd_conn *c)
{
    struct http_conn *h = nd_conn_data(c);

    if (h == NULL)
        return;
    nd_http_access_close(c, h);
    if (h->ws != NULL)
        nd_http_ws_close(c, h);
    nd_http_chat_poll_forget(h);
    if (h->file_fd >= 0)
        close(h->file_fd);
    free(h);
    nd_conn_set_data(c, NULL);
}

/* The status line says when /health answers 503. */
static const char *
http_status(const void *conf)
{
    return ((const struct http_conf *)conf)->drain ? "draining" : NULL;
}

const struct nd_module nd_mod_http = {
    .name = "http",
    .transports = ND_MOD_STREAM,
    .keys = http_keys,
    .nkeys = ND_ARRAY_LEN(http_keys),
    .conf_new = http_conf_new,
    .conf_check = http_conf_check,
    .conf_free = http_conf_free,
    .input_max = http_input_max,
    .open = http_open,
    .input = http_input,
    .drained = http_drained,
    .status = http_status,
    .in_force = http_in_force,
    .eof = http_eof,
    .timeout = http_timeout,
    .stop = http_stop,
    .close = http_close,
    .counters = http_counters,
    .gauges = 1u << HTTP_CTR_WS_MEMBERS | 1u << HTTP_CTR_CHAT_DOWN,
};
