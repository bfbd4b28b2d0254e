/* server.h: the running daemon. A server owns the services of the applied
 * configuration, their listeners and every open connection; it applies a
 * new configuration as a whole or not at all, and stops gracefully. */
#ifndef ND_SERVER_H
#define ND_SERVER_H

#include <stdint.h>

#include "nd/addr.h"
#include "nd/loop.h"

struct nd_config;
struct nd_conn;
struct nd_listener;
struct nd_module;

/* Counters of one service, kept across reloads (shared by the old and the
 * new generation of a service with the same name). */
struct nd_stats {
    unsigned refs;
    uint64_t conns_total;
    uint64_t conns_cur;
    uint64_t bytes_in;
    uint64_t bytes_out;
    uint64_t dgrams_in;
    uint64_t dgrams_out;
    uint64_t dgrams_dropped;
    uint64_t mod[8];            /* ND_MOD_COUNTERS, for the module */
};

/* One generation of a configured service. The server holds a reference while
 * the service is current; each connection holds one, so a connection
 * accepted before a reload keeps the settings it was accepted with. */
struct nd_service {
    char *name;
    const struct nd_module *module;
    void *mconf;
    uint64_t idle_timeout;      /* ms, 0 = never */
    uint64_t max_conns;         /* 0 = daemon-wide limit only */
    uint64_t hwm;               /* output high-water mark, bytes */
    size_t in_max;              /* input buffer limit, bytes */
    struct nd_stats *stats;
    struct nd_server *srv;
    unsigned refs;
};

/* A socket passed in by systemd (socket activation). */
struct nd_inherited {
    int fd;
    int used;                   /* a listener of the current config has it */
    struct nd_addr addr;
    char name[64];              /* from LISTEN_FDNAMES */
};

struct nd_server {
    struct nd_loop *loop;
    const char *config_path;
    char *const *only;          /* -s NAME filters */
    size_t nonly;
    uint64_t max_conns;
    uint64_t shutdown_timeout;
    struct nd_service **services;
    size_t nservices;
    struct nd_listener *listeners;
    struct nd_conn *conns;
    uint64_t nconns;
    int stopping;
    uint64_t started;           /* monotonic ms */
    struct nd_timer stop_timer;
    struct nd_timer status_timer;   /* STATUS= at most once a second */
    struct nd_timer watchdog;       /* WATCHDOG=1 at half the interval */
    struct nd_watcher sig;
    struct nd_inherited *inherited;
    size_t ninherited;
};

int nd_server_init(struct nd_server *s, struct nd_loop *loop, const char *path,
                   char *const *only, size_t nonly);

/* Opens the listeners of cfg and makes it current. On failure (a bind that
 * failed, memory) logs why, leaves everything as it was, and returns -1.
 * Takes the module settings out of cfg; the caller still frees cfg. */
int nd_server_apply(struct nd_server *s, struct nd_config *cfg);

/* Takes the sockets systemd passed (LISTEN_PID, LISTEN_FDS,
 * LISTEN_FDNAMES), and unsets those variables. 0, or -1 with a log line. */
int nd_server_inherit(struct nd_server *s);

/* After the first apply: an inherited socket that no listener uses is an
 * error, named in the log. Returns 0 or -1. */
int nd_server_check_inherited(const struct nd_server *s);

/* Tells the supervisor we are ready, and starts the watchdog pings. */
void nd_server_ready(struct nd_server *s);

/* The number of connections changed: refresh STATUS= (within a second). */
void nd_server_touch(struct nd_server *s);

/* Re-reads the configuration file and applies it, or keeps the old one. */
void nd_server_reload(struct nd_server *s);

/* Graceful stop: no new connections; open ones finish sending what they owe
 * (up to shutdown_timeout), then the loop ends. A second call forces it. */
void nd_server_stop(struct nd_server *s);

void nd_server_fini(struct nd_server *s);

/* For listeners and connections. */
int nd_server_may_accept(const struct nd_server *s, const struct nd_service *svc);
void nd_server_conn_closed(struct nd_server *s);

void nd_service_ref(struct nd_service *svc);
void nd_service_unref(struct nd_service *svc);

#endif
