/* mod_time.c: the time service (RFC 868). A stream gets four bytes, the
 * seconds since 1900-01-01 00:00 UTC as a big-endian 32-bit number, then
 * the connection closes; a datagram is answered with the same four bytes.
 * The number wraps modulo 2^32, as the RFC's clients expect, in 2036. */
#include <stdint.h>
#include <time.h>

#include "nd/buf.h"
#include "nd/module.h"

/* Seconds from 1900-01-01 to 1970-01-01: 70 years, 17 of them leap. */
#define EPOCH_1900 2208988800u

static void
time_now(unsigned char b[4])
{
    uint32_t t = (uint32_t)((uint64_t)time(NULL) + EPOCH_1900);

    b[0] = (unsigned char)(t >> 24);
    b[1] = (unsigned char)(t >> 16);
    b[2] = (unsigned char)(t >> 8);
    b[3] = (unsigned char)t;
}

static enum nd_verdict
time_open(struct nd_conn *c)
{
    unsigned char b[4];

    time_now(b);
    return nd_conn_write(c, b, sizeof(b)) < 0 ? ND_ABORT : ND_FINISH;
}

/* Not called (the connection finishes in open), but the core reads with it. */
static enum nd_verdict
time_input(struct nd_conn *c, struct nd_buf *in)
{
    (void)c;
    nd_buf_consume(in, nd_buf_len(in));
    return ND_KEEP;
}

static void
time_datagram(const struct nd_dgram *d)
{
    unsigned char b[4];

    time_now(b);
    nd_dgram_reply(d, b, sizeof(b));
}

const struct nd_module nd_mod_time = {
    .name = "time",
    .transports = ND_MOD_STREAM | ND_MOD_DGRAM,
    .open = time_open,
    .input = time_input,
    .datagram = time_datagram,
};
