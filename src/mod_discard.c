/* mod_discard.c: the discard service (RFC 863). A stream is read to its end
 * and every byte thrown away; a datagram is read and not answered. The core
 * counts the bytes in, and the peer's FIN ends the connection. */
#include "nd/buf.h"
#include "nd/module.h"

static enum nd_verdict
discard_input(struct nd_conn *c, struct nd_buf *in)
{
    (void)c;
    nd_buf_consume(in, nd_buf_len(in));
    return ND_KEEP;
}

static void
discard_datagram(const struct nd_dgram *d)
{
    (void)d;
}

const struct nd_module nd_mod_discard = {
    .name = "discard",
    .transports = ND_MOD_STREAM | ND_MOD_DGRAM,
    .input = discard_input,
    .datagram = discard_datagram,
};
