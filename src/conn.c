/* conn.c: stream connections. Reads go into a pooled chunk that the module
 * consumes; writes go straight to the kernel and only the rest is queued.
 * Readiness flags are cleared only on EAGAIN or on a short read/write, which
 * proves the same for a stream socket. A work budget per callback keeps one
 * fast peer from starving the others; when the budget runs out the watcher
 * is put on the loop's pending list, so no readiness is ever lost. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include "nd/addr.h"
#include "nd/buf.h"
#include "conn.h"
#include "nd/log.h"
#include "nd/module.h"
#include "nd/util.h"
#include "service.h"

/* Reads per callback before other peers get their turn. */
#define READ_BUDGET 4

/* The read size of a connection that is streaming: its last read filled
 * the buffer. One syscall then moves four chunks' worth. */
#define STREAM_READ (4 * ND_BUF_CHUNK)

/* How long a finished connection waits for the peer's FIN. */
#define LINGER_MS 2000

/* How long a stop waits for the first request of a connection that was
 * accepted but has not sent a byte yet. */
#define STOP_GRACE_MS 1000

/* File bytes per sendfile() before other peers get their turn. */
#define SENDFILE_BUDGET (256 * 1024)

/* Small writes are gathered and sent once the callback that made them
 * returns (or before the loop sleeps); once they would pass this much, what
 * is gathered and the new bytes go to the kernel at once, in one sendmsg. */
#define WRITE_DIRECT (16 * 1024)

/* drained() calls per flush before other peers get their turn. */
#define DRAIN_BUDGET 4

static void conn_io(struct nd_loop *loop, struct nd_watcher *w);
static void conn_read(struct nd_conn *c);
static void conn_idle(struct nd_loop *loop, struct nd_timer *t);
static int flush(struct nd_conn *c);
static void enter(struct nd_conn *c);
static int leave(struct nd_conn *c, enum nd_verdict v);

/* One timer serves both the idle limit and the module's deadline: it is set
 * for the earlier of the two. Reads and writes only move last_active; a timer
 * that fires early finds the activity and sleeps again for the rest. */
static void
arm(struct nd_conn *c)
{
    struct nd_loop *loop = c->loop;
    uint64_t when = c->idle_ms ? c->last_active + c->idle_ms : 0;
    uint64_t now = nd_loop_now(loop);

    if (c->backlog && c->send_ms && (when == 0 || c->last_active + c->send_ms < when))
        when = c->last_active + c->send_ms;
    if (c->deadline && (when == 0 || c->deadline < when))
        when = c->deadline;
    if (when == 0) {
        nd_timer_stop(loop, &c->idle);
        return;
    }
    if (nd_timer_armed(&c->idle) && c->idle.when <= when)
        return;
    if (nd_timer_start(loop, &c->idle, when > now ? when - now : 0) < 0)
        c->broken = 1;  /* no memory for the heap: better closed than unbounded */
}

static void
conn_free(struct nd_defer *d)
{
    struct nd_conn *c = nd_container_of(d, struct nd_conn, defer);

    nd_service_unref(c->svc);
    free(c);
}

/* What an accepted and an outbound connection share: the fields, the
 * watcher (registered with the loop unless watch is 0: the caller does it
 * later) and the idle timer. 0, or -errno with nothing left to undo but
 * the fd. */
static int
conn_init(struct nd_conn *c, struct nd_loop *loop, struct nd_conn_set *set,
          struct nd_service *svc, int fd, int watch)
{
    int rc = 0;

    nd_watcher_init(&c->w, fd, conn_io);
    nd_timer_init(&c->idle, conn_idle);
    c->loop = loop;
    c->set = set;
    c->svc = svc;
    c->state = ND_CONN_OPEN;
    c->last_active = nd_loop_now(loop);
    c->started_us = nd_now_us();
    if (watch)
        rc = nd_loop_add(loop, &c->w);
    if (rc < 0 || (c->idle_ms && nd_timer_start(loop, &c->idle, c->idle_ms) < 0)) {
        nd_log(LOG_WARNING, "%s: cannot watch a new connection: %s", svc->name,
               rc < 0 ? strerror(-rc) : "out of memory");
        return rc < 0 ? rc : -ENOMEM;
    }
    nd_service_ref(svc);
    c->next = set->head;
    if (set->head)
        set->head->prev = c;
    set->head = c;
    set->n++;
    if (set->changed)
        set->changed(set);
    return 0;
}

static int
open_accepted(struct nd_loop *loop, struct nd_conn_set *set, struct nd_service *svc, int fd,
              int ready)
{
    struct nd_conn *c = calloc(1, sizeof(*c));
    int rc;

    if (c == NULL) {
        nd_log(LOG_WARNING, "%s: out of memory for a connection", svc->name);
        close(fd);
        return -ENOMEM;
    }
    c->mod = svc->module;
    c->in_max = svc->in_max;
    c->idle_ms = (uint32_t)svc->idle_timeout;
    if ((rc = conn_init(c, loop, set, svc, fd, !ready)) < 0) {
        close(fd);
        free(c);
        return rc;
    }
    svc->stats->conns_cur++;
    svc->stats->conns_total++;
    if (ready) {
        /* A fresh socket's send buffer is empty, and its request is most
         * likely here: both flags are set as an event would set them, and
         * the syscalls clear them if that is not so. */
        c->w.readable = 1;
        c->w.writable = 1;
    }
    /* open() may answer at once: ND_FINISH sends that, then closes. */
    if (c->mod->open) {
        enter(c);
        if (leave(c, c->mod->open(c)) && c->state == ND_CONN_CLOSED)
            return -1;
    }
    if (!ready)
        return 0;   /* the fd may already be readable: epoll says so next */
    conn_io(loop, &c->w);
    if (c->state == ND_CONN_CLOSED)
        return -1;
    /* Still open (the read said EAGAIN, the request is partial, the answer
     * waits for room or the peer's FIN): watched from now on. Readiness that
     * came after the flags were cleared is reported by the add itself, as
     * epoll_ctl checks the fd's state then, so no edge is lost. */
    if ((rc = nd_loop_add(loop, &c->w)) < 0) {
        nd_log(LOG_WARNING, "%s: cannot watch a new connection: %s", svc->name,
               strerror(-rc));
        nd_conn_close(c);
        return rc;
    }
    return 0;
}

int
nd_conn_open(struct nd_loop *loop, struct nd_conn_set *set, struct nd_service *svc, int fd)
{
    return open_accepted(loop, set, svc, fd, 0);
}

int
nd_conn_open_ready(struct nd_loop *loop, struct nd_conn_set *set, struct nd_service *svc,
                   int fd)
{
    return open_accepted(loop, set, svc, fd, 1);
}

/* Outbound connections belong to no server's set: a graceful stop neither
 * waits for them nor stops them; their owner ends them. */
static struct nd_conn_set outbound;

struct nd_conn *
nd_conn_connect(struct nd_service *svc, const struct nd_addr *a, const struct nd_module *ops,
                void *data)
{
    struct nd_conn *c;
    int fd, one = 1, rc, e;

    if (!nd_addr_is_stream(a) || ops == NULL || ops->input == NULL) {
        errno = EINVAL;
        return NULL;
    }
    fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return NULL;
    if (a->transport == ND_TCP)
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    /* Completion (or failure) is seen as writability: open() or close()
     * then runs from the loop, never from inside this call. */
    if (connect(fd, (const struct sockaddr *)&a->sa, a->len) < 0 && errno != EINPROGRESS) {
        e = errno;
        close(fd);
        errno = e;
        return NULL;
    }
    if ((c = calloc(1, sizeof(*c))) == NULL) {
        close(fd);
        errno = ENOMEM;
        return NULL;
    }
    c->mod = ops;
    c->data = data;
    c->outbound = 1;
    c->connecting = 1;
    c->in_max = ops->input_max ? ops->input_max(data) : ND_BUF_CHUNK;
    if ((rc = conn_init(c, svc->loop, &outbound, svc, fd, 1)) < 0) {
        close(fd);
        free(c);
        errno = -rc;
        return NULL;
    }
    return c;
}

/* The connect has finished, one way or the other: SO_ERROR says which.
 * Returns -1 when the connection is gone. */
static int
connected(struct nd_conn *c)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(c->w.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err != 0) {
        c->err = err;
        nd_conn_close(c);
        return -1;
    }
    c->connecting = 0;
    c->last_active = nd_loop_now(c->loop);
    if (c->mod->open) {
        enter(c);
        if (leave(c, c->mod->open(c)) && c->state == ND_CONN_CLOSED)
            return -1;
    }
    return 0;
}

int
nd_conn_error(const struct nd_conn *c)
{
    return c->err;
}

void
nd_conn_close(struct nd_conn *c)
{
    struct nd_conn_set *set = c->set;
    struct nd_loop *loop = c->loop;

    if (c->state == ND_CONN_CLOSED)
        return;
    if (c->busy) {
        c->end_wish = ND_ABORT;     /* once its callback has returned */
        return;
    }
    c->state = ND_CONN_CLOSED;
    if (c->mod->close) {
        c->busy++;                  /* nothing ends it twice from inside */
        c->mod->close(c);
        c->busy--;
    }
    nd_timer_stop(loop, &c->idle);
    nd_loop_forget(loop, &c->w);
    close(c->w.fd);
    c->w.fd = -1;
    nd_buf_free(c->in);
    nd_buf_free(c->out);
    c->in = c->out = NULL;
    if (c->prev)
        c->prev->next = c->next;
    else
        set->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    set->n--;
    if (!c->outbound)
        c->svc->stats->conns_cur--;
    c->defer.fn = conn_free;
    nd_loop_defer(loop, &c->defer);
    if (set->changed)
        set->changed(set);
}

/* A module callback on c starts. Until it returns, nothing ends c (see
 * nd_conn_end): the module may touch other connections, a chat member's
 * close() may run, and c's state stays whole for the callback. */
static void
enter(struct nd_conn *c)
{
    c->busy++;
}

/* A module callback on c returned v. The end wished for from inside it
 * comes first (an abort outranks anything, a finish outranks keep), then
 * the verdict, then the output the callback made goes out in one write.
 * Returns 1 when the connection no longer reads (finishing or closed). */
static int
leave(struct nd_conn *c, enum nd_verdict v)
{
    if (c->broken)
        v = ND_ABORT;
    if (c->end_wish == ND_ABORT || (c->end_wish == ND_FINISH && v == ND_KEEP))
        v = c->end_wish;
    if (--c->busy > 0) {
        c->end_wish = v;            /* an outer callback of c is still running */
        return v != ND_KEEP;
    }
    c->end_wish = ND_KEEP;
    if (v == ND_ABORT) {
        nd_conn_close(c);
        return 1;
    }
    if (v == ND_FINISH)
        nd_conn_finish(c);
    if (c->out != NULL && c->w.writable && !c->flushing && c->state < ND_CONN_LINGERING)
        flush(c);
    return c->state != ND_CONN_OPEN;
}

/* Nothing the peer sent waits to be read, as far as we know: no input is
 * buffered and the last read or an EAGAIN cleared the readable flag. */
static int
nothing_unread(const struct nd_conn *c)
{
    return !c->w.readable && (c->in == NULL || nd_buf_len(c->in) == 0);
}

/* All output is sent. If the peer may still be sending, closing now could
 * answer its next bytes with a reset that destroys our output in flight, so
 * send our FIN and read (discarding) until its FIN or for LINGER_MS. A peer
 * that has sent its FIN, or has said it sends no more and left nothing
 * unread, is closed at once: close() sends our FIN after the answer, and
 * the shutdown, the read of its FIN and a wakeup are saved (nginx lingers
 * only when input is left unread, too). */
static void
linger(struct nd_conn *c)
{
    struct nd_loop *loop = c->loop;

    if (c->eof || (c->peer_done && nothing_unread(c)) || shutdown(c->w.fd, SHUT_WR) < 0) {
        nd_conn_close(c);
        return;
    }
    c->state = ND_CONN_LINGERING;
    c->idle_ms = 0;
    c->deadline = nd_loop_now(loop) + LINGER_MS;
    nd_timer_stop(loop, &c->idle);
    arm(c);
    nd_buf_free(c->in);
    c->in = NULL;
    if (c->w.readable)
        nd_loop_pend(loop, &c->w);
}

static void
discard(struct nd_conn *c)
{
    static char sink[ND_BUF_CHUNK];
    int budget = READ_BUDGET;

    while (c->w.readable) {
        ssize_t n;

        if (budget-- == 0) {
            nd_loop_pend(c->loop, &c->w);
            return;
        }
        n = recv(c->w.fd, sink, sizeof(sink), 0);
        if (n > 0) {
            c->svc->stats->bytes_in += (uint64_t)n;
            c->bytes_in += (uint64_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            c->w.readable = 0;
            return;
        }
        nd_conn_close(c);   /* the peer's FIN, or an error: done */
        return;
    }
}

void
nd_conn_stop(struct nd_conn *c)
{
    if (c->state == ND_CONN_OPEN && !c->held && (c->w.readable || c->in != NULL))
        conn_read(c);
    if (c->state == ND_CONN_OPEN && !c->got_input) {
        /* conn_read finishes it after the answer; a request on its way
         * comes within a round trip, so the wait is short. */
        c->stopping = 1;
        c->deadline = nd_loop_now(c->loop) + STOP_GRACE_MS;
        arm(c);
        return;
    }
    if (c->state == ND_CONN_OPEN) {
        enter(c);
        leave(c, c->mod->stop ? c->mod->stop(c) : ND_FINISH);
    }
}

void
nd_conn_finish(struct nd_conn *c)
{
    if (c->state != ND_CONN_OPEN)
        return;
    c->state = ND_CONN_FINISHING;
    if (c->out == NULL)
        linger(c);
    else if (c->w.writable)
        nd_loop_pend(c->loop, &c->w);   /* conn_io sends it */
}

/* Accounts for bytes the kernel took; fewer than asked means the socket
 * buffer is full, and the next EPOLLOUT edge will say when it is not. */
static void
sent(struct nd_conn *c, size_t took, size_t asked)
{
    c->svc->stats->bytes_out += took;
    c->bytes_out += took;
    c->last_active = nd_loop_now(c->loop);
    if (took < asked)
        c->w.writable = 0;
}

/* One send(). Returns the bytes taken (0 when the socket is full), or -1
 * on an error such as a reset. */
static ssize_t
send_some(struct nd_conn *c, const void *p, size_t n)
{
    ssize_t k;

    do
        k = send(c->w.fd, p, n, MSG_NOSIGNAL);
    while (k < 0 && errno == EINTR);
    if (k < 0 && errno == EAGAIN) {
        c->w.writable = 0;
        return 0;
    }
    if (k < 0) {
        nd_log_errno(LOG_DEBUG, "%s: send", c->svc->name);
        return -1;
    }
    sent(c, (size_t)k, n);
    return k;
}

/* Reading was paused for output above the high-water mark, which has
 * drained to half of it: read again, offering buffered input first. */
static void
resume(struct nd_conn *c)
{
    c->read_paused = 0;
    c->kick = 1;
    nd_loop_pend(c->loop, &c->w);
}

/* Sends what is queued while the socket takes it. Once all of it is out,
 * calls drained() if output had to wait or the module asked for it
 * (nd_conn_want_drain), and sends what that made. Returns -1 if the
 * connection was closed or lingers. */
static int
flush(struct nd_conn *c)
{
    const struct nd_module *mod = c->mod;
    int budget = DRAIN_BUDGET, waited;

    c->flushing = 1;
    for (;;) {
        struct nd_buf *out;

        while ((out = c->out) != NULL && c->w.writable) {
            ssize_t n = send_some(c, nd_buf_head(out), nd_buf_len(out));

            if (n < 0) {
                c->flushing = 0;
                nd_conn_close(c);
                return -1;
            }
            nd_buf_consume(out, (size_t)n);
            if (nd_buf_len(out) == 0) {
                nd_buf_free(out);
                c->out = NULL;
            }
        }
        if (c->out == NULL && c->state == ND_CONN_FINISHING) {
            c->flushing = 0;
            linger(c);
            return -1;
        }
        if (c->read_paused && nd_conn_pending(c) <= c->svc->hwm / 2)
            resume(c);
        if (c->out != NULL) {
            if (!c->backlog) {
                c->backlog = 1;     /* the socket is full: EPOLLOUT brings us back */
                arm(c);             /* the send timeout runs from now */
            }
            break;
        }
        waited = c->backlog;
        c->backlog = 0;
        if (c->state != ND_CONN_OPEN || mod->drained == NULL || !(c->want_drain || waited))
            break;
        if (budget-- == 0) {
            c->want_drain = 1;
            nd_loop_pend(c->loop, &c->w);   /* more next turn, after the others */
            break;
        }
        c->want_drain = 0;
        enter(c);
        if (leave(c, mod->drained(c)) && c->state == ND_CONN_CLOSED)
            return -1;
        if (c->out == NULL && !c->want_drain)
            break;      /* it made nothing more */
    }
    c->flushing = 0;
    return 0;
}

/* One sendmsg of the queued output and then p[0..n). Returns how many of
 * p's bytes the kernel took, or -1 on an error such as a reset. */
static ssize_t
send_with_queue(struct nd_conn *c, const void *p, size_t n)
{
    struct iovec iov[2];
    struct msghdr mh = { .msg_iov = iov };
    size_t q = nd_conn_pending(c);
    ssize_t k;

    if (q > 0) {
        iov[mh.msg_iovlen].iov_base = nd_buf_head(c->out);
        iov[mh.msg_iovlen++].iov_len = q;
    }
    iov[mh.msg_iovlen].iov_base = (void *)(uintptr_t)p;
    iov[mh.msg_iovlen++].iov_len = n;
    do
        k = sendmsg(c->w.fd, &mh, MSG_NOSIGNAL);
    while (k < 0 && errno == EINTR);
    if (k < 0 && errno == EAGAIN) {
        c->w.writable = 0;
        return 0;
    }
    if (k < 0) {
        nd_log_errno(LOG_DEBUG, "%s: send", c->svc->name);
        return -1;
    }
    sent(c, (size_t)k, q + n);
    if ((size_t)k < q) {
        nd_buf_consume(c->out, (size_t)k);
        return 0;
    }
    nd_buf_free(c->out);
    c->out = NULL;
    return k - (ssize_t)q;
}

int
nd_conn_write(struct nd_conn *c, const void *p, size_t n)
{
    const char *s = p;

    if (c->state > ND_CONN_FINISHING || c->broken)
        return -1;
    if (c->w.writable && !c->flushing && nd_conn_pending(c) + n > WRITE_DIRECT) {
        ssize_t k = send_with_queue(c, s, n);

        if (k < 0) {
            c->broken = 1;
            return -1;
        }
        s += k;
        n -= (size_t)k;
    }
    if (n > 0) {
        if (nd_buf_append(&c->out, s, n) < 0) {
            nd_log(LOG_WARNING, "%s: out of memory for output", c->svc->name);
            c->broken = 1;
            return -1;
        }
        /* Inside its own callback, leave() sends it; otherwise (a chat
         * member written to from another's callback, a timer) it goes
         * before the loop sleeps, with everything else written to it. */
        if (c->busy == 0 && c->w.writable)
            nd_loop_pend(c->loop, &c->w);
    }
    return nd_conn_pending(c) > c->svc->hwm ? 1 : 0;
}

static void
conn_read(struct nd_conn *c)
{
    const struct nd_module *mod = c->mod;
    struct nd_loop *loop = c->loop;
    int budget = READ_BUDGET;

    if (c->kick && !c->held) {
        c->kick = 0;
        if (c->in != NULL && nd_buf_len(c->in) > 0) {
            enum nd_verdict v;

            enter(c);
            v = mod->input(c, c->in);
            if (c->in != NULL && nd_buf_len(c->in) == 0) {
                nd_buf_free(c->in);
                c->in = NULL;
            }
            if (leave(c, v))
                return;
        }
    }
    while (c->w.readable && c->state == ND_CONN_OPEN && !c->read_paused && !c->held) {
        size_t room;
        ssize_t n;
        enum nd_verdict v;

        if (budget-- == 0) {
            nd_loop_pend(loop, &c->w);
            return;
        }
        if (c->in == NULL &&
            (c->in = nd_buf_new(c->streaming ? STREAM_READ : ND_BUF_CHUNK)) == NULL) {
            nd_log(LOG_WARNING, "%s: out of memory for input", c->svc->name);
            nd_conn_close(c);
            return;
        }
        if (nd_buf_room(c->in) == 0) {
            /* Move the unconsumed bytes to the front; grow only up to the
             * module's stated need (a whole request head, say). */
            size_t len = nd_buf_len(c->in);

            memmove(c->in->data, nd_buf_head(c->in), len);
            c->in->start = 0;
            c->in->end = len;
            if (len == c->in->cap && len < c->in_max) {
                size_t more = len < c->in_max - len ? len : c->in_max - len;

                if (nd_buf_reserve(&c->in, more) < 0) {
                    nd_conn_close(c);
                    return;
                }
            }
        }
        room = nd_buf_room(c->in);
        {
            /* What one read may add to the output queue stays within the
             * promise: buffer_size plus one chunk. Large reads only while
             * nothing is queued, and never above buffer_size. */
            size_t cap = c->out != NULL || c->svc->hwm < ND_BUF_CHUNK ? ND_BUF_CHUNK
                                                                       : c->svc->hwm;

            if (room > cap)
                room = cap;
        }
        if (room == 0) {
            nd_log(LOG_INFO, "%s: input buffer full, closing", c->svc->name);
            nd_conn_close(c);
            return;
        }
        n = recv(c->w.fd, c->in->data + c->in->end, room, 0);
        if (n > 0) {
            c->in->end += (size_t)n;
            c->got_input = 1;
            c->svc->stats->bytes_in += (uint64_t)n;
            c->bytes_in += (uint64_t)n;
            c->last_active = nd_loop_now(loop);
            /* A short read drained the socket, unless a FIN or an error is
             * also waiting: then read on until recv says so. */
            if ((size_t)n < room && !c->w.hup)
                c->w.readable = 0;
            /* A read that filled the buffer says more is coming: keep a
             * larger buffer while that lasts, and none once it stops. */
            c->streaming = (size_t)n == room;
            enter(c);
            v = mod->input(c, c->in);
            if (c->in != NULL && nd_buf_len(c->in) == 0 &&
                !(c->streaming && c->in->cap >= STREAM_READ)) {
                nd_buf_free(c->in);
                c->in = NULL;
            } else if (c->in != NULL && c->in->start == 0 && !c->held &&
                       nd_buf_room(c->in) == 0 && c->in->cap >= c->in_max &&
                       v == ND_KEEP) {
                nd_log(LOG_INFO, "%s: input buffer full, closing", c->svc->name);
                v = ND_ABORT;
            }
            if (leave(c, v))
                return;
            if (c->stopping && !c->held && (c->in == NULL || nd_buf_len(c->in) == 0)) {
                nd_conn_finish(c);      /* its request is answered: done */
                return;
            }
            if (c->out != NULL && nd_buf_len(c->out) >= c->svc->hwm)
                c->read_paused = 1;     /* flush() resumes us below hwm/2 */
            continue;
        }
        if (n == 0) {
            c->w.readable = 0;
            c->eof = 1;
            enter(c);
            leave(c, mod->eof ? mod->eof(c) : ND_FINISH);
            return;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN) {
            c->w.readable = 0;
            return;
        }
        nd_log_errno(LOG_DEBUG, "%s: recv", c->svc->name);
        nd_conn_close(c);
        return;
    }
}

/* Reading is held (a response is delayed or streamed) and the peer closed
 * or reset: look without consuming, so that a client that left frees its
 * connection now rather than when the response is done. */
static void
peek_hup(struct nd_conn *c)
{
    char b;
    ssize_t n = recv(c->w.fd, &b, 1, MSG_PEEK);

    if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR)))
        return;     /* bytes first (a pipelined request): seen when resumed */
    if (n < 0) {
        nd_conn_close(c);
        return;
    }
    c->eof = 1;
    c->w.readable = 0;
    enter(c);
    leave(c, c->mod->eof ? c->mod->eof(c) : ND_FINISH);
}

static void
conn_io(struct nd_loop *loop, struct nd_watcher *w)
{
    struct nd_conn *c = nd_container_of(w, struct nd_conn, w);

    ND_UNUSED(loop);
    if (c->connecting && (!w->writable || connected(c) < 0))
        return;
    if ((c->out != NULL || c->want_drain) && w->writable && c->state < ND_CONN_LINGERING &&
        flush(c) < 0)
        return;
    if (c->state == ND_CONN_LINGERING) {
        discard(c);
        return;
    }
    if (c->state == ND_CONN_OPEN && !c->held)
        conn_read(c);
    /* Reading is held (now, or since this very read): a FIN or reset that
     * came with the bytes just read raises no new edge, so look now. */
    if (c->state == ND_CONN_OPEN && c->held && w->hup && !c->eof)
        peek_hup(c);
}

static void
conn_idle(struct nd_loop *loop, struct nd_timer *t)
{
    struct nd_conn *c = nd_container_of(t, struct nd_conn, idle);
    uint64_t now = nd_loop_now(loop);

    if (c->deadline && now >= c->deadline) {
        const struct nd_module *mod = c->mod;

        c->deadline = 0;
        if (c->connecting)
            c->err = ETIMEDOUT;
        if (c->state != ND_CONN_OPEN || c->connecting) {
            nd_conn_close(c);   /* lingering, or finishing past its time */
            return;
        }
        enter(c);
        if (leave(c, mod->timeout ? mod->timeout(c) : ND_ABORT) &&
            c->state != ND_CONN_OPEN)
            return;     /* closed, or lingering with its own deadline */
    }
    if (c->backlog && c->send_ms && now - c->last_active >= c->send_ms) {
        nd_log(LOG_DEBUG, "%s: closing a connection that read nothing for %llu ms",
               c->svc->name, (unsigned long long)(now - c->last_active));
        nd_conn_close(c);
        return;
    }
    if (c->idle_ms && now - c->last_active >= c->idle_ms) {
        nd_log(LOG_DEBUG, "%s: closing connection idle for %llu ms", c->svc->name,
               (unsigned long long)(now - c->last_active));
        nd_conn_close(c);
        return;
    }
    arm(c);
    if (c->broken)
        nd_conn_close(c);
}

size_t
nd_conn_pending(const struct nd_conn *c)
{
    return c->out ? nd_buf_len(c->out) : 0;
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

void
nd_conn_hold(struct nd_conn *c, int hold)
{
    if (c->state == ND_CONN_CLOSED || c->held == !!hold)
        return;
    c->held = (unsigned char)!!hold;
    if (!hold) {
        c->kick = 1;
        nd_loop_pend(c->loop, &c->w);
    }
}

void
nd_conn_set_deadline(struct nd_conn *c, uint64_t ms)
{
    if (c->state == ND_CONN_CLOSED)
        return;
    c->deadline = ms ? nd_loop_now(c->loop) + ms : 0;
    arm(c);
}

void
nd_conn_set_send_timeout(struct nd_conn *c, uint64_t ms)
{
    if (c->state == ND_CONN_CLOSED)
        return;
    c->send_ms = ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
    arm(c);
}

void
nd_conn_end(struct nd_conn *c, int abort)
{
    if (c->state == ND_CONN_CLOSED)
        return;
    if (c->busy) {      /* its own callback runs: after it returns */
        if (abort)
            c->end_wish = ND_ABORT;
        else if (c->end_wish == ND_KEEP)
            c->end_wish = ND_FINISH;
        return;
    }
    if (abort)
        nd_conn_close(c);
    else
        nd_conn_finish(c);
}

void
nd_conn_peer_done(struct nd_conn *c)
{
    c->peer_done = 1;
}

void
nd_conn_want_drain(struct nd_conn *c)
{
    if (c->state > ND_CONN_FINISHING)
        return;
    c->want_drain = 1;
    if (c->w.writable && !c->flushing)
        nd_loop_pend(c->loop, &c->w);
}

int
nd_conn_peer(const struct nd_conn *c, void *sa, unsigned *len)
{
    socklen_t l = *len;
    int rc = getpeername(c->w.fd, sa, &l);

    *len = l;
    return rc;
}

void
nd_conn_peer_text(const struct nd_conn *c, char *buf, size_t n)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    struct nd_addr a;
    const char *text = "-";

    if (getpeername(c->w.fd, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_UNIX)
            text = nd_addr_from_sockaddr(&a, ND_UNIX, (struct sockaddr *)&ss, len) == 0
                       ? a.text : "unix";   /* an unnamed client socket */
        else if (nd_addr_from_sockaddr(&a, ND_TCP, (struct sockaddr *)&ss, len) == 0)
            text = a.text + strlen("tcp://");
    }
    snprintf(buf, n, "%s", text);
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
    return c->started_us;
}

int
nd_conn_local(const struct nd_conn *c, void *sa, unsigned *len)
{
    socklen_t l = *len;
    int rc = getsockname(c->w.fd, sa, &l);

    *len = l;
    return rc;
}

long
nd_conn_sendfile(struct nd_conn *c, int fd, int64_t *off, size_t n)
{
    size_t budget = SENDFILE_BUDGET;
    long total = 0;

    if (c->state > ND_CONN_FINISHING || c->broken)
        return -1;
    if (c->out != NULL) {
        c->want_drain = 1;      /* headers still queued: file bytes wait */
        return 0;
    }
    while (n > 0 && budget > 0 && c->w.writable) {
        size_t ask = n < budget ? n : budget;
        off_t o = (off_t)*off;
        ssize_t k = sendfile(c->w.fd, fd, &o, ask);

        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && errno == EAGAIN) {
            c->w.writable = 0;
            break;
        }
        if (k <= 0) {
            if (k < 0)
                nd_log_errno(LOG_DEBUG, "%s: sendfile", c->svc->name);
            else
                nd_log(LOG_WARNING, "%s: file shrank while being sent", c->svc->name);
            c->broken = 1;
            return -1;
        }
        *off = (int64_t)o;
        sent(c, (size_t)k, ask);
        total += k;
        n -= (size_t)k;
        budget -= (size_t)k;
    }
    if (n > 0)
        nd_conn_want_drain(c);  /* called back when there is room */
    return total;
}
