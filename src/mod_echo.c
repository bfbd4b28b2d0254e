/* mod_echo.c: the echo protocol (RFC 862). Streams get every byte back in
 * order; datagrams go back to their sender. The core does the rest: writes
 * that the kernel refuses are queued, a peer that does not read stops being
 * read, and a peer's FIN ends the connection once all it sent is returned.
 * With access_log = on, a connection's end is a line: peer, bytes, time. */
#include <stdlib.h>

#include "nd/buf.h"
#include "nd/log.h"
#include "nd/module.h"

/* The peer is noted when the connection opens: a peer that reset it has
 * no address any more by the time it closes. */
static enum nd_verdict
echo_open(struct nd_conn *c)
{
    char *peer;

    if (!nd_service_access_log(nd_conn_service(c)))
        return ND_KEEP;
    peer = malloc(ND_PEER_TEXT);
    if (peer == NULL)
        return ND_ABORT;
    nd_conn_peer_text(c, peer, ND_PEER_TEXT);
    nd_conn_set_data(c, peer);
    return ND_KEEP;
}

static enum nd_verdict
echo_input(struct nd_conn *c, struct nd_buf *in)
{
    if (nd_conn_write(c, nd_buf_head(in), nd_buf_len(in)) < 0)
        return ND_ABORT;
    nd_buf_consume(in, nd_buf_len(in));
    return ND_KEEP;
}

static void
echo_close(struct nd_conn *c)
{
    struct nd_service *svc = nd_conn_service(c);
    struct nd_access_conn r = { .kind = "echo" };
    char *peer = nd_conn_data(c);

    if (peer == NULL)
        return;
    r.service = nd_service_name(svc);
    r.peer = peer;
    nd_conn_bytes(c, &r.in, &r.out);
    r.duration_us = nd_now_us() - nd_conn_started_us(c);
    nd_access_conn(&r);
    free(peer);
    nd_conn_set_data(c, NULL);
}

static void
echo_datagram(const struct nd_dgram *d)
{
    nd_dgram_reply(d, d->data, d->len);
}

const struct nd_module nd_mod_echo = {
    .name = "echo",
    .transports = ND_MOD_STREAM | ND_MOD_DGRAM,
    .open = echo_open,
    .input = echo_input,
    .close = echo_close,
    .datagram = echo_datagram,
};
