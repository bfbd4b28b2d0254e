/* fuzz_http_input.c: libFuzzer target for the http module's whole input
 * path: parser, routing, probes, files, response writing, deadlines and
 * streams, on arbitrary byte streams split at arbitrary points. A small fake
 * core stands in for conn.c and server.c: it implements what module.h
 * promises (consume semantics, hold, drained, deadlines, a kernel that
 * takes only so many bytes, backpressure, sendfile) with no socket, and an
 * output checker reads the module's answers as a client would.
 *
 * Input: [flags] [nops] op... data...
 *   flags  bit 0 probes off, bit 1 root (a directory made at start),
 *          bit 2 small limits, bit 3 small max_body, bit 4 large max_bytes,
 *          bit 5 keepalive_timeout 0, bits 6-7 the peer's address family
 *   nops   bits 0-6 the number of ops; bit 7 drain = on
 *   op     (op >> 6, op & 63 = n):
 *          0: n + 1 more bytes arrive;  1: the kernel's room becomes n * 97
 *          (63: unlimited);  2: the deadline passes (if one is set);
 *          3: n < 8 the peer's FIN, else (n - 7) * 128 more bytes arrive
 *   When the ops run out the rest of the data arrives, then whatever is
 *   under way (queued output, streams, delays) is run to its end. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "nd/buf.h"
#include "nd/module.h"

extern const struct nd_module nd_mod_http;

#define check(cond)                                                             \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "invariant failed: %s (%s:%d)\n", #cond, __FILE__,  \
                    __LINE__);                                                  \
            abort();                                                            \
        }                                                                       \
    } while (0)

#define UNLIMITED ((size_t)-1)
#define SENDFILE_BUDGET (256 * 1024)
#define STREAM_READ (4 * ND_BUF_CHUNK)     /* as conn.c */
#define MAX_STEPS 100000

/* ---- the fake core ---- */

enum { OPEN, FINISHING, CLOSED };

struct nd_service {
    const char *name;
    void *mconf;
    uint64_t hwm;
    size_t in_max;
    uint64_t mod[ND_MOD_COUNTERS];
};

struct checker;

struct nd_conn {
    struct nd_service *svc;
    struct nd_buf *in;
    void *data;
    struct checker *chk;
    size_t pending;         /* bytes queued, not yet taken by the kernel */
    size_t room;            /* what the kernel takes now */
    const char *sock;       /* bytes that arrived and are not read yet */
    size_t sock_len;
    int peer_fin;           /* the peer closed its side */
    int family;
    int has_deadline;
    int state;
    int graceful;           /* closed after ND_FINISH and a full flush */
    unsigned char held, kick, want_drain, read_paused, eof, broken, streaming;
};

/* ---- the output checker: answers as a client reads them ---- */

enum { C_HEAD, C_MAYBE, C_BODY };

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
    uint64_t bytes;
};

static const char status_prefix[] = "HTTP/1.1 ";

static void chk_feed(struct checker *k, const char *p, size_t n);

static int
is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* A whole head is in k->head: check it and learn how long its body is. */
static void
chk_head(struct checker *k)
{
    char *p = k->head, *end = k->head + k->hlen - 2, *eol;
    int status, server = 0, date = 0, clen = 0, conn = 0;

    check(k->hlen >= 16 && memcmp(p, status_prefix, 9) == 0);
    check(p[9] >= '1' && p[9] <= '5' && p[10] >= '0' && p[10] <= '9' &&
          p[11] >= '0' && p[11] <= '9' && p[12] == ' ');
    status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    check(status >= 200 && status <= 599);
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
            if (eol - v == 5 && strncmp(v, "close", 5) == 0)
                k->close_seen = 1;
            else
                check(eol - v == 10 && strncmp(v, "keep-alive", 10) == 0);
        } else {
            check(!(colon - p == 17 && strncasecmp(p, "transfer-encoding", 17) == 0));
        }
    }
    check(server && date);
    /* Every answer is framed by Content-Length, but for 204 and 304. */
    check(clen || status == 204 || status == 304);
    check(!(status == 204 && clen));
    k->answers++;
    k->hlen = 0;
    if (status == 204 || status == 304 || k->clen == 0) {
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

static void
chk_feed(struct checker *k, const char *p, size_t n)
{
    k->bytes += n;
    while (n > 0) {
        switch (k->state) {
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
                {
                    size_t m = k->mlen;

                    k->bytes -= m;
                    chk_feed(k, k->maybe, m);
                }
            } else if (k->mlen == 9) {
                /* The next answer: the last one was to a HEAD. */
                size_t m = k->mlen;

                k->state = C_HEAD;
                k->bytes -= m;
                chk_feed(k, k->maybe, m);
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

/* ---- what module.h promises ---- */

static void conn_close(struct nd_conn *c, int graceful);

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
            conn_close(c, 1);
    }
}

static void
conn_close(struct nd_conn *c, int graceful)
{
    if (c->state == CLOSED)
        return;
    c->state = CLOSED;
    c->graceful = graceful;
    nd_mod_http.close(c);
    check(c->data == NULL);
    nd_buf_free(c->in);
    c->in = NULL;
}

int
nd_conn_write(struct nd_conn *c, const void *p, size_t n)
{
    size_t k;

    check(p != NULL || n == 0);
    if (c->state > FINISHING || c->broken)
        return -1;
    chk_feed(c->chk, p, n);
    if (c->pending == 0) {
        k = n < c->room ? n : c->room;
        if (c->room != UNLIMITED)
            c->room -= k;
        n -= k;
    }
    c->pending += n;
    return 0;
}

size_t
nd_conn_pending(const struct nd_conn *c)
{
    return c->pending;
}

/* Only one connection here, and the module may end only others: reaching
 * this is a bug in the module, and the sanitizers will say where. */
void
nd_conn_end(struct nd_conn *c, int abort)
{
    verdict(c, abort ? ND_ABORT : ND_FINISH);
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
        chk_feed(c->chk, tmp, (size_t)k);
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

void
nd_conn_set_idle(struct nd_conn *c, uint64_t ms)
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
}

uint64_t *
nd_service_module_counters(struct nd_service *svc)
{
    return svc->mod;
}

/* ---- driving it, as conn.c would ---- */

/* The kernel took bytes: the queue shrinks; an empty one means drained(),
 * or the end of a finishing connection. Returns 1 if anything happened. */
static int
flush(struct nd_conn *c)
{
    size_t k;

    if (c->pending == 0 || c->room == 0)
        return 0;
    k = c->pending < c->room ? c->pending : c->room;
    c->pending -= k;
    if (c->room != UNLIMITED)
        c->room -= k;
    if (c->pending > 0) {
        if (c->read_paused && c->pending <= c->svc->hwm / 2) {
            c->read_paused = 0;
            c->kick = 1;
        }
        return 1;
    }
    if (c->state == FINISHING) {
        conn_close(c, 1);
        return 1;
    }
    c->want_drain = 0;
    verdict(c, nd_mod_http.drained(c));
    if (c->state == CLOSED)
        return 1;
    if (c->read_paused) {
        c->read_paused = 0;
        c->kick = 1;
    }
    return 1;
}

static int
conn_read(struct nd_conn *c)
{
    int progress = 0;

    if (c->kick && !c->held) {
        c->kick = 0;
        if (c->in != NULL && nd_buf_len(c->in) > 0) {
            verdict(c, nd_mod_http.input(c, c->in));
            progress = 1;
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
        memcpy(c->in->data + c->in->end, c->sock, n);
        c->in->end += n;
        c->sock += n;
        c->sock_len -= n;
        c->streaming = n == room;
        v = nd_mod_http.input(c, c->in);
        progress = 1;
        if (c->in != NULL && nd_buf_len(c->in) == 0 &&
            !(c->streaming && c->in->cap >= STREAM_READ)) {
            nd_buf_free(c->in);
            c->in = NULL;
        } else if (c->in != NULL && c->in->start == 0 && !c->held &&
                   nd_buf_room(c->in) == 0 && c->in->cap >= c->svc->in_max && v == ND_KEEP) {
            v = ND_ABORT;       /* input buffer full */
        }
        verdict(c, v);
        if (c->state != OPEN)
            return 1;
        if (c->pending >= c->svc->hwm)
            c->read_paused = 1;
    }
    /* recv() gives 0; or, while reading is held, a peek finds the FIN. */
    if (c->peer_fin && !c->eof && c->sock_len == 0 && c->state == OPEN &&
        (c->held || !c->read_paused)) {
        c->eof = 1;
        verdict(c, nd_mod_http.eof(c));
        progress = 1;
    }
    return progress;
}

/* One turn of the loop for this connection. */
static int
conn_io(struct nd_conn *c)
{
    if (c->state == CLOSED)
        return 0;
    if (flush(c))
        return 1;
    if (c->want_drain && c->pending == 0 && c->room > 0) {
        c->want_drain = 0;
        verdict(c, nd_mod_http.drained(c));
        return 1;
    }
    if (c->state == OPEN)
        return conn_read(c);
    return 0;
}

static void
run(struct nd_conn *c)
{
    int steps = 0;

    while (conn_io(c))
        check(++steps < MAX_STEPS);     /* the module keeps the loop spinning */
}

static void
fire_deadline(struct nd_conn *c)
{
    if (!c->has_deadline || c->state == CLOSED)
        return;
    c->has_deadline = 0;
    if (c->state != OPEN) {
        conn_close(c, 0);
        return;
    }
    verdict(c, nd_mod_http.timeout(c));
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
make_conf(unsigned flags, int drain)
{
    static const char *const small[][2] = {
        { "max_request_line", "256" }, { "max_header_size", "1k" }, { "max_headers", "4" },
    };
    void *cf = nd_mod_http.conf_new();
    char err[256];
    size_t i;

    check(cf != NULL);
#define SET(k, v) check(nd_mod_http.conf_set(cf, k, v, err, sizeof(err)) == 0)
    SET("probes", flags & 1 ? "off" : "on");
    SET("drain", drain ? "on" : "off");
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
#undef SET
    check(nd_mod_http.conf_check(cf, err, sizeof(err)) == 0);
    return cf;
}

int
LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    struct checker chk;
    struct nd_service svc;
    struct nd_conn c;
    const uint8_t *ops;
    const char *data;
    size_t nops, len, i, arrived = 0;
    unsigned char fds_now[256];
    unsigned flags;
    int steps;

    if (size < 2)
        return 0;
    flags = in[0];
    nops = (in[1] & 127u) < size - 2 ? (in[1] & 127u) : size - 2;
    ops = in + 2;
    data = (const char *)in + 2 + nops;
    len = size - 2 - nops;
    if (flags & 2)
        fds_snapshot(fds_at_start);

    memset(&svc, 0, sizeof(svc));
    svc.name = "fuzz";
    svc.mconf = make_conf(flags, in[1] >> 7);
    svc.hwm = flags & 4 ? 1024 : 64 * 1024;
    svc.in_max = ND_BUF_CHUNK;
    if (nd_mod_http.input_max(svc.mconf) > ND_BUF_CHUNK)
        svc.in_max = nd_mod_http.input_max(svc.mconf);

    memset(&chk, 0, sizeof(chk));
    memset(&c, 0, sizeof(c));
    c.svc = &svc;
    c.chk = &chk;
    c.room = UNLIMITED;
    c.sock = data;
    c.family = (int)(flags >> 6);
    c.state = OPEN;
    verdict(&c, nd_mod_http.open(&c));

    for (i = 0; i < nops && c.state != CLOSED; i++) {
        unsigned kind = ops[i] >> 6, n = ops[i] & 63;
        size_t more = 0;

        switch (kind) {
        case 0:
            more = n + 1;
            break;
        case 1:
            c.room = n == 63 ? UNLIMITED : (size_t)n * 97;
            break;
        case 2:
            fire_deadline(&c);
            break;
        case 3:
            if (n < 8)
                c.peer_fin = 1;
            else
                more = (size_t)(n - 7) * 128;
            break;
        }
        if (more > len - arrived)
            more = len - arrived;
        if (!c.peer_fin) {
            c.sock_len += more;
            arrived += more;
        }
        run(&c);
    }

    /* The rest arrives; then whatever is under way runs to its end. */
    if (!c.peer_fin) {
        c.sock_len += len - arrived;
        arrived = len;
    }
    for (steps = 0; c.state != CLOSED && steps < MAX_STEPS; steps++) {
        run(&c);
        if (c.state == CLOSED)
            break;
        if (c.pending > 0) {
            c.room = UNLIMITED;     /* the client reads at last */
            continue;
        }
        if (c.want_drain) {
            c.room = UNLIMITED;
            continue;
        }
        if (c.held || c.state == FINISHING) {
            /* A delayed or dripping answer: only its deadline can move it. */
            check(c.has_deadline);
            fire_deadline(&c);
            continue;
        }
        check(!c.read_paused);
        break;      /* waiting for a next request that never comes */
    }
    if (c.graceful)
        check((chk.state == C_HEAD && chk.hlen == 0) || (chk.state == C_MAYBE && chk.mlen == 0));
    conn_close(&c, 0);
    check(chk.answers == svc.mod[0]);

    nd_mod_http.conf_free(svc.mconf);
    if (flags & 2) {
        fds_snapshot(fds_now);
        check(memcmp(fds_now, fds_at_start, sizeof(fds_now)) == 0);
    }
    return 0;
}
