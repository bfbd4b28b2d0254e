/* loop.h: the event loop. One epoll fd in edge-triggered mode, a min-heap of
 * timers, a list of watchers with work left over, and a list of objects to
 * free once the current iteration is over. It knows fds and time; it knows
 * nothing of what the bytes mean. */
#ifndef ND_LOOP_H
#define ND_LOOP_H

#include <stdint.h>

#include "heap.h"

struct nd_loop;
struct nd_watcher;

typedef void nd_watcher_fn(struct nd_loop *loop, struct nd_watcher *w);

/* An fd registered once for input and output, edge-triggered. The loop sets
 * readable/writable when the kernel reports readiness; the owner clears them
 * only when a syscall says EAGAIN (or a short read/write proves the same). */
struct nd_watcher {
    int fd;
    unsigned char readable;
    unsigned char writable;
    unsigned char hup;      /* peer closed or error seen: read until EOF */
    unsigned char pending;
    nd_watcher_fn *cb;
    struct nd_watcher *pnext, *pprev;
};

/* Something to free after the current iteration, when no callback of this
 * iteration can still hold a pointer to it. */
struct nd_defer {
    struct nd_defer *next;
    void (*fn)(struct nd_defer *d);
};

struct nd_loop {
    int epfd;
    int stop;
    uint64_t now;                   /* monotonic ms, cached per iteration */
    uint64_t started;               /* monotonic ms at nd_loop_init */
    struct nd_heap timers;
    struct nd_watcher *pending;     /* head of a circular-free double list */
    struct nd_watcher *pending_tail;
    struct nd_defer *deferred;
};

int nd_loop_init(struct nd_loop *l);
void nd_loop_fini(struct nd_loop *l);

/* Runs until nd_loop_stop(). Returns 0, or -errno if epoll_wait fails. */
int nd_loop_run(struct nd_loop *l);
void nd_loop_stop(struct nd_loop *l);

/* One iteration, waiting at most max_wait_ms (-1: until an event or the
 * next timer). Returns the number of events, or -errno. */
int nd_loop_once(struct nd_loop *l, int max_wait_ms);

/* Re-reads the monotonic clock into l->now. */
void nd_loop_update_time(struct nd_loop *l);

static inline uint64_t
nd_loop_now(const struct nd_loop *l)
{
    return l->now;
}

void nd_watcher_init(struct nd_watcher *w, int fd, nd_watcher_fn *cb);

/* Registers w->fd for EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET. 0 or -errno. */
int nd_loop_add(struct nd_loop *l, struct nd_watcher *w);

/* Unregisters w->fd (the fd stays open) and drops w from the pending list. */
void nd_loop_del(struct nd_loop *l, struct nd_watcher *w);

/* Drops w from the pending list before its fd is closed (closing an fd
 * removes it from epoll by itself). */
void nd_loop_forget(struct nd_loop *l, struct nd_watcher *w);

/* Asks for w->cb to run again before the loop sleeps: the owner stopped
 * early (work budget) while the fd may still be ready. */
void nd_loop_pend(struct nd_loop *l, struct nd_watcher *w);

/* Arms t to fire after ms milliseconds (re-arms it if armed). 0 or -ENOMEM. */
int nd_timer_start(struct nd_loop *l, struct nd_timer *t, uint64_t ms);
void nd_timer_stop(struct nd_loop *l, struct nd_timer *t);

void nd_loop_defer(struct nd_loop *l, struct nd_defer *d);

#endif
