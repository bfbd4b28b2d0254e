"""The echo module on every socket family, with real clients."""
import errno
import hashlib
import os
import random
import re
import selectors
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time

import nd
from nd import check


def test_tutorial_client():
    port = nd.free_port()
    nd.Daemon(nd.echo_config(port))
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"message")
    check(s.recv(10) == b"message", "tutorial client")
    s.close()


def test_nc_tcp_udp_unix():
    port = nd.free_port(udp_too=True)
    sock = "/tmp/nd-it-%d.sock" % os.getpid()
    nd.Daemon("[echo]\nmodule = echo\nlisten = tcp://127.0.0.1:%d, tcp://[::1]:%d, "
              "udp://127.0.0.1:%d, unix:%s\n" % (port, port, port, sock))
    t = 10 * nd.SLOW
    for host in ("127.0.0.1", "::1"):
        r = subprocess.run("printf message | nc -q1 %s %d" % (host, port), shell=True,
                           capture_output=True, timeout=t)
        check(r.returncode == 0 and r.stdout == b"message",
              "nc %s: exit %d, printed %r (stderr %r)" % (host, r.returncode, r.stdout, r.stderr))
    r = subprocess.run("printf datagram | nc -u -w1 127.0.0.1 %d" % port, shell=True,
                       capture_output=True, timeout=t)
    check(r.stdout == b"datagram", "nc -u: %r" % r.stdout)
    r = subprocess.run("printf unixmsg | nc -q1 -U %s" % sock, shell=True,
                       capture_output=True, timeout=t)
    check(r.returncode == 0 and r.stdout == b"unixmsg",
          "nc -U: exit %d, printed %r" % (r.returncode, r.stdout))


def stream_roundtrip(s, data):
    """Sends data, half-closes, and reads the echo until EOF, concurrently."""
    got = []

    def reader():
        got.append(nd.recv_all(s))
    t = threading.Thread(target=reader)
    t.start()
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    t.join(60 * nd.SLOW)
    check(not t.is_alive(), "no EOF after the half-close")
    return got[0]


def test_ipv6_4mib_half_close():
    port = nd.free_port(host="::1")
    nd.Daemon(nd.echo_config(port, host="[::1]"))
    data = os.urandom(4 << 20)
    s = nd.connect(port, "::1")
    back = stream_roundtrip(s, data)
    check(hashlib.sha256(back).digest() == hashlib.sha256(data).digest(),
          "4 MiB differ (%d bytes back)" % len(back))


def test_unix_half_close():
    path = "/tmp/nd-it-u%d.sock" % os.getpid()
    nd.Daemon("[echo]\nmodule = echo\nlisten = unix:%s\n" % path)
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10 * nd.SLOW)
    s.connect(path)
    data = os.urandom(1 << 20)
    check(stream_roundtrip(s, data) == data, "unix echo differs")


def test_data_with_fin():
    """Bytes that arrive together with the FIN are echoed too."""
    port = nd.free_port()
    nd.Daemon(nd.echo_config(port))
    s = nd.connect(port)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(b"last words")
    s.shutdown(socket.SHUT_WR)
    check(nd.recv_all(s) == b"last words", "data with FIN lost")


def test_udp_datagrams():
    p4 = nd.free_port(udp_too=True)
    p6 = nd.free_port(udp_too=True, host="::1")
    nd.Daemon("[echo]\nmodule = echo\nlisten = udp://127.0.0.1:%d, udp://[::1]:%d\n" % (p4, p6))
    for family, host, port in ((socket.AF_INET, "127.0.0.1", p4),
                               (socket.AF_INET6, "::1", p6)):
        u = socket.socket(family, socket.SOCK_DGRAM)
        u.settimeout(5 * nd.SLOW)
        u.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        for size in (0, 1, 1000, 65507):
            data = os.urandom(size)
            u.sendto(data, (host, port))
            back, sender = u.recvfrom(70000)
            check(back == data, "%s datagram of %d bytes came back as %d" % (host, size, len(back)))
            check(sender[1] == port, "reply came from port %d, not %d" % (sender[1], port))
        u.close()


class Client:
    """One of many: sends its own rounds, expects each echoed before the next,
    then half-closes and expects exactly everything back, then EOF."""

    def __init__(self, i, rounds):
        self.i = i
        self.rounds = [b"<%d/%d>" % (i, r) + random.Random(i * 100 + r).randbytes(
            1 + (i * 37 + r * 11) % 3000) for r in range(rounds)]
        self.r = 0
        self.out = self.rounds[0]
        self.want = len(self.out)
        self.got = bytearray()
        self.state = "connecting"
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.s.setblocking(False)


def test_1000_concurrent_clients():
    n, rounds = 1000, 3
    port = nd.free_port()
    d = nd.Daemon(nd.echo_config(port))
    base_fds = d.fds()
    sel = selectors.DefaultSelector()
    clients = [Client(i, rounds) for i in range(n)]
    try:
        for c in clients:
            rc = c.s.connect_ex(("127.0.0.1", port))
            check(rc in (0, errno.EINPROGRESS), "connect: %s" % os.strerror(rc))
            sel.register(c.s, selectors.EVENT_WRITE, c)
        live = n
        end = time.monotonic() + 30 * nd.SLOW
        while live:
            check(time.monotonic() < end, "%d of %d clients not done after %.0fs"
                  % (live, n, 30 * nd.SLOW))
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
    check(d.proc.poll() is None, "daemon died")
    # Every connection is closed on the daemon's side too: no fd leaks.
    nd.wait_until(lambda: d.fds() <= base_fds, 10,
                  "the daemon's open fds to fall back to %d" % base_fds)


def test_256mib_non_reader_bounded_memory():
    port = nd.free_port()
    d = nd.Daemon(nd.echo_config(port))
    total = 256 << 20
    block = os.urandom(1 << 20)
    s = nd.connect(port)
    s.settimeout(120 * nd.SLOW)
    h_out, h_in = hashlib.sha256(), hashlib.sha256()
    state = {"sent": 0, "err": None}
    # RSS every 20 ms from start to end, besides the samples below: a short
    # peak between two of those must not pass unseen.
    sampled = {"max": 0, "n": 0}
    stop_sampling = threading.Event()

    def sampler():
        while not stop_sampling.is_set():
            try:
                sampled["max"] = max(sampled["max"], d.rss_kb())
                sampled["n"] += 1
            except OSError:
                return
            stop_sampling.wait(0.02)
    threading.Thread(target=sampler, daemon=True).start()

    def writer():
        try:
            while state["sent"] < total:
                s.sendall(block)
                h_out.update(block)
                state["sent"] += len(block)
            s.shutdown(socket.SHUT_WR)
        except Exception as e:
            state["err"] = e
    t = threading.Thread(target=writer)
    t.start()
    # Do not read "for a while": until the writer has stalled, which means
    # the daemon stopped reading us (backpressure) and every buffer is full.
    last = -1
    while True:
        time.sleep(0.5)
        if state["sent"] == last:
            break
        last = state["sent"]
    check(state["sent"] < total, "the writer never stalled: no backpressure?")
    peak = d.rss_kb()
    got = 0
    while True:
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        h_in.update(chunk)
        got += len(chunk)
        if got % (8 << 20) < len(chunk):
            peak = max(peak, d.rss_kb())
    t.join(30)
    stop_sampling.set()
    check(state["err"] is None, "writer: %r" % state["err"])
    check(got == total, "got %d of %d bytes" % (got, total))
    check(h_in.digest() == h_out.digest(), "256 MiB came back different")
    check(sampled["n"] > 10, "too few RSS samples (%d)" % sampled["n"])
    peak = max(peak, sampled["max"])
    check(peak < 64 * 1024, "daemon RSS peaked at %d KiB" % peak)


TESTS = [test_tutorial_client, test_nc_tcp_udp_unix, test_ipv6_4mib_half_close,
         test_unix_half_close, test_data_with_fin, test_udp_datagrams,
         test_1000_concurrent_clients, test_256mib_non_reader_bounded_memory]


def test_udp_many_senders():
    # Each datagram goes back to its own sender.
    port = nd.free_port(udp_too=True)
    nd.Daemon("[echo]\nmodule = echo\nlisten = udp://127.0.0.1:%d\n" % port)
    socks = []
    try:
        for i in range(20):
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.settimeout(2 * nd.SLOW)
            socks.append(u)
            u.sendto(b"sender %d" % i, ("127.0.0.1", port))
        for i, u in enumerate(socks):
            got = u.recv(100)
            check(got == b"sender %d" % i, "sender %d got %r" % (i, got))
    finally:
        for u in socks:
            u.close()


def test_half_close_with_queued_output():
    # 8 MiB and our FIN reach the daemon while we read nothing, so much of
    # the echo waits inside the daemon when it sees the FIN: all of it must
    # still come back before its EOF.
    port = nd.free_port()
    nd.Daemon(nd.echo_config(port, "buffer_size = 16m\n"))
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
    s.settimeout(10 * nd.SLOW)
    s.connect(("127.0.0.1", port))
    data = random.Random(8).randbytes(8 << 20)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    me, peer = s.getsockname(), s.getpeername()
    nd.wait_until(lambda: nd.tcp_queues(me, peer)[0] == 0 and nd.tcp_queues(peer, me)[1] == 0,
                  10, "the daemon to read all 8 MiB")
    got = nd.recv_all(s)
    s.close()
    check(len(got) == len(data), "got %d bytes back of %d before EOF" % (len(got), len(data)))
    check(got == data, "the 8 MiB came back altered")


def test_unix_stale_file_and_abstract_name():
    # A stale socket file (nobody listening) is replaced; the file goes away
    # when the daemon stops. An abstract name works too.
    tmp = tempfile.mkdtemp(prefix="nd-it-")
    try:
        path = os.path.join(tmp, "stale.sock")
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(path)
        stale.close()
        check(os.path.exists(path), "could not make a stale socket file")
        abstract = "nd-it-%d-%d" % (os.getpid(), time.monotonic_ns() % 1000000)
        d = nd.Daemon("[echo]\nmodule = echo\nlisten = unix:%s, unix:@%s\n" % (path, abstract))
        for addr in (path, "\0" + abstract):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(5 * nd.SLOW)
            s.connect(addr)
            nd.echo_ok(s, b"unix %r" % addr)
            s.close()
        rc = d.stop()
        check(rc == 0, "exit %s after SIGTERM" % rc)
        check(not os.path.exists(path), "socket file %s left behind after stop" % path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


TESTS += [test_udp_many_senders, test_half_close_with_queued_output,
          test_unix_stale_file_and_abstract_name]


def _connect_as(path, uid, gid, groups):
    """Connects to a unix socket from a child running as uid:gid with the
    supplementary groups; returns "ok" or the errno name."""
    code = ("import os, socket, errno\n"
            "os.setgroups(%r); os.setgid(%d); os.setuid(%d)\n"
            "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
            "try:\n"
            "    s.connect(%r); s.sendall(b'hi'); print('ok' if s.recv(2) == b'hi' else 'bad')\n"
            "except OSError as e:\n"
            "    print(errno.errorcode[e.errno])\n" % (groups, gid, uid, path))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=20)
    return r.stdout.decode().strip() or r.stderr.decode()


def test_unix_socket_mode_and_group():
    # socket_mode and socket_group: the file gets them (at start and when a
    # reload changes them), a member of the group may connect, another user
    # may not; the directory is searchable for both.
    if os.getuid() != 0:
        print("SKIP: test_unix_socket_mode_and_group needs root to act as other users")
        return
    tmp = tempfile.mkdtemp(prefix="nd-it-")
    try:
        os.chmod(tmp, 0o755)
        path = os.path.join(tmp, "echo.sock")
        member, outsider, group = 61001, 61002, 61000
        conf = ("[echo]\nmodule = echo\nlisten = unix:%s\nsocket_mode = 0660\n"
                "socket_group = %d\n" % (path, group))
        d = nd.Daemon(conf)
        st = os.stat(path)
        check(stat.S_IMODE(st.st_mode) == 0o660 and st.st_gid == group,
              "file is %o gid %d, want 660 gid %d" % (stat.S_IMODE(st.st_mode), st.st_gid, group))
        got = _connect_as(path, member, member, [group])
        check(got == "ok", "group member: %s" % got)
        got = _connect_as(path, outsider, outsider, [])
        check(got == "EACCES", "outsider: %s, want EACCES" % got)
        # A reload widens it: the kept listener's file follows.
        d.reload(conf.replace("0660", "0666"))
        check(stat.S_IMODE(os.stat(path).st_mode) == 0o666, "mode not changed by reload")
        got = _connect_as(path, outsider, outsider, [])
        check(got == "ok", "outsider after socket_mode = 0666: %s" % got)
        check(d.stop() == 0, "exit status after SIGTERM")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_unix_socket_mode_errors():
    # Bad values, and the keys on a service without a unix:PATH listener.
    port = nd.free_port()
    cases = [
        ("listen = unix:/tmp/nd-x.sock\nsocket_mode = 0999\n",
         ":4: socket_mode: '0999' is not an octal mode from 0 to 0777"),
        ("listen = unix:/tmp/nd-x.sock\nsocket_mode = rw\n",
         ":4: socket_mode: 'rw' is not an octal mode"),
        ("listen = unix:/tmp/nd-x.sock\nsocket_group = nd-no-such-group\n",
         ":4: socket_group: no group 'nd-no-such-group' on this system"),
        ("listen = tcp://127.0.0.1:%d\nsocket_mode = 0660\n" % port,
         ":4: socket_mode: [echo] has no unix:PATH listener"),
        ("listen = unix:@nd-abstract\nsocket_group = 0\n",
         ":4: socket_group: [echo] has no unix:PATH listener"),
    ]
    tmp = tempfile.mkdtemp(prefix="nd-it-")
    try:
        for body, want in cases:
            f = os.path.join(tmp, "bad.ini")
            with open(f, "w") as fh:
                fh.write("[echo]\nmodule = echo\n" + body)
            rc, _, err = nd.run_cli(["-t", "-c", f])
            check(rc == 78, "exit %d for %r" % (rc, body))
            check(want in err, "want %r in:\n%s" % (want, err))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_unix_socket_log_says_where_it_is():
    # A relative path is logged with the absolute one it became.
    tmp = tempfile.mkdtemp(prefix="nd-it-")
    try:
        want = os.path.join(tmp, "rel.sock")
        rel = os.path.relpath(want)
        d = nd.Daemon("[echo]\nmodule = echo\nlisten = unix:%s\n" % rel)
        d.wait_log(r"listening on unix:%s \(%s\)" % (re.escape(rel), re.escape(want)))
        check(os.path.exists(want), "no socket at %s" % want)
        check(d.stop() == 0, "exit status after SIGTERM")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


TESTS += [test_unix_socket_mode_and_group, test_unix_socket_mode_errors,
          test_unix_socket_log_says_where_it_is]
