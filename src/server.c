/* server.c: applying a configuration, reloading it, and stopping. A new
 * configuration is applied in steps: first everything that can fail
 * (services, new sockets) is prepared beside the running one; only if all of
 * it succeeded is it committed. Listeners whose address did not change keep
 * their socket, so a reload refuses no connection. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "conn.h"
#include "listener.h"
#include "nd/log.h"
#include "nd/module.h"
#include "server.h"
#include "nd/util.h"
#include "service.h"

static struct nd_service *
find_service(struct nd_server *s, const char *name)
{
    size_t i;

    for (i = 0; i < s->nservices; i++)
        if (strcmp(s->services[i]->name, name) == 0)
            return s->services[i];
    return NULL;
}

static void
changed(struct nd_server *s)
{
    if (s->changed)
        s->changed(s);
}

/* A new generation of a service; counters carry over from the old one. */
static struct nd_service *
service_new(struct nd_server *s, struct nd_service_conf *sc)
{
    struct nd_service *svc = nd_service_new(sc->name, sc->module, sc->mconf,
                                            find_service(s, sc->name), s->loop);

    if (svc == NULL)
        return NULL;
    sc->mconf = NULL;
    svc->idle_timeout = sc->idle_timeout;
    svc->max_conns = sc->max_connections;
    svc->hwm = sc->buffer_size;
    svc->access_log = sc->access_log;
    return svc;
}

/* ---- the listeners' callbacks ---- */

static int
may_accept(struct nd_listener *l)
{
    struct nd_server *s = l->owner;
    const struct nd_service *svc = l->svc;

    if (s->stopping || s->conns.n >= s->max_conns)
        return 0;
    return svc->max_conns == 0 || svc->stats->conns_cur < svc->max_conns;
}

/* From a deferred listener the request is most likely here already: it is
 * read and answered before the connection is watched at all. */
static void
accept_conn(struct nd_listener *l, int fd)
{
    struct nd_server *s = l->owner;

    if (l->defer_secs > 0)
        nd_conn_open_ready(s->loop, &s->conns, l->svc, fd);
    else
        nd_conn_open(s->loop, &s->conns, l->svc, fd);
}

/* A connection opened or closed: a stop may be over, a listener waiting for
 * a free slot may go on. */
static void
conns_changed(struct nd_conn_set *set)
{
    struct nd_server *s = nd_container_of(set, struct nd_server, conns);
    struct nd_listener *l;

    changed(s);
    if (s->stopping) {
        if (set->n == 0)
            nd_loop_stop(s->loop);
        return;
    }
    for (l = s->listeners; l; l = l->next)
        if (l->blocked)
            nd_listener_kick(l);
}

/* An inherited socket for address a, if systemd passed one. */
static struct nd_listener *
adopt_inherited(struct nd_server *s, const struct nd_addr *a)
{
    size_t i;

    for (i = 0; i < s->ninherited; i++) {
        struct nd_inherited *in = &s->inherited[i];
        struct nd_listener *l;

        if (in->used || !nd_addr_equal(&in->addr, a))
            continue;
        l = nd_listener_adopt(in->fd, a);
        if (l != NULL)
            in->used = 1;
        return l;
    }
    return NULL;
}

/* Closes a listener; an inherited socket goes back to the pool, as it
 * came (without our TCP_DEFER_ACCEPT). */
static void
drop_listener(struct nd_server *s, struct nd_listener *l)
{
    char err[256];
    size_t i;

    if (l->inherited && nd_listener_set_defer(l, 0, err, sizeof(err)) < 0)
        nd_log(LOG_WARNING, "%s", err);
    if (l->inherited)
        for (i = 0; i < s->ninherited; i++)
            if (s->inherited[i].fd == l->w.fd)
                s->inherited[i].used = 0;
    nd_listener_close(l);
}

static struct nd_listener *
take_listener(struct nd_listener **list, const struct nd_addr *a)
{
    struct nd_listener **pp, *l;

    for (pp = list; (l = *pp) != NULL; pp = &l->next) {
        if (nd_addr_equal(&l->addr, a)) {
            *pp = l->next;
            l->next = NULL;
            return l;
        }
    }
    return NULL;
}

/* ---- applying a configuration ---- */

/* defer_accept in TCP_DEFER_ACCEPT's whole seconds, rounded up: 0 = off. */
static int
defer_secs(const struct nd_service_conf *sc)
{
    return (int)((sc->defer_accept + 999) / 1000);
}

/* err, "ADDRESS: why", becomes "FILE:LINE: [NAME] listen ADDRESS: why":
 * the service and its listen line, as the configuration's own errors. */
static void
at_line(char *err, size_t errlen, const char *path, int line, const char *name)
{
    char e[256];

    snprintf(e, sizeof(e), "%s", err);
    snprintf(err, errlen, "%s:%d: [%s] listen %s", path, line, name, e);
}

int
nd_server_prepare(struct nd_server *s, struct nd_config *cfg, struct nd_apply *a,
                  char *err, size_t errlen)
{
    struct nd_listener **fresh_tail, *l;
    size_t i, j, n = 0;

    memset(a, 0, sizeof(*a));
    a->cfg = cfg;
    for (i = 0; i < cfg->nservices; i++)
        n += cfg->services[i].selected != 0;
    a->svcs = calloc(n ? n : 1, sizeof(*a->svcs));
    if (a->svcs == NULL) {
        snprintf(err, errlen, "out of memory applying %s", cfg->path);
        return -1;
    }
    /* The running listeners are only borrowed from: what the new
     * configuration keeps moves to a->kept, the rest waits in a->old. */
    a->old = s->listeners;
    s->listeners = NULL;
    fresh_tail = &a->fresh;
    for (i = 0; i < cfg->nservices; i++) {
        struct nd_service_conf *sc = &cfg->services[i];
        struct nd_service *svc;

        if (!sc->selected)
            continue;
        svc = a->svcs[a->nsvcs++] = service_new(s, sc);
        if (svc == NULL) {
            snprintf(err, errlen, "out of memory applying %s", cfg->path);
            goto undo;
        }
        for (j = 0; j < sc->nlisten; j++) {
            l = take_listener(&a->old, &sc->listen[j].addr);
            if (l != NULL) {
                /* Kept, but socket_mode, socket_group or defer_accept may
                 * have changed. */
                l->undo_defer = l->defer_secs;
                if ((!l->inherited &&
                     nd_listener_set_file(l, sc->sock_mode, sc->sock_gid, err, errlen) < 0) ||
                    nd_listener_set_defer(l, defer_secs(sc), err, errlen) < 0) {
                    l->next = a->old;
                    a->old = l;
                    at_line(err, errlen, cfg->path, sc->listen[j].line, sc->name);
                    goto undo;
                }
                l->next_svc = svc;
                l->next = a->kept;
                a->kept = l;
                continue;
            }
            l = adopt_inherited(s, &sc->listen[j].addr);
            if (l == NULL) {
                l = nd_listener_open(&sc->listen[j].addr, sc->reuseport, err, errlen);
                if (l != NULL &&
                    nd_listener_set_file(l, sc->sock_mode, sc->sock_gid, err, errlen) < 0) {
                    nd_listener_close(l);
                    l = NULL;
                }
            }
            if (l != NULL && nd_listener_set_defer(l, defer_secs(sc), err, errlen) < 0) {
                drop_listener(s, l);
                l = NULL;
            }
            if (l == NULL) {
                at_line(err, errlen, cfg->path, sc->listen[j].line, sc->name);
                goto undo;
            }
            l->next_svc = svc;
            l->may_accept = may_accept;
            l->accept = accept_conn;
            l->owner = s;
            *fresh_tail = l;
            fresh_tail = &l->next;
        }
    }
    for (l = a->fresh; l; l = l->next) {
        int e = nd_listener_start(l, s->loop, l->next_svc);

        if (e < 0) {
            snprintf(err, errlen, "[%s] listen %s: cannot watch: %s", l->next_svc->name,
                     l->addr.text, strerror(-e));
            goto undo;
        }
    }
    return 0;

undo:
    nd_server_undo(s, a);
    return -1;
}

void
nd_server_undo(struct nd_server *s, struct nd_apply *a)
{
    struct nd_listener *l;
    size_t j;

    while ((l = a->fresh) != NULL) {
        a->fresh = l->next;
        drop_listener(s, l);
    }
    /* Kept listeners go back to the running list with their old owners
     * and their old TCP_DEFER_ACCEPT. */
    while ((l = a->kept) != NULL) {
        char err[256];

        a->kept = l->next;
        if (nd_listener_set_defer(l, l->undo_defer, err, sizeof(err)) < 0)
            nd_log(LOG_WARNING, "%s", err);
        l->next = a->old;
        a->old = l;
    }
    s->listeners = a->old;
    a->old = NULL;
    for (j = 0; j < a->nsvcs; j++)
        if (a->svcs[j])
            nd_service_unref(a->svcs[j]);
    free(a->svcs);
    a->svcs = NULL;
    a->nsvcs = 0;
}

void
nd_server_commit(struct nd_server *s, struct nd_apply *a)
{
    struct nd_listener *l;
    size_t i;

    for (l = a->old; l; ) {
        struct nd_listener *next = l->next;

        nd_log(LOG_NOTICE, "%s: closed %s", l->svc->name, l->addr.text);
        drop_listener(s, l);
        l = next;
    }
    for (l = a->fresh; l; l = l->next) {
        char where[512];

        nd_listener_where(l, where, sizeof(where));
        nd_log(LOG_NOTICE, "%s: listening on %s%s", l->svc->name, l->addr.text, where);
    }
    s->listeners = a->fresh;
    for (l = a->kept; l; ) {
        struct nd_listener *next = l->next;

        l->svc = l->next_svc;
        l->next = s->listeners;
        s->listeners = l;
        l = next;
    }
    for (i = 0; i < a->nsvcs; i++)
        if (a->svcs[i] && a->svcs[i]->module->in_force)
            a->svcs[i]->module->in_force(a->svcs[i]);
    for (i = 0; i < s->nservices; i++)
        nd_service_unref(s->services[i]);
    free(s->services);
    s->services = a->svcs;
    s->nservices = a->nsvcs;
    nd_services_set_current(s->services, s->nservices);
    s->max_conns = a->cfg->max_connections;
    s->shutdown_timeout = a->cfg->shutdown_timeout;
    nd_log_set_level(a->cfg->log_level);
    memset(a, 0, sizeof(*a));
    for (l = s->listeners; l; l = l->next)
        nd_listener_kick(l);    /* limits may have changed */
    changed(s);
}

int
nd_server_apply(struct nd_server *s, struct nd_config *cfg)
{
    struct nd_apply a;
    char err[256];

    if (nd_server_prepare(s, cfg, &a, err, sizeof(err)) < 0) {
        nd_log(LOG_ERR, "%s", err);
        return -1;
    }
    nd_server_commit(s, &a);
    return 0;
}

int
nd_server_reload(struct nd_server *s, char *why, size_t whylen)
{
    struct nd_errors errs = { 0 };
    struct nd_config *cfg;
    struct nd_apply a;
    size_t i;
    int rc = -1;

    snprintf(why, whylen, "%s", "");
    if (s->stopping) {
        snprintf(why, whylen, "stopping");
        nd_services_count_reload(1);
        return -1;
    }
    nd_log(LOG_NOTICE, "reloading %s", s->config_path);
    cfg = nd_config_load(s->config_path, s->modules, &errs);
    if (cfg != NULL && nd_config_select(cfg, s->only, s->nonly, &errs) < 0) {
        nd_config_free(cfg);
        cfg = NULL;
    }
    for (i = 0; i < errs.n; i++)
        nd_log(LOG_ERR, "%s", errs.v[i]);
    if (errs.n > 0) {
        char summary[512];

        nd_errors_summary(&errs, s->config_path, summary, sizeof(summary));
        nd_log(LOG_ERR, "%s", summary);
        snprintf(why, whylen, "%s", errs.v[0]);
    }
    nd_errors_free(&errs);
    if (cfg != NULL) {
        if (nd_server_prepare(s, cfg, &a, why, whylen) < 0) {
            nd_log(LOG_ERR, "%s", why);
        } else {
            nd_server_commit(s, &a);
            rc = 0;
        }
    }
    nd_services_count_reload(rc < 0);
    if (rc < 0)
        nd_log(LOG_ERR, "reload failed; the previous configuration stays in force");
    else
        nd_log(LOG_NOTICE, "reloaded %s", s->config_path);
    nd_config_free(cfg);
    return rc;
}

/* ---- stopping ---- */

static void
close_listeners(struct nd_server *s)
{
    struct nd_listener *l;

    while ((l = s->listeners) != NULL) {
        s->listeners = l->next;
        drop_listener(s, l);
    }
}

static void
force_close(struct nd_server *s)
{
    while (s->conns.head != NULL)
        nd_conn_close(s->conns.head);
    nd_loop_stop(s->loop);
}

static void
on_stop_timeout(struct nd_loop *loop, struct nd_timer *t)
{
    struct nd_server *s = nd_container_of(t, struct nd_server, stop_timer);

    ND_UNUSED(loop);
    nd_log(LOG_WARNING, "shutdown_timeout reached: closing %llu connection(s)",
           (unsigned long long)s->conns.n);
    force_close(s);
}

void
nd_server_stop(struct nd_server *s)
{
    struct nd_conn *c, *next;

    if (s->stopping) {
        nd_log(LOG_NOTICE, "second stop signal: closing %llu connection(s) now",
               (unsigned long long)s->conns.n);
        force_close(s);
        return;
    }
    s->stopping = 1;
    close_listeners(s);
    for (c = s->conns.head; c; c = next) {
        next = c->next;     /* c may close, and unlink itself, right here */
        nd_conn_stop(c);
    }
    if (s->conns.n == 0) {
        nd_loop_stop(s->loop);
        return;
    }
    nd_log(LOG_NOTICE, "waiting up to %llu ms for %llu connection(s) to drain",
           (unsigned long long)s->shutdown_timeout, (unsigned long long)s->conns.n);
    if (nd_timer_start(s->loop, &s->stop_timer, s->shutdown_timeout) < 0)
        force_close(s);
}

void
nd_server_describe(const struct nd_server *s, char *buf, size_t len)
{
    char names[256] = "";
    size_t i, n = 0, nl = 0;
    struct nd_listener *l;

    for (i = 0; i < s->nservices; i++) {
        const struct nd_service *svc = s->services[i];
        const char *st = svc->module->status ? svc->module->status(svc->mconf) : NULL;
        int k = snprintf(names + n, sizeof(names) - n, "%s%s%s%s", i ? ", " : "",
                         svc->name, st ? ": " : "", st ? st : "");

        if (k < 0 || (size_t)k >= sizeof(names) - n)
            break;
        n += (size_t)k;
    }
    for (l = s->listeners; l; l = l->next)
        nl++;
    snprintf(buf, len, "%zu service%s (%s), %zu listener%s, %llu connection%s",
             s->nservices, s->nservices == 1 ? "" : "s", names, nl, nl == 1 ? "" : "s",
             (unsigned long long)s->conns.n, s->conns.n == 1 ? "" : "s");
}

/* One line per service at notice (SIGUSR1): the core's counters, then the
 * module's by the names it declares. */
void
nd_server_log_counters(const struct nd_server *s)
{
    size_t i, k;

    for (i = 0; i < s->nservices; i++) {
        struct nd_service *svc = s->services[i];
        const char *const *names = svc->module->counters;
        const uint64_t *m = nd_service_module_counters(svc);
        struct nd_counters c;
        char line[1024];
        size_t n;
        int w;

        nd_service_counters(svc, &c);
        w = snprintf(line, sizeof(line),
                     "%s: connections %llu (total %llu), bytes in %llu out %llu, "
                     "datagrams in %llu out %llu dropped %llu", svc->name,
                     (unsigned long long)c.conns_cur, (unsigned long long)c.conns_total,
                     (unsigned long long)c.bytes_in, (unsigned long long)c.bytes_out,
                     (unsigned long long)c.dgrams_in, (unsigned long long)c.dgrams_out,
                     (unsigned long long)c.dgrams_dropped);
        n = w < 0 ? 0 : (size_t)w < sizeof(line) ? (size_t)w : sizeof(line) - 1;
        for (k = 0; names != NULL && names[k] != NULL && k < ND_MOD_COUNTERS; k++) {
            w = snprintf(line + n, sizeof(line) - n, ", %s %llu", names[k],
                         (unsigned long long)m[k]);
            if (w < 0 || (size_t)w >= sizeof(line) - n)
                break;
            n += (size_t)w;
        }
        nd_log(LOG_NOTICE, "%s", line);
    }
}

int
nd_server_inherit(struct nd_server *s)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    const char *names = getenv("LISTEN_FDNAMES");
    uint64_t p, n;
    char err[128];
    size_t i;
    int rc = 0;

    if (pid == NULL || fds == NULL)
        goto out;
    if (nd_parse_uint(pid, &p, err, sizeof(err)) < 0 || p != (uint64_t)getpid())
        goto out;   /* meant for another process */
    if (nd_parse_uint(fds, &n, err, sizeof(err)) < 0 || n > 1024) {
        nd_log(LOG_ERR, "LISTEN_FDS=%s: not a socket count", fds);
        rc = -1;
        goto out;
    }
    s->inherited = calloc(n ? n : 1, sizeof(*s->inherited));
    if (s->inherited == NULL) {
        rc = -1;
        goto out;
    }
    for (i = 0; i < n; i++) {
        struct nd_inherited *in = &s->inherited[s->ninherited];
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss), tl = sizeof(int);
        int fd = 3 + (int)i, type = 0;
        enum nd_transport t;
        const char *name = names;
        size_t k;

        /* The i-th name of the colon-separated list, if there is one. */
        for (k = 0; name && k < i; k++) {
            name = strchr(name, ':');
            if (name)
                name++;
        }
        snprintf(in->name, sizeof(in->name), "%.*s",
                 name ? (int)strcspn(name, ":") : 0, name ? name : "");
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
            getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0) {
            nd_log_errno(LOG_ERR, "inherited fd %d (%s) is not a socket", fd, in->name);
            rc = -1;
            continue;
        }
        t = ss.ss_family == AF_UNIX ? ND_UNIX : type == SOCK_DGRAM ? ND_UDP : ND_TCP;
        if ((type != SOCK_STREAM && type != SOCK_DGRAM) ||
            (t == ND_UNIX && type != SOCK_STREAM) ||
            nd_addr_from_sockaddr(&in->addr, t, (struct sockaddr *)&ss, len) < 0) {
            nd_log(LOG_ERR, "inherited fd %d (%s): not a TCP, UDP or unix stream socket",
                   fd, in->name);
            rc = -1;
            continue;
        }
        in->fd = fd;
        s->ninherited++;
        nd_log(LOG_INFO, "inherited %s (fd %d%s%s)", in->addr.text, fd,
               in->name[0] ? ", " : "", in->name);
    }
out:
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    return rc;
}

int
nd_server_check_inherited(const struct nd_server *s)
{
    size_t i;
    int rc = 0;

    for (i = 0; i < s->ninherited; i++) {
        if (!s->inherited[i].used) {
            nd_log(LOG_ERR, "inherited socket %s (fd %d%s%s) matches no listen entry of "
                   "the services run", s->inherited[i].addr.text, s->inherited[i].fd,
                   s->inherited[i].name[0] ? ", " : "", s->inherited[i].name);
            rc = -1;
        }
    }
    return rc;
}

void
nd_server_init(struct nd_server *s, struct nd_loop *loop, const char *path,
               const struct nd_module *const *modules, char *const *only, size_t nonly)
{
    memset(s, 0, sizeof(*s));
    s->loop = loop;
    s->config_path = path;
    s->modules = modules;
    s->only = only;
    s->nonly = nonly;
    s->conns.changed = conns_changed;
    nd_timer_init(&s->stop_timer, on_stop_timeout);
}

void
nd_server_fini(struct nd_server *s)
{
    size_t i;

    s->changed = NULL;
    close_listeners(s);
    while (s->conns.head != NULL)
        nd_conn_close(s->conns.head);
    nd_timer_stop(s->loop, &s->stop_timer);
    for (i = 0; i < s->ninherited; i++)
        close(s->inherited[i].fd);
    free(s->inherited);
    s->inherited = NULL;
    s->ninherited = 0;
    nd_services_set_current(NULL, 0);
    for (i = 0; i < s->nservices; i++)
        nd_service_unref(s->services[i]);
    free(s->services);
    s->services = NULL;
    s->nservices = 0;
}
