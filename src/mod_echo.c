/* mod_echo.c: the echo protocol (RFC 862). Streams get every byte back in
 * order; datagrams go back to their sender. The core does the rest: writes
 * that the kernel refuses are queued, a peer that does not read stops being
 * read, and a peer's FIN ends the connection once all it sent is returned. */
#include "nd/buf.h"
#include "nd/module.h"

static enum nd_verdict
echo_input(struct nd_conn *c, struct nd_buf *in)
{
    if (nd_conn_write(c, nd_buf_head(in), nd_buf_len(in)) < 0)
        return ND_ABORT;
    nd_buf_consume(in, nd_buf_len(in));
    return ND_KEEP;
}

static void
echo_datagram(const struct nd_dgram *d)
{
    nd_dgram_reply(d, d->data, d->len);
}

const struct nd_module nd_mod_echo = {
    .name = "echo",
    .transports = ND_MOD_STREAM | ND_MOD_DGRAM,
    .input = echo_input,
    .datagram = echo_datagram,
};
