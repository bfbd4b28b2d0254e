/* http_ws.c: WebSocket on the http module: the upgrade handshake, then
 * /ws/echo (every message back) and /ws/chat?room=NAME (a member of a
 * chat_room: every text message to every member, in the order received).
 * The wire format is ws.c's; this file holds messages, pings and the
 * closing handshake. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_room.h"
#include "http.h"
#include "nd/buf.h"
#include "http_path.h"
#include "nd/module.h"
#include "nd/util.h"
#include "ws.h"

/* A message of a shared room's member on its way through Redis. */
struct ws_send {
    struct chat_ticket t;
    struct ws_conn *w;
    struct ws_send *next;
};

struct ws_conn {
    struct nd_conn *conn;
    struct ws_send *sends;          /* awaiting Redis's answer */
    struct chat_member member;      /* /ws/chat: in its room */
    struct nd_buf *msg;             /* the message being assembled */
    struct ws_utf8 utf8;
    struct ws_frame f;              /* the data frame being read */
    uint64_t f_left;                /* its payload bytes still to come */
    uint64_t f_off;                 /* its payload bytes read so far */
    int in_frame;
    int msg_op;                     /* WS_TEXT or WS_BINARY while open */
    int closing;                    /* our close frame is sent */
    int ping_out;                   /* a ping waits for its pong */
};


/* ---- sending ---- */

static int
send_frame(struct nd_conn *c, int op, const void *p, size_t n)
{
    uint8_t h[10];
    size_t hl = nd_ws_put_header(h, 1, op, n);

    if (nd_conn_write(c, h, hl) < 0)
        return -1;
    return n ? nd_conn_write(c, p, n) : 0;
}

/* Sends a close frame with code and stops reading: the core closes once
 * it is out (and the peer's FIN is in, or 2 s have passed). */
static int
ws_close_with(struct nd_conn *c, struct ws_conn *w, unsigned code)
{
    uint8_t p[2] = { (uint8_t)(code >> 8), (uint8_t)code };

    if (!w->closing) {
        w->closing = 1;
        if (send_frame(c, WS_CLOSE, p, 2) < 0)
            return ND_ABORT;
    }
    return ND_FINISH;
}

/* ---- a chat member ---- */

_Static_assert(CHAT_HEADROOM >= 10, "a WebSocket header fits before an event");

/* The first WebSocket member to get an event frames it in the headroom
 * before its JSON; every member then writes header and payload in one
 * piece, which the core gathers with the rest of that member's output. */
static int
member_deliver(struct chat_member *m, struct chat_event *ev)
{
    struct ws_conn *w = nd_container_of(m, struct ws_conn, member);

    if (w->closing)
        return 0;
    if (ev->framed == 0) {
        uint8_t h[10];

        ev->framed = nd_ws_put_header(h, 1, WS_TEXT, ev->len);
        memcpy(ev->json - ev->framed, h, ev->framed);
    }
    return nd_conn_write(w->conn, ev->json - ev->framed, ev->framed + ev->len) < 0 ? -1 : 0;
}

static size_t
member_pending(const struct chat_member *m)
{
    return nd_conn_pending(nd_container_of(m, struct ws_conn, member)->conn);
}

static void
member_end(struct chat_member *m)
{
    nd_conn_end(nd_container_of(m, struct ws_conn, member)->conn, 1);
}

static const struct chat_member_ops member_ops = { member_deliver, member_pending, member_end };

/* ---- messages ---- */

/* The sender alone hears that its message was not published, or (unknown
 * set) that the backend did not answer in time: it may have been, and its
 * event then comes as any other. */
static int
send_error(struct ws_conn *w, int unknown)
{
    static const char ev[] = "{\"type\":\"error\",\"error\":\"chat backend unavailable\"}";
    static const char unk[] = "{\"type\":\"error\",\"error\":\"chat backend did not answer\","
                              "\"unknown\":true}";

    if (w->closing)
        return 0;
    return unknown ? send_frame(w->conn, WS_TEXT, unk, sizeof(unk) - 1)
                   : send_frame(w->conn, WS_TEXT, ev, sizeof(ev) - 1);
}

static void
shared_done(struct chat_ticket *t, uint64_t seq, uint64_t epoch, const char *err)
{
    struct ws_send *s = nd_container_of(t, struct ws_send, t), **pp;
    struct ws_conn *w = s->w;

    ND_UNUSED(seq);
    ND_UNUSED(epoch);
    for (pp = &w->sends; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    }
    free(s);
    if (err != NULL && send_error(w, err == nd_chat_unanswered) < 0)
        nd_conn_end(w->conn, 1);
}

/* A text message in a shared room: published through Redis; the event
 * comes back to every member, this one included, from the room's channel. */
static int
say_shared(struct ws_conn *w, const char *p, size_t n)
{
    struct ws_send *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return -1;
    s->t.done = shared_done;
    s->w = w;
    if (nd_chat_say_shared(w->member.room, w->member.name, p, n, &s->t) < 0) {
        free(s);
        return send_error(w, 0);
    }
    s->next = w->sends;
    w->sends = s;
    return 0;
}

static int
deliver(struct nd_conn *c, struct ws_conn *w)
{
    const char *p = w->msg ? nd_buf_head(w->msg) : "";
    size_t n = w->msg ? nd_buf_len(w->msg) : 0;
    int rc = 0;

    if (w->member.room == NULL)
        rc = send_frame(c, w->msg_op, p, n);       /* echo */
    else if (w->msg_op == WS_TEXT && w->member.room->backend != NULL)
        rc = say_shared(w, p, n);
    else if (w->msg_op == WS_TEXT)
        rc = nd_chat_say(w->member.room, w->member.name, p, n);
    nd_buf_free(w->msg);
    w->msg = NULL;
    w->msg_op = 0;
    return rc < 0 ? ND_ABORT : ND_KEEP;
}

static int
control(struct nd_conn *c, struct ws_conn *w, int op, const uint8_t *p, size_t n)
{
    struct ws_utf8 u = { 0 };

    switch (op) {
    case WS_PING:
        return send_frame(c, WS_PONG, p, n) < 0 ? ND_ABORT : ND_KEEP;
    case WS_PONG:
        w->ping_out = 0;
        return ND_KEEP;
    default:    /* WS_CLOSE */
        if (n == 1)
            return ws_close_with(c, w, WS_CLOSE_PROTOCOL);
        if (n >= 2) {
            unsigned code = (unsigned)p[0] << 8 | p[1];

            if (!nd_ws_close_code_valid(code))
                return ws_close_with(c, w, WS_CLOSE_PROTOCOL);
            if (nd_ws_utf8_feed(&u, p + 2, n - 2) < 0 || !nd_ws_utf8_complete(&u))
                return ws_close_with(c, w, WS_CLOSE_BAD_DATA);
            return ws_close_with(c, w, code == WS_CLOSE_NORMAL ? code : WS_CLOSE_NORMAL);
        }
        return ws_close_with(c, w, WS_CLOSE_NORMAL);
    }
}

/* Frames from buf, as many as are whole (control) or started (data). A
 * data frame completes the moment its last byte is in: for an empty frame,
 * that is its header, so the loop goes on after a header even when no byte
 * is left. */
enum nd_verdict
nd_http_ws_input(struct nd_conn *c, struct http_conn *h, struct http_conf *cf, struct nd_buf *in)
{
    struct ws_conn *w = h->ws;

    while (!w->closing) {
        uint8_t *buf = (uint8_t *)nd_buf_head(in);
        size_t len = nd_buf_len(in), n;

        if (!w->in_frame) {
            struct ws_frame f;
            int rc, v;

            if (len == 0)
                break;
            rc = nd_ws_parse_header(buf, len, &f);
            if (rc == 0)
                return ND_KEEP;
            if (rc != 1)
                return ws_close_with(c, w, (unsigned)rc);
            if (f.opcode >= WS_CLOSE) {
                if (len < f.header_len + f.len)
                    return ND_KEEP;     /* at most 139 bytes: wait for all */
                nd_ws_unmask(buf + f.header_len, (size_t)f.len, f.mask, 0);
                v = control(c, w, f.opcode, buf + f.header_len, (size_t)f.len);
                nd_buf_consume(in, f.header_len + (size_t)f.len);
                if (v != ND_KEEP)
                    return v;
                continue;
            }
            if ((f.opcode == WS_CONT) != (w->msg_op != 0))
                return ws_close_with(c, w, WS_CLOSE_PROTOCOL);  /* no message to continue, or one left open */
            if (f.opcode != WS_CONT) {
                w->msg_op = f.opcode;
                memset(&w->utf8, 0, sizeof(w->utf8));
            }
            if ((w->msg ? nd_buf_len(w->msg) : 0) + f.len > cf->ws_max_message)
                return ws_close_with(c, w, WS_CLOSE_TOO_BIG);
            w->f = f;
            w->f_left = f.len;
            w->f_off = 0;
            w->in_frame = 1;
            nd_buf_consume(in, f.header_len);
            buf = (uint8_t *)nd_buf_head(in);
            len = nd_buf_len(in);
        }
        n = len < w->f_left ? len : (size_t)w->f_left;
        if (n == 0 && w->f_left > 0)
            break;                      /* the payload is still to come */
        nd_ws_unmask(buf, n, w->f.mask, w->f_off);
        if (w->msg_op == WS_TEXT && nd_ws_utf8_feed(&w->utf8, buf, n) < 0)
            return ws_close_with(c, w, WS_CLOSE_BAD_DATA);
        if (n > 0 && nd_buf_append(&w->msg, buf, n) < 0)
            return ND_ABORT;
        nd_buf_consume(in, n);
        w->f_left -= n;
        w->f_off += n;
        if (w->f_left > 0)
            continue;
        w->in_frame = 0;
        if (!w->f.fin)
            continue;
        if (w->msg_op == WS_TEXT && !nd_ws_utf8_complete(&w->utf8))
            return ws_close_with(c, w, WS_CLOSE_BAD_DATA);
        if (deliver(c, w) != ND_KEEP)
            return ND_ABORT;
        /* A chat member that sends but does not read is dropped too. An
         * echo connection's output is its own backpressure instead: above
         * buffer_size the core stops reading it until the echo drains. */
        if (w->member.room != NULL && nd_conn_pending(c) > cf->ws_max_queue)
            return ND_ABORT;
    }
    return w->closing ? ND_FINISH : ND_KEEP;
}

/* Every ws_ping_interval: a ping, unless the last one is still unanswered,
 * in which case the peer is gone. */
enum nd_verdict
nd_http_ws_timeout(struct nd_conn *c, struct http_conn *h, struct http_conf *cf)
{
    struct ws_conn *w = h->ws;

    if (w->closing)
        return ND_ABORT;
    if (w->ping_out)
        return ws_close_with(c, w, WS_CLOSE_GOING_AWAY);
    w->ping_out = 1;
    if (send_frame(c, WS_PING, "netdemo", 7) < 0)
        return ND_ABORT;
    nd_conn_set_deadline(c, cf->ws_ping_interval);
    return ND_KEEP;
}

/* The server is stopping: "going away". */
enum nd_verdict
nd_http_ws_stop(struct nd_conn *c, struct http_conn *h)
{
    return ws_close_with(c, h->ws, WS_CLOSE_GOING_AWAY);
}

void
nd_http_ws_close(struct nd_conn *c, struct http_conn *h)
{
    struct ws_conn *w = h->ws;

    nd_service_module_counters(nd_conn_service(c))[HTTP_CTR_WS_MEMBERS]--;
    nd_chat_leave(&w->member);
    while (w->sends != NULL) {
        struct ws_send *s = w->sends;

        w->sends = s->next;
        nd_chat_ticket_cancel(&s->t);
        free(s);
    }
    nd_buf_free(w->msg);
    free(w);
    h->ws = NULL;
}

/* The handshake (RFC 6455 4.2): answers 101 and switches the connection,
 * or answers 400/426 and leaves it HTTP. */
int
nd_http_ws_route(struct nd_conn *c, struct http_conn *h, struct http_conf *cf,
              const struct http_request *req, const char *path, const char *query)
{
    const struct http_header *up, *conn, *key, *ver;
    char accept[29], extra[160], name[65], room[65];
    struct chat_room *r = NULL;
    struct ws_conn *w;
    int chat = strcmp(path, "/ws/chat") == 0;

    if (!chat && strcmp(path, "/ws/echo") != 0)
        return PROBE_NO;
    up = nd_http_header_find(req, "upgrade");
    conn = nd_http_header_find(req, "connection");
    key = nd_http_header_find(req, "sec-websocket-key");
    ver = nd_http_header_find(req, "sec-websocket-version");
    if (req->method != HTTP_GET || req->minor != 1)     /* RFC 6455 4.1: GET, 1.1 */
        return nd_http_error(c, h, 400, 1, NULL) < 0 ? -1 : PROBE_DONE;
    if (up == NULL || !nd_http_list_has(up->value, up->value_len, "websocket") ||
        conn == NULL || !nd_http_list_has(conn->value, conn->value_len, "upgrade"))
        return nd_http_error(c, h, 426, 1, "Upgrade: websocket\r\n") < 0 ? -1 : PROBE_DONE;
    if (ver == NULL || ver->value_len != 2 || memcmp(ver->value, "13", 2) != 0)
        return nd_http_error(c, h, 426, 1, "Sec-WebSocket-Version: 13\r\n") < 0 ? -1 : PROBE_DONE;
    if (key == NULL || nd_ws_accept_key(key->value, key->value_len, accept) < 0 ||
        req->body != HTTP_BODY_NONE)
        return nd_http_error(c, h, 400, 1, NULL) < 0 ? -1 : PROBE_DONE;
    if (chat) {
        /* The query lies inside the target, which is not NUL-terminated. */
        size_t qlen = query ? (size_t)(req->target + req->target_len - query) : 0;

        int rl = query ? nd_http_query_get(query, qlen, "room", 0, room, sizeof(room)) : -1;
        int nl = query ? nd_http_query_get(query, qlen, "name", 0, name, 33) : -1;

        if (rl <= 0 || (size_t)rl != strlen(room))
            return nd_http_error(c, h, 400, 1, NULL) < 0 ? -1 : PROBE_DONE;
        if (nl <= 0 || (size_t)nl != strlen(name))
            snprintf(name, 33, "guest");
    }
    w = calloc(1, sizeof(*w));
    if (w == NULL)
        return -1;
    w->conn = c;
    if (chat) {
        int bad;
        struct chat_backend *b = nd_http_chat_backend(c, cf, &bad);

        r = bad ? NULL : nd_chat_room_get_shared(c, nd_service_name(nd_conn_service(c)), room,
                                                 (size_t)cf->ws_max_queue, b);
        if (r == NULL) {
            free(w);
            return -1;
        }
        w->member.ops = &member_ops;
        w->member.present = 1;
        snprintf(w->member.name, sizeof(w->member.name), "%s", name);
    }
    snprintf(extra, sizeof(extra), "Upgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Accept: %s\r\n", accept);
    /* The connection is no longer HTTP's: its only Connection header is
     * Upgrade, whatever the request's said about keeping it alive. */
    h->keep_alive = 1;
    if (nd_http_head(c, h, 101, NULL, -1, extra) < 0) {
        if (r)
            nd_chat_room_release(r);
        free(w);
        return -1;
    }
    h->ws = w;
    nd_service_module_counters(nd_conn_service(c))[HTTP_CTR_WS_MEMBERS]++;
    if (r) {
        /* The room so far, then the join: a page shows history at once. */
        if (nd_chat_replay(r, &w->member) < 0) {
            nd_chat_room_release(r);
            return -1;
        }
        nd_chat_join(r, &w->member);
    }
    nd_conn_set_deadline(c, cf->ws_ping_interval);
    return PROBE_DONE;
}
