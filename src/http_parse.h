/* http_parse.h: a strict HTTP/1.1 request parser (RFC 9112). Pure: it reads
 * a byte range, allocates nothing, and points into the caller's buffer. The
 * head is scanned incrementally (bytes already seen are not scanned again),
 * then parsed once it is complete. Bodies are framed by Content-Length or by
 * the chunked decoder below. */
#ifndef ND_HTTP_PARSE_H
#define ND_HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

enum http_method {
    HTTP_OTHER = 0,     /* a valid token we do not know: 501 */
    HTTP_GET,
    HTTP_HEAD,
    HTTP_POST,
    HTTP_PUT,
    HTTP_DELETE,
    HTTP_OPTIONS,
    HTTP_PATCH,
    HTTP_CONNECT,
    HTTP_TRACE,
};

struct http_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

struct http_limits {
    size_t max_request_line;    /* longer: 414 */
    size_t max_header_size;     /* header section larger: 431 */
    size_t max_headers;         /* more fields: 431 */
};

/* Where the scan of an incomplete head stopped. Zero it for each request. */
struct http_scan {
    size_t pos;             /* bytes scanned */
    size_t start;           /* first byte of the request line */
    size_t line;            /* first byte of the current line */
    size_t line_end;        /* end of the request line, once seen */
};

enum http_body {
    HTTP_BODY_NONE,
    HTTP_BODY_LENGTH,
    HTTP_BODY_CHUNKED,
};

struct http_request {
    enum http_method method;
    const char *method_name;
    size_t method_len;
    const char *target;
    size_t target_len;
    int minor;                  /* HTTP/1.minor: 0 or 1 */
    struct http_header *headers;
    size_t nheaders;
    const char *host;           /* NULL when absent */
    size_t host_len;
    int keep_alive;
    enum http_body body;
    uint64_t content_length;
    size_t head_len;            /* bytes of the head, from the buffer start */
    const char *error;          /* why, when the parse failed */
};

/* Parses the head at the start of buf[0..len). Returns the status to answer
 * with when the request is malformed (400, 414, 431, 501, 505; req->error
 * says why), 0 when more bytes are needed, and 1 when req is complete
 * (req->head_len bytes). headers[] receives up to lim->max_headers fields. */
int nd_http_parse_request(const char *buf, size_t len, struct http_scan *scan,
                       const struct http_limits *lim, struct http_request *req,
                       struct http_header *headers);

/* The value of a hex digit (either case), or -1. */
int nd_http_hexval(int c);

/* Case-insensitive comparison of a header name or token. */
int nd_http_token_eq(const char *s, size_t n, const char *lit);

/* The first header field called name (lower case), or NULL. */
const struct http_header *nd_http_header_find(const struct http_request *req,
                                           const char *name);

/* True when the comma-separated list v[0..n) holds token (any case). */
int nd_http_list_has(const char *v, size_t n, const char *token);

/* The chunked transfer coding, one byte range at a time. */
struct http_chunked {
    int state;
    uint64_t size;              /* bytes left in the current chunk */
    size_t line;                /* bytes in the current size or trailer line */
    size_t trailer;             /* bytes of trailer section so far */
};

/* Feeds buf[0..len). Sets *used to the bytes consumed, and data and dlen to a
 * span of body data within buf (possibly empty). Returns 1 when the last
 * chunk and trailers are complete, 0 to be called again (with the rest, or
 * with more bytes once *used == len), -1 on malformed framing. */
int nd_http_chunked_feed(struct http_chunked *ch, const char *buf, size_t len,
                      size_t *used, const char **data, size_t *dlen);

#endif
