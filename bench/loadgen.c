/* loadgen.c: the benchmark's load generator for stream echo servers on
 * 127.0.0.1. Level-triggered epoll, non-blocking sockets, and every phase
 * bounded in time; one thread, but for pingpong -j.
 *   pingpong  N connections, one 64-byte message outstanding on each, over
 *             -j threads; with -q, N more to a second server, the two
 *             driven in turns by one thread
 *   bulk      one connection streaming both ways, every byte verified
 *   idle      N connections held open until stdin closes or SIGTERM; with
 *             -u, after one HTTP request or WebSocket upgrade each
 * Results are one line of key=value pairs on stdout. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hist.h"

#define MAX_EVENTS 256
#define CONNECT_WINDOW 256      /* connects in progress at once */

static int port;
static int port2;               /* pingpong -q: a second server, in turns */
static double turn_s = 0.25;    /* pingpong -T: the length of a turn */
static int nconns = 1;
static double seconds = 2.0;
static double warmup = 0.25;
static double hold_limit = 600.0;
static double connect_limit = 60.0;
static int msg_size = 64;
static volatile sig_atomic_t stop;

static void
die(const char *what)
{
    perror(what);
    exit(1);
}

static void
usage(void)
{
    fprintf(stderr,
            "usage: loadgen pingpong -p PORT [-q PORT2 [-T TURN] | -j THREADS] [-c CONNS]\n"
            "                        [-d SECONDS] [-s BYTES] [-w WARMUP]\n"
            "       loadgen bulk     -p PORT [-d SECONDS]\n"
            "       loadgen idle     -p PORT [-c CONNS] [-t MAX_HOLD_SECONDS] [-u PATH [-m MOD]]\n"
            "  traffic goes to 127.0.0.1:PORT only\n");
    exit(64);
}

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static int
open_socket(int to)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)to),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

/* Opens n connections, at most CONNECT_WINDOW in progress at once, within
 * connect_limit seconds. A failed attempt is retried, n failures in all at
 * most. Returns how many were established (fds[0..ret)). */
static int
establish(int n, int *fds, int to)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int done = 0, pending = 0, started = 0, failures = 0, last_err = 0;
    double deadline = now_s() + connect_limit;
    struct epoll_event evs[MAX_EVENTS];

    if (ep < 0)
        die("epoll_create1");
    while (done < n && now_s() < deadline && failures <= n && !stop) {
        while (pending < CONNECT_WINDOW && done + pending < n && failures <= n) {
            int fd = open_socket(to);
            if (fd < 0) {
                failures++;
                last_err = -fd;
                if (-fd == EMFILE || -fd == ENFILE) {
                    fprintf(stderr, "loadgen: %s after %d connections\n", strerror(-fd), done);
                    failures = n + 1;
                }
                break;
            }
            struct epoll_event ev = { .events = EPOLLOUT, .data.fd = fd };
            if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
                die("epoll_ctl");
            pending++;
            started++;
        }
        int k = epoll_wait(ep, evs, MAX_EVENTS, 100);
        for (int i = 0; i < k; i++) {
            int fd = evs[i].data.fd, err = 0;
            socklen_t len = sizeof(err);
            epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
            pending--;
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err == 0) {
                fds[done++] = fd;
            } else {
                close(fd);
                failures++;
                last_err = err;
            }
        }
    }
    close(ep);  /* connects still pending are abandoned */
    if (done < n)
        fprintf(stderr, "loadgen: %d of %d connections established (%d attempts, %d failed%s%s)\n",
                done, n, started, failures, last_err ? ": " : "",
                last_err ? strerror(last_err) : "");
    return done;
}

static void
raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* ---- latency histograms (hist.h), one per server: each worker thread
 * keeps its own; they are added up at the end. */

/* ---- pingpong. With a second server (-q), its connections and the
 * first's take turns of turn_s: a turn ends by sending no new message and
 * waiting for the last replies, then the other side sends on all of its
 * connections. Both see the same moments of a noisy machine, so their ratio
 * is steadier than that of two runs, even adjacent ones. Each side's rate
 * is its replies over the time of its turns (their draining tails
 * included, alike for both).
 * Without -q, -j THREADS splits the connections over that many threads,
 * each with its own epoll; one thread per CPU the generator may use is the
 * point (on one CPU, more threads only take turns). */

struct pp {
    int fd;
    uint8_t dead, side, busy;   /* busy: a message is out */
    uint32_t got, sent;
    uint64_t seq, t0;
    unsigned char msg[256];
    unsigned char in[256];
};

static struct pp *pp_all;       /* every connection; its index seeds its bytes */
static int nthreads = 1;

static void
pp_fill(struct pp *c)
{
    int idx = (int)(c - pp_all);

    for (int i = 0; i < msg_size; i++)
        c->msg[i] = (unsigned char)('a' + (i + idx + (int)c->seq) % 26);
    memcpy(c->msg, &c->seq, sizeof(c->seq));
}

/* Sends what is left of the current message; 0 done, 1 blocked, -1 error. */
static int
pp_send(struct pp *c, int ep)
{
    while (c->sent < (uint32_t)msg_size) {
        ssize_t w = write(c->fd, c->msg + c->sent, (size_t)msg_size - c->sent);
        if (w < 0) {
            if (errno != EAGAIN && errno != EINTR)
                return -1;
            struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };
            epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
            return 1;
        }
        c->sent += (uint32_t)w;
    }
    return 0;
}

struct side {
    uint64_t msgs, errors, inflight, busy_ns;
    uint64_t all_msgs;          /* every reply, warm-up and tails included */
};

/* One thread's share: connections [first, first + count) of pp_all, split
 * into sides of `per_side` (two sides only with -q, in one worker). */
struct worker {
    pthread_t tid;
    int ep, first, count, per_side, sides, alive;
    uint64_t t_measure, t_end;
    struct side sd[2];
    uint64_t hist[2][HIST_SIZE];
};

/* Time of [from, to) inside the measured window [lo, hi). */
static uint64_t
overlap(uint64_t from, uint64_t to, uint64_t lo, uint64_t hi)
{
    from = from > lo ? from : lo;
    to = to < hi ? to : hi;
    return to > from ? to - from : 0;
}

/* Sends the next message on c; -1 when its connection broke. */
static int
pp_next(struct pp *c, struct worker *w, uint64_t now)
{
    pp_fill(c);
    c->t0 = now;
    c->busy = 1;
    w->sd[c->side].inflight++;
    return pp_send(c, w->ep) < 0 ? -1 : 0;
}

static void
pp_break(struct pp *c, struct worker *w)
{
    w->sd[c->side].errors++;
    if (c->busy)
        w->sd[c->side].inflight--;
    c->dead = 1;
    c->busy = 0;
    w->alive--;
    close(c->fd);
    c->fd = -1;
}

/* Starts every connection of the side `side` of w. */
static void
pp_start_side(struct worker *w, int side, uint64_t now)
{
    struct pp *base = pp_all + w->first + side * w->per_side;

    for (int i = 0; i < w->per_side; i++)
        if (!base[i].dead && pp_next(&base[i], w, now) < 0)
            pp_break(&base[i], w);
}

static void *
pp_loop(void *arg)
{
    struct worker *w = arg;
    struct epoll_event evs[MAX_EVENTS];
    int active = 0, draining = 0;
    uint64_t t_now, turn = (uint64_t)(turn_s * 1e9), turn_start, turn_end;

    turn_start = now_ns();
    turn_end = w->sides == 2 ? turn_start + turn : UINT64_MAX;
    pp_start_side(w, 0, turn_start);

    while (w->alive > 0 && !stop && (t_now = now_ns()) < w->t_end) {
        uint64_t until = turn_end < w->t_end ? turn_end : w->t_end;
        int k = epoll_wait(w->ep, evs, MAX_EVENTS,
                           draining ? 100 : (int)((until > t_now ? until - t_now : 0) / 1000000 + 1));
        for (int i = 0; i < k; i++) {
            struct pp *c = evs[i].data.ptr;
            if (c->dead)
                continue;
            if (c->sent < (uint32_t)msg_size) {
                int rc = pp_send(c, w->ep);
                if (rc < 0)
                    goto broken;
                if (rc == 0) {
                    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
                    epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev);
                }
            }
            if (!(evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
                continue;
            ssize_t r = read(c->fd, c->in + c->got, sizeof(c->in) - c->got);
            if (r < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (r <= 0)
                goto broken;
            c->got += (uint32_t)r;
            if (c->got < (uint32_t)msg_size)
                continue;
            if (c->got > (uint32_t)msg_size || c->sent < (uint32_t)msg_size ||
                memcmp(c->in, c->msg, (size_t)msg_size) != 0)
                goto broken;    /* more than was sent, or other bytes */
            t_now = now_ns();
            w->sd[c->side].all_msgs++;
            if (c->t0 >= w->t_measure && t_now <= w->t_end) {
                w->sd[c->side].msgs++;
                hist_add(w->hist[c->side], (t_now - c->t0) / 1000);
            }
            c->got = c->sent = 0;
            c->busy = 0;
            w->sd[c->side].inflight--;
            c->seq++;
            if (c->side != active || draining)
                continue;       /* its turn is over: wait for the next */
            if (pp_next(c, w, t_now) < 0)
                goto broken;
            continue;
broken:
            pp_break(c, w);
        }
        if (w->sides < 2)
            continue;
        t_now = now_ns();
        if (!draining && t_now >= turn_end)
            draining = 1;
        if (draining && w->sd[active].inflight == 0) {
            w->sd[active].busy_ns += overlap(turn_start, t_now, w->t_measure, w->t_end);
            active ^= 1;
            draining = 0;
            turn_start = t_now;
            turn_end = t_now + turn;
            pp_start_side(w, active, t_now);
        }
    }
    t_now = now_ns();
    if (w->sides == 2)
        w->sd[active].busy_ns += overlap(turn_start, t_now, w->t_measure, w->t_end);
    else
        w->sd[0].busy_ns = overlap(w->t_measure, t_now, w->t_measure, w->t_end);
    return NULL;
}

static void
pp_print(const char *prefix, int n, const struct side *sd, const uint64_t *h, uint64_t span)
{
    double secs = (double)span / 1e9;

    if (secs <= 0)
        secs = 1e-9;
    printf("%sconns=%d %ssecs=%.3f %smsgs=%llu %smsg_per_s=%.0f %sp50_us=%.0f %sp99_us=%.0f "
           "%serrors=%llu %sall_msgs=%llu", prefix, n, prefix, secs, prefix,
           (unsigned long long)sd->msgs, prefix, (double)sd->msgs / secs,
           prefix, hist_pct(h, sd->msgs, 0.50), prefix, hist_pct(h, sd->msgs, 0.99),
           prefix, (unsigned long long)sd->errors, prefix, (unsigned long long)sd->all_msgs);
}

static double
cpu_seconds(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);        /* every thread of the process */
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int
run_pingpong(void)
{
    int sides = port2 ? 2 : 1, total = nconns * sides, n, nw = sides == 2 ? 1 : nthreads;
    int *fdv = calloc((size_t)total, sizeof(int));
    struct worker *ws = calloc((size_t)nw, sizeof(struct worker));
    struct side sum[2] = { { 0 }, { 0 } };
    static uint64_t hsum[2][HIST_SIZE];
    uint64_t t_start, t_measure, t_end, t_done;
    double cpu0, cpu1;
    int one = 1, ret = 0;

    pp_all = calloc((size_t)total, sizeof(struct pp));
    if (fdv == NULL || pp_all == NULL || ws == NULL)
        die("setup");
    n = establish(nconns, fdv, port);
    if (port2 && n == nconns)
        n += establish(nconns, fdv + nconns, port2);
    if (n < total) {
        printf("pingpong conns=%d established=%d error=connect\n", total, n);
        for (int i = 0; i < n; i++)
            close(fdv[i]);
        free(pp_all);
        free(fdv);
        free(ws);
        return 1;
    }
    t_start = now_ns();
    t_measure = t_start + (uint64_t)(warmup * 1e9);
    t_end = t_measure + (uint64_t)(seconds * 1e9);
    for (int t = 0; t < nw; t++) {
        struct worker *w = &ws[t];
        w->first = sides == 2 ? 0 : (int)((long)nconns * t / nw);
        w->count = sides == 2 ? total : (int)((long)nconns * (t + 1) / nw) - w->first;
        w->per_side = sides == 2 ? nconns : w->count;
        w->sides = sides;
        w->alive = w->count;
        w->t_measure = t_measure;
        w->t_end = t_end;
        if ((w->ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
            die("epoll_create1");
        for (int i = w->first; i < w->first + w->count; i++) {
            struct pp *c = &pp_all[i];
            struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
            c->fd = fdv[i];
            c->side = (uint8_t)(i / nconns);
            setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            if (epoll_ctl(w->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
                die("epoll_ctl");
        }
    }
    cpu0 = cpu_seconds();
    if (nw == 1) {
        pp_loop(&ws[0]);
    } else {
        for (int t = 0; t < nw; t++)
            if (pthread_create(&ws[t].tid, NULL, pp_loop, &ws[t]) != 0)
                die("pthread_create");
        for (int t = 0; t < nw; t++)
            pthread_join(ws[t].tid, NULL);
    }
    cpu1 = cpu_seconds();
    t_done = now_ns();
    for (int t = 0; t < nw; t++) {
        for (int s = 0; s < 2; s++) {
            sum[s].msgs += ws[t].sd[s].msgs;
            sum[s].errors += ws[t].sd[s].errors;
            sum[s].all_msgs += ws[t].sd[s].all_msgs;
            /* threads run side by side: the span is the longest one's */
            if (ws[t].sd[s].busy_ns > sum[s].busy_ns)
                sum[s].busy_ns = ws[t].sd[s].busy_ns;
            for (size_t i = 0; i < HIST_SIZE; i++)
                hsum[s][i] += ws[t].hist[s][i];
        }
        close(ws[t].ep);
    }
    printf("pingpong size=%d threads=%d ", msg_size, nw);
    pp_print("", nconns, &sum[0], hsum[0], sum[0].busy_ns);
    if (sides == 2) {
        printf(" ");
        pp_print("b_", nconns, &sum[1], hsum[1], sum[1].busy_ns);
    }
    /* the generator's own CPU over the whole exchange (warm-up included),
     * and the share of the wall clock it used: near 1.0 per thread's CPU
     * means it, not the server, set the pace */
    printf(" lg_cpu_s=%.3f lg_busy=%.3f\n", cpu1 - cpu0,
           (cpu1 - cpu0) / ((double)(t_done - t_start) / 1e9));
    for (int i = 0; i < n; i++)
        if (!pp_all[i].dead)
            close(pp_all[i].fd);
    ret = sum[0].errors || sum[1].errors ? 2 : 0;
    free(pp_all);
    free(fdv);
    free(ws);
    return ret;
}

/* ---- bulk: the byte at stream offset i is pattern[i % PERIOD]; PERIOD is
 * prime so that chunk boundaries wander over the pattern. */

#define CHUNK (128 * 1024)
#define PERIOD 131071

static unsigned char pattern[PERIOD + CHUNK];

static int
run_bulk(void)
{
    int fd, ep = epoll_create1(EPOLL_CLOEXEC), wr_open = 1, bad = 0, eof = 0;
    static unsigned char in[CHUNK];
    uint64_t tx = 0, rx = 0, rx_at_end = 0;
    double t0, t_end, t_stop = 0, drain_deadline = 0;
    struct epoll_event evs[4];

    for (size_t i = 0; i < sizeof(pattern); i++) {
        size_t j = i % PERIOD;
        pattern[i] = (unsigned char)(j * 131 + (j >> 9) + 7);
    }
    if (ep < 0)
        die("epoll_create1");
    if (establish(1, &fd, port) < 1) {
        printf("bulk error=connect\n");
        return 1;
    }
    struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.fd = fd };
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
        die("epoll_ctl");

    t0 = now_s();
    t_end = t0 + seconds;
    /* bounded: the stream phase ends at t_end, the drain phase 5 s later */
    while (!stop && !bad && !eof) {
        double t = now_s();
        if (wr_open && t >= t_end) {
            rx_at_end = rx;
            t_stop = t;
            wr_open = 0;
            shutdown(fd, SHUT_WR);
            drain_deadline = t + 5.0;
            ev.events = EPOLLIN;
            epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
        }
        if (!wr_open && (rx >= tx || t >= drain_deadline))
            break;
        int k = epoll_wait(ep, evs, 4, 50);
        for (int i = 0; i < k && !bad; i++) {
            uint32_t e = evs[i].events;
            if (e & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                for (int reads = 0; reads < 16; reads++) {
                    ssize_t r = read(fd, in, sizeof(in));
                    if (r < 0 && (errno == EAGAIN || errno == EINTR))
                        break;
                    if (r <= 0) {
                        eof = 1;
                        break;
                    }
                    if ((uint64_t)r > tx - rx ||
                        memcmp(in, pattern + rx % PERIOD, (size_t)r) != 0) {
                        bad = 1;
                        break;
                    }
                    rx += (uint64_t)r;
                }
            }
            if (wr_open && (e & EPOLLOUT)) {
                for (int writes = 0; writes < 16; writes++) {
                    ssize_t w = write(fd, pattern + tx % PERIOD, CHUNK);
                    if (w < 0) {
                        if (errno != EAGAIN && errno != EINTR)
                            bad = 1;
                        break;
                    }
                    tx += (uint64_t)w;
                }
            }
        }
    }
    if (t_stop == 0) {
        t_stop = now_s();
        rx_at_end = rx;
    }
    close(fd);
    close(ep);
    int ok = !bad && rx == tx;
    double span = t_stop - t0;
    printf("bulk secs=%.3f bytes=%llu gbps=%.3f sent=%llu echoed=%llu verified=%s\n",
           span, (unsigned long long)rx_at_end, (double)rx_at_end / span / 1e9,
           (unsigned long long)tx, (unsigned long long)rx,
           ok ? "yes" : bad ? "MISMATCH" : "SHORT");
    return ok ? 0 : 2;
}

/* ---- idle. With -u PATH each connection first sends one request for PATH
 * (keep-alive HTTP, or a WebSocket upgrade when PATH starts with /ws/) and
 * everything the server sends is read and dropped while the connections
 * are held; "{}" in PATH becomes the connection's number modulo -m, so
 * chat members can be spread over rooms. */

static const char *idle_path;
static int idle_mod = 1000;

static int
idle_request(int fd, int idx)
{
    char path[512], req[1024];
    const char *brace = strstr(idle_path, "{}");
    int len;

    if (brace)
        snprintf(path, sizeof(path), "%.*s%d%s", (int)(brace - idle_path), idle_path,
                 idx % idle_mod, brace + 2);
    else
        snprintf(path, sizeof(path), "%s", idle_path);
    if (strncmp(path, "/ws/", 4) == 0)
        len = snprintf(req, sizeof(req),
                       "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                       "Sec-WebSocket-Version: 13\r\n\r\n", path);
    else
        len = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);
    /* a fresh socket's send buffer takes a few hundred bytes at once */
    return write(fd, req, (size_t)len) == len ? 0 : -1;
}

/* Reads and drops what is waiting on fd; 1 if anything came, -1 at EOF. */
static int
idle_drain(int fd)
{
    char b[16384];
    int got = 0;

    for (;;) {
        ssize_t r = read(fd, b, sizeof(b));
        if (r > 0) {
            got = 1;
            continue;
        }
        if (r == 0)
            return -1;
        return got;
    }
}

static int
run_idle(void)
{
    int *fdv = calloc((size_t)nconns, sizeof(int));
    uint8_t *answered = calloc((size_t)nconns, 1);
    int n, closed = 0, nans = 0, ep = -1;
    double deadline;
    struct linger lg = { .l_onoff = 1, .l_linger = 0 };
    struct epoll_event evs[MAX_EVENTS];

    if (fdv == NULL || answered == NULL)
        die("calloc");
    n = establish(nconns, fdv, port);
    if (idle_path) {
        if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
            die("epoll_create1");
        for (int i = 0; i < n; i++) {
            struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
            if (idle_request(fdv[i], i) < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fdv[i], &ev) < 0)
                die("idle request");
        }
        /* every connection answered, within connect_limit */
        deadline = now_s() + connect_limit;
        while (nans < n && !stop && now_s() < deadline) {
            int k = epoll_wait(ep, evs, MAX_EVENTS, 100);
            for (int i = 0; i < k; i++) {
                uint32_t j = evs[i].data.u32;
                if (idle_drain(fdv[j]) != 0 && !answered[j]) {
                    answered[j] = 1;
                    nans++;
                }
            }
        }
        printf("established=%d wanted=%d answered=%d\n", n, nconns, nans);
    } else {
        printf("established=%d wanted=%d\n", n, nconns);
    }
    fflush(stdout);
    deadline = now_s() + hold_limit;
    while (!stop && now_s() < deadline) {
        struct pollfd p[2] = { { .fd = 0, .events = POLLIN }, { .fd = ep, .events = POLLIN } };
        int k = poll(p, ep >= 0 ? 2 : 1, 200);
        if (k > 0 && p[0].revents) {
            char b[256];
            ssize_t r = read(0, b, sizeof(b));
            if (r <= 0)
                break;
        }
        if (k > 0 && ep >= 0 && p[1].revents) {
            /* chat notices for members that joined later; EOF stays
             * readable and is counted at the end */
            k = epoll_wait(ep, evs, MAX_EVENTS, 0);
            for (int i = 0; i < k; i++)
                if (idle_drain(fdv[evs[i].data.u32]) < 0)
                    epoll_ctl(ep, EPOLL_CTL_DEL, fdv[evs[i].data.u32], NULL);
        }
    }
    for (int i = 0; i < n; i++) {
        char b;
        if (recv(fdv[i], &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0)
            closed++;
        /* reset rather than FIN: 10,000 TIME_WAITs would eat the port range */
        setsockopt(fdv[i], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        close(fdv[i]);
    }
    if (ep >= 0)
        close(ep);
    free(fdv);
    free(answered);
    printf("released=%d closed_by_server=%d\n", n, closed);
    return n == nconns && (!idle_path || nans == n) ? 0 : 1;
}

int
main(int argc, char **argv)
{
    const char *mode;
    struct sigaction sa = { .sa_handler = on_term };

    if (argc < 2)
        usage();
    mode = argv[1];
    for (int i = 2; i < argc; i++) {
        if (i + 1 >= argc || argv[i][0] != '-' || strlen(argv[i]) != 2)
            usage();
        const char *v = argv[++i];
        switch (argv[i - 1][1]) {
        case 'p': port = atoi(v); break;
        case 'q': port2 = atoi(v); break;
        case 'T': turn_s = atof(v); break;
        case 'c': nconns = atoi(v); break;
        case 'j': nthreads = atoi(v); break;
        case 'd': seconds = atof(v); break;
        case 's': msg_size = atoi(v); break;
        case 'w': warmup = atof(v); break;
        case 't': hold_limit = atof(v); break;
        case 'u': idle_path = v; break;
        case 'm': idle_mod = atoi(v); break;
        default: usage();
        }
    }
    if (port <= 0 || port > 65535 || port2 < 0 || port2 > 65535 || turn_s < 0.01 ||
        turn_s > 60 || nthreads < 1 || nthreads > 64 || nthreads > nconns ||
        (port2 && nthreads > 1) || nconns < 1 || nconns > 1000000 || seconds <= 0 ||
        seconds > 3600 || msg_size < 8 || msg_size > 256 || warmup < 0 || warmup > 60 ||
        hold_limit <= 0 || idle_mod < 1 || (idle_path && (idle_path[0] != '/' || strlen(idle_path) > 400)))
        usage();

    signal(SIGPIPE, SIG_IGN);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    raise_nofile();
    setvbuf(stdout, NULL, _IOLBF, 0);

    if (strcmp(mode, "pingpong") == 0)
        return run_pingpong();
    if (strcmp(mode, "bulk") == 0)
        return run_bulk();
    if (strcmp(mode, "idle") == 0)
        return run_idle();
    usage();
}
