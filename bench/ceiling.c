/* ceiling.c: the fastest echo and HTTP server the kernel allows, as the
 * benchmark's upper bound. One thread, level-triggered epoll, one read and one
 * write per message, no parsing beyond counting "\r\n\r\n", one canned HTTP
 * response, and no allocation in the hot path (an echo remainder the kernel
 * refused is copied to a per-fd buffer allocated once, the first time). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_SIZE (64 * 1024)
#define BACKLOG 4096
#define MAX_EVENTS 256
#define ACCEPT_BUDGET 256
#define RESP_COPIES 64          /* responses one write can carry */
#define MAX_BODY (1024 * 1024)

enum kind { K_NONE, K_LISTEN, K_ECHO, K_HTTP, K_HTTP_CLOSE };

struct fdstate {
    uint8_t kind;       /* enum kind */
    uint8_t lkind;      /* for a listener: the kind of its connections */
    uint8_t match;      /* bytes of "\r\n\r\n" matched so far */
    uint8_t out;        /* waiting for EPOLLOUT, not reading */
    uint8_t done;       /* http-close: answered, close once flushed */
    uint32_t qoff, qlen; /* echo: queued remainder in q */
    char *q;
    uint64_t owed;      /* http: responses still to send */
    uint32_t roff;      /* http: bytes of the first owed response already sent */
};

static struct fdstate *fds;
static size_t nfds;
static int epfd;
static char rbuf[READ_SIZE];
static char *resp[2];           /* RESP_COPIES canned responses: keep-alive, close */
static size_t resp_len[2];

static void
die(const char *what)
{
    perror(what);
    exit(1);
}

static void
usage(void)
{
    fprintf(stderr, "usage: ceiling --body FILE [--echo PORT] [--http PORT] [--http-close PORT]\n"
                    "  listens on 127.0.0.1; --http-close answers one request per connection\n"
                    "  with Connection: close, then closes\n");
    exit(64);
}

static char *
read_body(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    char *b;
    size_t got = 0;

    if (fd < 0 || fstat(fd, &st) < 0)
        die(path);
    if (st.st_size > MAX_BODY) {
        fprintf(stderr, "%s: larger than %d bytes\n", path, MAX_BODY);
        exit(1);
    }
    b = malloc((size_t)st.st_size + 1);
    if (b == NULL)
        die("malloc");
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, b + got, (size_t)st.st_size - got);
        if (n <= 0)
            die(path);
        got += (size_t)n;
    }
    close(fd);
    *len = got;
    return b;
}

static void
make_responses(const char *body, size_t blen)
{
    for (int i = 0; i < 2; i++) {
        char head[256];
        int hl = snprintf(head, sizeof(head),
                          "HTTP/1.1 200 OK\r\nServer: ceiling\r\n"
                          "Content-Type: text/html; charset=utf-8\r\n"
                          "Content-Length: %zu\r\n%s\r\n",
                          blen, i ? "Connection: close\r\n" : "");
        size_t one = (size_t)hl + blen;
        resp[i] = malloc(one * RESP_COPIES);
        if (resp[i] == NULL)
            die("malloc");
        for (size_t k = 0; k < RESP_COPIES; k++) {
            memcpy(resp[i] + k * one, head, (size_t)hl);
            memcpy(resp[i] + k * one + hl, body, blen);
        }
        resp_len[i] = one;
    }
}

static void
watch(int fd, uint32_t events, int op)
{
    struct epoll_event ev = { .events = events, .data.fd = fd };

    if (epoll_ctl(epfd, op, fd, &ev) < 0)
        die("epoll_ctl");
}

static void
listen_on(int port, enum kind k)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        die("socket");
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, BACKLOG) < 0) {
        fprintf(stderr, "ceiling: 127.0.0.1:%d: %s\n", port, strerror(errno));
        exit(1);
    }
    if ((size_t)fd >= nfds) {
        fprintf(stderr, "ceiling: fd %d beyond the table\n", fd);
        exit(1);
    }
    fds[fd].kind = K_LISTEN;
    fds[fd].lkind = (uint8_t)k;
    watch(fd, EPOLLIN, EPOLL_CTL_ADD);
}

static void
conn_close(int fd)
{
    struct fdstate *s = &fds[fd];
    char *q = s->q;

    close(fd);  /* also removes it from the epoll set */
    memset(s, 0, sizeof(*s));
    s->q = q;   /* keep the buffer for the next connection on this fd */
}

/* Stop reading until the kernel takes the rest (backpressure), or resume. */
static void
want_out(int fd, int out)
{
    if (fds[fd].out == out)
        return;
    fds[fd].out = (uint8_t)out;
    watch(fd, out ? EPOLLOUT : EPOLLIN, EPOLL_CTL_MOD);
}

/* Returns 0 when everything queued went out, 1 when some is left, -1 on error. */
static int
flush_echo(int fd)
{
    struct fdstate *s = &fds[fd];

    while (s->qoff < s->qlen) {
        ssize_t w = write(fd, s->q + s->qoff, s->qlen - s->qoff);
        if (w < 0)
            return errno == EAGAIN || errno == EINTR ? 1 : -1;
        s->qoff += (uint32_t)w;
    }
    s->qoff = s->qlen = 0;
    return 0;
}

static int
flush_http(int fd)
{
    struct fdstate *s = &fds[fd];
    int c = s->kind == K_HTTP_CLOSE;
    size_t one = resp_len[c];

    /* each pass writes at least one byte or stops; bounded by what is owed */
    for (int pass = 0; s->owed > 0 && pass < 64; pass++) {
        uint64_t n = s->owed < RESP_COPIES ? s->owed : RESP_COPIES;
        ssize_t w = write(fd, resp[c] + s->roff, (size_t)n * one - s->roff);
        if (w < 0)
            return errno == EAGAIN || errno == EINTR ? 1 : -1;
        size_t sent = s->roff + (size_t)w;
        s->owed -= sent / one;
        s->roff = (uint32_t)(sent % one);
    }
    return s->owed > 0;
}

static void
on_readable(int fd)
{
    struct fdstate *s = &fds[fd];
    ssize_t n = read(fd, rbuf, sizeof(rbuf));
    int rc;

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        conn_close(fd);
        return;
    }
    if (s->kind == K_ECHO) {
        ssize_t w = write(fd, rbuf, (size_t)n);
        if (w == n)
            return;
        if (w < 0 && errno != EAGAIN && errno != EINTR) {
            conn_close(fd);
            return;
        }
        if (w < 0)
            w = 0;
        if (s->q == NULL && (s->q = malloc(READ_SIZE)) == NULL)
            die("malloc");
        memcpy(s->q, rbuf + w, (size_t)(n - w));
        s->qoff = 0;
        s->qlen = (uint32_t)(n - w);
        want_out(fd, 1);
        return;
    }

    /* http: count request heads; nothing else is looked at */
    static const char end[4] = { '\r', '\n', '\r', '\n' };
    uint64_t heads = 0;
    unsigned m = s->match;
    for (ssize_t i = 0; i < n; i++) {
        char ch = rbuf[i];
        if (ch == end[m])
            m++;
        else
            m = ch == '\r';
        if (m == 4) {
            heads++;
            m = 0;
        }
    }
    s->match = (uint8_t)m;
    if (heads == 0)
        return;
    if (s->kind == K_HTTP_CLOSE) {
        if (s->done)
            return;
        s->done = 1;
        heads = 1;
    }
    s->owed += heads;
    rc = flush_http(fd);
    if (rc < 0 || (rc == 0 && s->done))
        conn_close(fd);
    else if (rc > 0 || s->done)
        want_out(fd, 1);
}

static void
on_writable(int fd)
{
    struct fdstate *s = &fds[fd];
    int rc = s->kind == K_ECHO ? flush_echo(fd) : flush_http(fd);

    if (rc < 0 || (rc == 0 && s->done))
        conn_close(fd);
    else if (rc == 0)
        want_out(fd, 0);
}

static void
on_accept(int lfd)
{
    int one = 1;

    for (int i = 0; i < ACCEPT_BUDGET; i++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                perror("accept4");  /* EMFILE: level-triggered, retried next turn */
            return;
        }
        if ((size_t)fd >= nfds) {
            close(fd);
            continue;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        fds[fd].kind = fds[lfd].lkind;
        watch(fd, EPOLLIN, EPOLL_CTL_ADD);
    }
}

int
main(int argc, char **argv)
{
    const char *body_path = NULL;
    int ports[3] = { 0, 0, 0 };     /* echo, http, http-close */
    struct rlimit rl;
    struct epoll_event evs[MAX_EVENTS];
    size_t blen;
    char *body;

    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc)
            usage();
        if (strcmp(argv[i], "--body") == 0)
            body_path = argv[++i];
        else if (strcmp(argv[i], "--echo") == 0)
            ports[0] = atoi(argv[++i]);
        else if (strcmp(argv[i], "--http") == 0)
            ports[1] = atoi(argv[++i]);
        else if (strcmp(argv[i], "--http-close") == 0)
            ports[2] = atoi(argv[++i]);
        else
            usage();
    }
    if (body_path == NULL || (ports[0] | ports[1] | ports[2]) == 0)
        usage();

    signal(SIGPIPE, SIG_IGN);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    nfds = rl.rlim_cur > 1048576 ? 1048576 : (size_t)rl.rlim_cur;
    fds = calloc(nfds, sizeof(*fds));
    if (fds == NULL)
        die("calloc");

    body = read_body(body_path, &blen);
    make_responses(body, blen);
    free(body);

    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        die("epoll_create1");
    if (ports[0])
        listen_on(ports[0], K_ECHO);
    if (ports[1])
        listen_on(ports[1], K_HTTP);
    if (ports[2])
        listen_on(ports[2], K_HTTP_CLOSE);

    /* runs until a signal ends it; SIGTERM's default action is the exit */
    for (;;) {
        int n = epoll_wait(epfd, evs, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            struct fdstate *s = &fds[fd];
            if (s->kind == K_LISTEN)
                on_accept(fd);
            else if (s->kind == K_NONE)
                continue;   /* closed earlier in this batch */
            else if (s->out)
                on_writable(fd);
            else
                on_readable(fd);
        }
    }
}
