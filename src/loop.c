/* loop.c: epoll in edge-triggered mode, timers, pending watchers and
 * deferred frees. One iteration: wait (not at all if work is pending),
 * dispatch readiness, run the pending list, fire due timers, free what was
 * closed. Nothing here knows what a connection or a protocol is. */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"
#include "nd/log.h"

#define MAX_EVENTS 256

int
nd_loop_init(struct nd_loop *l)
{
    memset(l, 0, sizeof(*l));
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0)
        return -errno;
    nd_loop_update_time(l);
    l->started = l->now;
    return 0;
}

void
nd_loop_fini(struct nd_loop *l)
{
    struct nd_defer *d;

    while ((d = l->deferred) != NULL) {
        l->deferred = d->next;
        d->fn(d);
    }
    nd_heap_free(&l->timers);
    nd_access_flush();      /* the lines of connections closed at the end */
    if (l->epfd >= 0)
        close(l->epfd);
    l->epfd = -1;
}

void
nd_loop_update_time(struct nd_loop *l)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    l->now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
nd_loop_stop(struct nd_loop *l)
{
    l->stop = 1;
}

void
nd_watcher_init(struct nd_watcher *w, int fd, nd_watcher_fn *cb)
{
    memset(w, 0, sizeof(*w));
    w->fd = fd;
    w->cb = cb;
}

int
nd_loop_add(struct nd_loop *l, struct nd_watcher *w)
{
    struct epoll_event ev = {
        .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
        .data.ptr = w,
    };

    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, w->fd, &ev) < 0)
        return -errno;
    return 0;
}

void
nd_loop_forget(struct nd_loop *l, struct nd_watcher *w)
{
    if (!w->pending)
        return;
    if (w->pprev)
        w->pprev->pnext = w->pnext;
    else
        l->pending = w->pnext;
    if (w->pnext)
        w->pnext->pprev = w->pprev;
    else
        l->pending_tail = w->pprev;
    w->pnext = w->pprev = NULL;
    w->pending = 0;
}

void
nd_loop_del(struct nd_loop *l, struct nd_watcher *w)
{
    nd_loop_forget(l, w);
    if (w->fd >= 0)
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
}

void
nd_loop_pend(struct nd_loop *l, struct nd_watcher *w)
{
    if (w->pending)
        return;
    w->pending = 1;
    w->pnext = NULL;
    w->pprev = l->pending_tail;
    if (l->pending_tail)
        l->pending_tail->pnext = w;
    else
        l->pending = w;
    l->pending_tail = w;
}

int
nd_timer_start(struct nd_loop *l, struct nd_timer *t, uint64_t ms)
{
    nd_heap_remove(&l->timers, t);
    t->when = l->now + ms;
    return nd_heap_push(&l->timers, t);
}

void
nd_timer_stop(struct nd_loop *l, struct nd_timer *t)
{
    nd_heap_remove(&l->timers, t);
}

void
nd_loop_defer(struct nd_loop *l, struct nd_defer *d)
{
    d->next = l->deferred;
    l->deferred = d;
}

static int
next_timeout(struct nd_loop *l)
{
    struct nd_timer *t;

    if (l->pending)
        return 0;
    t = nd_heap_min(&l->timers);
    if (t == NULL)
        return -1;
    if (t->when <= l->now)
        return 0;
    if (t->when - l->now > 24 * 3600 * 1000)
        return 24 * 3600 * 1000;
    return (int)(t->when - l->now);
}

/* Runs the watchers that were pending when this pass began; those that pend
 * themselves again wait for the next iteration, after fresh events. */
static void
run_pending(struct nd_loop *l)
{
    struct nd_watcher *last = l->pending_tail, *w;

    while ((w = l->pending) != NULL) {
        int was_last = w == last;

        nd_loop_forget(l, w);
        w->cb(l, w);
        if (was_last)
            break;
    }
}

static void
run_timers(struct nd_loop *l)
{
    /* Timers armed for "now" by a timer callback wait for the next pass,
     * so a callback that re-arms itself with 0 cannot spin here. */
    size_t budget = l->timers.n;
    struct nd_timer *t;

    while (budget-- > 0 && (t = nd_heap_min(&l->timers)) != NULL &&
           t->when <= l->now) {
        nd_heap_remove(&l->timers, t);
        t->cb(l, t);
    }
}

static void
run_deferred(struct nd_loop *l)
{
    struct nd_defer *d;

    while ((d = l->deferred) != NULL) {
        l->deferred = d->next;
        d->fn(d);
    }
}

int
nd_loop_once(struct nd_loop *l, int max_wait_ms)
{
    struct epoll_event evs[MAX_EVENTS];
    int i, n, timeout = next_timeout(l);

    if (max_wait_ms >= 0 && (timeout < 0 || timeout > max_wait_ms))
        timeout = max_wait_ms;
    nd_access_flush();      /* the access lines of the last pass, in one write */
    n = epoll_wait(l->epfd, evs, MAX_EVENTS, timeout);
    if (n < 0 && errno != EINTR)
        return -errno;
    nd_loop_update_time(l);
    for (i = 0; i < n; i++) {
        struct nd_watcher *w = evs[i].data.ptr;
        uint32_t e = evs[i].events;

        if (w->fd < 0)
            continue;   /* closed earlier in this batch */
        if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            w->readable = 1;
        if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR))
            w->writable = 1;
        if (e & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            w->hup = 1;
        w->cb(l, w);
    }
    run_pending(l);
    run_timers(l);
    run_deferred(l);
    return n < 0 ? 0 : n;
}

int
nd_loop_run(struct nd_loop *l)
{
    while (!l->stop) {
        int rc = nd_loop_once(l, -1);

        if (rc < 0)
            return rc;
    }
    return 0;
}
