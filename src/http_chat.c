/* http_chat.c: chat over plain HTTP: GET /chat (a page that uses it all),
 * GET /chat/poll (long polling: a held poll is a member of its room until
 * an event answers it) and POST /chat/send. The rooms are chat_room.c's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_redis.h"
#include "redis_url.h"
#include "chat_room.h"
#include "http.h"
#include "nd/addr.h"
#include "nd/buf.h"
#include "http_path.h"
#include "nd/module.h"
#include "nd/util.h"
#include "ws.h"

#define POLL_DEFAULT_MS 25000
/* A shared room's send is answered within the Redis client's reply limit;
 * this only bounds a wait that went wrong. */
#define SEND_WAIT_MS 5000

/* ---- the backend in force ----
 * One per http service across reloads: every connection of the service,
 * those still on older settings too, publishes through the one in force,
 * so that a room never goes back to a backend a reload replaced. The
 * settings in force own it (conf_free frees it with them). */
struct backend_slot {
    struct backend_slot *next;
    struct nd_service *svc;     /* the service whose settings are in force */
    struct http_conf *owner;    /* its settings */
    char name[];
};

static struct backend_slot *slots;

static struct backend_slot *
slot_find(const char *name)
{
    struct backend_slot *s;

    for (s = slots; s; s = s->next)
        if (strcmp(s->name, name) == 0)
            return s;
    return NULL;
}

static int
same_redis(const struct nd_redis_url *a, const struct nd_redis_url *b)
{
    return a && b && strcmp(a->addr, b->addr) == 0 && strcmp(a->user, b->user) == 0 &&
           strcmp(a->password, b->password) == 0 && a->db == b->db;
}

void
nd_http_chat_in_force(struct nd_service *svc, struct http_conf *cf)
{
    const char *name = nd_service_name(svc);
    struct backend_slot *s = slot_find(name);
    struct http_conf *old;

    if (s == NULL) {
        if ((s = calloc(1, sizeof(*s) + strlen(name) + 1)) == NULL)
            return;     /* each settings' own backend then, made on first use */
        strcpy(s->name, name);
        s->next = slots;
        slots = s;
    }
    old = s->owner;
    s->owner = cf;
    s->svc = svc;
    if (old != NULL && old->shared != NULL && same_redis(old->backend, cf->backend)) {
        /* The same Redis: the rooms stay as they are, connected. */
        cf->shared = old->shared;
        old->shared = NULL;
        return;
    }
    if (cf->backend != NULL && cf->chat && cf->shared == NULL)
        cf->shared = nd_chat_redis_new(svc, cf->backend,
                                       nd_service_module_counters(svc) + HTTP_CTR_CHAT_DOWN);
    /* The rooms move to the new backend (this process's own when NULL),
     * each with the epoch it has there; the old one goes. */
    nd_chat_move(name, cf->shared);
    if (old != NULL && old->shared != NULL) {
        nd_chat_redis_free(old->shared);
        old->shared = NULL;
    }
}

void
nd_http_chat_conf_gone(struct http_conf *cf)
{
    struct backend_slot **pp, *s;

    for (pp = &slots; (s = *pp) != NULL; pp = &s->next) {
        if (s->owner == cf) {
            *pp = s->next;
            free(s);
            break;
        }
    }
    nd_chat_redis_free(cf->shared);
    cf->shared = NULL;
}

struct chat_backend *
nd_http_chat_backend(struct nd_conn *c, struct http_conf *cf, int *bad)
{
    struct nd_service *svc = nd_conn_service(c);
    struct backend_slot *s = slot_find(nd_service_name(svc));

    if (s != NULL) {
        cf = s->owner;
        svc = s->svc;
    }
    *bad = 0;
    if (cf->backend == NULL)
        return NULL;
    if (cf->shared == NULL)
        cf->shared = nd_chat_redis_new(svc, cf->backend,
                                       nd_service_module_counters(svc) + HTTP_CTR_CHAT_DOWN);
    *bad = cf->shared == NULL;
    return cf->shared;
}

/* Redis is down, slow or refused the publish: try again in a second. */
static int
unavailable(struct nd_conn *c, struct http_conn *h)
{
    static const char body[] = "chat backend unavailable\n";

    return nd_http_respond(c, h, 503, "text/plain; charset=utf-8", body, sizeof(body) - 1,
                           "Retry-After: 1\r\n");
}

/* Redis took the message and did not answer in time: it may have been
 * published (its event then reaches the room as any other). Not "try
 * again": that could say it twice. */
static int
unanswered(struct nd_conn *c, struct http_conn *h)
{
    static const char body[] = "chat backend did not answer in time: "
                               "the message may have been published\n";

    return nd_http_respond(c, h, 504, "text/plain; charset=utf-8", body, sizeof(body) - 1, NULL);
}

static int
ack(struct nd_conn *c, struct http_conn *h, uint64_t seq, uint64_t epoch)
{
    char b[80];
    int n = snprintf(b, sizeof(b), "{\"seq\":%llu,\"epoch\":\"%016llx\"}\n",
                     (unsigned long long)seq, (unsigned long long)epoch);

    return nd_http_respond(c, h, 200, "application/json", b, (size_t)n, NULL);
}

/* The answer to a shared room's send: the event's number, 503 (not
 * published) or 504 (not known). Like an answered poll, drained() then
 * goes on to the next request. */
static void
send_done(struct chat_ticket *t, uint64_t seq, uint64_t epoch, const char *err)
{
    struct http_conn *h = nd_container_of(t, struct http_conn, send);
    int rc = err == nd_chat_unanswered ? unanswered(h->conn, h)
           : err ? unavailable(h->conn, h) : ack(h->conn, h, seq, epoch);

    h->poll_answered = 1;
    if (rc < 0)
        nd_conn_end(h->conn, 1);
    else
        nd_conn_want_drain(h->conn);
}

/* Every poll answer names the room's epoch in a header, so that even an
 * empty one (a timeout) tells the client which numbering `since` is in. */
static int
answer_poll(struct nd_conn *c, struct http_conn *h, const struct chat_room *r)
{
    struct nd_buf *b = NULL;
    char extra[48];
    int rc = nd_chat_history_json(r, h->poll_since, &b);

    snprintf(extra, sizeof(extra), "Chat-Epoch: %016llx\r\n", (unsigned long long)r->epoch);
    if (rc == 0)
        rc = nd_http_respond(c, h, 200, "application/json", nd_buf_head(b), nd_buf_len(b), extra);
    nd_buf_free(b);
    return rc;
}

/* ---- a held poll, as a member of its room ---- */

/* An event came: the answer is what happened since the poll's number (this
 * event included), or since 0 if the room turned out to be in another epoch
 * than the client's. An event at or before its number (an instance of a
 * shared room that was behind the client) is not an answer. The poll
 * leaves the room, and mod_http's drained() goes on to the next request
 * once the answer is out. */
static int
poll_deliver(struct chat_member *m, struct chat_event *ev)
{
    struct http_conn *h = nd_container_of(m, struct http_conn, poll);
    struct chat_room *r = m->room;
    int rc;

    if (r == NULL)
        return 0;       /* being replayed to: a poll never is */
    if (h->poll_epoch != 0 && h->poll_epoch != r->epoch)
        h->poll_since = 0;      /* made anew while it waited (its first fetch) */
    else if (r->seq <= h->poll_since && ev->len != 0)
        return 0;               /* a shared room's instance catching up: wait on */
    rc = answer_poll(h->conn, h, r);
    h->poll_answered = 1;
    nd_chat_leave(m);
    nd_conn_want_drain(h->conn);
    return rc;
}

static size_t
poll_pending(const struct chat_member *m)
{
    ND_UNUSED(m);
    return 0;           /* it takes one event and goes */
}

static void
poll_end(struct chat_member *m)
{
    nd_conn_end(nd_container_of(m, struct http_conn, poll)->conn, 1);
}

static const struct chat_member_ops poll_ops = { poll_deliver, poll_pending, poll_end };

int
nd_http_chat_poll_timeout(struct nd_conn *c, struct http_conn *h)
{
    struct chat_room *r = h->poll.room;

    if (h->send.pending != NULL) {
        nd_chat_ticket_cancel(&h->send);
        h->poll_answered = 1;
        return unavailable(c, h) < 0 ? -1 : 1;
    }
    if (h->poll_answered || r == NULL)
        return 1;
    h->poll_answered = 1;
    if (r->backend != NULL && !r->synced) {
        /* Still no numbers from Redis: an epoch made up here would send
         * the client back to the start for nothing. */
        nd_chat_leave(&h->poll);
        return unavailable(c, h) < 0 ? -1 : 1;
    }
    if (answer_poll(c, h, r) < 0)
        return -1;
    nd_chat_leave(&h->poll);
    return 1;
}

void
nd_http_chat_poll_forget(struct http_conn *h)
{
    nd_chat_ticket_cancel(&h->send);
    nd_chat_leave(&h->poll);
}

/* A number past a shared room's last, in the epoch the client names, says
 * that this instance has not heard the latest events yet (another one
 * published them), not that the room was made anew: the poll waits. */
static int
behind(const struct chat_room *r, uint64_t epoch)
{
    return r->backend != NULL && epoch != 0 && epoch == r->epoch;
}

/* An epoch as the client sends it back: exactly 16 hex digits. */
static int
parse_epoch(const char *v, uint64_t *out)
{
    uint64_t e = 0;
    int i, d;

    for (i = 0; v[i]; i++) {
        if (i == 16 || (d = nd_http_hexval((unsigned char)v[i])) < 0)
            return -1;
        e = e << 4 | (uint64_t)d;
    }
    if (i != 16)
        return -1;
    *out = e;
    return 0;
}

/* room (required), name, since, timeout from the query; epoch (0 when
 * absent or empty) if asked for. */
static int
chat_args(const char *query, size_t qlen, char *room, char *name, uint64_t *since,
          uint64_t *timeout, uint64_t *epoch)
{
    char v[24], err[64];
    int rl, nl, el;

    rl = query ? nd_http_query_get(query, qlen, "room", 0, room, 65) : -1;
    if (rl <= 0 || (size_t)rl != strlen(room))
        return -1;
    nl = query ? nd_http_query_get(query, qlen, "name", 0, name, 33) : -1;
    if (nl <= 0 || (size_t)nl != strlen(name))
        strcpy(name, "guest");
    *since = 0;
    if (query && nd_http_query_get(query, qlen, "since", 0, v, sizeof(v)) >= 0 &&
        nd_parse_uint(v, since, err, sizeof(err)) < 0)
        return -1;
    if (query && nd_http_query_get(query, qlen, "timeout", 0, v, sizeof(v)) >= 0 &&
        nd_parse_uint(v, timeout, err, sizeof(err)) < 0)
        return -1;
    if (epoch) {
        *epoch = 0;
        el = query ? nd_http_query_get(query, qlen, "epoch", 0, v, sizeof(v)) : -1;
        if (el < -1 || (el > 0 && ((size_t)el != strlen(v) || parse_epoch(v, epoch) < 0)))
            return -1;
    }
    return 0;
}

static const char *
query_of(const struct http_request *req, size_t *qlen)
{
    const char *q = memchr(req->target, '?', req->target_len);

    *qlen = q ? (size_t)(req->target + req->target_len - q - 1) : 0;
    return q ? q + 1 : NULL;
}

int
nd_http_chat_send(struct nd_conn *c, struct http_conn *h, struct http_conf *cf,
               const struct http_request *req, const char *body, size_t len)
{
    char room[65], name[33], ack_[80];
    uint64_t since, timeout = 0;
    struct ws_utf8 u = { 0 };
    struct chat_backend *b;
    struct chat_room *r;
    int bad, rc;
    size_t qlen;
    const char *q = query_of(req, &qlen);
    int n;

    if (chat_args(q, qlen, room, name, &since, &timeout, NULL) < 0 ||
        nd_ws_utf8_feed(&u, (const uint8_t *)body, len) < 0 || !nd_ws_utf8_complete(&u) ||
        len > cf->ws_max_message)
        return nd_http_error(c, h, 400, 1, NULL);
    b = nd_http_chat_backend(c, cf, &bad);
    r = bad ? NULL : nd_chat_room_get_shared(c, nd_service_name(nd_conn_service(c)), room,
                                             (size_t)cf->ws_max_queue, b);
    if (r == NULL)
        return bad ? unavailable(c, h) : nd_http_error(c, h, 503, 1, NULL);
    if (r->backend != NULL) {
        h->conn = c;
        h->send.done = send_done;
        rc = nd_chat_say_shared(r, name, body, len, &h->send);
        nd_chat_room_release(r);
        if (rc < 0)
            return unavailable(c, h);
        h->stream = S_POLL;     /* held until Redis answers */
        h->poll_answered = 0;
        h->tick_ms = SEND_WAIT_MS;
        return 0;
    }
    if (nd_chat_say(r, name, body, len) < 0) {
        nd_chat_room_release(r);
        return -1;
    }
    n = snprintf(ack_, sizeof(ack_), "{\"seq\":%llu,\"epoch\":\"%016llx\"}\n",
                 (unsigned long long)r->seq, (unsigned long long)r->epoch);
    nd_chat_room_release(r);
    return nd_http_respond(c, h, 200, "application/json", ack_, (size_t)n, NULL);
}

/* The chat page: no external assets. WebSocket first, reconnecting with a
 * growing pause when the connection drops; long polling where WebSocket is
 * missing, or switched off here (page_poll). */
#define PAGE_HEAD \
"<!DOCTYPE html>\n" \
"<html lang=\"en\">\n" \
"<head>\n" \
"<meta charset=\"utf-8\">\n" \
"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n" \
"<title>netdemo chat</title>\n" \
"<style>\n" \
"body{font-family:system-ui,sans-serif;margin:0;display:flex;flex-direction:column;height:100vh}\n" \
"header{padding:.6em 1em;background:#234;color:#fff}\n" \
"#log{flex:1;overflow-y:auto;padding:.5em 1em;margin:0;list-style:none}\n" \
"#log li{padding:.15em 0}#log .note{color:#777;font-style:italic}\n" \
"#log b{color:#235}\n" \
"form{display:flex;gap:.5em;padding:.6em 1em;border-top:1px solid #ccc}\n" \
"#name{width:8em}#text{flex:1}\n" \
"#state{float:right;font-size:.85em}\n" \
"</style>\n" \
"</head>\n" \
"<body>\n" \
"<header>netdemo chat, room <span id=\"room\"></span> <span id=\"count\"></span>" \
"<span id=\"state\">connecting</span></header>\n" \
"<ul id=\"log\"></ul>\n" \
"<form id=\"form\"><input id=\"name\" placeholder=\"name\" maxlength=\"32\">" \
"<input id=\"text\" placeholder=\"message\" autocomplete=\"off\" maxlength=\"4000\">" \
"<button id=\"send\">Send</button></form>\n" \
"<script>\n" \
"const qs = new URLSearchParams(location.search);\n" \
"const room = qs.get('room') || 'lobby';\n" \
"const $ = id => document.getElementById(id);\n" \
"$('room').textContent = room;\n" \
"$('name').value = qs.get('name') || localStorage.getItem('netdemo-name') || '';\n" \
"// seen: the last event shown; it counts within the room's epoch, which\n" \
"// changes when the room is made anew (a restarted daemon): then start over.\n" \
"let ws = null, pause = 500, seen = 0, epoch = null;\n" \
"function note(text) {\n" \
"  const li = document.createElement('li'); li.className = 'note'; li.textContent = text;\n" \
"  $('log').appendChild(li); li.scrollIntoView();\n" \
"}\n" \
"// a message of ours refused (not sent), or not answered in time: then it\n" \
"// may have been published, and shows up as any other if it was\n" \
"function failed(unknown) {\n" \
"  note(unknown ? 'not confirmed: the chat backend did not answer (it may still appear)'\n" \
"               : 'not sent: the chat backend is unavailable');\n" \
"}\n" \
"function sync(ep) {\n" \
"  if (!ep || ep === epoch) return;\n" \
"  if (epoch !== null) note('room restarted');\n" \
"  epoch = ep; seen = 0;\n" \
"}\n" \
"function show(e) {\n" \
"  sync(e.epoch);\n" \
"  if (e.seq === undefined) {\n" \
"    // not numbered: the count across instances, the shared backend's state\n" \
"    if (e.type === 'presence') $('count').textContent = e.members + ' here';\n" \
"    else if (e.type === 'backend') note('chat backend ' + e.state);\n" \
"    else if (e.type === 'error') failed(e.unknown);\n" \
"    return;\n" \
"  }\n" \
"  if (e.seq <= seen) return;\n" \
"  seen = e.seq;\n" \
"  if (e.type === 'presence') {\n" \
"    // joins and leaves come together, at most every 100 ms: a few names each\n" \
"    const who = (names, n, verb) => names.length ? names.join(', ') +\n" \
"      (n > names.length ? ' and ' + (n - names.length) + ' more' : '') + verb : '';\n" \
"    const parts = [who(e.joined, e.joins, ' joined'), who(e.left, e.leaves, ' left')];\n" \
"    note(parts.filter(Boolean).join(', ') + ' (' + e.members + ' here)');\n" \
"    $('count').textContent = e.members + ' here';\n" \
"    return;\n" \
"  }\n" \
"  if (e.type !== 'message') return;\n" \
"  const li = document.createElement('li');\n" \
"  const b = document.createElement('b'); b.textContent = e.name + ': ';\n" \
"  li.appendChild(b); li.appendChild(document.createTextNode(e.text));\n" \
"  $('log').appendChild(li); li.scrollIntoView();\n" \
"}\n" \
"function name() { return $('name').value.trim() || 'guest'; }\n" \
"function connect() {\n" \
"  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';\n" \
"  ws = new WebSocket(proto + '//' + location.host + '/ws/chat?room=' +\n" \
"                     encodeURIComponent(room) + '&name=' + encodeURIComponent(name()));\n" \
"  ws.onopen = () => { $('state').textContent = 'connected'; pause = 500; };\n" \
"  ws.onmessage = m => show(JSON.parse(m.data));\n" \
"  ws.onclose = () => {\n" \
"    $('state').textContent = 'reconnecting'; ws = null;\n" \
"    setTimeout(connect, pause); pause = Math.min(pause * 2, 10000);\n" \
"  };\n" \
"}\n" \
"async function poll() {\n" \
"  for (;;) {\n" \
"    try {\n" \
"      const r = await fetch('/chat/poll?room=' + encodeURIComponent(room) + '&since=' + seen +\n" \
"                            (epoch ? '&epoch=' + epoch : ''));\n" \
"      if (!r.ok) throw new Error(r.status);\n" \
"      const events = await r.json();\n" \
"      sync(r.headers.get('Chat-Epoch')); events.forEach(show); $('state').textContent = 'polling';\n" \
"    } catch (e) { $('state').textContent = 'offline'; await new Promise(t => setTimeout(t, 2000)); }\n" \
"  }\n" \
"}\n" \
"$('form').onsubmit = ev => {\n" \
"  ev.preventDefault();\n" \
"  const t = $('text').value; if (!t) return;\n" \
"  localStorage.setItem('netdemo-name', name());\n" \
"  if (ws && ws.readyState === 1) ws.send(t);\n" \
"  else fetch('/chat/send?room=' + encodeURIComponent(room) + '&name=' +\n" \
"             encodeURIComponent(name()), {method: 'POST', body: t})\n" \
"    .then(r => { if (r.status === 503 || r.status === 504) failed(r.status === 504); });\n" \
"  $('text').value = '';\n" \
"};\n" \
"$('name').onchange = () => { if (ws) ws.close(); };\n"
/* end of PAGE_HEAD */
#define PAGE_TAIL "</script>\n</body>\n</html>\n"

static const char page[] =
    PAGE_HEAD "if ('WebSocket' in window) connect(); else poll();\n" PAGE_TAIL;
static const char page_poll[] = PAGE_HEAD "poll();\n" PAGE_TAIL;

int
nd_http_chat_route(struct nd_conn *c, struct http_conn *h, struct http_conf *cf,
                const struct http_request *req, const char *path, const char *query)
{
    char room[65], name[33];
    uint64_t since, epoch, timeout = POLL_DEFAULT_MS;
    size_t qlen = query ? (size_t)(req->target + req->target_len - query) : 0;
    int get = req->method == HTTP_GET || req->method == HTTP_HEAD, stale, bad;
    struct chat_backend *b;
    struct chat_room *r;

    if (strcmp(path, "/chat") == 0) {
        if (!get)
            return nd_http_error(c, h, 405, 1, "Allow: GET, HEAD\r\n") < 0 ? -1 : PROBE_DONE;
        if (!cf->websocket)
            return nd_http_respond(c, h, 200, "text/html; charset=utf-8", page_poll,
                                sizeof(page_poll) - 1, NULL) < 0 ? -1 : PROBE_DONE;
        return nd_http_respond(c, h, 200, "text/html; charset=utf-8", page, sizeof(page) - 1,
                            NULL) < 0 ? -1 : PROBE_DONE;
    }
    if (strcmp(path, "/chat/send") == 0) {
        if (req->method != HTTP_POST)
            return nd_http_error(c, h, 405, 1, "Allow: POST\r\n") < 0 ? -1 : PROBE_DONE;
        if (req->body == HTTP_BODY_NONE ||
            chat_args(query, qlen, room, name, &since, &timeout, NULL) < 0)
            return nd_http_error(c, h, 400, 1, NULL) < 0 ? -1 : PROBE_DONE;
        h->whole = WHOLE_CHAT_SEND;
        return PROBE_NEED_BODY;
    }
    if (strcmp(path, "/chat/poll") != 0)
        return PROBE_NO;
    if (!get)
        return nd_http_error(c, h, 405, 1, "Allow: GET, HEAD\r\n") < 0 ? -1 : PROBE_DONE;
    if (chat_args(query, qlen, room, name, &since, &timeout, &epoch) < 0)
        return nd_http_error(c, h, 400, 1, NULL) < 0 ? -1 : PROBE_DONE;
    b = nd_http_chat_backend(c, cf, &bad);
    r = bad ? NULL : nd_chat_room_get_shared(c, nd_service_name(nd_conn_service(c)), room,
                                             (size_t)cf->ws_max_queue, b);
    if (r == NULL)
        return (bad ? unavailable(c, h) : nd_http_error(c, h, 503, 1, NULL)) < 0 ? -1 : PROBE_DONE;
    /* A shared room still fetching its state from Redis knows no numbers
     * yet (its seq is 0): the poll waits, and is answered once they are in
     * (nd_chat_synced). */
    /* A number from another epoch (the one given differs, or the number
     * is past the room's last) means the room was made anew since: the
     * client starts over, so it gets the whole history at once, even if
     * empty, and the epoch it is in. since=0 asks for everything anyway. */
    stale = (r->backend == NULL || r->synced) && since > 0 &&
            ((epoch != 0 && epoch != r->epoch) || (since > r->seq && !behind(r, epoch)));
    h->poll_since = stale ? 0 : since;
    h->poll_epoch = epoch;
    /* The room stays even when empty: the answer names its epoch, which
     * must still be the room's at the client's next poll. */
    if (r->backend != NULL && !r->synced) {
        /* Its numbers and epoch are not known yet: even a poll that will
         * not wait waits for them (the Redis reply limit), as its answer
         * names the epoch. */
        if (timeout == 0)
            timeout = 1000;
    } else if (stale || r->seq > since || h->head_only || timeout == 0) {
        return answer_poll(c, h, r) < 0 ? -1 : PROBE_DONE;
    }
    /* Nothing new yet: a member of the room until the next event or the
     * timeout. */
    h->stream = S_POLL;
    h->tick_ms = (uint32_t)(timeout < cf->max_delay ? timeout : cf->max_delay);
    h->conn = c;
    h->poll_answered = 0;
    h->poll.ops = &poll_ops;
    h->poll.present = 0;
    snprintf(h->poll.name, sizeof(h->poll.name), "%s", name);
    nd_chat_join(r, &h->poll);
    return PROBE_DONE;
}
