/* listener.c: bind, listen, accept, and the datagram receive loop. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "listener.h"
#include "mountinfo.h"
#include "nd/log.h"
#include "nd/module.h"
#include "nd/util.h"
#include "service.h"

#define ACCEPT_BUDGET 64
#define DGRAM_BUDGET 64
#define BACKLOG 4096
#define EMFILE_PAUSE_MS 100

static void on_accept(struct nd_loop *loop, struct nd_watcher *w);
static void on_dgram(struct nd_loop *loop, struct nd_watcher *w);
static void on_retry(struct nd_loop *loop, struct nd_timer *t);

static int
is_unix_file(const struct nd_addr *a)
{
    const struct sockaddr_un *sun = (const struct sockaddr_un *)&a->sa;

    return a->transport == ND_UNIX && sun->sun_path[0] != '\0';
}

/* A unix socket file left by a process that is gone refuses connections;
 * one that is alive accepts them. Only the first may be replaced. */
static int
unix_is_stale(const struct nd_addr *a)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int stale;

    if (fd < 0)
        return 0;
    stale = connect(fd, (const struct sockaddr *)&a->sa, a->len) < 0 &&
            errno == ECONNREFUSED;
    close(fd);
    return stale;
}

/* Replies go out as soon as they are made; Nagle would hold small ones.
 * Linux copies TCP_NODELAY from a listening socket to the sockets it
 * accepts, so it is set once on the listener (one setsockopt per
 * connection saved); only if that fails is it set on each connection. */
static int
set_nodelay(int fd)
{
    int one = 1;

    return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

struct nd_listener *
nd_listener_open(const struct nd_addr *a, int reuseport, char *err, size_t errlen)
{
    int stream = nd_addr_is_stream(a);
    int family = a->sa.ss_family, one = 1, fd;
    const char *step = "cannot create a socket";
    struct nd_listener *l;

    fd = socket(family, (stream ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto fail;
    step = "cannot set SO_REUSEADDR";
    if (a->transport == ND_TCP &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
        goto fail;
    /* Several processes on one address, the kernel spreading the load. */
    step = "cannot set SO_REUSEPORT";
    if (reuseport && a->transport != ND_UNIX &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
        goto fail;
    /* v6-only, so that [::]:P and 0.0.0.0:P can be two listeners. */
    step = "cannot set IPV6_V6ONLY";
    if (family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
        goto fail;
    step = "cannot bind";
    if (bind(fd, (const struct sockaddr *)&a->sa, a->len) < 0) {
        const struct sockaddr_un *sun = (const struct sockaddr_un *)&a->sa;

        if (errno != EADDRINUSE || !is_unix_file(a) || !unix_is_stale(a))
            goto fail;
        unlink(sun->sun_path);
        if (bind(fd, (const struct sockaddr *)&a->sa, a->len) < 0)
            goto fail;
    }
    step = "cannot listen";
    if (stream && listen(fd, BACKLOG) < 0)
        goto fail;
    step = "cannot allocate";
    l = calloc(1, sizeof(*l));
    if (l == NULL) {
        errno = ENOMEM;
        goto fail;
    }
    nd_watcher_init(&l->w, fd, stream ? on_accept : on_dgram);
    nd_timer_init(&l->retry, on_retry);
    l->addr = *a;
    l->nodelay_each = a->transport == ND_TCP && set_nodelay(fd) < 0;
    return l;

fail:
    snprintf(err, errlen, "%s: %s: %s", a->text, step, strerror(errno));
    if (fd >= 0)
        close(fd);
    return NULL;
}

int
nd_listener_set_file(const struct nd_listener *l, int mode, long gid, char *err, size_t errlen)
{
    const char *path = ((const struct sockaddr_un *)(const void *)&l->addr.sa)->sun_path;

    if (!is_unix_file(&l->addr))
        return 0;
    /* The group first: chmod then widens access to the right group. */
    if (gid >= 0 && chown(path, (uid_t)-1, (gid_t)gid) < 0) {
        snprintf(err, errlen, "%s: socket_group: cannot give the file to group %ld: %s%s",
                 l->addr.text, gid, strerror(errno),
                 errno == EPERM ? " (the daemon must be a member of that group: under "
                                  "systemd, SupplementaryGroups=)" : "");
        return -1;
    }
    if (mode >= 0 && chmod(path, (mode_t)mode) < 0) {
        snprintf(err, errlen, "%s: socket_mode: %s", l->addr.text, strerror(errno));
        return -1;
    }
    return 0;
}

int
nd_listener_set_defer(struct nd_listener *l, int secs, char *err, size_t errlen)
{
    if (l->addr.transport != ND_TCP || secs == l->defer_secs)
        return 0;
    if (setsockopt(l->w.fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof(secs)) < 0) {
        snprintf(err, errlen, "%s: defer_accept: %s", l->addr.text, strerror(errno));
        return -1;
    }
    l->defer_secs = secs;
    return 0;
}

void
nd_listener_where(const struct nd_listener *l, char *out, size_t len)
{
    const char *path = ((const struct sockaddr_un *)(const void *)&l->addr.sa)->sun_path;
    char abs[PATH_MAX + 128], where[512], text[64 * 1024];
    size_t got = 0;
    ssize_t n;
    int fd;

    out[0] = '\0';
    if (!is_unix_file(&l->addr))
        return;
    if (path[0] == '/') {
        snprintf(abs, sizeof(abs), "%s", path);
    } else {
        /* The directory as the kernel resolved it, then the file's name. */
        char dir[PATH_MAX], real[PATH_MAX];
        const char *slash = strrchr(path, '/');
        const char *name = slash ? slash + 1 : path;

        snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 1,
                 slash ? path : ".");
        if (realpath(dir, real) == NULL || strlen(real) + strlen(name) + 2 > sizeof(abs))
            return;
        snprintf(abs, sizeof(abs), "%s/%s", strcmp(real, "/") == 0 ? "" : real, name);
        snprintf(out, len, " (%s)", abs);
    }
    fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    while (got < sizeof(text) && (n = read(fd, text + got, sizeof(text) - got)) > 0)
        got += (size_t)n;
    close(fd);
    if (got > 0 && nd_mount_outside(text, got, abs, where, sizeof(where)))
        snprintf(out, len, " (a private mount: for other processes the file is %s)",
                 where);
}

struct nd_listener *
nd_listener_adopt(int fd, const struct nd_addr *a)
{
    struct nd_listener *l = calloc(1, sizeof(*l));
    int flags = fcntl(fd, F_GETFL);

    if (l == NULL)
        return NULL;
    if (flags >= 0)
        fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    nd_watcher_init(&l->w, fd, nd_addr_is_stream(a) ? on_accept : on_dgram);
    nd_timer_init(&l->retry, on_retry);
    l->addr = *a;
    l->inherited = 1;
    l->nodelay_each = a->transport == ND_TCP && set_nodelay(fd) < 0;
    return l;
}

int
nd_listener_start(struct nd_listener *l, struct nd_loop *loop, struct nd_service *svc)
{
    l->loop = loop;
    l->svc = svc;
    return nd_loop_add(loop, &l->w);
}

void
nd_listener_kick(struct nd_listener *l)
{
    l->blocked = 0;
    if (!nd_timer_armed(&l->retry) && l->w.readable)
        nd_loop_pend(l->loop, &l->w);
}

static void
listener_free(struct nd_defer *d)
{
    free(nd_container_of(d, struct nd_listener, defer));
}

void
nd_listener_close(struct nd_listener *l)
{
    if (l->inherited) {
        if (l->loop) {
            nd_timer_stop(l->loop, &l->retry);
            nd_loop_del(l->loop, &l->w);
        }
    } else {
        if (l->loop) {
            nd_timer_stop(l->loop, &l->retry);
            nd_loop_forget(l->loop, &l->w);
        }
        close(l->w.fd);
        if (is_unix_file(&l->addr))
            unlink(((const struct sockaddr_un *)&l->addr.sa)->sun_path);
    }
    /* An event for it may still be ahead in this batch: the loop skips a
     * watcher whose fd is -1, and the memory outlives the batch. */
    l->w.fd = -1;
    if (l->loop) {
        l->defer.fn = listener_free;
        nd_loop_defer(l->loop, &l->defer);
    } else {
        free(l);
    }
}

static void
on_accept(struct nd_loop *loop, struct nd_watcher *w)
{
    struct nd_listener *l = nd_container_of(w, struct nd_listener, w);
    int budget = ACCEPT_BUDGET;

    if (nd_timer_armed(&l->retry))
        return;     /* paused after EMFILE; the timer resumes us */
    while (w->readable) {
        int fd;

        if (!l->may_accept(l)) {
            l->blocked = 1;     /* a closing connection kicks us */
            return;
        }
        if (budget-- == 0) {
            nd_loop_pend(loop, w);
            return;
        }
        fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            switch (errno) {
            case EAGAIN:
                w->readable = 0;
                return;
            case EINTR:
            case ECONNABORTED:
            case EPROTO:
            case EPERM:
                continue;
            case EMFILE:
            case ENFILE:
            case ENOBUFS:
            case ENOMEM:
                /* Once per episode, not once per retry. */
                if (!l->starved)
                    nd_log_errno(LOG_WARNING, "%s: %s: accept paused, retrying every %d ms",
                                 l->svc->name, l->addr.text, EMFILE_PAUSE_MS);
                l->starved = 1;
                nd_timer_start(loop, &l->retry, EMFILE_PAUSE_MS);
                return;
            default:
                nd_log_errno(LOG_ERR, "%s: %s: accept", l->svc->name, l->addr.text);
                nd_timer_start(loop, &l->retry, EMFILE_PAUSE_MS);
                return;
            }
        }
        if (l->starved) {
            nd_log(LOG_NOTICE, "%s: %s: accepting again", l->svc->name, l->addr.text);
            l->starved = 0;
        }
        if (l->nodelay_each)
            set_nodelay(fd);
        l->accept(l, fd);
    }
}

static void
on_retry(struct nd_loop *loop, struct nd_timer *t)
{
    struct nd_listener *l = nd_container_of(t, struct nd_listener, retry);

    nd_loop_pend(loop, &l->w);
}

static void
on_dgram(struct nd_loop *loop, struct nd_watcher *w)
{
    /* One datagram at a time: the largest UDP payload fits. */
    static char buf[65536];
    struct nd_listener *l = nd_container_of(w, struct nd_listener, w);
    struct nd_stats *st = l->svc->stats;
    int budget = DGRAM_BUDGET;

    while (w->readable) {
        struct sockaddr_storage peer;
        socklen_t plen = sizeof(peer);
        struct nd_dgram d;
        ssize_t n;

        if (budget-- == 0) {
            nd_loop_pend(loop, w);
            return;
        }
        n = recvfrom(w->fd, buf, sizeof(buf), 0, (struct sockaddr *)&peer, &plen);
        if (n < 0) {
            if (errno == EAGAIN) {
                w->readable = 0;
                return;
            }
            /* EINTR, or an ICMP error left by an earlier reply: go on. */
            continue;
        }
        st->dgrams_in++;
        st->bytes_in += (uint64_t)n;
        d.data = buf;
        d.len = (size_t)n;
        d.svc = l->svc;
        d.peer = &peer;
        d.peerlen = plen;
        d.fd = w->fd;
        l->svc->module->datagram(&d);
    }
}

int
nd_dgram_reply(const struct nd_dgram *d, const void *p, size_t n)
{
    struct nd_stats *st = d->svc->stats;
    ssize_t k;

    do
        k = sendto(d->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL,
                   (const struct sockaddr *)d->peer, d->peerlen);
    while (k < 0 && errno == EINTR);
    if (k < 0) {
        st->dgrams_dropped++;
        return -1;
    }
    st->dgrams_out++;
    st->bytes_out += (uint64_t)k;
    return 0;
}
