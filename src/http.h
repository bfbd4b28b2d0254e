/* http.h: what the files of the http module share: its settings, the state
 * of one connection, and the response writers. Not a public header: only
 * the http module's files include it. */
#ifndef ND_SRC_HTTP_H
#define ND_SRC_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "chat_room.h"
#include "http_parse.h"
#include "nd/module.h"

struct nd_buf;
struct nd_conn;
struct nd_service;
struct http_access;
struct nd_redis_url;

struct http_conf {
    char *root;
    int root_fd;
    int probes;                 /* /echo, /status, /delay, /bytes, /drip */
    int websocket;              /* /ws/echo, and /ws/chat with chat */
    int chat;                   /* /chat, /chat/poll, /chat/send, /ws/chat */
    int drain;                  /* /health fails, so balancers move away */
    uint64_t max_request_line;
    uint64_t max_header_size;
    uint64_t max_headers;
    uint64_t max_body;
    uint64_t max_delay;
    uint64_t max_bytes;
    uint64_t header_timeout;
    uint64_t keepalive_timeout;
    uint64_t send_timeout;
    uint64_t ws_max_message;    /* larger messages: close 1009 */
    uint64_t ws_max_queue;      /* output a chat member may leave unread */
    uint64_t ws_ping_interval;
    char *backend_text;         /* chat_backend as written */
    struct nd_redis_url *backend;   /* chat_backend parsed; NULL: local */
    char *backend_password;     /* chat_backend_password */
    struct chat_backend *shared;    /* a redis backend's, made when in force */
    struct http_limits lim;
    char *page;                 /* the welcome page, made on first use */
    size_t page_len;
};

/* Where a connection is in its current request. */
enum http_phase {
    PH_HEAD,        /* reading a request head */
    PH_BODY,        /* reading (discarding) a body after answering */
    PH_WHOLE,       /* gathering a body the answer needs (POST /echo) */
    PH_STREAM,      /* sending an answer over time; reading is held */
};

/* What an answer still has to send after its head. */
enum http_stream {
    S_NONE,
    S_FILE,         /* a file, with sendfile */
    S_BYTES,        /* /bytes/N: pseudo-random bytes */
    S_DRIP,         /* /drip: bytes spread over a duration */
    S_DELAY,        /* /delay/MS: the whole answer, later */
    S_POLL,         /* /chat/poll: held until a message or a timeout */
};

/* What the connection waits for, which decides its deadline. */
enum http_wait { W_NONE, W_KEEPALIVE, W_HEAD, W_BODY, W_SEND };

struct http_conn {
    struct http_scan scan;
    struct http_chunked chunk;
    uint64_t body_left;         /* Content-Length bytes still to read */
    uint64_t body_len;          /* body bytes read (or gathered) so far */
    size_t head_len;            /* PH_WHOLE: the head before the body */
    uint64_t left;              /* bytes of the stream still to send */
    uint64_t rng;               /* S_BYTES generator state */
    int64_t file_off;
    int file_fd;                /* S_FILE: the file, else -1 */
    uint32_t tick_ms;           /* S_DRIP: interval; S_DELAY: the delay */
    uint32_t per_tick;          /* S_DRIP: bytes per interval */
    uint32_t requests;          /* on this connection */
    unsigned char phase;
    unsigned char stream;
    unsigned char wait;
    unsigned char chunked;
    unsigned char keep_alive;   /* after the current answer */
    unsigned char peer_closes;  /* the client asked to close after this request */
    unsigned char partial;      /* bytes of a next request have arrived */
    unsigned char minor;        /* of the current request */
    unsigned char head_only;    /* the current request is HEAD */
    struct ws_conn *ws;         /* upgraded to WebSocket, else NULL */
    unsigned char whole;        /* PH_WHOLE: which answer wants the body */
    unsigned char more;         /* the request cycle waits for more bytes */
    unsigned char poll_answered;    /* S_POLL: the answer is written */
    uint64_t poll_since;        /* S_POLL: the last sequence number seen */
    uint64_t poll_epoch;        /* S_POLL: the epoch it is in, as the client said; 0: none */
    struct chat_member poll;    /* S_POLL: in the room waited on */
    struct nd_conn *conn;       /* S_POLL: for the room to answer it */
    struct chat_ticket send;    /* S_POLL: a shared room's /chat/send awaits Redis */
    struct http_access *access; /* access_log = on: the request's record */
};

/* The module counter slot of the WebSocket connections open now (a gauge;
 * slots 0 to 5 count answers, see mod_http.c). */
#define HTTP_CTR_WS_MEMBERS 6
/* The shared rooms' backend: down now (a gauge), reconnects, refusals,
 * sends without an answer in time. */
#define HTTP_CTR_CHAT_DOWN 7
#define HTTP_CTR_CHAT_RECONNECTS 8
#define HTTP_CTR_CHAT_REFUSED 9
#define HTTP_CTR_CHAT_UNANSWERED 10

/* Answers that need the whole body first (PH_WHOLE). */
enum { WHOLE_ECHO = 0, WHOLE_CHAT_SEND = 1 };

/* ---- http_response.c ---- */

/* The reason phrase of a status code ("Not Found"), or NULL if unknown. */
const char *nd_http_reason(int status);

/* Writes a status line and headers: Server, Date, Content-Type (if ctype),
 * Content-Length (if length >= 0), extra (whole header lines), and
 * Connection as h->keep_alive and h->minor require. Counts the status. */
int nd_http_head(struct nd_conn *c, struct http_conn *h, int status, const char *ctype,
              int64_t length, const char *extra);

/* A complete answer; no body for HEAD. */
int nd_http_respond(struct nd_conn *c, struct http_conn *h, int status, const char *ctype,
                 const char *body, size_t len, const char *extra);

/* A short text answer naming the status. Unless keep, the connection will
 * close after it. */
int nd_http_error(struct nd_conn *c, struct http_conn *h, int status, int keep,
               const char *extra);

/* ---- http_metrics.c ---- */

/* /metrics: every service's counters in the Prometheus text format. */
int nd_http_metrics(struct nd_conn *c, struct http_conn *h);

/* /stats: the answering service's counters, then every service's, as JSON. */
int nd_http_stats(struct nd_conn *c, struct http_conn *h, const struct http_conf *cf);

/* ---- http_access.c ---- */

/* Gives h an access record if the service has access_log = on. -1 when
 * memory is short. */
int nd_http_access_attach(struct nd_conn *c, struct http_conn *h);

/* A request's first byte is here (h->access set): its record starts. */
void nd_http_access_begin(struct nd_conn *c, struct http_conn *h);

/* The request's head is parsed: its method, target and X-Request-Id. */
void nd_http_access_request(struct http_conn *h, const struct http_request *req);

/* The request's head is malformed: line[0..n) holds its first line. */
void nd_http_access_raw(struct http_conn *h, const char *line, size_t n);

/* The status of the answer being written (nd_http_head calls it). */
void nd_http_access_status(struct http_conn *h, int status);

/* The request is over (answered, or the connection ends): its line, once. */
void nd_http_access_end(struct nd_conn *c, struct http_conn *h);

/* The connection closes: the line of a request still under way, the
 * WebSocket line of an upgraded one, and the record freed. */
void nd_http_access_close(struct nd_conn *c, struct http_conn *h);

/* ---- http_probe.c ---- */

enum { PROBE_NO = 0, PROBE_DONE = 1, PROBE_NEED_BODY = 2 };

/* Answers a probe resource (or sets up its stream). Returns PROBE_NO when
 * the path is not a probe, PROBE_NEED_BODY when the answer needs the
 * request body first, PROBE_DONE, or -1 on a fatal error. */
int nd_http_probe(struct nd_conn *c, struct http_conn *h, struct http_conf *cf,
               const struct http_request *req, const char *path, const char *query);

/* Answers /echo with the request and its body. */
int nd_http_probe_echo(struct nd_conn *c, struct http_conn *h, struct http_conf *cf,
                    const struct http_request *req, const char *body, size_t len);

/* Sends the next slice of an S_BYTES stream. Returns 1 when done, 0 when
 * more is to come (drained() brings us back), -1 on error. */
int nd_http_probe_bytes(struct nd_conn *c, struct http_conn *h);

/* The deadline of an S_DRIP or S_DELAY stream has come. Returns 1 when the
 * answer is complete, 0 when more is to come, -1 on error. */
int nd_http_probe_tick(struct nd_conn *c, struct http_conn *h);

/* ---- http_ws.c ---- */

/* The handshake for /ws/echo and /ws/chat: PROBE_NO, PROBE_DONE or -1. */
int nd_http_ws_route(struct nd_conn *c, struct http_conn *h, struct http_conf *cf,
                  const struct http_request *req, const char *path, const char *query);
enum nd_verdict nd_http_ws_input(struct nd_conn *c, struct http_conn *h, struct http_conf *cf,
                              struct nd_buf *in);
enum nd_verdict nd_http_ws_timeout(struct nd_conn *c, struct http_conn *h, struct http_conf *cf);
enum nd_verdict nd_http_ws_stop(struct nd_conn *c, struct http_conn *h);
void nd_http_ws_close(struct nd_conn *c, struct http_conn *h);

/* GET /chat (the page), GET /chat/poll, POST /chat/send: PROBE_NO,
 * PROBE_DONE, PROBE_NEED_BODY (for send) or -1. */
int nd_http_chat_route(struct nd_conn *c, struct http_conn *h, struct http_conf *cf,
                    const struct http_request *req, const char *path, const char *query);

/* The shared rooms' backend in force for c's service (made on first use),
 * or NULL: for a local chat_backend, or (*bad set) when it cannot be made.
 * cf: c's settings, used when none are in force (no in_force call yet). */
struct chat_backend *nd_http_chat_backend(struct nd_conn *c, struct http_conf *cf, int *bad);

/* cf is in force for svc: its backend takes over the rooms (or stays, for
 * the same Redis), and the one it replaces goes. */
void nd_http_chat_in_force(struct nd_service *svc, struct http_conf *cf);

/* cf goes: its backend, if it owns one, with it. */
void nd_http_chat_conf_gone(struct http_conf *cf);

/* POST /chat/send with its body. */
int nd_http_chat_send(struct nd_conn *c, struct http_conn *h, struct http_conf *cf,
                   const struct http_request *req, const char *body, size_t len);

/* A held poll: its deadline passed (answer what there is, if an event
 * has not: returns 1 when answered, -1 on error), or the connection is
 * closing (forget it). */
int nd_http_chat_poll_timeout(struct nd_conn *c, struct http_conn *h);
void nd_http_chat_poll_forget(struct http_conn *h);

#endif
