/* core_conn.c: the connection write path, made deterministic with a
 * socketpair whose buffers are tiny, so send() returns short counts and
 * EAGAIN. The echo module runs on one end; the test is the peer. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nd/buf.h"
#include "nd/conn.h"
#include "nd/loop.h"
#include "nd/module.h"
#include "service.h"

static struct nd_loop loop;
static struct nd_conn_set conns;
static struct nd_service *svc;
static int peer;
static struct nd_conn *conn;

static void
setup(void)
{
    int sv[2], small = 4096;

    cr_assert_eq(nd_loop_init(&loop), 0);
    memset(&conns, 0, sizeof(conns));
    svc = nd_service_new("echo", nd_module_find("echo"), NULL, NULL, &loop);
    svc->hwm = 64 * 1024;
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    for (int i = 0; i < 2; i++) {
        setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
        setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    }
    cr_assert_eq(nd_conn_open(&loop, &conns, svc, sv[0]), 0);
    conn = conns.head;
    peer = sv[1];
}

static void
teardown(void)
{
    if (conns.head)
        nd_conn_close(conns.head);
    nd_loop_once(&loop, 0);     /* runs the deferred free */
    nd_service_unref(svc);
    close(peer);
    nd_loop_fini(&loop);
    nd_buf_pool_drain();
}

static unsigned char
pattern(size_t i)
{
    return (unsigned char)((i * 2654435761u) >> 13);
}

/* Writes what the peer can take, reads what arrived, turns the loop. */
static void
pump(const unsigned char *out, size_t n, size_t *sent, unsigned char *in, size_t *got,
     int read_too)
{
    ssize_t k;

    if (*sent < n && (k = write(peer, out + *sent, n - *sent)) > 0)
        *sent += (size_t)k;
    if (read_too && (k = read(peer, in + *got, 1 << 16)) > 0)
        *got += (size_t)k;
    nd_loop_once(&loop, 10);
}

Test(core_conn, large_echo_through_partial_writes, .init = setup, .fini = teardown)
{
    size_t n = 1 << 20, sent = 0, got = 0, i, rounds = 0;
    unsigned char *out = malloc(n), *in = malloc(n + (1 << 16));

    for (i = 0; i < n; i++)
        out[i] = pattern(i);
    while (got < n && rounds++ < 200000)
        pump(out, n, &sent, in, &got, 1);
    cr_assert_eq(got, n, "got %zu of %zu", got, n);
    cr_assert(memcmp(in, out, n) == 0, "bytes differ or are reordered");
    free(out);
    free(in);
}

Test(core_conn, backpressure_bounds_queued_output, .init = setup, .fini = teardown)
{
    size_t n = 4 << 20, sent = 0, got = 0, i, rounds, peak = 0;
    unsigned char *out = malloc(n), *in = malloc(n + (1 << 16));

    for (i = 0; i < n; i++)
        out[i] = pattern(i);
    /* The test does not read: the daemon side must stop reading us. */
    for (rounds = 0; rounds < 2000; rounds++) {
        pump(out, n, &sent, in, &got, 0);
        if (nd_conn_pending(conn) > peak)
            peak = nd_conn_pending(conn);
    }
    cr_assert(sent < n, "all 4 MiB accepted without reading: no backpressure");
    cr_assert(conn->read_paused, "reading was not paused");
    cr_assert_leq(peak, svc->hwm + ND_BUF_CHUNK, "queued %zu bytes", peak);
    /* Reading resumes the flow, and nothing is lost or reordered. */
    for (rounds = 0; got < n && rounds < 400000; rounds++)
        pump(out, n, &sent, in, &got, 1);
    cr_assert_eq(got, n);
    cr_assert(memcmp(in, out, n) == 0);
    free(out);
    free(in);
}

Test(core_conn, half_close_flushes_then_closes, .init = setup, .fini = teardown)
{
    size_t n = 200000, sent = 0, got = 0, i, rounds;
    unsigned char *out = malloc(n), *in = malloc(n + (1 << 16));
    ssize_t k;

    for (i = 0; i < n; i++)
        out[i] = pattern(i);
    for (rounds = 0; sent < n && rounds < 100000; rounds++)
        pump(out, n, &sent, in, &got, 1);
    cr_assert_eq(sent, n);
    cr_assert_eq(shutdown(peer, SHUT_WR), 0);
    for (rounds = 0; rounds < 100000; rounds++) {
        k = read(peer, in + got, 1 << 16);
        if (k == 0)
            break;  /* the daemon side closed after sending everything */
        if (k > 0)
            got += (size_t)k;
        nd_loop_once(&loop, 10);
    }
    cr_assert_eq(k, 0, "no EOF");
    cr_assert_eq(got, n);
    cr_assert(memcmp(in, out, n) == 0);
    cr_assert_null(conns.head, "connection not closed");
    cr_assert_eq(conns.n, 0);
    free(out);
    free(in);
}
