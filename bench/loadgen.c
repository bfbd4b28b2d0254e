/* loadgen.c: the benchmark's load generator for stream echo servers on
 * 127.0.0.1. One thread, level-triggered epoll, non-blocking sockets, and
 * every phase bounded in time.
 *   pingpong  N connections, one 64-byte message outstanding on each
 *   bulk      one connection streaming both ways, every byte verified
 *   idle      N connections held open until stdin closes or SIGTERM
 * Results are one line of key=value pairs on stdout. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 256
#define CONNECT_WINDOW 256      /* connects in progress at once */

static int port;
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
            "usage: loadgen pingpong -p PORT [-c CONNS] [-d SECONDS] [-s BYTES] [-w WARMUP]\n"
            "       loadgen bulk     -p PORT [-d SECONDS]\n"
            "       loadgen idle     -p PORT [-c CONNS] [-t MAX_HOLD_SECONDS]\n"
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
open_socket(void)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
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
establish(int n, int *fds)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int done = 0, pending = 0, started = 0, failures = 0, last_err = 0;
    double deadline = now_s() + connect_limit;
    struct epoll_event evs[MAX_EVENTS];

    if (ep < 0)
        die("epoll_create1");
    while (done < n && now_s() < deadline && failures <= n && !stop) {
        while (pending < CONNECT_WINDOW && done + pending < n && failures <= n) {
            int fd = open_socket();
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

/* ---- latency histogram: 1 µs steps below 1024 µs, then 512 steps per
 * power of two (0.2% precision) up to 2^31 µs. */
#define SUB 512
#define HIST_SIZE (1024 + 22 * SUB)

static uint64_t hist[HIST_SIZE];

static void
hist_add(uint64_t us)
{
    size_t idx;

    if (us < 1024) {
        idx = (size_t)us;
    } else {
        int e = 63 - __builtin_clzll(us);           /* 10.. */
        if (e > 31)
            e = 31, us = (1ull << 32) - 1;
        idx = 1024 + (size_t)(e - 10) * SUB + (size_t)((us >> (e - 9)) - SUB);
    }
    hist[idx]++;
}

static double
hist_value(size_t idx)
{
    if (idx < 1024)
        return (double)idx;
    size_t e = (idx - 1024) / SUB + 10, sub = (idx - 1024) % SUB + SUB;
    return (double)(sub << (e - 9));
}

static double
hist_pct(uint64_t total, double p)
{
    uint64_t want = (uint64_t)ceil((double)total * p), seen = 0;

    if (total == 0)
        return 0;
    for (size_t i = 0; i < HIST_SIZE; i++) {
        seen += hist[i];
        if (seen >= want)
            return hist_value(i);
    }
    return hist_value(HIST_SIZE - 1);
}

/* ---- pingpong */

struct pp {
    int fd;
    int dead;
    uint32_t got, sent;
    uint64_t seq, t0;
    unsigned char msg[256];
    unsigned char in[256];
};

static void
pp_fill(struct pp *c, int idx)
{
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

static int
run_pingpong(void)
{
    int *fdv = calloc((size_t)nconns, sizeof(int));
    struct pp *cs = calloc((size_t)nconns, sizeof(struct pp));
    struct epoll_event evs[MAX_EVENTS];
    int ep = epoll_create1(EPOLL_CLOEXEC), one = 1, n, alive;
    uint64_t msgs = 0, errors = 0, t_start, t_end, t_measure, t_now;

    if (fdv == NULL || cs == NULL || ep < 0)
        die("setup");
    n = establish(nconns, fdv);
    if (n < nconns) {
        printf("pingpong conns=%d established=%d error=connect\n", nconns, n);
        for (int i = 0; i < n; i++)
            close(fdv[i]);
        free(cs);
        free(fdv);
        close(ep);
        return 1;
    }
    alive = n;
    t_start = now_ns();
    t_measure = t_start + (uint64_t)(warmup * 1e9);
    t_end = t_measure + (uint64_t)(seconds * 1e9);
    for (int i = 0; i < n; i++) {
        struct pp *c = &cs[i];
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
        c->fd = fdv[i];
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
            die("epoll_ctl");
        pp_fill(c, i);
        c->t0 = now_ns();
        if (pp_send(c, ep) < 0) {
            c->dead = 1;
            alive--;
            errors++;
        }
    }

    while (alive > 0 && !stop && (t_now = now_ns()) < t_end) {
        int k = epoll_wait(ep, evs, MAX_EVENTS, (int)((t_end - t_now) / 1000000 + 1));
        for (int i = 0; i < k; i++) {
            struct pp *c = evs[i].data.ptr;
            int idx = (int)(c - cs);
            if (c->dead)
                continue;
            if (c->sent < (uint32_t)msg_size) {
                int rc = pp_send(c, ep);
                if (rc < 0)
                    goto broken;
                if (rc == 0) {
                    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
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
            if (c->t0 >= t_measure && t_now <= t_end) {
                msgs++;
                hist_add((t_now - c->t0) / 1000);
            }
            c->got = c->sent = 0;
            c->seq++;
            pp_fill(c, idx);
            c->t0 = t_now;
            if (pp_send(c, ep) < 0)
                goto broken;
            continue;
broken:
            errors++;
            c->dead = 1;
            alive--;
            close(c->fd);
            c->fd = -1;
        }
    }
    t_now = now_ns();
    double span = (double)((t_now < t_end ? t_now : t_end) - t_measure) / 1e9;
    if (span <= 0)
        span = 1e-9;
    printf("pingpong conns=%d size=%d secs=%.3f msgs=%llu msg_per_s=%.0f p50_us=%.0f "
           "p99_us=%.0f errors=%llu\n",
           n, msg_size, span, (unsigned long long)msgs, (double)msgs / span,
           hist_pct(msgs, 0.50), hist_pct(msgs, 0.99), (unsigned long long)errors);
    for (int i = 0; i < n; i++)
        if (!cs[i].dead)
            close(cs[i].fd);
    free(cs);
    free(fdv);
    close(ep);
    return errors ? 2 : 0;
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
    if (establish(1, &fd) < 1) {
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

/* ---- idle */

static int
run_idle(void)
{
    int *fdv = calloc((size_t)nconns, sizeof(int));
    int n, closed = 0;
    double deadline;
    struct linger lg = { .l_onoff = 1, .l_linger = 0 };

    if (fdv == NULL)
        die("calloc");
    n = establish(nconns, fdv);
    printf("established=%d wanted=%d\n", n, nconns);
    fflush(stdout);
    deadline = now_s() + hold_limit;
    while (!stop && now_s() < deadline) {
        struct pollfd p = { .fd = 0, .events = POLLIN };
        int k = poll(&p, 1, 200);
        if (k > 0) {
            char b[256];
            ssize_t r = read(0, b, sizeof(b));
            if (r <= 0)
                break;
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
    free(fdv);
    printf("released=%d closed_by_server=%d\n", n, closed);
    return n == nconns ? 0 : 1;
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
        case 'c': nconns = atoi(v); break;
        case 'd': seconds = atof(v); break;
        case 's': msg_size = atoi(v); break;
        case 'w': warmup = atof(v); break;
        case 't': hold_limit = atof(v); break;
        default: usage();
        }
    }
    if (port <= 0 || port > 65535 || nconns < 1 || nconns > 1000000 || seconds <= 0 ||
        seconds > 3600 || msg_size < 8 || msg_size > 256 || warmup < 0 || warmup > 60 ||
        hold_limit <= 0)
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
