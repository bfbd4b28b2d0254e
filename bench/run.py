#!/usr/bin/env python3
"""The benchmark driver behind `make bench`: netdemo side by side with nginx,
Tornado and the C ceiling (bench/ceiling.c) on loopback, server on one CPU and
load generator on another, interleaved repeats, medians. Writes
build/bench/results.json, chart.svg, chart.png and table.md, and prints the
table. Every server is started here and stopped here by PID. See
bench/README.md. Python standard library only."""

import argparse
import http.client
import json
import os
import platform
import re
import resource
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TORNADO_PY = "/usr/bin/python3"    # Debian's python3-tornado loads only there
PAGE_TYPE = "text/html; charset=utf-8"
NOFILE = 20000


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


# ---------------------------------------------------------------- processes

class Proc:
    """A process this driver started; stop() ends it by its PID."""
    live = []

    def __init__(self, name, argv, logpath, **kw):
        self.name = name
        self.logpath = logpath
        self.logf = open(logpath, "ab")
        self.p = subprocess.Popen(argv, stdout=kw.pop("stdout", self.logf),
                                  stderr=self.logf, stdin=kw.pop("stdin", subprocess.DEVNULL),
                                  **kw)
        self.pid = self.p.pid
        Proc.live.append(self)

    def alive(self):
        return self.p.poll() is None

    def stop(self, timeout=5.0):
        try:
            if self.p.poll() is None:
                os.kill(self.pid, signal.SIGTERM)
                try:
                    self.p.wait(timeout)
                except subprocess.TimeoutExpired:
                    os.kill(self.pid, signal.SIGKILL)
                    self.p.wait(timeout)
        except ProcessLookupError:
            pass
        finally:
            self.logf.close()
            if self in Proc.live:
                Proc.live.remove(self)

    def tail(self, n=20):
        try:
            with open(self.logpath, "rb") as f:
                return b"".join(f.readlines()[-n:]).decode(errors="replace")
        except OSError:
            return ""

    @classmethod
    def stop_all(cls):
        for p in list(cls.live):
            p.stop()


def free_ports(n):
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def wait_port(port, proc, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise BenchError("%s exited at start (status %s):\n%s"
                             % (proc.name, proc.p.returncode, proc.tail()))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise BenchError("%s: port %d not open after %.0fs" % (proc.name, port, timeout))


def cpu_ticks(pid):
    """utime + stime of a process (all its threads), in clock ticks."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise BenchError("no VmRSS for pid %d" % pid)


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


TICK_US = 1e6 / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- peers

class Peer:
    """One server under test: its process, its ports (echo, http, http_close)."""

    def __init__(self, name, proc, ports):
        self.name, self.proc, self.ports = name, proc, ports

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        self.proc.stop()


def start_netdemo(ctx, tag):
    echo, web = free_ports(2)
    cfg = os.path.join(ctx.tmp, "netdemo-%s.ini" % tag)
    with open(cfg, "w") as f:
        f.write("; written by bench/run.py\n"
                "[netdemo]\nlog_level = warning\nmax_connections = %d\nshutdown_timeout = 1s\n\n"
                "[echo]\nmodule = echo\nlisten = tcp://127.0.0.1:%d\n\n"
                "[http]\nmodule = http\nlisten = tcp://127.0.0.1:%d\n"
                "; as long as nginx's client_header_timeout, so idle clients stay\n"
                "header_timeout = 60s\n" % (NOFILE - 1000, echo, web))
    proc = Proc("netdemo", ctx.pin_server + [ctx.netdemo, "-c", cfg],
                os.path.join(ctx.tmp, "netdemo-%s.log" % tag))
    for p in (echo, web):
        wait_port(p, proc)
    return Peer("netdemo", proc, {"echo": echo, "http": web, "http_close": web})


def start_nginx(ctx, tag):
    (web,) = free_ports(1)
    d = os.path.join(ctx.tmp, "nginx-%s" % tag)
    os.makedirs(os.path.join(d, "www"), exist_ok=True)
    shutil.copyfile(ctx.page_path, os.path.join(d, "www", "index.html"))
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""# written by bench/run.py
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile %(nofile)d;
pid %(d)s/nginx.pid;
error_log %(d)s/error.log warn;
events { worker_connections %(nofile)d; }
http {
    access_log off;
    client_body_temp_path %(d)s/body;
    proxy_temp_path %(d)s/proxy;
    fastcgi_temp_path %(d)s/fastcgi;
    uwsgi_temp_path %(d)s/uwsgi;
    scgi_temp_path %(d)s/scgi;
    types { }
    default_type "%(type)s";
    sendfile on;
    keepalive_requests 1000000000;
    open_file_cache max=16 inactive=600s;
    open_file_cache_valid 600s;
    server {
        listen 127.0.0.1:%(port)d backlog=4096;
        root %(d)s/www;
        location = / { try_files /index.html =404; }
    }
}
""" % {"nofile": NOFILE, "d": d, "type": PAGE_TYPE, "port": web})
    proc = Proc("nginx", ctx.pin_server + [ctx.nginx, "-p", d, "-e", os.path.join(d, "error.log"),
                                           "-c", conf],
                os.path.join(d, "stderr.log"))
    wait_port(web, proc)
    return Peer("nginx", proc, {"http": web, "http_close": web})


def start_tornado(ctx, tag):
    echo, web = free_ports(2)
    proc = Proc("tornado", ctx.pin_server + [TORNADO_PY, os.path.join(ROOT, "bench", "tornado_server.py"),
                                             "--http", str(web), "--echo", str(echo),
                                             "--body", ctx.page_path],
                os.path.join(ctx.tmp, "tornado-%s.log" % tag))
    for p in (echo, web):
        wait_port(p, proc)
    return Peer("tornado", proc, {"echo": echo, "http": web, "http_close": web})


def start_ceiling(ctx, tag):
    echo, web, close = free_ports(3)
    proc = Proc("ceiling", ctx.pin_server + [os.path.join(ctx.bin, "ceiling"), "--body", ctx.page_path,
                                             "--echo", str(echo), "--http", str(web),
                                             "--http-close", str(close)],
                os.path.join(ctx.tmp, "ceiling-%s.log" % tag))
    for p in (echo, web, close):
        wait_port(p, proc)
    return Peer("ceiling", proc, {"echo": echo, "http": web, "http_close": close})


STARTERS = {"netdemo": start_netdemo, "nginx": start_nginx,
            "tornado": start_tornado, "ceiling": start_ceiling}


def http_get(port, path="/"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.getheader("Content-Type"), r.read()
    finally:
        c.close()


def echo_roundtrip(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"warm-up\n")
        got = b""
        while len(got) < 8:
            chunk = s.recv(64)
            if not chunk:
                break
            got += chunk
    if got != b"warm-up\n":
        raise BenchError("echo on port %d answered %r" % (port, got))


def check_page(peer, page):
    for key in ("http", "http_close"):
        status, ctype, body = http_get(peer.ports[key])
        if status != 200 or body != page or ctype != PAGE_TYPE:
            raise BenchError("%s (%s port): GET / gave %s %r and %d bytes that %s netdemo's page"
                             % (peer.name, key, status, ctype, len(body),
                                "match" if body == page else "do not match"))


# ---------------------------------------------------------------- workloads

def run_wrk(ctx, peer, conns, close):
    port = peer.ports["http_close" if close else "http"]
    argv = ctx.pin_load + ["wrk", "-t1", "-c%d" % conns, "-d%ds" % ctx.seconds, "--timeout", "5s"]
    if close:
        argv += ["-H", "Connection: close"]
    argv.append("http://127.0.0.1:%d/" % port)
    t0 = cpu_ticks(peer.pid)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=ctx.seconds + 60)
    t1 = cpu_ticks(peer.pid)
    if out.returncode != 0:
        raise BenchError("wrk failed: %s" % (out.stderr or out.stdout))
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out.stdout)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)
    if not m or not rps:
        raise BenchError("cannot read wrk's output:\n" + out.stdout)
    reqs = int(m.group(1))
    errs = 0
    se = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out.stdout)
    if se:
        errs += sum(int(x) for x in se.groups())
    n2 = re.search(r"Non-2xx or 3xx responses: (\d+)", out.stdout)
    if n2:
        errs += int(n2.group(1))
    return {"req_s": float(rps.group(1)), "requests": reqs, "errors": errs,
            "cpu_us_per_req": (t1 - t0) * TICK_US / reqs if reqs else None}


# ab (apache2-utils) speaks HTTP/1.0 and, without -k, asks for no
# keep-alive: each request on its own connection, as health checks and
# probes do. -t bounds the run; -n only keeps ab from stopping early.
def run_ab(ctx, peer, conns):
    port = peer.ports["http_close"]
    argv = ctx.pin_load + ["ab", "-q", "-r", "-c", str(conns), "-t", str(ctx.seconds),
                           "-n", "10000000", "-s", "5", "http://127.0.0.1:%d/" % port]
    t0 = cpu_ticks(peer.pid)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=ctx.seconds + 60)
    t1 = cpu_ticks(peer.pid)
    done = re.search(r"Complete requests:\s+(\d+)", out.stdout)
    rps = re.search(r"Requests per second:\s+([\d.]+)", out.stdout)
    if out.returncode != 0 or not done or not rps:
        raise BenchError("ab failed:\n%s%s" % (out.stdout, out.stderr))
    reqs = int(done.group(1))
    errs = 0
    for key in ("Failed requests", "Non-2xx responses"):
        m = re.search(key + r":\s+(\d+)", out.stdout)
        if m:
            errs += int(m.group(1))
    return {"req_s": float(rps.group(1)), "requests": reqs, "errors": errs,
            "cpu_us_per_req": (t1 - t0) * TICK_US / reqs if reqs else None}


def parse_kv(line):
    return dict(kv.split("=", 1) for kv in line.split() if "=" in kv)


def run_loadgen(ctx, peer, mode, conns=None):
    argv = ctx.pin_load + [os.path.join(ctx.bin, "loadgen"), mode, "-p", str(peer.ports["echo"]),
                           "-d", "%g" % ctx.seconds]
    if conns:
        argv += ["-c", str(conns)]
    t0 = cpu_ticks(peer.pid)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=ctx.seconds + 90)
    t1 = cpu_ticks(peer.pid)
    lines = [l for l in out.stdout.splitlines() if l.startswith(mode)]
    if not lines:
        raise BenchError("loadgen %s failed (%d): %s%s" % (mode, out.returncode, out.stdout, out.stderr))
    kv = parse_kv(lines[-1])
    if mode == "bulk":
        if kv.get("verified") != "yes":
            raise BenchError("bulk against %s: %s" % (peer.name, lines[-1]))
        return {"gbps": float(kv["gbps"]), "bytes": int(kv["bytes"]),
                "cpu_us_per_mb": (t1 - t0) * TICK_US / (int(kv["sent"]) / 1e6 or 1)}
    return pingpong_result(kv, "", t1 - t0)


def pingpong_result(kv, prefix, cpu_ticks_used):
    msgs = int(kv.get(prefix + "msgs", 0))
    return {"msg_s": float(kv[prefix + "msg_per_s"]), "p50_us": float(kv[prefix + "p50_us"]),
            "p99_us": float(kv[prefix + "p99_us"]), "msgs": msgs,
            "errors": int(kv[prefix + "errors"]),
            "cpu_us_per_msg": cpu_ticks_used * TICK_US / msgs if msgs else None}


def run_pingpong_pair(ctx, a, b, conns):
    """a and b driven in turns by one loadgen (-q), for twice the run
    length: each gets its turns' worth, in the same moments of the machine."""
    argv = ctx.pin_load + [os.path.join(ctx.bin, "loadgen"), "pingpong",
                           "-p", str(a.ports["echo"]), "-q", str(b.ports["echo"]),
                           "-c", str(conns), "-d", "%g" % (2 * ctx.seconds)]
    ta, tb = cpu_ticks(a.pid), cpu_ticks(b.pid)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=2 * ctx.seconds + 120)
    ta, tb = cpu_ticks(a.pid) - ta, cpu_ticks(b.pid) - tb
    lines = [l for l in out.stdout.splitlines() if l.startswith("pingpong")]
    kv = parse_kv(lines[-1]) if lines else {}
    if "b_msg_per_s" not in kv:
        raise BenchError("loadgen pingpong %s/%s failed (%d): %s%s"
                         % (a.name, b.name, out.returncode, out.stdout, out.stderr))
    return pingpong_result(kv, "", ta), pingpong_result(kv, "b_", tb)


def read_line(pipe, timeout):
    deadline = time.monotonic() + timeout
    buf = b""
    while time.monotonic() < deadline:
        r, _, _ = select.select([pipe], [], [], max(0.0, deadline - time.monotonic()))
        if not r:
            break
        ch = os.read(pipe.fileno(), 1)
        if not ch:
            break
        if ch == b"\n":
            return buf.decode()
        buf += ch
    raise BenchError("no line from the idle load generator within %.0fs (got %r)" % (timeout, buf))


def wait_until(pred, timeout, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


def run_idle(ctx, name, proto):
    """A fresh server (so no earlier connection's freed memory is reused),
    one warm-up request, then RSS before and after N idle connections."""
    peer = STARTERS[name](ctx, "idle")
    try:
        port = peer.ports[proto]
        if proto == "http":
            http_get(port)
        else:
            echo_roundtrip(port)
        # the port probes and the warm-up connection close on the server's
        # side a little later: the baseline is the fd count once it is steady
        counts = [fd_count(peer.pid)]
        for _ in range(50):
            time.sleep(0.1)
            counts.append(fd_count(peer.pid))
            if len(counts) >= 4 and len(set(counts[-4:])) == 1:
                break
        fd0 = counts[-1]
        rss0 = rss_kb(peer.pid)
        lg = Proc("loadgen-idle", ctx.pin_load + [os.path.join(ctx.bin, "loadgen"), "idle",
                                                  "-p", str(port), "-c", str(ctx.idle_conns), "-t", "180"],
                  os.path.join(ctx.tmp, "loadgen-idle.log"), stdin=subprocess.PIPE,
                  stdout=subprocess.PIPE)
        try:
            kv = parse_kv(read_line(lg.p.stdout, 90))
            n = int(kv.get("established", 0))
            if n < ctx.idle_conns:
                raise BenchError("%s %s: only %d of %d idle connections: %s"
                                 % (name, proto, n, ctx.idle_conns, lg.tail()))
            if not wait_until(lambda: fd_count(peer.pid) >= fd0 + n, 60):
                raise BenchError("%s %s: accepted %d of %d connections"
                                 % (name, proto, fd_count(peer.pid) - fd0, n))
            # settle: RSS unchanged over two samples 0.3 s apart (at most 3 s)
            last, rss1 = -1, rss_kb(peer.pid)
            for _ in range(10):
                if rss1 == last:
                    break
                time.sleep(0.3)
                last, rss1 = rss1, rss_kb(peer.pid)
            held = fd_count(peer.pid) - fd0
        finally:
            lg.p.stdin.close()
            try:
                lg.p.wait(20)
            except subprocess.TimeoutExpired:
                pass
            lg.stop()
        return {"kb_per_conn": (rss1 - rss0) / n, "conns": n, "held": held,
                "rss_before_kb": rss0, "rss_after_kb": rss1}
    finally:
        peer.stop()


WORKLOADS = [
    # name, title, peers, how
    ("http_ka_50", "HTTP keep-alive, 50 conns", ["netdemo", "nginx", "tornado", "ceiling"],
     ("wrk", 50, False)),
    ("http_ka_1000", "HTTP keep-alive, 1000 conns", ["netdemo", "nginx", "tornado", "ceiling"],
     ("wrk", 1000, False)),
    ("http_close_50", "HTTP new connection per request, 50 conns",
     ["netdemo", "nginx", "tornado", "ceiling"], ("wrk", 50, True)),
    ("http10_close_50", "HTTP/1.0 without keep-alive (ab), 50 conns",
     ["netdemo", "nginx", "ceiling"], ("ab", 50)),
    ("echo_50", "Echo ping-pong 64 B, 50 conns", ["netdemo", "tornado", "ceiling"],
     ("pingpong", 50)),
    ("echo_1000", "Echo ping-pong 64 B, 1000 conns", ["netdemo", "tornado", "ceiling"],
     ("pingpong", 1000)),
    ("bulk", "Echo bulk stream, 1 conn", ["netdemo", "ceiling"], ("bulk",)),
    ("idle_http", "Idle HTTP connections", ["netdemo", "nginx", "tornado"], ("idle", "http")),
    ("idle_echo", "Idle echo connections", ["netdemo", "tornado"], ("idle", "echo")),
]


def run_one(ctx, peers, wl, name):
    how = wl[3]
    if how[0] == "wrk":
        return run_wrk(ctx, peers[name], how[1], how[2])
    if how[0] == "ab":
        return run_ab(ctx, peers[name], how[1])
    if how[0] == "pingpong":
        return run_loadgen(ctx, peers[name], "pingpong", how[1])
    if how[0] == "bulk":
        return run_loadgen(ctx, peers[name], "bulk")
    return run_idle(ctx, name, how[1])


# ---------------------------------------------------------------- report

PEERS = ["netdemo", "nginx", "tornado", "ceiling"]
PEER_TITLE = {"netdemo": "netdemo", "nginx": "nginx", "tornado": "Tornado", "ceiling": "ceiling"}

# (workload, metric, label, better, [(peer, comparison, target)])
ROWS = [
    ("http_ka_50", "req_s", "req/s", "high", [("nginx", None, None)]),
    ("http_ka_50", "cpu_us_per_req", "server CPU us/req", "low", [("nginx", "<=", 0.9)]),
    ("http_ka_1000", "req_s", "req/s", "high", [("nginx", None, None)]),
    ("http_ka_1000", "cpu_us_per_req", "server CPU us/req", "low", [("nginx", "<=", 0.9)]),
    ("http_close_50", "req_s", "conn/s", "high", [("nginx", None, None)]),
    ("http_close_50", "cpu_us_per_req", "server CPU us/conn", "low", [("nginx", "<=", 0.8)]),
    ("http10_close_50", "req_s", "conn/s", "high", [("nginx", None, None)]),
    ("http10_close_50", "cpu_us_per_req", "server CPU us/conn", "low", [("nginx", "<=", 0.8)]),
    ("echo_50", "msg_s", "msg/s", "high", [("ceiling", ">=", 0.95), ("tornado", ">=", 3.0)]),
    ("echo_50", "p50_us", "p50 us", "low", []),
    ("echo_50", "p99_us", "p99 us", "low", []),
    ("echo_1000", "msg_s", "msg/s", "high", [("ceiling", ">=", 0.95), ("tornado", ">=", 3.0)]),
    ("echo_1000", "p50_us", "p50 us", "low", []),
    ("echo_1000", "p99_us", "p99 us", "low", []),
    ("bulk", "gbps", "GB/s", "high", [("ceiling", ">=", 0.9)]),
    ("idle_http", "kb_per_conn", "RSS KB/conn", "low", [("nginx", None, None), ("tornado", None, None)]),
    ("idle_echo", "kb_per_conn", "RSS KB/conn", "low", [("tornado", None, None)]),
]
IDLE_TARGET_KB = 0.25
# Workloads whose netdemo and ceiling figures come from the same runs, in
# turns: their ratio is the median of the per-run ratios.
PAIRED = {"echo_50", "echo_1000"}


def fmt(v):
    if v is None:
        return "-"
    a = abs(v)
    if a >= 1000:
        return "{:,.0f}".format(v)
    if a >= 100:
        return "%.0f" % v
    if a >= 10:
        return "%.1f" % v
    return "%.2f" % v if a >= 0.1 else "%.3f" % v


def medians(results):
    med = {}
    for wl, per_peer in results.items():
        med[wl] = {}
        for peer, runs in per_peer.items():
            keys = [k for k in runs[0] if isinstance(runs[0][k], (int, float))] if runs else []
            med[wl][peer] = {k: statistics.median(r[k] for r in runs if r.get(k) is not None)
                             for k in keys if any(r.get(k) is not None for r in runs)}
    return med


def paired_ratio(runs, wl, metric, peer):
    """The median of per-run ratios when netdemo and peer were measured in
    the same runs (the ping-pong pairs), else None."""
    if wl not in PAIRED or peer != "ceiling":
        return None
    a, b = runs.get(wl, {}).get("netdemo", []), runs.get(wl, {}).get(peer, [])
    rs = [x[metric] / y[metric] for x, y in zip(a, b) if x.get(metric) and y.get(metric)]
    return statistics.median(rs) if rs and len(a) == len(b) else None


def build_table(med, titles, runs):
    ratios, lines = [], []
    head = ["workload", "metric"] + [PEER_TITLE[p] for p in PEERS] + ["netdemo's ratio (target)"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "|".join(["---", "---"] + ["---:"] * len(PEERS) + ["---"]) + "|")
    last_wl = None
    for wl, metric, label, _better, comps in ROWS:
        if wl not in med:
            continue
        vals = {p: med[wl].get(p, {}).get(metric) for p in PEERS}
        cells = []
        nd = vals["netdemo"]
        for peer, op, target in comps:
            other = vals.get(peer)
            if nd is None or not other:
                continue
            pr = paired_ratio(runs, wl, metric, peer)
            r = pr if pr is not None else nd / other
            verdict = None
            if op:
                verdict = r <= target if op == "<=" else r >= target
            ratios.append({"workload": wl, "metric": metric, "vs": peer, "ratio": r,
                           "paired": pr is not None,
                           "target": ("%s %g" % (op, target)) if op else None, "met": verdict})
            cell = "%.2fx %s%s" % (r, PEER_TITLE[peer], " (paired)" if pr is not None else "")
            if op:
                cell += " (%s %g: %s)" % (op, target, "met" if verdict else "MISSED")
            cells.append(cell)
        if metric == "kb_per_conn" and nd is not None:
            ok = nd <= IDLE_TARGET_KB
            ratios.append({"workload": wl, "metric": metric, "vs": None, "ratio": None,
                           "target": "<= %g KB" % IDLE_TARGET_KB, "met": ok})
            cells.append("%s KB (<= %g KB: %s)" % (fmt(nd), IDLE_TARGET_KB, "met" if ok else "MISSED"))
        title = titles[wl] if wl != last_wl else ""
        last_wl = wl
        lines.append("| " + " | ".join([title, label] + [fmt(vals[p]) for p in PEERS]
                                         + ["; ".join(cells)]) + " |")
    return "\n".join(lines) + "\n", ratios


CHART_PANELS = [
    ("http_ka_50", "cpu_us_per_req", "HTTP keep-alive, 50 conns: server CPU us/req (lower is better)"),
    ("http_ka_1000", "cpu_us_per_req", "HTTP keep-alive, 1000 conns: server CPU us/req (lower is better)"),
    ("http_ka_50", "req_s", "HTTP keep-alive, 50 conns: req/s"),
    ("http_ka_1000", "req_s", "HTTP keep-alive, 1000 conns: req/s"),
    ("http_close_50", "req_s", "HTTP, a new connection per request: conn/s"),
    ("echo_50", "msg_s", "Echo ping-pong, 50 conns: msg/s"),
    ("echo_1000", "msg_s", "Echo ping-pong, 1000 conns: msg/s"),
    ("bulk", "gbps", "Echo bulk, 1 conn: GB/s"),
    ("echo_50", "p99_us", "Echo ping-pong, 50 conns: p99 us (lower is better)"),
    ("echo_1000", "p99_us", "Echo ping-pong, 1000 conns: p99 us (lower is better)"),
    ("idle_http", "kb_per_conn", "Idle HTTP: RSS KB/conn (lower is better)"),
    ("idle_echo", "kb_per_conn", "Idle echo: RSS KB/conn (lower is better)"),
]
COLOURS = {"netdemo": 0x1f77b4, "nginx": 0x2ca02c, "tornado": 0xff7f0e, "ceiling": 0x7f7f7f}


def make_chart(med, outdir, stamp):
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        log("bench: gnuplot not found (apt-get install gnuplot-nox); no chart")
        return []
    dat = os.path.join(outdir, "chart.dat")
    blocks, panels = [], []
    for wl, metric, title in CHART_PANELS:
        rows = ['"%s" %r %d "%s"' % (PEER_TITLE[p], med[wl][p][metric], COLOURS[p], fmt(med[wl][p][metric]))
                for p in PEERS if med.get(wl, {}).get(p, {}).get(metric) is not None]
        if rows:
            blocks.append("\n".join(rows))
            panels.append(title)
    if not blocks:
        return []
    with open(dat, "w") as f:
        f.write("\n\n\n".join(blocks) + "\n")
    plots = []
    for i, title in enumerate(panels):
        plots.append('set title "%s"\nplot "%s" index %d using 0:2:3:xtic(1) with boxes lc rgb variable, '
                     '"" index %d using 0:2:4 with labels offset 0,0.6 font ",8"'
                     % (title, dat, i, i))
    body = "\n".join([
        'set multiplot layout 3,4 title "netdemo bench: medians, %s"' % stamp,
        "set style fill solid 0.85 border -1", "set boxwidth 0.6", "set yrange [0:*]",
        "set offsets 0.5, 0.5, graph 0.12, 0", "set grid ytics", "unset key",
        "set xtics nomirror font \",8\"", "set ytics font \",8\"", "set title font \",9\"",
    ] + plots + ["unset multiplot"])
    out = []
    terms = subprocess.run([gnuplot, "-e", "set terminal"], capture_output=True, text=True, timeout=30)
    png_term = "pngcairo" if "pngcairo" in terms.stdout + terms.stderr else "png"
    for term, name in (("svg size 1800,1000 dynamic background rgb 'white' font 'sans,10'", "chart.svg"),
                       ("%s size 1800,1000 font 'sans,10'" % png_term, "chart.png")):
        path = os.path.join(outdir, name)
        script = "set terminal %s\nset output '%s'\n%s\n" % (term, path, body)
        r = subprocess.run([gnuplot], input=script, capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            log("bench: gnuplot failed for %s: %s" % (name, r.stderr.strip()))
        else:
            out.append(path)
    return out


def update_readme(table, header):
    """Puts the table between the markers of README.md and bench/README.md."""
    begin, end = "<!-- bench-table:begin -->", "<!-- bench-table:end -->"
    for path in (os.path.join(ROOT, "README.md"), os.path.join(ROOT, "bench", "README.md")):
        with open(path) as f:
            text = f.read()
        if begin not in text or end not in text:
            log("bench: no table markers in %s; not updated" % path)
            continue
        pre, rest = text.split(begin, 1)
        _, post = rest.split(end, 1)
        with open(path, "w") as f:
            f.write(pre + begin + "\n" + header + "\n\n" + table + end + post)
        log("bench: table written to %s" % path)


# ---------------------------------------------------------------- main

def tool_version(argv):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        return (r.stdout + r.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return None


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--netdemo", default=os.path.join(ROOT, "build", "netdemo"))
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "bench"),
                    help="where ceiling and loadgen are")
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "bench"))
    ap.add_argument("--seconds", type=int, default=int(os.environ.get("BENCH_SECONDS", 2)),
                    help="length of each run (wrk takes whole seconds)")
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", 3)))
    ap.add_argument("--echo-rounds", type=int, default=None,
                    help="rounds of the echo workloads (ping-pong and bulk), measured against "
                         "the ceiling (default: --rounds, and at least 5 when that is 3 or more)")
    ap.add_argument("--idle-rounds", type=int, default=None,
                    help="rounds of the idle-memory workloads (default: --rounds, at most 2)")
    ap.add_argument("--idle-conns", type=int, default=int(os.environ.get("BENCH_IDLE_CONNS", 10000)))
    ap.add_argument("--only", default=os.environ.get("BENCH_ONLY", ""),
                    help="comma-separated workloads (%s)" % ",".join(w[0] for w in WORKLOADS))
    ap.add_argument("--update-readme", action="store_true",
                    default=os.environ.get("BENCH_UPDATE_README") == "1",
                    help="put the table in README.md and bench/README.md")
    args = ap.parse_args()
    if not 1 <= args.seconds <= 60 or not 1 <= args.rounds <= 20 or not 1 <= args.idle_conns <= 15000:
        ap.error("--seconds in [1, 60], --rounds in [1, 20], --idle-conns in [1, 15000]")
    idle_rounds = args.idle_rounds or min(args.rounds, 2)
    # a measured run (3 rounds or more) gives ping-pong at least 5; a smoke run stays short
    echo_rounds = args.echo_rounds or (max(args.rounds, 5) if args.rounds >= 3 else args.rounds)
    if not 1 <= idle_rounds <= 20 or not 1 <= echo_rounds <= 20:
        ap.error("--echo-rounds and --idle-rounds in [1, 20]")
    only = {w for w in args.only.split(",") if w}
    unknown = only - {w[0] for w in WORKLOADS}
    if unknown:
        ap.error("unknown workload(s): " + ", ".join(sorted(unknown)))
    workloads = [w for w in WORKLOADS if not only or w[0] in only]

    missing = [t for t in ("wrk", "taskset", "nginx") if not shutil.which(t)]
    if any(w[3][0] == "ab" for w in workloads) and not shutil.which("ab"):
        missing.append("ab")
    if not os.path.exists(TORNADO_PY):
        missing.append(TORNADO_PY)
    for exe in (args.netdemo, os.path.join(args.bin, "ceiling"), os.path.join(args.bin, "loadgen")):
        if not os.access(exe, os.X_OK):
            missing.append(exe)
    if missing:
        log("bench: missing: %s (make bench builds and installs them)" % ", ".join(missing))
        return 1

    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, max(NOFILE, resource.getrlimit(resource.RLIMIT_NOFILE)[1])))
    except (ValueError, OSError):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        log("bench: open-file limit is %d, below %d; idle runs may fall short" % (hard, NOFILE))

    cpus = sorted(os.sched_getaffinity(0))
    server_cpu, load_cpu = (cpus[0], cpus[1]) if len(cpus) > 1 else (cpus[0], cpus[0])
    if len(cpus) < 2:
        log("bench: only one CPU; servers and load generators share it")

    os.makedirs(args.out, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    class Ctx:
        pass
    ctx = Ctx()
    ctx.netdemo, ctx.bin, ctx.seconds = os.path.abspath(args.netdemo), os.path.abspath(args.bin), args.seconds
    ctx.nginx = shutil.which("nginx")
    ctx.idle_conns = args.idle_conns
    ctx.pin_server = ["taskset", "-c", str(server_cpu)]
    ctx.pin_load = ["taskset", "-c", str(load_cpu)]
    ctx.tmp = tempfile.mkdtemp(prefix="netdemo-bench-")
    started = time.monotonic()
    results = {w[0]: {} for w in workloads}
    keep_tmp = False
    try:
        # netdemo first: its welcome page is what every other peer serves
        peers = {}
        peers["netdemo"] = start_netdemo(ctx, "main")
        status, ctype, page = http_get(peers["netdemo"].ports["http"])
        if status != 200 or ctype != PAGE_TYPE:
            raise BenchError("netdemo's GET / answered %s %r" % (status, ctype))
        ctx.page_path = os.path.join(ctx.tmp, "page.html")
        with open(ctx.page_path, "wb") as f:
            f.write(page)
        needed = {p for w in workloads if w[3][0] != "idle" for p in w[2]}
        for name in ("nginx", "tornado", "ceiling"):
            if name in needed:
                peers[name] = STARTERS[name](ctx, "main")
        for peer in peers.values():
            if peer.name != "netdemo":
                check_page(peer, page)
        log("bench: %d-byte page; servers on CPU %d, load on CPU %d; %gs runs, %d rounds; pids %s"
            % (len(page), server_cpu, load_cpu, args.seconds, args.rounds,
               ", ".join("%s=%d" % (p.name, p.pid) for p in peers.values())))

        # warm every HTTP and echo server up before anything is measured
        for peer in peers.values():
            subprocess.run(ctx.pin_load + ["wrk", "-t1", "-c10", "-d1s",
                                           "http://127.0.0.1:%d/" % peer.ports["http"]],
                           capture_output=True, timeout=30)
            if "echo" in peer.ports:
                echo_roundtrip(peer.ports["echo"])

        for wl in workloads:
            name, title, wl_peers, how = wl
            rounds = {"idle": idle_rounds, "pingpong": echo_rounds,
                      "bulk": echo_rounds}.get(how[0], args.rounds)
            for r in range(rounds):
                order = wl_peers if r % 2 == 0 else list(reversed(wl_peers))
                if how[0] == "pingpong" and "ceiling" in order:
                    # netdemo and the ceiling in one run, taking turns; who
                    # goes first alternates
                    pair = ("netdemo", "ceiling") if r % 2 == 0 else ("ceiling", "netdemo")
                    order = [pair if p == "netdemo" else p for p in order if p != "ceiling"]
                for p in order:
                    t0 = time.monotonic()
                    if isinstance(p, tuple):
                        got = zip(p, run_pingpong_pair(ctx, peers[p[0]], peers[p[1]], how[1]))
                    else:
                        got = [(p, run_one(ctx, peers, wl, p))]
                    for q, res in got:
                        results[name].setdefault(q, []).append(res)
                        log("bench: %5.1fs %-14s round %d %-8s %s (%.1fs)"
                            % (t0 - started, name, r + 1, q, json.dumps(res),
                               time.monotonic() - t0))
                    if how[0] != "idle":
                        time.sleep(0.2)     # let closed connections go before the next peer
            for p, proc in [(p, peers.get(p)) for p in wl_peers]:
                if proc is not None and not proc.proc.alive():
                    raise BenchError("%s died during %s:\n%s" % (p, name, proc.proc.tail()))
    except BaseException:
        keep_tmp = True
        raise
    finally:
        Proc.stop_all()
        if keep_tmp:
            log("bench: logs kept in %s" % ctx.tmp)
        else:
            shutil.rmtree(ctx.tmp, ignore_errors=True)

    elapsed = time.monotonic() - started
    med = medians(results)
    titles = {w[0]: w[1] for w in WORKLOADS}
    table, ratios = build_table(med, titles, results)
    stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime())
    meta = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "kernel": platform.release(), "cpu": cpu_model(),
        "cpus": os.cpu_count(), "server_cpu": server_cpu, "load_cpu": load_cpu,
        "seconds_per_run": args.seconds, "rounds": args.rounds, "echo_rounds": echo_rounds,
        "idle_rounds": idle_rounds,
        "idle_conns": args.idle_conns, "page_bytes": len(page), "elapsed_s": round(elapsed, 1),
        "netdemo": tool_version([ctx.netdemo, "--version"]), "nginx": tool_version([ctx.nginx, "-v"]),
        "wrk": tool_version(["wrk", "-v"]),
        "tornado": tool_version([TORNADO_PY, "-c", "import tornado; print(tornado.version)"]),
        "cpu_time_source": "/proc/PID/stat utime+stime, %d ticks/s" % os.sysconf("SC_CLK_TCK"),
    }
    header = ("%s, %s, %d CPUs (server on CPU %d, load on CPU %d); %gs per run; medians of "
              "rounds: %d (echo ping-pong and bulk: %d; idle memory: %d, with %d connections); whole run %.0f s."
              % (stamp, meta["cpu"], meta["cpus"], server_cpu, load_cpu, args.seconds, args.rounds,
                 echo_rounds, idle_rounds, args.idle_conns, elapsed))
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"meta": meta, "workloads": {w[0]: w[1] for w in workloads}, "medians": med,
                   "ratios": ratios, "runs": results}, f, indent=2)
    with open(os.path.join(args.out, "table.md"), "w") as f:
        f.write(header + "\n\n" + table)
    charts = make_chart(med, args.out, stamp)
    if args.update_readme:
        update_readme(table, header)
    print()
    print(header)
    print()
    print(table)
    print("results: %s" % os.path.join(args.out, "results.json"))
    for c in charts:
        print("chart:   %s" % c)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as e:
        log("bench: %s" % e)
        sys.exit(1)
