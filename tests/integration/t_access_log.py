"""The access log: access_log = on writes a line per HTTP request and one per
echo or WebSocket connection at its end to stdout, every field exact."""
import datetime
import os
import re
import socket
import threading

import nd
from nd import check
from t_ws import frame

STAMP = r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) "


def config(http, echo, extra=""):
    return ("[netdemo]\nlog_level = info\n\n"
            "[web]\nmodule = http\nlisten = tcp://127.0.0.1:%d\naccess_log = on\n\n"
            "[echo]\nmodule = echo\nlisten = tcp://127.0.0.1:%d\naccess_log = on\n%s"
            % (http, echo, extra))


def exchange(s, raw, head_only=False):
    """Sends one raw request; reads its whole answer. (status, bytes)."""
    s.sendall(raw)
    data = b""
    while b"\r\n\r\n" not in data:
        d = s.recv(65536)
        check(d, "EOF before the answer's head: %r" % data)
        data += d
    head = data.split(b"\r\n\r\n", 1)[0]
    m = re.search(rb"\r\ncontent-length: (\d+)", head, re.I)
    total = len(head) + 4 + (0 if head_only or m is None else int(m.group(1)))
    while len(data) < total:
        d = s.recv(65536)
        check(d, "EOF in the answer's body")
        data += d
    check(len(data) == total, "more than one answer: %r" % data)
    return int(head.split(b" ")[1]), total


def lines(d, n, kind):
    """Waits for n lines of kind (http, echo, ws) on stdout; returns them."""
    def got():
        ls = [l for l in d.out().splitlines() if re.match(STAMP + kind + " ", l)]
        return ls if len(ls) >= n else None
    ls = nd.wait_until(got, 10, "%d %s access lines in:\n%s" % (n, kind, d.out()))
    check(len(ls) == n, "%d %s lines, wanted %d:\n%s" % (len(ls), kind, n, "\n".join(ls)))
    return ls


def check_line(line, want, t0, t1):
    """want: the line after the timestamp, with DUR where the duration is."""
    rx = STAMP + re.escape(want).replace("DUR", r"(\d+)") + "$"
    m = re.match(rx, line)
    check(m, "access line\n  %r\nis not\n  %r" % (line, want))
    stamp = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ")
    check(t0.replace(microsecond=t0.microsecond // 1000 * 1000) <= stamp <= t1,
          "timestamp %s not between %s and %s (UTC)" % (m.group(1), t0, t1))
    dur = int(m.group(2))
    check(dur > 0, "duration %d in %r" % (dur, line))


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def test_http_requests():
    """GET, a HEAD of a 404, X-Request-Id with a space, a tab, UTF-8 and a
    quote; a target with a quote and a backslash; a malformed request line
    with a control byte and a non-ASCII byte (its raw line is logged)."""
    http, echo = nd.free_port(), nd.free_port()
    d = nd.Daemon(config(http, echo))
    t0 = utcnow()
    s = nd.connect(http)
    port = s.getsockname()[1]
    st1, n1 = exchange(s, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    st2, n2 = exchange(s, b"HEAD /nope HTTP/1.1\r\nHost: x\r\n\r\n", head_only=True)
    st3, n3 = exchange(s, b"GET /health?q=\"a\\b HTTP/1.1\r\nHost: x\r\n"
                          b"X-Request-Id: r 1\t\xc3\xa9\"x\r\n\r\n")
    check((st1, st2, st3) == (200, 404, 200), "statuses %r" % ((st1, st2, st3),))
    s.close()
    s = nd.connect(http)
    port2 = s.getsockname()[1]
    st4, n4 = exchange(s, b"GET /a\x01\xff\"b HTTP/1.1\r\nHost: x\r\n\r\n")
    check(st4 == 400, "a control byte in the target: %d" % st4)
    s.close()
    ls = lines(d, 4, "http")
    t1 = utcnow()
    c1, c2 = "127.0.0.1:%d" % port, "127.0.0.1:%d" % port2
    check_line(ls[0], 'http web %s "GET /health" 200 %d DUR -' % (c1, n1), t0, t1)
    check_line(ls[1], 'http web %s "HEAD /nope" 404 %d DUR -' % (c1, n2), t0, t1)
    check_line(ls[2], 'http web %s "GET /health?q=\\x22a\\x5cb" 200 %d DUR '
                      'r\\x201\\x09\\xc3\\xa9\\x22x' % (c1, n3), t0, t1)
    check_line(ls[3], 'http web %s "GET /a\\x01\\xff\\x22b HTTP/1.1" 400 %d DUR -'
               % (c2, n4), t0, t1)
    check(all(l.count("\n") == 0 and "\r" not in l for l in ls), "a line split")


def test_echo_and_websocket_connections():
    """An echo connection with known bytes each way; a WebSocket echo: its
    upgrade request as an http line (101), then a ws line at its end with
    the connection's bytes (handshake included) and duration."""
    http, echo = nd.free_port(), nd.free_port()
    d = nd.Daemon(config(http, echo))
    t0 = utcnow()
    s = nd.connect(echo)
    eport = s.getsockname()[1]
    for n in (1000, 500):
        s.sendall(b"x" * n)
        check(nd.recv_exact(s, n) == b"x" * n, "echo")
    s.shutdown(socket.SHUT_WR)
    check(nd.recv_all(s) == b"", "more after the echo")
    s.close()

    s = nd.connect(http)
    wport = s.getsockname()[1]
    req = (b"GET /ws/echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
           b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           b"Sec-WebSocket-Version: 13\r\n\r\n")
    st, hlen = exchange(s, req, head_only=True)
    check(st == 101, "handshake: %d" % st)
    sent = len(req)
    got = hlen
    for f in (frame(0x1, b"hello"), frame(0x8, b"\x03\xe8")):
        s.sendall(f)
        sent += len(f)
    rest = nd.recv_all(s)       # the echo, the close frame, then EOF
    check(rest[:7] == b"\x81\x05hello" and rest[7:] == b"\x88\x02\x03\xe8",
          "ws answer %r" % rest)
    got += len(rest)
    s.close()

    el = lines(d, 1, "echo")
    wl = lines(d, 1, "ws")
    hl = lines(d, 1, "http")
    t1 = utcnow()
    check_line(el[0], "echo echo 127.0.0.1:%d in=1500 out=1500 duration_us=DUR" % eport, t0, t1)
    check_line(hl[0], 'http web 127.0.0.1:%d "GET /ws/echo" 101 %d DUR -' % (wport, hlen), t0, t1)
    check_line(wl[0], "ws web 127.0.0.1:%d in=%d out=%d duration_us=DUR" % (wport, sent, got),
               t0, t1)


def test_off_by_default():
    """A service without access_log writes no line, next to one with it on;
    stopping the daemon flushes what there is."""
    http, echo, quiet, qecho = (nd.free_port() for _ in range(4))
    d = nd.Daemon(config(http, echo, "\n[quiet]\nmodule = http\nlisten = tcp://127.0.0.1:%d\n"
                                     "\n[qecho]\nmodule = echo\nlisten = tcp://127.0.0.1:%d\n"
                         % (quiet, qecho)))
    for port in (quiet, http):
        s = nd.connect(port)
        check(exchange(s, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")[0] == 200, "GET")
        s.close()
    s = nd.connect(qecho)
    nd.echo_ok(s)
    s.close()
    check(d.stop() == 0, "exit code")
    out = d.out().splitlines()
    check(len(out) == 1 and re.match(STAMP + 'http web .* "GET /health" 200 ', out[0]),
          "only [web]'s request, not [quiet]'s nor [qecho]'s:\n%s" % d.out())


def test_journal_lines():
    """Under the journal (JOURNAL_STREAM names stdout) a line is "<6>" and
    the line, no timestamp: journald files it at priority info."""
    http, echo = nd.free_port(), nd.free_port()
    d = nd.Daemon(config(http, echo), journal_stdout=True)
    s = nd.connect(http)
    port = s.getsockname()[1]
    st, n = exchange(s, b"GET /nope HTTP/1.1\r\nHost: x\r\nX-Request-Id: abc\r\n\r\n")
    s.close()
    nd.wait_until(lambda: d.out(), 10, "an access line")
    m = re.match(r'<6>http web 127\.0\.0\.1:%d "GET /nope" 404 %d (\d+) abc\n$' % (port, n),
                 d.out())
    check(m and int(m.group(1)) > 0, "journal line %r" % d.out())


def test_slow_stdout_drops_whole_lines_and_never_stalls():
    """stdout is a pipe nobody reads: every request is still answered (a
    blocking write would hang the daemon here); whole lines beyond the
    buffer are dropped with a warning. Once the pipe is read, the rest comes
    out and the count of dropped lines is reported: lines read plus lines
    dropped is exactly the number of requests."""
    http, echo = nd.free_port(), nd.free_port()
    r, w = os.pipe()
    try:
        d = nd.Daemon(config(http, echo), stdout=w)
    finally:
        os.close(w)
    n = 4000        # some 300 KB of lines: the pipe (64 KiB) and the buffer overflow
    s = nd.connect(http)
    for _ in range(n):
        check(exchange(s, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")[0] == 200, "answer")
    d.wait_log(r"warning: access log: stdout is not keeping up; dropping lines")
    got = []

    def reader():
        while True:
            b = os.read(r, 65536)
            if not b:
                break
            got.append(b)
    t = threading.Thread(target=reader, daemon=True)
    t.start()
    try:
        # The loop writes the rest when it wakes: requests until it has caught up.
        extra = [0]

        def caught_up():
            check(exchange(s, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")[0] == 200, "answer")
            extra[0] += 1
            return re.search(r"warning: access log: (\d+) lines dropped: stdout did not keep up",
                             d.log())
        dropped = int(nd.wait_until(caught_up, 10, "the count of dropped lines").group(1))
        check(dropped > 0, "nothing dropped")

        def read():
            return sum(b.count(b"\n") for b in got)
        nd.wait_until(lambda: read() + dropped == n + extra[0], 10,
                      "lines read + %d dropped = %d requests (read: %d)"
                      % (dropped, n + extra[0], read()))
        text = b"".join(got).decode()
        check(all(re.match(STAMP + r'http web 127\.0\.0\.1:\d+ "GET /health" 200 \d+ \d+ -$', l)
                  for l in text.splitlines()), "a line cut or mangled")
        s.close()
        check(d.stop() == 0, "exit code")
    finally:
        d.cleanup()
        t.join(10)
        os.close(r)


TESTS = [test_http_requests, test_echo_and_websocket_connections, test_off_by_default,
         test_journal_lines, test_slow_stdout_drops_whole_lines_and_never_stalls]
