"""/metrics (Prometheus text format 0.0.4) and /stats on every service:
checked by promtool, and every counter followed as traffic is sent."""
import base64
import json
import os
import re
import shutil
import socket
import subprocess

import nd
from nd import check
from t_ws import frame


def config(echo, web, scrape, extra=""):
    # Reports are asked of a service of their own ([scrape]), so what is
    # sent to [web] and [echo] can be counted to the byte.
    return ("[netdemo]\nlog_level = info\n%s\n"
            "[echo]\nmodule = echo\nlisten = tcp://127.0.0.1:%d, udp://127.0.0.1:%d\n\n"
            "[web]\nmodule = http\nlisten = tcp://127.0.0.1:%d\n"
            "websocket = on\nchat = on\nws_ping_interval = 1h\n\n"
            "[scrape]\nmodule = http\nlisten = tcp://127.0.0.1:%d\nprobes = off\n"
            % (extra, echo, echo, web, scrape))


class Counted:
    """A TCP connection that counts the bytes it sends and receives."""

    def __init__(self, port):
        self.s = nd.connect(port)
        self.sent = self.got = 0

    def send(self, data):
        self.s.sendall(data)
        self.sent += len(data)

    def recv_exact(self, n):
        d = nd.recv_exact(self.s, n)
        self.got += len(d)
        return d

    def head(self):
        """Reads a response head, byte by byte, up to its blank line."""
        h = b""
        while not h.endswith(b"\r\n\r\n"):
            h += self.recv_exact(1)
        return h

    def response(self):
        """(status, head, body) of one HTTP response with Content-Length."""
        h = self.head()
        m = re.search(rb"\r\nContent-Length: (\d+)\r\n", h)
        body = self.recv_exact(int(m.group(1))) if m else b""
        return int(h.split()[1]), h, body

    def upgrade(self, path):
        """The WebSocket handshake on path; fails unless answered 101."""
        key = base64.b64encode(os.urandom(16)).decode()
        self.send(("GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n" % (path, key)).encode())
        h = self.head()
        check(h.startswith(b"HTTP/1.1 101 "), h)
        return self

    def frame(self):
        """(opcode, payload) of one unmasked server frame."""
        h = self.recv_exact(2)
        n = h[1] & 127
        if n == 126:
            n = int.from_bytes(self.recv_exact(2), "big")
        elif n == 127:
            n = int.from_bytes(self.recv_exact(8), "big")
        return h[0] & 15, self.recv_exact(n)


def get(port, path, method="GET"):
    s = Counted(port)
    s.send(("%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % (method, path)).encode())
    return s.response() if method == "GET" else (None, s.head(), b"")


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?')


def parse(text):
    """{(name, ((label, value), ...)): value} of an exposition; checks that
    each family's HELP and TYPE come once, before its samples."""
    out, typed = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            name, kind = line.split()[2:4]
            check(name not in typed, "TYPE twice for " + name)
            typed[name] = kind
            continue
        if line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        check(m, "not a sample line: %r" % line)
        labels = tuple(sorted(LABEL.findall(m.group(2) or "")))
        check(m.group(1) in typed, "a sample before its TYPE: " + line)
        out[(m.group(1), labels)] = float(m.group(3))
    return out, typed


def promtool(text):
    """promtool check metrics on text: exit 0 and not a word of complaint."""
    p = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                       capture_output=True, timeout=30)
    check(p.returncode == 0 and not p.stdout.strip() and not p.stderr.strip(),
          "promtool check metrics: exit %d: %s%s\n%s" % (p.returncode, p.stdout.decode(),
                                                           p.stderr.decode(), text))


def scrape(port):
    status, head, body = get(port, "/metrics")
    check(status == 200, head)
    check(b"\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n" in head, head)
    text = body.decode()
    if shutil.which("promtool"):
        promtool(text)
    return parse(text)[0], text


def svc(service, module):
    return (("module", module), ("service", service))


def test_metrics_every_service_promtool_and_counters_move():
    if not shutil.which("promtool"):
        print("    SKIP promtool check: promtool is not installed (Debian package "
              "prometheus; tests/deps.sh installs it as root)", flush=True)
    e, w, sc = nd.free_port(udp_too=True), nd.free_port(), nd.free_port()
    d = nd.Daemon(config(e, w, sc))
    a, text = scrape(sc)
    _, typed = parse(text)
    rc, out, _ = nd.run_cli(["-V"])
    version = re.search(r"\d+\.\d+\.\d+", out).group(0)
    check(a[("netdemo_build_info", (("version", version),))] == 1, text)
    for name, kind in (("netdemo_connections_open", "gauge"),
                       ("netdemo_connections_total", "counter"),
                       ("netdemo_http_requests_total", "counter"),
                       ("netdemo_http_ws_members", "gauge"),
                       ("netdemo_chat_rooms", "gauge"), ("netdemo_chat_members", "gauge"),
                       ("netdemo_reloads_total", "counter"),
                       ("netdemo_uptime_seconds", "gauge")):
        check(typed.get(name) == kind, "%s is %r, not %s" % (name, typed.get(name), kind))
    # echo included: its samples are there before any traffic
    check(a[("netdemo_received_bytes_total", svc("echo", "echo"))] == 0, text)

    # echo: 1000 bytes over TCP (left open), three datagrams of 10 bytes
    t = Counted(e)
    t.send(b"x" * 1000)
    check(t.recv_exact(1000) == b"x" * 1000, "tcp echo")
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(10 * nd.SLOW)
    for k in range(3):
        u.sendto(b"datagram-%d" % k, ("127.0.0.1", e))
        check(u.recv(100) == b"datagram-%d" % k, "udp echo %d" % k)
    u.close()

    # web: one keep-alive connection with one answer of each class but 1xx
    h = Counted(w)
    classes = {"1xx": 0, "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0}
    for path, want in (("/health", 200), ("/status/301", 301), ("/missing", 404),
                       ("/status/503", 503), ("/status/204", 204)):
        h.send(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
        status, head, _ = h.response()
        check(status == want, "%s answered %r" % (path, head))
        classes["%dxx" % (want // 100)] += 1
    # a WebSocket echo message and a chat member: two 101s
    wse = Counted(w).upgrade("/ws/echo")
    chat = Counted(w).upgrade("/ws/chat?room=metrics&name=alice")
    classes["1xx"] += 2
    wse.send(frame(1, b"hello metrics"))
    check(wse.frame() == (1, b"hello metrics"), "ws echo")
    op, data = chat.frame()
    ev = json.loads(data)
    check((op, ev["type"], ev["joined"], ev["members"]) == (1, "presence", ["alice"], 1), ev)

    # a reload done and a reload refused, with `netdemo --reload PID`
    rc, _, err = nd.run_cli(["--reload", str(d.pid)])
    check(rc == 0, "good reload: %d %s" % (rc, err))
    d.write_config(config(e, w, sc, "bogus_key = 1\n"))
    rc, _, err = nd.run_cli(["--reload", str(d.pid)])
    check(rc == 1, "bad reload: %d %s" % (rc, err))

    b, text = scrape(sc)

    def moved(name, labels):
        key = (name, tuple(sorted(labels)))
        check(key in b, "no sample %s%s:\n%s" % (name, dict(labels), text))
        return b[key] - a.get(key, 0)

    echo, web = svc("echo", "echo"), svc("web", "http")
    want = {
        ("netdemo_connections_total", echo): 1,
        ("netdemo_connections_open", echo): 1,
        ("netdemo_received_bytes_total", echo): 1030,
        ("netdemo_sent_bytes_total", echo): 1030,
        ("netdemo_received_datagrams_total", echo): 3,
        ("netdemo_sent_datagrams_total", echo): 3,
        ("netdemo_dropped_datagrams_total", echo): 0,
        ("netdemo_connections_total", web): 3,
        ("netdemo_connections_open", web): 3,
        ("netdemo_received_bytes_total", web): h.sent + wse.sent + chat.sent,
        ("netdemo_sent_bytes_total", web): h.got + wse.got + chat.got,
        ("netdemo_received_datagrams_total", web): 0,
        ("netdemo_http_ws_members", web): 2,
        ("netdemo_chat_rooms", web): 1,
        ("netdemo_chat_members", web): 1,
        ("netdemo_reloads_total", (("result", "done"),)): 1,
        ("netdemo_reloads_total", (("result", "refused"),)): 1,
    }
    for cls, n in classes.items():
        want[("netdemo_http_requests_total", web + (("class", cls),))] = n
    wrong = ["%s%s moved %g, not %g" % (k[0], dict(k[1]), moved(*k), v)
             for k, v in want.items() if moved(*k) != v]
    check(not wrong, "\n".join(wrong) + "\n" + text)
    check(b[("netdemo_uptime_seconds", ())] >= a[("netdemo_uptime_seconds", ())], text)
    # the scraping service reports itself too: scrape A's answer is counted
    check(moved("netdemo_http_requests_total", svc("scrape", "http") + (("class", "2xx"),)) == 1,
          text)

    # /stats: the answering service at the top, every service in "services"
    status, _, body = get(sc, "/stats")
    st = json.loads(body)
    check(st["service"] == "scrape" and "requests" in st and "connections" in st, st)
    check([(s["name"], s["module"]) for s in st["services"]] ==
          [("echo", "echo"), ("web", "http"), ("scrape", "http")], st["services"])
    se, sw = st["services"][0], st["services"][1]
    check(se["datagrams"] == {"in": 3, "out": 3, "dropped": 0} and
          se["connections"]["current"] == 1 and se["bytes"]["in"] == 1030, se)
    check(sw["counters"]["ws_members"] == 2 and sw["chat"] == {"rooms": 1, "members": 1} and
          sw["counters"]["requests_5xx"] == 1, sw)
    check(st["reloads"] == {"done": 1, "refused": 1}, st)

    # HEAD: the same head, no body
    _, head, _ = get(sc, "/metrics", "HEAD")
    check(b"text/plain; version=0.0.4" in head and b"Content-Length: " in head, head)

    # a member that leaves is counted out
    for c in (wse, chat, t, h):
        c.s.close()

    def settled():
        m, _ = scrape(sc)
        return (m[("netdemo_http_ws_members", web)] == 0 and
                m[("netdemo_chat_members", web)] == 0 and
                m[("netdemo_connections_open", echo)] == 0 and m)
    m = nd.wait_until(settled, 10, "the members and connections to be counted out")
    check(m[("netdemo_chat_rooms", web)] == 1, "the room keeps its history")
    d.stop()


TESTS = [test_metrics_every_service_promtool_and_counters_move]
