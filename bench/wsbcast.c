/* wsbcast.c: the WebSocket broadcast load of `make bench`. One thread,
 * level-triggered epoll. Opens N member connections to one room, waits
 * until every one has joined, then member 0 publishes 100-byte text
 * messages with at most W in flight (a message leaves the window once every
 * member has it) for D seconds. Every member must get every message, in
 * order. Each message carries its send time (CLOCK_MONOTONIC ns); each
 * delivery of the measured phase adds now - sent to a histogram, whose
 * p50 and p99 are printed. Prints one line of key=value.
 *
 *   wsbcast -p PORT [-q PORT2] -u PATH [-c N] [-w W] [-d SECONDS] [-j] [-N]
 *           [-s SERVER_PID]... [-J K]
 *
 * -q: the members with odd numbers join on PORT2 (another instance sharing
 * the room), the even ones, member 0 the publisher among them, on PORT.
 * -J: joins under way at once (256); -J 1 joins one member at a time, each
 * after the previous one's 101, as people arrive in a room.
 * -j: the peer is netdemo's chat, whose events are JSON objects
 * ({"type":"message",...,"text":"..."}; presence events are skipped);
 * without it each frame's payload is the message itself. With -j, every
 * numbered event ({"seq":N,"epoch":"E",...}) a member gets must carry the
 * number after the previous one's, in the same epoch; events without a
 * number are skipped. -N: the join phase waits for no presence event
 * counting every member (a chat_backend other than local sends none); the
 * first message reaching every member ends it. -d 0 measures the joins
 * only. -s: the server's CPU time (from /proc) of each phase; given more
 * than once, the sum of those processes'. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hist.h"

#define MSG_LEN 100
#define RBUF (256 * 1024)
#define MAX_PIDS 8

struct member {
    int fd;
    int state;              /* 0 connecting, 1 handshake sent, 2 open */
    uint64_t next;          /* the next message number expected */
    int saw_all;            /* -j: an event said all members are here */
    uint64_t last_seq;      /* -j: the server's number of the last numbered event */
    char epoch[16];         /* -j: its epoch (last_seq 0: none yet) */
    size_t len;
    unsigned char *buf;
};

static struct member *mem;
static int nmem = 1000, window = 16, json, no_presence, connecting_max = 256;
static double seconds = 2;
static int port, port2, ep;
static const char *path = "/";
static long server_pids[MAX_PIDS];
static int npids;
static uint64_t *got;          /* got[k % window]: members that have message k */
static uint64_t sent, done;    /* messages sent; messages every member has */
static int nopen, nsaw;
static uint64_t sync_seq;      /* the message that ends the join phase */
static uint64_t measure_from = UINT64_MAX;  /* the first message whose latency counts */

/* Delivery latency (hist.h). */
static uint64_t hist[HIST_SIZE], nlat;

static uint64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
pid_cpu(long pid)
{
    char p[64], b[1024];
    FILE *f;
    size_t n;
    char *s;
    unsigned long ut, st;

    snprintf(p, sizeof(p), "/proc/%ld/stat", pid);
    if ((f = fopen(p, "r")) == NULL)
        return 0;
    n = fread(b, 1, sizeof(b) - 1, f);
    fclose(f);
    b[n] = 0;
    if ((s = strrchr(b, ')')) == NULL ||
        sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* The CPU time of every -s process, added up. */
static double
server_cpu(void)
{
    double sum = 0;

    for (int k = 0; k < npids; k++)
        sum += pid_cpu(server_pids[k]);
    return sum;
}

static double
own_cpu(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void
die(const char *what)
{
    fprintf(stderr, "wsbcast: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void
fail(const char *fmt, int i, uint64_t a, uint64_t b)
{
    fprintf(stderr, "wsbcast: member %d: ", i);
    fprintf(stderr, fmt, (unsigned long long)a, (unsigned long long)b);
    fprintf(stderr, "\n");
    printf("wsbcast verified=no\n");
    exit(1);
}

static void
write_all(int fd, const void *p, size_t n)
{
    const char *s = p;

    while (n > 0) {
        ssize_t k = write(fd, s, n);

        if (k < 0 && errno == EAGAIN) {
            struct pollfd pfd = { .fd = fd, .events = POLLOUT };

            poll(&pfd, 1, 1000);
            continue;
        }
        if (k < 0)
            die("write");
        s += k;
        n -= (size_t)k;
    }
}

/* The port member i joins on: with -q, odd members on the second. */
static int
member_port(int i)
{
    return port2 && (i & 1) ? port2 : port;
}

static void
start_connect(int i)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)member_port(i)) };
    struct epoll_event ev = { .events = EPOLLOUT, .data.u32 = (uint32_t)i };
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

    if (fd < 0)
        die("socket");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS)
        die("connect");
    mem[i].fd = fd;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
        die("epoll_ctl");
}

static void
send_handshake(int i)
{
    char req[512];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n", path, member_port(i));
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
    int err = 0;
    socklen_t el = sizeof(err);

    getsockopt(mem[i].fd, SOL_SOCKET, SO_ERROR, &err, &el);
    if (err) {
        errno = err;
        die("connect");
    }
    write_all(mem[i].fd, req, (size_t)n);
    mem[i].state = 1;
    epoll_ctl(ep, EPOLL_CTL_MOD, mem[i].fd, &ev);
}

/* Publishes what the window allows, in one write. */
static void
publish(int limit)
{
    static const unsigned char mask[4] = { 0x37, 0xfa, 0x21, 0x3d };
    unsigned char out[64 * (MSG_LEN + 8)];
    size_t n = 0;
    uint64_t t = now_ns();      /* the send time of this write's messages */

    while (sent - done < (uint64_t)limit && n + MSG_LEN + 8 <= sizeof(out)) {
        char msg[MSG_LEN + 1];
        int k;

        k = snprintf(msg, sizeof(msg), "%010llu %019llu ", (unsigned long long)sent,
                     (unsigned long long)t);
        memset(msg + k, 'x', (size_t)(MSG_LEN - k));
        out[n++] = 0x81;
        out[n++] = 0x80 | MSG_LEN;
        memcpy(out + n, mask, 4);
        n += 4;
        for (k = 0; k < MSG_LEN; k++)
            out[n++] = (unsigned char)(msg[k] ^ mask[k & 3]);
        got[sent % (uint64_t)window] = 0;
        sent++;
    }
    if (n)
        write_all(mem[0].fd, out, n);
}

/* -j: checks the server's number of an event ({"seq":N,"epoch":"E",...}):
 * the one after the member's last, in the same epoch. Events without a
 * number pass (0 for them, 1 for a numbered one). */
static int
check_numbered(int i, const unsigned char *p, size_t n)
{
    static const char a[] = "{\"seq\":", b[] = ",\"epoch\":\"";
    struct member *m = &mem[i];
    size_t k = sizeof(a) - 1;
    uint64_t s = 0;

    if (n < k || memcmp(p, a, k) != 0)
        return 0;
    while (k < n && p[k] >= '0' && p[k] <= '9')
        s = s * 10 + (uint64_t)(p[k++] - '0');
    if (n - k < sizeof(b) - 1 + 16 || memcmp(p + k, b, sizeof(b) - 1) != 0)
        fail("an event numbered %llu without its epoch (%llu)", i, s, 0);
    k += sizeof(b) - 1;
    if (m->last_seq != 0) {
        if (memcmp(m->epoch, p + k, 16) != 0)
            fail("event %llu in another epoch than event %llu", i, s, m->last_seq);
        if (s != m->last_seq + 1)
            fail("event numbered %llu after %llu", i, s, m->last_seq);
    }
    memcpy(m->epoch, p + k, 16);
    m->last_seq = s;
    return 1;
}

/* The message number in a text payload, or -1 for an event to skip; *sent
 * is its send time. */
static int64_t
payload_seq(int i, const unsigned char *p, size_t n, uint64_t *sent_ns)
{
    const unsigned char *t;
    char digits[20];
    int numbered = 0;

    if (!json) {
        if (n != MSG_LEN)
            fail("a %llu-byte message (%llu)", i, n, MSG_LEN);
        t = p;
    } else {
        static const char kind[] = "\"type\":\"message\"", text[] = "\"text\":\"";

        numbered = check_numbered(i, p, n);
        if (memmem(p, n, kind, sizeof(kind) - 1) == NULL) {
            char want[32];
            int wl = snprintf(want, sizeof(want), "\"members\":%d,", nmem);

            if (!mem[i].saw_all && memmem(p, n, want, (size_t)wl) != NULL) {
                mem[i].saw_all = 1;
                nsaw++;
            }
            return -1;
        }
        t = memmem(p, n, text, sizeof(text) - 1);
        if (t == NULL || (size_t)(p + n - t) < sizeof(text) - 1 + MSG_LEN)
            fail("a message without its text (%llu %llu)", i, n, 0);
        t += sizeof(text) - 1;
    }
    if (json && !numbered)
        fail("a message without a number (%llu %llu)", i, n, 0);
    memcpy(digits, t + 11, 19);
    digits[19] = 0;
    *sent_ns = strtoull(digits, NULL, 10);
    memcpy(digits, t, 10);
    digits[10] = 0;
    return strtoll(digits, NULL, 10);
}

static void
on_message(int i, const unsigned char *p, size_t n, uint64_t now)
{
    uint64_t t_sent = 0;
    int64_t s = payload_seq(i, p, n, &t_sent);

    if (s < 0)
        return;
    if ((uint64_t)s != mem[i].next)
        fail("got message %llu, expected %llu", i, (uint64_t)s, mem[i].next);
    mem[i].next++;
    if ((uint64_t)s >= measure_from) {
        hist_add(hist, now > t_sent ? (now - t_sent) / 1000 : 0);
        nlat++;
    }
    if (++got[(uint64_t)s % (uint64_t)window] == (uint64_t)nmem && (uint64_t)s == done) {
        /* messages complete in order, since every member receives in order */
        do
            done++;
        while (done < sent && got[done % (uint64_t)window] == (uint64_t)nmem);
    }
}

/* Frames from the member's buffer (server frames are not masked). */
static void
parse_frames(int i, uint64_t now)
{
    struct member *m = &mem[i];
    size_t off = 0;

    if (m->state == 1) {
        unsigned char *e = memmem(m->buf, m->len, "\r\n\r\n", 4);

        if (e == NULL)
            return;
        if (m->len < 12 || memcmp(m->buf + 9, "101", 3) != 0)
            fail("handshake refused (%llu %llu)", i, 0, 0);
        off = (size_t)(e + 4 - m->buf);
        m->state = 2;
        nopen++;
    }
    for (;;) {
        size_t avail = m->len - off, hl = 2;
        uint64_t pl;
        unsigned char *h = m->buf + off;

        if (avail < 2)
            break;
        pl = h[1] & 0x7f;
        if (pl == 126) {
            if (avail < 4)
                break;
            pl = (uint64_t)h[2] << 8 | h[3];
            hl = 4;
        } else if (pl == 127) {
            if (avail < 10)
                break;
            pl = 0;
            for (int k = 0; k < 8; k++)
                pl = pl << 8 | h[2 + k];
            hl = 10;
        }
        if (hl + pl > RBUF)
            fail("a %llu-byte frame (%llu)", i, pl, 0);
        if (avail < hl + pl)
            break;
        if ((h[0] & 0x0f) == 1)
            on_message(i, h + hl, (size_t)pl, now);
        else if ((h[0] & 0x0f) == 8)
            fail("closed by the server (%llu %llu)", i, 0, 0);
        off += hl + (size_t)pl;
    }
    memmove(m->buf, m->buf + off, m->len - off);
    m->len -= off;
}

static void
on_readable(int i)
{
    struct member *m = &mem[i];
    ssize_t k = read(m->fd, m->buf + m->len, RBUF - m->len);

    if (k < 0 && errno == EAGAIN)
        return;
    if (k <= 0)
        fail("connection lost (%llu %llu)", i, (uint64_t)k, 0);
    m->len += (size_t)k;
    parse_frames(i, now_ns());      /* one clock reading for what this read brought */
}

static int
pump(int timeout_ms)
{
    struct epoll_event evs[256];
    int n = epoll_wait(ep, evs, 256, timeout_ms);

    if (n < 0 && errno != EINTR)
        die("epoll_wait");
    for (int k = 0; k < n; k++) {
        int i = (int)evs[k].data.u32;

        if (mem[i].state == 0)
            send_handshake(i);
        else
            on_readable(i);
    }
    return n;
}

int
main(int argc, char **argv)
{
    int opt, joined = 0, started = 0;
    double t0, s0, join_s, join_cpu, t1, c1, s1;

    while ((opt = getopt(argc, argv, "p:q:u:c:w:d:jNs:J:")) != -1) {
        switch (opt) {
        case 'p': port = atoi(optarg); break;
        case 'q': port2 = atoi(optarg); break;
        case 'u': path = optarg; break;
        case 'c': nmem = atoi(optarg); break;
        case 'w': window = atoi(optarg); break;
        case 'd': seconds = atof(optarg); break;
        case 'j': json = 1; break;
        case 'N': no_presence = 1; break;
        case 's':
            if (npids == MAX_PIDS) {
                fprintf(stderr, "wsbcast: at most %d -s\n", MAX_PIDS);
                return 2;
            }
            server_pids[npids++] = atol(optarg);
            break;
        case 'J': connecting_max = atoi(optarg); break;
        default:
            fprintf(stderr, "usage: wsbcast -p PORT [-q PORT2] -u PATH [-c N] [-w W] [-d S] [-j] [-N] "
                    "[-s PID]... [-J K]\n");
            return 2;
        }
    }
    if (!port || nmem < 1 || window < 1 || window > 64 || connecting_max < 1) {
        fprintf(stderr, "wsbcast: -p needed; -c >= 1; -w 1 to 64; -J >= 1\n");
        return 2;
    }
    mem = calloc((size_t)nmem, sizeof(*mem));
    got = calloc((size_t)window, sizeof(*got));
    if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0 || !mem || !got)
        die("setup");
    for (int i = 0; i < nmem; i++)
        if ((mem[i].buf = malloc(RBUF)) == NULL)
            die("malloc");

    /* Joins: every member connected and answered 101; with -j, every
     * member has also seen an event counting all of them. Then one message
     * that all must get ends the phase: what the server owed for the joins
     * has been sent by then. */
    t0 = now_s();
    s0 = server_cpu();
    for (;;) {
        while (started < nmem && started - nopen < connecting_max)
            start_connect(started++);
        if (nopen == nmem && (!json || no_presence || nsaw == nmem)) {
            if (!joined) {
                joined = 1;
                sync_seq = sent;
                publish(1);
            }
            if (done > sync_seq)
                break;
        }
        if (pump(1000) == 0 && now_s() - t0 > 60) {
            fprintf(stderr, "wsbcast: joins not done in 60 s (%d open, %d saw all)\n", nopen, nsaw);
            return 1;
        }
    }
    join_s = now_s() - t0;
    join_cpu = server_cpu() - s0;

    if (seconds > 0) {
        uint64_t d0 = done;

        double pid0[MAX_PIDS];
        char by_pid[MAX_PIDS * 16] = "";
        size_t bl = 0;

        t1 = now_s();
        c1 = own_cpu();
        for (int k = 0; k < npids; k++)
            pid0[k] = pid_cpu(server_pids[k]);
        s1 = server_cpu();
        measure_from = sent;
        while (now_s() - t1 < seconds) {
            publish(window);
            pump(1000);
        }
        while (done < sent) {           /* the last ones, still checked */
            if (pump(5000) == 0) {
                fprintf(stderr, "wsbcast: messages lost (%llu sent, %llu complete)\n",
                        (unsigned long long)sent, (unsigned long long)done);
                printf("wsbcast verified=no\n");
                return 1;
            }
        }
        t1 = now_s() - t1;
        s1 = server_cpu() - s1;
        c1 = own_cpu() - c1;
        for (int k = 0; k < npids; k++)
            bl += (size_t)snprintf(by_pid + bl, sizeof(by_pid) - bl, "%s%.2f", k ? "," : "",
                                   pid_cpu(server_pids[k]) - pid0[k]);
        printf("wsbcast members=%d window=%d join_s=%.3f join_server_cpu_s=%.3f messages=%llu "
               "deliveries=%llu seconds=%.3f deliveries_per_s=%.0f server_cpu_s=%.3f "
               "client_cpu_s=%.3f server_cpu_s_each=%s lat_samples=%llu lat_p50_us=%.0f "
               "lat_p99_us=%.0f verified=yes\n", nmem, window, join_s, join_cpu,
               (unsigned long long)(done - d0), (unsigned long long)((done - d0) * (uint64_t)nmem),
               t1, (double)(done - d0) * nmem / t1, s1, c1, npids ? by_pid : "-",
               (unsigned long long)nlat, hist_pct(hist, nlat, 0.50), hist_pct(hist, nlat, 0.99));
    } else {
        printf("wsbcast members=%d join_s=%.3f join_server_cpu_s=%.3f verified=yes\n",
               nmem, join_s, join_cpu);
    }
    return 0;
}
