"""Scale-out: three netdemo "boxes" on 127.0.0.2-4 behind haproxy on
127.0.0.1. Under a steady load of HTTP keep-alive and echo traffic, one box
is drained and restarted (no request may fail) and another is killed (only
its in-flight requests may fail); both come back into rotation within the
health-check interval. All traffic stays on loopback."""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import nd
from nd import check

BOXES = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
INTER_MS = 200

HAPROXY = """
global
    maxconn 4000
    stats socket {sock} mode 600 level admin
defaults
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    timeout check 1s
    retries 3
    option redispatch
    default-server inter {inter}ms fall 2 rise 2
frontend http_in
    mode http
    bind 127.0.0.1:{fh}
    default_backend be_http
backend be_http
    mode http
    balance roundrobin
    option httpchk GET /health
    http-check expect status 200
    http-reuse safe
    retry-on all-retryable-errors
{http_servers}
frontend echo_in
    mode tcp
    bind 127.0.0.1:{fe}
    default_backend be_echo
backend be_echo
    mode tcp
    balance roundrobin
    option httpchk GET /health
    http-check expect status 200
{echo_servers}
"""


def port_free_everywhere():
    for _ in range(100):
        p = nd.free_port()
        try:
            for host in BOXES:
                s = socket.socket()
                s.bind((host, p))
                s.close()
            return p
        except OSError:
            continue
    raise nd.Failure("no port free on all boxes")


def box_config(host, ph, pe, drain=False):
    return ("[netdemo]\nshutdown_timeout = 5s\n[http]\nmodule = http\nlisten = tcp://%s:%d\n%s"
            "[echo]\nmodule = echo\nlisten = tcp://%s:%d\n"
            % (host, ph, "drain = on\n" if drain else "", host, pe))


class Haproxy:
    def __init__(self, ph, pe):
        self.dir = tempfile.mkdtemp(prefix="nd-it-haproxy-")
        self.sock = os.path.join(self.dir, "admin.sock")
        self.fh, self.fe = nd.free_port(), nd.free_port()
        cfg = HAPROXY.format(
            sock=self.sock, inter=INTER_MS, fh=self.fh, fe=self.fe,
            http_servers="\n".join("    server box%d %s:%d check" % (i + 1, h, ph)
                                   for i, h in enumerate(BOXES)),
            echo_servers="\n".join("    server box%d %s:%d check port %d" % (i + 1, h, pe, ph)
                                   for i, h in enumerate(BOXES)))
        path = os.path.join(self.dir, "haproxy.cfg")
        with open(path, "w") as f:
            f.write(cfg)
        self.proc = subprocess.Popen(["haproxy", "-db", "-f", path], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        nd.wait_until(lambda: os.path.exists(self.sock) and self.states("be_http"), 10,
                      "haproxy to start")

    def states(self, backend):
        """{server: 'UP' or 'DOWN' ...} from the admin socket."""
        return nd.haproxy_states(self.sock, backend, lambda name: name.startswith("box"))

    def wait_state(self, server, state, timeout):
        nd.wait_until(lambda: all(self.states(b).get(server) == state
                                  for b in ("be_http", "be_echo")),
                      timeout, "%s %s in haproxy" % (server, state))

    def stop(self):
        nd.terminate(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


class Load:
    """HTTP keep-alive clients and short echo exchanges through haproxy,
    counting successes per box (from /echo's local address) and failures,
    with the time of each."""

    def __init__(self, hp):
        self.hp = hp
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.ok = {h: 0 for h in BOXES}
        self.echo_ok = 0
        self.fails = []         # (time, what)
        self.threads = [threading.Thread(target=self.http_worker) for _ in range(4)]
        self.threads += [threading.Thread(target=self.echo_worker) for _ in range(2)]
        for t in self.threads:
            t.start()

    def fail(self, what):
        with self.lock:
            self.fails.append((time.monotonic(), what))

    def http_worker(self):
        c = None
        while not self.stop.is_set():
            try:
                if c is None:
                    c = http.client.HTTPConnection("127.0.0.1", self.hp.fh, timeout=5)
                c.request("GET", "/echo")
                r = c.getresponse()
                body = r.read()
                if r.status != 200:
                    self.fail("http %d" % r.status)
                    continue
                host = json.loads(body)["local"]["address"]
                with self.lock:
                    self.ok[host] += 1
            except (OSError, http.client.HTTPException, ValueError) as e:
                self.fail("http %r" % e)
                c = None

    def echo_worker(self):
        while not self.stop.is_set():
            try:
                s = socket.create_connection(("127.0.0.1", self.hp.fe), timeout=5)
                s.sendall(b"0123456789abcdef")
                got = nd.recv_exact(s, 16)
                s.close()
                if got != b"0123456789abcdef":
                    self.fail("echo mismatch")
                else:
                    with self.lock:
                        self.echo_ok += 1
            except (OSError, nd.Failure) as e:
                self.fail("echo %r" % e)

    def snapshot(self):
        with self.lock:
            return dict(self.ok), len(self.fails)

    def wait_traffic(self, host, timeout):
        start = self.snapshot()[0][host]
        nd.wait_until(lambda: self.snapshot()[0][host] > start + 20, timeout,
                      "traffic on %s" % host)

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(10)


def test_haproxy_drain_and_kill():
    if shutil.which("haproxy") is None:
        raise nd.Failure("haproxy is not installed (tests/deps.sh installs it)")
    ph, pe = port_free_everywhere(), port_free_everywhere()
    boxes = [nd.Daemon(box_config(h, ph, pe)) for h in BOXES]
    hp = Haproxy(ph, pe)
    load = None
    try:
        for i in range(3):
            hp.wait_state("box%d" % (i + 1), "UP", 10)
        load = Load(hp)
        for h in BOXES:
            load.wait_traffic(h, 10)
        check(load.snapshot()[1] == 0, "failures before anything happened: %r" % load.fails)

        # Drain box 2, then stop and restart it: no request may fail.
        d2 = boxes[1]
        d2.reload(box_config(BOXES[1], ph, pe, drain=True))
        hp.wait_state("box2", "DOWN", 5)
        check(d2.stop() == 0, "drained box did not stop cleanly")
        boxes[1] = nd.Daemon(box_config(BOXES[1], ph, pe))
        t_up = time.monotonic()
        hp.wait_state("box2", "UP", 5)
        load.wait_traffic(BOXES[1], 5)
        back2 = time.monotonic() - t_up
        drain_fails = list(load.fails)
        check(not drain_fails, "requests failed around the drain: %r" % drain_fails[:5])

        # Kill box 3 outright: only what was in flight there may fail.
        boxes[2].proc.kill()
        boxes[2].proc.wait()
        hp.wait_state("box3", "DOWN", 5)
        kill_fails = len(load.fails)
        check(kill_fails <= 6, "%d failures for one killed box" % kill_fails)
        boxes[2] = nd.Daemon(box_config(BOXES[2], ph, pe))
        t_up = time.monotonic()
        hp.wait_state("box3", "UP", 5)
        load.wait_traffic(BOXES[2], 5)
        back3 = time.monotonic() - t_up
        for h in BOXES:
            load.wait_traffic(h, 5)
        load.finish()
        ok, fails = load.snapshot()
        check(fails == kill_fails, "failures after the kill settled: %r" % load.fails[kill_fails:])
        print("    haproxy: %s http ok by box, %d echo ok, drain failures 0, kill failures %d, "
              "back in rotation after %.2fs and %.2fs"
              % (ok, load.echo_ok, kill_fails, back2, back3), flush=True)
    finally:
        if load:
            load.finish()
        hp.stop()


def test_reuseport_rolling_restart():
    """Two reuseport instances restarted one at a time under load: every
    connection is answered. The kernel hands a closing listener's queued
    connections to its siblings only with net.ipv4.tcp_migrate_req=1, a
    per-namespace setting: so the whole test runs in a network namespace
    it makes (loopback only), never touching the host's settings."""
    if os.geteuid() != 0:
        print("    skipped: a network namespace needs root", flush=True)
        return
    here = os.path.dirname(os.path.abspath(__file__))
    r = subprocess.run(["unshare", "--net", "sh", "-c",
                        "ip link set lo up && sysctl -qw net.ipv4.tcp_migrate_req=1 && "
                        "exec \"$0\" \"$1\" \"$2\"", sys.executable,
                        os.path.join(here, "rolling.py"), nd.BINARY],
                       capture_output=True, text=True, timeout=120 * nd.SLOW)
    out = r.stdout.strip().splitlines()
    check(r.returncode == 0 and out and out[-1].endswith("errors {}"),
          "rolling restart: %r %s" % (out[-1:] if out else out, r.stderr[-500:]))
    print("    reuseport: " + out[-1], flush=True)


EXAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "examples", "haproxy.cfg")


def _seconds(v):
    for unit, n in (("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)):
        if v.endswith(unit) and v[:-len(unit)].isdigit():
            return int(v[:-len(unit)]) * n
    return int(v) * 0.001       # haproxy's bare timeouts are in ms


def test_haproxy_example_checks_and_routes_the_chat():
    """examples/haproxy.cfg is a file haproxy -c takes, and it sends the
    WebSocket (/ws/) and long-poll (/chat/poll) routes to a backend made for
    long connections: a tunnel timeout for upgraded ones, and client and
    server timeouts longer than the 25 s a poll asks for by default."""
    if shutil.which("haproxy") is None:
        print("    SKIP test_haproxy_example_checks_and_routes_the_chat: haproxy is not "
              "installed (tests/deps.sh installs it)", flush=True)
        return
    r = subprocess.run(["haproxy", "-c", "-f", EXAMPLE], capture_output=True, text=True,
                       timeout=30 * nd.SLOW)
    check(r.returncode == 0, "haproxy -c -f %s: exit %d\n%s%s"
          % (EXAMPLE, r.returncode, r.stdout, r.stderr))

    sections, cur = {}, None
    with open(EXAMPLE) as f:
        for line in f:
            line = line.split("#", 1)[0].rstrip()
            if not line:
                continue
            if not line[0].isspace():
                cur = sections.setdefault(line.strip(), [])
            elif cur is not None:
                cur.append(line.split())
    front = sections.get("frontend http_in", [])
    acls = {w[1]: w[2:] for w in front if w[0] == "acl"}
    routed = {}
    for w in front:
        if w[0] == "use_backend" and "if" in w:
            for name in w[w.index("if") + 1:]:
                routed.setdefault(tuple(acls.get(name, ())), w[1])
    ws, poll = routed.get(("path_beg", "/ws/")), routed.get(("path", "/chat/poll"))
    check(ws is not None and ws == poll, "/ws/ to %r, /chat/poll to %r" % (ws, poll))

    def timeouts(section):
        return {w[1]: _seconds(w[2]) for w in sections.get(section, [])
                if w[0] == "timeout" and len(w) == 3}
    t = dict(timeouts("defaults"), **timeouts("backend " + ws))
    check(t.get("tunnel", 0) >= 600, "backend %s: timeout tunnel %r" % (ws, t.get("tunnel")))
    check(t.get("server", 0) > 25 and t.get("client", 0) > 25,
          "backend %s: timeout server %r, client %r: not above a poll's 25 s"
          % (ws, t.get("server"), t.get("client")))


TESTS = [test_haproxy_drain_and_kill, test_reuseport_rolling_restart,
         test_haproxy_example_checks_and_routes_the_chat]
