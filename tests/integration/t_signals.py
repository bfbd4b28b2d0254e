"""Signals: graceful stop and reload; instances sharing an address."""
import hashlib
import json
import os
import re
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
    sent = 0
    try:
        for _ in range(10000):
            sent += s.send(b"x" * 65536)
    except BlockingIOError:
        pass
    check(sent > 256 * 1024, "could only send %d bytes" % sent)
    t0 = time.monotonic()
    rc = d.stop()
    dt = time.monotonic() - t0
    check(rc == 0, "exit %d" % rc)
    check(0.9 <= dt <= 1 + 1 * nd.SLOW, "exit after %.2fs, shutdown_timeout is 1s" % dt)
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
    out = d.reload(conf % (a, c))
    check(re.search(r"^netdemo: notice: reloaded %s$" % re.escape(d.conf), out, re.M),
          "no `netdemo: notice: reloaded FILE` line:\n%s" % out)
    check("reload failed" not in out, "reload failed:\n%s" % out)
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
    check("%s:3: [echo] listen tcp://127.0.0.1:%d: cannot bind: Address already in use"
          % (d.conf, busy) in out, out)
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


def _echo_daemon(extra="", glob=""):
    port = nd.free_port()
    return nd.Daemon(nd.echo_config(port, extra, glob=glob)), port


def test_sigterm_idle_client_gets_eof_at_once():
    # An open connection with nothing owed gets EOF at once; when it closes,
    # the daemon exits 0.
    d, port = _echo_daemon(glob="shutdown_timeout = 10s\n")
    s = nd.connect(port)
    nd.echo_ok(s, b"idle soon")
    t0 = time.monotonic()
    d.signal(signal.SIGTERM)
    got = nd.recv_all(s)
    check(got == b"", "got %r instead of EOF" % got)
    s.close()
    rc = d.wait_exit(5)
    took = time.monotonic() - t0
    check(rc == 0, "exit %d after SIGTERM" % rc)
    check(took < 1.5 * nd.SLOW, "SIGTERM with an idle client took %.1fs" % took)


def test_sigint_idle_exits_0():
    d, port = _echo_daemon(glob="shutdown_timeout = 10s\n")
    d.signal(signal.SIGINT)
    try:
        rc = d.proc.wait(5 * nd.SLOW)
    except subprocess.TimeoutExpired:
        raise nd.Failure("still running 5s after SIGINT")
    check(rc == 0, "exit %d after SIGINT" % rc)


def _settled_queues(s):
    """The four kernel queues of client socket s and the daemon's end of it,
    from /proc/net/tcp, once they stop changing: (client tx, client rx,
    daemon tx, daemon rx)."""
    me, peer = s.getsockname(), s.getpeername()
    last = [None]

    def settled():
        q = nd.tcp_queues(me, peer) + nd.tcp_queues(peer, me)
        same = q == last[0]
        last[0] = q
        return q if same else None
    return nd.wait_until(settled, 5, "the socket queues to settle", step=0.05)


def _drain_after_sigterm(buffer_size, total, min_queued):
    """A client with a small receive buffer sends up to `total` bytes and
    reads nothing, so echoed bytes wait in the daemon's own output queue, not
    only in the kernel. After SIGTERM the listener is closed, and the client
    that now reads gets exactly the bytes the daemon had read, in order, then
    EOF; then the daemon exits 0."""
    d, port = _echo_daemon("buffer_size = %s\n" % buffer_size, glob="shutdown_timeout = 10s\n")
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
    s.settimeout(10 * nd.SLOW)
    s.connect(("127.0.0.1", port))
    sent = nd.fill_unread(s, total, stall=0.3)
    ctx, crx, dtx, drx = _settled_queues(s)
    # What the daemon read, and what of its echo is not in a kernel queue.
    owed = len(sent) - ctx - drx
    queued = owed - dtx - crx
    check(queued >= min_queued, "setup: only %d bytes of echo wait inside the daemon "
          "(sent %d, daemon read %d)" % (queued, len(sent), owed))
    mark = len(d.log())
    t0 = time.monotonic()
    d.signal(signal.SIGTERM)
    d.wait_log(r"SIGTERM: shutting down", 5, after=mark)
    # Logged once the listeners are closed (the line above comes before).
    d.wait_log(r"waiting up to \d+ ms for \d+ connection", 5, after=mark)
    check(nd.refuses(port), "the listener still accepts after SIGTERM")
    got = nd.recv_all(s)
    s.close()
    check(got == sent[:len(got)], "the %d bytes back are not a prefix of those sent" % len(got))
    check(len(got) == owed, "got %d bytes back before EOF; the daemon had read %d "
          "(%d of them queued inside it)" % (len(got), owed, queued))
    rc = d.wait_exit(5)
    check(rc == 0, "exit %d after draining" % rc)
    check(time.monotonic() - t0 < 5 * nd.SLOW, "draining took %.1fs" % (time.monotonic() - t0))


def test_sigterm_drains_exactly_what_was_read():
    # Default buffer_size: the daemon stops reading at 64k queued.
    _drain_after_sigterm("64k", 16 * 1024 * 1024, 32 * 1024)


def test_sigterm_drains_a_large_queue():
    # buffer_size 16m: megabytes of echo wait in the daemon.
    _drain_after_sigterm("16m", 12 * 1024 * 1024, 1024 * 1024)


def test_second_sigterm_is_immediate():
    d, port = _echo_daemon(glob="shutdown_timeout = 30s\n")
    s = nd.connect(port)
    try:
        nd.fill_unread(s, 8 * 1024 * 1024, stall=0.3)
        mark = len(d.log())
        d.signal(signal.SIGTERM)
        d.wait_log(r"waiting up to", 5, after=mark)
        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        rc = d.wait_exit(5)
    finally:
        s.close()
    check(rc == 0, "exit %d after a second SIGTERM" % rc)
    check(time.monotonic() - t0 < 2 * nd.SLOW, "a second SIGTERM took %.1fs"
          % (time.monotonic() - t0))


def _listen(*items):
    return "[echo]\nmodule = echo\nlisten = %s\n" % ", ".join(items)


def _tcp(port):
    return "tcp://127.0.0.1:%d" % port


def test_sighup_bad_config_changes_nothing():
    # Every error reported; no listener of the rejected file opened; the old
    # ones and their connections serve; a fixed file is taken afterwards.
    a, b, c = nd.free_port(), nd.free_port(), nd.free_port()
    d = nd.Daemon(_listen(_tcp(a), _tcp(b)))
    before = nd.connect(a)
    nd.echo_ok(before, b"before")
    bad = _listen(_tcp(a), _tcp(c)) + "idle_timeout = forever\nbuffer_size = 12\n"
    log = d.reload(bad, ok=False)
    for n in (4, 5):
        check(re.search(r"^netdemo: err: %s:%d: " % (re.escape(d.conf), n), log, re.M),
              "no `netdemo: err: FILE:%d: ...` line in the log:\n%s" % (n, log))
    check(nd.refuses(c), "a listener of the rejected file was opened")
    nd.echo_ok(before, b"after a failed reload")
    for port in (a, b):
        s = nd.connect(port)
        nd.echo_ok(s, b"old listener %d" % port)
        s.close()
    before.close()
    d.reload(_listen(_tcp(a), _tcp(c)))
    s = nd.connect(c)
    nd.echo_ok(s, b"fixed")
    s.close()


def test_sighup_bind_failure_keeps_every_old_listener():
    a, b = nd.free_port(), nd.free_port()
    d = nd.Daemon(_listen(_tcp(a), _tcp(b)))
    before = nd.connect(b)
    nd.echo_ok(before, b"before")
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    c = holder.getsockname()[1]
    try:
        log = d.reload(_listen(_tcp(a), _tcp(c)), ok=False)
        want = ("%s:3: [echo] listen tcp://127.0.0.1:%d: cannot bind: Address already in use"
                % (d.conf, c))
        check(want in log, "the log does not say %r:\n%s" % (want, log))
        # The old configuration serves: B was not closed, A still works.
        nd.echo_ok(before, b"after the failed reload")
        for port in (a, b):
            s = nd.connect(port)
            nd.echo_ok(s, b"old listener %d" % port)
            s.close()
    finally:
        holder.close()
        before.close()
    rc = d.stop()
    check(rc == 0, "exit %s after SIGTERM" % rc)


def _udp_roundtrip(port, payload, tries=3, timeout=2.0):
    """Sends payload from a fresh UDP socket; returns the reply. UDP may
    lose a datagram, so it is sent up to `tries` times."""
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.settimeout(timeout * nd.SLOW)
        for _ in range(tries):
            u.sendto(payload, ("127.0.0.1", port))
            try:
                return u.recv(65536)
            except socket.timeout:
                continue
        raise nd.Failure("no UDP reply to %d bytes after %d tries" % (len(payload), tries))
    finally:
        u.close()


def _unix_connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5 * nd.SLOW)
    s.connect(path)
    return s


def test_sighup_udp_and_unix_listeners():
    # Reload keeps a UDP and a unix listener that did not change, and removes
    # a unix listener (and its file) that did.
    tmp = tempfile.mkdtemp(prefix="nd-it-")
    try:
        port = nd.free_port(udp_too=True)
        keep, gone = os.path.join(tmp, "keep.sock"), os.path.join(tmp, "gone.sock")
        udp = "udp://127.0.0.1:%d" % port
        d = nd.Daemon(_listen(udp, "unix:" + keep, "unix:" + gone))
        live = _unix_connect(gone)
        nd.echo_ok(live, b"before")
        d.reload(_listen(udp, "unix:" + keep))
        check(nd.refuses(gone), "the removed unix listener still accepts")
        nd.echo_ok(live, b"after")
        live.close()
        s = _unix_connect(keep)
        nd.echo_ok(s, b"kept")
        s.close()
        reply = _udp_roundtrip(port, b"udp kept")
        check(reply == b"udp kept", "UDP reply %r" % reply)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_sighup_raises_limit_for_a_waiting_client():
    # A client waiting in the backlog at max_connections = 1 is served once
    # a reload raises the limit.
    port = nd.free_port()
    d = nd.Daemon(_listen(_tcp(port)) + "max_connections = 1\n")
    first = nd.connect(port)
    nd.echo_ok(first, b"first")
    second = nd.connect(port)
    try:
        second.sendall(b"second")
        check(nd.nothing_within(second, 0.3), "a 2nd client served at max_connections = 1")
        d.reload(_listen(_tcp(port)) + "max_connections = 2\n")
        second.settimeout(5 * nd.SLOW)
        got = nd.recv_exact(second, len(b"second"))
        check(got == b"second", "the 2nd client got %r" % got)
        nd.echo_ok(first, b"first again")
    finally:
        first.close()
        second.close()


def test_sighup_connections_keep_their_settings():
    # Connections keep the settings they were accepted under: one accepted
    # with idle_timeout = 300ms is still closed when idle after a reload to
    # idle_timeout = 0 (never); one accepted after the reload is not.
    port = nd.free_port()
    d = nd.Daemon(_listen(_tcp(port)) + "idle_timeout = 300ms\n")
    old = nd.connect(port)
    t0 = time.monotonic()
    d.reload(_listen(_tcp(port)) + "idle_timeout = 0\n")
    new = nd.connect(port)
    try:
        got = nd.recv_all(old)
        took = time.monotonic() - t0
        check(got == b"", "the old connection got %r" % got)
        check(took < 0.3 + 1.5 * nd.SLOW, "the old connection was closed only after "
              "%.1fs (idle_timeout 300ms when accepted)" % took)
        check(nd.nothing_within(new, 0.8), "a connection accepted under idle_timeout = 0 "
              "was closed")
        new.settimeout(5 * nd.SLOW)
        nd.echo_ok(new, b"never idle")
    finally:
        old.close()
        new.close()


def _signal_and_connect_in_one_batch(sig):
    """Starts a daemon on A and B without touching its listeners (it is
    ready once it logs "running", after every listener is open), and has it
    find the signal and then a new connection to B in one epoll_wait:
    SIGSTOP, the signal, connect to B (the kernel completes it in B's
    backlog), SIGCONT. The file on disk then lists A and C."""
    a, b, c = nd.free_port(), nd.free_port(), nd.free_port()
    d = nd.Daemon(_listen(_tcp(a), _tcp(b)))
    d.write_config(_listen(_tcp(a), _tcp(c)))
    d.pause()
    try:
        os.kill(d.pid, sig)
        late = nd.connect(b)
    finally:
        d.resume()
    return d, late, a, c


def _died(d, what):
    rc = d.proc.poll()
    if rc is None:
        return None
    return "netdemo %s (exit %s%s) %s" % (
        "was killed by signal %d" % -rc if rc < 0 else "exited", rc,
        ", SIGSEGV" if rc == -signal.SIGSEGV else "", what)


def test_sighup_removed_listener_in_same_batch():
    # A reload that closes listener B while an accept event for B waits in
    # the same epoll batch, after the signalfd's: the daemon must not touch
    # B's freed watcher. It keeps running, and A and the new C serve.
    d, late, a, c = _signal_and_connect_in_one_batch(signal.SIGHUP)
    try:
        d.wait_log(r"^netdemo: \w+: (reloaded |reload failed)", 10)
        nd.wait_until(lambda: not nd.refuses(c) or d.proc.poll() is not None, 10,
                      "the new listener C to accept")
        try:
            for port in (a, c):
                s = nd.connect(port)
                nd.echo_ok(s, b"after the reload")
                s.close()
        except (nd.Failure, OSError):
            try:
                d.proc.wait(2 * nd.SLOW)
            except subprocess.TimeoutExpired:
                pass
            problem = _died(d, "after a reload that closed a listener with an event "
                            "pending in the same epoll batch")
            if problem:
                raise nd.Failure(problem)
            raise
    finally:
        late.close()
    rc = d.stop()
    check(rc == 0, "exit %d after SIGTERM" % rc)


def test_sigterm_listener_in_same_batch():
    # SIGTERM closes every listener while an accept event for one of them
    # waits in the same epoll batch: the daemon must still stop cleanly.
    d, late, a, c = _signal_and_connect_in_one_batch(signal.SIGTERM)
    try:
        d.wait_log(r"SIGTERM: shutting down", 10)
        try:
            rc = d.proc.wait(10 * nd.SLOW)
        except subprocess.TimeoutExpired:
            rc = None   # a connection to drain: `late`, if it was accepted
        if rc is None:
            late.close()
            try:
                rc = d.proc.wait(10 * nd.SLOW)
            except subprocess.TimeoutExpired:
                raise nd.Failure("still running 10s after its last connection closed")
    finally:
        late.close()
    problem = _died(d, "after SIGTERM with a listener event pending in the same epoll batch")
    check(rc == 0, problem)


TESTS += [test_sigterm_idle_client_gets_eof_at_once, test_sigint_idle_exits_0,
          test_sigterm_drains_exactly_what_was_read, test_sigterm_drains_a_large_queue,
          test_second_sigterm_is_immediate, test_sighup_bad_config_changes_nothing,
          test_sighup_bind_failure_keeps_every_old_listener, test_sighup_udp_and_unix_listeners,
          test_sighup_raises_limit_for_a_waiting_client, test_sighup_connections_keep_their_settings,
          test_sighup_removed_listener_in_same_batch, test_sigterm_listener_in_same_batch]


def test_reload_client_waits_for_the_verdict():
    # `netdemo --reload PID` (systemd's ExecReload=): SIGHUP, then 0 once the
    # new configuration is live, 1 with "FILE:LINE: reason" on stderr when it
    # is refused (a bad key, a port taken), the old one serving on.
    a = nd.free_port()
    d = nd.Daemon(nd.echo_config(a))
    rc, _, err = nd.run_cli(["--reload", str(d.pid)])
    check(rc == 0, "a good reload: exit %d, stderr %r" % (rc, err))
    d.write_config(nd.echo_config(a, "bogus_key = 1\n"))
    rc, _, err = nd.run_cli(["--reload", str(d.pid)])
    check(rc == 1, "an unknown key: exit %d" % rc)
    line = nd.echo_config(a, "bogus_key = 1\n").splitlines().index("bogus_key = 1") + 1
    want = "%s:%d: unknown key 'bogus_key'" % (d.conf, line)
    check(want in err, "stderr does not say %r: %r" % (want, err))
    check(echoes(nd.connect(a)), "old listener gone after a refused reload")
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    c = holder.getsockname()[1]
    conf = "[echo]\nmodule = echo\nlisten = tcp://127.0.0.1:%d, tcp://127.0.0.1:%d\n" % (a, c)
    try:
        d.write_config(conf)
        rc, _, err = nd.run_cli(["-R", str(d.pid)])
        check(rc == 1, "a port taken: exit %d" % rc)
        want = ("%s:3: [echo] listen tcp://127.0.0.1:%d: cannot bind: Address already in use"
                % (d.conf, c))
        check(want in err, "stderr does not say %r: %r" % (want, err))
    finally:
        holder.close()
    # Two at once: the second waits for the first; both see a live reload,
    # and the new listener answers as soon as they return.
    p = subprocess.Popen([nd.BINARY, "--reload", str(d.pid)], env=nd.daemon_env(),
                         stderr=subprocess.PIPE)
    rc, _, err = nd.run_cli(["--reload", str(d.pid)])
    check(rc == 0, "a good reload: exit %d, stderr %r" % (rc, err))
    check(p.wait(10 * nd.SLOW) == 0, "the concurrent reload: %r" % p.stderr.read())
    p.stderr.close()
    check(echoes(nd.connect(c)), "new listener after a good reload")
    check(echoes(nd.connect(a)), "old listener after a good reload")
    rc = d.stop()
    check(rc == 0, "exit %s after SIGTERM" % rc)
    rc, _, err = nd.run_cli(["--reload", str(d.pid)])
    check(rc == 1 and "No such process" in err, "a gone pid: exit %d, %r" % (rc, err))
    rc, _, err = nd.run_cli(["--reload", "12x"])
    check(rc == 64 and "not a process id" in err, "a bad pid: exit %d, %r" % (rc, err))


TESTS += [test_reload_client_waits_for_the_verdict]


def _http_exchange(s, path="/health", close=False):
    """One request on s; returns (bytes sent, bytes received, status). Reads
    exactly the response (Content-Length), or to EOF when close is set."""
    req = ("GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n"
           % (path, "Connection: close\r\n" if close else "")).encode()
    s.sendall(req)
    if close:
        got = nd.recv_all(s)
    else:
        got = b""
        while b"\r\n\r\n" not in got:
            chunk = s.recv(4096)
            check(chunk, "EOF inside a response head")
            got += chunk
        head = got.split(b"\r\n\r\n", 1)[0]
        m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        total = len(head) + 4 + int(m.group(1))
        while len(got) < total:
            chunk = s.recv(4096)
            check(chunk, "EOF inside a response body")
            got += chunk
    return len(req), len(got), int(got.split(b" ", 2)[1])


def _counter_line(d, name, after):
    m = d.wait_log(r"^netdemo: notice: %s: connections .*$" % re.escape(name), after=after)
    return m.group(0)


def test_sigusr1_logs_counters_and_keeps_running():
    """SIGUSR1 logs one notice line of counters per service, the module's
    named counters last, and the daemon carries on serving."""
    web, echo = nd.free_port(), nd.free_port(udp_too=True)
    d = nd.Daemon("[netdemo]\nlog_level = notice\n\n"
                  "[web]\nmodule = http\nlisten = tcp://127.0.0.1:%d\n\n"
                  "[echo]\nmodule = echo\nlisten = tcp://127.0.0.1:%d, udp://127.0.0.1:%d\n"
                  % (web, echo, echo))
    sent = recvd = 0
    for _ in range(3):
        s = nd.connect(web)
        a, b, status = _http_exchange(s, close=True)
        s.close()
        check(status == 200, "/health answered %d" % status)
        sent, recvd = sent + a, recvd + b
    held = nd.connect(web)                  # answered, so accepted: counted open
    a, b, status = _http_exchange(held, "/nonexistent")
    check(status == 404, "/nonexistent answered %d" % status)
    sent, recvd = sent + a, recvd + b
    e = nd.connect(echo)
    nd.echo_ok(e, b"12345")
    for payload in (b"abc", b"defgh"):
        check(_udp_roundtrip(echo, payload, tries=1) == payload, "udp echo")

    mark = len(d.log())
    d.signal(signal.SIGUSR1)
    line = _counter_line(d, "web", mark)
    want = ("web: connections 1 (total 4), bytes in %d out %d, datagrams in 0 out 0 "
            "dropped 0, requests 4, requests_1xx 0, requests_2xx 3, requests_3xx 0, "
            "requests_4xx 1, requests_5xx 0, ws_members 0, chat_backend_down 0, "
            "chat_backend_reconnects 0, chat_backend_refused 0, chat_backend_unanswered 0"
            % (sent, recvd))
    check(line.endswith(want), "SIGUSR1 line\n  %r\nwanted\n  %r" % (line, want))
    line = _counter_line(d, "echo", mark)
    want = ("echo: connections 1 (total 1), bytes in 13 out 13, datagrams in 2 out 2 "
            "dropped 0")
    check(line.endswith(want), "SIGUSR1 line\n  %r\nwanted\n  %r" % (line, want))
    check(len(re.findall(r"connections \d+ \(total", d.log()[mark:])) == 2,
          "not one line per service:\n%s" % d.log()[mark:])

    # Still running and answering; the counts go on from there.
    check(d.proc.poll() is None, "the daemon exited on SIGUSR1:\n%s" % d.log())
    _, _, status = _http_exchange(held)
    check(status == 200, "after SIGUSR1, /health answered %d" % status)
    nd.echo_ok(e, b"still")
    mark = len(d.log())
    d.signal(signal.SIGUSR1)
    line = _counter_line(d, "web", mark)
    check(", requests 5, " in line and "connections 1 (total 4)" in line,
          "second SIGUSR1: %r" % line)
    held.close()
    e.close()
    rc = d.stop()
    check(rc == 0, "exit %s after SIGTERM" % rc)


TESTS += [test_sigusr1_logs_counters_and_keeps_running]
