"""test_echo.py: the echo module with the clients people use (Python
socket, nc) on TCP over IPv4 and IPv6, UDP and unix sockets; large
transfers, half-close, and a thousand clients at once."""
import errno
import os
import selectors
import socket
import time

import harness as h
from harness import check, test


def start_echo(listen, **keys):
    d = h.Daemon()
    svc = {"listen": listen}
    svc.update(keys)
    d.write_config(h.config({"echo": svc}))
    d.start()
    return d


@test
def tutorial_client():
    # The client from the tutorial, word for word (plus a timeout).
    port = h.free_port()
    start_echo([h.tcp(port)])
    s = socket.create_connection(("127.0.0.1", port), timeout=h.scaled(5))
    s.sendall(b"message")
    got = s.recv(10)
    s.close()
    check(got == b"message", "recv(10) returned %r" % got)


@test
def nc_tcp():
    h.need_tool("nc")
    port = h.free_port()
    start_echo([h.tcp(port), h.tcp(port, "::1")])
    for host in ("127.0.0.1", "::1"):
        rc, out, err = h.run_tool("printf message | nc -q1 %s %d" % (host, port))
        check(rc == 0 and out == b"message",
              "nc %s: exit %d, printed %r (stderr %r)" % (host, rc, out, err))


@test
def nc_udp():
    h.need_tool("nc")
    port = h.free_port("udp")
    start_echo([h.udp(port)])
    rc, out, err = h.run_tool("printf x | nc -u -w1 127.0.0.1 %d" % port)
    check(out == b"x", "nc -u: exit %d, printed %r (stderr %r)" % (rc, out, err))


@test
def nc_unix():
    h.need_tool("nc")
    d = h.Daemon()
    path = d.path("echo.sock")
    d.write_config(h.config({"echo": {"listen": ["unix:" + path]}}))
    d.start()
    rc, out, err = h.run_tool("printf message | nc -q1 -U %s" % path)
    check(rc == 0 and out == b"message",
          "nc -U: exit %d, printed %r (stderr %r)" % (rc, out, err))


@test
def ipv6_4mib():
    # 4 MiB in while the echo comes out: send from a thread, or both sides
    # block on full buffers. Then our FIN: everything back, then EOF.
    port = h.free_port(host="::1")
    start_echo([h.tcp(port, "::1")])
    data = h.pattern(6, 4 << 20)
    s = h.connect(("::1", port), timeout=20)
    sender = h.Sender(s, data, shut=True)
    sender.start()
    got = h.recv_until_eof(s)
    sender.finish()
    s.close()
    check(len(got) == len(data), "got %d bytes back of %d" % (len(got), len(data)))
    check(h.sha(got) == h.sha(data), "the 4 MiB came back altered (sha256 differs)")


def udp_sizes(host):
    port = h.free_port("udp", host)
    start_echo([h.udp(port, host)])
    for size in (0, 1, 1000, 65507):
        payload = h.pattern(size, size)
        reply, sender = h.udp_roundtrip((host, port), payload)
        check(reply == payload, "%d-byte datagram came back as %d bytes%s"
              % (size, len(reply), "" if len(reply) != size else " (altered)"))
        check(sender[1] == port, "reply came from port %d, not %d" % (sender[1], port))


@test
def udp_sizes_v4():
    udp_sizes("127.0.0.1")


@test
def udp_sizes_v6():
    udp_sizes("::1")


@test
def udp_many_senders():
    # Each datagram goes back to its own sender.
    port = h.free_port("udp")
    start_echo([h.udp(port)])
    socks = []
    try:
        for i in range(20):
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.settimeout(h.scaled(2))
            socks.append(u)
            u.sendto(b"sender %d" % i, ("127.0.0.1", port))
        for i, u in enumerate(socks):
            got = u.recv(100)
            check(got == b"sender %d" % i, "sender %d got %r" % (i, got))
    finally:
        for u in socks:
            u.close()


@test
def unix_echo_half_close():
    d = h.Daemon()
    path = d.path("echo.sock")
    d.write_config(h.config({"echo": {"listen": ["unix:" + path]}}))
    d.start()
    s = h.connect(path)
    h.echo_ok(s, b"hello over a unix socket")
    # Bytes followed at once by our FIN: all of them come back, then EOF.
    tail = h.pattern(3, 200000)
    sender = h.Sender(s, tail, shut=True)
    sender.start()
    got = h.recv_until_eof(s)
    sender.finish()
    s.close()
    check(got == tail, "after half-close got %d bytes back of %d%s"
          % (len(got), len(tail), "" if len(got) != len(tail) else " (altered)"))


@test
def tcp_half_close():
    port = h.free_port()
    start_echo([h.tcp(port)])
    s = h.connect(("127.0.0.1", port))
    s.sendall(b"last words")
    s.shutdown(socket.SHUT_WR)
    got = h.recv_until_eof(s)
    s.close()
    check(got == b"last words", "after half-close got %r" % got)


@test
def half_close_with_queued_output():
    # 8 MiB and our FIN reach the daemon while we read nothing, so much of
    # the echo waits inside the daemon when it sees the FIN: all of it must
    # still come back before its EOF.
    port = h.free_port()
    start_echo([h.tcp(port)], buffer_size="16m")
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
    s.settimeout(h.scaled(10))
    s.connect(("127.0.0.1", port))
    data = h.pattern(8, 8 << 20)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    me, peer = s.getsockname(), s.getpeername()
    h.wait_until(lambda: h.tcp_queues(me, peer)[0] == 0 and h.tcp_queues(peer, me)[1] == 0,
                 10, "the daemon to read all 8 MiB")
    got = h.recv_until_eof(s)
    s.close()
    check(len(got) == len(data), "got %d bytes back of %d before EOF" % (len(got), len(data)))
    check(got == data, "the 8 MiB came back altered")


@test
def unix_socket_file():
    # A stale socket file (nobody listening) is replaced; the file goes away
    # when the daemon stops. An abstract name works too.
    d = h.Daemon()
    path = d.path("stale.sock")
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)
    stale.close()
    check(os.path.exists(path), "could not make a stale socket file")
    abstract = "nd-e2e-%d-%d" % (os.getpid(), time.monotonic_ns() % 1000000)
    d.write_config(h.config({"echo": {"listen": ["unix:" + path, "unix:@" + abstract]}}))
    d.start()
    for addr in (path, "\0" + abstract):
        s = h.connect(addr)
        h.echo_ok(s, b"unix %r" % addr)
        s.close()
    check(d.stop() == 0, "exit %s after SIGTERM" % d.rc)
    check(not os.path.exists(path), "socket file %s left behind after stop" % path)


class Client:
    """One of many: sends its own rounds, expects each echoed before the next,
    then half-closes and expects exactly everything back, then EOF."""

    def __init__(self, i, rounds):
        self.i = i
        self.rounds = [b"<%d/%d>" % (i, r) + h.pattern(i * 100 + r, 1 + (i * 37 + r * 11) % 3000)
                       for r in range(rounds)]
        self.r = 0
        self.out = self.rounds[0]
        self.want = len(self.out)
        self.got = bytearray()
        self.state = "connecting"
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.s.setblocking(False)


@test
def thousand_clients():
    n, rounds = 1000, 3
    port = h.free_port()
    d = start_echo([h.tcp(port)])
    base_fds = d.fd_count()
    sel = selectors.DefaultSelector()
    clients = [Client(i, rounds) for i in range(n)]
    try:
        for c in clients:
            rc = c.s.connect_ex(("127.0.0.1", port))
            check(rc in (0, errno.EINPROGRESS), "connect: %s" % os.strerror(rc))
            sel.register(c.s, selectors.EVENT_WRITE, c)
        live = n
        end = time.monotonic() + h.scaled(30)
        while live:
            check(time.monotonic() < end, "%d of %d clients not done after %.0fs"
                  % (live, n, h.scaled(30)))
            for key, _ in sel.select(1.0):
                c = key.data
                if c.state == "connecting":
                    err = c.s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    check(err == 0, "client %d: connect: %s" % (c.i, os.strerror(err)))
                    c.state = "sending"
                if c.state == "sending":
                    try:
                        k = c.s.send(c.out)
                    except BlockingIOError:
                        continue
                    c.out = c.out[k:]
                    if not c.out:
                        c.state = "reading"
                        sel.modify(c.s, selectors.EVENT_READ, c)
                    continue
                try:
                    data = c.s.recv(65536)
                except BlockingIOError:
                    continue
                if not data:
                    check(c.state == "eof", "client %d: EOF after %d bytes, in round %d"
                          % (c.i, len(c.got), c.r))
                    sel.unregister(c.s)
                    c.s.close()
                    c.state = "done"
                    live -= 1
                    continue
                c.got += data
                check(len(c.got) <= c.want, "client %d: %d bytes back, sent only %d"
                      % (c.i, len(c.got), c.want))
                if c.state == "reading" and len(c.got) == c.want:
                    c.r += 1
                    if c.r < rounds:
                        c.out = c.rounds[c.r]
                        c.want += len(c.out)
                        c.state = "sending"
                        sel.modify(c.s, selectors.EVENT_WRITE, c)
                    else:
                        c.s.shutdown(socket.SHUT_WR)
                        c.state = "eof"
        for c in clients:
            check(bytes(c.got) == b"".join(c.rounds),
                  "client %d got bytes that are not its own" % c.i)
    finally:
        sel.close()
        for c in clients:
            c.s.close()
    # Every connection is closed on the daemon's side too: no fd leaks.
    h.wait_until(lambda: d.fd_count() <= base_fds, 10,
                 "the daemon's open fds to fall back to %d" % base_fds)
