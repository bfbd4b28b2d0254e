/* module.h: what a protocol module is, and all it may ask of the core.
 * A module sees bytes in and bytes out; it never touches an fd or epoll.
 * Adding a module is adding a file and a line in modules.c. */
#ifndef ND_MODULE_H
#define ND_MODULE_H

#include <stddef.h>
#include <stdint.h>

struct nd_addr;
struct nd_buf;
struct nd_conn;
struct nd_service;
struct nd_dgram;

/* What a stream callback returns. */
enum nd_verdict {
    ND_KEEP = 0,        /* carry on */
    ND_FINISH = 1,      /* read no more; close once all output is sent */
    ND_ABORT = -1,      /* close now, dropping unsent output */
};

/* What conf_set and nd_conf_set return besides 0. */
#define ND_CONF_BAD     (-1)    /* known key, bad value: err says why */
#define ND_CONF_UNKNOWN (-2)    /* not a key of this module */

/* ---- settings: a table of keys ----
 *
 * A module declares its keys in a table and the core parses them, with the
 * same units, ranges and messages as its own keys:
 *
 *     struct my_conf { uint64_t max_size, timeout; int verbose, mode; char *dir; };
 *     static const char *const modes[] = { "fast", "safe", NULL };
 *     #define O(f) offsetof(struct my_conf, f)
 *     static const struct nd_conf_key my_keys[] = {
 *         { "max_size", ND_CONF_SIZE,     O(max_size), 1024, 1 << 20 },
 *         { "timeout",  ND_CONF_DURATION, O(timeout),  100, 3600 * 1000 },
 *         { "verbose",  ND_CONF_BOOL,     O(verbose) },
 *         { "mode",     ND_CONF_ENUM,     O(mode),     0, 0, modes },
 *         { "dir",      ND_CONF_STRING,   O(dir) },
 *     };
 *     const struct nd_module nd_mod_my = {
 *         .name = "my", .conf_new = my_conf_new, .conf_free = my_conf_free,
 *         .keys = my_keys, .nkeys = ND_ARRAY_LEN(my_keys), ...
 *     };
 *
 * conf_new fills the defaults; a key the file does not set keeps its
 * default. conf_free frees the STRING and SECRET values (and the struct).
 * The configuration dump (-T) masks a SECRET's value, and in any STRING the
 * password of a URL's USER:PASSWORD@ (redis://app:********@10.0.0.5/0). */
enum nd_conf_type {
    ND_CONF_NUMBER,     /* uint64_t: a plain decimal number */
    ND_CONF_SIZE,       /* uint64_t: bytes, "512", "64k", "1m", "1g" */
    ND_CONF_DURATION,   /* uint64_t: ms, "300s", "1500ms", "5m", "2h"; bare = s */
    ND_CONF_BOOL,       /* int 0 or 1: on/off, yes/no, true/false, 1/0 */
    ND_CONF_STRING,     /* char *: strdup'd, the previous value freed; not empty */
    ND_CONF_ENUM,       /* int: the index of the value in words */
    ND_CONF_SECRET,     /* char *: a STRING that -T shows as ******** (a password) */
};

struct nd_conf_key {
    const char *name;
    enum nd_conf_type type;
    size_t offset;              /* of the value in the module's conf struct */
    /* NUMBER, SIZE, DURATION (in ms): the value must be in [min, max].
     * ENUM: only words[min] to words[max] are accepted (so the index can
     * be a meaningful number, as a syslog priority is). max 0 means no
     * upper bound (to the last word for ENUM). Unused by BOOL, STRING and
     * SECRET. */
    uint64_t min, max;
    const char *const *words;   /* ENUM: the names, NULL-terminated */
};

/* Sets key to value in conf from the table keys[0..n). Returns 0,
 * ND_CONF_UNKNOWN (key is not in the table), or ND_CONF_BAD with err holding
 * the whole message, key first, as the core words it for its own keys:
 * "KEY: 'VALUE' is not a size", "KEY = VALUE is out of range (MIN to MAX)"
 * with MIN and MAX in the key's unit ("0 to 1h", "1k to 64m", "1 to 1000";
 * "(at least MIN)" without a maximum), "KEY: 'VALUE' is not a boolean
 * (on/off, yes/no, true/false, 1/0)", "KEY: unknown NOUN 'VALUE' (a, b or
 * c)" (NOUN: the last word of the key, "level" for log_level), "KEY: empty
 * value". A refused value holding " ;" or " #" gets " (comments are whole
 * lines: ...)" added. On error conf is unchanged. */
int nd_conf_set(const struct nd_conf_key *keys, size_t n, void *conf, const char *key,
                const char *value, char *err, size_t errlen);

#define ND_MOD_STREAM 0x1       /* serves tcp:// and unix: */
#define ND_MOD_DGRAM  0x2       /* serves udp:// */

struct nd_module {
    const char *name;
    unsigned transports;

    /* Per-service settings: a key the core does not know is offered to
     * nd_conf_set() on keys[0..nkeys) first, then (if that does not know it
     * either) to conf_set, which a module with only a table leaves NULL;
     * conf_set's err says why, the core prefixes the key. All may be NULL
     * for a module without settings. */
    const struct nd_conf_key *keys;
    size_t nkeys;
    void *(*conf_new)(void);
    int (*conf_set)(void *conf, const char *key, const char *value,
                    char *err, size_t errlen);
    /* After every key is set: what spans keys, or needs the system (a
     * directory opened). An err that starts with a key's name and ':'
     * ("root: /srv: No such file or directory") is reported at that key's
     * line, when the file sets it; any other at the section's header. */
    int (*conf_check)(void *conf, char *err, size_t errlen);
    void (*conf_free)(void *conf);
    /* The largest input the module may need buffered at once (a whole
     * request head, say); NULL means one 16 KiB chunk. */
    size_t (*input_max)(const void *conf);

    /* Stream connections. open and close may be NULL. open may write; its
     * verdict counts like any other's: ND_FINISH sends what it wrote, then
     * closes (a service that answers and hangs up), ND_ABORT closes now. */
    enum nd_verdict (*open)(struct nd_conn *c);
    /* New bytes in `in`; consume what was used with nd_buf_consume(). What is
     * left stays for the next call. A module that leaves a full buffer
     * unconsumed gets the connection closed. */
    enum nd_verdict (*input)(struct nd_conn *c, struct nd_buf *in);
    /* All queued output has reached the kernel, after it had to wait or
     * because the module asked (nd_conn_want_drain). May be NULL. */
    enum nd_verdict (*drained)(struct nd_conn *c);
    /* The peer will send no more. NULL means ND_FINISH. */
    enum nd_verdict (*eof)(struct nd_conn *c);
    /* The deadline set with nd_conn_set_deadline() has passed. NULL means
     * ND_ABORT. */
    enum nd_verdict (*timeout)(struct nd_conn *c);
    /* The server is stopping gracefully and this connection has sent
     * something. ND_FINISH (and NULL) ends it once its queued output is
     * out; ND_KEEP leaves the module to end it when the exchange under way
     * is over (shutdown_timeout bounds the wait); ND_ABORT closes it now. */
    enum nd_verdict (*stop)(struct nd_conn *c);
    void (*close)(struct nd_conn *c);

    /* Datagrams. */
    void (*datagram)(const struct nd_dgram *d);

    /* A word for the service manager's status line (StatusText) about the
     * service's settings, "draining" say, or NULL when there is nothing
     * to say. May be NULL. */
    const char *(*status)(const void *conf);

    /* The service's settings are in force: called once the daemon starts
     * and after every reload (a reload makes every service anew), with the
     * service that has them, before the services they replace go. What
     * lives across reloads (a client of another server, say) moves here
     * from the old settings to the new. May be NULL. */
    void (*in_force)(struct nd_service *svc);

    /* The names of the module's counters, NULL-terminated, at most
     * ND_MOD_COUNTERS: counters[i] names slot i of
     * nd_service_module_counters(). Reports (/stats) show them by name.
     * NULL for a module that counts nothing of its own. */
    const char *const *counters;
    /* Which of them are gauges: bit i set when slot i holds a current
     * value that goes up and down (members connected now) instead of a
     * count that only grows. /metrics types them so; 0 when all count. */
    unsigned gauges;
};

/* A datagram as received, valid only during the datagram callback. */
struct nd_dgram {
    const char *data;
    size_t len;
    struct nd_service *svc;
    const void *peer;       /* struct sockaddr, for the reply */
    unsigned peerlen;
    int fd;
};

/* Writes bytes. During the connection's own callback they are gathered
 * and sent together when it returns; written from elsewhere (another
 * connection's callback, a timer), they go before the loop sleeps. Past
 * 16 KiB, what is gathered goes at once. What the kernel does not take is
 * queued; queued output beyond the service's buffer_size stops the core
 * from reading this peer until it drains. Returns 0; 1 when the queue is
 * past buffer_size (a producer stops there, calls nd_conn_want_drain(), and
 * goes on in drained()); -1 if the connection is closing or memory is short
 * (the connection is then aborted). */
int nd_conn_write(struct nd_conn *c, const void *p, size_t n);

/* Bytes written and not yet taken by the kernel (including those gathered
 * during the running callback). */
size_t nd_conn_pending(const struct nd_conn *c);

/* Sends up to n bytes of the file fd from *off (advancing it), straight from
 * the page cache, once nothing else is queued. Returns the bytes sent now,
 * possibly 0; while some of the n remain, drained() is called when the
 * socket can take more. -1 on error (the connection is then aborted). */
long nd_conn_sendfile(struct nd_conn *c, int fd, int64_t *off, size_t n);

/* Asks for drained() once the queue is out and the socket can take more:
 * for a module that produces output in slices (chargen, /bytes). */
void nd_conn_want_drain(struct nd_conn *c);

/* Stops (hold = 1) or resumes reading from the peer. On resume, input
 * still buffered is offered to input() again. While reading is held, a peer
 * that closes its side is still noticed: eof() is called (and a reset
 * closes the connection). */
void nd_conn_hold(struct nd_conn *c, int hold);

/* Ends a connection (a chat member that stopped reading, say): finish
 * sends what is queued first, abort drops it. With abort its close() is
 * called at once; with finish, once the queued output is out. For a
 * connection whose own callback is running (the caller's, or one further
 * out), the end waits until that callback returns, so no module's state is
 * freed under it. Its memory is freed after the current loop iteration. */
void nd_conn_end(struct nd_conn *c, int abort);

/* The peer's and our own address (getpeername/getsockname). 0 or -1. */
int nd_conn_peer(const struct nd_conn *c, void *sa, unsigned *len);
int nd_conn_local(const struct nd_conn *c, void *sa, unsigned *len);

/* The peer's address as text for a log: "127.0.0.1:5555", "[::1]:5555",
 * "unix:PATH" (or "unix" for an unnamed peer), "-" when unknown. buf of
 * ND_PEER_TEXT bytes holds any. */
#define ND_PEER_TEXT 128
void nd_conn_peer_text(const struct nd_conn *c, char *buf, size_t n);

/* Bytes read from the peer and bytes the kernel took for it, so far. */
void nd_conn_bytes(const struct nd_conn *c, uint64_t *in, uint64_t *out);

/* When the connection was accepted, on nd_now_us()'s clock (nd/log.h). */
uint64_t nd_conn_started_us(const struct nd_conn *c);

/* The peer has said it sends nothing after what it has sent (an HTTP
 * request that asked to close), and all of that is consumed. When the
 * connection then finishes with no input left unread, it is closed as soon
 * as its output is out (the FIN follows the answer) instead of lingering
 * for the peer's FIN; anything still unread means it lingers as usual. */
void nd_conn_peer_done(struct nd_conn *c);

/* Calls timeout() after ms milliseconds; 0 cancels. One deadline per
 * connection: setting it again replaces it. */
void nd_conn_set_deadline(struct nd_conn *c, uint64_t ms);

/* Closes the connection when output has waited for the peer to read it
 * for ms milliseconds with no progress (a peer that stopped reading); 0,
 * the default, leaves that to the service's idle_timeout. */
void nd_conn_set_send_timeout(struct nd_conn *c, uint64_t ms);

/* A module's own timer, belonging to no one connection (a chat room's
 * batched notices): fn(arg) runs once from the loop, ms after the last
 * nd_alarm_set (which re-arms; 0 stops it). Made with any connection of
 * the loop it is to run on; it outlives that connection. nd_alarm_new is
 * NULL and nd_alarm_set -1 when memory is short. */
struct nd_alarm;
struct nd_alarm *nd_alarm_new(struct nd_conn *c, void (*fn)(void *arg), void *arg);
int nd_alarm_set(struct nd_alarm *a, uint64_t ms);
int nd_alarm_armed(const struct nd_alarm *a);
void nd_alarm_free(struct nd_alarm *a);

/* ---- outbound connections: a module as a client (redis.c) ----
 *
 * A module reaches the loop through a service: its connections run on the
 * loop of the service they were accepted for, and so do the connections
 * and alarms it makes with the service (nd_conn_service(c) in a callback).
 *
 * nd_conn_connect starts a non-blocking connect to a (tcp:// or unix:) and
 * returns the connection at once, or NULL with errno set when it failed at
 * once (a unix socket nobody listens on, no fd). ops is the table of its
 * callbacks, the same ones as an accepted connection's: open() when the
 * connect has completed (always from the loop, never inside this call),
 * then input(), drained(), eof(), timeout() as usual; close() when it ends,
 * a failed connect included (open() then never ran, and nd_conn_error()
 * says why). Until open() it may already be written to: the bytes wait for
 * the connect. A deadline set before open() that passes closes it
 * (ETIMEDOUT). ops->input_max, if set, is called with data. nd_conn_data()
 * is data from the start. It holds a reference to svc, is not counted in
 * svc's connections (its bytes are), has no idle timeout, and belongs to no
 * server: a graceful stop neither stops it nor waits for it; its maker ends
 * it with nd_conn_end(). */
struct nd_conn *nd_conn_connect(struct nd_service *svc, const struct nd_addr *a,
                                const struct nd_module *ops, void *data);

/* The errno that ended an outbound connection's connect (ECONNREFUSED,
 * ETIMEDOUT, ...), or 0. */
int nd_conn_error(const struct nd_conn *c);

/* An alarm (as nd_alarm_new) on the loop of svc, for a module's timer when
 * it holds no connection (a client waiting to reconnect). */
struct nd_alarm *nd_service_alarm_new(struct nd_service *svc, void (*fn)(void *arg), void *arg);

void *nd_conn_data(const struct nd_conn *c);
void nd_conn_set_data(struct nd_conn *c, void *data);
struct nd_service *nd_conn_service(const struct nd_conn *c);

const char *nd_service_name(const struct nd_service *svc);
void *nd_service_conf(const struct nd_service *svc);

/* True when the service has access_log = on: the module then writes a line
 * per request or connection with nd_access_http() or nd_access_conn()
 * (nd/log.h). */
int nd_service_access_log(const struct nd_service *svc);

/* What the core counts for a service, across reloads. */
struct nd_counters {
    uint64_t uptime_ms;         /* of the daemon */
    uint64_t conns_cur;
    uint64_t conns_total;
    uint64_t bytes_in;
    uint64_t bytes_out;
    uint64_t dgrams_in;
    uint64_t dgrams_out;
    uint64_t dgrams_dropped;
};

void nd_service_counters(const struct nd_service *svc, struct nd_counters *out);

/* ND_MOD_COUNTERS slots a module may use for its own counts, named by its
 * `counters`; like the core's, they belong to the service name and survive
 * reloads. */
#define ND_MOD_COUNTERS 12
uint64_t *nd_service_module_counters(struct nd_service *svc);

/* The module a service runs. */
const struct nd_module *nd_service_module(const struct nd_service *svc);

/* Every service of the configuration in force, in the file's order, for
 * reports on the whole process (/metrics, /stats): services 0 to
 * nd_services_count() - 1, read with the accessors above. The list changes
 * only when a reload is committed, never during a callback; nd_services_at
 * is NULL past its end. */
size_t nd_services_count(void);
struct nd_service *nd_services_at(size_t i);

/* The process's reloads since it started: done (the new configuration
 * went live) and refused (the previous one stayed in force). */
void nd_reload_counts(uint64_t *done, uint64_t *refused);

/* Sends a reply to the datagram's sender. A reply the socket cannot take
 * right now is dropped and counted, as the network would have done.
 * Returns 0 if sent, -1 if dropped. */
int nd_dgram_reply(const struct nd_dgram *d, const void *p, size_t n);

/* The modules netdemo knows (modules.c), NULL-terminated, and one by name
 * (NULL if unknown). Only the program's top (main, tests) uses these: the
 * configuration reader is handed the list. */
extern const struct nd_module *const nd_modules[];
const struct nd_module *nd_module_find(const char *name);

#endif
