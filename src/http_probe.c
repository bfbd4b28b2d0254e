/* http_probe.c: the probe resources of the http module, for people pointing
 * curl, proxies and health checkers at netdemo: /echo reflects the request
 * as the server saw it, /status/NNN answers with a chosen status, /delay/MS
 * answers later (from the loop's timer, never sleeping), /bytes/N and /drip
 * send bytes fast or slowly. `probes = off` turns them all off. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "http.h"
#include "nd/addr.h"
#include "nd/buf.h"
#include "http_path.h"
#include "nd/json.h"
#include "nd/module.h"
#include "nd/util.h"

#define MAX_EXTRA 4096          /* headers added by /status?header= */
#define DRIP_MAX_PENDING (1024 * 1024)
#define DRIP_TICK_MAX (64 * 1024)   /* bytes per 10 ms tick at most */

static int
put(struct nd_buf **b, const char *s)
{
    return nd_buf_append(b, s, strlen(s));
}

static int
putf(struct nd_buf **b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
putf(struct nd_buf **b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return -1;
    return nd_buf_append(b, tmp, (size_t)n);
}

/* "127.0.0.1" and 8080, "::1" and 8080, or "unix:/path" and -1. */
static void
addr_text(const struct sockaddr_storage *ss, unsigned len, char *out, size_t outlen, int *port)
{
    *port = -1;
    out[0] = '\0';
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)ss;

        inet_ntop(AF_INET, &sin->sin_addr, out, (socklen_t)outlen);
        *port = ntohs(sin->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)ss;

        inet_ntop(AF_INET6, &sin6->sin6_addr, out, (socklen_t)outlen);
        *port = ntohs(sin6->sin6_port);
    } else if (ss->ss_family == AF_UNIX) {
        const struct sockaddr_un *sun = (const struct sockaddr_un *)(const void *)ss;
        size_t n = len > offsetof(struct sockaddr_un, sun_path)
                       ? len - offsetof(struct sockaddr_un, sun_path) : 0;

        if (n > 0 && sun->sun_path[0] == '\0')
            snprintf(out, outlen, "unix:@%.*s", (int)(n - 1), sun->sun_path + 1);
        else
            snprintf(out, outlen, "unix:%.*s", (int)strnlen(sun->sun_path, n), sun->sun_path);
    }
}

static const char *
host_name(void)
{
    static char name[256];

    if (name[0] == '\0' && gethostname(name, sizeof(name) - 1) < 0)
        strcpy(name, "unknown");
    return name;
}

static int
body_is_text(const char *s, size_t n)
{
    size_t i = 0, k;

    while (i < n) {
        if ((k = nd_utf8_valid((const unsigned char *)s + i, n - i)) == 0 || s[i] == '\0')
            return 0;
        i += k;
    }
    return 1;
}

/* An endpoint, as JSON: {"address":"::1","port":8080}. */
static int
put_endpoint(struct nd_buf **b, const char *key, const struct sockaddr_storage *ss,
             unsigned len, int ok)
{
    char text[ND_ADDR_TEXT];
    int port;

    if (!ok)
        return putf(b, ",\"%s\":null", key);
    addr_text(ss, len, text, sizeof(text), &port);
    if (putf(b, ",\"%s\":{\"address\":", key) < 0 || nd_json_string(b, text, strlen(text)) < 0)
        return -1;
    return port >= 0 ? putf(b, ",\"port\":%d}", port) : put(b, ",\"port\":null}");
}

static int
echo_json(struct nd_buf **b, struct nd_conn *c, struct http_conn *h,
          const struct http_request *req, const char *path, const char *query,
          size_t qlen, const char *body, size_t blen, const struct sockaddr_storage *peer,
          unsigned plen, int pok, const struct sockaddr_storage *local, unsigned llen, int lok)
{
    const char *svc = nd_service_name(nd_conn_service(c));
    size_t i;

    if (put(b, "{\"method\":") < 0 ||
        nd_json_string(b, req->method_name, req->method_len) < 0 ||
        put(b, ",\"target\":") < 0 || nd_json_string(b, req->target, req->target_len) < 0 ||
        put(b, ",\"path\":") < 0 || nd_json_string(b, path, strlen(path)) < 0 ||
        put(b, ",\"query\":") < 0 ||
        (query ? nd_json_string(b, query, qlen) : put(b, "null")) < 0 ||
        putf(b, ",\"version\":\"HTTP/1.%d\",\"headers\":[", req->minor) < 0)
        return -1;
    for (i = 0; i < req->nheaders; i++) {
        const struct http_header *hd = &req->headers[i];

        if (put(b, i ? ",[" : "[") < 0 || nd_json_string(b, hd->name, hd->name_len) < 0 ||
            put(b, ",") < 0 || nd_json_string(b, hd->value, hd->value_len) < 0 ||
            put(b, "]") < 0)
            return -1;
    }
    if (put(b, "]") < 0 || put_endpoint(b, "client", peer, plen, pok) < 0 ||
        put_endpoint(b, "local", local, llen, lok) < 0 ||
        put(b, ",\"service\":") < 0 || nd_json_string(b, svc, strlen(svc)) < 0 ||
        put(b, ",\"hostname\":") < 0 || nd_json_string(b, host_name(), strlen(host_name())) < 0 ||
        putf(b, ",\"pid\":%ld,\"request\":%u", (long)getpid(), h->requests) < 0)
        return -1;
    if (body != NULL) {
        int text = body_is_text(body, blen);

        if (putf(b, ",\"body_length\":%zu,\"body_encoding\":\"%s\",\"body\":", blen,
                 text ? "text" : "base64") < 0)
            return -1;
        if (text ? nd_json_string(b, body, blen) < 0
                 : (put(b, "\"") < 0 || nd_base64(b, body, blen) < 0 || put(b, "\"") < 0))
            return -1;
    }
    return put(b, "}\n");
}

static int
echo_text(struct nd_buf **b, struct nd_conn *c, struct http_conn *h,
          const struct http_request *req, const char *body, size_t blen,
          const struct sockaddr_storage *peer, unsigned plen, int pok,
          const struct sockaddr_storage *local, unsigned llen, int lok)
{
    char ptext[ND_ADDR_TEXT], ltext[ND_ADDR_TEXT];
    int pport = -1, lport = -1;
    size_t i;

    if (pok)
        addr_text(peer, plen, ptext, sizeof(ptext), &pport);
    if (lok)
        addr_text(local, llen, ltext, sizeof(ltext), &lport);
    if (nd_buf_append(b, req->method_name, req->method_len) < 0 || put(b, " ") < 0 ||
        nd_buf_append(b, req->target, req->target_len) < 0 ||
        putf(b, " HTTP/1.%d\n", req->minor) < 0)
        return -1;
    for (i = 0; i < req->nheaders; i++) {
        const struct http_header *hd = &req->headers[i];

        if (nd_buf_append(b, hd->name, hd->name_len) < 0 || put(b, ": ") < 0 ||
            nd_buf_append(b, hd->value, hd->value_len) < 0 || put(b, "\n") < 0)
            return -1;
    }
    if (putf(b, "\nclient: %s%s%.0d\n", pok ? ptext : "-", pport >= 0 ? " port " : "",
             pport >= 0 ? pport : 0) < 0 ||
        putf(b, "local: %s%s%.0d\n", lok ? ltext : "-", lport >= 0 ? " port " : "",
             lport >= 0 ? lport : 0) < 0 ||
        putf(b, "service: %s\nhostname: %s\npid: %ld\nrequest: %u\n",
             nd_service_name(nd_conn_service(c)), host_name(), (long)getpid(),
             h->requests) < 0)
        return -1;
    if (body != NULL && (putf(b, "body: %zu bytes\n\n", blen) < 0 ||
                         nd_buf_append(b, body, blen) < 0))
        return -1;
    return 0;
}

int
nd_http_probe_echo(struct nd_conn *c, struct http_conn *h, struct http_conf *cf,
                const struct http_request *req, const char *body, size_t len)
{
    struct sockaddr_storage peer, local;
    unsigned plen = sizeof(peer), llen = sizeof(local);
    const char *query = NULL, *why;
    char path[8192 + 1], fmt[8];
    struct nd_buf *b = NULL;
    size_t qlen = 0;
    int pok, lok, text, rc;

    ND_UNUSED(cf);
    if (nd_http_path_clean(req->target, req->target_len, path, sizeof(path), &query, &why) < 0)
        return nd_http_error(c, h, 400, 0, NULL);
    if (query != NULL)
        qlen = (size_t)(req->target + req->target_len - query);
    text = query && nd_http_query_get(query, qlen, "format", 0, fmt, sizeof(fmt)) >= 0 &&
           strcmp(fmt, "text") == 0;
    pok = nd_conn_peer(c, &peer, &plen) == 0;
    lok = nd_conn_local(c, &local, &llen) == 0;
    rc = text ? echo_text(&b, c, h, req, body, len, &peer, plen, pok, &local, llen, lok)
              : echo_json(&b, c, h, req, path, query, qlen, body, len, &peer, plen, pok,
                          &local, llen, lok);
    if (rc == 0)
        rc = nd_http_respond(c, h, 200, text ? "text/plain; charset=utf-8" : "application/json",
                          nd_buf_head(b), nd_buf_len(b), NULL);
    nd_buf_free(b);
    return rc;
}

/* Digits only, at most max; -1 otherwise. */
static int64_t
number(const char *s, uint64_t max)
{
    uint64_t v;
    char err[64];

    if (nd_parse_uint(s, &v, err, sizeof(err)) < 0)
        return -1;
    return (int64_t)(v > max ? max : v);
}

/* "Name:Value" from /status?header=...: a token, a clean value, and not a
 * header that frames the message or that netdemo sends itself. */
static int
add_header(char *extra, size_t *n, const char *hv)
{
    static const char *const forbidden[] = {
        "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade",
        "trailer", "te", "date", "server",
    };
    const char *colon = strchr(hv, ':'), *v, *p;
    size_t nlen, i;
    int k;

    if (colon == NULL || colon == hv)
        return -1;
    nlen = (size_t)(colon - hv);
    for (p = hv; p < colon; p++)
        if (!(('a' <= *p && *p <= 'z') || ('A' <= *p && *p <= 'Z') || ('0' <= *p && *p <= '9') ||
              strchr("!#$%&'*+-.^_`|~", *p)))
            return -1;
    for (i = 0; i < ND_ARRAY_LEN(forbidden); i++)
        if (nd_http_token_eq(hv, nlen, forbidden[i]))
            return -1;
    for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
        ;
    for (p = v; *p; p++)
        if ((unsigned char)*p < 0x20 ? *p != '\t' : (unsigned char)*p == 0x7f)
            return -1;  /* CR, LF, NUL and other controls */
    k = snprintf(extra + *n, MAX_EXTRA - *n, "%.*s: %s\r\n", (int)nlen, hv, v);
    if (k < 0 || (size_t)k >= MAX_EXTRA - *n)
        return -1;
    *n += (size_t)k;
    return 0;
}

static int
status(struct nd_conn *c, struct http_conn *h, const char *arg, const char *query)
{
    char extra[MAX_EXTRA] = "", hv[2048], body[96];
    size_t n = 0, i, qlen = query ? strlen(query) : 0;
    const char *reason;
    int64_t code = number(arg, 1000);
    int k, rc;

    if (code < 200 || code > 599)
        return nd_http_error(c, h, 400, 1, NULL);
    /* A decoded NUL would cut the value short: refused like CR and LF. */
    for (i = 0; query && (rc = nd_http_query_get(query, qlen, "header", i, hv, sizeof(hv))) != -1; i++)
        if (rc < 0 || (size_t)rc != strlen(hv) || add_header(extra, &n, hv) < 0)
            return nd_http_error(c, h, 400, 1, NULL);
    if (code == 204 || code == 304)     /* no body, no Content-Length */
        return nd_http_head(c, h, (int)code, NULL, -1, extra);
    reason = nd_http_reason((int)code);
    k = snprintf(body, sizeof(body), "%d %s\n", (int)code, reason ? reason : "Unknown");
    return nd_http_respond(c, h, (int)code, "text/plain; charset=utf-8", body, (size_t)k, extra);
}

static int
bytes(struct nd_conn *c, struct http_conn *h, struct http_conf *cf, const char *arg,
      const char *query)
{
    int64_t n = number(arg, cf->max_bytes);
    char seed[24];
    int64_t s = 1;

    if (n < 0)
        return nd_http_error(c, h, 400, 1, NULL);
    if (query && nd_http_query_get(query, strlen(query), "seed", 0, seed, sizeof(seed)) >= 0 &&
        (s = number(seed, INT64_MAX)) < 0)
        return nd_http_error(c, h, 400, 1, NULL);
    if (nd_http_head(c, h, 200, "application/octet-stream", n, NULL) < 0)
        return -1;
    if (h->head_only || n == 0)
        return 0;
    h->stream = S_BYTES;
    h->left = (uint64_t)n;
    h->rng = s ? (uint64_t)s : 1;
    return 0;
}

static int
drip(struct nd_conn *c, struct http_conn *h, struct http_conf *cf, const char *query)
{
    char v[24];
    size_t qlen = query ? strlen(query) : 0;
    int64_t n = 10, ms = 2000;
    uint64_t ticks;

    if (query && nd_http_query_get(query, qlen, "bytes", 0, v, sizeof(v)) >= 0 &&
        (n = number(v, cf->max_bytes)) < 0)
        return nd_http_error(c, h, 400, 1, NULL);
    if (query && nd_http_query_get(query, qlen, "duration", 0, v, sizeof(v)) >= 0 &&
        (ms = number(v, cf->max_delay)) < 0)
        return nd_http_error(c, h, 400, 1, NULL);
    if (nd_http_head(c, h, 200, "application/octet-stream", n, NULL) < 0)
        return -1;
    if (h->head_only || n == 0)
        return 0;
    /* Ticks of at least 10 ms; as many bytes per tick as it takes. */
    h->tick_ms = (uint32_t)((uint64_t)ms / (uint64_t)n > 10 ? (uint64_t)ms / (uint64_t)n : 10);
    ticks = (uint64_t)ms / h->tick_ms ? (uint64_t)ms / h->tick_ms : 1;
    h->per_tick = (uint32_t)(((uint64_t)n + ticks - 1) / ticks);
    /* A drip is slow by definition: however short the duration asked,
     * a tick writes at most DRIP_TICK_MAX, so a client that does not read
     * costs at most DRIP_MAX_PENDING and a tick before it is dropped. */
    if (h->per_tick > DRIP_TICK_MAX)
        h->per_tick = DRIP_TICK_MAX;
    h->stream = S_DRIP;
    h->left = (uint64_t)n;
    return 0;
}

/* "/name/ARG" → ARG, for name in {status, delay, bytes}; NULL otherwise. */
static const char *
arg_of(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);

    if (strncmp(path, prefix, n) != 0 || path[n] == '\0' || strchr(path + n, '/'))
        return NULL;
    return path + n;
}

int
nd_http_probe(struct nd_conn *c, struct http_conn *h, struct http_conf *cf,
           const struct http_request *req, const char *path, const char *query)
{
    int get = req->method == HTTP_GET || req->method == HTTP_HEAD;
    const char *arg;
    char q[8192 + 1];
    int rc;

    if (strcmp(path, "/echo") == 0 || strncmp(path, "/echo/", 6) == 0) {
        if (req->method == HTTP_POST || req->method == HTTP_PUT) {
            if (req->body != HTTP_BODY_NONE)
                return PROBE_NEED_BODY;
            return nd_http_probe_echo(c, h, cf, req, "", 0) < 0 ? -1 : PROBE_DONE;
        }
        if (!get)
            return nd_http_error(c, h, 405, 1, "Allow: GET, HEAD, POST, PUT\r\n") < 0 ? -1
                                                                                 : PROBE_DONE;
        return nd_http_probe_echo(c, h, cf, req, NULL, 0) < 0 ? -1 : PROBE_DONE;
    }
    if (strcmp(path, "/drip") != 0 && !arg_of(path, "/status/") && !arg_of(path, "/delay/") &&
        !arg_of(path, "/bytes/"))
        return PROBE_NO;
    if (!get)
        return nd_http_error(c, h, 405, 1, "Allow: GET, HEAD\r\n") < 0 ? -1 : PROBE_DONE;
    /* The query, NUL-terminated, for the parameter lookups. */
    if (query != NULL) {
        size_t qlen = (size_t)(req->target + req->target_len - query);

        if (qlen >= sizeof(q))
            return nd_http_error(c, h, 414, 1, NULL) < 0 ? -1 : PROBE_DONE;
        memcpy(q, query, qlen);
        q[qlen] = '\0';
        query = q;
    }
    if ((arg = arg_of(path, "/status/")) != NULL) {
        rc = status(c, h, arg, query);
    } else if ((arg = arg_of(path, "/bytes/")) != NULL) {
        rc = bytes(c, h, cf, arg, query);
    } else if ((arg = arg_of(path, "/delay/")) != NULL) {
        int64_t ms = number(arg, cf->max_delay);

        if (ms < 0) {
            rc = nd_http_error(c, h, 400, 1, NULL);
        } else {
            h->stream = S_DELAY;
            h->tick_ms = (uint32_t)ms;
            rc = 0;
        }
    } else {
        rc = drip(c, h, cf, query);
    }
    return rc < 0 ? -1 : PROBE_DONE;
}

static uint64_t
next_random(uint64_t *s)
{
    /* xorshift64*: fast, and the same bytes for the same seed. */
    uint64_t x = *s;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dULL;
}

int
nd_http_probe_bytes(struct nd_conn *c, struct http_conn *h)
{
    static char chunk[16384];
    size_t budget = 256 * 1024;

    /* Slices while the queue stays below the high-water mark and the
     * budget lasts; drained() asks for the next ones. */
    while (h->left > 0 && budget > 0) {
        size_t n = h->left < sizeof(chunk) ? (size_t)h->left : sizeof(chunk), i;
        int rc;

        for (i = 0; i < n; i += 8) {
            uint64_t r = next_random(&h->rng);

            memcpy(chunk + i, &r, n - i < 8 ? n - i : 8);
        }
        if ((rc = nd_conn_write(c, chunk, n)) < 0)
            return -1;
        h->left -= n;
        budget -= n;
        if (rc > 0)
            break;
    }
    if (h->left == 0)
        return 1;
    nd_conn_want_drain(c);
    return 0;
}

int
nd_http_probe_tick(struct nd_conn *c, struct http_conn *h)
{
    static const char stars[] = "****************************************************************";

    if (h->stream == S_DELAY) {
        char body[64];
        int n = snprintf(body, sizeof(body), "{\"delay_ms\":%u}\n", h->tick_ms);

        return nd_http_respond(c, h, 200, "application/json", body, (size_t)n, NULL) < 0 ? -1 : 1;
    }
    if (nd_conn_pending(c) > DRIP_MAX_PENDING)
        return -1;  /* the client does not read what it asked for */
    {
        uint64_t n = h->left < h->per_tick ? h->left : h->per_tick;

        while (n > 0) {
            size_t k = n < sizeof(stars) - 1 ? (size_t)n : sizeof(stars) - 1;

            if (nd_conn_write(c, stars, k) < 0)
                return -1;
            n -= k;
            h->left -= k;
        }
    }
    if (h->left == 0)
        return 1;
    nd_conn_set_deadline(c, h->tick_ms);
    return 0;
}
