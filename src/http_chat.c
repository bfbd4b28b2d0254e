/* http_chat.c: chat rooms. A room holds its WebSocket members, the long
 * polls waiting on it, and its last messages, so that a poll can ask for
 * what it missed. Every event (message, join, leave) gets the room's next
 * sequence number and reaches everyone in the order it was published.
 * Numbers start again at 1 in a room made anew (a restarted daemon's): the
 * room's epoch, random, tells clients that this happened. Also here:
 * GET /chat (a page that uses it all), GET /chat/poll and POST /chat/send
 * for clients without WebSocket. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>

#include "http.h"
#include "nd/addr.h"
#include "nd/buf.h"
#include "nd/http_path.h"
#include "nd/json.h"
#include "nd/module.h"
#include "nd/util.h"
#include "nd/ws.h"

static int
put(struct nd_buf **b, const char *s)
{
    return nd_buf_append(b, s, strlen(s));
}

#define HIST_MAX_N 100
#define HIST_MAX_BYTES (64 * 1024)
#define ROOMS_MAX 1024
#define POLL_DEFAULT_MS 25000

struct chat_msg {
    struct chat_msg *next;
    uint64_t seq;
    size_t len;
    char json[];
};

static struct ws_room *rooms;
static size_t nrooms;

static void room_free(struct ws_room *r);
static int room_idle(const struct ws_room *r);

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

struct ws_room *
chat_room(const char *service, const char *name)
{
    size_t sl = strlen(service), nl = strlen(name);
    struct ws_room *r;

    if (sl + nl + 2 > sizeof(r->key))
        return NULL;
    for (r = rooms; r; r = r->next)
        if (strcmp(r->key, service) == 0 && strcmp(r->key + sl + 1, name) == 0)
            return r;
    if (nrooms >= ROOMS_MAX) {
        struct ws_room *idle = NULL;

        for (r = rooms; r; r = r->next)
            if (room_idle(r))
                idle = r;   /* the last in the list: the oldest made */
        if (idle == NULL)
            return NULL;
        room_free(idle);
    }
    if ((r = calloc(1, sizeof(*r))) == NULL)
        return NULL;
    memcpy(r->key, service, sl + 1);
    memcpy(r->key + sl + 1, name, nl + 1);
    r->epoch = new_epoch();
    r->next = rooms;
    rooms = r;
    nrooms++;
    return r;
}

static void
room_free(struct ws_room *r)
{
    struct ws_room **pp;

    for (pp = &rooms; *pp; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            while (r->first) {
                struct chat_msg *m = r->first;

                r->first = m->next;
                free(m);
            }
            free(r);
            nrooms--;
            return;
        }
    }
}

static int
room_idle(const struct ws_room *r)
{
    return r->n == 0 && r->pollers == NULL;
}

/* A room that nobody is in keeps its history for pollers coming back; it
 * goes when it never had any, or when room is needed for a new one. A poll
 * answered keeps its room even when empty: the answer named the room's
 * epoch, which must still be the room's at the client's next poll. */
void
chat_room_release(struct ws_room *r)
{
    if (room_idle(r) && r->first == NULL)
        room_free(r);
}

/* "[{...},{...}]": the history after `since`. */
static int
history_since(struct ws_room *r, uint64_t since, struct nd_buf **b)
{
    struct chat_msg *m;
    int first = 1;

    if (nd_buf_append(b, "[", 1) < 0)
        return -1;
    for (m = r->first; m; m = m->next) {
        if (m->seq <= since)
            continue;
        if ((!first && nd_buf_append(b, ",", 1) < 0) || nd_buf_append(b, m->json, m->len) < 0)
            return -1;
        first = 0;
    }
    return nd_buf_append(b, "]\n", 2);
}

/* Every poll answer names the room's epoch in a header, so that even an
 * empty one (a timeout) tells the client which numbering `since` is in. */
static int
answer_poll(struct nd_conn *c, struct http_conn *h, struct ws_room *r)
{
    struct nd_buf *b = NULL;
    char extra[48];
    int rc = history_since(r, h->poll_since, &b);

    snprintf(extra, sizeof(extra), "Chat-Epoch: %016llx\r\n", (unsigned long long)r->epoch);
    if (rc == 0)
        rc = http_respond(c, h, 200, "application/json", nd_buf_head(b), nd_buf_len(b), extra);
    nd_buf_free(b);
    return rc;
}

int
chat_history_send(struct ws_room *r, struct nd_conn *c)
{
    struct chat_msg *m;

    for (m = r->first; m; m = m->next) {
        uint8_t h[10];
        size_t hl = ws_put_header(h, 1, WS_TEXT, m->len);

        if (nd_conn_write(c, h, hl) < 0 || nd_conn_write(c, m->json, m->len) < 0)
            return -1;
    }
    return 0;
}

static void
unlink_poller(struct http_conn *h)
{
    struct ws_room *r = h->poll_room;

    if (h->poll_prev)
        h->poll_prev->poll_next = h->poll_next;
    else
        r->pollers = h->poll_next;
    if (h->poll_next)
        h->poll_next->poll_prev = h->poll_prev;
    h->poll_prev = h->poll_next = NULL;
    h->poll_room = NULL;
}

void
chat_publish(struct ws_room *r, struct http_conf *cf, const char *json, size_t n,
             struct nd_conn *self)
{
    /* {"seq":20 digits,"epoch":"16 digits",...}: 57 bytes and the NUL. */
    struct chat_msg *m = malloc(sizeof(*m) + n + 64);
    struct http_conn *p, *next;

    if (m == NULL)
        return;
    r->seq++;
    m->next = NULL;
    m->seq = r->seq;
    m->len = (size_t)snprintf(m->json, n + 64, "{\"seq\":%llu,\"epoch\":\"%016llx\",%.*s}",
                              (unsigned long long)r->seq, (unsigned long long)r->epoch,
                              (int)n, json);
    /* Keep the last messages, within a count and a byte budget. */
    if (r->last)
        r->last->next = m;
    else
        r->first = m;
    r->last = m;
    r->hist_n++;
    r->hist_bytes += m->len;
    while (r->first != m && (r->hist_n > HIST_MAX_N || r->hist_bytes > HIST_MAX_BYTES)) {
        struct chat_msg *old = r->first;

        r->first = old->next;
        r->hist_n--;
        r->hist_bytes -= old->len;
        free(old);
    }
    http_ws_broadcast(r, m->json, m->len);
    /* Answer the polls; answering may end one, so walk a detached list. */
    p = r->pollers;
    r->pollers = NULL;
    for (; p; p = next) {
        next = p->poll_next;
        p->poll_prev = p->poll_next = NULL;
        p->poll_room = NULL;
        if (answer_poll(p->conn, p, r) < 0 || http_out_flush(p->conn) < 0)
            nd_conn_end(p->conn, 1);
        else
            http_stream_finished(p->conn, p);
    }
    http_ws_drop_slow(r, cf, self);
}

/* ---- long polling ---- */

int
http_chat_poll_timeout(struct nd_conn *c, struct http_conn *h)
{
    struct ws_room *r = h->poll_room;
    int rc;

    if (r == NULL)
        return 1;
    unlink_poller(h);
    rc = answer_poll(c, h, r);
    return rc < 0 ? -1 : 1;
}

void
http_chat_poll_forget(struct http_conn *h)
{
    struct ws_room *r = h->poll_room;

    if (r == NULL)
        return;
    unlink_poller(h);
    chat_room_release(r);
}

/* An epoch as the client sends it back: exactly 16 hex digits. */
static int
parse_epoch(const char *v, uint64_t *out)
{
    uint64_t e = 0;
    int i, d;

    for (i = 0; v[i]; i++) {
        if (i == 16 || (d = http_hexval((unsigned char)v[i])) < 0)
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

    rl = query ? http_query_get(query, qlen, "room", 0, room, 65) : -1;
    if (rl <= 0 || (size_t)rl != strlen(room))
        return -1;
    nl = query ? http_query_get(query, qlen, "name", 0, name, 33) : -1;
    if (nl <= 0 || (size_t)nl != strlen(name))
        strcpy(name, "guest");
    *since = 0;
    if (query && http_query_get(query, qlen, "since", 0, v, sizeof(v)) >= 0 &&
        nd_parse_uint(v, since, err, sizeof(err)) < 0)
        return -1;
    if (query && http_query_get(query, qlen, "timeout", 0, v, sizeof(v)) >= 0 &&
        nd_parse_uint(v, timeout, err, sizeof(err)) < 0)
        return -1;
    if (epoch) {
        *epoch = 0;
        el = query ? http_query_get(query, qlen, "epoch", 0, v, sizeof(v)) : -1;
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
http_chat_send(struct nd_conn *c, struct http_conn *h, struct http_conf *cf,
               const struct http_request *req, const char *body, size_t len)
{
    char room[65], name[33], ack[80];
    uint64_t since, timeout = 0;
    struct ws_utf8 u = { 0 };
    struct nd_buf *b = NULL;
    struct ws_room *r;
    size_t qlen;
    const char *q = query_of(req, &qlen);
    int n;

    if (chat_args(q, qlen, room, name, &since, &timeout, NULL) < 0 ||
        ws_utf8_feed(&u, (const uint8_t *)body, len) < 0 || !ws_utf8_complete(&u) ||
        len > cf->ws_max_message)
        return http_error(c, h, 400, 1, NULL);
    r = chat_room(nd_service_name(nd_conn_service(c)), room);
    if (r == NULL)
        return http_error(c, h, 503, 1, NULL);
    /* Answers to other connections go through the same output buffer:
     * empty it for this one first. */
    if (http_out_flush(c) < 0 || put(&b, "\"type\":\"message\",\"name\":") < 0 ||
        nd_json_string(&b, name, strlen(name)) < 0 || put(&b, ",\"text\":") < 0 ||
        nd_json_string(&b, body, len) < 0) {
        nd_buf_free(b);
        chat_room_release(r);
        return -1;
    }
    chat_publish(r, cf, nd_buf_head(b), nd_buf_len(b), NULL);
    nd_buf_free(b);
    n = snprintf(ack, sizeof(ack), "{\"seq\":%llu,\"epoch\":\"%016llx\"}\n",
                 (unsigned long long)r->seq, (unsigned long long)r->epoch);
    chat_room_release(r);
    return http_respond(c, h, 200, "application/json", ack, (size_t)n, NULL);
}

/* The chat page: no external assets. WebSocket first, reconnecting with a
 * growing pause when the connection drops; long polling where WebSocket is
 * missing. */
static const char page[] =
"<!DOCTYPE html>\n"
"<html lang=\"en\">\n"
"<head>\n"
"<meta charset=\"utf-8\">\n"
"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
"<title>netdemo chat</title>\n"
"<style>\n"
"body{font-family:system-ui,sans-serif;margin:0;display:flex;flex-direction:column;height:100vh}\n"
"header{padding:.6em 1em;background:#234;color:#fff}\n"
"#log{flex:1;overflow-y:auto;padding:.5em 1em;margin:0;list-style:none}\n"
"#log li{padding:.15em 0}#log .note{color:#777;font-style:italic}\n"
"#log b{color:#235}\n"
"form{display:flex;gap:.5em;padding:.6em 1em;border-top:1px solid #ccc}\n"
"#name{width:8em}#text{flex:1}\n"
"#state{float:right;font-size:.85em}\n"
"</style>\n"
"</head>\n"
"<body>\n"
"<header>netdemo chat, room <span id=\"room\"></span><span id=\"state\">connecting</span></header>\n"
"<ul id=\"log\"></ul>\n"
"<form id=\"form\"><input id=\"name\" placeholder=\"name\" maxlength=\"32\">"
"<input id=\"text\" placeholder=\"message\" autocomplete=\"off\" maxlength=\"4000\">"
"<button id=\"send\">Send</button></form>\n"
"<script>\n"
"const qs = new URLSearchParams(location.search);\n"
"const room = qs.get('room') || 'lobby';\n"
"const $ = id => document.getElementById(id);\n"
"$('room').textContent = room;\n"
"$('name').value = qs.get('name') || localStorage.getItem('netdemo-name') || '';\n"
"// seen: the last event shown; it counts within the room's epoch, which\n"
"// changes when the room is made anew (a restarted daemon): then start over.\n"
"let ws = null, pause = 500, seen = 0, epoch = null;\n"
"function note(text) {\n"
"  const li = document.createElement('li'); li.className = 'note'; li.textContent = text;\n"
"  $('log').appendChild(li); li.scrollIntoView();\n"
"}\n"
"function sync(ep) {\n"
"  if (!ep || ep === epoch) return;\n"
"  if (epoch !== null) note('room restarted');\n"
"  epoch = ep; seen = 0;\n"
"}\n"
"function show(e) {\n"
"  sync(e.epoch);\n"
"  if (e.seq <= seen) return;\n"
"  seen = e.seq;\n"
"  if (e.type !== 'message') {\n"
"    note(e.name + (e.type === 'join' ? ' joined' : ' left') + ' (' + e.members + ' here)');\n"
"    return;\n"
"  }\n"
"  const li = document.createElement('li');\n"
"  const b = document.createElement('b'); b.textContent = e.name + ': ';\n"
"  li.appendChild(b); li.appendChild(document.createTextNode(e.text));\n"
"  $('log').appendChild(li); li.scrollIntoView();\n"
"}\n"
"function name() { return $('name').value.trim() || 'guest'; }\n"
"function connect() {\n"
"  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';\n"
"  ws = new WebSocket(proto + '//' + location.host + '/ws/chat?room=' +\n"
"                     encodeURIComponent(room) + '&name=' + encodeURIComponent(name()));\n"
"  ws.onopen = () => { $('state').textContent = 'connected'; pause = 500; };\n"
"  ws.onmessage = m => show(JSON.parse(m.data));\n"
"  ws.onclose = () => {\n"
"    $('state').textContent = 'reconnecting'; ws = null;\n"
"    setTimeout(connect, pause); pause = Math.min(pause * 2, 10000);\n"
"  };\n"
"}\n"
"async function poll() {\n"
"  for (;;) {\n"
"    try {\n"
"      const r = await fetch('/chat/poll?room=' + encodeURIComponent(room) + '&since=' + seen +\n"
"                            (epoch ? '&epoch=' + epoch : ''));\n"
"      if (!r.ok) throw new Error(r.status);\n"
"      const events = await r.json();\n"
"      sync(r.headers.get('Chat-Epoch')); events.forEach(show); $('state').textContent = 'polling';\n"
"    } catch (e) { $('state').textContent = 'offline'; await new Promise(t => setTimeout(t, 2000)); }\n"
"  }\n"
"}\n"
"$('form').onsubmit = ev => {\n"
"  ev.preventDefault();\n"
"  const t = $('text').value; if (!t) return;\n"
"  localStorage.setItem('netdemo-name', name());\n"
"  if (ws && ws.readyState === 1) ws.send(t);\n"
"  else fetch('/chat/send?room=' + encodeURIComponent(room) + '&name=' +\n"
"             encodeURIComponent(name()), {method: 'POST', body: t});\n"
"  $('text').value = '';\n"
"};\n"
"$('name').onchange = () => { if (ws) ws.close(); };\n"
"if ('WebSocket' in window) connect(); else poll();\n"
"</script>\n"
"</body>\n"
"</html>\n";

int
http_chat_route(struct nd_conn *c, struct http_conn *h, struct http_conf *cf,
                const struct http_request *req, const char *path, const char *query)
{
    char room[65], name[33];
    uint64_t since, epoch, timeout = POLL_DEFAULT_MS;
    size_t qlen = query ? (size_t)(req->target + req->target_len - query) : 0;
    int get = req->method == HTTP_GET || req->method == HTTP_HEAD, stale;
    struct ws_room *r;

    if (strcmp(path, "/chat") == 0) {
        if (!get)
            return http_error(c, h, 405, 1, "Allow: GET, HEAD\r\n") < 0 ? -1 : PROBE_DONE;
        return http_respond(c, h, 200, "text/html; charset=utf-8", page, sizeof(page) - 1,
                            NULL) < 0 ? -1 : PROBE_DONE;
    }
    if (strcmp(path, "/chat/send") == 0) {
        if (req->method != HTTP_POST)
            return http_error(c, h, 405, 1, "Allow: POST\r\n") < 0 ? -1 : PROBE_DONE;
        if (req->body == HTTP_BODY_NONE ||
            chat_args(query, qlen, room, name, &since, &timeout, NULL) < 0)
            return http_error(c, h, 400, 1, NULL) < 0 ? -1 : PROBE_DONE;
        h->whole = WHOLE_CHAT_SEND;
        return PROBE_NEED_BODY;
    }
    if (strcmp(path, "/chat/poll") != 0)
        return PROBE_NO;
    if (!get)
        return http_error(c, h, 405, 1, "Allow: GET, HEAD\r\n") < 0 ? -1 : PROBE_DONE;
    if (chat_args(query, qlen, room, name, &since, &timeout, &epoch) < 0)
        return http_error(c, h, 400, 1, NULL) < 0 ? -1 : PROBE_DONE;
    r = chat_room(nd_service_name(nd_conn_service(c)), room);
    if (r == NULL)
        return http_error(c, h, 503, 1, NULL) < 0 ? -1 : PROBE_DONE;
    /* A number from another epoch (the one given differs, or the number
     * is past the room's last) means the room was made anew since: the
     * client starts over, so it gets the whole history at once, even if
     * empty, and the epoch it is in. since=0 asks for everything anyway. */
    stale = since > 0 && ((epoch != 0 && epoch != r->epoch) || since > r->seq);
    h->poll_since = stale ? 0 : since;
    if (stale || r->seq > since || h->head_only || timeout == 0)
        return answer_poll(c, h, r) < 0 ? -1 : PROBE_DONE;
    /* Nothing new yet: wait for the next event or the timeout. */
    h->stream = S_POLL;
    h->tick_ms = (uint32_t)(timeout < cf->max_delay ? timeout : cf->max_delay);
    h->poll_room = r;
    h->conn = c;
    h->poll_prev = NULL;
    h->poll_next = r->pollers;
    if (r->pollers)
        r->pollers->poll_prev = h;
    r->pollers = h;
    return PROBE_DONE;
}

