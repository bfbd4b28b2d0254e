/* main.c: the command line, the configuration check, and the life of the
 * daemon: load, open listeners, run the loop, exit. Always in the
 * foreground; systemd (or a terminal) is the supervisor. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "nd/log.h"
#include "nd/module.h"
#include "notify.h"
#include "server.h"
#include "nd/util.h"

#define MAX_ONLY 64

static void
usage(FILE *f)
{
    fprintf(f,
        "usage: netdemo [-c FILE] [-s NAME]... [-t | --check] [-V | --version] [-h | --help]\n"
        "  -c, --config FILE   configuration file (default %s)\n"
        "  -s, --service NAME  run only service NAME (repeatable; default: all)\n"
        "  -t, --check         check the configuration and exit\n"
        "  -V, --version       print the version and exit\n"
        "  -h, --help          print this help and exit\n",
        ND_DEFAULT_CONFIG);
}

/* Enough fds for max_connections plus listeners: raise the soft limit to the
 * hard one, and say so if even that is short. */
static void
raise_nofile(const struct nd_config *cfg)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)cfg->max_connections + 64;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want)
        nd_log(LOG_WARNING, "open-file limit %llu is below max_connections %llu; "
               "accepting will pause when fds run out",
               (unsigned long long)rl.rlim_cur,
               (unsigned long long)cfg->max_connections);
}

static size_t
count_listeners(const struct nd_config *cfg, size_t *nsvc)
{
    size_t i, n = 0;

    *nsvc = 0;
    for (i = 0; i < cfg->nservices; i++) {
        if (!cfg->services[i].selected)
            continue;
        (*nsvc)++;
        n += cfg->services[i].nlisten;
    }
    return n;
}

/* ---- the supervisor's side: signals, STATUS=, the watchdog ---- */

static struct {
    struct nd_server *srv;
    struct nd_watcher sig;
    struct nd_timer status;         /* STATUS= at most once a second */
    struct nd_timer watchdog;       /* WATCHDOG=1 at half the interval */
} sup;

static void
send_status(const char *prefix)
{
    char what[512];

    nd_server_describe(sup.srv, what, sizeof(what));
    nd_notify("%sSTATUS=%s", prefix, what);
}

static void
on_status(struct nd_loop *loop, struct nd_timer *t)
{
    ND_UNUSED(loop);
    ND_UNUSED(t);
    if (!sup.srv->stopping)
        send_status("");
}

/* Connections opened or closed: refresh STATUS= within a second. */
static void
server_changed(struct nd_server *s)
{
    if (nd_notify_enabled() && !s->stopping && !nd_timer_armed(&sup.status))
        nd_timer_start(s->loop, &sup.status, 1000);
}

static void
on_watchdog(struct nd_loop *loop, struct nd_timer *t)
{
    nd_notify("WATCHDOG=1");
    nd_timer_start(loop, t, nd_notify_watchdog_ms() / 2);
}

static void
reload(struct nd_server *s)
{
    struct timespec ts;
    char why[512];

    clock_gettime(CLOCK_MONOTONIC, &ts);
    nd_notify("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
              (unsigned long long)ts.tv_sec * 1000000ULL +
              (unsigned long long)ts.tv_nsec / 1000);
    nd_server_reload(s, why, sizeof(why));
    send_status("READY=1\n");
}

static void
on_signal(struct nd_loop *loop, struct nd_watcher *w)
{
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
            if (!sup.srv->stopping)
                reload(sup.srv);
            break;
        case SIGTERM:
        case SIGINT:
            nd_log(LOG_NOTICE, "%s: shutting down",
                   si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
            if (!sup.srv->stopping) {
                nd_timer_stop(loop, &sup.status);
                nd_notify("STOPPING=1\nSTATUS=stopping: %llu connection(s) draining",
                          (unsigned long long)sup.srv->conns.n);
            }
            nd_server_stop(sup.srv);
            break;
        }
    }
}

/* Signals arrive as reads on a signalfd; no handler runs any code. */
static int
supervise(struct nd_loop *loop, struct nd_server *s)
{
    sigset_t set;
    int fd, rc;

    sup.srv = s;
    s->changed = server_changed;
    nd_timer_init(&sup.status, on_status);
    nd_timer_init(&sup.watchdog, on_watchdog);
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
    nd_watcher_init(&sup.sig, fd, on_signal);
    rc = nd_loop_add(loop, &sup.sig);
    if (rc < 0) {
        close(fd);
        sup.sig.fd = -1;
    }
    return rc;
}

/* Tells the supervisor we are ready, and starts the watchdog pings. */
static void
ready(struct nd_loop *loop)
{
    send_status("READY=1\n");
    if (nd_notify_watchdog_ms() > 0) {
        nd_notify("WATCHDOG=1");
        nd_timer_start(loop, &sup.watchdog, nd_notify_watchdog_ms() / 2);
    }
}

static void
unsupervise(struct nd_loop *loop)
{
    nd_timer_stop(loop, &sup.status);
    nd_timer_stop(loop, &sup.watchdog);
    if (sup.sig.fd >= 0) {
        nd_loop_forget(loop, &sup.sig);
        close(sup.sig.fd);
        sup.sig.fd = -1;
    }
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "config",  required_argument, NULL, 'c' },
        { "service", required_argument, NULL, 's' },
        { "check",   no_argument,       NULL, 't' },
        { "version", no_argument,       NULL, 'V' },
        { "help",    no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *path = ND_DEFAULT_CONFIG;
    char *only[MAX_ONLY];
    size_t nonly = 0, i, nsvc, nlisten;
    struct nd_errors errs = { 0 };
    struct nd_config *cfg;
    struct nd_server srv;
    struct nd_loop loop;
    int opt, check = 0, rc;

    while ((opt = getopt_long(argc, argv, "c:s:tVh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            path = optarg;
            break;
        case 's':
            if (nonly == MAX_ONLY) {
                fprintf(stderr, "netdemo: at most %d -s options\n", MAX_ONLY);
                return EX_USAGE;
            }
            only[nonly++] = optarg;
            break;
        case 't':
            check = 1;
            break;
        case 'V':
            printf("netdemo %s\n", ND_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return EX_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "netdemo: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return EX_USAGE;
    }

    nd_log_init();
    cfg = nd_config_load(path, nd_modules, &errs);
    if (cfg != NULL && nd_config_select(cfg, only, nonly, &errs) < 0) {
        nd_config_free(cfg);
        cfg = NULL;
    }
    if (cfg == NULL) {
        for (i = 0; i < errs.n; i++) {
            if (check)
                fprintf(stderr, "%s\n", errs.v[i]);
            else
                nd_log(LOG_ERR, "%s", errs.v[i]);
        }
        nd_errors_free(&errs);
        return EX_CONFIG;
    }
    nlisten = count_listeners(cfg, &nsvc);
    if (check) {
        printf("netdemo: %s: configuration is valid (%zu service%s, %zu listener%s)\n",
               path, nsvc, nsvc == 1 ? "" : "s", nlisten, nlisten == 1 ? "" : "s");
        nd_config_free(cfg);
        return 0;
    }

    nd_log_set_level(cfg->log_level);
    raise_nofile(cfg);
    nd_notify_init();
    rc = nd_loop_init(&loop);
    if (rc == 0) {
        nd_server_init(&srv, &loop, path, nd_modules, only, nonly);
        rc = supervise(&loop, &srv);
    }
    if (rc < 0) {
        nd_log(LOG_ERR, "cannot start the event loop: %s", strerror(-rc));
        nd_config_free(cfg);
        return 1;
    }
    if (nd_server_inherit(&srv) < 0 || nd_server_apply(&srv, cfg) < 0 ||
        nd_server_check_inherited(&srv) < 0) {
        nd_config_free(cfg);
        unsupervise(&loop);
        nd_server_fini(&srv);
        nd_loop_fini(&loop);
        return 1;
    }
    nd_config_free(cfg);
    ready(&loop);
    nd_log(LOG_NOTICE, "netdemo %s running (pid %ld, %zu service%s)", ND_VERSION,
           (long)getpid(), nsvc, nsvc == 1 ? "" : "s");

    rc = nd_loop_run(&loop);
    if (rc < 0)
        nd_log(LOG_ERR, "epoll_wait: %s", strerror(-rc));
    unsupervise(&loop);
    nd_server_fini(&srv);
    nd_loop_fini(&loop);
    nd_log(LOG_NOTICE, "stopped");
    return rc < 0 ? 1 : 0;
}
