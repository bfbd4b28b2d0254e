/* conn.h: a stream connection as the core sees it: a watcher, an idle timer,
 * an input buffer lent to the module, and an output queue that holds only
 * what the kernel would not take. Modules use the functions in module.h. */
#ifndef ND_CONN_H
#define ND_CONN_H

#include <stdint.h>

#include "loop.h"

struct nd_buf;
struct nd_conn;
struct nd_service;

/* The open connections of a server. A connection adds itself when it opens
 * and removes itself when it closes; changed() is then called, so the
 * owner can resume a listener that waits for a free slot, or end a stop. */
struct nd_conn_set {
    struct nd_conn *head;
    uint64_t n;
    void (*changed)(struct nd_conn_set *set);
};

enum nd_conn_state {
    ND_CONN_OPEN,
    ND_CONN_FINISHING,      /* reads no more; closes once output is sent */
    ND_CONN_LINGERING,      /* output sent, our FIN sent; discarding input
                             * until the peer's FIN, so that closing with
                             * unread bytes does not reset the connection
                             * and destroy what we sent (skipped when the
                             * peer said it sends no more and nothing of
                             * it is unread: see nd_conn_peer_done) */
    ND_CONN_CLOSED,
};

struct nd_conn {
    struct nd_watcher w;
    struct nd_timer idle;
    struct nd_loop *loop;
    struct nd_conn_set *set;
    struct nd_service *svc;
    const struct nd_module *mod;    /* its callbacks: svc's module when accepted */
    struct nd_buf *in;
    struct nd_buf *out;
    void *data;
    uint64_t last_active;
    uint64_t started_us;        /* accepted, on nd_now_us()'s clock */
    uint64_t bytes_in;          /* read from the peer */
    uint64_t bytes_out;         /* taken by the kernel */
    uint64_t deadline;          /* module's timer, absolute ms; 0 = none */
    uint32_t idle_ms;           /* close after this long without I/O; 0 = never */
    uint32_t send_ms;           /* close when output waits this long; 0 = never */
    size_t in_max;              /* input buffer limit, bytes */
    int err;                    /* why a connect failed (errno), else 0 */
    struct nd_conn *prev, *next;
    struct nd_defer defer;
    unsigned char state;
    unsigned char read_paused;  /* output above the high-water mark */
    unsigned char kick;         /* resumed: offer buffered input again */
    unsigned char broken;       /* a write failed inside a module callback */
    unsigned char eof;          /* the peer's FIN has been read */
    unsigned char held;         /* the module asked us not to read */
    unsigned char want_drain;   /* a short sendfile waits for room */
    unsigned char streaming;    /* the last read filled the buffer */
    unsigned char got_input;    /* the peer has sent at least one byte */
    unsigned char stopping;     /* graceful stop: finish once answered */
    unsigned char backlog;      /* output had to wait: drained() when out */
    unsigned char flushing;     /* flush() runs: it sends what is made */
    unsigned char peer_done;    /* the peer said it sends no more (module) */
    unsigned char busy;         /* depth of module callbacks running on it */
    signed char end_wish;       /* an nd_verdict asked for from inside them */
    unsigned char outbound;     /* made by nd_conn_connect: not counted as a
                                 * connection of its service */
    unsigned char connecting;   /* its connect has not finished yet */
};

/* Takes an accepted fd for svc, as a member of set. On failure the fd is
 * closed. */
int nd_conn_open(struct nd_loop *loop, struct nd_conn_set *set, struct nd_service *svc,
                 int fd);

/* As nd_conn_open, for an fd whose first bytes are most likely waiting
 * already (accepted from a TCP_DEFER_ACCEPT listener): it is read and
 * served at once, and registered with the loop only if it is still open
 * after that pass, so one answered and closed in it costs no epoll_ctl and
 * no wakeup. If the read finds nothing (the deferral ran out before the
 * client spoke) it is simply registered, as nd_conn_open would have. 0, or
 * -1 when the connection is already closed, or -errno. */
int nd_conn_open_ready(struct nd_loop *loop, struct nd_conn_set *set, struct nd_service *svc,
                       int fd);

/* Ends a connection at once, dropping unsent output. */
void nd_conn_close(struct nd_conn *c);

/* Read no more; close once output is sent. */
void nd_conn_finish(struct nd_conn *c);

/* For a graceful stop: what the peer already sent is read and answered
 * first (one budgeted pass), then the module's stop() says whether the
 * connection finishes now or once the answer under way is complete. One
 * that has not sent a byte yet was accepted for a request still on its
 * way: it finishes once that is answered (or STOP_GRACE_MS passes). So a
 * restart, under socket activation or of one reuseport instance, answers
 * every connection it accepted, whole. shutdown_timeout bounds it all. */
void nd_conn_stop(struct nd_conn *c);

#endif
