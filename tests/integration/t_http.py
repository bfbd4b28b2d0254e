"""The http module against curl, ab, http.client and raw sockets."""
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

import nd
from nd import check


def http_config(port, extra="", host="127.0.0.1", v6port=None):
    listen = "tcp://%s:%d" % (host, port)
    if v6port:
        listen += ", tcp://[::1]:%d" % v6port
    return "[web]\nmodule = http\nlisten = %s\n%s" % (listen, extra)


def curl(*args, timeout=10):
    r = subprocess.run(["curl", "-s", "--max-time", str(timeout * nd.SLOW)] + list(args),
                       capture_output=True, timeout=timeout * nd.SLOW + 5)
    return r


def raw(port, data, timeout=5, host="127.0.0.1"):
    """Sends bytes, returns (everything read, closed?) after EOF or a quiet
    timeout."""
    s = nd.connect(port, host)
    s.sendall(data)
    s.settimeout(timeout * nd.SLOW)
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                return out, True
            out += d
            if b"Connection: close" not in out:
                s.settimeout(0.5)   # keep-alive: a pause after the answer ends it
    except socket.timeout:
        return out, False
    except ConnectionResetError:
        return out, True
    finally:
        s.close()


def statuses(data):
    return [int(m) for m in re.findall(rb"HTTP/1\.1 (\d{3}) ", data)]


def test_curl_pages():
    port, port6 = nd.free_port(), nd.free_port(host="::1")
    nd.Daemon(http_config(port, v6port=port6))
    r = curl("-i", "http://127.0.0.1:%d/" % port)
    out = r.stdout.decode()
    check(out.startswith("HTTP/1.1 200 OK\r\n"), out[:200])
    for h in ("Date: ", "Server: netdemo/", "Content-Length: ",
              "Content-Type: text/html; charset=utf-8"):
        check(h in out, "missing %s in %s" % (h, out[:400]))
    check("<h2>Welcome to netdemo</h2>" in out and "<b>web</b>" in out, "page: " + out)
    r = curl("-i", "http://[::1]:%d/health" % port6)
    check(r.stdout.startswith(b"HTTP/1.1 200") and r.stdout.endswith(b"\r\n\r\nok\n"), r.stdout)
    r = curl("-i", "--http1.0", "http://127.0.0.1:%d/health" % port)
    check(b"Connection: close" in r.stdout, "1.0 without keep-alive must close: %r" % r.stdout)
    r = curl("-I", "http://127.0.0.1:%d/" % port)
    check(r.stdout.startswith(b"HTTP/1.1 200") and r.stdout.endswith(b"\r\n\r\n"), r.stdout)
    m = re.search(rb"Content-Length: (\d+)", r.stdout)
    check(m and int(m.group(1)) > 100, "HEAD keeps the GET length")
    r = curl("http://127.0.0.1:%d/stats" % port)
    st = json.loads(r.stdout)
    check(st["service"] == "web" and st["requests"]["2xx"] >= 4, st)
    check(st["connections"]["total"] >= 4 and st["bytes"]["out"] > 0, st)
    # the module's counters by the names it declares, the same slots as above
    ctr = st["counters"]
    check(sorted(ctr) == ["chat_backend_down", "chat_backend_reconnects", "chat_backend_refused",
                          "chat_backend_unanswered", "requests", "requests_1xx", "requests_2xx", "requests_3xx",
                          "requests_4xx", "requests_5xx", "ws_members"], st)
    check(ctr["requests"] == st["requests"]["total"] and
          ctr["requests_2xx"] == st["requests"]["2xx"], st)
    check(st["datagrams"] == {"in": 0, "out": 0, "dropped": 0}, st)
    r = curl("-i", "http://127.0.0.1:%d/nope" % port)
    check(r.stdout.startswith(b"HTTP/1.1 404"), r.stdout)


def test_keepalive_200_requests_http_client():
    port = nd.free_port()
    d = nd.Daemon(http_config(port))
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10 * nd.SLOW)
    for i in range(200):
        c.request("GET", "/health" if i % 2 else "/")
        r = c.getresponse()
        body = r.read()
        check(r.status == 200, "request %d: %d" % (i, r.status))
        check(r.getheader("Connection") is None, "unexpected Connection header")
        check((body == b"ok\n") if i % 2 else (b"Welcome" in body), "body %d" % i)
    st = json.loads(curl("http://127.0.0.1:%d/stats" % port).stdout)
    check(st["connections"]["total"] == 2, "200 requests were not on one connection: %s" % st)
    c.close()


def test_http10_keepalive():
    port = nd.free_port()
    nd.Daemon(http_config(port))
    out, closed = raw(port, b"GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                            b"GET /health HTTP/1.0\r\n\r\n")
    check(statuses(out) == [200, 200] and closed, "%r" % out)
    check(out.count(b"Connection: keep-alive") == 1 and out.count(b"Connection: close") == 1, out)


def test_pipelining_in_order():
    port = nd.free_port()
    nd.Daemon(http_config(port))
    reqs = b"".join(b"GET /%s HTTP/1.1\r\nHost: x\r\n\r\n" % p
                    for p in (b"health", b"missing", b"", b"health", b"stats"))
    out, _ = raw(port, reqs + b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    check(statuses(out) == [200, 404, 200, 200, 200, 200], statuses(out))
    # A body sent with GET is read and discarded: the next request parses.
    out, _ = raw(port, b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                       b"GET /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       b"3\r\nabc\r\n0\r\n\r\n"
                       b"POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nxyz"
                       b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    check(statuses(out) == [200, 200, 405, 404], statuses(out))
    check(b"Allow: GET, HEAD" in out, "405 without Allow")


MALFORMED = [
    # (request bytes, status, closes)
    (b"GET / HTTP/1.1\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n", 400),
    (b"GET / HTTP/1.1\nHost: a\r\n\r\n", 400),
    (b"G@T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHo(st: a\r\n\r\n", 400),
    (b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    (b"GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    (b"GET / http/1.1\r\nHost: a\r\n\r\n", 400),
    (b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400),
    (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 2\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: foo, chunked\r\n\r\n", 501),
    (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
    (b"GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505),
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414),
    (b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"a" * 17000 + b"\r\n\r\n", 431),
    (b"GET / HTTP/1.1\r\nHost: a\r\n" + b"X: y\r\n" * 101 + b"\r\n", 431),
    (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\n\r\n", 413),
    (b"GET /../etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    (b"GET /a%zz HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    (b"GET relative HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: a, b\r\n\r\n", 400),
]


def test_malformed_requests():
    port = nd.free_port()
    nd.Daemon(http_config(port))
    for req, status in MALFORMED:
        out, closed = raw(port, req)
        got = statuses(out)
        check(got == [status], "%r: want %d, got %r" % (req[:80], status, out[:200]))
        check(closed, "%r: connection left open after %d" % (req[:60], status))
        check(b"Connection: close" in out, "%r: no Connection: close" % req[:60])
    # Methods: known but not allowed, and unknown tokens (both keep the connection).
    for method, status in ((b"POST", 405), (b"PUT", 405), (b"DELETE", 405), (b"OPTIONS", 405),
                           (b"PATCH", 405), (b"BREW", 501)):
        out, closed = raw(port, method + b" / HTTP/1.1\r\nHost: a\r\n\r\n"
                          b"GET /health HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        check(statuses(out) == [status, 200], "%s: %r" % (method, out[:300]))
        if status == 405:
            check(b"Allow: GET, HEAD\r\n" in out, "Allow header")


# Chunked bodies malformed in their first bytes, sent in one packet with a
# head that a resource answers without reading the body (GET /) and with one
# that needs it (POST /echo): each is a 400 with a close, never a 200.
BAD_CHUNKED = [
    b"zz\r\n",                                  # not a size
    b"0x5\r\nhello\r\n0\r\n\r\n",              # a prefix on the size
    b"10000000000000000\r\n",                    # a size that overflows
    b"3\r\nabcX\r\n",                             # chunk data without its CRLF
    b"3\nabc\r\n0\r\n\r\n",                      # a chunk line ended by a bare LF
    b"3;a\rb\r\nabc\r\n0\r\n\r\n",               # a bare CR in an extension
    b"2 erfrferferf\r\nab\r\n0\r\n\r\n",          # an extension without ';'
    b"2;\r\nab\r\n0\r\n\r\n",                     # an empty extension name
    b"5;a=\"abc;b=c\r\nhello\r\n0\r\n\r\n",       # an unbalanced quote
    b"a \r\n0123456789\r\n0\r\n\r\n",             # whitespace and no extension
    b"1 0\r\nx\r\n0\r\n\r\n",                     # 1 here, 0x10 to a lenient front end
]


def test_chunked_framing_checked_before_the_answer():
    port = nd.free_port()
    nd.Daemon(http_config(port))
    for target in (b"GET / ", b"POST /echo "):
        for body in BAD_CHUNKED:
            req = (target + b"HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
                   body)
            out, closed = raw(port, req)
            check(statuses(out) == [400], "%r: %r" % (req, out[:200]))
            check(closed and b"Connection: close\r\n" in out, "%r: not closed" % req)
    # Valid extensions, quoted or not, with the BWS the grammar allows.
    out, _ = raw(port, b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                       b"Connection: close\r\n\r\n"
                       b"3 ; a = 1 ;b\r\nabc\r\n2;q=\"x;\\\"y\"\r\nde\r\n0\r\n\r\n")
    check(statuses(out) == [200] and b'"body":"abcde"' in out, out[-200:])
    # Body bytes after the answer are read and dropped as they come; a
    # framing error there ends the connection with nothing more sent.
    s = nd.connect(port)
    s.settimeout(5 * nd.SLOW)
    s.sendall(b"GET /health HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"3\r\nabc\r\n")
    first = s.recv(4096)
    check(statuses(first) == [200], first)
    s.sendall(b"4\r\nwxyz\r\n0\r\n\r\nGET /health HTTP/1.1\r\nHost: a\r\n\r\n")
    second = s.recv(4096)
    check(statuses(second) == [200], "the request after a dropped body: %r" % second)
    s.sendall(b"GET /health HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"3\r\nabc\r\n")
    check(statuses(s.recv(4096)) == [200], "third answer")
    s.sendall(b"3\r\nabcX")
    check(nd.expect_eof(s, 5), "a framing error after the answer left the connection open")


SERVER_ALLOW = b"Allow: GET, HEAD, POST, OPTIONS\r\n"


def test_options_asterisk_form():
    port = nd.free_port()
    nd.Daemon(http_config(port))
    allow = SERVER_ALLOW
    # OPTIONS * (asterisk-form) asks about the server: 200, Allow, no body.
    out, closed = raw(port, b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"
                            b"GET /health HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    check(statuses(out) == [200, 200], out)
    first = out[:out.index(b"HTTP/1.1 200", 1)]
    check(allow in first and b"Content-Length: 0\r\n" in first and first.endswith(b"\r\n\r\n"),
          first)
    # '*' is for OPTIONS only.
    for m in (b"GET", b"HEAD", b"POST"):
        out, closed = raw(port, m + b" * HTTP/1.1\r\nHost: a\r\n\r\n")
        check(statuses(out) == [400] and closed, "%s *: %r" % (m, out[:100]))


def test_connect_authority_form():
    port = nd.free_port()
    nd.Daemon(http_config(port))
    allow = SERVER_ALLOW
    # CONNECT with an authority-form target: a known method not served.
    for target in (b"host:443", b"127.0.0.1:8080", b"[::1]:443"):
        out, closed = raw(port, b"CONNECT " + target + b" HTTP/1.1\r\nHost: " + target +
                          b"\r\n\r\nGET /health HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        check(statuses(out) == [405, 200] and allow in out, "CONNECT %s: %r" % (target, out[:300]))
    for target in (b"/", b"host", b"host:", b"host:x", b"user@host:443", b"host:443/x"):
        out, closed = raw(port, b"CONNECT " + target + b" HTTP/1.1\r\nHost: a\r\n\r\n")
        check(statuses(out) == [400] and closed, "CONNECT %s: %r" % (target, out[:100]))


def test_absolute_form_with_userinfo():
    port = nd.free_port()
    nd.Daemon(http_config(port))
    # Absolute-form with userinfo is an error (RFC 9110 4.2.4); without, served.
    for target in (b"http://user:pw@host/", b"http://user@host", b"http://@host/x?y"):
        out, closed = raw(port, b"GET " + target + b" HTTP/1.1\r\nHost: host\r\n\r\n")
        check(statuses(out) == [400] and closed, "%s: %r" % (target, out[:100]))
    out, _ = raw(port, b"GET http://host/health?x=a@b HTTP/1.1\r\nHost: host\r\n"
                       b"Connection: close\r\n\r\n")
    check(statuses(out) == [200] and out.endswith(b"ok\n"), out)


def test_ab_keepalive_no_failures():
    port = nd.free_port()
    nd.Daemon(http_config(port))
    r = subprocess.run(["ab", "-q", "-k", "-n", "20000", "-c", "50",
                        "http://127.0.0.1:%d/" % port], capture_output=True, text=True,
                       timeout=120 * nd.SLOW)
    check(r.returncode == 0, r.stderr)
    check(re.search(r"Complete requests:\s+20000", r.stdout), r.stdout)
    check(re.search(r"Failed requests:\s+0\n", r.stdout), r.stdout)
    check(re.search(r"Keep-Alive requests:\s+20000", r.stdout), r.stdout)


def test_ab_one_connection_per_request_no_failures():
    # HTTP/1.0 without keep-alive: each answer, then the connection closes
    port = nd.free_port()
    nd.Daemon(http_config(port))
    r = subprocess.run(["ab", "-q", "-n", "5000", "-c", "50", "http://127.0.0.1:%d/" % port],
                       capture_output=True, text=True, timeout=120 * nd.SLOW)
    check(r.returncode == 0, r.stderr)
    check(re.search(r"Complete requests:\s+5000\n", r.stdout), r.stdout)
    check(re.search(r"Failed requests:\s+0\n", r.stdout), r.stdout)


def read_to_eof(s):
    """Everything until the server's FIN; a reset fails the test."""
    out = b""
    while True:
        try:
            d = s.recv(65536)
        except ConnectionResetError:
            raise nd.Failure("reset after %r" % out[-200:])
        if not d:
            return out
        out += d


def whole_answer(out):
    head, _, body = out.partition(b"\r\n\r\n")
    m = re.search(rb"\r\nContent-Length: (\d+)\r\n", head + b"\r\n")
    return m is not None and len(body) == int(m.group(1))


def test_close_asked_by_the_client_does_not_linger():
    port = nd.free_port()
    nd.Daemon(http_config(port))
    for req in (b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
                b"GET / HTTP/1.0\r\n\r\n",
                b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                b"Connection: close\r\n\r\nhello"):
        s = nd.connect(port)
        s.sendall(req)
        out = read_to_eof(s)    # our side stays open: no FIN from the client
        check(out.startswith((b"HTTP/1.1 200", b"HTTP/1.0 200")) and whole_answer(out),
              "%r: %r" % (req, out[:300]))
        # The server closed at once instead of waiting for our FIN: only
        # the /stats request itself is open now.
        st = json.loads(curl("http://127.0.0.1:%d/stats" % port).stdout)
        check(st["connections"]["current"] == 1, "%r: still open: %s" % (req, st["connections"]))
        s.close()


def test_close_with_unread_input_lingers_and_loses_nothing():
    # Bytes the server does not read (a body it does not answer, a request
    # sent after Connection: close) must not turn the close into a reset
    # that destroys the answer: it lingers, reading until our FIN.
    port = nd.free_port()
    nd.Daemon(http_config(port))
    big = b"x" * (256 * 1024)
    for req in (b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
                b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
                b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: %d"
                b"\r\n\r\n" % len(big) + big):
        s = nd.connect(port)
        s.sendall(req)
        out = read_to_eof(s)
        check(out.startswith(b"HTTP/1.1 200") and whole_answer(out) and
              out.count(b"HTTP/1.1") == 1, "%r: %r" % (req[:80], out[:300]))
        s.close()


def test_header_timeout_slow_client():
    port = nd.free_port()
    nd.Daemon(http_config(port, "header_timeout = 1s\n"))
    s = nd.connect(port)
    t0 = time.monotonic()
    answer = b""
    # One byte every 200 ms: each read is quick, the whole head is not.
    for b in b"GET / HTTP/1.1\r\nHost: slow\r\nX-Trickle: " + b"z" * 30:
        try:
            s.send(bytes([b]))
        except (BrokenPipeError, ConnectionResetError):
            break
        s.settimeout(0.2)
        try:
            answer += s.recv(4096)
            if answer:
                break
        except socket.timeout:
            pass
    dt = time.monotonic() - t0
    answer += nd.recv_all(s) if answer else b""
    check(answer.startswith(b"HTTP/1.1 408"), "answer %r after %.1fs" % (answer[:100], dt))
    check(0.9 <= dt <= 3 * nd.SLOW, "408 after %.2fs, header_timeout is 1s" % dt)


def test_keepalive_timeout_closes_quietly():
    port = nd.free_port()
    nd.Daemon(http_config(port, "keepalive_timeout = 500ms\n"))
    s = nd.connect(port)
    s.sendall(b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n")
    first = s.recv(4096)
    check(first.startswith(b"HTTP/1.1 200"), first)
    t0 = time.monotonic()
    check(nd.recv_all(s) == b"", "something was sent before the close")
    dt = time.monotonic() - t0
    check(0.4 <= dt <= 3 * nd.SLOW, "closed after %.2fs, keepalive_timeout 500ms" % dt)


def test_send_timeout_drops_a_non_reader():
    port = nd.free_port()
    d = nd.Daemon(http_config(port, "send_timeout = 1s\n"))
    base = d.fds()
    s = nd.connect(port)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(b"GET /bytes/60000000 HTTP/1.1\r\nHost: a\r\n\r\n")
    nd.wait_until(lambda: d.fds() == base + 1, 10, "the connection to be accepted")
    t0 = time.monotonic()
    # The client never reads: the daemon must give up on it, and free it.
    nd.wait_until(lambda: d.fds() < base + 1, 10, "the non-reader to be dropped")
    dt = time.monotonic() - t0
    check(0.9 <= dt <= 4 * nd.SLOW, "dropped after %.2fs, send_timeout is 1s" % dt)
    s.close()


def test_pipelined_flood_bounded_memory():
    port = nd.free_port()
    d = nd.Daemon(http_config(port))
    s = nd.connect(port)
    s.setblocking(False)
    req = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n" * 1000
    sent, stall = 0, None
    base = d.rss_kb()
    while sent < 200 * len(req):        # 200,000 requests, never reading
        try:
            sent += s.send(req)
            stall = None
        except BlockingIOError:
            stall = stall or time.monotonic()
            if time.monotonic() - stall > 1.0:
                break
            time.sleep(0.01)
    check(stall is not None, "200,000 pipelined requests sent without ever blocking")
    grown = d.rss_kb() - base
    check(grown < 16 * 1024, "RSS grew %d KiB for a client that does not read" % grown)
    check(d.proc.poll() is None, "daemon died")
    s.close()


def test_docroot():
    root = tempfile.mkdtemp(prefix="nd-it-root-")
    outside = tempfile.mkdtemp(prefix="nd-it-outside-")
    try:
        with open(os.path.join(outside, "secret.txt"), "w") as f:
            f.write("SECRET")
        os.makedirs(os.path.join(root, "dir"))
        os.makedirs(os.path.join(root, "empty"))
        with open(os.path.join(root, "a.txt"), "w") as f:
            f.write("hello file\n")
        with open(os.path.join(root, "dir", "index.html"), "w") as f:
            f.write("<p>index</p>\n")
        with open(os.path.join(root, "big.bin"), "wb") as f:
            f.write(os.urandom(3 << 20))
        os.symlink(os.path.join(outside, "secret.txt"), os.path.join(root, "evil"))
        os.symlink(outside, os.path.join(root, "evildir"))
        os.symlink("a.txt", os.path.join(root, "good"))
        os.mkfifo(os.path.join(root, "fifo"))
        port = nd.free_port()
        nd.Daemon(http_config(port, "root = %s\n" % root))
        base = "http://127.0.0.1:%d" % port
        r = curl("-i", base + "/a.txt")
        check(r.stdout.startswith(b"HTTP/1.1 200") and r.stdout.endswith(b"hello file\n"), r.stdout)
        check(b"Content-Type: text/plain; charset=utf-8" in r.stdout, r.stdout)
        lm = re.search(rb"Last-Modified: ([^\r]+)", r.stdout)
        check(lm, "no Last-Modified")
        r = curl("-i", "-H", "If-Modified-Since: " + lm.group(1).decode(), base + "/a.txt")
        check(r.stdout.startswith(b"HTTP/1.1 304") and r.stdout.endswith(b"\r\n\r\n"), r.stdout)
        r = curl("-i", base + "/dir")
        check(r.stdout.startswith(b"HTTP/1.1 301") and b"Location: /dir/\r\n" in r.stdout, r.stdout)
        long_dir = "d" * 200
        os.makedirs(os.path.join(root, long_dir, long_dir, long_dir, long_dir, long_dir))
        deep = "/" + "/".join([long_dir] * 5)
        r = curl("-i", base + deep)
        check(r.stdout.startswith(b"HTTP/1.1 301") and
              ("Location: %s/\r\n" % deep).encode() in r.stdout, "long Location: %r" % r.stdout[:80])
        check(curl(base + "/dir/").stdout == b"<p>index</p>\n", "index.html")
        check(curl(base + "/good").stdout == b"hello file\n", "symlink inside the root")
        big = curl(base + "/big.bin").stdout
        check(big == open(os.path.join(root, "big.bin"), "rb").read(), "3 MiB file differs")
        for path, want in (("/missing", 404), ("/empty/", 403), ("/fifo", 403), ("/evil", 403),
                           ("/evildir/secret.txt", 403)):
            r = curl("-i", base + path)
            check(r.stdout.startswith(b"HTTP/1.1 %d" % want), "%s: %r" % (path, r.stdout[:80]))
        # Traversal attempts never return a file outside the root.
        for path in (b"/../a.txt", b"/%2e%2e/a.txt", b"/..%2f..%2fetc%2fpasswd",
                     b"/a.txt%00", b"/dir/../../" + outside.encode() + b"/secret.txt",
                     b"/%2e%2e/%2e%2e/etc/passwd", b"/evil", b"/evildir/secret.txt",
                     b"//etc/passwd", b"/dir/..%5c..%5cetc/passwd"):
            out, _ = raw(port, b"GET " + path + b" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            check(b"SECRET" not in out and b"root:" not in out, "%r leaked: %r" % (path, out))
            check(statuses(out) and statuses(out)[0] in (400, 403, 404), "%r: %r" % (path, out[:60]))
    finally:
        shutil.rmtree(root)
        shutil.rmtree(outside)



def head_status(port, method, path, body=b"", upgrade=False):
    """The status of one request's answer, read up to the end of its head."""
    s = nd.connect(port)
    h = "%s %s HTTP/1.1\r\nHost: a\r\n" % (method, path)
    if upgrade:
        h += ("Upgrade: websocket\r\nConnection: Upgrade\r\n"
              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n")
    else:
        h += "Connection: close\r\n"
    if body:
        h += "Content-Length: %d\r\n" % len(body)
    s.sendall(h.encode() + b"\r\n" + body)
    s.settimeout(5 * nd.SLOW)
    out = b""
    try:
        while b"\r\n\r\n" not in out:
            d = s.recv(4096)
            if not d:
                break
            out += d
    finally:
        s.close()
    m = re.match(rb"HTTP/1\.1 (\d{3}) ", out)
    check(m, "%s %s: %r" % (method, path, out[:200]))
    return int(m.group(1)), out


# What each switch serves: (method, path, body, upgrade?, status when on).
SWITCHED = {
    "probes": [("GET", "/echo", b"", False, 200), ("POST", "/echo", b"x", False, 200),
               ("GET", "/status/418", b"", False, 418), ("GET", "/delay/1", b"", False, 200),
               ("GET", "/bytes/10", b"", False, 200), ("GET", "/drip?duration=1", b"", False, 200)],
    "chat": [("GET", "/chat", b"", False, 200),
             ("GET", "/chat/poll?room=sw&timeout=50", b"", False, 200),
             ("POST", "/chat/send?room=sw&name=t", b"hi", False, 200),
             ("GET", "/chat/send", b"", False, 405)],
    "websocket": [("GET", "/ws/echo", b"", True, 101)],
    "wschat": [("GET", "/ws/chat?room=sw", b"", True, 101)],
}

# The links of the welcome page, by the switch that brings them.
PAGE_LINKS = {
    "always": {"/", "/health", "/stats", "/metrics"},
    "probes": {"/echo", "/status/418", "/delay/1000", "/bytes/1024", "/drip"},
    "chat": {"/chat", "/chat/poll?room=lobby", "/chat/send?room=lobby"},
    "websocket": {"/ws/echo"},
    "wschat": {"/ws/chat?room=lobby"},
    "root": {"/index.html"},
}


def test_probes_websocket_chat_switches():
    root = tempfile.mkdtemp()
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write("root index\n")
    try:
        for off in ((), ("probes",), ("websocket",), ("chat",),
                    ("probes", "websocket", "chat")):
            port = nd.free_port()
            with_root = off == ("probes", "websocket", "chat")
            extra = "".join("%s = off\n" % k for k in off)
            if with_root:
                extra += "root = %s\n" % root
            d = nd.Daemon(http_config(port, extra))
            on = {k for k in ("probes", "websocket", "chat") if k not in off}
            if "websocket" in on and "chat" in on:
                on.add("wschat")
            for sw, reqs in SWITCHED.items():
                for method, path, body, upgrade, want in reqs:
                    got, out = head_status(port, method, path, body, upgrade)
                    if sw in on:
                        check(got == want, "%s on (%s off): %s %s: %r"
                              % (sw, off, method, path, out[:200]))
                    elif method == "GET":
                        # like any unknown path: 404, or the root's own 404
                        check(got == 404, "%s off: %s %s: %r" % (sw, method, path, out[:200]))
                    else:
                        check(got == 405 and b"Allow: GET, HEAD\r\n" in out,
                              "%s off: %s %s: %r" % (sw, method, path, out[:200]))
            # what stays on whatever the switches
            for path in ("/", "/health", "/stats", "/metrics"):
                check(head_status(port, "GET", path)[0] == 200, "%s (%s off)" % (path, off))
            # the server-wide Allow: POST only while a resource takes it
            out, closed = raw(port, b"OPTIONS * HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            allow = (b"Allow: GET, HEAD, POST, OPTIONS\r\n" if on & {"probes", "chat"}
                     else b"Allow: GET, HEAD, OPTIONS\r\n")
            check(statuses(out) == [200] and allow in out, "OPTIONS * (%s off): %r" % (off, out))
            # the welcome page lists exactly what is on, one line each
            r = curl("http://127.0.0.1:%d/" % port)
            page = r.stdout.decode()
            check(len(r.stdout) < 4096, "page of %d bytes" % len(r.stdout))
            check("src=" not in page and 'href="http' not in page and "<link" not in page,
                  "external asset: " + page)
            links = re.findall(r'href="([^"]*)"', page)
            want = set(PAGE_LINKS["always"])
            for sw in on:
                want |= PAGE_LINKS[sw]
            if with_root:
                want |= PAGE_LINKS["root"]
            check(sorted(links) == sorted(want), "links (%s off): %s != %s"
                  % (off, sorted(links), sorted(want)))
            for link in links:
                check(sum(1 for line in page.splitlines() if 'href="%s"' % link in line) == 1,
                      "one line for %s: %s" % (link, page))
            if with_root:
                r = curl("http://127.0.0.1:%d/index.html" % port)
                check(r.stdout == b"root index\n", r.stdout)
            d.stop()
    finally:
        shutil.rmtree(root)


def test_stats_drain():
    port = nd.free_port()
    d = nd.Daemon(http_config(port))
    st = json.loads(curl("http://127.0.0.1:%d/stats" % port).stdout)
    check(st["drain"] is False, st)
    d.stop()
    port = nd.free_port()
    nd.Daemon(http_config(port, "drain = on\n"))
    st = json.loads(curl("http://127.0.0.1:%d/stats" % port).stdout)
    check(st["drain"] is True, st)
    r = curl("-i", "http://127.0.0.1:%d/health" % port)
    check(r.stdout.startswith(b"HTTP/1.1 503"), r.stdout)

TESTS = [test_curl_pages, test_keepalive_200_requests_http_client, test_http10_keepalive,
         test_pipelining_in_order, test_malformed_requests, test_ab_keepalive_no_failures,
         test_ab_one_connection_per_request_no_failures,
         test_close_asked_by_the_client_does_not_linger,
         test_close_with_unread_input_lingers_and_loses_nothing,
         test_header_timeout_slow_client, test_keepalive_timeout_closes_quietly,
         test_send_timeout_drops_a_non_reader,
         test_pipelined_flood_bounded_memory, test_docroot,
         test_chunked_framing_checked_before_the_answer, test_options_asterisk_form,
         test_connect_authority_form, test_absolute_form_with_userinfo,
         test_probes_websocket_chat_switches, test_stats_drain]
