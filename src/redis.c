/* redis.c: the Redis client. Commands wait in a ring of max_pending slots,
 * oldest first: the first nsent have gone out and await their replies, the
 * rest wait (as bytes in `unsent`) for a connection that has done its AUTH
 * and SELECT. One alarm watches the oldest command's deadline, another
 * times the reconnects. The connection is an outbound nd_conn, so the
 * core does the socket work and this file sees only bytes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "nd/addr.h"
#include "nd/buf.h"
#include "nd/log.h"
#include "nd/module.h"
#include "redis.h"
#include "resp.h"

/* The input a reply may need buffered at once: one largest string and
 * room for the rest of the reply around it. */
#define REDIS_IN_MAX (4u * ND_REDIS_MAX_BULK)

struct slot {
    nd_redis_reply_fn *fn;
    void *arg;
    uint64_t deadline;          /* ms, nd_now_us()'s clock */
    size_t len;                 /* its bytes, while unsent */
};

struct sub {
    enum nd_redis_sub kind;
    size_t len;
    char name[];
};

struct nd_redis {
    struct nd_service *svc;
    struct nd_addr addr;
    char *user, *password;
    unsigned db;
    uint64_t timeout_ms;
    size_t max;
    int subscriber;
    uint64_t ping_ms;
    unsigned awaited;           /* a subscriber's confirmations and PONGs due */
    void (*state)(void *arg, int up);
    void (*message)(void *arg, const struct nd_redis_msg *m);
    void *arg;

    struct nd_conn *conn;
    int ready;                  /* handshake done */
    int reported;               /* what state() was told: -1 nothing yet */
    unsigned handshake;         /* its replies still awaited */
    uint64_t backoff;           /* the next reconnect's wait */
    const char *why;            /* why the connection is being ended */
    int freeing;
    struct nd_alarm *retry;
    struct nd_alarm *timer;     /* the oldest command's deadline */

    struct slot *q;             /* ring of max slots */
    size_t head, n, nsent;
    struct nd_buf *unsent;      /* bytes of q's unsent commands, in order */
    struct nd_buf *scratch;     /* one command being built */

    struct sub **subs;
    size_t nsubs;

    struct nd_resp_parser parser;
    struct nd_resp_node *nodes;
};

static const char *const sub_verb[] = { "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE" };
static const char *const unsub_verb[] = { "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE" };

int
nd_redis_not_sent(const char *failed)
{
    return strncmp(failed, "not sent", 8) == 0;
}

uint64_t
nd_redis_backoff(uint64_t prev)
{
    if (prev < ND_REDIS_BACKOFF_MIN)
        return ND_REDIS_BACKOFF_MIN;
    return prev >= ND_REDIS_BACKOFF_MAX / 2 ? ND_REDIS_BACKOFF_MAX : prev * 2;
}

static uint64_t
now_ms(void)
{
    return nd_now_us() / 1000;
}

static void
report(struct nd_redis *r, int up)
{
    if (r->reported == up)
        return;
    r->reported = up;
    if (r->state)
        r->state(r->arg, up);
}

/* Takes the oldest command off the ring and gives it its answer. The slot
 * is free before fn runs, so fn may queue another. */
static void
answer(struct nd_redis *r, const struct nd_resp_node *reply, const char *failed)
{
    struct slot s = r->q[r->head];

    r->head = (r->head + 1) % r->max;
    r->n--;
    s.fn(s.arg, reply, failed);
}

/* Writes bytes to the connection; a write that fails ends it (its close()
 * fails what was sent). */
static void
send_bytes(struct nd_redis *r, const char *p, size_t n)
{
    if (nd_conn_write(r->conn, p, n) < 0) {
        r->why = "connection lost";
        nd_conn_end(r->conn, 1);
    }
}

/* Builds a command in scratch and writes it. 0 or -ENOMEM. */
static int
send_cmd(struct nd_redis *r, int argc, const char *const argv[], const size_t lens[])
{
    int rc = nd_resp_cmd(&r->scratch, argc, argv, lens);

    if (rc < 0)
        return rc;
    send_bytes(r, nd_buf_head(r->scratch), nd_buf_len(r->scratch));
    nd_buf_consume(r->scratch, nd_buf_len(r->scratch));
    return 0;
}

/* A subscriber's command is out: its answer is due within timeout_ms (the
 * connection's deadline runs from the first one awaited, and again from
 * each answer while more are due). */
static void
awaiting(struct nd_redis *r)
{
    if (r->awaited++ == 0 && r->conn != NULL)
        nd_conn_set_deadline(r->conn, r->timeout_ms);
}

static void
answered(struct nd_redis *r)
{
    if (r->awaited == 0)
        return;
    nd_conn_set_deadline(r->conn, --r->awaited > 0 ? r->timeout_ms : 0);
}

static void
send_sub(struct nd_redis *r, const char *const verbs[], enum nd_redis_sub kind,
         const char *name, size_t len)
{
    const char *argv[2] = { verbs[kind], name };
    size_t lens[2] = { strlen(verbs[kind]), len };

    if (send_cmd(r, 2, argv, lens) < 0 && r->conn != NULL) {
        r->why = "out of memory";
        nd_conn_end(r->conn, 1);
        return;
    }
    awaiting(r);
}

static void
arm_timer(struct nd_redis *r)
{
    uint64_t now = now_ms(), when;

    if (r->n == 0)
        return;
    when = r->q[r->head].deadline;
    if (nd_alarm_set(r->timer, when > now ? when - now : 1) < 0)
        nd_log(LOG_WARNING, "redis %s: no memory for a timer", r->addr.text);
}

/* AUTH and SELECT are answered: what waited goes out, in one write. */
static void
become_ready(struct nd_redis *r)
{
    r->ready = 1;
    r->backoff = 0;
    nd_conn_set_deadline(r->conn, 0);
    nd_log(LOG_INFO, "redis %s: connected", r->addr.text);
    if (r->subscriber) {
        r->awaited = 0;
        if (nd_alarm_set(r->retry, r->ping_ms) < 0)     /* now the PING timer */
            nd_log(LOG_WARNING, "redis %s: no memory for a timer", r->addr.text);
        for (size_t i = 0; i < r->nsubs && r->conn != NULL; i++)
            send_sub(r, sub_verb, r->subs[i]->kind, r->subs[i]->name, r->subs[i]->len);
    } else if (r->unsent != NULL && nd_buf_len(r->unsent) > 0) {
        r->nsent = r->n;
        send_bytes(r, nd_buf_head(r->unsent), nd_buf_len(r->unsent));
        nd_buf_free(r->unsent);
        r->unsent = NULL;
    }
    if (r->conn != NULL)
        report(r, 1);
}

static enum nd_verdict
conn_open(struct nd_conn *c)
{
    struct nd_redis *r = nd_conn_data(c);
    char db[24];
    int rc = 0;

    nd_resp_reset(&r->parser);
    r->handshake = 0;
    if (r->password != NULL) {
        const char *argv[3] = { "AUTH", r->user ? r->user : r->password, r->password };

        rc |= send_cmd(r, r->user ? 3 : 2, argv, NULL);
        r->handshake++;
    }
    if (r->db != 0 && !r->subscriber) {
        const char *argv[2] = { "SELECT", db };

        snprintf(db, sizeof(db), "%u", r->db);
        rc |= send_cmd(r, 2, argv, NULL);
        r->handshake++;
    }
    if (r->handshake == 0) {
        /* Connected is not up: a Redis that is stopped still completes
         * connects from its backlog. Up is when it answers. */
        const char *argv[1] = { "PING" };

        rc |= send_cmd(r, 1, argv, NULL);
        r->handshake++;
    }
    if (rc < 0) {
        r->why = "out of memory";
        return ND_ABORT;
    }
    return ND_KEEP;
}

static enum nd_verdict
handshake_reply(struct nd_redis *r, const struct nd_resp_node *reply)
{
    if (reply->type == ND_RESP_ERROR) {
        nd_log(LOG_WARNING, "redis %s: %.*s", r->addr.text, (int)reply->len, reply->str);
        r->why = "refused";
        return ND_ABORT;
    }
    if (--r->handshake == 0)
        become_ready(r);
    return ND_KEEP;
}

static void
str_of(const struct nd_resp_node *n, const char **s, size_t *len)
{
    if (n != NULL && (n->type == ND_RESP_BULK || n->type == ND_RESP_STRING)) {
        *s = n->str;
        *len = n->len;
    }
}

/* A subscriber's push: ["message", channel, data], ["pmessage", pattern,
 * channel, data], ["subscribe", channel, count], ... */
static void
push(struct nd_redis *r, const struct nd_resp_node *nodes)
{
    const struct nd_resp_node *k = nd_resp_child(nodes, 0, 0), *last;
    struct nd_redis_msg m = { .kind = ND_REDIS_MESSAGE };
    size_t argc = nodes[0].len, at = 1;

    if (nodes[0].type == ND_RESP_ERROR) {
        nd_log(LOG_WARNING, "redis %s: %.*s", r->addr.text, (int)nodes[0].len, nodes[0].str);
        answered(r);
        return;
    }
    if (nodes[0].type != ND_RESP_ARRAY && nodes[0].type != ND_RESP_PUSH) {
        answered(r);    /* +PONG: a subscriber with no subscription left */
        return;
    }
    if (k == NULL)
        return;
    if (!nd_resp_eq(k, "message") && !nd_resp_eq(k, "pmessage") && !nd_resp_eq(k, "smessage"))
        answered(r);    /* a confirmation or a "pong" */
    if (nd_resp_eq(k, "message") && argc == 3)
        m.kind = ND_REDIS_MESSAGE;
    else if (nd_resp_eq(k, "smessage") && argc == 3)
        m.kind = ND_REDIS_SMESSAGE;
    else if (nd_resp_eq(k, "pmessage") && argc == 4) {
        m.kind = ND_REDIS_PMESSAGE;
        str_of(nd_resp_child(nodes, 0, at++), &m.pattern, &m.pattern_len);
    } else if ((nd_resp_eq(k, "subscribe") || nd_resp_eq(k, "psubscribe") ||
                nd_resp_eq(k, "ssubscribe")) && argc == 3)
        m.kind = ND_REDIS_SUBSCRIBED;
    else if ((nd_resp_eq(k, "unsubscribe") || nd_resp_eq(k, "punsubscribe") ||
              nd_resp_eq(k, "sunsubscribe")) && argc == 3)
        m.kind = ND_REDIS_UNSUBSCRIBED;
    else
        return;     /* "pong", or something newer */
    str_of(nd_resp_child(nodes, 0, at++), &m.channel, &m.channel_len);
    last = nd_resp_child(nodes, 0, at);
    if (m.kind == ND_REDIS_SUBSCRIBED || m.kind == ND_REDIS_UNSUBSCRIBED)
        m.count = last != NULL ? last->num : 0;
    else
        str_of(last, &m.data, &m.len);
    if (r->message)
        r->message(r->arg, &m);
}

static enum nd_verdict
conn_input(struct nd_conn *c, struct nd_buf *in)
{
    struct nd_redis *r = nd_conn_data(c);

    for (;;) {
        size_t used = 0;
        enum nd_verdict v = ND_KEEP;
        int rc = nd_resp_parse(&r->parser, nd_buf_head(in), nd_buf_len(in), &used);

        if (rc == ND_RESP_MORE)
            return ND_KEEP;
        if (rc == ND_RESP_BAD) {
            nd_log(LOG_WARNING, "redis %s: protocol error: %s", r->addr.text, r->parser.why);
            r->why = "protocol error";
            return ND_ABORT;
        }
        if (r->handshake > 0)
            v = handshake_reply(r, r->nodes);
        else if (r->subscriber)
            push(r, r->nodes);
        else if (r->nsent > 0) {
            r->nsent--;
            answer(r, r->nodes, NULL);
        } else {
            nd_log(LOG_WARNING, "redis %s: a reply to no command", r->addr.text);
            r->why = "protocol error";
            v = ND_ABORT;
        }
        nd_buf_consume(in, used);
        if (v != ND_KEEP || r->conn == NULL)
            return ND_ABORT;
    }
}

static enum nd_verdict
conn_eof(struct nd_conn *c)
{
    struct nd_redis *r = nd_conn_data(c);

    r->why = "connection lost";
    return ND_ABORT;
}

/* The connect or the handshake took longer than timeout_ms. */
static enum nd_verdict
conn_timeout(struct nd_conn *c)
{
    struct nd_redis *r = nd_conn_data(c);

    r->why = "timeout";
    return ND_ABORT;
}

static void
schedule_retry(struct nd_redis *r)
{
    r->backoff = nd_redis_backoff(r->backoff);
    if (nd_alarm_set(r->retry, r->backoff) < 0)
        nd_log(LOG_WARNING, "redis %s: no memory for a timer", r->addr.text);
}

/* The connection ended (or never started): what was sent fails, what
 * waits stays for the next connection, and that is tried after a backoff. */
static void
lost(struct nd_redis *r, int err)
{
    const char *why = r->why ? r->why : "connection lost";

    r->why = NULL;
    if (r->ready)
        nd_log(LOG_WARNING, "redis %s: %s", r->addr.text, why);
    else if (err != 0)
        nd_log(LOG_INFO, "redis %s: cannot connect: %s", r->addr.text, strerror(err));
    else
        nd_log(LOG_INFO, "redis %s: connection failed: %s", r->addr.text, why);
    r->ready = 0;
    r->handshake = 0;
    r->awaited = 0;
    report(r, 0);
    schedule_retry(r);
    while (r->nsent > 0) {
        r->nsent--;
        answer(r, NULL, why);
    }
}

static void
conn_close(struct nd_conn *c)
{
    struct nd_redis *r = nd_conn_data(c);

    if (r->conn != c)
        return;
    r->conn = NULL;
    if (!r->freeing)
        lost(r, nd_conn_error(c));
}

static size_t
conn_input_max(const void *data)
{
    (void)data;
    return REDIS_IN_MAX;
}

/* The callbacks of the client's connection. */
static const struct nd_module redis_conn = {
    .name = "redis",
    .transports = ND_MOD_STREAM,
    .input_max = conn_input_max,
    .open = conn_open,
    .input = conn_input,
    .eof = conn_eof,
    .timeout = conn_timeout,
    .close = conn_close,
};

/* The retry alarm: a reconnect while down; on a subscriber that is up, a
 * PING every ping_ms, so that a Redis that stopped answering is noticed
 * even when no message is due. */
static void
dial(void *arg)
{
    struct nd_redis *r = arg;
    const char *ping[1] = { "PING" };

    if (r->conn != NULL) {
        if (r->subscriber && r->ready) {
            if (send_cmd(r, 1, ping, NULL) == 0)
                awaiting(r);
            if (nd_alarm_set(r->retry, r->ping_ms) < 0)
                nd_log(LOG_WARNING, "redis %s: no memory for a timer", r->addr.text);
        }
        return;
    }
    r->conn = nd_conn_connect(r->svc, &r->addr, &redis_conn, r);
    if (r->conn == NULL) {
        lost(r, errno);
        return;
    }
    nd_conn_set_deadline(r->conn, r->timeout_ms);   /* connect and handshake */
}

/* The oldest command's time is up: if it was sent, the connection goes
 * (the replies after it could no longer be matched to theirs), failing
 * every command sent; those still waiting fail when their own time is up. */
static void
ring_timer(void *arg)
{
    struct nd_redis *r = arg;
    uint64_t now = now_ms();

    while (r->n > 0 && r->q[r->head].deadline <= now) {
        if (r->nsent > 0 && r->conn != NULL) {
            r->why = "timeout";
            nd_conn_end(r->conn, 1);    /* its close() fails what was sent */
            if (r->conn != NULL)
                break;
            continue;
        }
        if (r->unsent != NULL)
            nd_buf_consume(r->unsent, r->q[r->head].len);
        answer(r, NULL, "not sent: timeout");
    }
    arm_timer(r);
}

static char *
dup_or_null(const char *s, int *bad)
{
    char *d;

    if (s == NULL)
        return NULL;
    if ((d = strdup(s)) == NULL)
        *bad = 1;
    return d;
}

struct nd_redis *
nd_redis_new(struct nd_service *svc, const struct nd_addr *addr, const struct nd_redis_opts *o)
{
    struct nd_redis *r;
    int bad = 0;

    if (!nd_addr_is_stream(addr)) {
        errno = EINVAL;
        return NULL;
    }
    if ((r = calloc(1, sizeof(*r))) == NULL)
        return NULL;
    r->svc = svc;
    r->addr = *addr;
    r->user = dup_or_null(o->user, &bad);
    r->password = dup_or_null(o->password, &bad);
    r->db = o->db;
    r->timeout_ms = o->timeout_ms ? o->timeout_ms : ND_REDIS_TIMEOUT_MS;
    r->max = o->max_pending ? o->max_pending : ND_REDIS_MAX_PENDING;
    r->subscriber = o->subscriber;
    r->ping_ms = o->ping_ms ? o->ping_ms : ND_REDIS_PING_MS;
    r->state = o->state;
    r->message = o->message;
    r->arg = o->arg;
    r->reported = -1;
    r->q = calloc(r->subscriber ? 1 : r->max, sizeof(*r->q));
    r->nodes = calloc(ND_REDIS_NODES, sizeof(*r->nodes));
    r->retry = nd_service_alarm_new(svc, dial, r);
    r->timer = nd_service_alarm_new(svc, ring_timer, r);
    if (bad || r->q == NULL || r->nodes == NULL || r->retry == NULL || r->timer == NULL ||
        nd_alarm_set(r->retry, 1) < 0) {
        nd_redis_free(r);
        errno = ENOMEM;
        return NULL;
    }
    nd_resp_init(&r->parser, r->nodes, ND_REDIS_NODES);
    r->parser.max_bulk = ND_REDIS_MAX_BULK;
    return r;
}

void
nd_redis_free(struct nd_redis *r)
{
    if (r == NULL)
        return;
    r->freeing = 1;
    if (r->conn != NULL)
        nd_conn_end(r->conn, 1);
    r->conn = NULL;
    while (r->n > 0) {
        if (r->nsent > 0) {
            r->nsent--;
            answer(r, NULL, "closed");
        } else
            answer(r, NULL, "not sent: closed");
    }
    nd_alarm_free(r->retry);
    nd_alarm_free(r->timer);
    for (size_t i = 0; i < r->nsubs; i++)
        free(r->subs[i]);
    free(r->subs);
    nd_buf_free(r->unsent);
    nd_buf_free(r->scratch);
    free(r->nodes);
    free(r->q);
    free(r->user);
    free(r->password);
    free(r);
}

int
nd_redis_command(struct nd_redis *r, int argc, const char *const argv[], const size_t lens[],
                 nd_redis_reply_fn *fn, void *arg)
{
    struct slot *s;
    size_t before;
    int rc;

    if (r->subscriber || argc < 1 || fn == NULL) {
        errno = EINVAL;
        return -1;
    }
    if (r->n >= r->max) {
        errno = ENOBUFS;
        return -1;
    }
    if (r->ready) {
        if ((rc = nd_resp_cmd(&r->scratch, argc, argv, lens)) < 0) {
            errno = -rc;
            return -1;
        }
        before = 0;
    } else {
        before = r->unsent ? nd_buf_len(r->unsent) : 0;
        if ((rc = nd_resp_cmd(&r->unsent, argc, argv, lens)) < 0) {
            errno = -rc;
            return -1;
        }
    }
    s = &r->q[(r->head + r->n) % r->max];
    s->fn = fn;
    s->arg = arg;
    s->deadline = now_ms() + r->timeout_ms;
    s->len = r->ready ? 0 : nd_buf_len(r->unsent) - before;
    if (r->n++ == 0 && !nd_alarm_armed(r->timer))
        arm_timer(r);
    if (r->ready) {
        r->nsent++;
        send_bytes(r, nd_buf_head(r->scratch), nd_buf_len(r->scratch));
        if (r->scratch != NULL)
            nd_buf_consume(r->scratch, nd_buf_len(r->scratch));
    }
    return 0;
}

static ssize_t
find_sub(const struct nd_redis *r, enum nd_redis_sub kind, const char *name, size_t len)
{
    for (size_t i = 0; i < r->nsubs; i++)
        if (r->subs[i]->kind == kind && r->subs[i]->len == len &&
            memcmp(r->subs[i]->name, name, len) == 0)
            return (ssize_t)i;
    return -1;
}

int
nd_redis_subscribe(struct nd_redis *r, enum nd_redis_sub kind, const char *name, size_t len)
{
    struct sub *s, **v;

    if (!r->subscriber || (unsigned)kind > ND_REDIS_SHARD) {
        errno = EINVAL;
        return -1;
    }
    if (find_sub(r, kind, name, len) >= 0)
        return 0;
    if (r->nsubs >= r->max) {
        errno = ENOBUFS;
        return -1;
    }
    if ((s = malloc(sizeof(*s) + len + 1)) == NULL ||
        (v = realloc(r->subs, (r->nsubs + 1) * sizeof(*v))) == NULL) {
        free(s);
        errno = ENOMEM;
        return -1;
    }
    s->kind = kind;
    s->len = len;
    memcpy(s->name, name, len);
    s->name[len] = '\0';
    r->subs = v;
    r->subs[r->nsubs++] = s;
    if (r->ready)
        send_sub(r, sub_verb, kind, name, len);
    return 0;
}

int
nd_redis_unsubscribe(struct nd_redis *r, enum nd_redis_sub kind, const char *name, size_t len)
{
    ssize_t i;

    if (!r->subscriber || (unsigned)kind > ND_REDIS_SHARD) {
        errno = EINVAL;
        return -1;
    }
    if ((i = find_sub(r, kind, name, len)) < 0)
        return 0;
    free(r->subs[i]);
    r->subs[i] = r->subs[--r->nsubs];
    if (r->ready)
        send_sub(r, unsub_verb, kind, name, len);
    return 0;
}

int
nd_redis_up(const struct nd_redis *r)
{
    return r->ready;
}

size_t
nd_redis_pending(const struct nd_redis *r)
{
    return r->n;
}
