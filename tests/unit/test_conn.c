/* test_conn.c: the connection write path, made deterministic. The echo
 * module serves one end of a socketpair whose buffers are tiny, so send()
 * takes part of what it is given and then says EAGAIN; the test plays the
 * peer on the other end and turns the loop by hand with nd_loop_once(). */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nd/addr.h"
#include "nd/buf.h"
#include "conn.h"
#include "loop.h"
#include "nd/module.h"
#include "service.h"
#include "fixtures.h"

#define HWM (64 * 1024)
#define SMALL_BUF 4096
#define PAYLOAD (1024 * 1024)

/* Turns of the loop with no progress before a test calls it a hang. */
#define MAX_STALLS 200
/* Turns of the loop in all, whatever happens. */
#define MAX_TURNS 200000

/* One echo service and one connection: a loop, a connection set and a
 * service are all a connection needs. */
struct rig {
    struct nd_loop loop;
    struct nd_conn_set conns;
    struct nd_service *svc;
    int peer;                   /* the test's end of the socketpair */
    unsigned char *out;         /* what the peer sends */
    unsigned char *back;        /* what it got back */
    size_t sent, got;
    int eof;                    /* the peer read end-of-file */
    int open;
};

static struct rig rig;

/* The module the rig serves; NULL means echo. */
static const struct nd_module *rig_module;

/* Largest output queue seen, and how often output had to be queued. */
static size_t max_pending, queued_turns;

static void
set_buf(int fd, int opt, int size)
{
    cr_assert_eq(setsockopt(fd, SOL_SOCKET, opt, &size, sizeof(size)), 0);
}

static void
rig_open_hwm(size_t total, uint64_t hwm)
{
    struct nd_service *svc;
    uint64_t x = 0x2545f4914f6cdd1dULL;
    size_t i;
    int sv[2];

    memset(&rig, 0, sizeof(rig));
    rig.peer = -1;
    cr_assert_eq(nd_loop_init(&rig.loop), 0);
    svc = nd_service_new("echo", rig_module ? rig_module : nd_module_find("echo"), NULL, NULL,
                         &rig.loop);
    cr_assert_not_null(svc);
    svc->idle_timeout = 0;      /* no timers: the test owns time */
    svc->hwm = hwm;
    rig.svc = svc;
    rig.open = 1;

    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    set_buf(sv[0], SO_SNDBUF, SMALL_BUF);
    set_buf(sv[1], SO_RCVBUF, SMALL_BUF);
    rig.peer = sv[1];
    cr_assert_eq(nd_conn_open(&rig.loop, &rig.conns, svc, sv[0]), 0);
    cr_assert_not_null(rig.conns.head);
    cr_assert_eq(rig.conns.n, 1);
    cr_assert_eq(svc->stats->conns_cur, 1);

    max_pending = queued_turns = 0;
    rig.out = malloc(total);
    rig.back = malloc(total);
    cr_assert(rig.out && rig.back);
    for (i = 0; i < total; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        rig.out[i] = (unsigned char)(x >> 32);
    }
}

static void
rig_open(size_t total)
{
    rig_open_hwm(total, HWM);
}

/* Closes what is open and frees everything; also the suite's .fini, for a
 * test that failed half-way. */
static void
rig_close(void)
{
    if (!rig.open)
        return;
    while (rig.conns.head != NULL)
        nd_conn_close(rig.conns.head);
    nd_loop_fini(&rig.loop);    /* runs the deferred frees */
    nd_service_unref(rig.svc);
    if (rig.peer >= 0)
        close(rig.peer);
    free(rig.out);
    free(rig.back);
    nd_buf_pool_drain();
    memset(&rig, 0, sizeof(rig));
}

/* The end of a test: everything freed, nothing leaked. */
static void
done(void)
{
    rig_close();
    rig_module = NULL;
    nd_test_no_leaks();
}

TestSuite(conn, .fini = rig_close);

/* The one connection, or NULL once it is closed. */
static struct nd_conn *
conn(void)
{
    return rig.conns.head;
}

/* Sends as much of the payload as the socket takes now. */
static size_t
peer_send(size_t limit)
{
    size_t before = rig.sent;

    while (rig.sent < limit) {
        ssize_t n = send(rig.peer, rig.out + rig.sent, limit - rig.sent, MSG_NOSIGNAL);

        if (n < 0) {
            cr_assert_eq(errno, EAGAIN, "send: %s", strerror(errno));
            break;
        }
        rig.sent += (size_t)n;
    }
    return rig.sent - before;
}

/* Reads what has come back, checking it as it arrives. */
static size_t
peer_recv(void)
{
    size_t before = rig.got;

    while (!rig.eof) {
        unsigned char b[8192];
        ssize_t n = recv(rig.peer, b, sizeof(b), 0);

        if (n < 0) {
            cr_assert_eq(errno, EAGAIN, "recv: %s", strerror(errno));
            break;
        }
        if (n == 0) {
            rig.eof = 1;
            break;
        }
        cr_assert_leq(rig.got + (size_t)n, rig.sent, "more came back than was sent");
        memcpy(rig.back + rig.got, b, (size_t)n);
        cr_assert_eq(memcmp(rig.out + rig.got, b, (size_t)n), 0,
                     "bytes %zu..%zu came back changed or out of order",
                     rig.got, rig.got + (size_t)n);
        rig.got += (size_t)n;
    }
    return rig.got - before;
}

/* One turn of the loop, without waiting: every event the test causes is
 * already queued when its send() or recv() returns. */
static int
turn(void)
{
    int n = nd_loop_once(&rig.loop, 0);

    cr_assert_geq(n, 0, "nd_loop_once: %s", strerror(-n));
    return n;
}

/* Bytes the daemon's end has received and not read yet. */
static int
unread_by_daemon(void)
{
    int n = -1;

    cr_assert_not_null(conn());
    cr_assert_eq(ioctl(conn()->w.fd, FIONREAD, &n), 0);
    return n;
}

static void
note_pending(void)
{
    uint64_t hwm = rig.svc->hwm;
    size_t p = conn() ? nd_conn_pending(conn()) : 0;

    if (p > max_pending)
        max_pending = p;
    if (p > 0)
        queued_turns++;
    cr_assert_leq(p, hwm + ND_BUF_CHUNK, "output queue of %zu bytes above the bound", p);
}

/* Sends up to `limit` and reads back until everything sent has returned.
 * Fails if the loop stops making progress. */
static void
pump(size_t limit)
{
    unsigned turns = 0, stalls = 0;

    while (rig.got < limit) {
        size_t moved = peer_send(limit);
        int events = turn();

        note_pending();
        moved += peer_recv();
        cr_assert_not(rig.eof, "end-of-file after %zu of %zu bytes", rig.got, limit);
        stalls = moved == 0 && events == 0 ? stalls + 1 : 0;
        cr_assert_lt(stalls, MAX_STALLS, "stuck: sent %zu, got %zu, pending %zu",
                     rig.sent, rig.got, conn() ? nd_conn_pending(conn()) : 0);
        cr_assert_lt(++turns, MAX_TURNS);
    }
}

/* Turns the loop until the peer sees end-of-file. */
static void
pump_to_eof(void)
{
    unsigned turns = 0, stalls = 0;

    while (!rig.eof) {
        int events = turn();
        size_t moved;

        note_pending();
        moved = peer_recv();
        stalls = moved == 0 && events == 0 && !rig.eof ? stalls + 1 : 0;
        cr_assert_lt(stalls, MAX_STALLS, "no end-of-file: got %zu of %zu, conn %s",
                     rig.got, rig.sent, conn() ? "open" : "closed");
        cr_assert_lt(++turns, MAX_TURNS);
    }
}

Test(conn, the_buffers_are_small_enough_to_matter)
{
    int sz = 0;
    socklen_t len = sizeof(sz);

    rig_open(1);
    cr_assert_eq(getsockopt(conn()->w.fd, SOL_SOCKET, SO_SNDBUF, &sz, &len), 0);
    cr_assert_lt(sz, HWM / 4, "SO_SNDBUF %d: the kernel would hide the partial writes", sz);
    done();
}

Test(conn, a_large_payload_comes_back_intact)
{
    rig_open(PAYLOAD);
    pump(PAYLOAD);
    cr_assert_eq(rig.got, PAYLOAD);
    cr_assert_eq(memcmp(rig.back, rig.out, PAYLOAD), 0);
    cr_assert_eq(rig.svc->stats->bytes_in, PAYLOAD);
    cr_assert_eq(rig.svc->stats->bytes_out, PAYLOAD);
    /* The kernel refused output many times, and it was queued meanwhile. */
    cr_log_info("output queued after %zu turns, at most %zu bytes", queued_turns, max_pending);
    cr_assert_gt(queued_turns, 10, "output was queued after only %zu turns", queued_turns);
    cr_assert_not_null(conn(), "the connection closed on its own");
    cr_assert_eq(nd_conn_pending(conn()), 0);
    done();
}

Test(conn, a_peer_that_does_not_read_stops_the_reading)
{
    unsigned turns = 0, quiet = 0;
    uint64_t bytes_in;
    int unread;

    rig_open(PAYLOAD);

    /* Send without reading until neither side can move. */
    while (quiet < 3) {
        size_t moved = peer_send(PAYLOAD);
        int events = turn();

        note_pending();
        quiet = moved == 0 && events == 0 ? quiet + 1 : 0;
        cr_assert_lt(++turns, MAX_TURNS);
    }
    cr_assert_lt(rig.sent, PAYLOAD, "1 MiB went in although nothing came out");
    cr_assert_not_null(conn());
    cr_assert(conn()->read_paused, "not paused with %zu bytes queued",
              nd_conn_pending(conn()));
    cr_assert_geq(nd_conn_pending(conn()), HWM);
    cr_assert_leq(nd_conn_pending(conn()), HWM + ND_BUF_CHUNK);
    unread = unread_by_daemon();
    cr_log_info("paused: %zu sent, %zu queued, %d unread", rig.sent,
                nd_conn_pending(conn()), unread);
    cr_assert_gt(unread, 0, "the daemon read everything: nothing shows the pause");

    /* More turns change nothing: the daemon leaves the input where it is. */
    bytes_in = rig.svc->stats->bytes_in;
    for (turns = 0; turns < 20; turns++) {
        turn();
        note_pending();
    }
    cr_assert_eq(rig.svc->stats->bytes_in, bytes_in);
    cr_assert_eq(unread_by_daemon(), unread);
    cr_assert(conn()->read_paused);

    /* The peer reads: the queue drains, reading resumes, all comes back. */
    {
        int resumed = 0;

        turns = 0;
        while (!resumed && rig.got < rig.sent) {
            peer_recv();
            turn();
            note_pending();
            resumed = conn() != NULL && !conn()->read_paused;
            cr_assert_lt(++turns, MAX_TURNS);
        }
        cr_assert(resumed, "never resumed; got %zu of %zu", rig.got, rig.sent);
    }
    pump(PAYLOAD);
    cr_assert_eq(memcmp(rig.back, rig.out, PAYLOAD), 0);
    cr_assert_leq(max_pending, HWM + ND_BUF_CHUNK);
    cr_assert_geq(max_pending, HWM);
    done();
}

/* The peer sends everything, then its FIN: all of it comes back, then the
 * daemon's FIN, and the connection is gone. */
static void
send_then_shutdown(size_t total)
{
    unsigned turns = 0;

    rig_open(total);
    while (rig.sent < total) {
        peer_send(total);
        turn();
        note_pending();
        peer_recv();
        cr_assert_lt(++turns, MAX_TURNS);
    }
    cr_assert_eq(shutdown(rig.peer, SHUT_WR), 0);
    pump_to_eof();
    cr_assert_eq(rig.got, total, "end-of-file after %zu of %zu bytes", rig.got, total);
    cr_assert_eq(memcmp(rig.back, rig.out, total), 0);
    cr_assert_null(conn(), "the connection is still open");
    cr_assert_eq(rig.conns.n, 0);
    cr_assert_eq(rig.svc->stats->conns_cur, 0);
    cr_assert_eq(rig.svc->stats->conns_total, 1);
    /* Nothing more: end-of-file stays end-of-file. */
    cr_assert_eq(recv(rig.peer, rig.back, 1, 0), 0);
    done();
}

Test(conn, shutdown_after_a_small_message)
{
    send_then_shutdown(100);
}

Test(conn, shutdown_after_a_large_payload)
{
    send_then_shutdown(PAYLOAD);
}

Test(conn, shutdown_while_reading_is_paused)
{
    unsigned turns = 0, quiet = 0;

    rig_open(PAYLOAD);
    while (quiet < 3) {
        size_t moved = peer_send(PAYLOAD);
        int events = turn();

        quiet = moved == 0 && events == 0 ? quiet + 1 : 0;
        cr_assert_lt(++turns, MAX_TURNS);
    }
    cr_assert(conn()->read_paused);
    cr_assert_eq(shutdown(rig.peer, SHUT_WR), 0);
    pump_to_eof();
    cr_assert_eq(rig.got, rig.sent, "end-of-file after %zu of %zu bytes", rig.got, rig.sent);
    cr_assert_null(conn());
    done();
}

Test(conn, shutdown_with_nothing_sent)
{
    rig_open(1);
    cr_assert_eq(shutdown(rig.peer, SHUT_WR), 0);
    pump_to_eof();
    cr_assert_eq(rig.got, 0);
    cr_assert_null(conn());
    cr_assert_eq(rig.conns.n, 0);
    done();
}

/* Data and FIN in one event: the short read that takes the data must not
 * end the reading, or the FIN, already reported, is never seen. The peer
 * reads nothing until the daemon has closed, so no later event helps. */
Test(conn, data_and_fin_in_one_event)
{
    unsigned turns;

    rig_open(100);
    peer_send(100);
    cr_assert_eq(rig.sent, 100);
    cr_assert_eq(shutdown(rig.peer, SHUT_WR), 0);
    for (turns = 0; conn() != NULL && turns < 20; turns++)
        turn();
    cr_assert_null(conn(), "the peer's FIN went unnoticed (%d bytes unread)",
                   unread_by_daemon());
    pump_to_eof();
    cr_assert_eq(rig.got, 100);
    done();
}

/* One burst of input larger than what a callback reads before yielding
 * (READ_BUDGET chunks): the rest must be read on the following turns
 * although no new event arrives. The peer does not read, and the high-water
 * mark is out of reach, so only the loop's pending list can do it. */
Test(conn, a_burst_beyond_the_read_budget_is_read_without_new_events)
{
    const size_t burst = 8 * ND_BUF_CHUNK;
    unsigned turns;

    rig_open_hwm(burst, 64 * 1024 * 1024);
    peer_send(burst);
    cr_assert_eq(rig.sent, burst, "the peer's socket took only %zu bytes", rig.sent);
    for (turns = 0; rig.svc->stats->bytes_in < burst && turns < 20; turns++)
        turn();
    cr_assert_eq(rig.svc->stats->bytes_in, burst, "%d bytes left unread",
                 unread_by_daemon());
    cr_assert_eq(unread_by_daemon(), 0);
    pump(burst);
    done();
}

/* A module that answers in open() and hangs up, as daytime does: the
 * answer, larger than the socket buffers, arrives whole, then end-of-file. */
static unsigned char greeting[PAYLOAD / 32];

static int
greet_open(struct nd_conn *c)
{
    return nd_conn_write(c, greeting, sizeof(greeting)) < 0 ? ND_ABORT : ND_FINISH;
}

static int
greet_abort(struct nd_conn *c)
{
    nd_conn_write(c, greeting, sizeof(greeting));
    return ND_ABORT;
}

static int
greet_input(struct nd_conn *c, struct nd_buf *in)
{
    (void)c;
    nd_buf_consume(in, nd_buf_len(in));
    return ND_KEEP;
}

static const struct nd_module greeter = {
    .name = "greeter",
    .transports = ND_MOD_STREAM,
    .open = greet_open,
    .input = greet_input,
};

static const struct nd_module refuser = {
    .name = "refuser",
    .transports = ND_MOD_STREAM,
    .open = greet_abort,
    .input = greet_input,
};

Test(conn, open_may_answer_and_finish)
{
    size_t i;

    for (i = 0; i < sizeof(greeting); i++)
        greeting[i] = (unsigned char)(i * 7 + i / 251);
    rig_module = &greeter;
    rig_open(sizeof(greeting));
    memcpy(rig.out, greeting, sizeof(greeting));
    rig.sent = sizeof(greeting);    /* what the peer expects back */
    pump_to_eof();
    cr_assert_eq(rig.got, sizeof(greeting), "end-of-file after %zu of %zu bytes",
                 rig.got, sizeof(greeting));
    cr_assert_eq(rig.svc->stats->bytes_out, sizeof(greeting));
    done();
}

Test(conn, open_may_abort)
{
    unsigned char b;
    int sv[2];

    rig_open(1);
    rig.svc->module = &refuser;
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    cr_assert_eq(nd_conn_open(&rig.loop, &rig.conns, rig.svc, sv[0]), -1);
    rig.svc->module = nd_module_find("echo");
    /* Gone at once, its output dropped: the rig's echo connection is left. */
    cr_assert_eq(rig.conns.n, 1);
    cr_assert_eq(recv(sv[1], &b, 1, 0), 0, "bytes, or no end-of-file");
    close(sv[1]);
    done();
}

/* ---- connections from a deferred listener (nd_conn_open_ready) ---- */

/* A second connection beside the rig's, its peer end in *peer, opened with
 * nd_conn_open_ready after the peer sent `pre` (and its FIN, if fin). */
static int
open_ready(const char *pre, int fin, int *peer)
{
    int sv[2];

    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    if (pre[0] != '\0')
        cr_assert_eq(send(sv[1], pre, strlen(pre), 0), (ssize_t)strlen(pre));
    if (fin)
        cr_assert_eq(shutdown(sv[1], SHUT_WR), 0);
    *peer = sv[1];
    return nd_conn_open_ready(&rig.loop, &rig.conns, rig.svc, sv[0]);
}

/* Turns the loop until the peer has n bytes, which must be want. */
static void
ready_expect(int peer, const char *want)
{
    char b[64];
    size_t n = strlen(want), got = 0;
    unsigned turns = 0;

    while (got < n) {
        ssize_t k = recv(peer, b + got, n - got, 0);

        if (k > 0)
            got += (size_t)k;
        else
            cr_assert(k < 0 && errno == EAGAIN, "recv: %zd (%s)", k, strerror(errno));
        if (got < n) {
            turn();
            cr_assert_lt(++turns, MAX_STALLS, "only %zu of %zu bytes", got, n);
        }
    }
    cr_assert_eq(memcmp(b, want, n), 0);
}

Test(conn, ready_answers_in_the_first_pass_then_is_watched)
{
    char b[8];
    int peer;

    rig_open(1);
    cr_assert_eq(open_ready("ping", 0, &peer), 0);
    cr_assert_eq(rig.conns.n, 2);
    /* Answered before the loop turned once. */
    cr_assert_eq(recv(peer, b, sizeof(b), 0), 4);
    cr_assert_eq(memcmp(b, "ping", 4), 0);
    /* Then watched like any other: the next bytes are served by the loop. */
    cr_assert_eq(send(peer, "more", 4, 0), 4);
    ready_expect(peer, "more");
    close(peer);
    while (rig.conns.n != 1)
        turn();
    done();
}

Test(conn, ready_finding_nothing_is_watched)
{
    int peer;

    rig_open(1);
    /* The deferral ran out and the client has not spoken: EAGAIN, and the
     * connection waits in the loop for its first bytes. */
    cr_assert_eq(open_ready("", 0, &peer), 0);
    cr_assert_eq(rig.conns.n, 2);
    turn();
    cr_assert_eq(send(peer, "late", 4, 0), 4);
    ready_expect(peer, "late");
    /* Partial input, then more: as today. */
    cr_assert_eq(send(peer, "pa", 2, 0), 2);
    ready_expect(peer, "pa");
    cr_assert_eq(send(peer, "rt", 2, 0), 2);
    ready_expect(peer, "rt");
    close(peer);
    while (rig.conns.n != 1)
        turn();
    done();
}

Test(conn, ready_request_and_fin)
{
    char b[8];
    unsigned turns = 0;
    int peer;

    rig_open(1);
    /* The short read that took the bytes cannot tell that a FIN is behind
     * them (no event said so): answered now, and the FIN is read once the
     * loop reports it, as for any connection. */
    cr_assert_eq(open_ready("bye", 1, &peer), 0);
    cr_assert_eq(recv(peer, b, sizeof(b), 0), 3);
    cr_assert_eq(memcmp(b, "bye", 3), 0);
    while (rig.conns.n != 1) {
        turn();
        cr_assert_lt(++turns, MAX_STALLS, "still open after its FIN");
    }
    cr_assert_eq(rig.svc->stats->conns_cur, 1);
    cr_assert_eq(recv(peer, b, sizeof(b), 0), 0, "no end-of-file");
    close(peer);
    done();
}

Test(conn, ready_reset_peer_is_closed)
{
    struct linger lg = { 1, 0 };
    int lfd, cfd, afd;
    struct sockaddr_in sin = { .sin_family = AF_INET };
    socklen_t len = sizeof(sin);

    /* A reset waiting on a fresh TCP socket: the first read says so, and
     * the connection is closed without ever being watched. */
    rig_open(1);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(lfd, 0);
    cr_assert_eq(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    cr_assert_eq(listen(lfd, 1), 0);
    cr_assert_eq(getsockname(lfd, (struct sockaddr *)&sin, &len), 0);
    cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_eq(connect(cfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    afd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    cr_assert_geq(afd, 0);
    cr_assert_eq(setsockopt(cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
    close(cfd);     /* RST */
    cr_assert_eq(nd_conn_open_ready(&rig.loop, &rig.conns, rig.svc, afd), -1);
    cr_assert_eq(rig.conns.n, 1);
    close(lfd);
    done();
}

/* ---- outbound connections (nd_conn_connect) ---- */

static struct {
    int opened, closed, err, eof;
    char got[64];
    size_t ngot;
} out_seen;

static enum nd_verdict
out_open(struct nd_conn *c)
{
    (void)c;
    out_seen.opened++;
    return ND_KEEP;
}

static enum nd_verdict
out_input(struct nd_conn *c, struct nd_buf *in)
{
    size_t n = nd_buf_len(in);

    (void)c;
    if (n > sizeof(out_seen.got) - out_seen.ngot)
        n = sizeof(out_seen.got) - out_seen.ngot;
    memcpy(out_seen.got + out_seen.ngot, nd_buf_head(in), n);
    out_seen.ngot += n;
    nd_buf_consume(in, nd_buf_len(in));
    return ND_KEEP;
}

static enum nd_verdict
out_eof(struct nd_conn *c)
{
    (void)c;
    out_seen.eof++;
    return ND_ABORT;
}

static void
out_close(struct nd_conn *c)
{
    out_seen.closed++;
    out_seen.err = nd_conn_error(c);
}

static const struct nd_module outbound_ops = {
    .name = "outbound",
    .transports = ND_MOD_STREAM,
    .open = out_open,
    .input = out_input,
    .eof = out_eof,
    .close = out_close,
};

static int
loopback_listener(struct nd_addr *a)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(listen(fd, 8), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    cr_assert_eq(nd_addr_from_sockaddr(a, ND_TCP, (struct sockaddr *)&sa, len), 0);
    return fd;
}

/* Bytes written before the connect completes wait for it; open() runs from
 * the loop, not inside nd_conn_connect; the peer's answer comes to input()
 * and its close to eof(); the connection is not counted as the service's. */
Test(conn, connect_writes_after_open_and_reads)
{
    struct nd_addr a;
    struct nd_conn *c;
    int lfd, pfd;
    char b[16];

    memset(&out_seen, 0, sizeof(out_seen));
    rig_open(1);
    lfd = loopback_listener(&a);
    c = nd_conn_connect(rig.svc, &a, &outbound_ops, &out_seen);
    cr_assert_not_null(c, "%s", strerror(errno));
    cr_assert_eq(out_seen.opened, 0, "open() ran inside nd_conn_connect");
    cr_assert_eq(nd_conn_data(c), &out_seen);
    cr_assert_geq(nd_conn_write(c, "hello", 5), 0);
    while (out_seen.opened == 0)
        cr_assert_geq(nd_loop_once(&rig.loop, -1), 0);
    cr_assert_eq(rig.svc->stats->conns_cur, 1, "the outbound connection was counted as the service's");
    pfd = accept(lfd, NULL, NULL);
    cr_assert_geq(pfd, 0);
    cr_assert_eq(recv(pfd, b, 5, MSG_WAITALL), 5);
    cr_assert_eq(memcmp(b, "hello", 5), 0);
    cr_assert_eq(send(pfd, "world", 5, 0), 5);
    close(pfd);
    while (out_seen.closed == 0)
        cr_assert_geq(nd_loop_once(&rig.loop, -1), 0);
    cr_assert_eq(out_seen.ngot, 5);
    cr_assert_eq(memcmp(out_seen.got, "world", 5), 0);
    cr_assert_eq(out_seen.eof, 1);
    cr_assert_eq(out_seen.err, 0);
    close(lfd);
    done();
}

/* A refused connect: close() without open(), nd_conn_error() says why; a
 * unix path nobody listens on fails at once; udp:// is not a stream. */
Test(conn, connect_refused)
{
    struct nd_addr a;
    char err[128];
    int lfd;

    memset(&out_seen, 0, sizeof(out_seen));
    rig_open(1);
    lfd = loopback_listener(&a);
    close(lfd);                 /* the port is free now: nobody listens */
    cr_assert_not_null(nd_conn_connect(rig.svc, &a, &outbound_ops, NULL));
    while (out_seen.closed == 0)
        cr_assert_geq(nd_loop_once(&rig.loop, -1), 0);
    cr_assert_eq(out_seen.opened, 0);
    cr_assert_eq(out_seen.err, ECONNREFUSED, "%s", strerror(out_seen.err));
    cr_assert_eq(nd_addr_parse(&a, "unix:/nonexistent/nd-test.sock", err, sizeof(err)), 0);
    cr_assert_null(nd_conn_connect(rig.svc, &a, &outbound_ops, NULL));
    cr_assert_eq(errno, ENOENT);
    cr_assert_eq(nd_addr_parse(&a, "udp://127.0.0.1:9", err, sizeof(err)), 0);
    cr_assert_null(nd_conn_connect(rig.svc, &a, &outbound_ops, NULL));
    cr_assert_eq(errno, EINVAL);
    done();
}
