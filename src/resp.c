/* resp.c: the Redis protocol codec. Replies are parsed one line at a time
 * into the caller's node array, resuming where the last call stopped;
 * commands are written as arrays of bulk strings without printf. */
#include <errno.h>
#include <string.h>

#include "nd/buf.h"
#include "resp.h"

/* The longest line of a type that holds a number or nothing: a length, an
 * integer, a boolean, a null ("-9223372036854775808" is 20 bytes). */
#define NUM_LINE 32u

/* A length too big for any limit, for digits that would overflow. */
#define HUGE_LEN ((unsigned long long)-1)

void
nd_resp_init(struct nd_resp_parser *p, struct nd_resp_node *nodes, size_t cap)
{
    memset(p, 0, sizeof(*p));
    p->max_bulk = ND_RESP_MAX_BULK;
    p->max_line = ND_RESP_MAX_LINE;
    p->max_depth = ND_RESP_MAX_DEPTH;
    p->nodes = nodes;
    p->cap = nodes ? cap : 0;
    p->max_elems = nodes ? cap : ND_RESP_MAX_ELEMS;
}

void
nd_resp_reset(struct nd_resp_parser *p)
{
    p->n = 0;
    p->why = NULL;
    p->pos = p->scan = p->bulk = 0;
    p->in_bulk = p->ended = 0;
    p->depth = 0;
}

static int
bad(struct nd_resp_parser *p, const char *why)
{
    p->why = why;
    p->ended = 1;
    return ND_RESP_BAD;
}

static int
is_aggregate(enum nd_resp_type t)
{
    return t == ND_RESP_ARRAY || t == ND_RESP_MAP || t == ND_RESP_SET || t == ND_RESP_PUSH;
}

static int
is_string(enum nd_resp_type t)
{
    return t == ND_RESP_STRING || t == ND_RESP_ERROR || t == ND_RESP_BULK ||
           t == ND_RESP_DOUBLE || t == ND_RESP_BIGNUM;
}

/* Adds a node; returns 0, or -1 past max_elems. */
static int
add(struct nd_resp_parser *p, enum nd_resp_type t, size_t off, size_t len, long long num)
{
    struct nd_resp_node *n;

    if (p->n >= p->max_elems)
        return -1;
    if (p->nodes) {
        n = &p->nodes[p->n];
        n->type = t;
        n->len = len;
        n->str = NULL;
        n->num = num;
        n->off = off;
        n->next = p->n + 1;
    }
    p->n++;
    return 0;
}

/* A value is complete: close the aggregates it completes. Returns 1 when
 * that was the whole reply. */
static int
complete(struct nd_resp_parser *p)
{
    while (p->depth > 0) {
        if (--p->stack[p->depth - 1].left > 0)
            return 0;
        if (p->nodes)
            p->nodes[p->stack[p->depth - 1].node].next = p->n;
        p->depth--;
    }
    return 1;
}

/* Digits, or "-1" when null_ok (returned as -1 in *null). */
static int
parse_len(const char *s, size_t n, int null_ok, unsigned long long *v, int *null)
{
    unsigned long long x = 0;

    *null = 0;
    if (null_ok && n == 2 && s[0] == '-' && s[1] == '1') {
        *null = 1;
        return 0;
    }
    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        if (x > 100000000000000000ULL)
            x = HUGE_LEN;
        else
            x = x * 10 + (unsigned)(s[i] - '0');
    }
    *v = x;
    return 0;
}

/* A signed 64-bit decimal; -1 for anything else, overflow included. */
static int
parse_int(const char *s, size_t n, long long *v)
{
    unsigned long long x = 0, max = 9223372036854775807ULL;
    int neg = 0;
    size_t i = 0;

    if (n > 0 && s[0] == '-') {
        neg = 1;
        max++;
        i = 1;
    }
    if (i == n)
        return -1;
    for (; i < n; i++) {
        unsigned d;

        if (s[i] < '0' || s[i] > '9')
            return -1;
        d = (unsigned)(s[i] - '0');
        if (x > (max - d) / 10)
            return -1;
        x = x * 10 + d;
    }
    /* -2^63 has no positive twin: negate in unsigned arithmetic. */
    *v = neg ? (long long)(0 - x) : (long long)x;
    return 0;
}

static int
valid_bignum(const char *s, size_t n)
{
    size_t i = n > 0 && s[0] == '-';

    if (i == n)
        return 0;
    for (; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* Loosely: what strtod takes from Redis ("1.5", "-1e+300", "inf", "nan");
 * the caller converts it. */
static int
valid_double(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!strchr("0123456789+-.eEinfa", s[i]) || s[i] == '\0')
            return 0;
    return 1;
}

/* The header line at p->pos is whole: buf[p->pos] is its type, the line
 * runs to the CR at cr. Returns ND_RESP_MORE to go on (a value started or
 * ended inside the reply), DONE, or BAD. */
static int
line(struct nd_resp_parser *p, const char *buf, size_t cr)
{
    enum nd_resp_type t = (enum nd_resp_type)(unsigned char)buf[p->pos];
    const char *s = buf + p->pos + 1;
    size_t n = cr - p->pos - 1, off = p->pos + 1;
    unsigned long long v = 0;
    long long num;
    int null;

    p->pos = p->scan = cr + 2;
    switch ((int)t) {
    case '+':
    case '-':
        if (add(p, t, off, n, 0) < 0)
            return bad(p, "too many elements");
        break;
    case ':':
        if (parse_int(s, n, &num) < 0)
            return bad(p, "bad integer");
        if (add(p, t, off, n, num) < 0)
            return bad(p, "too many elements");
        break;
    case '(':
        if (!valid_bignum(s, n))
            return bad(p, "bad big number");
        if (add(p, t, off, n, 0) < 0)
            return bad(p, "too many elements");
        break;
    case ',':
        if (!valid_double(s, n))
            return bad(p, "bad double");
        if (add(p, t, off, n, 0) < 0)
            return bad(p, "too many elements");
        break;
    case '#':
        if (n != 1 || (s[0] != 't' && s[0] != 'f'))
            return bad(p, "bad boolean");
        if (add(p, t, off, 0, s[0] == 't') < 0)
            return bad(p, "too many elements");
        break;
    case '_':
        if (n != 0)
            return bad(p, "bad null");
        if (add(p, ND_RESP_NULL, off, 0, 0) < 0)
            return bad(p, "too many elements");
        break;
    case '$':
    case '!':
    case '=':
        if (parse_len(s, n, t == '$', &v, &null) < 0)
            return bad(p, "bad length");
        if (null) {
            if (add(p, ND_RESP_NULL, off, 0, 0) < 0)
                return bad(p, "too many elements");
            break;
        }
        if (v > p->max_bulk)
            return bad(p, "bulk string too long");
        if (t == '=' && v < 4)
            return bad(p, "verbatim string without its format");
        p->in_bulk = 1;
        p->bulk = (size_t)v;
        p->bulk_type = t;
        return ND_RESP_MORE;
    case '*':
    case '%':
    case '~':
    case '>':
        if (parse_len(s, n, t == '*', &v, &null) < 0)
            return bad(p, "bad length");
        if (null) {
            if (add(p, ND_RESP_NULL, off, 0, 0) < 0)
                return bad(p, "too many elements");
            break;
        }
        if (p->depth >= p->max_depth)
            return bad(p, "nesting too deep");
        /* Refused at once, not after waiting for the elements: the rest
         * of the reply could not fit in any case. */
        if (v > p->max_elems || (t == '%' && v > p->max_elems / 2) ||
            (t == '%' ? 2 * v : v) >= p->max_elems - p->n)
            return bad(p, "too many elements");
        if (t == '%')
            v *= 2;
        if (add(p, t, off, (size_t)v, 0) < 0)
            return bad(p, "too many elements");
        if (v == 0)
            break;
        p->stack[p->depth].node = p->n - 1;
        p->stack[p->depth].left = (size_t)v;
        p->depth++;
        return ND_RESP_MORE;
    default:
        return bad(p, "unknown type byte");
    }
    return complete(p) ? ND_RESP_DONE : ND_RESP_MORE;
}

static int
known_type(unsigned char c)
{
    return c && strchr("+-:$*_#,(%~>!=", c) != NULL;
}

int
nd_resp_parse(struct nd_resp_parser *p, const char *buf, size_t len, size_t *used)
{
    int rc;

    if (p->ended)
        nd_resp_reset(p);
    if (p->max_depth > ND_RESP_DEPTH_CAP)
        p->max_depth = ND_RESP_DEPTH_CAP;
    if (p->nodes && p->max_elems > p->cap)
        p->max_elems = p->cap;
    if (p->max_bulk > (size_t)-1 / 2)
        p->max_bulk = (size_t)-1 / 2;       /* so that bulk + 2 cannot wrap */
    if (len < p->pos)
        return bad(p, "the buffer lost bytes of the reply");
    for (;;) {
        if (p->in_bulk) {
            size_t end = p->pos + p->bulk;

            /* The payload is not looked at: only the CRLF after it. */
            if (len - p->pos < p->bulk + 2)
                return ND_RESP_MORE;
            p->scanned += 2;
            if (buf[end] != '\r' || buf[end + 1] != '\n')
                return bad(p, "bulk string not followed by CRLF");
            if (p->bulk_type == '=' && buf[p->pos + 3] != ':')
                return bad(p, "verbatim string without its format");
            if (add(p, p->bulk_type == '!' ? ND_RESP_ERROR : ND_RESP_BULK, p->pos, p->bulk,
                    0) < 0)
                return bad(p, "too many elements");
            p->in_bulk = 0;
            p->pos = p->scan = end + 2;
            rc = complete(p) ? ND_RESP_DONE : ND_RESP_MORE;
        } else {
            unsigned char t;
            size_t i, lim;

            if (p->pos >= len)
                return ND_RESP_MORE;
            t = (unsigned char)buf[p->pos];
            if (p->scan <= p->pos) {
                p->scanned++;
                if (!known_type(t))
                    return bad(p, "unknown type byte");
                p->scan = p->pos + 1;
            }
            lim = t == '+' || t == '-' || t == ',' || t == '(' ? p->max_line : NUM_LINE;
            for (i = p->scan; i < len; i++) {
                p->scanned++;
                if (buf[i] == '\r')
                    break;
                if (buf[i] == '\n')
                    return bad(p, "LF without CR");
                if (i - p->pos > lim)
                    return bad(p, "line too long");
            }
            /* Stop on the CR, so that the next call starts from it. */
            p->scan = i;
            if (i + 1 >= len)
                return ND_RESP_MORE;
            p->scanned++;
            if (buf[i + 1] != '\n')
                return bad(p, "CR without LF");
            rc = line(p, buf, i);
        }
        if (rc == ND_RESP_BAD)
            return rc;
        if (rc == ND_RESP_DONE)
            break;
    }
    for (size_t i = 0; p->nodes && i < p->n; i++)
        p->nodes[i].str = is_string(p->nodes[i].type) ? buf + p->nodes[i].off : NULL;
    *used = p->pos;
    p->ended = 1;
    return ND_RESP_DONE;
}

const struct nd_resp_node *
nd_resp_child(const struct nd_resp_node *nodes, size_t i, size_t k)
{
    size_t j = i + 1;

    if (!is_aggregate(nodes[i].type) || k >= nodes[i].len)
        return NULL;
    while (k-- > 0)
        j = nodes[j].next;
    return &nodes[j];
}

int
nd_resp_eq(const struct nd_resp_node *node, const char *s)
{
    size_t n = strlen(s);

    return (node->type == ND_RESP_STRING || node->type == ND_RESP_BULK) && node->len == n &&
           memcmp(node->str, s, n) == 0;
}

int
nd_resp_err_is(const struct nd_resp_node *node, const char *code)
{
    size_t n = strlen(code);

    return node->type == ND_RESP_ERROR && node->len >= n && memcmp(node->str, code, n) == 0 &&
           (node->len == n || node->str[n] == ' ');
}

static size_t
digits(size_t v)
{
    size_t n = 1;

    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

/* Writes c, v in decimal, CR LF; returns the byte after. */
static char *
put_head(char *o, char c, size_t v)
{
    size_t n = digits(v);

    *o++ = c;
    for (size_t i = n; i-- > 0; v /= 10)
        o[i] = (char)('0' + v % 10);
    o += n;
    *o++ = '\r';
    *o++ = '\n';
    return o;
}

int
nd_resp_cmd(struct nd_buf **out, int argc, const char *const argv[], const size_t lens[])
{
    size_t total, len, each;
    char *o;
    int rc;

    if (argc < 1)
        return -EINVAL;
    total = 1 + digits((size_t)argc) + 2;
    for (int i = 0; i < argc; i++) {
        len = lens ? lens[i] : strlen(argv[i]);
        if (len > (size_t)-1 / 2)
            return -ENOMEM;
        each = 1 + digits(len) + 2 + len + 2;
        if (total > (size_t)-1 / 2 - each)
            return -ENOMEM;
        total += each;
    }
    if ((rc = nd_buf_reserve(out, total)) < 0)
        return rc;
    o = (*out)->data + (*out)->end;
    o = put_head(o, '*', (size_t)argc);
    for (int i = 0; i < argc; i++) {
        len = lens ? lens[i] : strlen(argv[i]);
        o = put_head(o, '$', len);
        if (len)
            memcpy(o, argv[i], len);
        o += len;
        *o++ = '\r';
        *o++ = '\n';
    }
    (*out)->end += total;
    return 0;
}
