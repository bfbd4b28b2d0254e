/* http_metrics.c: the reports on every service of the process, whatever its
 * module: /metrics in the Prometheus text exposition format 0.0.4, and
 * /stats as JSON (the answering service's counters at the top, as before,
 * then every service's). Both read the counters only through the module
 * API (nd_services_at and the accessors), so echo is covered like http. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "chat_room.h"
#include "http.h"
#include "nd/buf.h"
#include "nd/json.h"
#include "nd/module.h"
#include "nd/util.h"

/* A report being built: after the first failure (memory) every further
 * put is skipped, and the caller checks once at the end. */
struct out {
    struct nd_buf *b;
    int failed;
};

static void
put(struct out *o, const char *s)
{
    if (!o->failed && nd_buf_append(&o->b, s, strlen(s)) < 0)
        o->failed = 1;
}

/* For numbers and identifiers: names of services go through put_label or
 * put_json, which take any length. */
static void __attribute__((format(printf, 2, 3)))
putf(struct out *o, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    int n;

    if (o->failed)
        return;
    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp) || nd_buf_append(&o->b, tmp, (size_t)n) < 0)
        o->failed = 1;
}

static void
put_json(struct out *o, const char *s)
{
    if (!o->failed && nd_json_string(&o->b, s, strlen(s)) < 0)
        o->failed = 1;
}

/* A label value as the text format wants it: backslash, double quote and
 * line feed escaped, every other byte as it is. */
static void
put_label(struct out *o, const char *s)
{
    size_t n;

    while (*s != '\0') {
        n = strcspn(s, "\\\"\n");
        if (!o->failed && nd_buf_append(&o->b, s, n) < 0)
            o->failed = 1;
        s += n;
        if (*s == '\0')
            break;
        put(o, *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : "\\n");
        s++;
    }
}

static int
respond(struct nd_conn *c, struct http_conn *h, struct out *o, const char *ctype)
{
    int rc;

    if (o->failed) {
        nd_buf_free(o->b);
        return -1;
    }
    rc = nd_http_respond(c, h, 200, ctype, nd_buf_head(o->b), nd_buf_len(o->b), NULL);
    nd_buf_free(o->b);
    return rc;
}

/* ---- /metrics ---- */

#define C(f) offsetof(struct nd_counters, f)

/* The core's counters, one family each, with a sample per service. */
static const struct core_metric {
    const char *name, *type, *help;
    size_t off;     /* of the value in struct nd_counters */
} core_metrics[] = {
    { "netdemo_connections_open", "gauge",
      "Stream connections (TCP, unix) open now.", C(conns_cur) },
    { "netdemo_connections_total", "counter",
      "Stream connections accepted.", C(conns_total) },
    { "netdemo_received_bytes_total", "counter",
      "Bytes received, streams and datagrams.", C(bytes_in) },
    { "netdemo_sent_bytes_total", "counter",
      "Bytes sent, streams and datagrams.", C(bytes_out) },
    { "netdemo_received_datagrams_total", "counter",
      "UDP datagrams received.", C(dgrams_in) },
    { "netdemo_sent_datagrams_total", "counter",
      "UDP datagrams sent.", C(dgrams_out) },
    { "netdemo_dropped_datagrams_total", "counter",
      "UDP replies dropped because the socket could not take them.", C(dgrams_dropped) },
};

static void
family(struct out *o, const char *name, const char *type, const char *help)
{
    putf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* NAME{service="S",module="M" -- the caller closes the braces. */
static void
sample_open(struct out *o, const char *name, const struct nd_service *svc)
{
    put(o, name);
    put(o, "{service=\"");
    put_label(o, nd_service_name(svc));
    put(o, "\",module=\"");
    put_label(o, nd_service_module(svc)->name);
    put(o, "\"");
}

static void
sample(struct out *o, const char *name, const struct nd_service *svc, uint64_t v)
{
    sample_open(o, name, svc);
    putf(o, "} %llu\n", (unsigned long long)v);
}

/* A module counter named BASE_Nxx (requests_2xx) is BASE by status class:
 * returns the length of BASE, else 0. */
static size_t
class_base(const char *name)
{
    size_t n = strlen(name);

    if (n < 5 || name[n - 4] != '_' || name[n - 3] < '0' || name[n - 3] > '9' ||
        name[n - 2] != 'x' || name[n - 1] != 'x')
        return 0;
    return n - 4;
}

/* Whether slot j of names starts a class family (no earlier slot has its
 * base), or, for a plain name, is the sum of a class family (left out:
 * Prometheus sums the classes itself). */
static int
class_seen_before(const char *const *names, size_t j, size_t base)
{
    size_t i;

    for (i = 0; i < j; i++)
        if (class_base(names[i]) == base && strncmp(names[i], names[j], base) == 0)
            return 1;
    return 0;
}

static int
is_class_sum(const char *const *names, const char *name)
{
    size_t i, n = strlen(name);

    for (i = 0; names[i] != NULL && i < ND_MOD_COUNTERS; i++)
        if (class_base(names[i]) == n && strncmp(names[i], name, n) == 0)
            return 1;
    return 0;
}

/* Slot j of module m: one family, a sample for each service of m. */
static void
module_family(struct out *o, const struct nd_module *m, size_t j)
{
    const char *const *names = m->counters;
    const char *name = names[j];
    size_t base = class_base(name), i, k;
    int gauge = (m->gauges >> j) & 1u;
    char fam[160];

    if (base > 0 && class_seen_before(names, j, base))
        return;
    if (base == 0 && is_class_sum(names, name))
        return;
    if (base > 0) {
        snprintf(fam, sizeof(fam), "netdemo_%s_%.*s_total", m->name, (int)base, name);
        putf(o, "# HELP %s The %s module's %.*s, by status class.\n# TYPE %s counter\n",
             fam, m->name, (int)base, name, fam);
    } else {
        snprintf(fam, sizeof(fam), "netdemo_%s_%s%s", m->name, name, gauge ? "" : "_total");
        putf(o, "# HELP %s The %s module's %s (%s).\n# TYPE %s %s\n", fam, m->name, name,
             gauge ? "its value now" : "a count", fam, gauge ? "gauge" : "counter");
    }
    for (i = 0; i < nd_services_count(); i++) {
        struct nd_service *svc = nd_services_at(i);
        const uint64_t *v = nd_service_module_counters(svc);

        if (nd_service_module(svc) != m)
            continue;
        if (base == 0) {
            sample(o, fam, svc, v[j]);
            continue;
        }
        for (k = j; names[k] != NULL && k < ND_MOD_COUNTERS; k++) {
            if (class_base(names[k]) != base || strncmp(names[k], name, base) != 0)
                continue;
            sample_open(o, fam, svc);
            putf(o, ",class=\"%s\"} %llu\n", names[k] + base + 1,
                 (unsigned long long)v[k]);
        }
    }
}

/* Each module that some service runs, once, in the order of its first
 * service. */
static void
module_families(struct out *o)
{
    size_t i, k, j;

    for (i = 0; i < nd_services_count(); i++) {
        const struct nd_module *m = nd_service_module(nd_services_at(i));

        for (k = 0; k < i; k++)
            if (nd_service_module(nd_services_at(k)) == m)
                break;
        if (k < i || m->counters == NULL)
            continue;
        for (j = 0; m->counters[j] != NULL && j < ND_MOD_COUNTERS; j++)
            module_family(o, m, j);
    }
}

/* Chat rooms live per process, keyed by the service's name: a sample for
 * every service of the http module (mod, the answering one's). */
static void
chat_families(struct out *o, const struct nd_module *mod)
{
    static const char *const fams[2][2] = {
        { "netdemo_chat_rooms", "Chat rooms held now (with members, or keeping history)." },
        { "netdemo_chat_members", "Chat members present now (WebSocket; held polls are not)." },
    };
    size_t f, i;

    for (f = 0; f < 2; f++) {
        family(o, fams[f][0], "gauge", fams[f][1]);
        for (i = 0; i < nd_services_count(); i++) {
            struct nd_service *svc = nd_services_at(i);
            uint64_t v[2];

            if (nd_service_module(svc) != mod)
                continue;
            nd_chat_count(nd_service_name(svc), &v[0], &v[1]);
            sample(o, fams[f][0], svc, v[f]);
        }
    }
}

int
nd_http_metrics(struct nd_conn *c, struct http_conn *h)
{
    const struct nd_service *self = nd_conn_service(c);
    struct out o = { NULL, 0 };
    struct nd_counters k;
    uint64_t done, refused;
    size_t f, i;

    nd_service_counters(self, &k);
    nd_reload_counts(&done, &refused);
    family(&o, "netdemo_build_info", "gauge", "The netdemo running, by version; always 1.");
    put(&o, "netdemo_build_info{version=\"");
    put_label(&o, ND_VERSION);
    put(&o, "\"} 1\n");
    family(&o, "netdemo_uptime_seconds", "gauge", "Seconds since the daemon started.");
    putf(&o, "netdemo_uptime_seconds %llu.%03llu\n", (unsigned long long)(k.uptime_ms / 1000),
         (unsigned long long)(k.uptime_ms % 1000));
    family(&o, "netdemo_reloads_total", "counter",
           "Configuration reloads: done (the new one went live) or refused.");
    putf(&o, "netdemo_reloads_total{result=\"done\"} %llu\n"
         "netdemo_reloads_total{result=\"refused\"} %llu\n",
         (unsigned long long)done, (unsigned long long)refused);
    for (f = 0; f < ND_ARRAY_LEN(core_metrics); f++) {
        const struct core_metric *cm = &core_metrics[f];

        family(&o, cm->name, cm->type, cm->help);
        for (i = 0; i < nd_services_count(); i++) {
            struct nd_service *svc = nd_services_at(i);
            uint64_t v;

            nd_service_counters(svc, &k);
            memcpy(&v, (const char *)&k + cm->off, sizeof(v));
            sample(&o, cm->name, svc, v);
        }
    }
    module_families(&o);
    chat_families(&o, nd_service_module(self));
    return respond(c, h, &o, "text/plain; version=0.0.4; charset=utf-8");
}

/* ---- /stats ---- */

/* "connections":{...},"bytes":{...},"datagrams":{...},"counters":{...} */
static void
stats_counts(struct out *o, struct nd_service *svc)
{
    const char *const *names = nd_service_module(svc)->counters;
    const uint64_t *m = nd_service_module_counters(svc);
    struct nd_counters k;
    size_t i;

    nd_service_counters(svc, &k);
    putf(o, "\"connections\":{\"current\":%llu,\"total\":%llu},"
         "\"bytes\":{\"in\":%llu,\"out\":%llu},"
         "\"datagrams\":{\"in\":%llu,\"out\":%llu,\"dropped\":%llu},\"counters\":{",
         (unsigned long long)k.conns_cur, (unsigned long long)k.conns_total,
         (unsigned long long)k.bytes_in, (unsigned long long)k.bytes_out,
         (unsigned long long)k.dgrams_in, (unsigned long long)k.dgrams_out,
         (unsigned long long)k.dgrams_dropped);
    for (i = 0; names != NULL && names[i] != NULL && i < ND_MOD_COUNTERS; i++)
        putf(o, "%s\"%s\":%llu", i ? "," : "", names[i], (unsigned long long)m[i]);
    put(o, "}");
}

int
nd_http_stats(struct nd_conn *c, struct http_conn *h, const struct http_conf *cf)
{
    struct nd_service *self = nd_conn_service(c);
    const struct nd_module *mod = nd_service_module(self);
    const uint64_t *m = nd_service_module_counters(self);
    struct out o = { NULL, 0 };
    struct nd_counters k;
    uint64_t done, refused;
    size_t i;

    nd_service_counters(self, &k);
    nd_reload_counts(&done, &refused);
    put(&o, "{\"service\":");
    put_json(&o, nd_service_name(self));
    /* m[0..5]: the answers, all and by class (mod_http.c's slots). */
    putf(&o, ",\"version\":\"%s\",\"uptime_ms\":%llu,"
         "\"requests\":{\"total\":%llu,\"1xx\":%llu,\"2xx\":%llu,"
         "\"3xx\":%llu,\"4xx\":%llu,\"5xx\":%llu},\"drain\":%s,",
         ND_VERSION, (unsigned long long)k.uptime_ms,
         (unsigned long long)m[0], (unsigned long long)m[1], (unsigned long long)m[2],
         (unsigned long long)m[3], (unsigned long long)m[4], (unsigned long long)m[5],
         cf->drain ? "true" : "false");
    stats_counts(&o, self);
    putf(&o, ",\"reloads\":{\"done\":%llu,\"refused\":%llu},\"services\":[",
         (unsigned long long)done, (unsigned long long)refused);
    for (i = 0; i < nd_services_count(); i++) {
        struct nd_service *svc = nd_services_at(i);

        put(&o, i ? ",{\"name\":" : "{\"name\":");
        put_json(&o, nd_service_name(svc));
        put(&o, ",\"module\":");
        put_json(&o, nd_service_module(svc)->name);
        put(&o, ",");
        stats_counts(&o, svc);
        if (nd_service_module(svc) == mod) {
            uint64_t rooms, members;

            nd_chat_count(nd_service_name(svc), &rooms, &members);
            putf(&o, ",\"chat\":{\"rooms\":%llu,\"members\":%llu}",
                 (unsigned long long)rooms, (unsigned long long)members);
        }
        put(&o, "}");
    }
    put(&o, "]}\n");
    return respond(c, h, &o, "application/json");
}
