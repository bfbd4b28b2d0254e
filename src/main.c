/* main.c: the command line, the configuration check, and the life of the
 * daemon: load, open listeners, run the loop, exit. Always in the
 * foreground; systemd (or a terminal) is the supervisor. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sysexits.h>
#include <unistd.h>

#include "nd/config.h"
#include "nd/log.h"
#include "nd/notify.h"
#include "nd/server.h"
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
    cfg = nd_config_load(path, &errs);
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
    if (rc == 0)
        rc = nd_server_init(&srv, &loop, path, only, nonly);
    if (rc < 0) {
        nd_log(LOG_ERR, "cannot start the event loop: %s", strerror(-rc));
        nd_config_free(cfg);
        return 1;
    }
    if (nd_server_inherit(&srv) < 0 || nd_server_apply(&srv, cfg) < 0 ||
        nd_server_check_inherited(&srv) < 0) {
        nd_config_free(cfg);
        nd_server_fini(&srv);
        nd_loop_fini(&loop);
        return 1;
    }
    nd_config_free(cfg);
    nd_server_ready(&srv);
    nd_log(LOG_NOTICE, "netdemo %s running (pid %ld, %zu service%s)", ND_VERSION,
           (long)getpid(), nsvc, nsvc == 1 ? "" : "s");

    rc = nd_loop_run(&loop);
    if (rc < 0)
        nd_log(LOG_ERR, "epoll_wait: %s", strerror(-rc));
    nd_server_fini(&srv);
    nd_loop_fini(&loop);
    nd_log(LOG_NOTICE, "stopped");
    return rc < 0 ? 1 : 0;
}
