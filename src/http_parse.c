/* http_parse.c: the request head and the chunked coding, per RFC 9112.
 * Strict where leniency is a smuggling risk: bare CR or LF, obs-fold,
 * whitespace before a colon, conflicting framing and malformed numbers are
 * all rejected rather than guessed at. */
#include <string.h>

#include "http_parse.h"

/* tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
 *         "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA */
static const unsigned char tchar[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1,
    ['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1,
    ['`'] = 1, ['|'] = 1, ['~'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
    ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
    ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
    ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
    ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
    ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
    ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
    ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1,
};

#define IS_TCHAR(c) (tchar[(unsigned char)(c)])
#define IS_OWS(c) ((c) == ' ' || (c) == '\t')
/* field-vchar / SP / HTAB: anything but controls and DEL */
#define IS_FIELD_CHAR(c) \
    ((unsigned char)(c) >= 0x20 ? (unsigned char)(c) != 0x7f : (c) == '\t')

static int
lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

int
nd_http_token_eq(const char *s, size_t n, const char *lit)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (lit[i] == '\0' || lower((unsigned char)s[i]) != lit[i])
            return 0;
    return lit[n] == '\0';
}

const struct http_header *
nd_http_header_find(const struct http_request *req, const char *name)
{
    size_t i, n = strlen(name);

    for (i = 0; i < req->nheaders; i++)
        if (req->headers[i].name_len == n &&
            nd_http_token_eq(req->headers[i].name, n, name))
            return &req->headers[i];
    return NULL;
}

int
nd_http_list_has(const char *v, size_t n, const char *token)
{
    size_t i = 0;

    while (i < n) {
        size_t s, e;

        while (i < n && (v[i] == ',' || IS_OWS(v[i])))
            i++;
        s = i;
        while (i < n && v[i] != ',')
            i++;
        e = i;
        while (e > s && IS_OWS(v[e - 1]))
            e--;
        if (e > s && nd_http_token_eq(v + s, e - s, token))
            return 1;
    }
    return 0;
}

/* uri-host [ ":" port ] (RFC 9112 3.2): reg-name or IP-literal characters
 * only, so "a b", "a, b" (two Host lines merged) and "a/b@c" are refused. */
static int
host_valid(const char *h, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)h[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("-._~!$&'()*+;=:[]%", c)))
            return 0;
    }
    return 1;
}

static int
fail(struct http_request *req, int status, const char *why)
{
    req->error = why;
    return status;
}

/* Finds the end of the head, checking line endings and limits on the way.
 * Returns 1 (complete at scan->pos), 0 (need more) or an error status. */
static int
scan_head(const char *buf, size_t len, struct http_scan *sc,
          const struct http_limits *lim, struct http_request *req)
{
    size_t i = sc->pos;

    if (sc->line_end == 0 && sc->pos == sc->start) {
        /* RFC 9112 2.2: empty lines before the request line are ignored. */
        while (i + 1 < len && buf[i] == '\r' && buf[i + 1] == '\n' &&
               i < lim->max_request_line)
            i += 2;
        sc->start = sc->line = sc->pos = i;
    }
    for (; i < len; i++) {
        char c = buf[i];

        if (c == '\r') {
            if (i + 1 == len)
                break;
            if (buf[i + 1] != '\n')
                return fail(req, 400, "bare CR");
            continue;
        }
        if (c == '\n') {
            if (i == 0 || buf[i - 1] != '\r')
                return fail(req, 400, "bare LF");
            if (sc->line_end == 0) {
                if (i - 1 == sc->start)
                    return fail(req, 400, "empty request line");
                sc->line_end = i + 1;
            } else if (i - 1 == sc->line) {
                sc->pos = i + 1;
                return 1;
            }
            sc->line = i + 1;
            continue;
        }
        if (sc->line_end == 0) {
            if (i - sc->start >= lim->max_request_line)
                return fail(req, 414, "request line too long");
        } else if (i - sc->line_end >= lim->max_header_size) {
            return fail(req, 431, "header section too large");
        }
    }
    sc->pos = i;
    if (sc->line_end == 0 && i - sc->start > lim->max_request_line)
        return fail(req, 414, "request line too long");
    return 0;
}

static enum http_method
method_id(const char *m, size_t n)
{
    static const struct { const char *name; enum http_method id; } tab[] = {
        { "GET", HTTP_GET }, { "HEAD", HTTP_HEAD }, { "POST", HTTP_POST },
        { "PUT", HTTP_PUT }, { "DELETE", HTTP_DELETE },
        { "OPTIONS", HTTP_OPTIONS }, { "PATCH", HTTP_PATCH },
        { "CONNECT", HTTP_CONNECT }, { "TRACE", HTTP_TRACE },
    };
    size_t i;

    for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
        if (strlen(tab[i].name) == n && memcmp(tab[i].name, m, n) == 0)
            return tab[i].id;
    return HTTP_OTHER;
}

/* method SP request-target SP HTTP-version, without the CRLF. */
static int
parse_request_line(const char *p, const char *end, struct http_request *req)
{
    const char *m = p, *t, *v;

    while (p < end && IS_TCHAR(*p))
        p++;
    if (p == m || p == end || *p != ' ')
        return fail(req, 400, "malformed request line (method)");
    req->method_name = m;
    req->method_len = (size_t)(p - m);
    req->method = method_id(m, req->method_len);
    t = ++p;
    while (p < end && (unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f)
        p++;
    if (p == t || p == end || *p != ' ')
        return fail(req, 400, "malformed request line (target)");
    req->target = t;
    req->target_len = (size_t)(p - t);
    v = ++p;
    if (end - v != 8 || memcmp(v, "HTTP/", 5) != 0 ||
        v[5] < '0' || v[5] > '9' || v[6] != '.' || v[7] < '0' || v[7] > '9')
        return fail(req, 400, "malformed request line (version)");
    if (v[5] != '1' || (v[7] != '0' && v[7] != '1'))
        return fail(req, 505, "HTTP version not supported");
    req->minor = v[7] - '0';
    return 0;
}

/* Content-Length = 1*DIGIT, possibly as a list of equal values. */
static int
parse_length(const char *v, size_t n, int *seen, uint64_t *out,
             struct http_request *req)
{
    size_t i = 0;

    for (;;) {
        uint64_t x = 0;
        size_t digits = 0;

        while (i < n && IS_OWS(v[i]))
            i++;
        while (i < n && v[i] >= '0' && v[i] <= '9') {
            if (x > (UINT64_MAX - 9) / 10)
                return fail(req, 400, "Content-Length overflows");
            x = x * 10 + (uint64_t)(v[i] - '0');
            i++;
            digits++;
        }
        if (digits == 0)
            return fail(req, 400, "invalid Content-Length");
        if (*seen && x != *out)
            return fail(req, 400, "conflicting Content-Length");
        *seen = 1;
        *out = x;
        while (i < n && IS_OWS(v[i]))
            i++;
        if (i == n)
            return 0;
        if (v[i++] != ',')
            return fail(req, 400, "invalid Content-Length");
    }
}

struct framing {
    int te_seen;
    int chunked;            /* how many times chunked was named */
    int last_chunked;
    int unknown;            /* codings other than chunked */
    int cl_seen;
    int hosts;
    int close;
    int keep_alive;
};

/* A comma list of tokens, each perhaps with ";params"; calls back per item. */
static int
parse_codings(const char *v, size_t n, struct framing *f, struct http_request *req)
{
    size_t i = 0;

    f->te_seen = 1;
    while (i < n) {
        size_t s;

        while (i < n && (IS_OWS(v[i]) || v[i] == ','))
            i++;
        if (i == n)
            break;
        s = i;
        while (i < n && IS_TCHAR(v[i]))
            i++;
        if (i == s)
            return fail(req, 400, "invalid Transfer-Encoding");
        if (nd_http_token_eq(v + s, i - s, "chunked")) {
            f->chunked++;
            f->last_chunked = 1;
        } else {
            f->unknown++;
            f->last_chunked = 0;
        }
        while (i < n && IS_OWS(v[i]))
            i++;
        if (i < n && v[i] == ';') {
            if (f->last_chunked)
                return fail(req, 400, "parameters on chunked");
            while (i < n && v[i] != ',')
                i++;
        } else if (i < n && v[i] != ',') {
            return fail(req, 400, "invalid Transfer-Encoding");
        }
    }
    return 0;
}

static void
parse_connection(const char *v, size_t n, struct framing *f)
{
    size_t i = 0;

    while (i < n) {
        size_t s;

        while (i < n && (IS_OWS(v[i]) || v[i] == ','))
            i++;
        s = i;
        while (i < n && v[i] != ',' && !IS_OWS(v[i]))
            i++;
        if (nd_http_token_eq(v + s, i - s, "close"))
            f->close = 1;
        else if (nd_http_token_eq(v + s, i - s, "keep-alive"))
            f->keep_alive = 1;
    }
}

static int
parse_field(const char *p, const char *end, struct http_request *req,
            struct framing *f)
{
    const char *name = p, *colon, *v, *ve;
    struct http_header *h;
    int rc;

    if (IS_OWS(*p))
        return fail(req, 400, "obsolete line folding");
    while (p < end && IS_TCHAR(*p))
        p++;
    if (p == end || *p != ':') {
        if (p < end && IS_OWS(*p))
            return fail(req, 400, "whitespace before colon");
        return fail(req, 400, "invalid field name");
    }
    if (p == name)
        return fail(req, 400, "empty field name");
    colon = p;
    v = p + 1;
    while (v < end && IS_OWS(*v))
        v++;
    ve = end;
    while (ve > v && IS_OWS(ve[-1]))
        ve--;
    for (p = v; p < ve; p++)
        if (!IS_FIELD_CHAR(*p))
            return fail(req, 400, "invalid character in field value");

    h = &req->headers[req->nheaders++];
    h->name = name;
    h->name_len = (size_t)(colon - name);
    h->value = v;
    h->value_len = (size_t)(ve - v);

    switch (h->name_len) {
    case 4:
        if (nd_http_token_eq(name, 4, "host")) {
            if (++f->hosts > 1)
                return fail(req, 400, "more than one Host");
            req->host = v;
            req->host_len = h->value_len;
        }
        break;
    case 10:
        if (nd_http_token_eq(name, 10, "connection"))
            parse_connection(v, h->value_len, f);
        break;
    case 14:
        if (nd_http_token_eq(name, 14, "content-length")) {
            rc = parse_length(v, h->value_len, &f->cl_seen, &req->content_length, req);
            if (rc)
                return rc;
        }
        break;
    case 17:
        if (nd_http_token_eq(name, 17, "transfer-encoding")) {
            rc = parse_codings(v, h->value_len, f, req);
            if (rc)
                return rc;
        }
        break;
    }
    return 0;
}

int
nd_http_parse_request(const char *buf, size_t len, struct http_scan *scan,
                   const struct http_limits *lim, struct http_request *req,
                   struct http_header *headers)
{
    struct framing f = { 0 };
    const char *p, *end;
    int rc;

    memset(req, 0, sizeof(*req));
    rc = scan_head(buf, len, scan, lim, req);
    if (rc != 1)
        return rc;
    req->head_len = scan->pos;
    req->headers = headers;
    rc = parse_request_line(buf + scan->start, buf + scan->line_end - 2, req);
    if (rc)
        return rc;

    end = buf + scan->pos - 2;      /* the final empty line's CRLF */
    for (p = buf + scan->line_end; p < end; ) {
        const char *eol = memchr(p, '\r', (size_t)(end - p));

        if (req->nheaders == lim->max_headers)
            return fail(req, 431, "too many header fields");
        rc = parse_field(p, eol, req, &f);
        if (rc)
            return rc;
        p = eol + 2;
    }

    if (req->minor == 1 && f.hosts == 0)
        return fail(req, 400, "missing Host");
    if (req->host != NULL && !host_valid(req->host, req->host_len))
        return fail(req, 400, "invalid Host");
    if (f.te_seen) {
        if (req->minor == 0)
            return fail(req, 400, "Transfer-Encoding in an HTTP/1.0 request");
        if (f.cl_seen)
            return fail(req, 400, "both Content-Length and Transfer-Encoding");
        if (!f.last_chunked)
            return fail(req, 400, "final transfer coding is not chunked");
        if (f.chunked > 1)
            return fail(req, 400, "chunked applied more than once");
        if (f.unknown)
            return fail(req, 501, "unsupported transfer coding");
        req->body = HTTP_BODY_CHUNKED;
    } else if (f.cl_seen && req->content_length > 0) {
        req->body = HTTP_BODY_LENGTH;
    }
    req->keep_alive = req->minor == 1 ? !f.close : (f.keep_alive && !f.close);
    return 1;
}

/* ---- chunked ---- */

/* The states of nd_http_chunked_feed. Those of the size line come first (up to
 * CH_SIZE_LF), so that one comparison tells whether a byte belongs to it.
 * A size line is, per RFC 9112 7.1 and 7.1.1:
 *
 *   chunk-size [ chunk-ext ] CRLF
 *   chunk-ext      = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
 *   chunk-ext-name = token
 *   chunk-ext-val  = token / quoted-string
 *
 * BWS (spaces and tabs) is taken only where the grammar has it, so it must
 * be followed by ';' or '=' and never ends the line or splits the size. */
enum {
    CH_SIZE,            /* the first hex digit of a chunk-size */
    CH_SIZE_MORE,       /* more hex digits, or what ends the size */
    CH_EXT_WS,          /* BWS after the size or a value: only ';' may follow */
    CH_EXT_NAME0,       /* after ';': BWS, then the first tchar of a name */
    CH_EXT_NAME,        /* in a name */
    CH_EXT_NAME_WS,     /* BWS after a name: only ';' or '=' may follow */
    CH_EXT_VAL0,        /* after '=': BWS, then a token or a quoted-string */
    CH_EXT_TOKEN,       /* in a token value */
    CH_EXT_QUOTED,      /* in a quoted-string value */
    CH_EXT_QPAIR,       /* after a backslash in a quoted-string */
    CH_EXT_QEND,        /* after a quoted-string's closing quote */
    CH_SIZE_LF,         /* the LF of the size line's CRLF */
    CH_DATA, CH_DATA_CR, CH_DATA_LF,
    CH_TRAILER, CH_TRAILER_LINE, CH_TRAILER_LF, CH_END_LF,
    CH_DONE,
};

#define MAX_SIZE_LINE 4096     /* bytes, CRLF included */
#define MAX_TRAILER 16384

int
nd_http_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = lower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int
nd_http_chunked_feed(struct http_chunked *ch, const char *buf, size_t len,
                  size_t *used, const char **data, size_t *dlen)
{
    size_t i = 0;

    *data = NULL;
    *dlen = 0;
    while (i < len) {
        char c = buf[i];
        int h;

        /* Every byte of a size line counts against its bound, whatever
         * part of the line it is in. */
        if (ch->state == CH_SIZE)
            ch->line = 0;
        if (ch->state <= CH_SIZE_LF && ++ch->line > MAX_SIZE_LINE)
            goto bad;

        switch (ch->state) {
        case CH_SIZE:
            if ((h = nd_http_hexval((unsigned char)c)) < 0)
                goto bad;
            ch->size = (uint64_t)h;
            ch->state = CH_SIZE_MORE;
            break;
        case CH_SIZE_MORE:
            if ((h = nd_http_hexval((unsigned char)c)) >= 0) {
                if (ch->size >> 59)
                    goto bad;      /* over 2^63: no real body is that big */
                ch->size = ch->size * 16 + (uint64_t)h;
            } else if (c == ';') {
                ch->state = CH_EXT_NAME0;
            } else if (IS_OWS(c)) {
                ch->state = CH_EXT_WS;
            } else if (c == '\r') {
                ch->state = CH_SIZE_LF;
            } else {
                goto bad;
            }
            break;
        case CH_EXT_WS:
            /* "1 0" is not a size of 1 (or 16), and "5 " alone is not an
             * extension: after BWS here only an extension may start. */
            if (c == ';')
                ch->state = CH_EXT_NAME0;
            else if (!IS_OWS(c))
                goto bad;
            break;
        case CH_EXT_NAME0:
            if (IS_TCHAR(c))
                ch->state = CH_EXT_NAME;
            else if (!IS_OWS(c))
                goto bad;       /* an empty name: ";", ";;", ";=x" */
            break;
        case CH_EXT_NAME:
            if (IS_TCHAR(c))
                break;
            if (c == '=')
                ch->state = CH_EXT_VAL0;
            else if (c == ';')
                ch->state = CH_EXT_NAME0;
            else if (IS_OWS(c))
                ch->state = CH_EXT_NAME_WS;
            else if (c == '\r')
                ch->state = CH_SIZE_LF;
            else
                goto bad;
            break;
        case CH_EXT_NAME_WS:
            if (c == '=')
                ch->state = CH_EXT_VAL0;
            else if (c == ';')
                ch->state = CH_EXT_NAME0;
            else if (!IS_OWS(c))
                goto bad;       /* CR too: no whitespace before the CRLF */
            break;
        case CH_EXT_VAL0:
            if (c == '"')
                ch->state = CH_EXT_QUOTED;
            else if (IS_TCHAR(c))
                ch->state = CH_EXT_TOKEN;
            else if (!IS_OWS(c))
                goto bad;       /* an empty value: "a=", "a=;b" */
            break;
        case CH_EXT_QUOTED:
            /* qdtext is HTAB, SP, VCHAR but '"' and '\\', and obs-text:
             * field characters. A CR or LF here is an unbalanced quote. */
            if (c == '"')
                ch->state = CH_EXT_QEND;
            else if (c == '\\')
                ch->state = CH_EXT_QPAIR;
            else if (!IS_FIELD_CHAR(c))
                goto bad;
            break;
        case CH_EXT_QPAIR:
            /* quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text ) */
            if (!IS_FIELD_CHAR(c))
                goto bad;
            ch->state = CH_EXT_QUOTED;
            break;
        case CH_EXT_TOKEN:
            if (IS_TCHAR(c))
                break;
            /* After a value, token or quoted string, the same may follow. */
            __attribute__((fallthrough));
        case CH_EXT_QEND:
            if (c == ';')
                ch->state = CH_EXT_NAME0;
            else if (IS_OWS(c))
                ch->state = CH_EXT_WS;
            else if (c == '\r')
                ch->state = CH_SIZE_LF;
            else
                goto bad;       /* "a="x"y": a value is one token or string */
            break;
        case CH_SIZE_LF:
            if (c != '\n')
                goto bad;
            ch->state = ch->size ? CH_DATA : CH_TRAILER;
            break;
        case CH_DATA: {
            size_t n = len - i;

            if (n > ch->size)
                n = (size_t)ch->size;
            *data = buf + i;
            *dlen = n;
            ch->size -= n;
            if (ch->size == 0)
                ch->state = CH_DATA_CR;
            *used = i + n;
            return 0;
        }
        case CH_DATA_CR:
            if (c != '\r')
                goto bad;
            ch->state = CH_DATA_LF;
            break;
        case CH_DATA_LF:
            if (c != '\n')
                goto bad;
            ch->state = CH_SIZE;
            break;
        case CH_TRAILER:
            if (c == '\r') {
                ch->state = CH_END_LF;
            } else if (!IS_TCHAR(c)) {
                goto bad;
            } else {
                ch->state = CH_TRAILER_LINE;
            }
            if (++ch->trailer > MAX_TRAILER)
                goto bad;
            break;
        case CH_TRAILER_LINE:
            if (c == '\r')
                ch->state = CH_TRAILER_LF;
            else if (!IS_FIELD_CHAR(c) || ++ch->trailer > MAX_TRAILER)
                goto bad;
            break;
        case CH_TRAILER_LF:
            if (c != '\n')
                goto bad;
            ch->state = CH_TRAILER;
            break;
        case CH_END_LF:
            if (c != '\n')
                goto bad;
            ch->state = CH_DONE;
            *used = i + 1;
            return 1;
        default:
            *used = i;
            return 1;
        }
        i++;
    }
    *used = i;
    return 0;

bad:
    *used = i;      /* the bytes before the malformed one */
    return -1;
}
