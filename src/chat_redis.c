/* chat_redis.c: chat rooms shared through Redis. A room NAME is the keys
 * netdemo:{NAME}:seq (its last number), :epoch (16 hex digits, made when
 * missing), :history (its last 100 events, newest first) and the channel
 * netdemo:{NAME}:events. Publishing is one script, so seq order is the
 * order of PUBLISH and so of delivery everywhere. A room made here
 * subscribes first and fetches seq, epoch and history once the
 * subscription is confirmed: what is published in between arrives live,
 * is held back, and is dropped if the history had it already.
 *
 * Presence: netdemo:{NAME}:presence is a hash of instance -> "COUNT:UNTIL"
 * (ms on Redis's clock). Every instance with members in the room writes
 * its count at once when it changes (within CHAT_PRESENCE_MS) and again
 * every BEAT_MS, and is told the sum of the entries still alive; one that
 * dies without a word drops out of the sum ENTRY_MS after its last beat. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "chat_redis.h"
#include "chat_room.h"
#include "nd/addr.h"
#include "nd/buf.h"
#include "nd/log.h"
#include "nd/module.h"
#include "redis.h"
#include "redis_url.h"
#include "resp.h"
#include "service.h"

#define EARLY_MAX (1024 * 1024)     /* bytes of live events held during a fetch */
#define BEAT_MS 300                 /* an instance's count is written again this often */
#define ENTRY_MS 1000               /* and counts this long after it was written */
#define TICK_MS 100                 /* the presence timer, while a room needs it */
/* A message is published only if Redis runs its script this long before
 * the client gives up on the reply (ND_REDIS_TIMEOUT_MS): a sender told
 * "failed" can trust that it was not published. */
#define LATE_MARGIN_MS 250

/* KEYS: seq, epoch, history, channel; ARGV: the event's members, an epoch
 * for a room that has none, the time (ms on Redis's clock) after which it
 * must not be published, 0 for none. Returns {seq, epoch}, or an error
 * when it came too late: its sender has been told it failed. */
static const char publish_lua[] =
    "if ARGV[3] ~= '0' then\n"
    "  local t = redis.call('TIME')\n"
    "  if tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) > tonumber(ARGV[3]) then\n"
    "    return redis.error_reply('LATE the sender gave up on it')\n"
    "  end\n"
    "end\n"
    "redis.call('SET', KEYS[2], ARGV[2], 'NX')\n"
    "local e = redis.call('GET', KEYS[2])\n"
    "local s = redis.call('INCR', KEYS[1])\n"
    "local ev = '{\"seq\":' .. string.format('%d', s) .. ',\"epoch\":\"' .. e .. '\",' .. ARGV[1] .. '}'\n"
    "redis.call('LPUSH', KEYS[3], ev)\n"
    "redis.call('LTRIM', KEYS[3], 0, 99)\n"
    "redis.call('PUBLISH', KEYS[4], ev)\n"
    "return {s, e}\n";

/* KEYS: seq, epoch, history; ARGV: an epoch for a room that has none.
 * Returns {epoch, seq, history newest first}. */
static const char fetch_lua[] =
    "redis.call('SET', KEYS[2], ARGV[1], 'NX')\n"
    "return {redis.call('GET', KEYS[2]), tonumber(redis.call('GET', KEYS[1]) or '0'),\n"
    "        redis.call('LRANGE', KEYS[3], 0, 99)}\n";

/* KEYS: presence; ARGV: instance, count, ms it stays. Returns the sum of
 * the live counts. */
static const char presence_lua[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "if tonumber(ARGV[2]) > 0 then\n"
    "  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. (now + tonumber(ARGV[3])))\n"
    "else\n"
    "  redis.call('HDEL', KEYS[1], ARGV[1])\n"
    "end\n"
    "local all = redis.call('HGETALL', KEYS[1])\n"
    "local sum = 0\n"
    "for i = 1, #all, 2 do\n"
    "  local n, untl = string.match(all[i + 1], '^(%d+):(%d+)$')\n"
    "  if n == nil or tonumber(untl) < now then\n"
    "    redis.call('HDEL', KEYS[1], all[i])\n"
    "  else\n"
    "    sum = sum + tonumber(n)\n"
    "  end\n"
    "end\n"
    "if sum > 0 then redis.call('PEXPIRE', KEYS[1], 10 * tonumber(ARGV[3])) end\n"
    "return sum\n";

struct chat_redis;

/* One room's part here. It outlives its room while a fetch is out. */
struct room_state {
    struct chat_redis *cr;
    struct chat_room *room;         /* NULL once the room went */
    struct room_state *next;
    unsigned out;                   /* fetches awaiting their reply */
    int fetching;
    int refetch;                    /* fetch again after this one */
    int subscribed;                 /* confirmed: a fetch now misses nothing */
    struct nd_buf *early;           /* live events during the fetch: size_t len, bytes */
    /* Presence */
    int dirty;                      /* the count here changed: write it */
    int grew;                       /* a member came: tell the sum even if the same */
    int registered;                 /* an entry of ours may be in the hash */
    int beating;                    /* a presence script is out */
    int beat_grew;                  /* ... for a count that grew */
    uint64_t next_beat;             /* ms */
    long long told;                 /* the sum the members last heard; -1: none */
    size_t last_n;
    /* The backend's state as the members heard it */
    int told_down;                  /* "down" said; "up" once fetched again */
    int stale;                      /* missed events: fetch when back */
    char keys[5][96];               /* seq, epoch, history, channel, presence */
};

struct chat_redis {
    struct chat_backend base;
    /* A service of its own for the Redis connections: they hold a
     * reference to it, which on the http service would keep that (and
     * these settings) alive for ever. */
    struct nd_service *side;
    struct nd_redis *cmd, *sub;
    struct room_state *rooms;
    struct nd_alarm *tick;          /* presence */
    uint64_t *ctr;                  /* down now, reconnects, refused, unanswered */
    char id[17];                    /* this instance in presence hashes */
    int cmd_up, sub_up;             /* -1: not known yet */
    /* Redis's clock (ms since 1970) minus ours (nd_now_us() / 1000), at
     * most: the highest lower bound that a TIME gave since the connect
     * (one at each connect, another when a publish came back late sooner
     * than it should have); until the first ever: no deadline on publishes. */
    int64_t offset_ms;
    int have_offset;
    int samples;                    /* TIMEs answered since the connect */
    int time_out;                   /* a TIME is out */
    int down;                       /* as logged and told: -1 not known yet */
};

/* A publish awaiting its reply. */
struct pub {
    struct chat_ticket *t;          /* first: nd_chat_ticket_cancel() clears it */
    struct chat_redis *cr;
    uint64_t at;                    /* ms, when it was queued */
};

static const struct nd_module side_module = { .name = "chat-redis" };

static void
epoch_text(char out[17])
{
    uint64_t e = 0;

    if (getrandom(&e, sizeof(e), GRND_NONBLOCK) != (ssize_t)sizeof(e))
        e = (uint64_t)nd_now_us() * 0x9e3779b97f4a7c15u;
    snprintf(out, 17, "%016llx", (unsigned long long)(e ? e : 1));
}

static int
parse_hex16(const char *p, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    size_t i;

    if (n != 16)
        return -1;
    for (i = 0; i < n; i++) {
        int c = (unsigned char)p[i], d;

        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else
            return -1;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return 0;
}

/* seq and epoch from an event as the script writes it:
 * {"seq":N,"epoch":"HEX16",... */
static int
event_numbers(const char *p, size_t n, uint64_t *seq, uint64_t *epoch)
{
    static const char a[] = "{\"seq\":", b[] = ",\"epoch\":\"";
    size_t i = sizeof(a) - 1;
    uint64_t s = 0;

    if (n < i || memcmp(p, a, i) != 0)
        return -1;
    if (i >= n || p[i] < '0' || p[i] > '9')
        return -1;
    while (i < n && p[i] >= '0' && p[i] <= '9' && s < UINT64_MAX / 10)
        s = s * 10 + (uint64_t)(p[i++] - '0');
    if (n - i < sizeof(b) - 1 + 17 || memcmp(p + i, b, sizeof(b) - 1) != 0)
        return -1;
    i += sizeof(b) - 1;
    if (parse_hex16(p + i, 16, epoch) < 0 || p[i + 16] != '"')
        return -1;
    *seq = s;
    return 0;
}

static void
state_free(struct room_state *st)
{
    struct room_state **pp;

    for (pp = &st->cr->rooms; *pp; pp = &(*pp)->next) {
        if (*pp == st) {
            *pp = st->next;
            break;
        }
    }
    nd_buf_free(st->early);
    free(st);
}

/* A command of st's got its reply: its room, or NULL when the room has
 * gone meanwhile (the state goes with the last reply it waited for). */
static struct chat_room *
answered(struct room_state *st)
{
    st->out--;
    if (st->room == NULL && st->out == 0) {
        state_free(st);
        return NULL;
    }
    return st->room;
}

/* ---- fetching a room ---- */

static void fetch(struct room_state *st);

static void
fetched(void *arg, const struct nd_resp_node *reply, const char *failed)
{
    struct room_state *st = arg;
    struct chat_room *r;
    const struct nd_resp_node *e, *s, *h;
    uint64_t epoch, seq;
    size_t i;

    st->fetching = 0;
    if ((r = answered(st)) == NULL)
        return;
    if (failed != NULL || reply[0].type != ND_RESP_ARRAY || reply[0].len != 3 ||
        (e = nd_resp_child(reply, 0, 0)) == NULL || (s = nd_resp_child(reply, 0, 1)) == NULL ||
        (h = nd_resp_child(reply, 0, 2)) == NULL || e->type != ND_RESP_BULK ||
        parse_hex16(e->str, e->len, &epoch) < 0 || s->type != ND_RESP_INTEGER || s->num < 0 ||
        h->type != ND_RESP_ARRAY) {
        /* Tried again on the next confirmation of the subscription (after
         * a reconnect); until then the room has no history here. */
        nd_log(LOG_WARNING, "chat room %s: no state from Redis: %s", st->keys[3],
               failed ? failed : "unexpected reply");
        st->stale = 1;
        return;
    }
    st->stale = 0;
    seq = (uint64_t)s->num;
    if (!r->synced || epoch != r->epoch) {
        nd_chat_reset(r, epoch, 0);
        for (i = h->len; i-- > 0; ) {
            const struct nd_resp_node *ev = nd_resp_child(reply, (size_t)(h - reply), i);
            uint64_t es, ee;

            if (ev && ev->type == ND_RESP_BULK && event_numbers(ev->str, ev->len, &es, &ee) == 0)
                nd_chat_keep(r, es, ev->str, ev->len);
        }
        if (r->seq < seq)
            r->seq = seq;   /* the history may be shorter than the numbering */
    } else {
        /* In step already (a resubscription): what was missed, in order. */
        for (i = h->len; i-- > 0; ) {
            const struct nd_resp_node *ev = nd_resp_child(reply, (size_t)(h - reply), i);
            uint64_t es, ee;

            if (ev && ev->type == ND_RESP_BULK && event_numbers(ev->str, ev->len, &es, &ee) == 0)
                nd_chat_receive(r, es, ee, ev->str, ev->len);
        }
    }
    /* Those that came while fetching, past the history. */
    while (st->early && nd_buf_len(st->early) >= sizeof(size_t)) {
        size_t n;
        uint64_t es, ee;

        memcpy(&n, nd_buf_head(st->early), sizeof(n));
        nd_buf_consume(st->early, sizeof(n));
        if (event_numbers(nd_buf_head(st->early), n, &es, &ee) == 0 && ee == r->epoch &&
            es > r->seq) {
            if (r->synced)
                nd_chat_receive(r, es, ee, nd_buf_head(st->early), n);
            else
                nd_chat_keep(r, es, nd_buf_head(st->early), n);
        }
        nd_buf_consume(st->early, n);
    }
    nd_buf_free(st->early);
    st->early = NULL;
    if (!r->synced)
        nd_chat_synced(r);
    if (st->told_down) {
        /* Back, and in step: the epoch tells a page whether to start over. */
        char ev[96];
        int len = snprintf(ev, sizeof(ev), "{\"type\":\"backend\",\"state\":\"up\","
                           "\"epoch\":\"%016llx\"}", (unsigned long long)r->epoch);

        st->told_down = 0;
        nd_chat_tell(r, ev, (size_t)len);
    }
    if (st->refetch) {
        st->refetch = 0;
        fetch(st);
    }
}

static void
fetch(struct room_state *st)
{
    char epoch[17];
    const char *argv[] = { "EVAL", fetch_lua, "3", st->keys[0], st->keys[1], st->keys[2], epoch };

    if (st->fetching)
        return;
    epoch_text(epoch);
    if (nd_redis_command(st->cr->cmd, 7, argv, NULL, fetched, st) == 0) {
        st->fetching = 1;
        st->out++;
    }
}

/* ---- the subscriber ---- */

static struct room_state *
by_channel(struct chat_redis *cr, const char *ch, size_t n)
{
    struct room_state *st;

    for (st = cr->rooms; st; st = st->next)
        if (st->room && strlen(st->keys[3]) == n && memcmp(st->keys[3], ch, n) == 0)
            return st;
    return NULL;
}

static void
heard(void *arg, const struct nd_redis_msg *m)
{
    struct chat_redis *cr = arg;
    struct room_state *st = by_channel(cr, m->channel, m->channel_len);
    uint64_t seq, epoch;

    if (st == NULL)
        return;
    if (m->kind == ND_REDIS_SUBSCRIBED) {
        /* Only a fetch that starts after this misses nothing. */
        st->subscribed = 1;
        if (st->fetching)
            st->refetch = 1;
        else
            fetch(st);
        return;
    }
    if (m->kind != ND_REDIS_MESSAGE)
        return;
    if (st->fetching || !st->room->synced) {
        /* Held for the fetch under way, or the next one (a failed fetch is
         * tried again when Redis is back). Past the bound they go, and a
         * fetch after this one brings them from the history. */
        if ((st->early ? nd_buf_len(st->early) : 0) + m->len > EARLY_MAX ||
            nd_buf_append(&st->early, &m->len, sizeof(m->len)) < 0 ||
            nd_buf_append(&st->early, m->data, m->len) < 0) {
            nd_buf_free(st->early);
            st->early = NULL;
            st->refetch = st->fetching;
        }
        return;
    }
    if (event_numbers(m->data, m->len, &seq, &epoch) == 0)
        nd_chat_receive(st->room, seq, epoch, m->data, m->len);
}

/* Either connection lost or back. Down: every room may miss events (it
 * fetches again once back) and its members hear it; up: rooms fetch what
 * they missed once resubscribed (see heard()), and say "up" when they
 * have it. Logged on a change only. */
static void
backend_state(struct chat_redis *cr)
{
    int down = cr->cmd_up == 0 || cr->sub_up == 0;
    struct room_state *st;

    if (down == cr->down || (!down && (cr->cmd_up < 0 || cr->sub_up < 0)))
        return;     /* no change, or one is yet to say */
    nd_log(down ? LOG_WARNING : LOG_NOTICE, "%s: chat backend Redis %s",
           nd_service_name(cr->side), down ? "down" : "up");
    if (!down && cr->down == 1)
        cr->ctr[1]++;
    cr->ctr[0] = (uint64_t)down;
    cr->down = down;
    for (st = cr->rooms; st; st = st->next) {
        if (st->room == NULL)
            continue;
        if (down) {
            st->stale = 1;
            if (!st->told_down && st->room->n > 0) {
                static const char ev[] = "{\"type\":\"backend\",\"state\":\"down\"}";

                st->told_down = 1;
                nd_chat_tell(st->room, ev, sizeof(ev) - 1);
            }
        } else if (st->subscribed && (st->stale || !st->room->synced)) {
            fetch(st);
        }
    }
}

/* The subscriber lost its connection: every room waits for its
 * resubscription's confirmation before it fetches again. */
static void
sub_state(void *arg, int up)
{
    struct chat_redis *cr = arg;
    struct room_state *st;

    if (!up)
        for (st = cr->rooms; st; st = st->next)
            st->subscribed = 0;
    cr->sub_up = up;
    backend_state(cr);
}

/* Redis's TIME. Its clock was read somewhere between the asking and now,
 * so its reading minus our now is a lower bound of the offset, exact
 * when the round trip is short; kept when higher than the one before. A
 * low bound only moves each publish's deadline earlier: never past the
 * moment the sender is told. */
static void
timed(void *arg, const struct nd_resp_node *reply, const char *failed)
{
    struct chat_redis *cr = arg;
    const struct nd_resp_node *sec, *usec;
    int64_t off;

    cr->time_out = 0;
    if (failed != NULL || reply[0].type != ND_RESP_ARRAY || reply[0].len != 2 ||
        (sec = nd_resp_child(reply, 0, 0)) == NULL || (usec = nd_resp_child(reply, 0, 1)) == NULL ||
        sec->type != ND_RESP_BULK || usec->type != ND_RESP_BULK)
        return;
    off = (int64_t)(strtoull(sec->str, NULL, 10) * 1000 + strtoull(usec->str, NULL, 10) / 1000) -
          (int64_t)(nd_now_us() / 1000);
    if (cr->samples++ == 0 || off > cr->offset_ms)
        cr->offset_ms = off;
    cr->have_offset = 1;
}

static void
ask_time(struct chat_redis *cr)
{
    static const char *const argv[1] = { "TIME" };

    if (!cr->time_out && nd_redis_command(cr->cmd, 1, argv, NULL, timed, cr) == 0)
        cr->time_out = 1;
}

static void
cmd_state(void *arg, int up)
{
    struct chat_redis *cr = arg;

    cr->cmd_up = up;
    if (up) {
        cr->samples = 0;            /* its clock may have been set meanwhile */
        ask_time(cr);
    }
    backend_state(cr);
}

/* ---- presence ---- */

static void
beaten(void *arg, const struct nd_resp_node *reply, const char *failed)
{
    struct room_state *st = arg;
    struct chat_room *r;

    st->beating = 0;
    if ((r = answered(st)) == NULL)
        return;
    if (failed != NULL || reply[0].type != ND_RESP_INTEGER || reply[0].num < 0) {
        st->dirty = 1;          /* written again on the next tick */
        st->grew |= st->beat_grew;
        return;
    }
    if (reply[0].num != st->told || st->beat_grew) {
        char ev[64];
        int n = snprintf(ev, sizeof(ev), "{\"type\":\"presence\",\"members\":%lld}",
                         reply[0].num);

        st->told = reply[0].num;
        nd_chat_tell(r, ev, (size_t)n);
    }
}

/* Writes the room's count here (0: takes our entry out). */
static void
beat(struct room_state *st, uint64_t now)
{
    char n[24], ttl[24];
    const char *argv[7] = { "EVAL", presence_lua, "1", st->keys[4], st->cr->id, n, ttl };
    size_t count = st->room ? st->room->n : 0;

    snprintf(n, sizeof(n), "%zu", count);
    snprintf(ttl, sizeof(ttl), "%d", ENTRY_MS);
    if (nd_redis_command(st->cr->cmd, 7, argv, NULL, beaten, st) < 0)
        return;                 /* too busy: the next tick tries again */
    st->out++;
    st->beating = 1;
    st->dirty = 0;
    st->beat_grew = st->grew;
    st->grew = 0;
    st->registered = count > 0;
    st->next_beat = now + BEAT_MS;
}

static void
tick(void *arg)
{
    struct chat_redis *cr = arg;
    uint64_t now = nd_now_us() / 1000;
    struct room_state *st;
    int again = 0;

    for (st = cr->rooms; st; st = st->next) {
        if (st->room == NULL)
            continue;
        if (!st->beating && (st->dirty || (st->registered && now >= st->next_beat)))
            beat(st, now);
        again |= st->dirty || st->registered;
    }
    if (again)
        nd_alarm_set(cr->tick, TICK_MS);
}

static void
room_presence(struct chat_backend *b, struct chat_room *r)
{
    struct chat_redis *cr = (struct chat_redis *)b;
    struct room_state *st = r->bstate;

    if (st == NULL)
        return;
    if (r->n > st->last_n)
        st->grew = 1;
    st->last_n = r->n;
    st->dirty = 1;
    if (!nd_alarm_armed(cr->tick))
        nd_alarm_set(cr->tick, 1);     /* a quiet room hears at once */
}

/* ---- the backend ---- */

static int
room_open(struct chat_backend *b, struct chat_room *r)
{
    struct chat_redis *cr = (struct chat_redis *)b;
    struct room_state *st = calloc(1, sizeof(*st));
    const char *name = r->key + strlen(r->key) + 1;
    static const char *const suffix[5] = { "seq", "epoch", "history", "events", "presence" };
    int i;

    if (st == NULL)
        return -1;
    st->told = -1;
    for (i = 0; i < 5; i++)
        snprintf(st->keys[i], sizeof(st->keys[i]), "netdemo:{%s}:%s", name, suffix[i]);
    st->cr = cr;
    st->room = r;
    st->next = cr->rooms;
    cr->rooms = st;
    r->bstate = st;
    if (nd_redis_subscribe(cr->sub, ND_REDIS_CHANNEL, st->keys[3], strlen(st->keys[3])) < 0) {
        state_free(st);
        r->bstate = NULL;
        return -1;
    }
    if (r->n > 0) {
        /* Members that came along (a move): they hear "up" with the epoch
         * once the room is in step. */
        st->told_down = 1;
        room_presence(b, r);
    }
    return 0;
}

static void
room_close(struct chat_backend *b, struct chat_room *r)
{
    struct chat_redis *cr = (struct chat_redis *)b;
    struct room_state *st = r->bstate;

    if (st == NULL)
        return;
    r->bstate = NULL;
    st->room = NULL;
    if (st->registered && !st->beating)
        beat(st, 0);            /* our count out of the sum, now */
    nd_redis_unsubscribe(cr->sub, ND_REDIS_CHANNEL, st->keys[3], strlen(st->keys[3]));
    if (st->out == 0)
        state_free(st);
}

static void
published(void *arg, const struct nd_resp_node *reply, const char *failed)
{
    struct pub *p = arg;
    struct chat_ticket *t = p->t;
    struct chat_redis *cr = p->cr;
    const struct nd_resp_node *s, *e;
    uint64_t epoch = 0, waited = nd_now_us() / 1000 - p->at;

    free(p);
    if (failed != NULL && !nd_redis_not_sent(failed)) {
        /* Out, and no reply: Redis may have run it (and hold the reply,
         * asleep), or may yet run it before its deadline. */
        cr->ctr[3]++;
        if (t != NULL) {
            t->pending = NULL;
            t->done(t, 0, 0, nd_chat_unanswered);
        }
        return;
    }
    if (failed != NULL || reply[0].type != ND_RESP_ARRAY) {
        cr->ctr[2]++;
        /* Refused as late though in time by our clock: the offset is
         * too low (measured over a slow round trip): measure again. */
        if (failed == NULL && reply[0].type == ND_RESP_ERROR && reply[0].len >= 4 &&
            memcmp(reply[0].str, "LATE", 4) == 0 && waited + LATE_MARGIN_MS < ND_REDIS_TIMEOUT_MS)
            ask_time(cr);
    }
    if (t == NULL)
        return;
    t->pending = NULL;
    if (failed == NULL && reply[0].type == ND_RESP_ARRAY && reply[0].len == 2 &&
        (s = nd_resp_child(reply, 0, 0)) != NULL && (e = nd_resp_child(reply, 0, 1)) != NULL &&
        s->type == ND_RESP_INTEGER && e->type == ND_RESP_BULK &&
        parse_hex16(e->str, e->len, &epoch) == 0) {
        t->done(t, (uint64_t)s->num, epoch, NULL);
        return;
    }
    t->done(t, 0, 0, failed ? failed : reply[0].type == ND_RESP_ERROR ? "refused" : "bad reply");
}

static int
room_publish(struct chat_backend *b, struct chat_room *r, const char *json, size_t n,
             struct chat_ticket *t)
{
    struct chat_redis *cr = (struct chat_redis *)b;
    struct room_state *st = r->bstate;
    struct pub *p;
    char epoch[17], late[24] = "0";
    const char *argv[10];
    size_t lens[10];
    int i;

    /* Known to be down: refused at once rather than after the reply
     * limit (the command would wait for a connection that may not come). */
    if (st == NULL || cr->cmd_up == 0 || (p = malloc(sizeof(*p))) == NULL) {
        cr->ctr[2]++;
        return -1;
    }
    epoch_text(epoch);
    argv[0] = "EVAL";
    argv[1] = publish_lua;
    argv[2] = "4";
    for (i = 0; i < 4; i++)
        argv[3 + i] = st->keys[i];
    argv[7] = json;
    argv[8] = epoch;
    if (cr->have_offset)
        snprintf(late, sizeof(late), "%lld", (long long)((int64_t)(nd_now_us() / 1000) +
                 cr->offset_ms + ND_REDIS_TIMEOUT_MS - LATE_MARGIN_MS));
    argv[9] = late;
    for (i = 0; i < 10; i++)
        lens[i] = i == 7 ? n : strlen(argv[i]);    /* json has no NUL */
    p->t = t;
    p->cr = cr;
    p->at = nd_now_us() / 1000;
    if (nd_redis_command(cr->cmd, 10, argv, lens, published, p) < 0) {
        free(p);
        cr->ctr[2]++;
        return -1;
    }
    t->pending = p;
    return 0;
}

static const struct chat_backend_ops redis_ops = {
    room_open, room_close, room_publish, room_presence,
};

struct chat_backend *
nd_chat_redis_new(struct nd_service *svc, const struct nd_redis_url *u, uint64_t *ctr)
{
    static uint64_t nowhere[4];
    struct chat_redis *cr = calloc(1, sizeof(*cr));
    struct nd_redis_opts o = { 0 };
    struct nd_addr a;
    char err[200], name[160];

    if (cr == NULL)
        return NULL;
    cr->base.ops = &redis_ops;
    if (nd_addr_parse(&a, u->addr, err, sizeof(err)) < 0) {
        free(cr);
        return NULL;
    }
    snprintf(name, sizeof(name), "%s", nd_service_name(svc));
    if ((cr->side = nd_service_new(name, &side_module, NULL, NULL, svc->loop)) == NULL) {
        free(cr);
        return NULL;
    }
    cr->cmd_up = cr->sub_up = cr->down = -1;
    cr->ctr = ctr ? ctr : nowhere;
    epoch_text(cr->id);
    if ((cr->tick = nd_service_alarm_new(cr->side, tick, cr)) == NULL) {
        nd_service_unref(cr->side);
        free(cr);
        return NULL;
    }
    o.user = u->user[0] ? u->user : NULL;
    o.password = u->password[0] ? u->password : NULL;
    o.db = u->db;
    o.state = cmd_state;
    o.arg = cr;
    cr->cmd = nd_redis_new(cr->side, &a, &o);
    o.db = 0;
    o.subscriber = 1;
    o.state = sub_state;
    o.message = heard;
    cr->sub = nd_redis_new(cr->side, &a, &o);
    if (cr->cmd == NULL || cr->sub == NULL) {
        nd_redis_free(cr->cmd);
        nd_redis_free(cr->sub);
        nd_alarm_free(cr->tick);
        nd_service_unref(cr->side);
        free(cr);
        return NULL;
    }
    return &cr->base;
}

void
nd_chat_redis_free(struct chat_backend *b)
{
    struct chat_redis *cr = (struct chat_redis *)b;

    if (cr == NULL)
        return;
    nd_chat_backend_gone(b);
    /* Fetches still out fail ("closed") and free their states. */
    nd_redis_free(cr->cmd);
    nd_redis_free(cr->sub);
    while (cr->rooms)
        state_free(cr->rooms);
    nd_alarm_free(cr->tick);
    cr->ctr[0] = 0;     /* nothing down any more: it is gone */
    nd_service_unref(cr->side);
    free(cr);
}
