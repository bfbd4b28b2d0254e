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


def steady_fd_count(pid):
    """The process's fd count once it has stopped moving (the same four
    samples 0.1 s apart, 5 s at most): probes and warm-up connections close
    on the server's side a little after the client's."""
    counts = [fd_count(pid)]
    for _ in range(50):
        time.sleep(0.1)
        counts.append(fd_count(pid))
        if len(counts) >= 4 and len(set(counts[-4:])) == 1:
            break
    return counts[-1]


TICK_US = 1e6 / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- peers

class Peer:
    """One server under test: its process, its ports (echo, http, http_close,
    http_deferred: HTTP on a listener with deferred accept)."""

    def __init__(self, name, proc, ports):
        self.name, self.proc, self.ports = name, proc, ports

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        self.proc.stop()


def start_netdemo(ctx, tag, access_log=None, echo_extra="", http_extra=""):
    """access_log: a file for stdout, and [http] gets access_log = on.
    echo_extra, http_extra: more lines for [echo] and [http]."""
    echo, web, deferred = free_ports(3)
    cfg = os.path.join(ctx.tmp, "netdemo-%s.ini" % tag)
    with open(cfg, "w") as f:
        f.write("; written by bench/run.py\n"
                "[netdemo]\nlog_level = warning\nmax_connections = %d\nshutdown_timeout = 1s\n\n"
                "[echo]\nmodule = echo\nlisten = tcp://127.0.0.1:%d\n%s\n"
                "; nginx's `listen ... deferred` sets TCP_DEFER_ACCEPT to 1 s\n"
                "[http_deferred]\nmodule = http\nlisten = tcp://127.0.0.1:%d\n"
                "defer_accept = 1s\nheader_timeout = 60s\n\n"
                "[http]\nmodule = http\nlisten = tcp://127.0.0.1:%d\n"
                "; as long as nginx's client_header_timeout, so idle clients stay\n"
                "header_timeout = 60s\n%s%s" % (NOFILE - 1000, echo, echo_extra, deferred, web,
                                                 http_extra,
                                                 "access_log = on\n" if access_log else ""))
    kw = {}
    if access_log:
        kw["stdout"] = open(access_log, "ab")     # appending: a truncate starts it afresh
    proc = Proc("netdemo", ctx.pin_server + [ctx.netdemo, "-c", cfg],
                os.path.join(ctx.tmp, "netdemo-%s.log" % tag), **kw)
    if access_log:
        kw["stdout"].close()    # the child has its own descriptor
    for p in (echo, web, deferred):
        wait_port(p, proc)
    return Peer("netdemo", proc, {"echo": echo, "http": web, "http_close": web,
                                  "http_deferred": deferred})


def start_nginx(ctx, tag):
    web, deferred = free_ports(2)
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
    server {
        listen 127.0.0.1:%(dport)d backlog=4096 deferred;
        root %(d)s/www;
        location = / { try_files /index.html =404; }
    }
}
""" % {"nofile": NOFILE, "d": d, "type": PAGE_TYPE, "port": web, "dport": deferred})
    proc = Proc("nginx", ctx.pin_server + [ctx.nginx, "-p", d, "-e", os.path.join(d, "error.log"),
                                           "-c", conf],
                os.path.join(d, "stderr.log"))
    wait_port(web, proc)
    wait_port(deferred, proc)
    return Peer("nginx", proc, {"http": web, "http_close": web, "http_deferred": deferred})


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
    for key in [k for k in ("http", "http_close", "http_deferred") if k in peer.ports]:
        status, ctype, body = http_get(peer.ports[key])
        if status != 200 or body != page or ctype != PAGE_TYPE:
            raise BenchError("%s (%s port): GET / gave %s %r and %d bytes that %s netdemo's page"
                             % (peer.name, key, status, ctype, len(body),
                                "match" if body == page else "do not match"))


# ---------------------------------------------------------------- workloads

def run_wrk(ctx, peer, conns, close, port_key=None):
    port = peer.ports[port_key or ("http_close" if close else "http")]
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


def run_access_log(ctx, peers, conns):
    """The HTTP keep-alive load against netdemo with access_log = off (the
    main instance) and against a second instance with access_log = on and
    its stdout in a file on disk, one run each, who goes first alternating.
    The figure is the ratio of their CPU per request."""
    if getattr(ctx, "alog", None) is None:
        ctx.alog_file = os.path.join(ctx.out, "access-log.tmp")
        ctx.alog = start_netdemo(ctx, "alog", access_log=ctx.alog_file)
        subprocess.run(ctx.pin_load + ["wrk", "-t1", "-c10", "-d1s",
                                       "http://127.0.0.1:%d/" % ctx.alog.ports["http"]],
                       capture_output=True, timeout=30)
        ctx.alog_turn = 0
    res = {}
    order = [("off", peers["netdemo"]), ("on", ctx.alog)]
    if ctx.alog_turn % 2:
        order.reverse()
    ctx.alog_turn += 1
    for tag, peer in order:
        if tag == "on":
            os.truncate(ctx.alog_file, 0)
        r = run_wrk(ctx, peer, conns, False)
        res["req_s_" + tag] = r["req_s"]
        res["cpu_us_per_req_" + tag] = r["cpu_us_per_req"]
        res["errors_" + tag] = r["errors"]
        time.sleep(0.2)
        if tag == "on":
            # a line per request (more than wrk counts: it leaves some unread)
            with open(ctx.alog_file, "rb") as f:
                res["lines_on"] = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
            res["requests_on"] = r["requests"]
            if res["lines_on"] < r["requests"]:
                raise BenchError("access_log = on: %d lines for %d requests"
                                 % (res["lines_on"], r["requests"]))
    res["cpu_ratio"] = (res["cpu_us_per_req_on"] / res["cpu_us_per_req_off"]
                        if res["cpu_us_per_req_on"] and res["cpu_us_per_req_off"] else None)
    return res


# ab (apache2-utils) speaks HTTP/1.0 and, without -k, asks for no
# keep-alive: each request on its own connection, as health checks and
# probes do. -t bounds the run; -n only keeps ab from stopping early.
def run_ab(ctx, peer, conns, port_key="http_close"):
    port = peer.ports[port_key]
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
    if mode == "pingpong" and ctx.load_threads > 1:
        argv += ["-j", str(min(ctx.load_threads, conns or 1))]
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
    """The server's CPU is taken over the whole loadgen run, so it is
    divided by every reply of that run (all_msgs: warm-up, turns' tails and
    all), not only by those counted for msg/s. lg_busy is the load
    generator's CPU over its wall time (both sides, when in turns): near
    1.0 per load CPU means the generator, not the server, set the pace."""
    msgs = int(kv.get(prefix + "msgs", 0))
    all_msgs = int(kv.get(prefix + "all_msgs", msgs))
    return {"msg_s": float(kv[prefix + "msg_per_s"]), "p50_us": float(kv[prefix + "p50_us"]),
            "p99_us": float(kv[prefix + "p99_us"]), "msgs": msgs, "all_msgs": all_msgs,
            "errors": int(kv[prefix + "errors"]),
            "cpu_us_per_msg": cpu_ticks_used * TICK_US / all_msgs if all_msgs else None,
            "lg_busy": float(kv["lg_busy"]) if "lg_busy" in kv else None}


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
        fd0 = steady_fd_count(peer.pid)
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


# ---------------------------------------------------------------- memory at scale
# Issue 16, point 3: memory per idle connection, the process's own and the
# kernel's, at several counts; the slope gives what a million would need.

MEM_STEP = 5000                 # connections added per step, by one holder process
MEM_STEPS = 3                   # so 5k, 10k, 15k: each holder stays under 20,000 fds
MEM_ROOMS = 1000                # chat members spread over this many rooms
# (peer, key, port, loadgen idle -u PATH)
MEM_CASES = [
    ("netdemo", "echo", "echo", "/"),        # echo sends the request back
    ("netdemo", "http", "http", "/"),
    ("netdemo", "ws", "http", "/ws/chat?room=m{}&name=member"),
    ("nginx", "http", "http", "/"),
]
MEM_TITLE = {"echo": "echo", "http": "HTTP keep-alive", "ws": "WebSocket chat member"}


def start_netdemo_mem(ctx, tag):
    """netdemo as start_netdemo has it, but with nothing timing idle
    connections out while they are counted (keep-alive, WebSocket pings)."""
    return start_netdemo(ctx, tag, echo_extra="idle_timeout = 1h\n",
                         http_extra="idle_timeout = 1h\nkeepalive_timeout = 1h\n"
                                    "ws_ping_interval = 1h\n")


def kernel_mem():
    """Box-wide: TCP socket buffer pages and sockets in use (sockstat), and
    slab memory (meminfo), in bytes."""
    out = {}
    with open("/proc/net/sockstat") as f:
        for line in f:
            kv = line.split()
            if kv[0] == "sockets:":
                out["sockets"] = int(kv[2])
            elif kv[0] == "TCP:":
                d = dict(zip(kv[1::2], kv[2::2]))
                out["tcp_inuse"] = int(d["inuse"])
                out["tcp_mem_b"] = int(d["mem"]) * os.sysconf("SC_PAGE_SIZE")
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":", 1)
            if k in ("Slab", "SUnreclaim"):
                out[k.lower() + "_b"] = int(v.split()[0]) * 1024
    return out


def slab_caches():
    """{cache: (objects, object size)} from /proc/slabinfo (root only; {}
    otherwise)."""
    try:
        with open("/proc/slabinfo") as f:
            lines = f.readlines()[2:]
    except OSError:
        return {}
    return {l.split()[0]: (int(l.split()[1]), int(l.split()[3])) for l in lines}


def proc_fd_slab(caches):
    """Slab bytes of /proc inodes and their dentries. Anything on the box
    that lists /proc/PID/fd (this driver's fd counts, a monitor, another
    bench) makes one of each per fd listed, ~0.9 KB, and they are not the
    sockets' own: they are taken out of the kernel figure."""
    objs, size = caches.get("proc_inode_cache", (0, 0))
    return objs * (size + caches.get("dentry", (0, 192))[1])


def slope(xs, ys):
    """Least-squares slope of ys over xs."""
    mx, my = statistics.mean(xs), statistics.mean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else None


def mem_case(ctx, name, key, port_key, path):
    """A fresh server, a baseline, then MEM_STEPS holders of MEM_STEP idle
    connections each, started one after another; at each step the server's
    RSS, its fd count and the box's kernel figures once they are steady."""
    peer = (start_netdemo_mem if name == "netdemo" else STARTERS[name])(ctx, "mem-" + key)
    holders = []
    try:
        port = peer.ports[port_key]
        http_get(port) if port_key == "http" else echo_roundtrip(port)
        fd0 = steady_fd_count(peer.pid)
        slab0 = slab_caches()
        steps = [{"conns": 0, "rss_kb": rss_kb(peer.pid), **kernel_mem(),
                  "proc_fd_slab_b": proc_fd_slab(slab0)}]
        for i in range(MEM_STEPS):
            argv = ctx.pin_load + [os.path.join(ctx.bin, "loadgen"), "idle", "-p", str(port),
                                   "-c", str(MEM_STEP), "-t", "300"]
            if "{}" in path:
                # member j of each holder joins room j mod MEM_ROOMS: every step
                # adds 5 members to each of 1000 rooms (a join notifies the
                # room, so one big room would cost O(N^2) notices)
                argv += ["-m", str(MEM_ROOMS)]
            argv += ["-u", path]
            lg = Proc("loadgen-mem", argv, os.path.join(ctx.tmp, "loadgen-mem.log"),
                      stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            holders.append(lg)
            kv = parse_kv(read_line(lg.p.stdout, 120))
            if int(kv.get("established", 0)) < MEM_STEP or int(kv.get("answered", 0)) < MEM_STEP:
                raise BenchError("mem_scale %s %s step %d: %s" % (name, key, i + 1, kv))
            # every connection was answered, so the server has accepted it.
            # Its fds are not counted here: listing /proc/PID/fd makes a
            # proc inode and dentry per fd (about 1.3 KB of slab each) and
            # would be charged to the sockets; it is done once, at the end.
            last, rss = -1, rss_kb(peer.pid)
            for _ in range(10):
                if rss == last:
                    break
                time.sleep(0.3)
                last, rss = rss, rss_kb(peer.pid)
            # the kernel's figures move with the whole box: median of five
            ks = []
            for _ in range(5):
                ks.append({**kernel_mem(), "proc_fd_slab_b": proc_fd_slab(slab_caches())})
                time.sleep(0.1)
            k = {f: statistics.median(x[f] for x in ks) for f in ks[0]}
            steps.append({"conns": MEM_STEP * (i + 1), "rss_kb": rss, **k})
        grown = slab_caches()
        steps[-1]["held"] = fd_count(peer.pid) - fd0
        if steps[-1]["held"] < MEM_STEP * MEM_STEPS:
            raise BenchError("mem_scale %s %s: the server holds %d of %d connections"
                             % (name, key, steps[-1]["held"], MEM_STEP * MEM_STEPS))
        nbytes = lambda caches, c: caches.get(c, (0, 0))[0] * caches.get(c, (0, 0))[1]
        caches = sorted(((c, nbytes(grown, c) - nbytes(slab0, c)) for c in grown),
                        key=lambda t: -t[1])[:8]
    finally:
        for lg in holders:
            lg.p.stdin.close()
        for lg in holders:
            try:
                lg.p.wait(30)
            except subprocess.TimeoutExpired:
                pass
            lg.stop()
        peer.stop()
    n = [s["conns"] for s in steps]
    user = slope(n, [s["rss_kb"] * 1024 for s in steps])
    # kernel: bytes per socket from the box's socket count, so sockets other
    # processes opened or closed meanwhile are not charged to these; the
    # server owns one socket per connection (its holder the other)
    socks = [s["sockets"] for s in steps]
    slab_per_sock = slope(socks, [s["slab_b"] - s["proc_fd_slab_b"] for s in steps])
    proc_per_sock = slope(socks, [s["proc_fd_slab_b"] for s in steps])
    unrec_per_sock = slope(socks, [s["sunreclaim_b"] for s in steps])
    tcpmem_per_sock = slope(socks, [s["tcp_mem_b"] for s in steps])
    return {key + "_user_b": user,
            key + "_kernel_b": (slab_per_sock or 0) + (tcpmem_per_sock or 0),
            key + "_slab_b": slab_per_sock, key + "_sunreclaim_b": unrec_per_sock,
            key + "_proc_fd_slab_b": proc_per_sock,
            key + "_tcp_mem_b": tcpmem_per_sock,
            key + "_steps": steps, key + "_slab_caches": dict(caches)}


def run_mem_scale(ctx, name):
    out = {}
    for peer, key, port_key, path in MEM_CASES:
        if peer == name:
            out.update(mem_case(ctx, name, key, port_key, path))
            log("bench: mem_scale %s %s: user %.0f B/conn, kernel %.0f B/socket"
                % (name, key, out[key + "_user_b"], out[key + "_kernel_b"]))
    return out


def million_note(med):
    """What one million idle connections would take on one box, from the
    medians' slopes, and the kernel settings that go with it: text lines."""
    m = med.get("mem_scale", {})
    if not m:
        return []
    lines = ["One million idle connections on one box (slope over %s connections; kernel "
             "figures are box-wide, per socket, one socket on the server per connection):"
             % "/".join("%dk" % (MEM_STEP * (i + 1) // 1000) for i in range(MEM_STEPS))]
    for peer, key, _, _ in MEM_CASES:
        u, k = m.get(peer, {}).get(key + "_user_b"), m.get(peer, {}).get(key + "_kernel_b")
        if u is None or k is None:
            continue
        lines.append("- %s %s: %.0f B user + %.0f B kernel = %.0f B per connection; x 1,000,000 = "
                     "%.2f GB (%.2f GB user, %.2f GB kernel)"
                     % (PEER_TITLE[peer], MEM_TITLE[key], u, k, u + k, (u + k) / 1e3, u / 1e3, k / 1e3))
    lines.append("  (clients on the same box add their own sockets' kernel share again, ~%.1f GB)"
                 % (statistics.median(m[p][k + "_kernel_b"] for p, k, _, _ in MEM_CASES
                                      if m.get(p, {}).get(k + "_kernel_b") is not None) / 1e3))
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        lo, hi = map(int, f.read().split())
    ports = hi - lo + 1
    with open("/proc/sys/net/ipv4/tcp_mem") as f:
        tcp_mem = f.read().split()
    with open("/proc/sys/fs/nr_open") as f:
        nr_open = int(f.read())
    page = os.sysconf("SC_PAGE_SIZE")
    lines += [
        "Settings for 1,000,000 (this box now: fs.nr_open=%d, ports %d-%d, tcp_mem %s pages):"
        % (nr_open, lo, hi, " ".join(tcp_mem)),
        "- fds: fs.nr_open >= 1,001,000 (1M sockets + listeners, logs, epoll), e.g. 1048576 if "
        "nothing else is needed, else 1100000; LimitNOFILE=1100000 in the unit (or ulimit -n); "
        "fs.file-max >= 1.1M (2.2M with the clients on the same box); netdemo max_connections = 1000000",
        "- accept queue: net.core.somaxconn >= 4096 (netdemo listens with a backlog of 4096; "
        "more only helps bursts of connects, e.g. 65535), net.ipv4.tcp_max_syn_backlog alike",
        "- kernel socket memory: idle sockets hold no buffers (tcp_mem's count stays ~0); the "
        "limit bites when they send: at 4 KiB queued per connection, 1M x 4096 / %d = %d pages, "
        "so net.ipv4.tcp_mem = \"%d %d %d\" (4, 6, 8 GiB) keeps a busy million out of memory pressure"
        % (page, 1000000 * 4096 // page, 4 << 30 >> 12, 6 << 30 >> 12, 8 << 30 >> 12),
        "- client ports: one source IP reaches one server address:port from at most the "
        "ip_local_port_range, %d ports here (64,512 with 1024-65535): 1,000,000 / 64,512 -> 16 "
        "source IPs (127.0.0.1-127.0.0.16 on loopback, bind() before connect()) or 16 listening "
        "ports; with this range, %d. Close with a reset or enable net.ipv4.tcp_tw_reuse so "
        "TIME_WAIT does not hold them" % (ports, -(-1000000 // ports)),
    ]
    return lines


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
    # The same two on listeners with deferred accept: netdemo's defer_accept,
    # nginx's `listen ... deferred` (both TCP_DEFER_ACCEPT, 1 s).
    ("http_close_50_deferred", "HTTP new connection per request, 50 conns, deferred accept",
     ["netdemo", "nginx"], ("wrk", 50, True, "http_deferred")),
    ("http10_close_50_deferred", "HTTP/1.0 without keep-alive (ab), 50 conns, deferred accept",
     ["netdemo", "nginx"], ("ab", 50, "http_deferred")),
    ("echo_50", "Echo ping-pong 64 B, 50 conns", ["netdemo", "tornado", "ceiling"],
     ("pingpong", 50)),
    ("echo_1000", "Echo ping-pong 64 B, 1000 conns", ["netdemo", "tornado", "ceiling"],
     ("pingpong", 1000)),
    ("bulk", "Echo bulk stream, 1 conn", ["netdemo", "ceiling"], ("bulk",)),
    ("idle_http", "Idle HTTP connections", ["netdemo", "nginx", "tornado"], ("idle", "http")),
    ("idle_echo", "Idle echo connections", ["netdemo", "tornado"], ("idle", "echo")),
    ("mem_scale", "Memory per idle connection, 5k-15k", ["netdemo", "nginx"], ("mem",)),
    ("http_alog_50", "HTTP keep-alive, 50 conns: access_log = on vs off", ["netdemo"],
     ("alog", 50)),
]


# ---------------------------------------------------------------- WebSocket broadcast

# One room of N members (bench/wsbcast.c, pinned to the load CPU), one of
# them publishing 100-byte text messages with a bounded window in flight;
# every member must get every message in order. Each run has fresh servers:
# netdemo's /ws/chat, node's `ws` running the broadcast loop of its README
# (bench/ws_bcast.js) and Tornado (bench/tornado_ws.py), on the server CPU.
WS_NODE_MODULES = os.path.join(ROOT, "build", "bench", "node_modules")
BCAST_WINDOW = 16


def start_ws_node(ctx, tag):
    (port,) = free_ports(1)
    node = shutil.which("node") or shutil.which("nodejs")
    if not node or not os.path.isdir(os.path.join(WS_NODE_MODULES, "ws")):
        raise BenchError("the ws peer needs nodejs and %s/ws (bench/deps.sh installs them)"
                         % WS_NODE_MODULES)
    env = dict(os.environ, NODE_PATH=WS_NODE_MODULES)
    proc = Proc("ws", ctx.pin_server + [node, os.path.join(ROOT, "bench", "ws_bcast.js"), str(port)],
                os.path.join(ctx.tmp, "ws-%s.log" % tag), env=env)
    wait_port(port, proc)
    return Peer("ws", proc, {"ws": port, "ws_path": "/"})


def start_tornado_ws(ctx, tag):
    (port,) = free_ports(1)
    proc = Proc("tornado", ctx.pin_server + [TORNADO_PY, os.path.join(ROOT, "bench", "tornado_ws.py"),
                                             str(port)],
                os.path.join(ctx.tmp, "tornado-ws-%s.log" % tag))
    wait_port(port, proc)
    return Peer("tornado", proc, {"ws": port, "ws_path": "/"})


def start_netdemo_ws(ctx, tag):
    peer = start_netdemo(ctx, tag)
    peer.ports.update(ws=peer.ports["http"], ws_path="/ws/chat?room=bench&name=m", json=True)
    return peer


WS_STARTERS = {"netdemo": start_netdemo_ws, "ws": start_ws_node, "tornado": start_tornado_ws}


def wsbcast_client(ctx, name, ports, path, pids, members, window, at_once, broadcast, json_events,
                   no_presence=False):
    """Runs bench/wsbcast on the load CPU: members on ports[0] (and, with a
    second port, the odd ones on ports[1]), the server's CPU the sum of
    pids'. Returns its key=value line as a dict, verified."""
    exe = os.path.join(ctx.bin, "wsbcast")
    if not os.access(exe, os.X_OK):
        raise BenchError("missing %s (make bench-bin builds it)" % exe)
    argv = ctx.pin_load + [exe, "-p", str(ports[0]), "-u", path,
                           "-c", str(members), "-w", str(window), "-J", str(at_once),
                           "-d", "%g" % (ctx.seconds if broadcast else 0)]
    if len(ports) > 1:
        argv += ["-q", str(ports[1])]
    for pid in pids:
        argv += ["-s", str(pid)]
    if json_events:
        argv.append("-j")
    if no_presence:
        argv.append("-N")
    out = subprocess.run(argv, capture_output=True, text=True, timeout=ctx.seconds + 180)
    lines = [l for l in out.stdout.splitlines() if l.startswith("wsbcast")]
    kv = parse_kv(lines[-1]) if lines else {}
    if kv.get("verified") != "yes":
        raise BenchError("wsbcast against %s failed (%d): %s%s"
                         % (name, out.returncode, out.stdout, out.stderr))
    return kv


def bcast_result(kv):
    cpu = float(kv["server_cpu_s"])
    return {"deliveries": int(kv["deliveries"]), "deliveries_s": float(kv["deliveries_per_s"]),
            "server_cpu_s": cpu, "client_cpu_s": float(kv["client_cpu_s"]),
            "deliveries_per_cpu_s": int(kv["deliveries"]) / cpu if cpu > 0 else None,
            "p50_ms": float(kv["lat_p50_us"]) / 1000, "p99_ms": float(kv["lat_p99_us"]) / 1000}


def run_wsbcast(ctx, name, how):
    """how: ("wsbcast", members, measure_broadcast, joins_at_once, window).
    The server's CPU time of each phase comes from wsbcast (-s PID)."""
    _, members, broadcast, at_once, window = how
    peer = WS_STARTERS[name](ctx, "bcast")
    try:
        kv = wsbcast_client(ctx, name, [peer.ports["ws"]], peer.ports["ws_path"], [peer.pid],
                            members, window, at_once, broadcast, peer.ports.get("json"))
        res = {"join_cpu_s": float(kv["join_server_cpu_s"]), "join_s": float(kv["join_s"])}
        if broadcast:
            res.update(bcast_result(kv))
        return res
    finally:
        peer.stop()


# ---------------------------------------------------------------- broadcast across instances

# The room shared through Redis (chat_backend = redis://): a redis-server
# of the bench's own and two netdemo instances, all on the server CPU; the
# members are spread over both instances (wsbcast -q: the odd ones on the
# second), the publisher, member 0, on the first. Server CPU is both
# netdemos' and redis-server's. In the same round, for comparison, the
# same client against one netdemo with chat_backend = local.

def redis_answers(port):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=1)
    except OSError:
        return False
    try:
        s.sendall(b"PING\r\n")
        return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False
    finally:
        s.close()


def start_redis(ctx, tag):
    """Debian's redis-server on a free loopback port, no persistence, its
    files and log in the temp directory."""
    exe = shutil.which("redis-server")
    if not exe:
        raise BenchError("the Redis broadcast needs redis-server (bench/deps.sh installs it)")
    (port,) = free_ports(1)
    d = os.path.join(ctx.tmp, "redis-%s" % tag)
    os.makedirs(d, exist_ok=True)
    proc = Proc("redis-server", ctx.pin_server + [exe, "--port", str(port), "--bind", "127.0.0.1",
                                                  "--save", "", "--appendonly", "no", "--dir", d,
                                                  "--daemonize", "no", "--loglevel", "warning"],
                os.path.join(ctx.tmp, "redis-%s.log" % tag))
    deadline = time.monotonic() + 15
    while not redis_answers(port):
        if not proc.alive():
            raise BenchError("redis-server exited at start (status %s):\n%s"
                             % (proc.p.returncode, proc.tail()))
        if time.monotonic() > deadline:
            proc.stop()
            raise BenchError("redis-server: no PONG on port %d after 15 s" % port)
        time.sleep(0.05)
    return Peer("redis", proc, {"redis": port})


def run_wsbcast_redis(ctx, how):
    """how: ("wsredis", members, window). One run of the local backend and
    one through Redis, fresh servers each, who goes first alternating by
    round; the Redis figures over the local ones are this round's ratios."""
    _, members, window = how
    path = "/ws/chat?room=bench&name=m"
    turn = getattr(ctx, "wsredis_turn", 0)
    ctx.wsredis_turn = turn + 1
    res = {}
    for tag in (("local", "redis") if turn % 2 == 0 else ("redis", "local")):
        procs = []
        try:
            if tag == "local":
                procs.append(start_netdemo(ctx, "bcast-local", http_extra="chat_backend = local\n"))
            else:
                redis = start_redis(ctx, "bcast")
                procs.append(redis)
                url = "chat_backend = redis://127.0.0.1:%d\n" % redis.ports["redis"]
                for k in ("a", "b"):
                    procs.append(start_netdemo(ctx, "bcast-redis-" + k, http_extra=url))
            netdemos = [p for p in procs if p.name == "netdemo"]
            kv = wsbcast_client(ctx, "netdemo (%s)" % tag, [p.ports["http"] for p in netdemos], path,
                                [p.pid for p in procs], members, window, 256, True, True,
                                no_presence=(tag == "redis"))
            for p in procs:
                if not p.proc.alive():
                    raise BenchError("%s died during the %s broadcast:\n%s"
                                     % (p.name, tag, p.proc.tail()))
        finally:
            for p in reversed(procs):
                p.stop()
        for k, v in bcast_result(kv).items():
            res["%s_%s" % (tag, k)] = v
        if tag == "redis":
            # -s order: redis-server, then the two netdemos
            each = [float(x) for x in kv["server_cpu_s_each"].split(",")]
            res["redis_redis_cpu_s"] = each[0]
            res["redis_netdemo_cpu_s"] = sum(each[1:])
        time.sleep(0.2)     # let closed connections go before the next run
    for k in ("deliveries_per_cpu_s", "deliveries_s", "p50_ms", "p99_ms"):
        a, b = res.get("redis_" + k), res.get("local_" + k)
        res[k + "_ratio"] = a / b if a and b else None
    return res


BCAST_WORKLOADS = [
    ("ws_broadcast_1000", "WebSocket broadcast, 1000 members, 100 B, window %d" % BCAST_WINDOW,
     ["netdemo", "ws", "tornado"], ("wsbcast", 1000, True, 256, BCAST_WINDOW)),
    # one message at a time: nothing to combine, each delivery its own send
    ("ws_broadcast_1000_w1", "WebSocket broadcast, 1000 members, 100 B, one at a time",
     ["netdemo", "ws", "tornado"], ("wsbcast", 1000, True, 256, 1)),
    ("joins_1000", "1000 members joining a room, one at a time", ["netdemo", "ws", "tornado"],
     ("wsbcast", 1000, False, 1, 1)),
    ("ws_broadcast_redis_1000", "WebSocket broadcast, 1000 members over 2 instances through Redis "
     "vs 1 instance (local), 100 B, window %d" % BCAST_WINDOW, ["netdemo"],
     ("wsredis", 1000, BCAST_WINDOW)),
]
BCAST_ROWS = [
    ("ws_broadcast_1000", "deliveries_per_cpu_s", "deliveries per server CPU-s", "high",
     [("ws", ">=", 2.0), ("tornado", None, None)]),
    ("ws_broadcast_1000", "deliveries_s", "deliveries/s", "high", [("ws", None, None)]),
    ("ws_broadcast_1000", "client_cpu_s", "client CPU s (load side)", "low", []),
    ("ws_broadcast_1000", "server_cpu_s", "server CPU s", "low", []),
    ("ws_broadcast_1000_w1", "deliveries_per_cpu_s", "deliveries per server CPU-s", "high",
     [("ws", None, None), ("tornado", None, None)]),
    ("ws_broadcast_1000_w1", "client_cpu_s", "client CPU s (load side)", "low", []),
    ("ws_broadcast_1000_w1", "server_cpu_s", "server CPU s", "low", []),
    ("joins_1000", "join_cpu_s", "server CPU s", "low", [("ws", None, None)]),
    ("ws_broadcast_redis_1000", "local_deliveries_per_cpu_s", "local: deliveries per server CPU-s",
     "high", []),
    ("ws_broadcast_redis_1000", "redis_deliveries_per_cpu_s",
     "Redis: deliveries per server CPU-s (2 netdemos + redis-server)", "high", []),
    ("ws_broadcast_redis_1000", "local_deliveries_s", "local: deliveries/s", "high", []),
    ("ws_broadcast_redis_1000", "redis_deliveries_s", "Redis: deliveries/s", "high", []),
    ("ws_broadcast_redis_1000", "local_p50_ms", "local: p50 delivery latency ms", "low", []),
    ("ws_broadcast_redis_1000", "redis_p50_ms", "Redis: p50 delivery latency ms", "low", []),
    ("ws_broadcast_redis_1000", "local_p99_ms", "local: p99 delivery latency ms", "low", []),
    ("ws_broadcast_redis_1000", "redis_p99_ms", "Redis: p99 delivery latency ms", "low", []),
    ("ws_broadcast_redis_1000", "local_server_cpu_s", "local: server CPU s", "low", []),
    ("ws_broadcast_redis_1000", "redis_server_cpu_s", "Redis: server CPU s", "low", []),
    ("ws_broadcast_redis_1000", "redis_redis_cpu_s", "Redis: of which redis-server", "low", []),
    ("ws_broadcast_redis_1000", "redis_client_cpu_s", "Redis: client CPU s (load side)", "low", []),
]
# Figures compared with another figure of the same runs: (workload, metric)
# -> (the metric holding each round's ratio, what it is relative to). The
# table shows the median of the rounds' own ratios.
SAME_RUN_RATIOS = {
    ("ws_broadcast_redis_1000", "redis_deliveries_per_cpu_s"): ("deliveries_per_cpu_s_ratio", "local"),
    ("ws_broadcast_redis_1000", "redis_deliveries_s"): ("deliveries_s_ratio", "local"),
    ("ws_broadcast_redis_1000", "redis_p50_ms"): ("p50_ms_ratio", "local"),
    ("ws_broadcast_redis_1000", "redis_p99_ms"): ("p99_ms_ratio", "local"),
}
# Targets on netdemo's own figure: (workload, metric) -> (op, value, unit)
ABS_TARGETS = {("joins_1000", "join_cpu_s"): ("<", 0.5, "s")}


def run_one(ctx, peers, wl, name):
    how = wl[3]
    if how[0] == "wrk":
        return run_wrk(ctx, peers[name], how[1], how[2], *how[3:])
    if how[0] == "ab":
        return run_ab(ctx, peers[name], how[1], *how[2:])
    if how[0] == "pingpong":
        return run_loadgen(ctx, peers[name], "pingpong", how[1])
    if how[0] == "bulk":
        return run_loadgen(ctx, peers[name], "bulk")
    if how[0] == "mem":
        return run_mem_scale(ctx, name)
    if how[0] == "wsbcast":
        return run_wsbcast(ctx, name, how)
    if how[0] == "wsredis":
        return run_wsbcast_redis(ctx, how)
    if how[0] == "alog":
        return run_access_log(ctx, peers, how[1])
    return run_idle(ctx, name, how[1])


WORKLOADS += BCAST_WORKLOADS

# ---------------------------------------------------------------- report

PEERS = ["netdemo", "nginx", "tornado", "ceiling", "ws"]
PEER_TITLE = {"netdemo": "netdemo", "nginx": "nginx", "tornado": "Tornado", "ceiling": "ceiling",
              "ws": "ws (node)"}

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
    ("http_close_50_deferred", "req_s", "conn/s", "high", [("nginx", None, None)]),
    ("http_close_50_deferred", "cpu_us_per_req", "server CPU us/conn", "low",
     [("nginx", "<=", 0.8)]),
    ("http10_close_50_deferred", "req_s", "conn/s", "high", [("nginx", None, None)]),
    ("http10_close_50_deferred", "cpu_us_per_req", "server CPU us/conn", "low",
     [("nginx", "<=", 0.8)]),
    ("echo_50", "msg_s", "msg/s", "high", [("ceiling", ">=", 0.95), ("tornado", ">=", 3.0)]),
    ("echo_50", "p50_us", "p50 us", "low", []),
    ("echo_50", "p99_us", "p99 us", "low", []),
    ("echo_50", "cpu_us_per_msg", "server CPU us/msg", "low", [("ceiling", None, None),
                                                               ("tornado", None, None)]),
    ("echo_50", "lg_busy", "loadgen CPU busy", "low", []),
    ("echo_1000", "msg_s", "msg/s", "high", [("ceiling", ">=", 0.95), ("tornado", ">=", 3.0)]),
    ("echo_1000", "p50_us", "p50 us", "low", []),
    ("echo_1000", "p99_us", "p99 us", "low", []),
    ("echo_1000", "cpu_us_per_msg", "server CPU us/msg", "low", [("ceiling", None, None),
                                                                 ("tornado", None, None)]),
    ("echo_1000", "lg_busy", "loadgen CPU busy", "low", []),
    ("bulk", "gbps", "GB/s", "high", [("ceiling", ">=", 0.9)]),
    ("idle_http", "kb_per_conn", "RSS KB/conn", "low", [("nginx", None, None), ("tornado", None, None)]),
    ("idle_echo", "kb_per_conn", "RSS KB/conn", "low", [("tornado", None, None)]),
    ("mem_scale", "echo_user_b", "echo: user B/conn", "low", []),
    ("mem_scale", "echo_kernel_b", "echo: kernel B/socket", "low", []),
    ("mem_scale", "http_user_b", "HTTP: user B/conn", "low", [("nginx", None, None)]),
    ("mem_scale", "http_kernel_b", "HTTP: kernel B/socket", "low", [("nginx", None, None)]),
    ("mem_scale", "ws_user_b", "WebSocket member: user B/conn", "low", []),
    ("mem_scale", "ws_kernel_b", "WebSocket member: kernel B/socket", "low", []),
    ("http_alog_50", "cpu_us_per_req_off", "server CPU us/req, access_log off", "low", []),
    ("http_alog_50", "cpu_us_per_req_on", "server CPU us/req, access_log on", "low", []),
    ("http_alog_50", "cpu_ratio", "CPU per request, on / off", "low", []),
]
ROWS += BCAST_ROWS
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
        if (wl, metric) in SAME_RUN_RATIOS:
            rkey, vs = SAME_RUN_RATIOS[(wl, metric)]
            r = med[wl].get("netdemo", {}).get(rkey)
            if r is not None:
                ratios.append({"workload": wl, "metric": metric, "vs": vs, "ratio": r,
                               "paired": True, "target": None, "met": None})
                cells.append("%.2fx %s (paired)" % (r, vs))
        if metric == "cpu_ratio" and nd is not None:
            ratios.append({"workload": wl, "metric": metric, "vs": "access_log = off",
                           "ratio": nd, "target": None, "met": None})
            cells.append("%.2fx the CPU per request of access_log = off" % nd)
        if metric == "kb_per_conn" and nd is not None:
            ok = nd <= IDLE_TARGET_KB
            ratios.append({"workload": wl, "metric": metric, "vs": None, "ratio": None,
                           "target": "<= %g KB" % IDLE_TARGET_KB, "met": ok})
            cells.append("%s KB (<= %g KB: %s)" % (fmt(nd), IDLE_TARGET_KB, "met" if ok else "MISSED"))
        if (wl, metric) in ABS_TARGETS and nd is not None:
            op, target, unit = ABS_TARGETS[(wl, metric)]
            ok = nd < target if op == "<" else nd <= target
            ratios.append({"workload": wl, "metric": metric, "vs": None, "ratio": None,
                           "target": "%s %g %s" % (op, target, unit), "met": ok})
            cells.append("%s %s (%s %g %s: %s)" % (fmt(nd), unit, op, target, unit,
                                                  "met" if ok else "MISSED"))
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
    ("http_close_50", "cpu_us_per_req", "Conn per request (wrk): server CPU us/conn (lower is better)"),
    ("http10_close_50", "cpu_us_per_req", "HTTP/1.0 conn per request (ab): CPU us/conn (lower is better)"),
    ("http_close_50_deferred", "cpu_us_per_req",
     "Conn per request (wrk), deferred accept: server CPU us/conn (lower is better)"),
    ("http10_close_50_deferred", "cpu_us_per_req",
     "HTTP/1.0 conn per request (ab), deferred accept: CPU us/conn (lower is better)"),
    ("ws_broadcast_1000", "deliveries_per_cpu_s", "WebSocket broadcast, 1000 members: deliveries per server CPU-s"),
    ("joins_1000", "join_cpu_s", "1000 members joining a room: server CPU s (lower is better)"),
    # netdemo's figures side by side: (bar label, metric) each
    ("ws_broadcast_redis_1000", [("local", "local_deliveries_per_cpu_s"),
                                 ("Redis, 2 inst.", "redis_deliveries_per_cpu_s")],
     "Broadcast, 1000 members, local vs Redis: deliveries per server CPU-s"),
    ("ws_broadcast_redis_1000", [("local p50", "local_p50_ms"), ("Redis p50", "redis_p50_ms"),
                                 ("local p99", "local_p99_ms"), ("Redis p99", "redis_p99_ms")],
     "Broadcast, local vs Redis: delivery latency ms (lower is better)"),
]
COLOURS = {"netdemo": 0x1f77b4, "nginx": 0x2ca02c, "tornado": 0xff7f0e, "ceiling": 0x7f7f7f,
           "ws": 0x9467bd}
REDIS_COLOUR = 0x17becf     # netdemo's bars through Redis


def make_chart(med, outdir, stamp):
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        log("bench: gnuplot not found (apt-get install gnuplot-nox); no chart")
        return []
    dat = os.path.join(outdir, "chart.dat")
    blocks, panels = [], []
    for wl, metric, title in CHART_PANELS:
        if isinstance(metric, list):
            nd = med.get(wl, {}).get("netdemo", {})
            rows = ['"%s" %r %d "%s"' % (label, nd[m], REDIS_COLOUR if m.startswith("redis_")
                                         else COLOURS["netdemo"], fmt(nd[m]))
                    for label, m in metric if nd.get(m) is not None]
        else:
            rows = ['"%s" %r %d "%s"' % (PEER_TITLE[p], med[wl][p][metric], COLOURS[p],
                                         fmt(med[wl][p][metric]))
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
        'set multiplot layout %d,4 title "netdemo bench: medians, %s"' % ((len(panels) + 3) // 4, stamp),
        "set style fill solid 0.85 border -1", "set boxwidth 0.6", "set yrange [0:*]",
        "set offsets 0.5, 0.5, graph 0.12, 0", "set grid ytics", "unset key",
        "set xtics nomirror font \",8\"", "set ytics font \",8\"", "set title font \",9\"",
    ] + plots + ["unset multiplot"])
    out = []
    terms = subprocess.run([gnuplot, "-e", "set terminal"], capture_output=True, text=True, timeout=30)
    png_term = "pngcairo" if "pngcairo" in terms.stdout + terms.stderr else "png"
    height = 333 * ((len(panels) + 3) // 4)
    for term, name in (("svg size 1800,%d dynamic background rgb 'white' font 'sans,10'" % height, "chart.svg"),
                       ("%s size 1800,%d font 'sans,10'" % (png_term, height), "chart.png")):
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
    ap.add_argument("--load-threads", type=int, default=int(os.environ.get("BENCH_LOAD_THREADS", 1)),
                    help="loadgen pingpong threads for a server measured alone (-j; all on the "
                         "load CPU; the paired netdemo/ceiling runs take one)")
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
    if any(w[3][0] == "wsredis" for w in workloads) and not shutil.which("redis-server"):
        missing.append("redis-server")
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
    ctx.load_threads = max(1, min(args.load_threads, 64))
    ctx.out = os.path.abspath(args.out)
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
        # idle, memory and broadcast runs start fresh servers of their own
        needed = {p for w in workloads if w[3][0] not in ("idle", "mem", "wsbcast", "wsredis")
                  for p in w[2]}
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
            rounds = {"idle": idle_rounds, "mem": idle_rounds, "pingpong": echo_rounds,
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
        if getattr(ctx, "alog_file", None):
            try:
                os.unlink(ctx.alog_file)
            except OSError:
                pass
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
                   "ratios": ratios, "million": million_note(med), "runs": results}, f, indent=2)
    with open(os.path.join(args.out, "table.md"), "w") as f:
        f.write(header + "\n\n" + table + "".join("\n" + l for l in million_note(med)))
    charts = make_chart(med, args.out, stamp)
    if args.update_readme:
        update_readme(table, header)
    print()
    print(header)
    print()
    print(table)
    for line in million_note(med):
        print(line)
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
