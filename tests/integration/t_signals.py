"""Signals: graceful stop and reload; instances sharing an address."""
import hashlib
import json
import os
import shutil
import subprocess
import signal
import socket
import tempfile
import time

import nd
from nd import check


def test_sigterm_idle_exits_0_promptly():
    port = nd.free_port()
    d = nd.Daemon(nd.echo_config(port))
    t0 = time.monotonic()
    rc = d.stop()
    check(rc == 0, "exit %d" % rc)
    check(time.monotonic() - t0 < 2 * nd.SLOW, "slow exit")
    check("stopped" in d.log(), d.log())


def test_sigterm_flushes_queued_output():
    port = nd.free_port()
    d = nd.Daemon(nd.echo_config(port, glob="shutdown_timeout = 20s\n"))
    s = nd.connect(port)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    data = os.urandom(1 << 20) * 64
    s.setblocking(False)
    sent = 0
    stalled_since = None
    # Send without reading until the daemon stops reading us (backpressure).
    while sent < len(data):
        try:
            sent += s.send(data[sent:sent + 65536])
            stalled_since = None
        except BlockingIOError:
            stalled_since = stalled_since or time.monotonic()
            if time.monotonic() - stalled_since > 0.5:
                break
            time.sleep(0.01)
    check(sent < len(data), "never stalled")
    d.signal(signal.SIGTERM)
    d.wait_log("shutting down")
    s.setblocking(True)
    s.settimeout(30 * nd.SLOW)
    got = nd.recv_all(s)
    check(len(got) > 0 and got == data[:len(got)], "not an exact prefix (%d bytes)" % len(got))
    rc = d.proc.wait(30 * nd.SLOW)
    check(rc == 0, "exit %d" % rc)


def test_sigterm_shutdown_timeout_bounds_a_non_reader():
    port = nd.free_port()
    d = nd.Daemon(nd.echo_config(port, glob="shutdown_timeout = 1s\n"))
    s = nd.connect(port)
    s.setblocking(False)
    try:
        for _ in range(10000):
            s.send(b"x" * 65536)
    except BlockingIOError:
        pass
    t0 = time.monotonic()
    rc = d.stop()
    dt = time.monotonic() - t0
    check(rc == 0, "exit %d" % rc)
    check(0.9 <= dt < 3 * nd.SLOW, "exit after %.2fs, shutdown_timeout is 1s" % dt)
    check("shutdown_timeout reached" in d.log(), d.log())


def echoes(s, msg=b"hello"):
    s.sendall(msg)
    return nd.recv_exact(s, len(msg)) == msg


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return False
    except ConnectionRefusedError:
        return True


def test_sighup_adds_and_removes_listeners():
    a, b, c = nd.free_port(), nd.free_port(), nd.free_port()
    conf = "[echo]\nmodule = echo\nlisten = tcp://127.0.0.1:%d, tcp://127.0.0.1:%d\n"
    d = nd.Daemon(conf % (a, b))
    ca, cb = nd.connect(a), nd.connect(b)
    check(echoes(ca) and echoes(cb), "before reload")
    d.reload(conf % (a, c))
    cc = nd.connect(c)
    check(echoes(cc), "new listener")
    check(refused(b), "removed listener still accepts")
    check(echoes(ca, b"after") and echoes(cb, b"after"), "old connections stopped echoing")
    na = nd.connect(a)
    check(echoes(na), "kept listener")


def test_sighup_keeps_listener_socket():
    """An unchanged listener keeps its socket: connections queued during the
    reload are not refused."""
    a = nd.free_port()
    d = nd.Daemon(nd.echo_config(a))
    ino = os.stat("/proc/%d/fd/%s" % (d.pid, _fd_of_port(d.pid, a))).st_ino
    for i in range(5):
        d.reload(nd.echo_config(a, "idle_timeout = %ds\n" % (10 + i)))
    check(os.stat("/proc/%d/fd/%s" % (d.pid, _fd_of_port(d.pid, a))).st_ino == ino,
          "listener socket was replaced")


def _fd_of_port(pid, port):
    inodes = set()
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            p = line.split()
            if int(p[1].split(":")[1], 16) == port and p[3] == "0A":
                inodes.add(p[9])
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if link.startswith("socket:[") and link[8:-1] in inodes:
            return fd
    raise nd.Failure("no listening fd for port %d" % port)


def test_sighup_bad_config_keeps_old():
    a = nd.free_port()
    d = nd.Daemon(nd.echo_config(a))
    s = nd.connect(a)
    out = d.reload("[echo]\nmodule = echo\nlisten = tcp://127.0.0.1:%d\nbogus = 1\n" % a, ok=False)
    check("netdemo: err: %s:4: unknown key 'bogus'" % d.conf in out, out)
    check(echoes(s) and echoes(nd.connect(a)), "old config stopped serving")


def test_sighup_bind_failure_keeps_old():
    a = nd.free_port()
    hold = socket.socket()
    hold.bind(("127.0.0.1", 0))
    hold.listen(1)
    busy = hold.getsockname()[1]
    d = nd.Daemon(nd.echo_config(a))
    out = d.reload("[echo]\nmodule = echo\nlisten = tcp://127.0.0.1:%d, tcp://127.0.0.1:%d\n"
                   % (a, busy), ok=False)
    check("tcp://127.0.0.1:%d: Address already in use" % busy in out, out)
    check(echoes(nd.connect(a)), "old listener gone")
    hold.close()
    d.reload(nd.echo_config(a, "idle_timeout = 5s\n"))
    check(echoes(nd.connect(a)), "listener after a good reload")


TESTS = [test_sigterm_idle_exits_0_promptly, test_sigterm_flushes_queued_output,
         test_sigterm_shutdown_timeout_bounds_a_non_reader,
         test_sighup_adds_and_removes_listeners, test_sighup_keeps_listener_socket,
         test_sighup_bad_config_keeps_old, test_sighup_bind_failure_keeps_old]


def test_reuseport_instances_share_an_address():
    """Two processes on one address (reuseport = on, -s web:1 and web:2):
    the kernel spreads connections over both; killing one leaves the other
    serving."""
    port = nd.free_port()
    conf = "[web]\nmodule = http\nlisten = tcp://127.0.0.1:%d\nreuseport = on\n" % port
    a = nd.Daemon(conf, args=["-s", "web:1"])
    b = nd.Daemon(conf, args=["-s", "web:2"])
    for _ in range(200):
        s = nd.connect(port)
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        check(nd.recv_all(s).endswith(b"ok\n"), "health")
        s.close()

    # Which process answered, from /echo's pid, until both have been seen.
    seen = {}
    for _ in range(400):
        s = nd.connect(port)
        s.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        e = json.loads(nd.recv_all(s).split(b"\r\n\r\n", 1)[1])
        seen[e["pid"]] = seen.get(e["pid"], 0) + 1
        s.close()
    check(set(seen) == {a.pid, b.pid}, "connections reached %r, not both" % seen)
    check(min(seen.values()) >= 40, "uneven spread: %r" % seen)
    b.proc.kill()
    b.proc.wait()
    for _ in range(50):
        s = nd.connect(port)
        s.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        check(json.loads(nd.recv_all(s).split(b"\r\n\r\n", 1)[1])["pid"] == a.pid, "survivor")
    bad = subprocess.run([nd.BINARY, "-c", a.conf, "-s", "web:x", "-t"], capture_output=True)
    check(bad.returncode == 78, "-s web:x is not an instance")


def test_drain_fails_health():
    port = nd.free_port()
    conf = "[web]\nmodule = http\nlisten = tcp://127.0.0.1:%d\n" % port
    d = nd.Daemon(conf)
    s = nd.connect(port)
    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    check(s.recv(4096).endswith(b"ok\n"), "healthy")
    d.reload(conf + "drain = on\n")
    # New connections see the new setting; one accepted before the reload
    # keeps the settings it was accepted with.
    f = nd.connect(port)
    f.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    r = f.recv(4096)
    check(r.startswith(b"HTTP/1.1 503") and r.endswith(b"draining\n"), r)
    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    check(s.recv(4096).endswith(b"ok\n"), "old connection")
    n = nd.connect(port)
    n.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    check(b"Welcome" in nd.recv_all(n), "draining still serves other requests")


TESTS += [test_reuseport_instances_share_an_address, test_drain_fails_health]


def read_head(s):
    """Reads one response head; returns (status line and headers, Content-Length)."""
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        d = s.recv(1)
        check(d, "EOF inside a response head: %r" % head)
        head += d
    length = None
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return head, length


def test_sigterm_completes_answers_under_way():
    """A graceful stop finishes what it started: a file half sent, a drip
    and a delayed answer complete, a long poll is answered now, a WebSocket
    gets 1001, and an idle keep-alive connection is closed at once."""
    from t_ws import ws, close_code     # t_ws imports t_http, not us
    root = tempfile.mkdtemp(prefix="nd-it-stop-")
    try:
        body = os.urandom(24 << 20)
        with open(os.path.join(root, "big.bin"), "wb") as f:
            f.write(body)
        port = nd.free_port()
        d = nd.Daemon("[netdemo]\nshutdown_timeout = 30s\n[web]\nmodule = http\n"
                      "listen = tcp://127.0.0.1:%d\nroot = %s\n" % (port, root))
        base = d.fds()
        big = nd.connect(port, timeout=30 * nd.SLOW)
        big.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        big.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        head, length = read_head(big)
        check(head.startswith(b"HTTP/1.1 200") and length == len(body), head)
        first = nd.recv_exact(big, 4096)
        drip = nd.connect(port, timeout=30 * nd.SLOW)
        drip.sendall(b"GET /drip?bytes=8&duration=1500 HTTP/1.1\r\nHost: x\r\n\r\n")
        dhead, dlen = read_head(drip)
        check(dhead.startswith(b"HTTP/1.1 200"), dhead)
        delay = nd.connect(port, timeout=30 * nd.SLOW)
        delay.sendall(b"GET /delay/1500 HTTP/1.1\r\nHost: x\r\n\r\n")
        idle = nd.connect(port)
        idle.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        ihead, ilen = read_head(idle)
        nd.recv_exact(idle, ilen)
        poll = nd.connect(port, timeout=30 * nd.SLOW)
        poll.sendall(b"GET /chat/poll?room=stop&since=0&timeout=60000 HTTP/1.1\r\nHost: x\r\n\r\n")
        sock = ws(port, "/ws/echo")
        # Every connection accepted (six, and the file's fd): one still in
        # the backlog when the listener closes would be reset instead.
        nd.wait_until(lambda: d.fds() >= base + 7, 10, "six connections accepted")
        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        check(nd.expect_eof(idle, 5), "the idle keep-alive connection stays open")
        check(close_code(sock) == 1001, "WebSocket close code")
        phead, plen = read_head(poll)
        check(phead.startswith(b"HTTP/1.1 200") and b"Connection: close" in phead, phead)
        check(json.loads(nd.recv_exact(poll, plen)) == [], "the poll's answer")
        check(time.monotonic() - t0 < 5 * nd.SLOW, "the poll waited for its timeout")
        rest = nd.recv_all(big)
        check(len(first) + len(rest) == len(body), "file cut at %d of %d bytes"
              % (len(first) + len(rest), len(body)))
        check(hashlib.sha256(first + rest).digest() == hashlib.sha256(body).digest(),
              "file bytes differ")
        got = nd.recv_all(drip)
        check(len(got) == dlen == 8, "drip cut: %r of %r" % (got, dlen))
        dh, dl = read_head(delay)
        check(dh.startswith(b"HTTP/1.1 200") and b"Connection: close" in dh, dh)
        check(json.loads(nd.recv_exact(delay, dl)) == {"delay_ms": 1500}, "delay's answer")
        rc = d.proc.wait(30 * nd.SLOW)
        check(rc == 0, "exit %d" % rc)
        check("shutdown_timeout reached" not in d.log(), d.log())
    finally:
        shutil.rmtree(root, ignore_errors=True)


TESTS += [test_sigterm_completes_answers_under_way]
