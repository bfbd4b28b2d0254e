/* test_listener.c: what a listener gives the sockets it accepts. */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "listener.h"
#include "nd/addr.h"

static int
nodelay(int fd)
{
    int v = 0;
    socklen_t len = sizeof(v);

    cr_assert_eq(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
    return v;
}

/* TCP_NODELAY is set once on the listener, not on every connection: the
 * kernel must hand it on to each accepted socket, or small answers would
 * wait for Nagle. */
Test(listener, accepted_tcp_sockets_have_nodelay)
{
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    struct sockaddr_in bound;
    socklen_t blen = sizeof(bound);
    struct nd_addr a;
    struct nd_listener *l;
    char err[256];
    int c, s;

    cr_assert_eq(nd_addr_from_sockaddr(&a, ND_TCP, (struct sockaddr *)&sin, sizeof(sin)), 0);
    l = nd_listener_open(&a, 0, err, sizeof(err));
    cr_assert_not_null(l, "%s", err);
    cr_assert_eq(l->nodelay_each, 0);
    cr_assert_eq(getsockname(l->w.fd, (struct sockaddr *)&bound, &blen), 0);
    c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(c, 0);
    cr_assert_eq(connect(c, (struct sockaddr *)&bound, blen), 0);
    {
        struct pollfd p = { .fd = l->w.fd, .events = POLLIN };

        cr_assert_eq(poll(&p, 1, 10000), 1);   /* a bound on a hang, not a measure */
    }
    s = accept4(l->w.fd, NULL, NULL, SOCK_CLOEXEC);
    cr_assert_geq(s, 0);
    cr_assert_eq(nodelay(s), 1);
    close(s);
    close(c);
    nd_listener_close(l);
}
