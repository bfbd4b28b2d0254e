/* fuzz_http_input.c: libFuzzer target for the http module's whole input
 * path: parser, routing, probes, files, WebSocket, chat rooms and long
 * polls, response writing, deadlines and streams, on arbitrary byte streams
 * split at arbitrary points, over up to three connections that share the
 * module's rooms. A small fake core stands in for conn.c and server.c: it
 * implements what module.h promises (consume semantics, hold, drained,
 * deadlines, output gathered during a callback and sent after it, a kernel
 * that takes only so many bytes, backpressure, sendfile, ending a
 * connection, also from inside its own callback) with no socket, frees a closed
 * connection after the step that closed it (as the loop does), and an
 * output checker per connection reads the answers as a client would:
 * HTTP/1.1 responses, then WebSocket frames after a 101.
 *
 * Input: [flags] [flags2] [nops] op... data...
 *   flags  bit 0 probes off, bit 1 root (a directory made at start),
 *          bit 2 small limits, bit 3 small max_body, bit 4 large max_bytes,
 *          bit 5 keepalive_timeout 0, bit 6 drain = on, bit 7 small
 *          WebSocket limits (ws_max_queue 1k, ws_max_message 125)
 *   flags2 bits 0-1 the peers' address family, bit 2 websocket = off,
 *          bit 3 chat = off, bit 4 access_log = on (each line is checked:
 *          one line, printable, the request's quotes the only ones)
 *   op     (op >> 6, op & 63 = n), on the current connection:
 *          0: n + 1 more bytes arrive;  1: the kernel's room becomes n * 97
 *          (63: unlimited);  2: the deadline passes (if one is set);
 *          3: n < 7 the peer's FIN; 7 the server stops gracefully (stop()
 *          on each connection that has sent something, as conn.c does, and
 *          no new connections after); n < 16 connection (n - 8) % 3
 *          becomes current (a closed one is opened anew, unless stopping);
 *          else (n - 15) * 128 more bytes arrive
 *   When the ops run out the rest of the data arrives on the current
 *   connection, then whatever is under way (queued output, streams, delays,
 *   polls) is run to its end, and every connection is closed. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "nd/buf.h"
#include "nd/log.h"
#include "nd/module.h"
#include "access_fmt.h"
#include "chat_redis.h"

#include "check.h"

extern const struct nd_module nd_mod_http;


#define UNLIMITED ((size_t)-1)
#define SENDFILE_BUDGET (256 * 1024)
#define STREAM_READ (4 * ND_BUF_CHUNK)     /* as conn.c */
#define MAX_STEPS 100000
#define NCONN 3

/* ---- the output checker: answers as a client reads them ---- */

enum { C_HEAD, C_MAYBE, C_BODY, C_WS };

struct checker {
    int state;
    char head[8192];
    size_t hlen;
    char maybe[9];          /* after a head with a length: a body, or (HEAD) */
    size_t mlen;            /* the next answer's first bytes */
    uint64_t body_left;
    uint64_t clen;
    int close_seen;         /* an answer said Connection: close */
    uint64_t answers;
    /* WebSocket frames, after a 101 */
    unsigned char fh[10];
    size_t fhlen;
    int f_op;
    uint64_t f_left;
    char *text;             /* a text frame's payload, to check its UTF-8 */
    size_t tlen;
    unsigned char cpay[125];
    size_t clen_ctl;
    int ws_closed;          /* our close frame went out: nothing after it */
};

static const char status_prefix[] = "HTTP/1.1 ";

static void chk_feed(struct checker *k, const char *p, size_t n);

static int
is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Strict UTF-8 (no overlongs, surrogates or code points above U+10FFFF),
 * written apart from the module's two validators. */
static int
utf8_ok(const unsigned char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned c = s[i], need, cp, min, k;

        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xe0) == 0xc0)
            need = 1, cp = c & 0x1f, min = 0x80;
        else if ((c & 0xf0) == 0xe0)
            need = 2, cp = c & 0x0f, min = 0x800;
        else if ((c & 0xf8) == 0xf0)
            need = 3, cp = c & 0x07, min = 0x10000;
        else
            return 0;
        if (n - i <= need)
            return 0;
        for (k = 1; k <= need; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += need + 1;
    }
    return 1;
}

/* A whole head is in k->head: check it and learn how long its body is. */
static void
chk_head(struct checker *k)
{
    char *p = k->head, *end = k->head + k->hlen - 2, *eol;
    int status, server = 0, date = 0, clen = 0, conn = 0, upgrade = 0, accept = 0;

    check(k->hlen >= 16 && memcmp(p, status_prefix, 9) == 0);
    check(p[9] >= '1' && p[9] <= '5' && p[10] >= '0' && p[10] <= '9' &&
          p[11] >= '0' && p[11] <= '9' && p[12] == ' ');
    status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    check(status == 101 || (status >= 200 && status <= 599));
    k->clen = 0;
    for (eol = p; eol < end && *eol != '\r'; eol++)
        check(*eol != '\n');
    check(eol < end);
    for (p = eol + 2; p < end; p = eol + 2) {
        char *colon, *v;

        for (eol = p; *eol != '\r'; eol++)
            check(*eol != '\n' && *eol != '\0');
        check(eol[1] == '\n');
        for (colon = p; colon < eol && is_tchar((unsigned char)*colon); colon++)
            ;
        check(colon > p && colon < eol && colon[0] == ':');
        v = colon + 1;
        check(v < eol && *v == ' ');
        v++;
        for (char *q = v; q < eol; q++)
            check((unsigned char)*q >= 0x20 ? (unsigned char)*q != 0x7f : *q == '\t');
        if (colon - p == 6 && strncasecmp(p, "server", 6) == 0) {
            check(!server++);
            check(strncmp(v, "netdemo/", 8) == 0);
        } else if (colon - p == 4 && strncasecmp(p, "date", 4) == 0) {
            check(!date++);
            check(eol - v == 29);
        } else if (colon - p == 14 && strncasecmp(p, "content-length", 14) == 0) {
            check(!clen++);
            check(v < eol);
            for (k->clen = 0; v < eol; v++) {
                check(*v >= '0' && *v <= '9' && k->clen < UINT64_MAX / 10);
                k->clen = k->clen * 10 + (uint64_t)(*v - '0');
            }
        } else if (colon - p == 10 && strncasecmp(p, "connection", 10) == 0) {
            check(!conn++);
            if (status == 101)
                check(eol - v == 7 && strncmp(v, "Upgrade", 7) == 0);
            else if (eol - v == 5 && strncmp(v, "close", 5) == 0)
                k->close_seen = 1;
            else
                check(eol - v == 10 && strncmp(v, "keep-alive", 10) == 0);
        } else if (colon - p == 7 && strncasecmp(p, "upgrade", 7) == 0) {
            upgrade++;
        } else if (colon - p == 20 && strncasecmp(p, "sec-websocket-accept", 20) == 0) {
            /* /status?header= may name it too: only a 101's is checked. */
            if (status == 101)
                check(!accept++ && eol - v == 28);
        } else {
            check(!(colon - p == 17 && strncasecmp(p, "transfer-encoding", 17) == 0));
        }
    }
    check(server && date);
    /* Every answer is framed by Content-Length, but for 101, 204 and 304. */
    check(clen || status == 101 || status == 204 || status == 304);
    check(!((status == 101 || status == 204) && clen));
    k->answers++;
    k->hlen = 0;
    if (status == 101) {
        /* The handshake: what follows is WebSocket frames. */
        check(upgrade == 1 && conn == 1 && accept == 1);
        k->state = C_WS;
        k->fhlen = 0;
        k->f_left = 0;
        k->f_op = -1;
    } else if (status == 204 || status == 304 || k->clen == 0) {
        k->state = C_HEAD;
    } else {
        k->state = C_MAYBE;     /* the body, or nothing if it was a HEAD */
        k->mlen = 0;
    }
}

static void
chk_byte_head(struct checker *k, char c)
{
    /* A new answer after one that said it would close is a bug. */
    if (k->hlen == 0)
        check(!k->close_seen);
    if (k->hlen < 9)
        check(c == status_prefix[k->hlen]);
    check(k->hlen < sizeof(k->head));
    k->head[k->hlen++] = c;
    if (k->hlen >= 4 && memcmp(k->head + k->hlen - 4, "\r\n\r\n", 4) == 0)
        chk_head(k);
}

/* A frame's payload has all arrived. */
static void
chk_frame_done(struct checker *k)
{
    if (k->f_op == 0x1) {
        check(utf8_ok((const unsigned char *)k->text, k->tlen));
        free(k->text);
        k->text = NULL;
        k->tlen = 0;
    } else if (k->f_op == 0x8) {
        unsigned code;

        check(k->clen_ctl == 2);
        code = (unsigned)k->cpay[0] << 8 | k->cpay[1];
        check(code >= 1000 && code <= 1013 && code != 1004 && code != 1005 && code != 1006);
        k->ws_closed = 1;
    }
    k->fhlen = 0;
    k->f_op = -1;
}

/* Server frames: whole (FIN), unmasked, shortest lengths, known opcodes. */
static void
chk_ws(struct checker *k, const char *p, size_t n)
{
    while (n > 0) {
        if (k->f_op < 0) {
            size_t need;
            unsigned char b0, b1;

            check(!k->ws_closed);
            k->fh[k->fhlen++] = (unsigned char)*p++;
            n--;
            if (k->fhlen < 2)
                continue;
            b0 = k->fh[0];
            b1 = k->fh[1];
            check((b0 & 0xf0) == 0x80);             /* FIN, no RSV */
            check((b0 & 0x0f) == 0x1 || (b0 & 0x0f) == 0x2 || (b0 & 0x0f) == 0x8 ||
                  (b0 & 0x0f) == 0x9 || (b0 & 0x0f) == 0xa);
            check(!(b1 & 0x80));                    /* servers do not mask */
            need = (b1 & 127) == 126 ? 4 : (b1 & 127) == 127 ? 10 : 2;
            if (k->fhlen < need)
                continue;
            if (need == 2) {
                k->f_left = b1 & 127;
            } else if (need == 4) {
                k->f_left = (uint64_t)k->fh[2] << 8 | k->fh[3];
                check(k->f_left >= 126);
            } else {
                size_t i;

                for (k->f_left = 0, i = 2; i < 10; i++)
                    k->f_left = k->f_left << 8 | k->fh[i];
                check(k->f_left >= 65536 && !(k->f_left >> 63));
            }
            k->f_op = b0 & 0x0f;
            if (k->f_op >= 0x8)
                check(k->f_left <= 125);
            if (k->f_op == 0x1) {
                check(k->f_left < 64 * 1024 * 1024);
                k->text = malloc(k->f_left ? (size_t)k->f_left : 1);
                check(k->text != NULL);
                k->tlen = 0;
            }
            k->clen_ctl = 0;
            if (k->f_left == 0)
                chk_frame_done(k);
            continue;
        }
        {
            size_t m = n < k->f_left ? n : (size_t)k->f_left;

            if (k->f_op == 0x1)
                memcpy(k->text + k->tlen, p, m), k->tlen += m;
            else if (k->f_op >= 0x8)
                memcpy(k->cpay + k->clen_ctl, p, m), k->clen_ctl += m;
            p += m;
            n -= m;
            k->f_left -= m;
            if (k->f_left == 0)
                chk_frame_done(k);
        }
    }
}

static void
chk_feed(struct checker *k, const char *p, size_t n)
{
    while (n > 0) {
        switch (k->state) {
        case C_WS:
            chk_ws(k, p, n);
            return;
        case C_HEAD:
            chk_byte_head(k, *p++);
            n--;
            break;
        case C_MAYBE:
            k->maybe[k->mlen++] = *p++;
            n--;
            if (k->maybe[k->mlen - 1] != status_prefix[k->mlen - 1]) {
                /* Not an answer: the body of the last one. */
                k->state = C_BODY;
                k->body_left = k->clen;
                chk_feed(k, k->maybe, k->mlen);
            } else if (k->mlen == 9) {
                /* The next answer: the last one was to a HEAD. */
                k->state = C_HEAD;
                chk_feed(k, k->maybe, k->mlen);
            }
            break;
        case C_BODY: {
            size_t m = n < k->body_left ? n : (size_t)k->body_left;

            k->body_left -= m;
            p += m;
            n -= m;
            if (k->body_left == 0)
                k->state = C_HEAD;
            break;
        }
        }
    }
}

/* The output ended well: no answer or frame is cut short. */
static void
chk_complete(const struct checker *k)
{
    if (k->state == C_WS)
        check(k->f_op < 0 && k->fhlen == 0);
    else
        check((k->state == C_HEAD && k->hlen == 0) || (k->state == C_MAYBE && k->mlen == 0));
}

/* ---- the fake core ---- */

enum { OPEN, FINISHING, CLOSED };

struct nd_service {
    const char *name;
    void *mconf;
    uint64_t hwm;
    size_t in_max;
    int access_log;
    uint64_t mod[ND_MOD_COUNTERS];
};

struct nd_conn {
    struct nd_service *svc;
    struct nd_buf *in;
    void *data;
    struct checker chk;
    size_t pending;         /* bytes queued, not yet taken by the kernel */
    uint64_t bytes_in, bytes_out;   /* read; taken by the kernel */
    size_t room;            /* what the kernel takes now */
    char *sock;             /* bytes that arrived and are not read yet */
    size_t sock_off, sock_len, sock_cap;
    int peer_fin;           /* the peer closed its side */
    int family;
    int has_deadline;
    int state;
    unsigned char held, kick, want_drain, read_paused, eof, broken, streaming, got_input;
    unsigned char backlog;  /* output had to wait: drained() once it is out */
    int in_cb;              /* its callbacks running now (they nest) */
    int end_wish;           /* nd_conn_end from inside them, as a verdict */
    struct nd_conn *next_free;
};

static struct nd_conn *to_free;     /* closed, freed after the step */
static uint64_t answers_total;

static void conn_close(struct nd_conn *c, int graceful);

static int settle(struct nd_conn *c, int v);

/* A module callback of c; while it runs, an end asked for c waits for it
 * to return (as conn.c's enter and leave). */
#define CALL(c, expr)                                                           \
    ({                                                                          \
        int v_;                                                                 \
        (c)->in_cb++;                                                           \
        v_ = (expr);                                                            \
        settle((c), v_);                                                        \
    })

static int
settle(struct nd_conn *c, int v)
{
    check(v == ND_KEEP || v == ND_FINISH || v == ND_ABORT);
    if (c->end_wish == ND_ABORT || (c->end_wish == ND_FINISH && v == ND_KEEP))
        v = c->end_wish;
    if (--c->in_cb > 0) {
        c->end_wish = v;
        return ND_KEEP;
    }
    c->end_wish = ND_KEEP;
    return v;
}

static void
verdict(struct nd_conn *c, int v)
{
    check(v == ND_KEEP || v == ND_FINISH || v == ND_ABORT);
    if (c->broken)
        v = ND_ABORT;
    if (v == ND_KEEP || c->state == CLOSED)
        return;
    if (v == ND_ABORT) {
        conn_close(c, 0);
        return;
    }
    if (c->state == OPEN) {
        c->state = FINISHING;
        if (c->pending == 0)
            conn_close(c, 1);   /* conn.c lingers, then closes */
    }
}

static void
conn_close(struct nd_conn *c, int graceful)
{
    if (c->state == CLOSED)
        return;
    c->state = CLOSED;
    c->in_cb++;
    nd_mod_http.close(c);
    c->in_cb--;
    check(c->data == NULL);
    nd_buf_free(c->in);
    c->in = NULL;
    if (graceful)
        chk_complete(&c->chk);
    answers_total += c->chk.answers;
    free(c->chk.text);
    c->chk.text = NULL;
    free(c->sock);
    c->sock = NULL;
    c->next_free = to_free;
    to_free = c;
}

static void
free_closed(void)
{
    while (to_free) {
        struct nd_conn *c = to_free;

        to_free = c->next_free;
        free(c);
    }
}

int
nd_conn_write(struct nd_conn *c, const void *p, size_t n)
{
    check(p != NULL || n == 0);
    check(c->state != CLOSED);      /* its close() ran: nobody may hold it */
    if (c->state > FINISHING || c->broken)
        return -1;
    chk_feed(&c->chk, p, n);
    /* Gathered: the turn after the callback (or the connection's next
     * turn) sends it, as far as the kernel's room goes. */
    c->pending += n;
    return c->pending > c->svc->hwm ? 1 : 0;
}

size_t
nd_conn_pending(const struct nd_conn *c)
{
    check(c->state != CLOSED);
    return c->pending;
}

/* As conn.c: abort closes (close() runs now), finish sends what is queued
 * first; for a connection whose callback is running, once it returns. */
void
nd_conn_end(struct nd_conn *c, int drop)
{
    if (c->state == CLOSED)
        return;
    if (c->in_cb > 0) {
        if (drop)
            c->end_wish = ND_ABORT;
        else if (c->end_wish == ND_KEEP)
            c->end_wish = ND_FINISH;
        return;
    }
    verdict(c, drop ? ND_ABORT : ND_FINISH);
}

void
nd_conn_want_drain(struct nd_conn *c)
{
    if (c->state > FINISHING)
        return;
    c->want_drain = 1;
}

long
nd_conn_sendfile(struct nd_conn *c, int fd, int64_t *off, size_t n)
{
    size_t budget = SENDFILE_BUDGET;
    long total = 0;

    check(fd >= 0 && fcntl(fd, F_GETFD) >= 0 && *off >= 0);
    check(c->state != CLOSED);
    if (c->state > FINISHING || c->broken)
        return -1;
    if (c->pending > 0) {
        c->want_drain = 1;
        return 0;
    }
    while (n > 0 && budget > 0 && c->room > 0) {
        char tmp[4096];
        size_t ask = n < budget ? n : budget;
        ssize_t k;

        if (ask > c->room)
            ask = c->room;
        if (ask > sizeof(tmp))
            ask = sizeof(tmp);
        k = pread(fd, tmp, ask, (off_t)*off);
        check(k >= 0);
        if (k == 0) {
            c->broken = 1;      /* the file shrank */
            return -1;
        }
        chk_feed(&c->chk, tmp, (size_t)k);
        c->bytes_out += (uint64_t)k;
        *off += k;
        total += k;
        n -= (size_t)k;
        budget -= (size_t)k;
        if (c->room != UNLIMITED)
            c->room -= (size_t)k;
    }
    if (n > 0)
        nd_conn_want_drain(c);
    return total;
}

void
nd_conn_hold(struct nd_conn *c, int hold)
{
    if (c->state == CLOSED || c->held == !!hold)
        return;
    c->held = (unsigned char)!!hold;
    if (!hold)
        c->kick = 1;
}

static void
fill_addr(const struct nd_conn *c, int local, void *sa, unsigned *len)
{
    struct sockaddr_storage ss;
    unsigned n;

    memset(&ss, 0, sizeof(ss));
    switch (c->family) {
    case 0: {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

        sin->sin_family = AF_INET;
        sin->sin_port = htons(local ? 8080 : 41520);
        sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        n = sizeof(*sin);
        break;
    }
    case 1: {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(local ? 8080 : 41520);
        sin6->sin6_addr = in6addr_loopback;
        n = sizeof(*sin6);
        break;
    }
    default: {
        struct sockaddr_un *sun = (struct sockaddr_un *)&ss;
        const char *path = c->family == 2 ? "/run/netdemo/http.sock" : "\0netdemo-http";
        size_t plen = c->family == 2 ? strlen(path) + 1 : 13;

        sun->sun_family = AF_UNIX;
        memcpy(sun->sun_path, path, plen);
        /* An unnamed peer of a unix socket has only the family. */
        n = (unsigned)(offsetof(struct sockaddr_un, sun_path) + (local ? plen : 0));
        break;
    }
    }
    memcpy(sa, &ss, n < *len ? n : *len);
    *len = n;
}

int
nd_conn_peer(const struct nd_conn *c, void *sa, unsigned *len)
{
    fill_addr(c, 0, sa, len);
    return 0;
}

int
nd_conn_local(const struct nd_conn *c, void *sa, unsigned *len)
{
    fill_addr(c, 1, sa, len);
    return 0;
}

void
nd_conn_set_deadline(struct nd_conn *c, uint64_t ms)
{
    if (c->state == CLOSED)
        return;
    c->has_deadline = ms != 0;
}

/* Rooms shared through Redis are not fuzzed here (no Redis): the settings
 * never name one, and a backend that cannot be made is what the module
 * already answers 503 for. */
struct chat_backend *
nd_chat_redis_new(struct nd_service *svc, const struct nd_redis_url *u, uint64_t *ctr)
{
    (void)svc;
    (void)u;
    (void)ctr;
    return NULL;
}

void
nd_chat_redis_free(struct chat_backend *b)
{
    (void)b;
}

/* The real core closes at once after the answer when nothing is unread;
 * here the close path is the same either way. */
void
nd_conn_peer_done(struct nd_conn *c)
{
    (void)c;
}

void
nd_conn_set_send_timeout(struct nd_conn *c, uint64_t ms)
{
    (void)c;
    (void)ms;
}

void *
nd_conn_data(const struct nd_conn *c)
{
    return c->data;
}

void
nd_conn_set_data(struct nd_conn *c, void *data)
{
    c->data = data;
}

struct nd_service *
nd_conn_service(const struct nd_conn *c)
{
    return c->svc;
}

const char *
nd_service_name(const struct nd_service *svc)
{
    return svc->name;
}

void *
nd_service_conf(const struct nd_service *svc)
{
    return svc->mconf;
}

void
nd_service_counters(const struct nd_service *svc, struct nd_counters *out)
{
    (void)svc;
    memset(out, 0, sizeof(*out));
    out->uptime_ms = 12345;
    out->conns_cur = 1;
    out->conns_total = 7;
    out->bytes_in = UINT64_MAX;     /* the widest numbers /stats may print */
    out->bytes_out = UINT64_MAX;
    out->dgrams_in = UINT64_MAX;
    out->dgrams_out = UINT64_MAX;
    out->dgrams_dropped = UINT64_MAX;
}

uint64_t *
nd_service_module_counters(struct nd_service *svc)
{
    return svc->mod;
}

int
nd_service_access_log(const struct nd_service *svc)
{
    return svc->access_log;
}

void
nd_conn_peer_text(const struct nd_conn *c, char *buf, size_t n)
{
    static const char *const text[] = { "127.0.0.1:41520", "[::1]:41520", "unix", "unix" };

    snprintf(buf, n, "%s", text[c->family & 3]);
}

void
nd_conn_bytes(const struct nd_conn *c, uint64_t *in, uint64_t *out)
{
    *in = c->bytes_in;
    *out = c->bytes_out;
}

uint64_t
nd_conn_started_us(const struct nd_conn *c)
{
    (void)c;
    return 1;
}

uint64_t
nd_now_us(void)
{
    static uint64_t now = 1;

    return ++now;   /* a clock that moves: every duration is positive */
}

/* An access line: one line, nothing unprintable in it, and (for http) no
 * quote but the two around the request: a peer's bytes cannot split or
 * forge it. */
static void
access_line_check(const char *line, size_t n, int quotes)
{
    size_t i;
    int q = 0;

    check(n >= 2 && n <= ND_ACCESS_LINE_MAX && line[n - 1] == '\n');
    for (i = 0; i + 1 < n; i++) {
        check((unsigned char)line[i] >= 0x20 && (unsigned char)line[i] < 0x7f);
        q += line[i] == '"';
    }
    check(q == quotes);
}

void
nd_access_http(const struct nd_access_http *r)
{
    char line[ND_ACCESS_LINE_MAX];

    check(r->status == 0 || (r->status >= 100 && r->status < 600));
    check(r->duration_us > 0);
    access_line_check(line, nd_access_format_http(line, r), 2);
}

void
nd_access_conn(const struct nd_access_conn *r)
{
    char line[ND_ACCESS_LINE_MAX];

    check(r->duration_us > 0);
    access_line_check(line, nd_access_format_conn(line, r), 0);
}

const struct nd_module *
nd_service_module(const struct nd_service *svc)
{
    (void)svc;
    return &nd_mod_http;
}

/* The run's one service is the process's only one (/stats, /metrics). */
static struct nd_service *current_svc;

size_t
nd_services_count(void)
{
    return current_svc != NULL;
}

struct nd_service *
nd_services_at(size_t i)
{
    return i == 0 ? current_svc : NULL;
}

void
nd_reload_counts(uint64_t *done, uint64_t *refused)
{
    *done = UINT64_MAX;
    *refused = UINT64_MAX;
}

/* ---- driving it, as conn.c would ---- */

/* The kernel takes what it has room for. Returns 1 if it took anything. */
static int
send_queued(struct nd_conn *c)
{
    size_t k;

    if (c->state == CLOSED || c->pending == 0 || c->room == 0)
        return 0;
    k = c->pending < c->room ? c->pending : c->room;
    c->pending -= k;
    c->bytes_out += k;
    if (c->room != UNLIMITED)
        c->room -= k;
    if (c->pending > 0)
        c->backlog = 1;
    return 1;
}

/* After a callback of c: its verdict, then what it wrote goes out. */
static void
after(struct nd_conn *c, int v)
{
    verdict(c, v);
    send_queued(c);
    if (c->state == FINISHING && c->pending == 0)
        conn_close(c, 1);
}

/* The kernel took bytes: the queue shrinks; an empty one means drained()
 * (if output had to wait, or the module asked), or the end of a finishing
 * connection. Returns 1 if anything happened. */
static int
flush(struct nd_conn *c)
{
    int took = send_queued(c);

    if (c->read_paused && c->pending <= c->svc->hwm / 2) {
        c->read_paused = 0;
        c->kick = 1;
        took = 1;
    }
    if (c->pending > 0)
        return took;
    if (c->state == FINISHING) {
        conn_close(c, 1);
        return 1;
    }
    if (!c->backlog && !(c->want_drain && c->room > 0))
        return took;
    c->want_drain = c->backlog = 0;
    after(c, CALL(c, nd_mod_http.drained(c)));
    return 1;
}

static int
conn_read(struct nd_conn *c)
{
    int progress = 0;

    if (c->kick && !c->held) {
        c->kick = 0;
        if (c->in != NULL && nd_buf_len(c->in) > 0) {
            after(c, CALL(c, nd_mod_http.input(c, c->in)));
            progress = 1;
            if (c->state == CLOSED)
                return 1;
            if (c->in != NULL && nd_buf_len(c->in) == 0) {
                nd_buf_free(c->in);
                c->in = NULL;
            }
            if (c->state != OPEN)
                return 1;
        }
    }
    while (c->sock_len > 0 && c->state == OPEN && !c->read_paused && !c->held) {
        size_t room, n;
        int v;

        if (c->in == NULL) {
            c->in = nd_buf_new(c->streaming ? STREAM_READ : ND_BUF_CHUNK);
            check(c->in != NULL);
        }
        if (nd_buf_room(c->in) == 0) {
            size_t len = nd_buf_len(c->in);

            memmove(c->in->data, nd_buf_head(c->in), len);
            c->in->start = 0;
            c->in->end = len;
            if (len == c->in->cap && len < c->svc->in_max) {
                size_t more = len < c->svc->in_max - len ? len : c->svc->in_max - len;

                check(nd_buf_reserve(&c->in, more) == 0);
            }
        }
        room = nd_buf_room(c->in);
        {
            /* One read adds at most buffer_size (or a chunk while output
             * is queued) to what the module may answer. */
            size_t cap = c->pending > 0 || c->svc->hwm < ND_BUF_CHUNK ? ND_BUF_CHUNK
                                                                       : c->svc->hwm;

            if (room > cap)
                room = cap;
        }
        if (room == 0) {
            conn_close(c, 0);   /* input buffer full */
            return 1;
        }
        n = c->sock_len < room ? c->sock_len : room;
        memcpy(c->in->data + c->in->end, c->sock + c->sock_off, n);
        c->in->end += n;
        c->bytes_in += n;
        c->sock_off += n;
        c->sock_len -= n;
        c->streaming = n == room;
        c->got_input = 1;
        v = CALL(c, nd_mod_http.input(c, c->in));
        progress = 1;
        if (c->state == CLOSED)
            return 1;   /* only a bug gets here: the check in verdict says */
        if (c->in != NULL && nd_buf_len(c->in) == 0 &&
            !(c->streaming && c->in->cap >= STREAM_READ)) {
            nd_buf_free(c->in);
            c->in = NULL;
        } else if (c->in != NULL && c->in->start == 0 && !c->held &&
                   nd_buf_room(c->in) == 0 && c->in->cap >= c->svc->in_max && v == ND_KEEP) {
            v = ND_ABORT;       /* input buffer full */
        }
        after(c, v);
        if (c->state != OPEN)
            return 1;
        if (c->pending >= c->svc->hwm)
            c->read_paused = 1;
    }
    /* recv() gives 0; or, while reading is held, a peek finds the FIN. */
    if (c->peer_fin && !c->eof && c->sock_len == 0 && c->state == OPEN &&
        (c->held || !c->read_paused)) {
        c->eof = 1;
        after(c, CALL(c, nd_mod_http.eof(c)));
        progress = 1;
    }
    return progress;
}

/* One turn of the loop for this connection. */
static int
conn_io(struct nd_conn *c)
{
    if (c == NULL || c->state == CLOSED)
        return 0;
    if (flush(c))
        return 1;
    if (c->state == OPEN)
        return conn_read(c);
    return 0;
}

static struct nd_conn *conns[NCONN];
static int stopping;

/* A graceful stop, as nd_conn_stop(): what arrived is read first; one
 * that never sent a byte finishes (conn.c gives it a moment for a request
 * on its way); the module decides for the others. */
static void
stop_all(void)
{
    size_t i;

    stopping = 1;
    for (i = 0; i < NCONN; i++) {
        struct nd_conn *c = conns[i];

        if (c == NULL || c->state != OPEN)
            continue;
        if (!c->held)
            conn_read(c);
        if (c->state != OPEN)
            continue;
        after(c, c->got_input ? CALL(c, nd_mod_http.stop(c)) : ND_FINISH);
    }
}

static void
forget_closed(void)
{
    size_t i;

    for (i = 0; i < NCONN; i++)
        if (conns[i] != NULL && conns[i]->state == CLOSED)
            conns[i] = NULL;
}

/* Every connection's turn until none has anything to do; then what was
 * closed is freed, as at the end of a loop iteration. */
static void
run(void)
{
    int steps = 0, progress;

    do {
        size_t i;

        progress = 0;
        for (i = 0; i < NCONN; i++)
            progress |= conn_io(conns[i]);
        check(++steps < MAX_STEPS);     /* the module keeps the loop spinning */
    } while (progress);
    forget_closed();
    free_closed();
}

/* Module alarms (a chat room's batched presence): armed ones ring when a
 * deadline step comes, as time passing would make them. */
struct nd_alarm {
    void (*fn)(void *arg);
    void *arg;
    int armed;
    struct nd_alarm *next;
};
static struct nd_alarm *alarms;

struct nd_alarm *
nd_alarm_new(struct nd_conn *c, void (*fn)(void *arg), void *arg)
{
    struct nd_alarm *a = calloc(1, sizeof(*a));

    (void)c;
    if (a == NULL)
        return NULL;
    a->fn = fn;
    a->arg = arg;
    a->next = alarms;
    alarms = a;
    return a;
}

int
nd_alarm_set(struct nd_alarm *a, uint64_t ms)
{
    a->armed = ms != 0;
    return 0;
}

int
nd_alarm_armed(const struct nd_alarm *a)
{
    return a->armed;
}

void
nd_alarm_free(struct nd_alarm *a)
{
    struct nd_alarm **pp;

    if (a == NULL)
        return;
    for (pp = &alarms; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == a) {
            *pp = a->next;
            break;
        }
    }
    free(a);
}

static void
ring_alarms(void)
{
    struct nd_alarm *a;

    for (a = alarms; a != NULL; a = a->next) {
        if (a->armed) {
            a->armed = 0;
            a->fn(a->arg);
        }
    }
}

static void
fire_deadline(struct nd_conn *c)
{
    if (c == NULL || !c->has_deadline || c->state == CLOSED)
        return;
    c->has_deadline = 0;
    if (c->state != OPEN) {
        conn_close(c, 0);
        return;
    }
    after(c, CALL(c, nd_mod_http.timeout(c)));
}

static struct nd_conn *
conn_new(struct nd_service *svc, int family)
{
    struct nd_conn *c = calloc(1, sizeof(*c));

    check(c != NULL);
    c->svc = svc;
    c->room = UNLIMITED;
    c->family = family;
    c->state = OPEN;
    after(c, CALL(c, nd_mod_http.open(c)));
    return c;
}

static void
arrive(struct nd_conn *c, const char *p, size_t n)
{
    if (c == NULL || c->state == CLOSED || c->peer_fin || n == 0)
        return;
    if (c->sock_off + c->sock_len + n > c->sock_cap) {
        if (c->sock_len > 0)
            memmove(c->sock, c->sock + c->sock_off, c->sock_len);
        c->sock_off = 0;
        if (c->sock_len + n > c->sock_cap) {
            c->sock_cap = c->sock_len + n + 256;
            c->sock = realloc(c->sock, c->sock_cap);
            check(c->sock != NULL);
        }
    }
    memcpy(c->sock + c->sock_off + c->sock_len, p, n);
    c->sock_len += n;
}

/* ---- the document root ---- */

static char root[64];

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void
root_remove(void)
{
    if (root[0])
        nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
put_file(const char *name, const char *text, mode_t mode)
{
    char path[256];
    int fd;

    snprintf(path, sizeof(path), "%s/%s", root, name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    check(fd >= 0);
    check(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
}

static void
root_make(void)
{
    char path[256];
    char big[20000];

    strcpy(root, "/tmp/netdemo-fuzz-XXXXXX");
    check(mkdtemp(root) != NULL);
    atexit(root_remove);
    put_file("index.html", "<!DOCTYPE html><p>root</p>\n", 0644);
    put_file("a.txt", "plain text\n", 0644);
    put_file("style.css", "p { color: red }\n", 0644);
    put_file("empty", "", 0644);
    put_file("noread.txt", "secret\n", 0000);
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    put_file("big.bin", big, 0644);
    snprintf(path, sizeof(path), "%s/sub", root);
    check(mkdir(path, 0755) == 0);
    put_file("sub/index.html", "<p>sub</p>\n", 0644);
    put_file("sub/b.json", "{\"b\":1}\n", 0644);
    snprintf(path, sizeof(path), "%s/nolist", root);
    check(mkdir(path, 0755) == 0);
    snprintf(path, sizeof(path), "%s/out", root);
    check(symlink("/etc/passwd", path) == 0);
    snprintf(path, sizeof(path), "%s/in", root);
    check(symlink("a.txt", path) == 0);
    snprintf(path, sizeof(path), "%s/fifo", root);
    check(mkfifo(path, 0644) == 0);
}

/* The fds open now, to find any the module leaves open. */
static unsigned char fds_at_start[256];

static void
fds_snapshot(unsigned char *v)
{
    int fd;

    for (fd = 0; fd < 256; fd++)
        v[fd] = fcntl(fd, F_GETFD) >= 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    root_make();
    return 0;
}

static void *
make_conf(unsigned flags, unsigned flags2)
{
    static const char *const small[][2] = {
        { "max_request_line", "256" }, { "max_header_size", "1k" }, { "max_headers", "4" },
    };
    void *cf = nd_mod_http.conf_new();
    char err[256];
    size_t i;

    check(cf != NULL);
#define SET(k, v) \
    check(nd_conf_set(nd_mod_http.keys, nd_mod_http.nkeys, cf, k, v, err, sizeof(err)) == 0)
    SET("probes", flags & 1 ? "off" : "on");
    SET("websocket", flags2 & 4 ? "off" : "on");
    SET("chat", flags2 & 8 ? "off" : "on");
    if (flags & 2)
        SET("root", root);
    if (flags & 4)
        for (i = 0; i < 3; i++)
            SET(small[i][0], small[i][1]);
    SET("max_body", flags & 8 ? "64" : "1m");
    SET("max_bytes", flags & 16 ? "300k" : "20000");
    SET("max_delay", "1s");
    if (flags & 32)
        SET("keepalive_timeout", "0");
    SET("drain", flags & 64 ? "on" : "off");
    SET("ws_max_queue", flags & 128 ? "1k" : "64k");
    SET("ws_max_message", flags & 128 ? "125" : "64k");
#undef SET
    check(nd_mod_http.conf_check(cf, err, sizeof(err)) == 0);
    return cf;
}

int
LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    static uint64_t execs;
    char name[32];
    struct nd_service svc;
    const uint8_t *ops;
    const char *data;
    size_t nops, len, i, arrived = 0;
    unsigned char fds_now[256];
    unsigned flags;
    int family, steps;
    size_t cur = 0;

    if (size < 3)
        return 0;
    stopping = 0;
    flags = in[0];
    family = in[1] & 3;
    nops = in[2] < size - 3 ? in[2] : size - 3;
    ops = in + 3;
    data = (const char *)in + 3 + nops;
    len = size - 3 - nops;
    if (flags & 2)
        fds_snapshot(fds_at_start);

    /* A service name of its own per run, so that chat rooms (which outlive
     * their members, for polls) from earlier runs are never this run's. */
    snprintf(name, sizeof(name), "fuzz%llu", (unsigned long long)++execs);
    memset(&svc, 0, sizeof(svc));
    svc.name = name;
    svc.mconf = make_conf(flags, in[1]);
    svc.access_log = (in[1] & 16) != 0;
    svc.hwm = flags & 4 ? 1024 : 64 * 1024;
    svc.in_max = ND_BUF_CHUNK;
    if (nd_mod_http.input_max(svc.mconf) > ND_BUF_CHUNK)
        svc.in_max = nd_mod_http.input_max(svc.mconf);
    answers_total = 0;
    current_svc = &svc;

    conns[0] = conn_new(&svc, family);
    run();
    for (i = 0; i < nops; i++) {
        unsigned kind = ops[i] >> 6, n = ops[i] & 63;
        struct nd_conn *c = conns[cur];     /* NULL once it is closed */
        size_t more = 0;

        switch (kind) {
        case 0:
            more = n + 1;
            break;
        case 1:
            if (c != NULL)
                c->room = n == 63 ? UNLIMITED : (size_t)n * 97;
            break;
        case 2:
            ring_alarms();
            fire_deadline(c);
            break;
        case 3:
            if (n < 7) {
                if (c != NULL)
                    c->peer_fin = 1;
            } else if (n == 7) {
                if (!stopping)
                    stop_all();
            } else if (n < 16) {
                cur = (n - 8) % NCONN;
                if (conns[cur] == NULL && !stopping)
                    conns[cur] = conn_new(&svc, family);
            } else {
                more = (size_t)(n - 15) * 128;
            }
            break;
        }
        if (more > len - arrived)
            more = len - arrived;
        arrive(conns[cur], data + arrived, more);
        arrived += more;
        run();
    }

    /* The rest arrives; then whatever is under way runs to its end. */
    arrive(conns[cur], data + arrived, len - arrived);
    for (steps = 0; steps < MAX_STEPS; steps++) {
        int moved = 0;

        run();
        for (i = 0; i < NCONN && !moved; i++) {
            struct nd_conn *k = conns[i];

            if (k == NULL)
                continue;
            if (k->pending > 0 || k->want_drain) {
                k->room = UNLIMITED;    /* the client reads at last */
                moved = 1;
            } else if (k->held || k->state == FINISHING) {
                /* A delayed, dripping or polling answer: only its deadline
                 * can move it. */
                check(k->has_deadline);
                fire_deadline(k);
                moved = 1;
            } else {
                check(!k->read_paused);
                /* Stopping, the module ends what it kept by itself. */
                check(!stopping || k->state != OPEN || k->has_deadline);
            }
        }
        if (!moved)
            break;      /* all wait for requests that never come */
    }
    for (i = 0; i < NCONN; i++) {
        if (conns[i] != NULL && conns[i]->state != CLOSED)
            conn_close(conns[i], 0);
        conns[i] = NULL;
        run();          /* leaving a room may write to the others */
    }
    free_closed();
    check(answers_total == svc.mod[0]);
    for (i = 0; i < ND_MOD_COUNTERS; i++)   /* gauges (open WebSockets) back to 0 */
        check(!((nd_mod_http.gauges >> i) & 1u) || svc.mod[i] == 0);
    current_svc = NULL;

    nd_mod_http.conf_free(svc.mconf);
    if (flags & 2) {
        fds_snapshot(fds_now);
        check(memcmp(fds_now, fds_at_start, sizeof(fds_now)) == 0);
    }
    return 0;
}
