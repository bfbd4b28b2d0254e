"""Probe endpoints: /echo, /status, /delay, /bytes, /drip."""
import hashlib
import json
import selectors
import socket
import subprocess
import time

import nd
from nd import check
from t_http import curl, http_config, raw, statuses


def test_echo_reflects_request():
    port = nd.free_port()
    d = nd.Daemon(http_config(port))
    r = curl("-H", "X-Rep: one", "-H", "X-Rep: two", "-H", "X-Other: 3",
             "http://127.0.0.1:%d/echo/sub?a=1&b=%%41" % port)
    e = json.loads(r.stdout)
    check(e["method"] == "GET" and e["path"] == "/echo/sub" and e["query"] == "a=1&b=%41", e)
    check(e["version"] == "HTTP/1.1" and e["service"] == "web" and e["pid"] == d.pid, e)
    names = [h[0] for h in e["headers"]]
    check(names[-3:] == ["X-Rep", "X-Rep", "X-Other"], "order and repeats: %r" % names)
    check([h[1] for h in e["headers"] if h[0] == "X-Rep"] == ["one", "two"], e["headers"])
    check(e["client"]["address"] == "127.0.0.1" and e["local"]["port"] == port, e)
    check(e["request"] == 1, e)
    # Bytes 0x80-0xFF in a header still give valid JSON (python3 -m json.tool).
    out, _ = raw(port, b"GET /echo HTTP/1.1\r\nHost: a\r\nX-Bin: \x80\xff\xc3\xa9\xed\xa0\x80"
                       b"\r\nConnection: close\r\n\r\n")
    body = out.split(b"\r\n\r\n", 1)[1]
    r = subprocess.run(["python3", "-m", "json.tool"], input=body, capture_output=True)
    check(r.returncode == 0, "json.tool rejected: %r" % body)
    e = json.loads(body)
    check(dict(e["headers"])["X-Bin"] == "\ufffd\ufffd\u00e9\ufffd\ufffd\ufffd", e["headers"])
    r = curl("http://127.0.0.1:%d/echo?format=text" % port)
    check(r.stdout.startswith(b"GET /echo?format=text HTTP/1.1\n") and b"service: web" in r.stdout,
          r.stdout)


def test_echo_post_bodies():
    port = nd.free_port()
    nd.Daemon(http_config(port))
    e = json.loads(curl("-X", "POST", "--data-binary", "hello body",
                        "http://127.0.0.1:%d/echo" % port).stdout)
    check(e["body"] == "hello body" and e["body_encoding"] == "text", e)
    e = json.loads(subprocess.run(
        ["curl", "-s", "-X", "PUT", "--data-binary", "@-", "http://127.0.0.1:%d/echo" % port],
        input=b"\x00\xff\xfe", capture_output=True).stdout)
    check(e["body"] == "AP/+" and e["body_encoding"] == "base64", e)
    e = json.loads(curl("-X", "POST", "-H", "Transfer-Encoding: chunked", "--data-binary",
                        "chunky", "http://127.0.0.1:%d/echo" % port).stdout)
    check(e["body"] == "chunky", e)
    big = b"x" * (900 * 1024)
    e = json.loads(subprocess.run(["curl", "-s", "--data-binary", "@-",
                                   "http://127.0.0.1:%d/echo" % port],
                                  input=big, capture_output=True).stdout)
    check(e["body_length"] == len(big), "900 KiB body")
    out, closed = raw(port, b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\n\r\n")
    check(statuses(out) == [413] and closed, out[:100])
    # Pipelined after a POST body: parsed from the right byte.
    out, _ = raw(port, b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nabcd"
                       b"GET /health HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    check(statuses(out) == [200, 200] and b'"body":"abcd"' in out, out)
    out, _ = raw(port, b"DELETE /echo HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    check(statuses(out) == [405] and b"Allow: GET, HEAD, POST, PUT" in out, out)


def test_status_and_headers():
    port = nd.free_port()
    nd.Daemon(http_config(port))
    base = "http://127.0.0.1:%d" % port
    r = curl("-i", base + "/status/418")
    check(r.stdout.startswith(b"HTTP/1.1 418 I'm a teapot\r\n") and
          r.stdout.endswith(b"418 I'm a teapot\n"), r.stdout)
    r = curl("-i", base + "/status/503?header=Retry-After:%2030&header=X-A:b")
    check(r.stdout.startswith(b"HTTP/1.1 503") and b"Retry-After: 30\r\n" in r.stdout and
          b"X-A: b\r\n" in r.stdout, r.stdout)
    r = curl("-i", base + "/status/204")
    check(r.stdout.startswith(b"HTTP/1.1 204") and b"Content-Length" not in r.stdout, r.stdout)
    for bad in ("/status/100", "/status/600", "/status/abc",
                "/status/200?header=Content-Length:5", "/status/200?header=Connection:close",
                "/status/200?header=Transfer-Encoding:chunked",
                "/status/200?header=X:a%0d%0aEvil:%201", "/status/200?header=X:a%00",
                "/status/200?header=Bad%20Name:1", "/status/200?header=NoColon"):
        r = curl("-i", base + bad)
        check(r.stdout.startswith(b"HTTP/1.1 400"), "%s: %r" % (bad, r.stdout[:80]))
        check(b"Evil" not in r.stdout.split(b"\r\n\r\n")[0], "header injection: %r" % r.stdout)


def test_bytes_and_drip():
    port = nd.free_port()
    nd.Daemon(http_config(port, "max_bytes = 1m\n"))
    base = "http://127.0.0.1:%d" % port
    a = curl(base + "/bytes/300000?seed=5").stdout
    b = curl(base + "/bytes/300000?seed=5").stdout
    c = curl(base + "/bytes/300000?seed=6").stdout
    check(len(a) == 300000 and a == b and a != c, "seeded bytes")
    check(len(curl(base + "/bytes/5000000").stdout) == 1 << 20, "max_bytes cap")
    t0 = time.monotonic()
    r = curl(base + "/drip?bytes=10&duration=600")
    dt = time.monotonic() - t0
    check(r.stdout == b"*" * 10 and 0.5 <= dt < 3 * nd.SLOW, "%r in %.2fs" % (r.stdout, dt))


def test_2000_delays_while_root_stays_fast():
    port = nd.free_port()
    d = nd.Daemon(http_config(port))
    base_fds = d.fds()
    sel = selectors.DefaultSelector()
    n = 2000
    req = b"GET /delay/1000 HTTP/1.1\r\nHost: a\r\n\r\n"
    t0 = time.monotonic()
    socks = []
    for i in range(n):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        socks.append(s)
        sel.register(s, selectors.EVENT_WRITE, i)
    sent_at, done_at, got = {}, {}, {}
    fast = []
    end = t0 + 20 * nd.SLOW
    while len(done_at) < n and time.monotonic() < end:
        for key, ev in sel.select(0.05):
            s, i = key.fileobj, key.data
            if ev & selectors.EVENT_WRITE:
                s.send(req)
                sent_at[i] = time.monotonic()
                sel.modify(s, selectors.EVENT_READ, i)
            elif ev & selectors.EVENT_READ:
                got[i] = got.get(i, b"") + s.recv(4096)
                if got[i].endswith(b"}\n"):
                    done_at[i] = time.monotonic()
                    sel.unregister(s)
        if len(sent_at) == n and len(fast) < 5 and len(done_at) == 0:
            t = time.monotonic()
            r = curl("http://127.0.0.1:%d/" % port)
            fast.append(time.monotonic() - t)
            check(b"Welcome" in r.stdout, "GET / while delays pend")
    check(len(done_at) == n, "%d of %d delayed answers" % (len(done_at), n))
    lat = sorted(done_at[i] - sent_at[i] for i in range(n))
    check(all(g.startswith(b"HTTP/1.1 200") for g in got.values()), "a delayed answer was not 200")
    check(lat[0] >= 0.99 and lat[-1] <= 1.5 * nd.SLOW,
          "delays between %.3f and %.3f s" % (lat[0], lat[-1]))
    check(fast and max(fast) < 0.5 * nd.SLOW, "GET / took %r s" % fast)
    for s in socks:
        s.close()
    nd.wait_until(lambda: d.fds() <= base_fds, 10, "fds back to %d (now %d)" % (base_fds, d.fds()))


def test_delay_clients_leaving_free_everything():
    port = nd.free_port()
    d = nd.Daemon(http_config(port))
    base_fds, base_rss = d.fds(), d.rss_kb()
    for _ in range(3):
        socks = [nd.connect(port) for _ in range(300)]
        for s in socks:
            s.sendall(b"GET /delay/10000 HTTP/1.1\r\nHost: a\r\n\r\n")
        nd.wait_until(lambda: d.fds() >= base_fds + 300, 10, "300 delayed connections")
        for s in socks:
            s.close()
        # Freed at once, long before the 10 s delay.
        nd.wait_until(lambda: d.fds() <= base_fds, 3, "fds back to baseline")
    check(d.rss_kb() - base_rss < 8 * 1024, "RSS grew %d KiB" % (d.rss_kb() - base_rss))
    st = json.loads(curl("http://127.0.0.1:%d/stats" % port).stdout)
    check(st["connections"]["current"] == 1, st)


def test_delay_request_and_fin_together():
    """The FIN arrives with the request: no later edge will report it, so
    the connection must be freed without waiting for the delay."""
    port = nd.free_port()
    d = nd.Daemon(http_config(port))
    base = d.fds()
    for _ in range(300):
        s = nd.connect(port)
        s.sendall(b"GET /delay/10000 HTTP/1.1\r\nHost: a\r\n\r\n")
        s.close()
    nd.wait_until(lambda: d.fds() <= base, 3, "fds back to %d (now %d)" % (base, d.fds()))


def test_large_reply_headers_and_a_non_reading_drip():
    port = nd.free_port()
    d = nd.Daemon(http_config(port))
    base = "http://127.0.0.1:%d" % port
    # 16 headers of 180 bytes: near the 4 KiB /status allows; answered whole.
    q = "&".join("header=X-H%d:%s" % (i, "v" * 180) for i in range(16))
    r = curl("-i", base + "/status/200?" + q)
    check(r.stdout.startswith(b"HTTP/1.1 200") and r.stdout.count(b"\r\nX-H") == 16,
          "long header set: %r" % r.stdout[:80])
    # A drip asked to be instant still trickles: a non-reader stays bounded.
    rss0 = d.rss_kb()
    socks = []
    for _ in range(4):
        s = nd.connect(port)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(b"GET /drip?bytes=67108864&duration=0 HTTP/1.1\r\nHost: a\r\n\r\n")
        socks.append(s)
    time.sleep(1.5)     # let the ticks run: the bound is on what they queue
    check(d.rss_kb() - rss0 < 16 * 1024, "RSS grew %d KiB" % (d.rss_kb() - rss0))
    for s in socks:
        s.close()


def test_probes_off():
    port = nd.free_port()
    nd.Daemon(http_config(port, "probes = off\n"))
    for path in ("/echo", "/status/418", "/delay/1", "/bytes/10", "/drip"):
        r = curl("-i", "http://127.0.0.1:%d%s" % (port, path))
        check(r.stdout.startswith(b"HTTP/1.1 404"), "%s: %r" % (path, r.stdout[:60]))
    r = curl("-i", "-X", "POST", "http://127.0.0.1:%d/echo" % port)
    check(r.stdout.startswith(b"HTTP/1.1 405"), r.stdout[:60])


TESTS = [test_echo_reflects_request, test_echo_post_bodies, test_status_and_headers,
         test_bytes_and_drip, test_2000_delays_while_root_stays_fast,
         test_delay_clients_leaving_free_everything, test_delay_request_and_fin_together,
         test_large_reply_headers_and_a_non_reading_drip, test_probes_off]
