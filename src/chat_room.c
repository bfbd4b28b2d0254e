/* chat_room.c: chat rooms. Every event (message, presence) gets the
 * room's next sequence number and reaches every member in the order it was
 * published; the last ones stay, within a count and a byte budget, for
 * members that join and polls that ask for what they missed. Numbers start
 * again at 1 in a room made anew (a restarted daemon's): the room's epoch,
 * random, tells clients that this happened. How an event reaches a member
 * is the member's business (chat_member_ops). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "chat_room.h"
#include "nd/buf.h"
#include "nd/json.h"
#include "nd/module.h"

#define HIST_MAX_N 100
#define HIST_MAX_BYTES (64 * 1024)
#define ROOMS_MAX 1024

struct chat_msg {
    struct chat_msg *next;
    uint64_t seq;
    struct chat_event ev;
    char data[];                /* CHAT_HEADROOM bytes, then the JSON */
};

static struct chat_room *rooms;
static size_t nrooms;

/* A room's epoch: 64 random bits from the kernel, never 0. Should
 * getrandom fail (no entropy yet at early boot, a seccomp filter), a mix of
 * the clock, the pid and a counter still differs from any earlier run's. */
static uint64_t
new_epoch(void)
{
    static uint64_t counter;
    uint64_t e = 0;
    ssize_t n;

    do
        n = getrandom(&e, sizeof(e), GRND_NONBLOCK);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof(e)) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        e = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
        e ^= (uint64_t)getpid() << 40 ^ ++counter * 0x9e3779b97f4a7c15u;
        e ^= e >> 30;                   /* splitmix64's finaliser */
        e *= 0xbf58476d1ce4e5b9u;
        e ^= e >> 27;
        e *= 0x94d049bb133111ebu;
        e ^= e >> 31;
    }
    return e ? e : 1;
}

static int
room_idle(const struct chat_room *r)
{
    return r->nall == 0;
}

static void
room_free(struct chat_room *r)
{
    struct chat_room **pp;

    for (pp = &rooms; *pp; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            if (r->backend)
                r->backend->ops->close(r->backend, r);
            while (r->first) {
                struct chat_msg *m = r->first;

                r->first = m->next;
                free(m);
            }
            nd_alarm_free(r->alarm);
            nd_buf_free(r->joined);
            nd_buf_free(r->left);
            free(r);
            nrooms--;
            return;
        }
    }
}

static void presence_ring(void *arg);

static void
history_clear(struct chat_room *r)
{
    while (r->first) {
        struct chat_msg *m = r->first;

        r->first = m->next;
        free(m);
    }
    r->last = NULL;
    r->hist_n = r->hist_bytes = 0;
}

struct chat_room *
nd_chat_room_get(struct nd_conn *c, const char *service, const char *name, size_t max_queue)
{
    return nd_chat_room_get_shared(c, service, name, max_queue, NULL);
}

struct chat_room *
nd_chat_room_get_shared(struct nd_conn *c, const char *service, const char *name,
                        size_t max_queue, struct chat_backend *b)
{
    size_t sl = strlen(service), nl = strlen(name);
    struct chat_room *r;

    if (sl + nl + 2 > sizeof(r->key))
        return NULL;
    for (r = rooms; r; r = r->next)
        if (strcmp(r->key, service) == 0 && strcmp(r->key + sl + 1, name) == 0)
            break;
    if (r == NULL) {
        if (nrooms >= ROOMS_MAX) {
            struct chat_room *idle = NULL;

            for (r = rooms; r; r = r->next)
                if (room_idle(r))
                    idle = r;   /* the last in the list: the oldest made */
            if (idle == NULL)
                return NULL;
            room_free(idle);
        }
        if ((r = calloc(1, sizeof(*r))) == NULL)
            return NULL;
        if ((r->alarm = nd_alarm_new(c, presence_ring, r)) == NULL) {
            free(r);
            return NULL;
        }
        memcpy(r->key, service, sl + 1);
        memcpy(r->key + sl + 1, name, nl + 1);
        r->epoch = new_epoch();
        r->next = rooms;
        rooms = r;
        nrooms++;
        if (b != NULL) {
            r->backend = b;
            if (b->ops->open(b, r) < 0) {
                r->backend = NULL;
                room_free(r);
                return NULL;
            }
        }
    } else if (r->backend != b) {
        /* The settings changed the backend: the shared state is the new
         * one's to tell. */
        if (r->backend)
            r->backend->ops->close(r->backend, r);
        r->backend = b;
        r->bstate = NULL;
        r->synced = 0;
        if (b != NULL) {
            history_clear(r);
            if (b->ops->open(b, r) < 0) {
                r->backend = NULL;
                return NULL;
            }
        }
    }
    r->max_queue = max_queue;
    return r;
}

/* A room that nobody is in keeps its history for polls coming back (an
 * answer named the room's epoch, which must still be the room's at the
 * client's next poll); it goes when it never had any, or when room is
 * needed for a new one. */
void
nd_chat_room_release(struct chat_room *r)
{
    if (room_idle(r) && r->first == NULL && !r->held)
        room_free(r);
}

/* The presence event: how many are here now, and who came and went since
 * the last one (the first CHAT_PRESENCE_NAMES of each, with their counts).
 * One event for a burst of joins, so N joins cost each member a few
 * events, not N. */
static void
presence_publish(struct chat_room *r)
{
    static const char mid[] = "],\"left\":[";
    struct nd_buf *b = NULL;
    char head[128];
    int ok;

    snprintf(head, sizeof(head), "\"type\":\"presence\",\"members\":%zu,\"joins\":%zu,"
             "\"leaves\":%zu,\"joined\":[", r->n, r->njoined, r->nleft);
    ok = nd_buf_append(&b, head, strlen(head)) == 0 &&
         (r->joined == NULL || nd_buf_append(&b, nd_buf_head(r->joined), nd_buf_len(r->joined)) == 0) &&
         nd_buf_append(&b, mid, sizeof(mid) - 1) == 0 &&
         (r->left == NULL || nd_buf_append(&b, nd_buf_head(r->left), nd_buf_len(r->left)) == 0) &&
         nd_buf_append(&b, "]", 1) == 0;
    nd_buf_free(r->joined);
    nd_buf_free(r->left);
    r->joined = r->left = NULL;
    r->njoined = r->nleft = 0;
    r->presence_due = 0;
    if (ok)
        nd_chat_publish(r, nd_buf_head(b), nd_buf_len(b));
    nd_buf_free(b);
}

/* The presence timer: announce what changed, then hold the next
 * announcement back for CHAT_PRESENCE_MS; a quiet hold ends it. Nobody
 * left to tell: nothing to say (no leave is written to members already
 * gone). */
static void
presence_ring(void *arg)
{
    struct chat_room *r = arg;

    if (!r->presence_due)
        return;
    if (r->nall == 0) {
        nd_buf_free(r->joined);
        nd_buf_free(r->left);
        r->joined = r->left = NULL;
        r->njoined = r->nleft = 0;
        r->presence_due = 0;
        return;
    }
    presence_publish(r);
    nd_alarm_set(r->alarm, CHAT_PRESENCE_MS);
}

/* Notes a join or a leave for the next presence event. Never publishes
 * here: a leave can happen while a publish walks the member list. */
static void
presence_note(struct chat_room *r, struct nd_buf **names, size_t *count, const char *name)
{
    if (*count < CHAT_PRESENCE_NAMES &&
        ((*names != NULL && nd_buf_append(names, ",", 1) < 0) ||
         nd_json_string(names, name, strlen(name)) < 0)) {
        nd_buf_free(*names);    /* short of memory: the names go, the counts stay */
        *names = NULL;
    }
    (*count)++;
    r->presence_due = 1;
    if (!nd_alarm_armed(r->alarm))
        nd_alarm_set(r->alarm, 1);  /* a quiet room hears at once */
}

void
nd_chat_join(struct chat_room *r, struct chat_member *m)
{
    m->room = r;
    m->dropped = 0;
    m->prev = NULL;
    m->next = r->members;
    if (r->members)
        r->members->prev = m;
    r->members = m;
    r->nall++;
    if (m->present) {
        r->n++;
        if (r->backend == NULL)
            presence_note(r, &r->joined, &r->njoined, m->name);
        else if (r->backend->ops->presence)
            r->backend->ops->presence(r->backend, r);
    }
}

void
nd_chat_leave(struct chat_member *m)
{
    struct chat_room *r = m->room;

    if (r == NULL)
        return;
    if (m->prev)
        m->prev->next = m->next;
    else
        r->members = m->next;
    if (m->next)
        m->next->prev = m->prev;
    m->prev = m->next = NULL;
    m->room = NULL;
    r->nall--;
    if (m->present) {
        r->n--;
        if (r->backend == NULL)
            presence_note(r, &r->left, &r->nleft, m->name);
        else if (r->backend->ops->presence)
            r->backend->ops->presence(r->backend, r);
        nd_chat_room_release(r);
    }
}

/* Ends members whose unread output passed the bound. Ending one may close
 * it at once, and its leave changes the list (and publishes): look again
 * from the start each time rather than hold a pointer into it. One whose
 * own callback is running ends after it, so it is only marked here. */
static void
drop_slow(struct chat_room *r)
{
    for (;;) {
        struct chat_member *m;

        for (m = r->members; m; m = m->next)
            if (!m->dropped && m->ops->pending(m) > r->max_queue)
                break;
        if (m == NULL)
            return;
        m->dropped = 1;
        m->ops->end(m);
    }
}

/* Appends msg to the history, within a count and a byte budget. */
static void
history_add(struct chat_room *r, struct chat_msg *msg)
{
    if (r->last)
        r->last->next = msg;
    else
        r->first = msg;
    r->last = msg;
    r->hist_n++;
    r->hist_bytes += msg->ev.len;
    while (r->first != msg && (r->hist_n > HIST_MAX_N || r->hist_bytes > HIST_MAX_BYTES)) {
        struct chat_msg *old = r->first;

        r->first = old->next;
        r->hist_n--;
        r->hist_bytes -= old->ev.len;
        free(old);
    }
}

/* Hands msg to every member, then ends members over the bound. */
static void
deliver_all(struct chat_room *r, struct chat_msg *msg)
{
    struct chat_member *m, *next;

    /* A member may leave from inside its deliver() (a poll, answered),
     * taking only itself out of the list. */
    for (m = r->members; m; m = next) {
        next = m->next;
        if (!m->dropped && m->ops->deliver(m, &msg->ev) < 0) {
            m->dropped = 1;
            m->ops->end(m);
        }
    }
    drop_slow(r);
}

void
nd_chat_publish(struct chat_room *r, const char *json, size_t n)
{
    /* {"seq":20 digits,"epoch":"16 digits",...}: 57 bytes and the NUL. */
    struct chat_msg *msg = malloc(sizeof(*msg) + CHAT_HEADROOM + n + 64);

    if (msg == NULL)
        return;
    r->seq++;
    msg->next = NULL;
    msg->seq = r->seq;
    msg->ev.json = msg->data + CHAT_HEADROOM;
    msg->ev.framed = 0;
    msg->ev.len = (size_t)snprintf(msg->ev.json, n + 64, "{\"seq\":%llu,\"epoch\":\"%016llx\",%.*s}",
                                   (unsigned long long)r->seq, (unsigned long long)r->epoch,
                                   (int)n, json);
    history_add(r, msg);
    deliver_all(r, msg);
}

/* ---- rooms shared through a backend ---- */

/* A message holding json as it is. */
static struct chat_msg *
msg_copy(uint64_t seq, const char *json, size_t n)
{
    struct chat_msg *msg = malloc(sizeof(*msg) + CHAT_HEADROOM + n + 1);

    if (msg == NULL)
        return NULL;
    msg->next = NULL;
    msg->seq = seq;
    msg->ev.json = msg->data + CHAT_HEADROOM;
    msg->ev.framed = 0;
    msg->ev.len = n;
    memcpy(msg->ev.json, json, n);
    msg->ev.json[n] = '\0';
    return msg;
}

void
nd_chat_reset(struct chat_room *r, uint64_t epoch, uint64_t seq)
{
    history_clear(r);
    r->epoch = epoch;
    r->seq = seq;
    r->synced = 0;
}

int
nd_chat_keep(struct chat_room *r, uint64_t seq, const char *json, size_t n)
{
    struct chat_msg *msg = msg_copy(seq, json, n);

    if (msg == NULL)
        return -1;
    history_add(r, msg);
    if (seq > r->seq)
        r->seq = seq;
    return 0;
}

/* Members that joined while the room was being fetched have had nothing
 * yet: now the history, in one go. A held poll answers with what is past
 * its number (perhaps nothing), in the epoch now known. */
void
nd_chat_synced(struct chat_room *r)
{
    struct chat_member *m, *next;

    /* A poll is answered even with no history: its answer names the
     * epoch, known only now. */
    static char nothing[1];
    static struct chat_event none = { nothing, 0, 0 };

    r->synced = 1;
    r->held = 1;        /* an answered poll leaves: the room stays for now */
    for (m = r->members; m; m = next) {
        next = m->next;
        if (m->dropped || (m->present && r->first == NULL))
            continue;
        if ((m->present ? nd_chat_replay(r, m)
                        : m->ops->deliver(m, r->first ? &r->last->ev : &none)) < 0) {
            m->dropped = 1;
            m->ops->end(m);
        }
    }
    drop_slow(r);
    r->held = 0;
}

void
nd_chat_receive(struct chat_room *r, uint64_t seq, uint64_t epoch, const char *json, size_t n)
{
    struct chat_msg *msg;

    if (epoch != r->epoch) {
        nd_chat_reset(r, epoch, 0);     /* the shared room was made anew */
        r->synced = 1;
    }
    if (seq <= r->seq || (msg = msg_copy(seq, json, n)) == NULL)
        return;
    r->seq = seq;
    history_add(r, msg);
    deliver_all(r, msg);
}

int
nd_chat_say_shared(struct chat_room *r, const char *name, const char *text, size_t len,
                   struct chat_ticket *t)
{
    static const char a[] = "\"type\":\"message\",\"name\":", b[] = ",\"text\":";
    struct nd_buf *buf = NULL;
    int rc = -1;

    if (nd_buf_append(&buf, a, sizeof(a) - 1) == 0 &&
        nd_json_string(&buf, name, strlen(name)) == 0 &&
        nd_buf_append(&buf, b, sizeof(b) - 1) == 0 && nd_json_string(&buf, text, len) == 0)
        rc = r->backend->ops->publish(r->backend, r, nd_buf_head(buf), nd_buf_len(buf), t);
    nd_buf_free(buf);
    return rc;
}

const char nd_chat_unanswered[] = "no answer in time";

void
nd_chat_ticket_cancel(struct chat_ticket *t)
{
    if (t->pending != NULL) {
        *(struct chat_ticket **)t->pending = NULL;
        t->pending = NULL;
    }
}

void
nd_chat_backend_gone(struct chat_backend *b)
{
    struct chat_room *r;

    for (r = rooms; r; r = r->next) {
        if (r->backend == b) {
            b->ops->close(b, r);
            r->backend = NULL;
            r->bstate = NULL;
            r->synced = 0;
        }
    }
}

void
nd_chat_move(const char *service, struct chat_backend *b)
{
    struct chat_room *r, *next;

    for (r = rooms; r; r = next) {
        next = r->next;
        if (strcmp(r->key, service) != 0 || r->backend == b)
            continue;
        if (r->backend)
            r->backend->ops->close(r->backend, r);
        r->backend = b;
        r->bstate = NULL;
        history_clear(r);
        r->seq = 0;
        r->synced = 0;
        if (b == NULL) {
            char ev[96];
            int n;

            r->epoch = new_epoch();
            n = snprintf(ev, sizeof(ev), "{\"type\":\"backend\",\"state\":\"local\","
                         "\"epoch\":\"%016llx\"}", (unsigned long long)r->epoch);
            nd_chat_tell(r, ev, (size_t)n);
        } else if (b->ops->open(b, r) < 0) {
            r->backend = NULL;      /* this process's own, then */
            r->epoch = new_epoch();
        }
    }
}

void
nd_chat_tell(struct chat_room *r, const char *json, size_t n)
{
    struct chat_msg *msg = msg_copy(0, json, n);
    struct chat_member *m, *next;

    if (msg == NULL)
        return;
    /* A member ended here leaves at once; the room stays for the caller
     * (a backend in the middle of its own work), released when next left. */
    r->held = 1;
    for (m = r->members; m; m = next) {
        next = m->next;
        if (m->present && !m->dropped && m->ops->deliver(m, &msg->ev) < 0) {
            m->dropped = 1;
            m->ops->end(m);
        }
    }
    free(msg);
    drop_slow(r);
    r->held = 0;
}

int
nd_chat_say(struct chat_room *r, const char *name, const char *text, size_t len)
{
    static const char a[] = "\"type\":\"message\",\"name\":", b[] = ",\"text\":";
    struct nd_buf *buf = NULL;
    int rc = -1;

    if (nd_buf_append(&buf, a, sizeof(a) - 1) == 0 &&
        nd_json_string(&buf, name, strlen(name)) == 0 &&
        nd_buf_append(&buf, b, sizeof(b) - 1) == 0 && nd_json_string(&buf, text, len) == 0) {
        nd_chat_publish(r, nd_buf_head(buf), nd_buf_len(buf));
        rc = 0;
    }
    nd_buf_free(buf);
    return rc;
}

int
nd_chat_history_json(const struct chat_room *r, uint64_t since, struct nd_buf **b)
{
    const struct chat_msg *m;
    int first = 1;

    if (nd_buf_append(b, "[", 1) < 0)
        return -1;
    for (m = r->first; m; m = m->next) {
        if (m->seq <= since)
            continue;
        if ((!first && nd_buf_append(b, ",", 1) < 0) || nd_buf_append(b, m->ev.json, m->ev.len) < 0)
            return -1;
        first = 0;
    }
    return nd_buf_append(b, "]\n", 2);
}

int
nd_chat_replay(const struct chat_room *r, struct chat_member *m)
{
    struct chat_msg *msg;

    for (msg = r->first; msg; msg = msg->next)
        if (m->ops->deliver(m, &msg->ev) < 0)
            return -1;
    return 0;
}

void
nd_chat_count(const char *service, uint64_t *nroom, uint64_t *nmember)
{
    const struct chat_room *r;

    *nroom = *nmember = 0;
    for (r = rooms; r; r = r->next) {
        if (strcmp(r->key, service) == 0) {     /* the key is service NUL name */
            (*nroom)++;
            *nmember += r->n;
        }
    }
}
