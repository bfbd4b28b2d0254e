/* service.h: one generation of a configured service: its module and the
 * module's settings, the core's limits for its connections, and its
 * counters, which outlive a reload. The server holds a reference while the
 * service is current; each connection holds one, so a connection accepted
 * before a reload keeps the settings it was accepted with. */
#ifndef ND_SERVICE_H
#define ND_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "nd/module.h"

struct nd_loop;

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
    uint64_t mod[ND_MOD_COUNTERS];  /* for the module, named by its counters */
};

struct nd_service {
    char *name;
    const struct nd_module *module;
    void *mconf;
    uint64_t idle_timeout;      /* ms, 0 = never */
    uint64_t max_conns;         /* 0 = daemon-wide limit only */
    uint64_t hwm;               /* output high-water mark, bytes */
    size_t in_max;              /* input buffer limit, bytes */
    int access_log;             /* the module writes access lines */
    struct nd_stats *stats;
    struct nd_loop *loop;       /* for the daemon's uptime */
    unsigned refs;
};

/* A new service named name for module, taking mconf (freed with the
 * service). Its counters are those of prev when prev is not NULL (the
 * previous generation of the same service), else new ones. NULL when
 * memory is short (mconf is then left to the caller). */
struct nd_service *nd_service_new(const char *name, const struct nd_module *module,
                                  void *mconf, struct nd_service *prev, struct nd_loop *loop);

void nd_service_ref(struct nd_service *svc);
void nd_service_unref(struct nd_service *svc);

/* The services of the configuration in force, for the reports that cover
 * the whole process (nd_services_count, nd_services_at). The server sets
 * them on every commit (v stays the caller's and must live until the next
 * call) and sets none (NULL, 0) when it lets them go. */
void nd_services_set_current(struct nd_service *const *v, size_t n);

/* Counts a reload: done (refused = 0) or refused. */
void nd_services_count_reload(int refused);

#endif
