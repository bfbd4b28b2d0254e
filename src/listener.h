/* listener.h: listening sockets. A stream listener accepts until EAGAIN
 * (with a budget), pauses on EMFILE/ENFILE instead of spinning, and waits
 * while its owner says no more; what a connection is for, it does not
 * know: each accepted fd goes to the owner's callback. A UDP listener hands
 * each datagram to its service's module. */
#ifndef ND_LISTENER_H
#define ND_LISTENER_H

#include <stddef.h>

#include "nd/addr.h"
#include "loop.h"

struct nd_service;

struct nd_listener {
    struct nd_watcher w;
    struct nd_addr addr;
    /* The owner's: asked before each accept (0: wait for nd_listener_kick),
     * and handed each accepted fd, which it then owns. */
    int (*may_accept)(struct nd_listener *l);
    void (*accept)(struct nd_listener *l, int fd);
    void *owner;
    struct nd_service *svc;
    struct nd_service *next_svc;    /* owner-to-be while a config is applied */
    struct nd_loop *loop;
    struct nd_timer retry;      /* accepting paused after EMFILE/ENFILE */
    int blocked;                /* waiting for a free connection slot */
    int starved;                /* accept failed for lack of fds or memory */
    int inherited;              /* from socket activation: never closed */
    int nodelay_each;           /* TCP_NODELAY failed on the listener: set
                                 * it on each accepted socket instead */
    int defer_secs;             /* TCP_DEFER_ACCEPT as we set it; 0 = off:
                                 * when on, an accepted socket has most
                                 * likely been sent its first bytes */
    int undo_defer;             /* its value before a reload being applied */
    struct nd_listener *next;
    struct nd_defer defer;      /* freed after the current iteration */
};

/* Creates, binds and (for streams) listens. Not yet watched. On failure
 * returns NULL with the address, the step and the reason in err
 * ("tcp://127.0.0.1:80: cannot bind: Permission denied"). */
struct nd_listener *nd_listener_open(const struct nd_addr *a, int reuseport,
                                     char *err, size_t errlen);

/* For a unix:PATH listener: gives its file the group gid and the mode
 * (-1: leave each as it is). 0, or -1 with the reason in err. */
int nd_listener_set_file(const struct nd_listener *l, int mode, long gid, char *err,
                         size_t errlen);

/* For a tcp:// listener: TCP_DEFER_ACCEPT, secs seconds (0 = off), so
 * that the kernel hands over a connection only once its client has sent
 * something (or the time is up). Only a change is applied: a socket from
 * systemd keeps its own DeferAcceptSec= while the key is off. Other
 * transports: nothing to do. 0, or -1 with the reason in err. */
int nd_listener_set_defer(struct nd_listener *l, int secs, char *err, size_t errlen);

/* For the log: " (...)" saying where a unix:PATH listener's file really is
 * when other processes see it elsewhere (a unit's private /tmp; a relative
 * path), else "". */
void nd_listener_where(const struct nd_listener *l, char *out, size_t len);

/* Wraps an inherited, already bound socket (socket activation). */
struct nd_listener *nd_listener_adopt(int fd, const struct nd_addr *a);

/* Starts watching it for svc. 0 or -errno. */
int nd_listener_start(struct nd_listener *l, struct nd_loop *loop,
                      struct nd_service *svc);

/* Asks it to try accepting again (a slot was freed, or settings changed). */
void nd_listener_kick(struct nd_listener *l);

/* Closes the socket (removing a unix socket file) and frees it once the
 * current loop iteration is over: a signal handled earlier in a batch may
 * close a listener whose own event comes later in it. An inherited socket
 * is only unwatched: it stays open for a later reload. */
void nd_listener_close(struct nd_listener *l);

#endif
