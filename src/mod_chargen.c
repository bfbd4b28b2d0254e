/* mod_chargen.c: the character generator (RFC 864). A stream gets the
 * classic lines of 72 printable characters, each starting one character
 * later than the last, for as long as it reads; what it sends is ignored.
 * Output goes in slices, the next one once the last is out, so a reader
 * that stops costs one slice at most. A datagram is
 * answered with 0 to 512 characters of the same pattern. */
#include <stdint.h>

#include "nd/buf.h"
#include "nd/module.h"

#define LINE 72                         /* characters before the CRLF */
#define NCHARS 95                       /* the printable ones, ' ' to '~' */
#define PERIOD (NCHARS * (LINE + 2))    /* bytes before the lines repeat */
#define DGRAM_MAX 512

/* Two periods of lines: one slice, and from the start of any line a
 * contiguous DGRAM_MAX bytes. */
static char pattern[2 * PERIOD];

static void
fill(void)
{
    size_t k, i;

    if (pattern[0] != 0)
        return;
    for (k = 0; k < 2 * NCHARS; k++) {
        char *line = pattern + k * (LINE + 2);

        for (i = 0; i < LINE; i++)
            line[i] = (char)(' ' + (k + i) % NCHARS);
        line[LINE] = '\r';
        line[LINE + 1] = '\n';
    }
}

/* A slice is whole periods, so each one starts again at the first line
 * and the stream stays in order. One slice per drained(), which comes
 * once the last is out: a reader that stops holds one slice at most, and
 * the core's drain budget keeps a fast one from starving the others. */
static enum nd_verdict
chargen_drained(struct nd_conn *c)
{
    if (nd_conn_write(c, pattern, sizeof(pattern)) < 0)
        return ND_ABORT;
    nd_conn_want_drain(c);
    return ND_KEEP;
}

static enum nd_verdict
chargen_open(struct nd_conn *c)
{
    fill();
    return chargen_drained(c);
}

static enum nd_verdict
chargen_input(struct nd_conn *c, struct nd_buf *in)
{
    (void)c;
    nd_buf_consume(in, nd_buf_len(in));
    return ND_KEEP;
}

/* As inetd: a peer that half-closes still gets characters until it goes. */
static enum nd_verdict
chargen_eof(struct nd_conn *c)
{
    (void)c;
    return ND_KEEP;
}

/* The n-th datagram is answered from line n mod 95, with a length that
 * rotates through every value from 512 down to 0 once per 513 datagrams. */
static void
chargen_datagram(const struct nd_dgram *d)
{
    struct nd_counters ctr;
    uint64_t n;

    fill();
    nd_service_counters(d->svc, &ctr);
    n = ctr.dgrams_in - 1;
    nd_dgram_reply(d, pattern + (n % NCHARS) * (LINE + 2),
                   DGRAM_MAX - (size_t)(n * 149 % (DGRAM_MAX + 1)));
}

const struct nd_module nd_mod_chargen = {
    .name = "chargen",
    .transports = ND_MOD_STREAM | ND_MOD_DGRAM,
    .open = chargen_open,
    .input = chargen_input,
    .drained = chargen_drained,
    .eof = chargen_eof,
    .datagram = chargen_datagram,
};
