/* redis.h: a Redis client that lives in the loop, for modules. One client is
 * one connection: either a command connection (pipelined commands, each
 * reply handed to its own callback, in order) or a subscriber (SUBSCRIBE,
 * PSUBSCRIBE, SSUBSCRIBE, with a message callback). It never blocks: the
 * connect, AUTH and SELECT, the commands and the replies all go through
 * the loop; it reconnects by itself with backoff and says when it is up
 * and down. Replies are parsed with resp.c and handed over without a copy:
 * the nodes are valid during the callback only. */
#ifndef ND_REDIS_H
#define ND_REDIS_H

#include <stddef.h>
#include <stdint.h>

struct nd_addr;
struct nd_redis;
struct nd_resp_node;
struct nd_service;

#define ND_REDIS_TIMEOUT_MS 1000    /* a reply's default time limit */
#define ND_REDIS_MAX_PENDING 1024   /* commands queued or awaiting a reply, by default */
#define ND_REDIS_BACKOFF_MIN 100    /* ms before the first reconnect */
#define ND_REDIS_BACKOFF_MAX 5000   /* ms between reconnects at most */
#define ND_REDIS_PING_MS 10000      /* a subscriber's PING interval, by default */
#define ND_REDIS_NODES 1024         /* values in one reply at most (a bigger
                                     * one is a protocol error) */
#define ND_REDIS_MAX_BULK (1u << 20) /* bytes of one string in a reply */

/* A reply, or why there is none. Exactly one of reply and failed is set:
 * reply is the reply's tree (reply[0] its top, nd_resp_child() for the
 * rest; a Redis error is an ND_RESP_ERROR node), valid during the call
 * only; failed says why the client gave up on the command. A command that
 * never went out did not run: "not sent: timeout" (it waited longer than
 * timeout_ms for a connection), "not sent: closed" (nd_redis_free). One
 * that went out may or may not have run (Redis may have run it and not
 * yet written the reply, or be about to read it): "timeout" (no reply in
 * time: the connection is closed, since the replies after it could no
 * longer be matched), "connection lost", "closed". */
typedef void nd_redis_reply_fn(void *arg, const struct nd_resp_node *reply, const char *failed);

/* What a subscriber hears. */
enum nd_redis_msg_kind {
    ND_REDIS_MESSAGE,           /* channel, data */
    ND_REDIS_PMESSAGE,          /* pattern, channel, data */
    ND_REDIS_SMESSAGE,          /* channel, data (sharded) */
    ND_REDIS_SUBSCRIBED,        /* channel (or pattern) is on; count */
    ND_REDIS_UNSUBSCRIBED,      /* channel (or pattern) is off; count */
};

struct nd_redis_msg {
    enum nd_redis_msg_kind kind;
    const char *pattern;        /* PMESSAGE only, else NULL */
    size_t pattern_len;
    const char *channel;
    size_t channel_len;
    const char *data;           /* the messages' payload, else NULL */
    size_t len;
    long long count;            /* (UN)SUBSCRIBED: subscriptions now */
};

enum nd_redis_sub {
    ND_REDIS_CHANNEL,           /* SUBSCRIBE */
    ND_REDIS_PATTERN,           /* PSUBSCRIBE */
    ND_REDIS_SHARD,             /* SSUBSCRIBE */
};

struct nd_redis_opts {
    const char *user;           /* AUTH user password; NULL: AUTH password */
    const char *password;       /* NULL: no AUTH */
    unsigned db;                /* SELECT db when not 0 (not for a subscriber) */
    uint64_t timeout_ms;        /* 0: ND_REDIS_TIMEOUT_MS */
    size_t max_pending;         /* 0: ND_REDIS_MAX_PENDING */
    int subscriber;             /* a pub/sub connection */
    /* A subscriber sends a PING this often (0: ND_REDIS_PING_MS); its
     * answer, like each (un)subscription's confirmation, is due within
     * timeout_ms, else the connection is dropped and made again. */
    uint64_t ping_ms;
    /* The connection is usable (up = 1: connected, AUTH and SELECT done)
     * or not (up = 0: lost, or the first attempt failed). Called on a
     * change only, not for every failed reconnect. May be NULL. */
    void (*state)(void *arg, int up);
    /* A subscriber's messages and confirmations. */
    void (*message)(void *arg, const struct nd_redis_msg *m);
    void *arg;
};

/* A client of the Redis at addr (tcp:// or unix:), on the loop of svc
 * (which must outlive it: free it with the service's settings); it starts
 * connecting from the loop, not inside this call. NULL when memory is
 * short or addr is udp://. */
struct nd_redis *nd_redis_new(struct nd_service *svc, const struct nd_addr *addr,
                              const struct nd_redis_opts *o);

/* Closes the connection and fails every command still queued ("closed",
 * "not sent: closed").
 * Not from inside one of r's own callbacks. NULL is fine. */
void nd_redis_free(struct nd_redis *r);

/* Queues a command (argv[0..argc), lens[i] bytes each; lens NULL: C
 * strings). It goes out at once when the connection is up, in the same
 * write as the others of this loop turn, else as soon as it is; fn(arg, ...)
 * is called once with its reply or its failure, within timeout_ms of this
 * call (a command that waited for a connection that did not come fails
 * with "not sent: timeout"). Returns 0, or -1 with errno: ENOBUFS when
 * max_pending commands are queued or awaiting replies (refused at once,
 * fn is not called), EINVAL on a subscriber or for argc < 1, ENOMEM. */
int nd_redis_command(struct nd_redis *r, int argc, const char *const argv[],
                     const size_t lens[], nd_redis_reply_fn *fn, void *arg);

/* A subscriber's subscriptions. Kept, and made again after every
 * reconnect; each is confirmed with an ND_REDIS_SUBSCRIBED message. 0, or
 * -1 with errno: EINVAL on a command connection, ENOBUFS past max_pending
 * subscriptions, ENOMEM. Subscribing twice to one name is one subscription. */
int nd_redis_subscribe(struct nd_redis *r, enum nd_redis_sub kind, const char *name,
                       size_t len);
int nd_redis_unsubscribe(struct nd_redis *r, enum nd_redis_sub kind, const char *name,
                         size_t len);

/* 1 when failed (a reply function's) says the command never went out,
 * so it did not run; 0 when it may have. */
int nd_redis_not_sent(const char *failed);

/* 1 when connected with AUTH and SELECT done, else 0. */
int nd_redis_up(const struct nd_redis *r);

/* Commands queued or awaiting their reply. */
size_t nd_redis_pending(const struct nd_redis *r);

/* The wait before the next reconnect after one of prev ms: 100 ms first
 * (prev 0), then doubling up to 5 s. Pure. */
uint64_t nd_redis_backoff(uint64_t prev);

#endif
