/* http_access.c: the http module's access log: the record of the request
 * under way (its start, method, target, X-Request-Id, status and the
 * connection's output when it began), and the lines written from it. Only
 * a connection of a service with access_log = on has a record. */
#include <stdlib.h>
#include <string.h>

#include "nd/log.h"
#include "nd/module.h"

#include "http.h"

/* More of a target than a line prints (4096 escaped bytes), so that a
 * target cut here still shows as cut ("...") in the line. */
#define COPY_MAX 4100

struct http_access {
    char peer[ND_PEER_TEXT];
    uint64_t start_us;
    uint64_t out0;              /* the connection's output before the request */
    int status;                 /* of the answer; 0 before one */
    unsigned char open;         /* a request is under way, not logged yet */
    unsigned char raw;          /* text holds a malformed request line */
    unsigned char has_method, has_reqid;
    size_t method_len, target_len, reqid_len;
    char *text;                 /* method, target, X-Request-Id */
    size_t cap;
};

/* What the connection has written so far: taken by the kernel, and (while
 * it is open) queued. Once closing, what is still queued is dropped. */
static uint64_t
output(const struct nd_conn *c, int closing)
{
    uint64_t in, out;

    nd_conn_bytes(c, &in, &out);
    return closing ? out : out + nd_conn_pending(c);
}

int
nd_http_access_attach(struct nd_conn *c, struct http_conn *h)
{
    if (!nd_service_access_log(nd_conn_service(c)))
        return 0;
    h->access = calloc(1, sizeof(*h->access));
    if (h->access == NULL)
        return -1;
    nd_conn_peer_text(c, h->access->peer, sizeof(h->access->peer));
    return 0;
}

void
nd_http_access_begin(struct nd_conn *c, struct http_conn *h)
{
    struct http_access *a = h->access;

    a->start_us = nd_now_us();
    a->out0 = output(c, 0);
    a->status = 0;
    a->open = 1;
    a->raw = a->has_method = a->has_reqid = 0;
    a->method_len = a->target_len = a->reqid_len = 0;
}

/* Keeps n bytes of p after the first `used` of the text; returns how many. */
static size_t
keep(struct http_access *a, size_t used, const char *p, size_t n)
{
    if (n == 0)
        return 0;       /* text may still be NULL */
    if (n > COPY_MAX)
        n = COPY_MAX;
    if (used + n > a->cap) {
        size_t cap = used + n < 256 ? 256 : used + n;
        char *t = realloc(a->text, cap);

        if (t == NULL)
            return 0;   /* the line shows less; the request goes on */
        a->text = t;
        a->cap = cap;
    }
    memcpy(a->text + used, p, n);
    return n;
}

void
nd_http_access_request(struct http_conn *h, const struct http_request *req)
{
    struct http_access *a = h->access;
    const struct http_header *id = nd_http_header_find(req, "x-request-id");

    a->method_len = keep(a, 0, req->method_name, req->method_len);
    a->has_method = a->method_len == req->method_len;
    a->target_len = a->has_method ? keep(a, a->method_len, req->target, req->target_len) : 0;
    if (id != NULL) {
        a->reqid_len = keep(a, a->method_len + a->target_len, id->value, id->value_len);
        a->has_reqid = 1;
    }
}

void
nd_http_access_raw(struct http_conn *h, const char *line, size_t n)
{
    struct http_access *a = h->access;
    const char *cr = memchr(line, '\r', n), *lf = memchr(line, '\n', n);

    if (cr != NULL)
        n = (size_t)(cr - line);
    if (lf != NULL && (size_t)(lf - line) < n)
        n = (size_t)(lf - line);
    a->target_len = keep(a, 0, line, n);
    a->raw = 1;
}

void
nd_http_access_status(struct http_conn *h, int status)
{
    if (h->access != NULL)
        h->access->status = status;
}

static void
request_line(struct nd_conn *c, struct http_conn *h, int closing)
{
    struct http_access *a = h->access;
    struct nd_access_http r = { 0 };
    const char *text;

    if (a == NULL || !a->open)
        return;
    a->open = 0;
    text = a->text != NULL ? a->text : "";     /* nothing kept yet */
    r.service = nd_service_name(nd_conn_service(c));
    r.client = a->peer;
    if (a->has_method) {
        r.method = text;
        r.method_len = a->method_len;
    }
    if (a->has_method || a->raw) {
        r.target = text + a->method_len;
        r.target_len = a->target_len;
    }
    if (a->has_reqid) {
        r.reqid = text + a->method_len + a->target_len;
        r.reqid_len = a->reqid_len;
    }
    r.status = a->status;
    r.bytes = output(c, closing);
    /* An answer before this one, queued when it began and dropped at the
     * close, is not this one's to owe. */
    r.bytes = r.bytes > a->out0 ? r.bytes - a->out0 : 0;
    r.duration_us = nd_now_us() - a->start_us;
    nd_access_http(&r);
}

void
nd_http_access_end(struct nd_conn *c, struct http_conn *h)
{
    request_line(c, h, 0);
}

void
nd_http_access_close(struct nd_conn *c, struct http_conn *h)
{
    struct nd_access_conn r = { .kind = "ws" };

    if (h->access == NULL)
        return;
    request_line(c, h, 1);      /* a client that left before the answer's end */
    if (h->ws != NULL) {
        r.service = nd_service_name(nd_conn_service(c));
        r.peer = h->access->peer;
        nd_conn_bytes(c, &r.in, &r.out);
        r.duration_us = nd_now_us() - nd_conn_started_us(c);
        nd_access_conn(&r);
    }
    free(h->access->text);
    free(h->access);
    h->access = NULL;
}
