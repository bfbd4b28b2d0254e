/* service.c: services and their counters, the accessors the module API
 * gives a module for its own service, and the list of the services in force
 * with the process's reload counts, for reports on the whole process. */
#include <stdlib.h>
#include <string.h>

#include "nd/buf.h"
#include "loop.h"
#include "nd/module.h"
#include "service.h"

/* Set by the server on each commit: its own array, not a copy. */
static struct nd_service *const *current;
static size_t ncurrent;
static uint64_t reloads_done, reloads_refused;

struct nd_service *
nd_service_new(const char *name, const struct nd_module *module, void *mconf,
               struct nd_service *prev, struct nd_loop *loop)
{
    struct nd_service *svc = calloc(1, sizeof(*svc));

    if (svc == NULL || (svc->name = strdup(name)) == NULL) {
        free(svc);
        return NULL;
    }
    if (prev != NULL) {
        svc->stats = prev->stats;
    } else if ((svc->stats = calloc(1, sizeof(*svc->stats))) == NULL) {
        free(svc->name);
        free(svc);
        return NULL;
    }
    svc->stats->refs++;
    svc->module = module;
    svc->mconf = mconf;
    svc->in_max = ND_BUF_CHUNK;
    if (module->input_max && module->input_max(mconf) > ND_BUF_CHUNK)
        svc->in_max = module->input_max(mconf);
    svc->loop = loop;
    svc->refs = 1;
    return svc;
}

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

int
nd_service_access_log(const struct nd_service *svc)
{
    return svc->access_log;
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

    out->uptime_ms = nd_loop_now(svc->loop) - svc->loop->started;
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

const struct nd_module *
nd_service_module(const struct nd_service *svc)
{
    return svc->module;
}

void
nd_services_set_current(struct nd_service *const *v, size_t n)
{
    current = v;
    ncurrent = v != NULL ? n : 0;
}

void
nd_services_count_reload(int refused)
{
    if (refused)
        reloads_refused++;
    else
        reloads_done++;
}

size_t
nd_services_count(void)
{
    return ncurrent;
}

struct nd_service *
nd_services_at(size_t i)
{
    return i < ncurrent ? current[i] : NULL;
}

void
nd_reload_counts(uint64_t *done, uint64_t *refused)
{
    *done = reloads_done;
    *refused = reloads_refused;
}
