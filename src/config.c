/* config.c: from INI text to struct nd_config. Phase one gathers sections and
 * keys (catching duplicates); phase two gives each key its meaning from a
 * table, filling defaults; phase three checks what spans sections, such as
 * two services on one address. Every error is kept; none stops the reading
 * early, so the user sees all of them at once. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "conf_key.h"
#include "config.h"
#include "ini.h"
#include "nd/log.h"
#include "nd/module.h"
#include "nd/util.h"
#include "suggest.h"

#define MAX_FILE_SIZE (1024 * 1024)
#define GLOBAL_SECTION "netdemo"

/* Defaults. */
#define DEF_LOG_LEVEL        LOG_INFO
#define DEF_MAX_CONNECTIONS  10000
#define DEF_SHUTDOWN_TIMEOUT (10 * 1000)
#define DEF_IDLE_TIMEOUT     (300 * 1000)
#define DEF_BUFFER_SIZE      (64 * 1024)

/* Measured, then formatted into our own allocation: not vasprintf(), whose
 * allocations happen inside libc, where a sanitizer cannot unwind cleanly
 * (each of them then records a stack of its own, without end). */
void
nd_errors_add(struct nd_errors *e, const char *fmt, ...)
{
    char **v;
    va_list ap;
    char *s = NULL;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n >= 0 && (s = malloc((size_t)n + 1)) != NULL) {
        va_start(ap, fmt);
        vsnprintf(s, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    v = realloc(e->v, (e->n + 1) * sizeof(*v));
    if (s == NULL || v == NULL) {
        free(s);
        if (v)
            e->v = v;
        return;
    }
    e->v = v;
    e->v[e->n++] = s;
}

void
nd_errors_summary(const struct nd_errors *e, const char *path, char *buf, size_t len)
{
    snprintf(buf, len, "%s: %zu error%s, configuration not loaded", path, e->n,
             e->n == 1 ? "" : "s");
}

/* The line of "PATH:LINE: ...", or INT_MAX for an error of the whole file
 * ("PATH: ..."), which then comes last. */
static int
error_line(const char *e, const char *path)
{
    size_t n = strlen(path);
    long line = 0;
    const char *p;

    if (strncmp(e, path, n) != 0 || e[n] != ':')
        return INT_MAX;
    for (p = e + n + 1; *p >= '0' && *p <= '9' && line < INT_MAX / 10; p++)
        line = line * 10 + (*p - '0');
    return p > e + n + 1 && *p == ':' ? (int)line : INT_MAX;
}

struct sorted_error {
    int line;
    size_t at;
    char *text;
};

static int
by_line(const void *a, const void *b)
{
    const struct sorted_error *x = a, *y = b;

    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->at < y->at ? -1 : x->at > y->at;
}

/* Puts errors v[from..n) in line order, those of one line in the order they
 * were found: some are found only at a section's end (a missing listen, a
 * module's conf_check) or across sections (two services on one address). */
static void
sort_errors(struct nd_errors *e, size_t from, const char *path)
{
    struct sorted_error *v;
    size_t i, n = e->n - from;

    if (n < 2 || (v = malloc(n * sizeof(*v))) == NULL)
        return;
    for (i = 0; i < n; i++)
        v[i] = (struct sorted_error){ error_line(e->v[from + i], path), i,
                                      e->v[from + i] };
    qsort(v, n, sizeof(*v), by_line);
    for (i = 0; i < n; i++)
        e->v[from + i] = v[i].text;
    free(v);
}

void
nd_errors_free(struct nd_errors *e)
{
    size_t i;

    for (i = 0; i < e->n; i++)
        free(e->v[i]);
    free(e->v);
    e->v = NULL;
    e->n = 0;
}

/* ---- phase one: sections and keys ---- */

struct raw_pair {
    char *key;
    char *value;
    int line;
};

struct raw_section {
    char *name;
    int line;
    struct raw_pair *pairs;
    size_t npairs;
};

struct reader {
    const char *path;
    struct nd_errors *errs;
    struct raw_section *sections;
    size_t nsections;
    struct raw_section *cur;    /* NULL outside a section or in a duplicate */
    int in_section;
};

static struct raw_section *
find_section(struct reader *r, const char *name)
{
    size_t i;

    for (i = 0; i < r->nsections; i++)
        if (strcmp(r->sections[i].name, name) == 0)
            return &r->sections[i];
    return NULL;
}

static int
on_ini(void *ud, const struct nd_ini_event *ev)
{
    struct reader *r = ud;
    struct raw_section *s;
    struct raw_pair *p;
    size_t i;

    switch (ev->kind) {
    case ND_INI_ERROR:
        nd_errors_add(r->errs, "%s:%d: %s", r->path, ev->line, ev->value);
        if (ev->in_header) {
            /* The keys below a broken header belong to no section we can
             * name: pass over them rather than report each again. */
            r->in_section = 1;
            r->cur = NULL;
        }
        return 0;
    case ND_INI_SECTION:
        r->in_section = 1;
        s = find_section(r, ev->section);
        if (s != NULL) {
            nd_errors_add(r->errs, "%s:%d: duplicate section [%s] (first at line %d)",
                          r->path, ev->line, ev->section, s->line);
            r->cur = NULL;
            return 0;
        }
        s = realloc(r->sections, (r->nsections + 1) * sizeof(*s));
        if (s == NULL)
            return -ENOMEM;
        r->sections = s;
        r->cur = &s[r->nsections++];
        memset(r->cur, 0, sizeof(*r->cur));
        r->cur->name = strdup(ev->section);
        r->cur->line = ev->line;
        return r->cur->name ? 0 : -ENOMEM;
    case ND_INI_PAIR:
        if (!r->in_section) {
            nd_errors_add(r->errs, "%s:%d: key '%s' outside any section",
                          r->path, ev->line, ev->key);
            return 0;
        }
        if (r->cur == NULL)
            return 0;   /* inside a duplicate section, already reported */
        for (i = 0; i < r->cur->npairs; i++) {
            if (strcmp(r->cur->pairs[i].key, ev->key) == 0) {
                nd_errors_add(r->errs,
                              "%s:%d: duplicate key '%s' in [%s] (first at line %d)",
                              r->path, ev->line, ev->key, r->cur->name,
                              r->cur->pairs[i].line);
                return 0;
            }
        }
        p = realloc(r->cur->pairs, (r->cur->npairs + 1) * sizeof(*p));
        if (p == NULL)
            return -ENOMEM;
        r->cur->pairs = p;
        p = &p[r->cur->npairs++];
        p->key = strdup(ev->key);
        p->value = strdup(ev->value);
        p->line = ev->line;
        return p->key && p->value ? 0 : -ENOMEM;
    }
    return 0;
}

static void
reader_free(struct reader *r)
{
    size_t i, j;

    for (i = 0; i < r->nsections; i++) {
        for (j = 0; j < r->sections[i].npairs; j++) {
            free(r->sections[i].pairs[j].key);
            free(r->sections[i].pairs[j].value);
        }
        free(r->sections[i].pairs);
        free(r->sections[i].name);
    }
    free(r->sections);
}

/* ---- phase two: meaning ---- */

#define G(f) offsetof(struct nd_config, f)
#define S(f) offsetof(struct nd_service_conf, f)

/* log_level's words are indexed by priority, so the index is the level;
 * emerg, alert and crit would hide errors, and are not accepted. */
static const struct nd_conf_key global_keys[] = {
    { "log_level",        ND_CONF_ENUM,     G(log_level),        LOG_ERR, LOG_DEBUG,
      nd_log_level_names },
    { "max_connections",  ND_CONF_NUMBER,   G(max_connections),  1, 1000000, NULL },
    { "shutdown_timeout", ND_CONF_DURATION, G(shutdown_timeout), 0, 3600 * 1000, NULL },
};

static const struct nd_conf_key service_keys[] = {
    { "idle_timeout",    ND_CONF_DURATION, S(idle_timeout),    0, 7 * 24 * 3600 * 1000ULL,
      NULL },
    { "max_connections", ND_CONF_NUMBER,   S(max_connections), 1, 1000000, NULL },
    { "buffer_size",     ND_CONF_SIZE,     S(buffer_size),     1024, 64 * 1024 * 1024, NULL },
    { "reuseport",       ND_CONF_BOOL,     S(reuseport),       0, 0, NULL },
    { "defer_accept",    ND_CONF_DURATION, S(defer_accept),    0, 3600 * 1000, NULL },
    { "socket_mode",     ND_CONF_STRING,   S(socket_mode),     0, 0, NULL },
    { "socket_group",    ND_CONF_STRING,   S(socket_group),    0, 0, NULL },
    { "access_log",      ND_CONF_BOOL,     S(access_log),      0, 0, NULL },
};

static void
offer_keys(struct nd_suggest *sg, const struct nd_conf_key *keys, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        nd_suggest_offer(sg, keys[i].name);
}

/* "; did you mean 'module'?" or "" */
static const char *
did_you_mean(const struct nd_suggest *sg, char *buf, size_t len)
{
    if (sg->best == NULL)
        return "";
    snprintf(buf, len, "; did you mean '%s'?", sg->best);
    return buf;
}

static void
read_global(struct nd_config *cfg, const struct raw_section *s,
            struct nd_errors *errs)
{
    char err[512];
    size_t i;

    for (i = 0; i < s->npairs; i++) {
        const struct raw_pair *p = &s->pairs[i];
        int rc = nd_conf_set(global_keys, ND_ARRAY_LEN(global_keys), cfg, p->key,
                             p->value, err, sizeof(err));

        if (rc == ND_CONF_UNKNOWN) {
            struct nd_suggest sg;
            char hint[128];

            nd_suggest_init(&sg, p->key);
            offer_keys(&sg, global_keys, ND_ARRAY_LEN(global_keys));
            nd_errors_add(errs, "%s:%d: unknown key '%s' in [%s]%s", cfg->path,
                          p->line, p->key, s->name, did_you_mean(&sg, hint, sizeof(hint)));
        } else if (rc < 0)
            nd_errors_add(errs, "%s:%d: %s", cfg->path, p->line, err);
    }
}

static const struct raw_pair *
find_pair(const struct raw_section *s, const char *key)
{
    size_t i;

    for (i = 0; i < s->npairs; i++)
        if (strcmp(s->pairs[i].key, key) == 0)
            return &s->pairs[i];
    return NULL;
}

/* listen = ADDR, ADDR, ... */
static void
read_listen(struct nd_config *cfg, struct nd_service_conf *svc,
            const struct raw_pair *p, struct nd_errors *errs)
{
    char *list = strdup(p->value), *item, *save = NULL;
    char err[256];

    if (list == NULL)
        return;
    for (item = strtok_r(list, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        struct nd_listen *l;
        char *end = item + strlen(item);

        while (*item == ' ' || *item == '\t')
            item++;
        while (end > item && (end[-1] == ' ' || end[-1] == '\t'))
            *--end = '\0';
        if (*item == '\0')
            continue;   /* caught below by counting commas */
        l = realloc(svc->listen, (svc->nlisten + 1) * sizeof(*l));
        if (l == NULL)
            break;
        svc->listen = l;
        l = &l[svc->nlisten];
        if (nd_addr_parse(&l->addr, item, err, sizeof(err)) < 0) {
            nd_errors_add(errs, "%s:%d: listen: %s%s", cfg->path, p->line, err,
                          nd_conf_comment_hint(item));
            continue;
        }
        l->line = p->line;
        if (svc->module != NULL) {
            unsigned need = nd_addr_is_stream(&l->addr) ? ND_MOD_STREAM : ND_MOD_DGRAM;

            if (!(svc->module->transports & need)) {
                nd_errors_add(errs, "%s:%d: listen: module %s does not serve %s",
                              cfg->path, p->line, svc->module->name,
                              need == ND_MOD_DGRAM ? "udp://" : "streams");
                continue;
            }
        }
        svc->nlisten++;
    }
    free(list);
    {
        /* An empty item ("a,,b" or a trailing comma) is a typo, not a wish. */
        const char *q = p->value;
        int empty = 0, seen = 0;

        for (; *q; q++) {
            if (*q == ',') {
                if (!seen)
                    empty = 1;
                seen = 0;
            } else if (*q != ' ' && *q != '\t') {
                seen = 1;
            }
        }
        if (!seen)
            empty = 1;
        if (empty)
            nd_errors_add(errs, "%s:%d: listen: empty address in list", cfg->path,
                          p->line);
    }
}

static const struct nd_module *
find_module(const struct nd_module *const *modules, const char *name)
{
    for (; *modules != NULL; modules++)
        if (strcmp((*modules)->name, name) == 0)
            return *modules;
    return NULL;
}

/* socket_mode = 0660 and socket_group = NAME: for the files of unix:PATH
 * listeners, so that other users (the group's members) may connect. The
 * group is looked up now, so that -t finds a name that does not exist. */
static void
check_socket_file(struct nd_config *cfg, struct nd_service_conf *svc,
                  const struct raw_section *s, struct nd_errors *errs)
{
    const struct raw_pair *mp = find_pair(s, "socket_mode");
    const struct raw_pair *gp = find_pair(s, "socket_group");
    size_t i, files = 0;

    svc->sock_mode = -1;
    svc->sock_gid = -1;
    if (mp == NULL && gp == NULL)
        return;
    for (i = 0; i < svc->nlisten; i++) {
        const struct nd_addr *a = &svc->listen[i].addr;
        const struct sockaddr_un *sun = (const struct sockaddr_un *)(const void *)&a->sa;

        files += a->transport == ND_UNIX && sun->sun_path[0] != '\0';
    }
    if (files == 0) {
        const struct raw_pair *p = mp != NULL ? mp : gp;

        nd_errors_add(errs, "%s:%d: %s: [%s] has no unix:PATH listener (the key sets "
                      "the mode and group of a unix socket's file)", cfg->path,
                      p->line, p->key, s->name);
    }
    if (mp != NULL && svc->socket_mode != NULL) {
        const char *v = svc->socket_mode;
        char *end;
        unsigned long m;

        errno = 0;
        m = strtoul(v, &end, 8);
        if (v[0] < '0' || v[0] > '7' || *end != '\0' || errno != 0 || m > 0777)
            nd_errors_add(errs, "%s:%d: socket_mode: '%s' is not an octal mode from 0 "
                          "to 0777 (such as 0660: owner and group may connect)",
                          cfg->path, mp->line, v);
        else
            svc->sock_mode = (int)m;
    }
    if (gp != NULL && svc->socket_group != NULL) {
        const char *v = svc->socket_group;
        const struct group *g;
        char *end;
        unsigned long id;

        errno = 0;
        id = strtoul(v, &end, 10);
        if (v[0] >= '0' && v[0] <= '9' && *end == '\0' && errno == 0 && id < 0x7fffffffUL)
            svc->sock_gid = (long)id;
        else if ((g = getgrnam(v)) != NULL)
            svc->sock_gid = (long)g->gr_gid;
        else
            nd_errors_add(errs, "%s:%d: socket_group: no group '%s' on this system",
                          cfg->path, gp->line, v);
    }
}

/* defer_accept is TCP_DEFER_ACCEPT, which only TCP has: on a service with
 * no tcp:// listener it would do nothing, so it is an error there (a
 * service's unix: and udp:// listeners beside a tcp:// one just go without
 * it). */
static void
check_defer_accept(struct nd_config *cfg, struct nd_service_conf *svc,
                   const struct raw_section *s, struct nd_errors *errs)
{
    const struct raw_pair *p = find_pair(s, "defer_accept");
    size_t i;

    if (p == NULL || svc->defer_accept == 0 || svc->nlisten == 0)
        return;
    for (i = 0; i < svc->nlisten; i++)
        if (svc->listen[i].addr.transport == ND_TCP)
            return;
    nd_errors_add(errs, "%s:%d: defer_accept: [%s] has no tcp:// listener (the key sets "
                  "TCP_DEFER_ACCEPT, which only TCP has)", cfg->path, p->line, s->name);
}

/* "echo, http, discard, ..." in the registry's order. */
static void
module_names(const struct nd_module *const *modules, char *buf, size_t len)
{
    size_t used = 0;
    int n;

    buf[0] = '\0';
    for (; *modules != NULL && used < len; modules++) {
        n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", (*modules)->name);
        used = n < 0 ? len : used + (size_t)n;
    }
}

static void
unknown_module(struct nd_config *cfg, const struct raw_pair *mod,
               const struct nd_module *const *modules, struct nd_errors *errs)
{
    const struct nd_module *const *m;
    struct nd_suggest sg;
    char names[256], hint[128];

    nd_suggest_init(&sg, mod->value);
    for (m = modules; *m != NULL; m++)
        nd_suggest_offer(&sg, (*m)->name);
    module_names(modules, names, sizeof(names));
    nd_errors_add(errs, "%s:%d: unknown module '%s'%s (modules: %s)", cfg->path, mod->line,
                  mod->value, did_you_mean(&sg, hint, sizeof(hint)), names);
}

/* A key that some module of the registry could take: under a missing or
 * unknown module it is not reported, the module's error says enough. */
static int
maybe_module_key(const struct nd_module *const *modules, const char *key)
{
    size_t i;

    for (; *modules != NULL; modules++) {
        if ((*modules)->conf_set != NULL)
            return 1;   /* keys outside a table: any might be one */
        for (i = 0; i < (*modules)->nkeys; i++)
            if (strcmp((*modules)->keys[i].name, key) == 0)
                return 1;
    }
    return 0;
}

/* "unknown key 'K' in [S] (module M); did you mean 'X'?", the nearest name
 * among the keys a service takes: its core keys and its module's, or every
 * module's when the module is not known. */
static void
unknown_key(struct nd_config *cfg, const struct raw_section *s, const struct raw_pair *p,
            const struct nd_module *module, const struct nd_module *const *modules,
            struct nd_errors *errs)
{
    struct nd_suggest sg;
    char hint[128], which[128] = "";

    nd_suggest_init(&sg, p->key);
    nd_suggest_offer(&sg, "module");
    nd_suggest_offer(&sg, "listen");
    offer_keys(&sg, service_keys, ND_ARRAY_LEN(service_keys));
    if (module != NULL) {
        offer_keys(&sg, module->keys, module->nkeys);
        snprintf(which, sizeof(which), " (module %s)", module->name);
    } else {
        for (; *modules != NULL; modules++)
            offer_keys(&sg, (*modules)->keys, (*modules)->nkeys);
    }
    nd_errors_add(errs, "%s:%d: unknown key '%s' in [%s]%s%s", cfg->path, p->line, p->key,
                  s->name, which, did_you_mean(&sg, hint, sizeof(hint)));
}

/* conf_check's error at the line of the key it starts with ("root: ..."),
 * else at the section's header. */
static void
check_error(struct nd_config *cfg, const struct raw_section *s, const char *err,
            struct nd_errors *errs)
{
    size_t i, n;

    for (i = 0; i < s->npairs; i++) {
        const struct raw_pair *p = &s->pairs[i];

        n = strlen(p->key);
        if (strncmp(err, p->key, n) == 0 && err[n] == ':') {
            nd_errors_add(errs, "%s:%d: %s%s", cfg->path, p->line, err,
                          nd_conf_comment_hint(p->value));
            return;
        }
    }
    nd_errors_add(errs, "%s:%d: [%s]: %s", cfg->path, s->line, s->name, err);
}

static void
read_service(struct nd_config *cfg, struct nd_service_conf *svc,
             const struct raw_section *s, const struct nd_module *const *modules,
             struct nd_errors *errs)
{
    const struct raw_pair *mod = find_pair(s, "module");
    const struct raw_pair *listen = find_pair(s, "listen");
    char err[512];
    size_t i;

    svc->idle_timeout = DEF_IDLE_TIMEOUT;
    svc->buffer_size = DEF_BUFFER_SIZE;
    svc->selected = 1;

    if (mod == NULL) {
        char names[256];

        module_names(modules, names, sizeof(names));
        nd_errors_add(errs, "%s:%d: [%s]: missing 'module = NAME' (modules: %s)", cfg->path,
                      s->line, s->name, names);
    } else if ((svc->module = find_module(modules, mod->value)) == NULL) {
        unknown_module(cfg, mod, modules, errs);
    } else if (svc->module->conf_new != NULL) {
        svc->mconf = svc->module->conf_new();
        if (svc->mconf == NULL) {
            nd_errors_add(errs, "%s:%d: out of memory", cfg->path, mod->line);
            svc->module = NULL;
        }
    }

    for (i = 0; i < s->npairs; i++) {
        const struct raw_pair *p = &s->pairs[i];
        int rc;

        if (p == mod || p == listen)
            continue;
        rc = nd_conf_set(service_keys, ND_ARRAY_LEN(service_keys), svc, p->key, p->value,
                         err, sizeof(err));
        if (rc == ND_CONF_UNKNOWN && svc->module != NULL && svc->mconf != NULL)
            rc = nd_conf_set(svc->module->keys, svc->module->nkeys, svc->mconf, p->key,
                             p->value, err, sizeof(err));
        if (rc == 0)
            continue;
        if (rc != ND_CONF_UNKNOWN) {
            /* nd_conf_set's message starts with the key */
            nd_errors_add(errs, "%s:%d: %s", cfg->path, p->line, err);
            continue;
        }
        if (svc->module == NULL) {
            /* the module is missing or unknown, already reported */
            if (!maybe_module_key(modules, p->key))
                unknown_key(cfg, s, p, NULL, modules, errs);
            continue;
        }
        rc = svc->module->conf_set
                 ? svc->module->conf_set(svc->mconf, p->key, p->value, err, sizeof(err))
                 : ND_CONF_UNKNOWN;
        if (rc == ND_CONF_UNKNOWN)
            unknown_key(cfg, s, p, svc->module, modules, errs);
        else if (rc < 0)
            nd_errors_add(errs, "%s:%d: %s: %s", cfg->path, p->line, p->key, err);
    }

    if (listen == NULL)
        nd_errors_add(errs, "%s:%d: [%s]: missing 'listen = ADDRESS[, ADDRESS...]'",
                      cfg->path, s->line, s->name);
    else
        read_listen(cfg, svc, listen, errs);

    check_socket_file(cfg, svc, s, errs);
    check_defer_accept(cfg, svc, s, errs);

    if (svc->module != NULL && svc->module->conf_check != NULL &&
        svc->module->conf_check(svc->mconf, err, sizeof(err)) < 0)
        check_error(cfg, s, err, errs);
}

/* ---- phase three: across sections ---- */

static void
check_addresses(struct nd_config *cfg, struct nd_errors *errs)
{
    size_t i, j, k, l;

    for (i = 0; i < cfg->nservices; i++) {
        struct nd_service_conf *a = &cfg->services[i];

        for (j = 0; j < a->nlisten; j++) {
            for (k = 0; k <= i; k++) {
                struct nd_service_conf *b = &cfg->services[k];
                size_t end = k == i ? j : b->nlisten;

                for (l = 0; l < end; l++) {
                    if (nd_addr_equal(&a->listen[j].addr, &b->listen[l].addr)) {
                        nd_errors_add(errs,
                            "%s:%d: %s is already a listener of [%s] (line %d)",
                            cfg->path, a->listen[j].line, a->listen[j].addr.text,
                            b->name, b->listen[l].line);
                        goto next;
                    }
                }
            }
next:;
        }
    }
}

struct nd_config *
nd_config_parse(const char *path, const char *text, size_t len,
                const struct nd_module *const *modules, struct nd_errors *errs)
{
    struct reader r = { .path = path, .errs = errs };
    struct nd_config *cfg;
    size_t before = errs->n, i, n = 0;
    int rc;

    cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL || (cfg->path = strdup(path)) == NULL) {
        free(cfg);
        nd_errors_add(errs, "%s: out of memory", path);
        return NULL;
    }
    cfg->log_level = DEF_LOG_LEVEL;
    cfg->max_connections = DEF_MAX_CONNECTIONS;
    cfg->shutdown_timeout = DEF_SHUTDOWN_TIMEOUT;

    rc = nd_ini_parse(text, len, on_ini, &r);
    if (rc != 0) {
        nd_errors_add(errs, "%s: out of memory", path);
        goto out;
    }

    for (i = 0; i < r.nsections; i++)
        if (strcmp(r.sections[i].name, GLOBAL_SECTION) != 0)
            n++;
    cfg->services = calloc(n ? n : 1, sizeof(*cfg->services));
    if (cfg->services == NULL) {
        nd_errors_add(errs, "%s: out of memory", path);
        goto out;
    }
    for (i = 0; i < r.nsections; i++) {
        const struct raw_section *s = &r.sections[i];
        struct nd_service_conf *svc;

        if (strcmp(s->name, GLOBAL_SECTION) == 0) {
            read_global(cfg, s, errs);
            continue;
        }
        svc = &cfg->services[cfg->nservices++];
        svc->name = strdup(s->name);
        svc->line = s->line;
        read_service(cfg, svc, s, modules, errs);
    }
    if (cfg->nservices == 0 && errs->n == before)
        nd_errors_add(errs, "%s: no service defined (add a section such as [echo])",
                      path);
    check_addresses(cfg, errs);

out:
    reader_free(&r);
    sort_errors(errs, before, path);
    if (errs->n != before) {
        nd_config_free(cfg);
        return NULL;
    }
    return cfg;
}

struct nd_config *
nd_config_load(const char *path, const struct nd_module *const *modules,
               struct nd_errors *errs)
{
    struct nd_config *cfg = NULL;
    struct stat st;
    char *text = NULL;
    size_t got = 0;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        nd_errors_add(errs, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) < 0) {
        nd_errors_add(errs, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        nd_errors_add(errs, "%s: not a regular file", path);
        goto out;
    }
    if (st.st_size > MAX_FILE_SIZE) {
        nd_errors_add(errs, "%s: larger than 1 MiB", path);
        goto out;
    }
    text = malloc((size_t)st.st_size + 1);
    if (text == NULL) {
        nd_errors_add(errs, "%s: out of memory", path);
        goto out;
    }
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, text + got, (size_t)st.st_size - got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            nd_errors_add(errs, "%s: %s", path, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    cfg = nd_config_parse(path, text, got, modules, errs);
out:
    free(text);
    close(fd);
    return cfg;
}

int
nd_config_select(struct nd_config *cfg, char *const *names, size_t n,
                 struct nd_errors *errs)
{
    size_t i, j;
    int rc = 0;

    if (n == 0)
        return 0;
    for (i = 0; i < cfg->nservices; i++)
        cfg->services[i].selected = 0;
    for (j = 0; j < n; j++) {
        /* "NAME:N" is instance N of service NAME (one process per core,
         * as netdemo@http:2): the instance number only labels it, and only
         * a service with reuseport = on can have more than one. */
        const char *arg = names[j], *inst = NULL;
        size_t len = strcspn(arg, ":");
        struct nd_service_conf *svc = NULL;

        if (arg[len] == ':') {
            inst = arg + len + 1;
            if (inst[0] == '\0' || strspn(inst, "0123456789") != strlen(inst)) {
                nd_errors_add(errs, "%s: -s %s: the instance after ':' must be a number "
                              "(as in -s %.*s:2)", cfg->path, arg, (int)len, arg);
                rc = -1;
                continue;
            }
        }
        if (len == strlen(GLOBAL_SECTION) && strncmp(arg, GLOBAL_SECTION, len) == 0) {
            nd_errors_add(errs, "%s: -s %s: [%s] is the global section (daemon-wide "
                          "settings), not a service", cfg->path, arg, GLOBAL_SECTION);
            rc = -1;
            continue;
        }
        for (i = 0; i < cfg->nservices && svc == NULL; i++)
            if (strlen(cfg->services[i].name) == len &&
                strncmp(cfg->services[i].name, arg, len) == 0)
                svc = &cfg->services[i];
        if (svc == NULL) {
            nd_errors_add(errs, "%s: no service [%.*s] in this file (-s %s)",
                          cfg->path, (int)len, arg, arg);
            rc = -1;
            continue;
        }
        if (inst != NULL && !svc->reuseport) {
            nd_errors_add(errs, "%s:%d: -s %s: [%s] does not set 'reuseport = on', which "
                          "instances (NAME:N) need: without it a second instance "
                          "cannot listen on the same addresses", cfg->path, svc->line,
                          arg, svc->name);
            rc = -1;
            continue;
        }
        svc->selected = 1;
    }
    return rc;
}

/* ---- the other way: a configuration as INI text (-T) ---- */

/* One "key = value" line of keys[0..n) from conf, or a comment for a value
 * the file cannot give (an unset string, a number outside its range, such
 * as a service's max_connections 0: only the daemon-wide limit). A dump
 * ends up in bug reports: a SECRET is masked, and so is a password in a
 * URL (USER:PASSWORD@); the dump still reads back, with ******** for
 * each. */
static void
dump_keys(FILE *f, const struct nd_conf_key *keys, size_t n, const void *conf)
{
    size_t i;

    for (i = 0; i < n; i++) {
        const struct nd_conf_key *k = &keys[i];
        const char *p = (const char *)conf + k->offset;
        char val[64];
        const char *v = val;
        uint64_t u;
        size_t nwords = 0, off, len;
        int e;

        switch (k->type) {
        case ND_CONF_STRING:
        case ND_CONF_SECRET:
            v = *(char *const *)(const void *)p;
            if (v == NULL) {
                fprintf(f, "; %s is not set\n", k->name);
                continue;
            }
            if (k->type == ND_CONF_SECRET)
                v = ND_CONF_MASK;
            else if (nd_conf_url_password(v, &off, &len)) {
                fprintf(f, "%s = %.*s%s%s\n", k->name, (int)off, v, ND_CONF_MASK,
                        v + off + len);
                continue;
            }
            break;
        case ND_CONF_BOOL:
            v = *(const int *)(const void *)p ? "on" : "off";
            break;
        case ND_CONF_ENUM:
            e = *(const int *)(const void *)p;
            while (k->words != NULL && k->words[nwords] != NULL)
                nwords++;
            if (e < 0 || (size_t)e >= nwords) {
                fprintf(f, "; %s = %d has no name\n", k->name, e);
                continue;
            }
            v = k->words[e];
            break;
        case ND_CONF_NUMBER:
        case ND_CONF_SIZE:
        case ND_CONF_DURATION:
            u = *(const uint64_t *)(const void *)p;
            if (u < k->min || (k->max != 0 && u > k->max)) {
                fprintf(f, "; %s is not set\n", k->name);
                continue;
            }
            nd_conf_format(k->type, u, val, sizeof(val));
            break;
        default:
            fprintf(f, "; %s: a key of unknown type\n", k->name);
            continue;
        }
        fprintf(f, "%s = %s\n", k->name, v);
    }
}

int
nd_config_dump(const struct nd_config *cfg, FILE *f)
{
    size_t i, j;

    fprintf(f, "; the effective configuration (netdemo -T): every key, defaults "
               "included\n\n[%s]\n", GLOBAL_SECTION);
    dump_keys(f, global_keys, ND_ARRAY_LEN(global_keys), cfg);
    for (i = 0; i < cfg->nservices; i++) {
        const struct nd_service_conf *svc = &cfg->services[i];
        const struct nd_module *m = svc->module;

        fprintf(f, "\n[%s]\nmodule = %s\nlisten = ", svc->name, m->name);
        for (j = 0; j < svc->nlisten; j++)
            fprintf(f, "%s%s", j ? ", " : "", svc->listen[j].addr.text);
        fputc('\n', f);
        dump_keys(f, service_keys, ND_ARRAY_LEN(service_keys), svc);
        if (svc->mconf != NULL)
            dump_keys(f, m->keys, m->nkeys, svc->mconf);
        if (m->conf_set != NULL)
            fprintf(f, "; module %s also reads keys outside its table; any set in "
                       "the file are not shown here\n", m->name);
    }
    fflush(f);
    return ferror(f) ? -1 : 0;
}

void
nd_config_free(struct nd_config *cfg)
{
    size_t i;

    if (cfg == NULL)
        return;
    for (i = 0; i < cfg->nservices; i++) {
        struct nd_service_conf *svc = &cfg->services[i];

        if (svc->mconf != NULL && svc->module && svc->module->conf_free)
            svc->module->conf_free(svc->mconf);
        free(svc->listen);
        free(svc->socket_mode);
        free(svc->socket_group);
        free(svc->name);
    }
    free(cfg->services);
    free(cfg->path);
    free(cfg);
}
