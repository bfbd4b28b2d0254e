"""test_limits.py: backpressure (memory bounded whatever a peer sends),
idle_timeout, and max_connections per service and daemon-wide."""
import hashlib
import random
import select
import socket
import threading
import time

import harness as h
from harness import check, test

MiB = 1 << 20


class StreamWriter(threading.Thread):
    """Writes `total` pseudo-random bytes in 1 MiB chunks, hashing what it
    sends, then half-closes. `last_progress` is when a send last returned."""

    def __init__(self, s, total, seed):
        super().__init__(daemon=True)
        self.s, self.total = s, total
        self.rng = random.Random(seed)
        self.hash = hashlib.sha256()
        self.sent = 0
        self.last_progress = time.monotonic()
        self.done = False
        self.error = None

    def run(self):
        try:
            while self.sent < self.total:
                chunk = self.rng.randbytes(min(MiB, self.total - self.sent))
                self.hash.update(chunk)
                self.s.sendall(chunk)
                self.sent += len(chunk)
                self.last_progress = time.monotonic()
            self.s.shutdown(socket.SHUT_WR)
        except Exception as e:
            self.error = e
        finally:
            self.done = True


@test
def backpressure_256mib():
    # A client writes 256 MiB and reads nothing until its sends block for a
    # second: the daemon must stop reading it rather than queue the echo.
    # Then it reads everything back. The daemon's RSS stays under 64 MiB.
    total = 256 * MiB
    port = h.free_port()
    d = h.Daemon()
    d.write_config(h.config({"echo": {"listen": [h.tcp(port)], "buffer_size": "64k"}}))
    d.start()
    rss_start = d.rss_kib()
    sampler = h.RssSampler(d)
    sampler.start()
    s = h.connect(("127.0.0.1", port), timeout=30)
    writer = StreamWriter(s, total, seed=256)
    try:
        writer.start()
        h.wait_until(lambda: writer.done or time.monotonic() - writer.last_progress >= 1.0,
                     30, "the writer to block")
        check(writer.error is None, "writer failed before reading began: %r" % (writer.error,))
        check(not writer.done, "all 256 MiB were written without the client reading: "
              "the daemon does not stop reading a peer that does not read")
        stalled_at = writer.sent
        got = hashlib.sha256()
        n = 0
        buf = bytearray(MiB)
        end = time.monotonic() + h.scaled(90)
        while True:
            check(time.monotonic() < end, "only %d of %d bytes back after %.0fs"
                  % (n, total, h.scaled(90)))
            try:
                k = s.recv_into(buf)
            except socket.timeout:
                raise h.Failure("read stalled after %d of %d bytes" % (n, total))
            if k == 0:
                break
            got.update(memoryview(buf)[:k])
            n += k
        writer.join(h.scaled(30))
        check(writer.error is None, "writer failed: %r" % (writer.error,))
        check(writer.done and writer.sent == total, "writer sent only %d" % writer.sent)
        check(n == total, "got %d bytes back of %d" % (n, total))
        check(got.hexdigest() == writer.hash.hexdigest(), "the 256 MiB came back altered")
    finally:
        s.close()
        max_kib = sampler.stop()
    check(sampler.samples > 10, "too few RSS samples (%d)" % sampler.samples)
    check(max_kib < 64 * 1024,
          "daemon VmRSS reached %d KiB (started at %d KiB; the writer stalled after "
          "%d MiB): more than 64 MiB" % (max_kib, rss_start, stalled_at // MiB))


@test
def idle_timeout():
    port = h.free_port()
    d = h.Daemon()
    d.write_config(h.config({"echo": {"listen": [h.tcp(port)], "idle_timeout": "500ms"}}))
    d.start()
    silent = h.connect(("127.0.0.1", port))
    t_silent = time.monotonic()
    active = h.connect(("127.0.0.1", port))
    result = {}

    def watch_silent():
        silent.settimeout(h.scaled(5))
        try:
            result["data"] = silent.recv(1)
        except OSError as e:
            result["data"] = e
        result["after"] = time.monotonic() - t_silent

    watcher = threading.Thread(target=watch_silent, daemon=True)
    watcher.start()
    # The active client sends every 200 ms for 1.6 s: never idle 500 ms.
    t0 = time.monotonic()
    i = 0
    while time.monotonic() - t0 < 1.6:
        h.echo_ok(active, b"ping %d" % i)
        i += 1
        time.sleep(0.2)     # the pace of the client under test, not a wait
    h.echo_ok(active, b"still open after %.1fs" % (time.monotonic() - t0))
    active.close()
    watcher.join(h.scaled(6))
    silent.close()
    check("data" in result, "the silent client's recv never returned")
    check(result["data"] == b"", "the silent client got %r instead of EOF" % (result["data"],))
    check(result["after"] >= 0.45, "the silent client was closed after %.2fs, before "
          "idle_timeout (500ms)" % result["after"])
    check(result["after"] <= 0.5 + h.scaled(1.5), "the silent client was closed only "
          "after %.2fs (idle_timeout 500ms)" % result["after"])


def no_echo_while(s, what):
    s.sendall(b"waiting")
    check(h.nothing_within(s, 0.5), "%s was served past the limit" % what)


@test
def service_max_connections():
    port = h.free_port()
    d = h.Daemon()
    d.write_config(h.config({"echo": {"listen": [h.tcp(port)], "max_connections": 3}}))
    d.start()
    addr = ("127.0.0.1", port)
    first = [h.connect(addr) for _ in range(3)]
    for i, s in enumerate(first):
        h.echo_ok(s, b"client %d" % i)
    fourth = h.connect(addr)    # the kernel's backlog takes it
    try:
        no_echo_while(fourth, "a 4th connection (max_connections = 3)")
        first[0].close()
        fourth.settimeout(h.scaled(5))
        got = h.recv_exact(fourth, len(b"waiting"))
        check(got == b"waiting", "the 4th client got %r" % got)
        for s in first[1:]:
            h.echo_ok(s, b"still here")
        h.echo_ok(fourth, b"and again")
    finally:
        for s in first + [fourth]:
            s.close()


@test
def global_max_connections():
    # [netdemo] max_connections = 2 spans services.
    a, b = h.free_ports(2)
    d = h.Daemon()
    d.write_config(h.config({"one": {"listen": [h.tcp(a)]},
                             "two": {"listen": [h.tcp(b)]}}, max_connections=2))
    d.start()
    c1 = h.connect(("127.0.0.1", a))
    c2 = h.connect(("127.0.0.1", b))
    try:
        h.echo_ok(c1, b"one")
        h.echo_ok(c2, b"two")
        c3 = h.connect(("127.0.0.1", a))
        try:
            no_echo_while(c3, "a 3rd connection (daemon-wide max_connections = 2)")
            c2.close()
            c3.settimeout(h.scaled(5))
            got = h.recv_exact(c3, len(b"waiting"))
            check(got == b"waiting", "the 3rd client got %r" % got)
            h.echo_ok(c1, b"one again")
        finally:
            c3.close()
    finally:
        c1.close()
        c2.close()


def readable(socks, quiet=0.2):
    """Indexes of the sockets with something to read, once no more become
    readable for `quiet` seconds."""
    seen = set()
    while True:
        r, _, _ = select.select([s for i, s in enumerate(socks) if i not in seen], [], [],
                                quiet)
        if not r:
            return sorted(seen)
        seen.update(socks.index(s) for s in r)


@test
def accept_at_fd_limit():
    # With 40 fds the daemon runs out before the clients do: it pauses
    # accepting (no busy loop), and serves the rest as fds come back.
    port = h.free_port()
    d = h.Daemon()
    d.write_config(h.config({"echo": {"listen": [h.tcp(port)]}}))
    d.start(nofile=40)
    clients = []
    try:
        for i in range(60):
            s = h.connect(("127.0.0.1", port))
            clients.append(s)
            s.sendall(b"client %d" % i)
        d.wait_log(r"accept paused", 5)
        served = readable(clients)
        check(20 <= len(served) < 60, "%d of 60 clients served with 40 fds" % len(served))
        cpu0, t0 = d.cpu_seconds(), time.monotonic()
        time.sleep(1.0)     # measuring CPU use over a second while paused
        busy = (d.cpu_seconds() - cpu0) / (time.monotonic() - t0)
        check(busy < 0.25, "the daemon used %.0f%% CPU while accepting was paused"
              % (busy * 100))
        for i in served:
            want = b"client %d" % i
            got = h.recv_exact(clients[i], len(want))
            check(got == want, "client %d got %r" % (i, got))
            clients[i].close()
        for i, s in enumerate(clients):
            if i not in served:
                s.settimeout(h.scaled(5))
                want = b"client %d" % i
                got = h.recv_exact(s, len(want))
                check(got == want, "client %d got %r" % (i, got))
    finally:
        for s in clients:
            s.close()
