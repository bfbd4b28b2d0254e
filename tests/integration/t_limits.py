"""Limits: idle timeout, connection limits, running out of fds."""
import socket
import time

import nd
from nd import check


def test_idle_timeout():
    port = nd.free_port()
    nd.Daemon(nd.echo_config(port, "idle_timeout = 500ms\n"))
    silent = nd.connect(port)
    chatty = nd.connect(port)
    t0 = time.monotonic()
    # The chatty client keeps talking every 200 ms for 1.5 s and stays open.
    while time.monotonic() - t0 < 1.5:
        chatty.sendall(b"ping")
        check(nd.recv_exact(chatty, 4) == b"ping", "chatty client lost its echo")
        time.sleep(0.2)
    check(nd.expect_eof(silent, 0.1), "silent client still open after 1.5 s")
    chatty.sendall(b"still")
    check(nd.recv_exact(chatty, 5) == b"still", "chatty client was closed")
    # Closed once the timeout passed, not right away.
    late = nd.connect(port)
    t0 = time.monotonic()
    check(nd.expect_eof(late, 5), "idle client not closed")
    dt = time.monotonic() - t0
    check(0.4 <= dt, "closed after %.2fs, before its idle_timeout" % dt)


def limit_holds(port, n, d):
    first = [nd.connect(port) for _ in range(n)]
    for i, s in enumerate(first):
        s.sendall(b"%d" % i)
        check(s.recv(10) == b"%d" % i, "client %d not served" % i)
    extra = nd.connect(port)        # completes in the kernel's backlog
    extra.sendall(b"waiting")
    check(nd.nothing_within(extra, 0.5), "client over the limit was served")
    first[0].close()
    extra.settimeout(5 * nd.SLOW)
    check(nd.recv_exact(extra, 7) == b"waiting", "not served after a slot freed")
    for s in first[1:] + [extra]:
        s.close()


def test_service_max_connections():
    port = nd.free_port()
    d = nd.Daemon(nd.echo_config(port, "max_connections = 3\n"))
    limit_holds(port, 3, d)


def test_daemon_max_connections():
    p1, p2 = nd.free_port(), nd.free_port()
    d = nd.Daemon("[netdemo]\nmax_connections = 2\n[a]\nmodule = echo\nlisten = tcp://127.0.0.1:%d\n"
                  "[b]\nmodule = echo\nlisten = tcp://127.0.0.1:%d\n" % (p1, p2))
    a = nd.connect(p1)
    a.sendall(b"a")
    check(a.recv(1) == b"a", "a")
    limit_holds(p2, 1, d)


def test_fd_exhaustion_no_spin():
    port = nd.free_port()
    d = nd.Daemon(nd.echo_config(port), prefix=["prlimit", "--nofile=32"])
    clients = []
    for i in range(200):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        clients.append(s)
    d.wait_log(r"accept paused", 10)
    t0 = d.cpu_ticks()
    time.sleep(1.0)
    used = d.cpu_ticks() - t0
    check(used <= 10, "daemon used %d ticks in 1 s while out of fds: spinning" % used)
    check(d.log().count("accept paused") <= 3, "the pause is logged once per episode")
    for s in clients:
        s.close()
    # Served again once the clients are gone.
    s = nd.wait_until(lambda: _echo_ok(port), 10, "service after fd exhaustion")
    check(d.proc.poll() is None, "daemon died")


def _echo_ok(port):
    try:
        s = nd.connect(port, timeout=1)
        s.sendall(b"ok")
        return s.recv(2) == b"ok"
    except OSError:
        return False


TESTS = [test_idle_timeout, test_service_max_connections, test_daemon_max_connections,
         test_fd_exhaustion_no_spin]
