/* config.h: the configuration as plain structs. Reading happens in phases:
 * INI syntax -> sections and keys (duplicates, unknown keys, values) ->
 * defaults -> cross-checks (listeners shared, modules and transports). Every
 * error is kept as "FILE:LINE: message"; nothing is applied here. */
#ifndef ND_CONFIG_H
#define ND_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nd/addr.h"

struct nd_module;

#define ND_DEFAULT_CONFIG "/etc/netdemo/netdemo.ini"

struct nd_listen {
    struct nd_addr addr;
    int line;
};

struct nd_service_conf {
    char *name;
    int line;
    const struct nd_module *module;
    void *mconf;                    /* the module's own settings */
    struct nd_listen *listen;
    size_t nlisten;
    uint64_t idle_timeout;          /* ms; 0 = never */
    uint64_t max_connections;       /* 0 = only the daemon-wide limit */
    uint64_t buffer_size;           /* output high-water mark, bytes */
    int reuseport;                  /* SO_REUSEPORT on its listeners */
    uint64_t defer_accept;          /* ms; TCP_DEFER_ACCEPT on its tcp://
                                     * listeners; 0 = off */
    /* unix:PATH listeners' file: its mode (socket_mode, octal) and group
     * (socket_group, a name or a number), as written, and resolved: -1 for
     * "leave it as the umask and our own group made it". */
    char *socket_mode;
    char *socket_group;
    int sock_mode;
    long sock_gid;
    int access_log;                 /* a line per request or connection */
    int selected;                   /* to be run (see nd_config_select) */
};

struct nd_config {
    char *path;
    int log_level;
    uint64_t max_connections;
    uint64_t shutdown_timeout;      /* ms */
    struct nd_service_conf *services;
    size_t nservices;
};

/* Error lines, each "FILE:LINE: message" (or "FILE: message"). */
struct nd_errors {
    char **v;
    size_t n;
};

void nd_errors_add(struct nd_errors *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void nd_errors_free(struct nd_errors *e);

/* The line that closes a refused file's errors, as `nginx -t` ends:
 * "FILE: N errors, configuration not loaded" ("1 error"). */
void nd_errors_summary(const struct nd_errors *e, const char *path, char *buf, size_t len);

/* Parses text as the file `path`; `module = NAME` is looked up in modules
 * (NULL-terminated: the caller's registry). Returns a config, or NULL with
 * errors, appended to errs in line order (errors of the whole file last).
 * An unknown key or module names the nearest known one (within two edits)
 * and an unknown or missing module lists the registry's. */
struct nd_config *nd_config_parse(const char *path, const char *text, size_t len,
                                  const struct nd_module *const *modules,
                                  struct nd_errors *errs);

/* Reads and parses a file. */
struct nd_config *nd_config_load(const char *path, const struct nd_module *const *modules,
                                 struct nd_errors *errs);

/* Marks the services named in names[] as selected (all when n == 0). A
 * name may be NAME:N, instance N of NAME. An unknown name, NAME:N of a
 * service without reuseport = on, a non-numeric N and "netdemo" (the global
 * section) are errors. Returns 0 or -1. */
int nd_config_select(struct nd_config *cfg, char *const *names, size_t n,
                     struct nd_errors *errs);

/* Writes cfg to f as INI that nd_config_parse() reads back to the same
 * values (netdemo -T): [netdemo] with every global key, then each service
 * with module, listen, every core key and every key of its module's table,
 * defaults included, each in its unit (10s, 1500ms, 64k, on/off, the enum's
 * word). A value no line can give (an unset string, a number outside its
 * range) is a "; KEY is not set" comment. Returns 0, or -1 on a write
 * error. */
int nd_config_dump(const struct nd_config *cfg, FILE *f);

void nd_config_free(struct nd_config *cfg);

#endif
