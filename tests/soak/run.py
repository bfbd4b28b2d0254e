#!/usr/bin/env python3
"""run.py: a soak: every kind of client at once against one daemon, for a
while, on loopback; then checks that nothing grew, leaked or broke.

    python3 tests/soak/run.py --binary build/netdemo [--seconds 120] [--keep-log FILE]

`make soak` runs it (SOAK_SECONDS, and SAN=1 for the sanitizer build, whose
LeakSanitizer report at exit then counts too). Not part of `make test`.

The load, all at once until the time is up:
  - wrk, 64 keep-alive connections, a mix of pages, probes and a POST body
    (tests/soak/mix.lua);
  - HTTP connection churn: one request per connection (http.client);
  - echo: bench/loadgen ping-pong, 100 connections, a new set every 3 s
    (each reply checked byte for byte);
  - chat: 20 WebSocket members in one of 4 rooms, each sends a message
    and all must see the 20 in the same order; half leave with a close
    frame, half with a reset; then 20 more;
  - resets: connections that send half a request and reset;
  - UDP echo datagrams.
Every 5 s the daemon's RSS, fds and CPU are sampled. It passes when no
client saw an error, RSS in the last third of the run stays within 10%
(+2 MiB) of the first third (after a warm-up of a quarter), the fds come
back to where they started once the clients stop, the daemon still
answers, and SIGTERM ends it with 0 and no sanitizer report.
"""
import argparse
import http.client
import json
import os
import random
import re
import socket
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

import nd  # noqa: E402
from t_ws import ws, frame, recv_frame  # noqa: E402

SAMPLE_S = 5.0


class Load:
    """What the clients did, shared by their threads."""

    def __init__(self, deadline):
        self.deadline = deadline
        self.lock = threading.Lock()
        self.counts = {}
        self.errors = []

    def live(self):
        return time.monotonic() < self.deadline

    def count(self, what, n=1):
        with self.lock:
            self.counts[what] = self.counts.get(what, 0) + n

    def error(self, what):
        with self.lock:
            if len(self.errors) < 20:
                self.errors.append(what)
            self.counts["errors"] = self.counts.get("errors", 0) + 1


def guard(load, name, fn):
    def run():
        try:
            fn(load)
        except Exception as e:      # a client that broke is an error, not a crash
            load.error("%s: %r" % (name, e))
    t = threading.Thread(target=run, name=name, daemon=True)
    t.start()
    return t


# ---------------------------------------------------------------- clients

def http_churn(load, port):
    while load.live():
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", random.choice(["/", "/health", "/echo?churn=1"]),
                  headers={"Connection": "close"})
        r = c.getresponse()
        body = r.read()
        if r.status != 200 or not body:
            load.error("churn: %d %r" % (r.status, body[:80]))
        c.close()
        load.count("http_churn")


def chat_rooms(load, port, size=20, nrooms=4):
    """A few rooms in turn: a room keeps its history after its members
    leave (up to 1024 rooms), so new names would measure that, not leaks."""
    room = 0
    while load.live():
        room += 1
        members = [ws(port, "/ws/chat?room=soak%d&name=m%d" % (room % nrooms, i))
                   for i in range(size)]
        for i, s in enumerate(members):
            s.sendall(frame(1, b"r%d from %d" % (room, i)))
        orders = []
        for s in members:
            seen = []
            while len(seen) < size:
                op, data = recv_frame(s)
                if op == 1:
                    e = json.loads(data)
                    if e["type"] == "message":
                        seen.append(e["text"])
            orders.append(seen)
        if any(o != orders[0] for o in orders) or \
                sorted(orders[0]) != sorted("r%d from %d" % (room, i) for i in range(size)):
            load.error("chat room %d: members saw different orders" % room)
        for i, s in enumerate(members):
            if i % 2:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                s.sendall(frame(8, struct.pack(">H", 1000)))
            s.close()
        load.count("chat_rooms")
        load.count("chat_messages", size * size)


def resets(load, port):
    while load.live():
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"GET /bytes/100000 HTTP/1.1\r\nHost: soak\r\n" if random.random() < 0.5
                  else b"GET /bytes/100000 HTTP/1.1\r\nHost: soak\r\n\r\n")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        load.count("resets")
        time.sleep(0.002)   # a pace, not a wait for anything


def udp_echo(load, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1.0)
    s.connect(("127.0.0.1", port))
    n = 0
    while load.live():
        msg = b"dgram %d " % n + os.urandom(32)
        s.send(msg)
        try:
            got = s.recv(2048)
        except socket.timeout:
            load.count("udp_lost")
            continue
        if got != msg:
            load.error("udp: %r is not %r" % (got[:40], msg[:40]))
        load.count("udp")
        n += 1
    s.close()


def echo_pingpong(load, port, loadgen):
    while load.live():
        left = load.deadline - time.monotonic()
        if left < 1.5:
            break
        r = subprocess.run([loadgen, "pingpong", "-p", str(port), "-c", "100",
                            "-d", "%.1f" % min(3.0, left - 0.5), "-w", "0"],
                           capture_output=True, text=True, timeout=60)
        m = re.search(r"msgs=(\d+).*errors=(\d+)", r.stdout)
        if r.returncode != 0 or not m or m.group(2) != "0":
            load.error("loadgen: rc %d %s %s" % (r.returncode, r.stdout.strip(), r.stderr.strip()))
        else:
            load.count("echo_msgs", int(m.group(1)))
            load.count("echo_runs")


def run_wrk(load, port, seconds, out):
    r = subprocess.run(["wrk", "-t1", "-c64", "-d%ds" % seconds, "--timeout", "10s",
                        "-s", os.path.join(HERE, "mix.lua"), "http://127.0.0.1:%d/" % port],
                       capture_output=True, text=True, timeout=seconds + 60)
    out.append(r.stdout)
    m = re.search(r"(\d+) requests in", r.stdout)
    if r.returncode != 0 or not m:
        load.error("wrk: rc %d %s" % (r.returncode, r.stdout + r.stderr))
        return
    load.count("wrk_requests", int(m.group(1)))
    for bad in ("Socket errors", "Non-2xx or 3xx responses"):
        if bad in r.stdout:
            load.error("wrk: " + [l for l in r.stdout.splitlines() if bad in l][0].strip())


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", required=True)
    ap.add_argument("--loadgen", default=os.path.join(ROOT, "build", "bench", "loadgen"))
    ap.add_argument("--seconds", type=int, default=120)
    ap.add_argument("--keep-log", metavar="FILE",
                    help="copy the daemon's stderr there at the end")
    opts = ap.parse_args()
    if not 20 <= opts.seconds <= 3600:
        ap.error("--seconds in [20, 3600]")
    for tool in ("wrk",):
        if subprocess.run(["sh", "-c", "command -v " + tool], capture_output=True).returncode:
            print("soak: %s is missing (make bench-deps installs it)" % tool)
            return 2
    nd.BINARY = os.path.abspath(opts.binary)
    nd.SANITIZER = "asan" in nd.BINARY
    nd.SLOW = 3.0 if nd.SANITIZER else 1.0
    nd.raise_nofile()

    http_port, echo_port = nd.free_port(), nd.free_port(udp_too=True)
    d = nd.Daemon(nd.echo_and_http_config(echo_port, http_port, 5000))
    failures = []
    try:
        base_fds = d.fds()
        start = time.monotonic()
        load = Load(start + opts.seconds)
        wrk_out = []
        threads = [
            guard(load, "wrk", lambda l: run_wrk(l, http_port, opts.seconds, wrk_out)),
            guard(load, "http_churn", lambda l: http_churn(l, http_port)),
            guard(load, "echo", lambda l: echo_pingpong(l, echo_port, opts.loadgen)),
            guard(load, "chat", lambda l: chat_rooms(l, http_port)),
            guard(load, "resets", lambda l: resets(l, http_port)),
            guard(load, "udp", lambda l: udp_echo(l, echo_port)),
        ]
        samples = []
        print("soak: %s for %d s; pid %d; http %d, echo %d"
              % (os.path.basename(nd.BINARY), opts.seconds, d.pid, http_port, echo_port),
              flush=True)
        print("%6s %9s %6s %8s" % ("t (s)", "RSS (KB)", "fds", "CPU (s)"), flush=True)
        ticks = os.sysconf("SC_CLK_TCK")
        while True:
            now = time.monotonic()
            if now >= load.deadline:
                break
            time.sleep(min(SAMPLE_S, load.deadline - now))
            if d.proc.poll() is not None:
                failures.append("the daemon exited (%s):\n%s" % (d.proc.returncode, d.log()[-3000:]))
                break
            s = (time.monotonic() - start, d.rss_kb(), d.fds(), d.cpu_ticks() / ticks)
            samples.append(s)
            print("%6.0f %9d %6d %8.1f" % s, flush=True)
        for t in threads:
            t.join(90 * nd.SLOW)
            if t.is_alive():
                failures.append("client %s did not stop" % t.name)

        print("soak: " + ", ".join("%s %d" % kv for kv in sorted(load.counts.items())))
        if wrk_out:
            lat = [l.strip() for l in wrk_out[0].splitlines() if l.strip().startswith(("Latency", "Requests/sec"))]
            print("soak: wrk " + "; ".join(lat))
        failures += ["client: " + e for e in load.errors]
        for need in ("wrk_requests", "http_churn", "echo_msgs", "chat_rooms", "resets", "udp"):
            if not load.counts.get(need):
                failures.append("no %s at all" % need)

        # Memory: the last third of the run against the first third, both
        # after a warm-up of a quarter.
        steady = [s for s in samples if s[0] >= opts.seconds / 4]
        if len(steady) >= 3:
            k = max(1, len(steady) // 3)
            first, last = max(s[1] for s in steady[:k]), max(s[1] for s in steady[-k:])
            print("soak: RSS %d KB in the first third, %d KB in the last (%+.1f%%)"
                  % (first, last, 100.0 * (last - first) / first))
            if last > first * 1.10 + 2048:
                failures.append("RSS grew from %d KB to %d KB" % (first, last))
        else:
            failures.append("too few samples for the memory check (%d)" % len(steady))

        if d.proc.poll() is None:
            try:
                nd.wait_until(lambda: d.fds() <= base_fds, 15 * nd.SLOW, "fds back to %d" % base_fds)
            except nd.Failure:
                failures.append("fds: %d, %d at the start" % (d.fds(), base_fds))
            c = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)
            c.request("GET", "/")
            r = c.getresponse()
            if r.status != 200 or b"Welcome" not in r.read():
                failures.append("GET / after the soak: %d" % r.status)
            c.close()
            rc = d.stop(30)
            if rc != 0:
                failures.append("exit %d after SIGTERM" % rc)
            if "shutdown_timeout reached" in d.log():
                failures.append("the stop needed shutdown_timeout")
        if opts.keep_log:
            with open(opts.keep_log, "w") as f:
                f.write(d.log())
        report = d.sanitizer_report()
        if report:
            failures.append("sanitizer report:\n" + report[-3000:])
    finally:
        nd.reap_all()
    for f in failures:
        print("soak: FAIL " + f)
    print("soak: %s" % ("passed" if not failures else "failed"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
