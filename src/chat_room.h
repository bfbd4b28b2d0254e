/* chat_room.h: chat rooms, knowing no protocol. A room numbers its events
 * (seq, within the room's epoch), keeps the last of them, and hands each
 * to every member through the member's own deliver(); WebSocket members
 * (http_ws.c) and held long polls (http_chat.c) are both members. A member
 * that lets more than the room's queue bound pile up is ended. */
#ifndef ND_CHAT_ROOM_H
#define ND_CHAT_ROOM_H

#include <stddef.h>
#include <stdint.h>

struct nd_alarm;
struct nd_buf;
struct nd_conn;
struct chat_member;
struct chat_backend;

/* Room in front of every event's JSON for a member kind's framing (a
 * WebSocket header), made once by the first member of that kind and sent
 * by all of them with the JSON in one piece. */
#define CHAT_HEADROOM 16

/* An event as the room hands it to its members, and keeps it in history. */
struct chat_event {
    char *json;                 /* one JSON object; CHAT_HEADROOM bytes before it are free */
    size_t len;
    size_t framed;              /* bytes of framing put right before json; 0: none yet */
};

struct chat_member_ops {
    /* An event for the member. 0, or -1 when it cannot take it (the room
     * then ends it). It may frame the event in its headroom, once for all
     * members (ev->framed). */
    int (*deliver)(struct chat_member *m, struct chat_event *ev);
    /* Bytes delivered that its peer has not read yet. */
    size_t (*pending)(const struct chat_member *m);
    /* The room gives up on it: end its connection. It leaves the room
     * when its connection closes, now or after its own callback. */
    void (*end)(struct chat_member *m);
};

struct chat_member {
    const struct chat_member_ops *ops;
    struct chat_room *room;
    struct chat_member *prev, *next;
    char name[33];
    unsigned char present;      /* counted and announced (not a poll) */
    unsigned char dropped;      /* ended by the room */
};

struct chat_msg;
struct chat_room;

/* Where a message from a member goes when the room is shared (a ticket
 * says how it went). The backend owns `pending` while it waits; the
 * ticket's owner that goes first calls nd_chat_ticket_cancel(). */
struct chat_ticket {
    /* err NULL: published as seq in epoch; nd_chat_unanswered: the backend
     * took it and gave no answer in time, so it may have been published
     * (its event then comes as any other); else why it was not. */
    void (*done)(struct chat_ticket *t, uint64_t seq, uint64_t epoch, const char *err);
    void *pending;              /* the backend's record; its first member points back here */
};

/* How a room is shared beyond this process (NULL: it is not). The backend
 * numbers and spreads the events and hands them back to every instance's
 * room with nd_chat_receive(); a room's own nd_chat_publish() is then not
 * used. Presence is the backend's too: it counts the members of every
 * instance and tells them with nd_chat_tell(). */
struct chat_backend_ops {
    /* A room is made for b: sets r->bstate, starts fetching its state
     * (nd_chat_reset, nd_chat_keep..., nd_chat_synced). 0 or -1. */
    int (*open)(struct chat_backend *b, struct chat_room *r);
    /* The room goes, or leaves b: forget it. */
    void (*close)(struct chat_backend *b, struct chat_room *r);
    /* Publishes the event json (members without braces); t->done later,
     * unless this returns -1 (not sent: Redis is down or too busy). */
    int (*publish)(struct chat_backend *b, struct chat_room *r, const char *json, size_t n,
                   struct chat_ticket *t);
    /* r->n changed (a present member came or went). Never publishes from
     * here: it may be called while the room walks its members. */
    void (*presence)(struct chat_backend *b, struct chat_room *r);
};

struct chat_backend {
    const struct chat_backend_ops *ops;
};

struct chat_room {
    char key[160];              /* service NUL room */
    struct chat_member *members;
    size_t n;                   /* present members */
    size_t nall;                /* members of any kind */
    uint64_t seq;               /* of the last event */
    uint64_t epoch;             /* random, never 0: see README */
    size_t max_queue;           /* a member's pending bound */
    struct chat_msg *first, *last;  /* history, oldest first */
    size_t hist_n, hist_bytes;
    /* Presence: joins and leaves are announced together, at most once per
     * CHAT_PRESENCE_MS, in one "presence" event (the count, and the first
     * names of who came and went). */
    struct nd_alarm *alarm;
    struct nd_buf *joined, *left;   /* JSON strings, comma-separated */
    size_t njoined, nleft;          /* since the last presence event */
    unsigned char presence_due;
    unsigned char synced;       /* shared: its history and numbers are in */
    unsigned char held;         /* not freed when its last member leaves */
    struct chat_backend *backend;   /* NULL: this process's room */
    void *bstate;               /* the backend's */
    struct chat_room *next;
};

#define CHAT_PRESENCE_MS 100
#define CHAT_PRESENCE_NAMES 16      /* names listed per presence event and kind */

/* The room called name in service, made if new; NULL if the name is too
 * long or memory or the room count runs out. max_queue (from the latest
 * settings) bounds what a member may leave unread. c is any connection of
 * the loop that runs the room's presence timer. */
struct chat_room *nd_chat_room_get(struct nd_conn *c, const char *service, const char *name,
                                   size_t max_queue);

/* The same, for rooms shared through backend b (NULL: the call above). A
 * room made for another backend (a reload changed it) starts over with b. */
struct chat_room *nd_chat_room_get_shared(struct nd_conn *c, const char *service,
                                          const char *name, size_t max_queue,
                                          struct chat_backend *b);

/* Lets every room of b go back to being this process's own. */
void nd_chat_backend_gone(struct chat_backend *b);

/* Moves every room of service to backend b (NULL: this process's own):
 * each starts over in the epoch b has for it (a new one for its own). The
 * members stay; they hear of it with a {"type":"backend"} event. */
void nd_chat_move(const char *service, struct chat_backend *b);

/* For backends: an event without a number (presence across instances, the
 * backend's state), the whole JSON object, for the present members only:
 * not kept in the history, not an answer to a poll. */
void nd_chat_tell(struct chat_room *r, const char *json, size_t n);

/* For backends: the room's numbering starts again (epoch, last seq), its
 * history empty; nd_chat_keep() then adds an event (the whole JSON, its
 * seq) without delivering it; nd_chat_synced() marks the room in step and
 * hands every present member the whole history, and a held poll the last
 * event. */
void nd_chat_reset(struct chat_room *r, uint64_t epoch, uint64_t seq);
int nd_chat_keep(struct chat_room *r, uint64_t seq, const char *json, size_t n);
void nd_chat_synced(struct chat_room *r);

/* For backends: a live event (the whole JSON) for every member; one at or
 * before the room's last seq is dropped (seen already). */
void nd_chat_receive(struct chat_room *r, uint64_t seq, uint64_t epoch, const char *json,
                     size_t n);

/* A message from name, published through the room's backend: 0 (t->done
 * follows) or -1 (it could not be sent). */
int nd_chat_say_shared(struct chat_room *r, const char *name, const char *text, size_t len,
                       struct chat_ticket *t);

/* The owner of t goes before its answer: done is not called. */
void nd_chat_ticket_cancel(struct chat_ticket *t);

/* A ticket's err when the outcome is not known (see struct chat_ticket). */
extern const char nd_chat_unanswered[];

/* Frees the room if nobody is in it and it never had an event. */
void nd_chat_room_release(struct chat_room *r);

/* Adds m (ops, name and present set by the caller). A present member's
 * join is announced to everyone, m included, in the room's next presence
 * event: within a millisecond when the room has been quiet, else at the end
 * of the current CHAT_PRESENCE_MS. */
void nd_chat_join(struct chat_room *r, struct chat_member *m);

/* Takes m out of its room; a present member's leave is announced (in the
 * next presence event, to those still there), and the room released. A
 * poll's room stays (its answer named the epoch). */
void nd_chat_leave(struct chat_member *m);

/* Publishes an event: json is the object's members without braces;
 * "seq" and "epoch" are put first. Then ends members over the bound. */
void nd_chat_publish(struct chat_room *r, const char *json, size_t n);

/* A message from name: {"type":"message","name":...,"text":...}.
 * Returns 0 or -1 (memory). */
int nd_chat_say(struct chat_room *r, const char *name, const char *text, size_t len);

/* The history after since, as a JSON array and a newline, appended to *b.
 * 0 or -1. */
int nd_chat_history_json(const struct chat_room *r, uint64_t since, struct nd_buf **b);

/* How many rooms service holds (with members, or keeping their history)
 * and how many members are present in them (held polls are not). */
void nd_chat_count(const char *service, uint64_t *nroom, uint64_t *nmember);

/* Delivers the whole history to m alone, oldest first. 0 or -1. */
int nd_chat_replay(const struct chat_room *r, struct chat_member *m);

#endif
