/* server.h: the running daemon. A server owns the services of the applied
 * configuration, their listeners and every open connection; it applies a
 * new configuration as a whole or not at all, and stops gracefully.
 * Signals, sd_notify STATUS and the watchdog are its caller's (main.c). */
#ifndef ND_SERVER_H
#define ND_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "nd/addr.h"
#include "conn.h"
#include "loop.h"

struct nd_config;
struct nd_listener;
struct nd_module;
struct nd_service;

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
    const struct nd_module *const *modules;     /* the registry */
    char *const *only;          /* -s NAME filters */
    size_t nonly;
    uint64_t max_conns;
    uint64_t shutdown_timeout;
    struct nd_service **services;
    size_t nservices;
    struct nd_listener *listeners;
    struct nd_conn_set conns;
    int stopping;
    struct nd_timer stop_timer;
    struct nd_inherited *inherited;
    size_t ninherited;
    /* Called when connections open or close, or the services change; may
     * be NULL. main.c refreshes the supervisor's STATUS from it. */
    void (*changed)(struct nd_server *s);
};

/* A configuration prepared beside the running one: its services, the
 * listeners it keeps from the running one, the ones it opened, and those of
 * the running one it will close. */
struct nd_apply {
    struct nd_config *cfg;
    struct nd_service **svcs;
    size_t nsvcs;
    struct nd_listener *kept, *fresh, *old;
};

void nd_server_init(struct nd_server *s, struct nd_loop *loop, const char *path,
                    const struct nd_module *const *modules, char *const *only, size_t nonly);

/* Applying a configuration, in three steps. prepare does everything that
 * can fail (services, new sockets, watching them) beside the running
 * configuration, and returns 0, or -1 with "reason" in err (nothing
 * changed then, nothing to undo). commit then swaps it in and cannot fail;
 * undo throws it away instead. Takes the module settings out of cfg; the
 * caller still frees cfg. */
int nd_server_prepare(struct nd_server *s, struct nd_config *cfg, struct nd_apply *a,
                      char *err, size_t errlen);
void nd_server_commit(struct nd_server *s, struct nd_apply *a);
void nd_server_undo(struct nd_server *s, struct nd_apply *a);

/* prepare, then commit: 0, or -1 with the reason logged. */
int nd_server_apply(struct nd_server *s, struct nd_config *cfg);

/* Takes the sockets systemd passed (LISTEN_PID, LISTEN_FDS,
 * LISTEN_FDNAMES), and unsets those variables. 0, or -1 with a log line. */
int nd_server_inherit(struct nd_server *s);

/* After the first apply: an inherited socket that no listener uses is an
 * error, named in the log. Returns 0 or -1. */
int nd_server_check_inherited(const struct nd_server *s);

/* Re-reads the configuration file and applies it, or keeps the old one.
 * Returns 0 when the new configuration is live, -1 when it was refused,
 * with the first reason ("FILE:LINE: message") in why. */
int nd_server_reload(struct nd_server *s, char *why, size_t whylen);

/* Graceful stop: no new connections; open ones finish sending what they owe
 * (up to shutdown_timeout), then the loop ends. A second call forces it. */
void nd_server_stop(struct nd_server *s);

/* "2 services (echo, http: draining), 5 listeners, 12 connections": a
 * module's status word (module.h) after its service's name. */
void nd_server_describe(const struct nd_server *s, char *buf, size_t len);

/* Logs one line per service at notice (SIGUSR1):
 * "http: connections 3 (total 120), bytes in 5120 out 40960, datagrams in 0
 * out 0 dropped 0, requests 120, requests_1xx 0, ..." */
void nd_server_log_counters(const struct nd_server *s);

void nd_server_fini(struct nd_server *s);

#endif
