/* resp.h: the Redis protocol (RESP2, and RESP3's common types) as a pure
 * codec: an incremental parser of replies into a small tree that points
 * into the input, and a builder of commands. No fds; the parser never
 * allocates (the caller lends it the node array). */
#ifndef ND_RESP_H
#define ND_RESP_H

#include <stddef.h>

struct nd_buf;

/* A node's type is the byte that introduces it on the wire. Every null
 * (RESP2's $-1 and *-1, RESP3's _) is ND_RESP_NULL; a RESP3 blob error (!)
 * is an ND_RESP_ERROR like a simple one, a verbatim string (=) a
 * ND_RESP_BULK whose first four bytes are its format ("txt:"). */
enum nd_resp_type {
    ND_RESP_STRING = '+',       /* simple string: str, len */
    ND_RESP_ERROR = '-',        /* "CODE message": str, len; see nd_resp_err_is */
    ND_RESP_INTEGER = ':',      /* num */
    ND_RESP_BULK = '$',         /* binary-safe string: str, len */
    ND_RESP_ARRAY = '*',        /* len children */
    ND_RESP_NULL = '_',
    ND_RESP_BOOL = '#',         /* num: 0 or 1 */
    ND_RESP_DOUBLE = ',',       /* str, len as sent ("1.5", "inf", "-inf", "nan") */
    ND_RESP_BIGNUM = '(',       /* str, len: an optional '-' and digits */
    ND_RESP_MAP = '%',          /* len children: key, value, key, value... */
    ND_RESP_SET = '~',          /* len children */
    ND_RESP_PUSH = '>',         /* len children (RESP3 pub/sub) */
};

/* One value of a reply. The nodes of a reply are in pre-order: node 0 is
 * the reply, an aggregate's first child follows it, and `next` is the
 * index just past a node's subtree (its next sibling, if it has one), so
 * that nodes[0].next is the number of nodes. Strings are not copied: str
 * points into the buffer the reply was parsed from and holds no NUL; it is
 * valid until those bytes are consumed or moved. */
struct nd_resp_node {
    enum nd_resp_type type;
    size_t len;                 /* string bytes, or an aggregate's children */
    const char *str;            /* strings; NULL for the others */
    long long num;              /* ND_RESP_INTEGER and ND_RESP_BOOL */
    size_t off;                 /* str's offset from the reply's first byte */
    size_t next;
};

/* The limits a peer cannot go past, and their defaults. */
#define ND_RESP_MAX_BULK (64u << 20)    /* bytes of a bulk string */
#define ND_RESP_MAX_LINE 65536u         /* bytes of a simple string or error line */
#define ND_RESP_MAX_DEPTH 8u            /* aggregates inside one another */
#define ND_RESP_DEPTH_CAP 32u           /* the most max_depth may be set to */
#define ND_RESP_MAX_ELEMS (1u << 20)    /* nodes of a reply when nodes is NULL */

/* The parser's progress through one reply, kept between calls. */
struct nd_resp_parser {
    /* Limits: nd_resp_init sets the defaults; change them before a reply. */
    size_t max_bulk;
    size_t max_line;
    unsigned max_depth;         /* at most ND_RESP_DEPTH_CAP */
    size_t max_elems;           /* nodes per reply; at most cap with nodes */

    struct nd_resp_node *nodes; /* lent by the caller, or NULL */
    size_t cap;
    size_t n;                   /* nodes so far (counted even without nodes) */

    const char *why;            /* after ND_RESP_BAD: what was wrong */
    size_t scanned;             /* bytes looked at since init (tests count them) */

    /* Private. */
    size_t pos;                 /* next value's first byte, or a bulk's payload */
    size_t scan;                /* where the search for the line's CR goes on */
    size_t bulk;                /* payload bytes awaited (with in_bulk) */
    int in_bulk;
    int ended;                  /* the last call said DONE or BAD */
    enum nd_resp_type bulk_type;
    unsigned depth;
    struct {
        size_t node;            /* the aggregate's index */
        size_t left;            /* children still to come */
    } stack[ND_RESP_DEPTH_CAP];
};

/* What nd_resp_parse says. */
#define ND_RESP_MORE 0          /* the reply is not complete yet */
#define ND_RESP_DONE 1          /* one whole reply */
#define ND_RESP_BAD (-1)        /* a protocol error: p->why says which */

/* Readies p, with the default limits, to fill nodes[0..cap). With nodes
 * NULL (cap 0) replies are checked and measured but no tree is kept. */
void nd_resp_init(struct nd_resp_parser *p, struct nd_resp_node *nodes, size_t cap);

/* Parses the reply at buf[0..len), which may be incomplete. Returns
 * ND_RESP_MORE when it is: call again once more bytes have arrived, with
 * buf starting at the same reply (the buffer may have moved) and holding
 * the same bytes and more. Each byte is looked at once across calls, and a
 * bulk payload not at all until it is whole, so feeding a reply in small
 * pieces stays linear. Returns ND_RESP_DONE with *used set to the reply's
 * length (bytes after it are the next reply's) and the tree in
 * p->nodes[0..p->n); or ND_RESP_BAD, with p->why set, for bytes that are not
 * RESP or go past a limit (the connection cannot be trusted after that).
 * The call after DONE or BAD starts a new reply. */
int nd_resp_parse(struct nd_resp_parser *p, const char *buf, size_t len, size_t *used);

/* Forgets a reply under way (for a buffer that was thrown away). */
void nd_resp_reset(struct nd_resp_parser *p);

/* Child k of aggregate nodes[i], or NULL when nodes[i] has no such child. */
const struct nd_resp_node *nd_resp_child(const struct nd_resp_node *nodes, size_t i, size_t k);

/* Whether node is a string (simple, bulk or verbatim) equal to s. */
int nd_resp_eq(const struct nd_resp_node *node, const char *s);

/* Whether node is an error whose code (its first word) is code, as in
 * nd_resp_err_is(node, "NOSCRIPT"). */
int nd_resp_err_is(const struct nd_resp_node *node, const char *code);

/* Appends a command, argc >= 1 arguments as an array of bulk strings
 * (`*N\r\n$LEN\r\nARG\r\n...`), to *out (which may be NULL). lens[i] is
 * argv[i]'s length; with lens NULL each argv[i] is a C string. Returns 0,
 * -EINVAL for argc < 1, or -ENOMEM, in which case *out is unchanged. */
int nd_resp_cmd(struct nd_buf **out, int argc, const char *const argv[], const size_t lens[]);

#endif
