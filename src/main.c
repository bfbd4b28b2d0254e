/* main.c: the command line, the configuration check, and the life of the
 * daemon: load, open listeners, run the loop, exit. Always in the
 * foreground; systemd (or a terminal) is the supervisor. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
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
        "usage: netdemo [-c FILE] [-s NAME]... [-t | --check | -T | --dump-config]\n"
        "               [-V | --version] [-h | --help]\n"
        "       netdemo -R PID | --reload PID\n"
        "  -c, --config FILE   configuration file (default %s)\n"
        "  -s, --service NAME  run only service NAME (repeatable; default: all)\n"
        "  -t, --check         check the configuration and exit\n"
        "  -T, --dump-config   check it, then print it with every key, defaults\n"
        "                      included, as a file -c accepts, and exit\n"
        "  -R, --reload PID    make the netdemo running as PID reload (SIGHUP) and wait\n"
        "                      for its verdict: 0 once the new configuration is live,\n"
        "                      1 with the reason if it was refused\n"
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

/* ---- the reload verdict: `netdemo --reload PID` and the daemon ----
 *
 * systemd 252 has no Type=notify-reload: a reload job ends when ExecReload=
 * exits, and fails only if it fails. So ExecReload= runs `netdemo --reload
 * $MAINPID`, which signals the daemon and waits for its verdict. The
 * client binds the abstract unix datagram socket "@netdemo-reload-PID" (no
 * file: nothing to create or own under ProtectSystem= and a dynamic user;
 * the name lives in the network namespace, which ExecReload= shares with the
 * daemon), reads the monotonic clock, then sends SIGHUP. After every reload
 * attempt the daemon sends "OK T" or "FAIL T reason" to that name, T being
 * the monotonic time (us) at which it began, before it read the file; with
 * nobody bound there (a plain kill -HUP) that is one failed sendto(). The
 * client takes the first verdict sent by PID (SCM_CREDENTIALS) whose T is
 * not before its own signal. SIGHUPs coalesce, but any reload that began
 * after the client's clock reading read the file after it, so it answers
 * the client whoever's signal started it; and the client's signal makes sure
 * one such reload happens. */

#define RELOAD_WAIT_MS 30000

static socklen_t
reload_addr(long pid, struct sockaddr_un *sa)
{
    int n;

    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    n = snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1, "netdemo-reload-%ld", pid);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

static unsigned long long
monotonic_usec(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000;
}

/* One datagram: 1 for an OK, 0 for a FAIL (reason in why), -1 for anything
 * else (not from pid, malformed, or a verdict on a reload begun before t0). */
static int
read_verdict(int fd, long pid, unsigned long long t0, char *why, size_t whylen)
{
    char buf[1024], *end;
    union {
        struct cmsghdr h;
        char b[CMSG_SPACE(sizeof(struct ucred))];
    } cm;
    struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
                         .msg_control = &cm, .msg_controllen = sizeof(cm) };
    struct cmsghdr *c;
    struct ucred u = { 0 };
    unsigned long long t;
    ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT);
    int ok;

    if (n < 0)
        return -1;
    buf[n] = '\0';
    for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS)
            memcpy(&u, CMSG_DATA(c), sizeof(u));
    if ((long)u.pid != pid)
        return -1;
    if (strncmp(buf, "OK ", 3) == 0)
        ok = 1;
    else if (strncmp(buf, "FAIL ", 5) == 0)
        ok = 0;
    else
        return -1;
    errno = 0;
    t = strtoull(buf + (ok ? 3 : 5), &end, 10);
    if (errno != 0 || t < t0 || (*end != '\0' && *end != ' '))
        return -1;
    snprintf(why, whylen, "%s", *end == ' ' ? end + 1 : "no reason given");
    return ok;
}

/* netdemo --reload PID: 0 once the new configuration is live, 1 if it was
 * refused or no verdict came (the reason on stderr: ExecReload='s lands in
 * the journal), EX_USAGE for a PID that is not one. */
static int
reload_client(const char *arg)
{
    struct sockaddr_un sa;
    socklen_t salen;
    unsigned long long t0, deadline;
    char why[1024], *end;
    long pid;
    int fd, one = 1, rc = 1;

    errno = 0;
    pid = strtol(arg, &end, 10);
    if (errno != 0 || end == arg || *end != '\0' || pid <= 0 || pid > 0x7fffffffL) {
        fprintf(stderr, "netdemo: --reload: '%s' is not a process id\n", arg);
        return EX_USAGE;
    }
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0) {
        fprintf(stderr, "netdemo: --reload: socket: %s\n", strerror(errno));
        if (fd >= 0)
            close(fd);
        return 1;
    }
    salen = reload_addr(pid, &sa);
    deadline = monotonic_usec() + RELOAD_WAIT_MS * 1000ULL;
    /* One waiter at a time per daemon: a second one waits its turn. */
    while (bind(fd, (struct sockaddr *)&sa, salen) < 0) {
        if (errno != EADDRINUSE || monotonic_usec() >= deadline) {
            fprintf(stderr, "netdemo: --reload %ld: %s\n", pid, errno == EADDRINUSE ?
                    "another reload is still waiting for its verdict" : strerror(errno));
            goto out;
        }
        poll(NULL, 0, 100);
    }
    t0 = monotonic_usec();
    if (kill((pid_t)pid, SIGHUP) < 0) {
        fprintf(stderr, "netdemo: --reload %ld: %s\n", pid, strerror(errno));
        goto out;
    }
    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        unsigned long long now = monotonic_usec();
        int n, v;

        if (now >= deadline) {
            fprintf(stderr, "netdemo: --reload %ld: no verdict within %d s\n",
                    pid, RELOAD_WAIT_MS / 1000);
            break;
        }
        n = poll(&p, 1, 200);
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "netdemo: --reload: poll: %s\n", strerror(errno));
            break;
        }
        if (n <= 0) {
            if (kill((pid_t)pid, 0) < 0 && errno == ESRCH) {
                fprintf(stderr, "netdemo: --reload %ld: the process exited\n", pid);
                break;
            }
            continue;
        }
        v = read_verdict(fd, pid, t0, why, sizeof(why));
        if (v == 1) {
            rc = 0;
            break;
        }
        if (v == 0) {
            fprintf(stderr, "netdemo: reload refused, the previous configuration stays: %s\n",
                    why);
            break;
        }
    }
out:
    close(fd);
    return rc;
}

/* The daemon's side: the verdict on the reload begun at t (why NULL: OK). */
static void
send_verdict(unsigned long long t, const char *why)
{
    struct sockaddr_un sa;
    socklen_t salen = reload_addr((long)getpid(), &sa);
    char msg[1024];
    int n, fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

    if (fd < 0)
        return;
    if (why != NULL)
        n = snprintf(msg, sizeof(msg), "FAIL %llu %s", t, why);
    else
        n = snprintf(msg, sizeof(msg), "OK %llu", t);
    if (n > 0)
        (void)sendto(fd, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1,
                     MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
    close(fd);
}

/* ---- the supervisor's side: signals, STATUS=, the watchdog ---- */

static struct {
    struct nd_server *srv;
    struct nd_watcher sig;
    struct nd_timer status;         /* STATUS= at most once a second */
    struct nd_timer watchdog;       /* WATCHDOG=1 at half the interval */
    char failed[512];               /* why the last reload was refused, or "" */
} sup;

static void
send_status(const char *prefix)
{
    char what[512];

    nd_server_describe(sup.srv, what, sizeof(what));
    if (sup.failed[0] != '\0')
        nd_notify("%sSTATUS=reload failed: %s; running the previous configuration: %s",
                  prefix, sup.failed, what);
    else
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

/* SIGHUP. The last refusal stays in STATUS= until a reload succeeds. */
static void
reload(struct nd_server *s)
{
    unsigned long long t = monotonic_usec();
    char why[512];

    nd_notify("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading", t);
    if (nd_server_reload(s, why, sizeof(why)) < 0)
        snprintf(sup.failed, sizeof(sup.failed), "%s", why[0] ? why : "refused");
    else
        sup.failed[0] = '\0';
    send_status("READY=1\n");
    send_verdict(t, sup.failed[0] ? sup.failed : NULL);
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
            else
                send_verdict(monotonic_usec(), "stopping");
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
        case SIGUSR1:
            nd_server_log_counters(sup.srv);
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
    sigaddset(&set, SIGUSR1);
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
        { "dump-config", no_argument,   NULL, 'T' },
        { "reload",  required_argument, NULL, 'R' },
        { "version", no_argument,       NULL, 'V' },
        { "help",    no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *path = ND_DEFAULT_CONFIG, *reload_pid = NULL;
    char *only[MAX_ONLY];
    size_t nonly = 0, i, nsvc, nlisten;
    struct nd_errors errs = { 0 };
    struct nd_config *cfg;
    struct nd_server srv;
    struct nd_loop loop;
    int opt, check = 0, dump = 0, rc;

    while ((opt = getopt_long(argc, argv, "c:s:tTVhR:", longopts, NULL)) != -1) {
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
        case 'T':
            dump = 1;
            break;
        case 'R':
            reload_pid = optarg;
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
    if (reload_pid != NULL)
        return reload_client(reload_pid);

    check |= dump;
    nd_log_init();
    cfg = nd_config_load(path, nd_modules, &errs);
    if (cfg != NULL && nd_config_select(cfg, only, nonly, &errs) < 0) {
        nd_config_free(cfg);
        cfg = NULL;
    }
    if (cfg == NULL) {
        char summary[512];

        nd_errors_summary(&errs, path, summary, sizeof(summary));
        for (i = 0; i < errs.n; i++) {
            if (check)
                fprintf(stderr, "%s\n", errs.v[i]);
            else
                nd_log(LOG_ERR, "%s", errs.v[i]);
        }
        if (check)
            fprintf(stderr, "%s\n", summary);
        else
            nd_log(LOG_ERR, "%s", summary);
        nd_errors_free(&errs);
        return EX_CONFIG;
    }
    nlisten = count_listeners(cfg, &nsvc);
    if (dump) {
        rc = nd_config_dump(cfg, stdout);
        if (rc < 0)
            fprintf(stderr, "netdemo: -T: writing the configuration: %s\n", strerror(errno));
        nd_config_free(cfg);
        return rc < 0 ? 1 : 0;
    }
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
