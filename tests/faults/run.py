#!/usr/bin/env python3
"""run.py: hostile clients against the real daemon on loopback.

    python3 tests/faults/run.py --binary build/netdemo [-k NAME]

Each test ends by itself, then checks that the daemon still answers a
fresh client and that its open fds are back to where they started.
Ends with "faults: N passed, M failed".
"""
import os
import random
import selectors
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import nd  # noqa: E402
from nd import check  # noqa: E402


def start(**kw):
    ports = {"echo": nd.free_port(udp_too=True), "http": nd.free_port()}
    d = nd.Daemon(nd.echo_and_http_config(ports["echo"], ports["http"], 19000), **kw)
    d.ports = ports
    return d


def get_root(port, timeout=1.0):
    """One fresh GET / on a fresh connection; True if 200 within timeout."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        s.settimeout(timeout)
        s.sendall(b"GET / HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        return data.startswith(b"HTTP/1.1 200") and b"Welcome" in data
    except OSError:
        return False


def echo_ok(port):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        s.sendall(b"still here")
        ok = nd.recv_exact(s, 10) == b"still here"
        s.close()
        return ok
    except (OSError, nd.Failure):
        return False


def healthy_after(d, base_fds):
    """The daemon serves fresh clients, and its fds return to baseline."""
    check(d.proc.poll() is None, "daemon died:\n" + d.log()[-2000:])
    check(nd.wait_until(lambda: get_root(d.ports["http"]), 10, "GET / afterwards"), "http")
    check(echo_ok(d.ports["echo"]), "echo afterwards")
    nd.wait_until(lambda: d.fds() <= base_fds, 15,
                  "fds back to %d (now %d)" % (base_fds, d.fds()))


def prober(port, stop, results):
    """GET / every 200 ms; records whether each answered within 1 s."""
    while not stop.is_set():
        t0 = time.monotonic()
        results.append(get_root(port, timeout=1.0) and time.monotonic() - t0 <= 1.0)
        stop.wait(max(0.0, 0.2 - (time.monotonic() - t0)))


def slowhttptest(args, port):
    """Runs slowhttptest against / for a bounded time, a probe beside it."""
    d = start()
    base = d.fds()
    stop, results = threading.Event(), []
    t = threading.Thread(target=prober, args=(port(d), stop, results))
    t.start()
    try:
        subprocess.run(["slowhttptest"] + args + ["-u", "http://127.0.0.1:%d/" % port(d)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=60 * nd.SLOW)
    finally:
        stop.set()
        t.join()
    ok = sum(results)
    check(len(results) >= 20, "only %d probes" % len(results))
    check(ok >= 0.99 * len(results), "%d of %d probes answered within 1 s" % (ok, len(results)))
    healthy_after(d, base)


def test_slowloris():
    # 400 connections trickling headers, for 8 s; header_timeout (10 s) ends
    # each one, the probes must not notice.
    slowhttptest(["-H", "-c", "400", "-r", "200", "-i", "5", "-s", "8192", "-l", "8",
                  "-t", "GET"], lambda d: d.ports["http"])


def test_slow_read():
    # Clients that request pages and read them a few bytes at a time.
    slowhttptest(["-X", "-c", "200", "-r", "100", "-w", "32", "-y", "64", "-n", "2",
                  "-z", "32", "-k", "10", "-l", "8"], lambda d: d.ports["http"])


def test_fd_exhaustion():
    d = start(prefix=["prlimit", "--nofile=64"])
    base = d.fds()
    clients = []
    for port in (d.ports["http"], d.ports["echo"]):
        for _ in range(200):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            clients.append(s)
    d.wait_log("accept paused", 10)
    t0 = d.cpu_ticks()
    time.sleep(2.0)
    ticks = d.cpu_ticks() - t0
    check(ticks <= 10, "%d CPU ticks in 2 s while saturated: spinning" % ticks)
    for s in clients:
        s.close()
    healthy_after(d, base)


def rst(s):
    """Close with a reset instead of a FIN."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def test_resets_mid_request_and_mid_response():
    d = start()
    base = d.fds()
    rnd = random.Random(7)
    hp, ep = d.ports["http"], d.ports["echo"]
    for i in range(3000):
        kind = i % 4
        s = socket.create_connection(("127.0.0.1", hp if kind < 3 else ep), timeout=5)
        if kind == 0:       # half a request head
            s.sendall(b"GET /echo HTTP/1.1\r\nHost: a\r\nX-Part")
        elif kind == 1:     # half a POST body
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n" +
                      b"x" * rnd.randrange(1, 50000))
        elif kind == 2:     # while a large answer is being written
            s.sendall(b"GET /bytes/%d HTTP/1.1\r\nHost: a\r\n\r\n" % (8 << 20))
            s.recv(rnd.randrange(1, 65536))
        else:               # echo with data in flight both ways
            s.sendall(os.urandom(rnd.randrange(1, 200000)))
        rst(s)
    # Clients that vanish (FIN, not reset) while a large answer is written.
    for i in range(200):
        s = socket.create_connection(("127.0.0.1", hp), timeout=5)
        s.sendall(b"GET /bytes/%d HTTP/1.1\r\nHost: a\r\n\r\n" % (16 << 20))
        s.recv(1000)
        s.close()
    healthy_after(d, base)


def test_garbage():
    d = start()
    base = d.fds()
    rnd = random.Random(11)
    for i in range(300):
        junk = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 3000)))
        s = socket.create_connection(("127.0.0.1", d.ports["http"]), timeout=5 * nd.SLOW)
        s.sendall(junk)
        s.shutdown(socket.SHUT_WR)
        out = nd.recv_all(s)
        check(out == b"" or out.startswith(b"HTTP/1.1 "), "http answered %r" % out[:60])
        s.close()
        s = socket.create_connection(("127.0.0.1", d.ports["echo"]), timeout=5 * nd.SLOW)
        s.sendall(junk)
        s.shutdown(socket.SHUT_WR)
        check(nd.recv_all(s) == junk, "echo changed garbage")
        s.close()
    healthy_after(d, base)


def test_udp_flood_from_a_non_reader():
    d = start()
    base, rss0 = d.fds(), d.rss_kb()
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)   # and never read
    u.setblocking(False)
    payload = os.urandom(1400)
    sent = 0
    t_end = time.monotonic() + 3
    while time.monotonic() < t_end:
        try:
            u.sendto(payload, ("127.0.0.1", d.ports["echo"]))
            sent += 1
        except BlockingIOError:
            time.sleep(0.001)
    check(sent > 10000, "only %d datagrams sent" % sent)
    check(d.rss_kb() - rss0 < 4096, "RSS grew %d KiB" % (d.rss_kb() - rss0))
    u.close()
    # A well-behaved UDP client is still answered.
    v = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    v.settimeout(2)
    v.sendto(b"hello", ("127.0.0.1", d.ports["echo"]))
    check(v.recvfrom(100)[0] == b"hello", "udp echo after the flood")
    healthy_after(d, base)


def many_idle_then_answer(port, n, request, answer_ok):
    sel = selectors.DefaultSelector()
    socks = []
    for i in range(n):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        socks.append(s)
    # Wait until every connection is established.
    for s in socks:
        sel.register(s, selectors.EVENT_WRITE)
    pending = n
    end = time.monotonic() + 60 * nd.SLOW
    while pending and time.monotonic() < end:
        for key, _ in sel.select(1):
            err = key.fileobj.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            check(err == 0, "connect failed: %s" % os.strerror(err))
            sel.unregister(key.fileobj)
            pending -= 1
    check(pending == 0, "%d connections not established" % pending)
    # Now every one of them asks, and every one gets its own right answer.
    got = {}
    for i, s in enumerate(socks):
        s.send(request(i))
        sel.register(s, selectors.EVENT_READ, i)
    done = 0
    while done < n and time.monotonic() < end:
        for key, _ in sel.select(1):
            i = key.data
            data = key.fileobj.recv(65536)
            got[i] = got.get(i, b"") + data
            if answer_ok(i, got[i]) or not data:
                check(answer_ok(i, got[i]), "connection %d: %r" % (i, got[i][:80]))
                sel.unregister(key.fileobj)
                done += 1
    check(done == n, "%d of %d answered" % (done, n))
    for s in socks:
        s.close()


def test_15000_idle_connections():
    d = start()
    base = d.fds()
    n = 15000
    many_idle_then_answer(d.ports["echo"], n, lambda i: b"%06d" % i,
                          lambda i, g: g == b"%06d" % i)
    nd.wait_until(lambda: d.fds() <= base, 30, "echo fds released")
    many_idle_then_answer(d.ports["http"], n,
                          lambda i: b"GET /health HTTP/1.1\r\nHost: %d\r\n\r\n" % i,
                          lambda i, g: g.startswith(b"HTTP/1.1 200") and g.endswith(b"\r\n\r\nok\n"))
    healthy_after(d, base)


TESTS = [test_slowloris, test_slow_read, test_fd_exhaustion,
         test_resets_mid_request_and_mid_response, test_garbage,
         test_udp_flood_from_a_non_reader, test_15000_idle_connections]


def main():
    opts = nd.setup(__doc__)
    if shutil.which("slowhttptest") is None:
        print("faults: slowhttptest is missing (apt-get install slowhttptest)")
        return 2
    return nd.run_tests("faults", [("faults." + t.__name__, t) for t in TESTS], opts.only)


if __name__ == "__main__":
    sys.exit(main())
