"""Limits: idle timeout, connection limits, running out of fds."""
import json
import os
import re
import shutil
import select
import socket
import tempfile
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
    # Closed once the timeout passed, not right away, nor long after; with
    # an EOF, not a reset.
    late = nd.connect(port)
    t0 = time.monotonic()
    late.settimeout(5 * nd.SLOW)
    try:
        data = late.recv(1)
    except OSError as e:
        data = e
    dt = time.monotonic() - t0
    check(data == b"", "the idle client got %r instead of EOF" % (data,))
    check(0.45 <= dt, "closed after %.2fs, before its idle_timeout" % dt)
    check(dt <= 0.5 + 1.5 * nd.SLOW, "closed only after %.2fs (idle_timeout 500ms)" % dt)


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
    for s in first[1:]:
        nd.echo_ok(s, b"still here")
    nd.echo_ok(extra, b"and again")
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


def test_daemon_limit_freed_by_another_service():
    # [netdemo] max_connections = 2 spans services: a slot freed on one
    # service lets a client of the other in.
    a, b = nd.free_port(), nd.free_port()
    nd.Daemon("[netdemo]\nmax_connections = 2\n[one]\nmodule = echo\nlisten = tcp://127.0.0.1:%d\n"
              "[two]\nmodule = echo\nlisten = tcp://127.0.0.1:%d\n" % (a, b))
    c1 = nd.connect(a)
    c2 = nd.connect(b)
    try:
        nd.echo_ok(c1, b"one")
        nd.echo_ok(c2, b"two")
        c3 = nd.connect(a)
        try:
            c3.sendall(b"waiting")
            check(nd.nothing_within(c3, 0.5), "a 3rd connection (daemon-wide max_connections "
                  "= 2) was served past the limit")
            c2.close()
            c3.settimeout(5 * nd.SLOW)
            got = nd.recv_exact(c3, len(b"waiting"))
            check(got == b"waiting", "the 3rd client got %r" % got)
            nd.echo_ok(c1, b"one again")
        finally:
            c3.close()
    finally:
        c1.close()
        c2.close()


def _readable(socks, quiet=0.2):
    """Indexes of the sockets with something to read, once no more become
    readable for `quiet` seconds."""
    seen = set()
    while True:
        r, _, _ = select.select([s for i, s in enumerate(socks) if i not in seen], [], [],
                                quiet)
        if not r:
            return sorted(seen)
        seen.update(socks.index(s) for s in r)


def test_fd_limit_serves_the_rest_as_fds_return():
    # With 40 fds the daemon runs out before the clients do: it pauses
    # accepting (no busy loop), and serves the rest as fds come back.
    port = nd.free_port()
    d = nd.Daemon(nd.echo_config(port), prefix=["prlimit", "--nofile=40"])
    clients = []
    try:
        for i in range(60):
            s = nd.connect(port)
            clients.append(s)
            s.sendall(b"client %d" % i)
        d.wait_log(r"accept paused", 5)
        served = _readable(clients)
        check(20 <= len(served) < 60, "%d of 60 clients served with 40 fds" % len(served))
        ticks0, t0 = d.cpu_ticks(), time.monotonic()
        time.sleep(1.0)     # measuring CPU use over a second while paused
        busy = (d.cpu_ticks() - ticks0) / os.sysconf("SC_CLK_TCK") / (time.monotonic() - t0)
        check(busy < 0.25, "the daemon used %.0f%% CPU while accepting was paused"
              % (busy * 100))
        for i in served:
            want = b"client %d" % i
            got = nd.recv_exact(clients[i], len(want))
            check(got == want, "client %d got %r" % (i, got))
            clients[i].close()
        for i, s in enumerate(clients):
            if i not in served:
                s.settimeout(5 * nd.SLOW)
                want = b"client %d" % i
                got = nd.recv_exact(s, len(want))
                check(got == want, "client %d got %r" % (i, got))
    finally:
        for s in clients:
            s.close()


TESTS += [test_daemon_limit_freed_by_another_service, test_fd_limit_serves_the_rest_as_fds_return]


# ---- defer_accept: TCP_DEFER_ACCEPT ----

def _two_http(deferred, plain, secs="2s"):
    return ("[netdemo]\nlog_level = info\n\n"
            "[deferred]\nmodule = http\nlisten = tcp://127.0.0.1:%d\n%s\n"
            "[plain]\nmodule = http\nlisten = tcp://127.0.0.1:%d\n"
            % (deferred, "defer_accept = %s\n" % secs if secs else "", plain))


def _current(port):
    """The service's connections open now, by its /stats (asked on a
    connection of its own, which counts itself)."""
    s = nd.connect(port)
    s.sendall(b"GET /stats HTTP/1.0\r\n\r\n")
    out = nd.recv_all(s)
    s.close()
    check(re.match(rb"HTTP/1\.[01] 200", out), "/stats: %r" % out[:200])
    return json.loads(out.partition(b"\r\n\r\n")[2])["connections"]["current"]


def _answered(s):
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    s.settimeout(5 * nd.SLOW)
    out = nd.recv_all(s)
    check(re.match(rb"HTTP/1\.[01] 200", out), "no answer: %r" % out[:200])


def test_defer_accept_holds_back_silent_clients():
    deferred, plain = nd.free_port(), nd.free_port()
    nd.Daemon(_two_http(deferred, plain))
    # Without the key a client that has not spoken is a connection at once.
    quiet = nd.connect(plain)
    nd.wait_until(lambda: _current(plain) == 2, 5 * nd.SLOW, "the silent client counted")
    # With it the kernel keeps it until it speaks. It connected before the
    # /stats client, so had the kernel handed it over, it would have been
    # accepted first.
    silent = nd.connect(deferred)
    check(_current(deferred) == 1, "a silent client is a connection of netdemo already")
    _answered(silent)
    check(_current(deferred) == 1, "the answered client is still counted")
    # One that stays silent past the deferral (2s: the kernel's second
    # SYN-ACK, at about 3s) is handed over with nothing to read, waits in
    # the loop like any other, and is answered once it speaks.
    late = nd.connect(deferred)
    t0 = time.monotonic()
    nd.wait_until(lambda: _current(deferred) == 2, 10 * nd.SLOW,
                  "the silent client accepted once the deferral ended")
    check(time.monotonic() - t0 >= 1.5, "accepted after %.2fs, before the deferral ended"
          % (time.monotonic() - t0))
    time.sleep(0.1)
    _answered(late)
    quiet.close()


def test_defer_accept_follows_a_reload():
    deferred, plain = nd.free_port(), nd.free_port()
    d = nd.Daemon(_two_http(deferred, plain, secs=None))
    a = nd.connect(deferred)
    nd.wait_until(lambda: _current(deferred) == 2, 5 * nd.SLOW, "the silent client counted")
    # Turned on for the kept listener.
    log = d.reload(_two_http(deferred, plain, secs="1500ms"))
    check("listening on" not in log, "the listener was replaced:\n%s" % log)
    b = nd.connect(deferred)
    check(_current(deferred) == 2, "a silent client counted after defer_accept was set")
    _answered(b)
    # And off again.
    d.reload(_two_http(deferred, plain, secs="0"))
    c = nd.connect(deferred)
    nd.wait_until(lambda: _current(deferred) == 3, 5 * nd.SLOW,
                  "the silent client counted once defer_accept is off")
    for s in (a, c):
        _answered(s)


def test_defer_accept_needs_a_tcp_listener():
    tmp = tempfile.mkdtemp(prefix="nd-it-")
    conf = os.path.join(tmp, "netdemo.ini")
    try:
        with open(conf, "w") as f:
            f.write("[u]\nmodule = echo\nlisten = unix:%s/e.sock, udp://127.0.0.1:7\n"
                    "defer_accept = 2s\n\n"
                    "[mixed]\nmodule = echo\nlisten = tcp://127.0.0.1:9, unix:%s/m.sock\n"
                    "defer_accept = 2s\n\n"
                    "[off]\nmodule = echo\nlisten = unix:%s/o.sock\ndefer_accept = 0\n"
                    % (tmp, tmp, tmp))
        rc, out, err = nd.run_cli(["-c", conf, "-t"])
        check(rc != 0, "-t accepted defer_accept without a tcp:// listener:\n%s%s"
              % (out, err))
        check(re.search(r"netdemo\.ini:4: defer_accept: \[u\] has no tcp:// listener", err),
              "no error at line 4:\n%s" % err)
        check("1 error" in err, "only [u] is wrong (a tcp:// listener beside a unix: one, "
              "or 0 without one, is fine):\n%s" % err)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


TESTS += [test_defer_accept_holds_back_silent_clients, test_defer_accept_follows_a_reload,
          test_defer_accept_needs_a_tcp_listener]
