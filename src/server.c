/* server.c: applying a configuration, reloading it, and stopping. A new
 * configuration is applied in two steps: first everything that can fail
 * (services, new sockets) is prepared beside the running one; only if all of
 * it succeeded is it swapped in. Listeners whose address did not change keep
 * their socket, so a reload refuses no connection. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "nd/buf.h"
#include "nd/config.h"
#include "nd/conn.h"
#include "nd/listener.h"
#include "nd/log.h"
#include "nd/module.h"
#include "nd/notify.h"
#include "nd/server.h"
#include "nd/util.h"

static void send_status(struct nd_server *s, const char *prefix);

void
nd_service_ref(struct nd_service *svc)
{
    svc->refs++;
}

void
nd_service_unref(struct nd_service *svc)
{
    if (--svc->refs > 0)
        return;
    if (svc->mconf && svc->module->conf_free)
        svc->module->conf_free(svc->mconf);
    if (--svc->stats->refs == 0)
        free(svc->stats);
    free(svc->name);
    free(svc);
}

const char *
nd_service_name(const struct nd_service *svc)
{
    return svc->name;
}

void *
nd_service_conf(const struct nd_service *svc)
{
    return svc->mconf;
}

void
nd_service_counters(const struct nd_service *svc, struct nd_counters *out)
{
    const struct nd_stats *st = svc->stats;

    out->uptime_ms = nd_loop_now(svc->srv->loop) - svc->srv->started;
    out->conns_cur = st->conns_cur;
    out->conns_total = st->conns_total;
    out->bytes_in = st->bytes_in;
    out->bytes_out = st->bytes_out;
    out->dgrams_in = st->dgrams_in;
    out->dgrams_out = st->dgrams_out;
    out->dgrams_dropped = st->dgrams_dropped;
}

uint64_t *
nd_service_module_counters(struct nd_service *svc)
{
    return svc->stats->mod;
}

static struct nd_service *
find_service(struct nd_server *s, const char *name)
{
    size_t i;

    for (i = 0; i < s->nservices; i++)
        if (strcmp(s->services[i]->name, name) == 0)
            return s->services[i];
    return NULL;
}

/* A new generation of a service; counters carry over from the old one. */
static struct nd_service *
service_new(struct nd_server *s, struct nd_service_conf *sc)
{
    struct nd_service *old = find_service(s, sc->name);
    struct nd_service *svc = calloc(1, sizeof(*svc));

    if (svc == NULL || (svc->name = strdup(sc->name)) == NULL) {
        free(svc);
        return NULL;
    }
    if (old != NULL) {
        svc->stats = old->stats;
    } else if ((svc->stats = calloc(1, sizeof(*svc->stats))) == NULL) {
        free(svc->name);
        free(svc);
        return NULL;
    }
    svc->stats->refs++;
    svc->module = sc->module;
    svc->mconf = sc->mconf;
    sc->mconf = NULL;
    svc->idle_timeout = sc->idle_timeout;
    svc->max_conns = sc->max_connections;
    svc->hwm = sc->buffer_size;
    svc->in_max = ND_BUF_CHUNK;
    if (svc->module->input_max && svc->module->input_max(svc->mconf) > ND_BUF_CHUNK)
        svc->in_max = svc->module->input_max(svc->mconf);
    svc->srv = s;
    svc->refs = 1;
    return svc;
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

/* Closes a listener; an inherited socket goes back to the pool. */
static void
drop_listener(struct nd_server *s, struct nd_listener *l)
{
    size_t i;

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

int
nd_server_apply(struct nd_server *s, struct nd_config *cfg)
{
    struct nd_listener *old = s->listeners, *kept = NULL, *fresh = NULL, *l;
    struct nd_listener **fresh_tail = &fresh;
    struct nd_service **svcs;
    size_t i, j, n = 0;
    char err[256];
    int rc = -1;

    for (i = 0; i < cfg->nservices; i++)
        n += cfg->services[i].selected;
    svcs = calloc(n ? n : 1, sizeof(*svcs));
    if (svcs == NULL) {
        nd_log(LOG_ERR, "out of memory applying %s", cfg->path);
        return -1;
    }

    /* Step one: prepare. The old listeners are only borrowed from. */
    s->listeners = NULL;
    for (i = 0, n = 0; i < cfg->nservices; i++) {
        struct nd_service_conf *sc = &cfg->services[i];
        struct nd_service *svc;

        if (!sc->selected)
            continue;
        svc = svcs[n++] = service_new(s, sc);
        if (svc == NULL) {
            nd_log(LOG_ERR, "out of memory applying %s", cfg->path);
            goto undo;
        }
        for (j = 0; j < sc->nlisten; j++) {
            l = take_listener(&old, &sc->listen[j].addr);
            if (l != NULL) {
                l->next_svc = svc;
                l->next = kept;
                kept = l;
                continue;
            }
            l = adopt_inherited(s, &sc->listen[j].addr);
            if (l == NULL)
                l = nd_listener_open(&sc->listen[j].addr, (int)sc->reuseport, err,
                                     sizeof(err));
            if (l == NULL) {
                nd_log(LOG_ERR, "%s", err);
                goto undo;
            }
            l->next_svc = svc;
            *fresh_tail = l;
            fresh_tail = &l->next;
        }
    }
    for (l = fresh; l; l = l->next) {
        int e = nd_listener_start(l, s->loop, l->next_svc);

        if (e < 0) {
            nd_log(LOG_ERR, "%s: %s", l->addr.text, strerror(-e));
            goto undo;
        }
    }

    /* Step two: commit. Nothing below can fail. */
    for (l = old; l; ) {
        struct nd_listener *next = l->next;

        nd_log(LOG_NOTICE, "%s: closed %s", l->svc->name, l->addr.text);
        drop_listener(s, l);
        l = next;
    }
    for (l = fresh; l; l = l->next)
        nd_log(LOG_NOTICE, "%s: listening on %s", l->svc->name, l->addr.text);
    s->listeners = fresh;
    for (l = kept; l; ) {
        struct nd_listener *next = l->next;

        l->svc = l->next_svc;
        l->next = s->listeners;
        s->listeners = l;
        l = next;
    }
    for (i = 0; i < s->nservices; i++)
        nd_service_unref(s->services[i]);
    free(s->services);
    s->services = svcs;
    s->nservices = n;
    s->max_conns = cfg->max_connections;
    s->shutdown_timeout = cfg->shutdown_timeout;
    nd_log_set_level(cfg->log_level);
    for (l = s->listeners; l; l = l->next)
        nd_listener_kick(l);    /* limits may have changed */
    return 0;

undo:
    while ((l = fresh) != NULL) {
        fresh = l->next;
        drop_listener(s, l);
    }
    /* Kept listeners go back to the old list with their old owners. */
    while ((l = kept) != NULL) {
        kept = l->next;
        l->next = old;
        old = l;
    }
    s->listeners = old;
    for (j = 0; j < n; j++)
        if (svcs[j])
            nd_service_unref(svcs[j]);
    free(svcs);
    return rc;
}

void
nd_server_reload(struct nd_server *s)
{
    struct nd_errors errs = { 0 };
    struct nd_config *cfg;
    size_t i;

    if (s->stopping)
        return;
    nd_log(LOG_NOTICE, "reloading %s", s->config_path);
    {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        nd_notify("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
                  (unsigned long long)ts.tv_sec * 1000000ULL +
                  (unsigned long long)ts.tv_nsec / 1000);
    }
    cfg = nd_config_load(s->config_path, &errs);
    if (cfg != NULL && nd_config_select(cfg, s->only, s->nonly, &errs) < 0) {
        nd_config_free(cfg);
        cfg = NULL;
    }
    for (i = 0; i < errs.n; i++)
        nd_log(LOG_ERR, "%s", errs.v[i]);
    nd_errors_free(&errs);
    if (cfg == NULL || nd_server_apply(s, cfg) < 0) {
        nd_log(LOG_ERR, "reload failed; the previous configuration stays in force");
    } else {
        nd_log(LOG_NOTICE, "reloaded %s", s->config_path);
    }
    nd_config_free(cfg);
    send_status(s, "READY=1\n");
}

int
nd_server_may_accept(const struct nd_server *s, const struct nd_service *svc)
{
    if (s->stopping || s->nconns >= s->max_conns)
        return 0;
    return svc->max_conns == 0 || svc->stats->conns_cur < svc->max_conns;
}

void
nd_server_conn_closed(struct nd_server *s)
{
    struct nd_listener *l;

    s->nconns--;
    nd_server_touch(s);
    if (s->stopping) {
        if (s->nconns == 0)
            nd_loop_stop(s->loop);
        return;
    }
    for (l = s->listeners; l; l = l->next)
        if (l->blocked)
            nd_listener_kick(l);
}

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
    while (s->conns != NULL)
        nd_conn_close(s->conns);
    nd_loop_stop(s->loop);
}

static void
on_stop_timeout(struct nd_loop *loop, struct nd_timer *t)
{
    struct nd_server *s = nd_container_of(t, struct nd_server, stop_timer);

    ND_UNUSED(loop);
    nd_log(LOG_WARNING, "shutdown_timeout reached: closing %llu connection(s)",
           (unsigned long long)s->nconns);
    force_close(s);
}

void
nd_server_stop(struct nd_server *s)
{
    struct nd_conn *c, *next;

    if (s->stopping) {
        nd_log(LOG_NOTICE, "second stop signal: closing %llu connection(s) now",
               (unsigned long long)s->nconns);
        force_close(s);
        return;
    }
    s->stopping = 1;
    nd_timer_stop(s->loop, &s->status_timer);
    nd_notify("STOPPING=1\nSTATUS=stopping: %llu connection(s) draining",
              (unsigned long long)s->nconns);
    close_listeners(s);
    for (c = s->conns; c; c = next) {
        next = c->next;     /* c may close, and unlink itself, right here */
        nd_conn_stop(c);
    }
    if (s->nconns == 0) {
        nd_loop_stop(s->loop);
        return;
    }
    nd_log(LOG_NOTICE, "waiting up to %llu ms for %llu connection(s) to drain",
           (unsigned long long)s->shutdown_timeout, (unsigned long long)s->nconns);
    if (nd_timer_start(s->loop, &s->stop_timer, s->shutdown_timeout) < 0)
        force_close(s);
}

/* "2 services (echo, http), 5 listeners, 12 connections" */
static void
send_status(struct nd_server *s, const char *prefix)
{
    char names[256] = "";
    size_t i, n = 0, nl = 0;
    struct nd_listener *l;

    for (i = 0; i < s->nservices; i++) {
        int k = snprintf(names + n, sizeof(names) - n, "%s%s", i ? ", " : "",
                         s->services[i]->name);

        if (k < 0 || (size_t)k >= sizeof(names) - n)
            break;
        n += (size_t)k;
    }
    for (l = s->listeners; l; l = l->next)
        nl++;
    nd_notify("%sSTATUS=%zu service%s (%s), %zu listener%s, %llu connection%s", prefix,
              s->nservices, s->nservices == 1 ? "" : "s", names, nl, nl == 1 ? "" : "s",
              (unsigned long long)s->nconns, s->nconns == 1 ? "" : "s");
}

static void
on_status(struct nd_loop *loop, struct nd_timer *t)
{
    struct nd_server *s = nd_container_of(t, struct nd_server, status_timer);

    ND_UNUSED(loop);
    if (!s->stopping)
        send_status(s, "");
}

void
nd_server_touch(struct nd_server *s)
{
    if (nd_notify_enabled() && !s->stopping && !nd_timer_armed(&s->status_timer))
        nd_timer_start(s->loop, &s->status_timer, 1000);
}

static void
on_watchdog(struct nd_loop *loop, struct nd_timer *t)
{
    nd_notify("WATCHDOG=1");
    nd_timer_start(loop, t, nd_notify_watchdog_ms() / 2);
}

void
nd_server_ready(struct nd_server *s)
{
    send_status(s, "READY=1\n");
    if (nd_notify_watchdog_ms() > 0) {
        nd_notify("WATCHDOG=1");
        nd_timer_start(s->loop, &s->watchdog, nd_notify_watchdog_ms() / 2);
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

static void
on_signal(struct nd_loop *loop, struct nd_watcher *w)
{
    struct nd_server *s = nd_container_of(w, struct nd_server, sig);
    struct signalfd_siginfo si;

    ND_UNUSED(loop);
    for (;;) {
        ssize_t n = read(w->fd, &si, sizeof(si));

        if (n != (ssize_t)sizeof(si)) {
            if (n < 0 && errno == EINTR)
                continue;
            w->readable = 0;
            return;
        }
        switch (si.ssi_signo) {
        case SIGHUP:
            nd_server_reload(s);
            break;
        case SIGTERM:
        case SIGINT:
            nd_log(LOG_NOTICE, "%s: shutting down",
                   si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
            nd_server_stop(s);
            break;
        }
    }
}

int
nd_server_init(struct nd_server *s, struct nd_loop *loop, const char *path,
               char *const *only, size_t nonly)
{
    sigset_t set;
    int fd, rc;

    memset(s, 0, sizeof(*s));
    s->loop = loop;
    s->config_path = path;
    s->only = only;
    s->nonly = nonly;
    s->started = nd_loop_now(loop);
    nd_timer_init(&s->stop_timer, on_stop_timeout);
    nd_timer_init(&s->status_timer, on_status);
    nd_timer_init(&s->watchdog, on_watchdog);

    /* Signals arrive as reads on a signalfd; no handler runs any code. */
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return -errno;
    fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    nd_watcher_init(&s->sig, fd, on_signal);
    rc = nd_loop_add(loop, &s->sig);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return 0;
}

void
nd_server_fini(struct nd_server *s)
{
    size_t i;

    close_listeners(s);
    while (s->conns != NULL)
        nd_conn_close(s->conns);
    nd_timer_stop(s->loop, &s->stop_timer);
    nd_timer_stop(s->loop, &s->status_timer);
    nd_timer_stop(s->loop, &s->watchdog);
    for (i = 0; i < s->ninherited; i++)
        close(s->inherited[i].fd);
    free(s->inherited);
    s->inherited = NULL;
    s->ninherited = 0;
    for (i = 0; i < s->nservices; i++)
        nd_service_unref(s->services[i]);
    free(s->services);
    s->services = NULL;
    s->nservices = 0;
    if (s->sig.fd >= 0) {
        nd_loop_forget(s->loop, &s->sig);
        close(s->sig.fd);
        s->sig.fd = -1;
    }
}
