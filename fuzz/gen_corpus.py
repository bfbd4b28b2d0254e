#!/usr/bin/env python3
"""gen_corpus.py: writes the seed corpus of each fuzz target under
fuzz/corpus/TARGET/ (run from the top of the tree). Seeds are named for what
they hold. Reproducers of bugs still open go to fuzz/crashes/TARGET/, which
make fuzz-replay leaves alone (CI stays green) and make fuzz-crashes runs;
with its fix, a reproducer moves into fuzz/corpus/TARGET/ for good. Input
layouts are described at the top of each fuzz/fuzz_*.c file."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")
CRASHES = os.path.join(HERE, "crashes")


def write(target, name, data, where=OUT):
    d = os.path.join(where, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def req(line, *headers, body=b""):
    head = line + "\r\n" + "".join(h + "\r\n" for h in headers) + "\r\n"
    return head.encode() + (body.encode() if isinstance(body, str) else body)


H = "Host: a"
GET = req("GET / HTTP/1.1", H)
CHUNKED = req("POST /echo HTTP/1.1", H, "Transfer-Encoding: chunked",
              body="5;x=1\r\nhello\r\n0\r\nX-T: 1\r\n\r\n")


def chunked(body):
    """A chunked POST to /echo with this body."""
    return req("POST /echo HTTP/1.1", H, "Transfer-Encoding: chunked", body=body)


# Chunk extensions as RFC 9112 7.1.1 has them: BWS, a bare name, and a
# quoted-string holding a quoted-pair and a ';'.
CHUNKED_EXT = chunked('5 ; a="q\\"uo;ted" ;b\r\nhello\r\n0;c=1\r\n\r\n')

# Requests each malformed in one way (README "Strictness").
MALFORMED = {
    "bare-lf": b"GET / HTTP/1.1\nHost: a\r\n\r\n",
    "bare-cr": b"GET / HTTP/1.1\rHost: a\r\n\r\n",
    "obs-fold": req("GET / HTTP/1.1", H, " folded"),
    "space-colon": req("GET / HTTP/1.1", "Host : a"),
    "two-hosts": req("GET / HTTP/1.1", H, "Host: b"),
    "no-host": req("GET / HTTP/1.1"),
    "cl-and-te": req("POST / HTTP/1.1", H, "Content-Length: 3",
                     "Transfer-Encoding: chunked", body="abc"),
    "te-not-last": req("POST / HTTP/1.1", H, "Transfer-Encoding: chunked, gzip"),
    "te-twice": req("POST / HTTP/1.1", H, "Transfer-Encoding: chunked",
                    "Transfer-Encoding: chunked"),
    "te-http10": req("POST / HTTP/1.0", "Transfer-Encoding: chunked"),
    "te-gzip": req("POST / HTTP/1.1", H, "Transfer-Encoding: gzip, chunked"),
    "cl-list": req("POST / HTTP/1.1", H, "Content-Length: 1, 2", body="ab"),
    "cl-plus": req("POST / HTTP/1.1", H, "Content-Length: +5"),
    "cl-hex": req("POST / HTTP/1.1", H, "Content-Length: 0x5"),
    "cl-empty": req("POST / HTTP/1.1", H, "Content-Length:"),
    "cl-huge": req("POST / HTTP/1.1", H, "Content-Length: 99999999999999999999999"),
    "version-2": req("GET / HTTP/2.0", H),
    "version-junk": req("GET / HTTP/1.x", H),
    "nul-value": req("GET / HTTP/1.1", H, "X: a\x00b"),
    "ctl-value": req("GET / HTTP/1.1", H, "X: a\x01b"),
    "bad-method": req("G(ET / HTTP/1.1", H),
    "bad-name": req("GET / HTTP/1.1", H, "X\x7fY: 1"),
    "no-target": req("GET  HTTP/1.1", H),
    "empty-line": b"\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
    "long-line": req("GET /" + "a" * 400 + " HTTP/1.1", H),
    "many-headers": req("GET / HTTP/1.1", H, *["X-%d: %d" % (i, i) for i in range(8)]),
    "big-header": req("GET / HTTP/1.1", H, "X: " + "v" * 1200),
    "chunk-bad-size": req("POST /echo HTTP/1.1", H, "Transfer-Encoding: chunked",
                          body="zz\r\nhello\r\n0\r\n\r\n"),
    "chunk-no-crlf": req("POST /echo HTTP/1.1", H, "Transfer-Encoding: chunked",
                         body="5\r\nhelloXX0\r\n\r\n"),
    "chunk-overflow": req("POST /echo HTTP/1.1", H, "Transfer-Encoding: chunked",
                          body="fffffffffffffffff\r\n"),
    # Chunk extensions outside the grammar of RFC 9112 7.1.1.
    "chunk-ext-no-semicolon": chunked("2 erfrferferf\r\nhi\r\n0\r\n\r\n"),
    "chunk-ext-empty-name": chunked("2;\r\nhi\r\n0\r\n\r\n"),
    "chunk-ext-unbalanced-quote": chunked('5;a="abc;b=c\r\nhello\r\n0\r\n\r\n'),
    "chunk-ext-trailing-ws": chunked("2;a \r\nhi\r\n0\r\n\r\n"),
    "chunk-size-space-digit": chunked("1 0\r\nX\r\n0\r\n\r\n"),
    "chunk-ext-bare-cr": chunked("2;a\rb\r\nhi\r\n0\r\n\r\n"),
    "path-dotdot": req("GET /../etc/passwd HTTP/1.1", H),
    "path-nul": req("GET /a%00b HTTP/1.1", H),
    "path-slash": req("GET /a%2fb HTTP/1.1", H),
    "path-pct": req("GET /a%zz HTTP/1.1", H),
    "path-star": req("OPTIONS * HTTP/1.1", H),
    "https-target": req("GET https://a/ HTTP/1.1", H),
}


def parse_seeds():
    t = "fuzz_http_parse"
    whole = bytes([0, 255, 255, 255, 255])
    bytewise = bytes([0, 0, 0, 0, 0])
    mixed = bytes([0, 3, 17, 0, 90])
    write(t, "get-whole", whole + GET)
    write(t, "get-bytewise", bytewise + GET)
    write(t, "get-http10", mixed + req("GET /x?y=1 HTTP/1.0", "Connection: keep-alive"))
    write(t, "absolute-form", mixed + req("GET http://a/b HTTP/1.1", H))
    write(t, "head", mixed + req("HEAD / HTTP/1.1", H, "Connection: close"))
    write(t, "post-length", mixed + req("POST / HTTP/1.1", H, "Content-Length: 5",
                                        body="hello"))
    write(t, "chunked", bytewise + CHUNKED)
    write(t, "chunked-ext-quoted", bytewise + CHUNKED_EXT)
    write(t, "pipelined", mixed + GET + req("GET /health HTTP/1.1", H) +
          req("POST / HTTP/1.1", H, "Content-Length: 2", body="ab") + CHUNKED + GET)
    write(t, "limits-small", bytes([1, 7, 7, 7, 7]) + req("GET / HTTP/1.1", H, "A: 1", "B: 2"))
    write(t, "limits-tiny", bytes([2, 1, 1, 1, 1]) + GET)
    write(t, "limits-large", bytes([3, 255, 255, 255, 255]) + GET)
    write(t, "chunked-only", bytes([4, 2, 5, 0, 255]) + b"5\r\nhello\r\na;e=\"q\"\r\n0123456789\r\n0\r\nT: v\r\n\r\n")
    write(t, "chunked-only-bad", bytes([4, 0, 0, 0, 0]) + b"5 \r\nhello\r\n0\r\n\r\n")
    for name, data in MALFORMED.items():
        write(t, "bad-" + name, bytes([1 if "long" in name or "many" in name or "big" in name
                                       else 0, 4, 1, 9, 255]) + data)


def input_seed(name, flags, ops, data, drain=False, family=0, where=OUT):
    assert len(ops) < 256
    write("fuzz_http_input", name,
          bytes([flags | (64 if drain else 0), family, len(ops)]) + bytes(ops) + data, where)


def deliver(n):
    """Ops that make exactly n more bytes arrive on the current connection."""
    ops = []
    while n >= 128:
        k = min(n // 128, 48)
        ops.append(0xc0 | (15 + k))
        n -= 128 * k
    while n > 0:
        k = min(n, 64)
        ops.append(k - 1)
        n -= k
    return ops


def select(i):
    return [0xc8 + i]


def ws_frame(op, payload, fin=True, mask=b"\x11\x22\x33\x44"):
    """A client frame: masked, as RFC 6455 requires."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | op])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126, n >> 8, n & 255])
    else:
        head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def ws_hello(path, *extra):
    return req("GET " + path + " HTTP/1.1", H, "Upgrade: websocket", "Connection: Upgrade",
               "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
               *extra)


def input_seeds():
    ROOT, SMALL, SMALLBODY, BIGBYTES = 2, 4, 8, 16
    simple = {
        "welcome": GET,
        "health": req("GET /health HTTP/1.1", H),
        "stats": req("GET /stats HTTP/1.1", H),
        "head": req("HEAD / HTTP/1.1", H),
        "http10": req("GET / HTTP/1.0"),
        "http10-keepalive": req("GET /health HTTP/1.0", "Connection: keep-alive") +
                            req("GET / HTTP/1.0"),
        "close": req("GET / HTTP/1.1", H, "Connection: close") + GET,
        "not-found": req("GET /nope HTTP/1.1", H),
        "post-405": req("POST / HTTP/1.1", H, "Content-Length: 3", body="abc") + GET,
        "method-501": req("BREW / HTTP/1.1", H),
        "echo": req("GET /echo/x?y=1 HTTP/1.1", H, "X-Trace: a", "X-Trace: \xff\"\\"),
        "echo-text": req("GET /echo?format=text HTTP/1.1", H),
        "echo-post": req("POST /echo HTTP/1.1", H, "Content-Length: 5", body="h\x00llo"),
        "echo-put-empty": req("PUT /echo HTTP/1.1", H),
        "echo-chunked": CHUNKED + GET,
        "echo-chunked-ext-quoted": CHUNKED_EXT + GET,
        "echo-delete": req("DELETE /echo HTTP/1.1", H),
        "status": req("GET /status/503?header=Retry-After:%2030&header=X-A:b HTTP/1.1", H),
        "status-204": req("GET /status/204 HTTP/1.1", H) + req("HEAD /status/304 HTTP/1.1", H),
        "status-bad": req("GET /status/503?header=Content-Length:1 HTTP/1.1", H) +
                      req("GET /status/99 HTTP/1.1", H),
        "delay": req("GET /delay/50 HTTP/1.1", H) + GET,
        "bytes": req("GET /bytes/20000?seed=7 HTTP/1.1", H) + GET,
        "drip": req("GET /drip?bytes=5&duration=100 HTTP/1.1", H) + GET,
        "options-star": req("OPTIONS * HTTP/1.1", H) + GET,
        "connect-authority": req("CONNECT host:443 HTTP/1.1", "Host: host:443") + GET,
        "connect-origin-form": req("CONNECT / HTTP/1.1", H),
        "absolute-userinfo": req("GET http://user:pw@a/ HTTP/1.1", H),
        "get-chunked-bad-body": req("GET / HTTP/1.1", H, "Transfer-Encoding: chunked",
                                    body="3\nabc\r\n0\r\n\r\n"),
        "body-discard": req("GET / HTTP/1.1", H, "Content-Length: 4", body="abcd") +
                        req("GET / HTTP/1.1", H, "Transfer-Encoding: chunked",
                            body="3\r\nabc\r\n0\r\n\r\n") + GET,
    }
    for name, data in simple.items():
        input_seed(name, 0, [], data)
    input_seed("pipelined-bytewise", 0, [0] * 60, GET + req("GET /health HTTP/1.1", H))
    input_seed("backpressure", SMALL, [0x40, 0x3f, 0xd0, 0xff, 0x7f],
               (req("GET /echo HTTP/1.1", H) * 6))
    input_seed("room-small", 0, [0x41, 0x3f, 0xd1, 0x7f],
               req("GET /bytes/1000 HTTP/1.1", H) + GET)
    input_seed("timeout-head", 0, [0x05, 0x80], b"GET / HT")
    input_seed("timeout-body", 0, [0x3f, 0x3f, 0x80],
               req("POST /echo HTTP/1.1", H, "Content-Length: 10", body="abc"))
    input_seed("timeout-keepalive", 32, [0x3f, 0x80], GET)
    input_seed("fin-during-delay", 0, [0xff, 0xc0], req("GET /delay/100 HTTP/1.1", H))
    input_seed("fin-during-drip", 0, [0xff, 0xc0, 0x80, 0x80],
               req("GET /drip?bytes=3&duration=30 HTTP/1.1", H))
    # Fixed in 6110f2e: memmove from NULL on the framing of a chunked /echo.
    input_seed("crash-chunked-echo-memmove-null", 0, [],
               req("POST /echo HTTP/1.1", H, "Transfer-Encoding: chunked", body="0\r\n\r\n"))
    # /status may add a Sec-WebSocket-Accept of any length (not a 101).
    input_seed("status-header-ws-accept", 0, [],
               req("GET /status/200?header=sec-websocket-accept:vvvvvvv HTTP/1.1", H))
    input_seed("drain", 0, [], req("GET /health HTTP/1.1", H) + GET, drain=True)
    input_seed("probes-off", 1, [], req("GET /echo HTTP/1.1", H) + GET)
    input_seed("small-limits", SMALL, [], req("GET /" + "a" * 300 + " HTTP/1.1", H))
    input_seed("small-body", SMALLBODY, [],
               req("POST /echo HTTP/1.1", H, "Content-Length: 100", body="x" * 100))
    input_seed("small-body-chunked", SMALLBODY, [],
               req("POST /echo HTTP/1.1", H, "Transfer-Encoding: chunked",
                   body="50\r\n" + "y" * 80 + "\r\n0\r\n\r\n"))
    input_seed("big-bytes", BIGBYTES, [], req("GET /bytes/300000 HTTP/1.1", H))
    files = (req("GET /a.txt HTTP/1.1", H) + req("HEAD /style.css HTTP/1.1", H) +
             req("GET /sub HTTP/1.1", H) + req("GET /sub/ HTTP/1.1", H) +
             req("GET /sub/b.json HTTP/1.1", H) + req("GET /nolist/ HTTP/1.1", H) +
             req("GET /out HTTP/1.1", H) + req("GET /in HTTP/1.1", H) +
             req("GET /fifo HTTP/1.1", H) + req("GET /empty HTTP/1.1", H) +
             req("GET /missing HTTP/1.1", H) + req("GET /noread.txt HTTP/1.1", H))
    input_seed("files", ROOT, [], files)
    input_seed("files-bytewise", ROOT, [0] * 40, files)
    input_seed("file-big-room", ROOT, [0x3f, 0x3f, 0x41, 0x7f],
               req("GET /big.bin HTTP/1.1", H) + GET)
    input_seed("file-ims", ROOT, [],
               req("GET /a.txt HTTP/1.1", H, "If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT") +
               req("GET /a.txt HTTP/1.1", H, "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT"))
    input_seed("file-dir-encoded", ROOT, [], req("GET /s%75b?x HTTP/1.1", H) +
               req("GET http://a/sub HTTP/1.1", H))
    # Found by review while fuzzing: no answer at all (the head of the
    # answer does not fit http_head's 1024-byte buffer, so the module aborts).
    input_seed("status-many-headers", 0, [],
               req("GET /status/200?" + "&".join("header=X-%d:%s" % (i, "v" * 60)
                                                 for i in range(20)) + " HTTP/1.1", H))
    input_seed("file-301-long-location", ROOT, [],
               req("GET " + "/." * 450 + "/sub HTTP/1.1", H))
    # A graceful stop (op 0xc7) with an answer under way on each of three
    # connections: a file the kernel takes slowly, a drip, a long poll;
    # then a WebSocket, and a body still to come.
    STOP = 0xc7
    big = req("GET /big.bin HTTP/1.1", H) + GET
    drip = req("GET /drip?bytes=5&duration=100 HTTP/1.1", H)
    poll = req("GET /chat/poll?room=s&timeout=5000 HTTP/1.1", H)
    input_seed("stop-file-drip-poll", ROOT,
               [0x41] + deliver(len(big)) + select(1) + deliver(len(drip)) + select(2) +
               deliver(len(poll)) + [STOP, 0x7f], big + drip + poll)
    hello = ws_hello("/ws/chat?room=s&name=a")
    post = req("POST /echo HTTP/1.1", H, "Content-Length: 10", body="abcdefghij")
    input_seed("stop-ws-and-body", 0,
               deliver(len(hello)) + select(1) + deliver(len(post) - 6) + [STOP], hello + post)
    input_seed("unix-peer", 0, [], family=2, data=req("GET /echo HTTP/1.1", H) +
               req("GET /echo?format=text HTTP/1.1", H))
    input_seed("ipv6-peer", 0, [], family=1, data=req("GET /echo?format=text HTTP/1.1", H))
    # access_log = on (flags2 bit 4): every line the requests make is checked
    ACCESS = 16
    alog = (req("GET /health?q=\"a\\b HTTP/1.1", H, "X-Request-Id: r 1\t\xff\"x") +
            req("HEAD /nope HTTP/1.1", H) + req("POST /echo HTTP/1.1", H, "Content-Length: 3",
                                                body="abc") + b"GET /a\x01\xff\"b HTTP/1.1\r\n\r\n")
    input_seed("access-log", 0, [], family=ACCESS, data=alog)
    input_seed("access-log-bytewise", 0, [0] * 80, family=ACCESS | 1, data=alog)
    input_seed("access-log-timeout-head", 0, [0x05, 0x80], family=ACCESS | 2, data=b"GET / HT")
    input_seed("access-log-fin-during-delay", 0, [0xff, 0xc0], family=ACCESS,
               data=req("GET /delay/100 HTTP/1.1", H))
    wsl = ws_hello("/ws/echo") + ws_frame(1, b"hi") + ws_frame(8, b"\x03\xe8")
    input_seed("access-log-ws", 0, [], family=ACCESS, data=wsl)
    # found by the fuzzer: a malformed request whose first line is empty
    # left the record's text NULL, and NULL + 0 is undefined
    write("fuzz_http_input", "crash-access-log-empty-line",
          b"t: a\r\n\r\nGET / \x02HTTP/2.1\r\nHost: a\r\n\r\n")
    # and one that asked a closed connection what it has queued
    write("fuzz_http_input", "crash-access-log-pending-at-close",
          b"\x00\xb2\x02\x01\x00\x00\x00\x00\x00\x00\x00HT")
    ws_seeds()
    for name, data in MALFORMED.items():
        input_seed("bad-" + name, SMALL if name in ("long-line", "many-headers", "big-header")
                   else 0, [], data + GET)


def ws_seeds():
    SMALLWS = 128
    echo = (ws_hello("/ws/echo") + ws_frame(1, "hello") + ws_frame(2, b"\x00\xff") +
            ws_frame(1, "fra", fin=False) + ws_frame(9, "p") + ws_frame(0, "g") +
            ws_frame(10, "") + ws_frame(8, b"\x03\xe8"))
    input_seed("ws-echo", 0, [], echo)
    input_seed("ws-echo-bytewise", 0, [0] * 100, echo)
    input_seed("ws-bad-utf8", 0, [], ws_hello("/ws/echo") + ws_frame(1, b"\xed\xa0\x80"))
    input_seed("ws-unmasked", 0, [], ws_hello("/ws/echo") + b"\x81\x02hi")
    input_seed("ws-too-big", SMALLWS, [], ws_hello("/ws/echo") + ws_frame(2, b"x" * 200))
    input_seed("ws-ping-timeout", 0, deliver(len(ws_hello("/ws/echo"))) + [0x80, 0x80],
               ws_hello("/ws/echo"))
    input_seed("ws-refused", 0, [], req("GET /ws/echo HTTP/1.1", H) +
               ws_hello("/ws/echo", "Sec-WebSocket-Version: 8") +
               ws_hello("/ws/chat") + req("POST /ws/echo HTTP/1.1", H, "Content-Length: 0"))
    # Fixed in 917cd73: a 101 with two Connection fields (Upgrade and
    # close), on an HTTP/1.0 handshake or one that asks to close.
    input_seed("crash-ws-101-http10", 0, [],
               ws_hello("/ws/echo").replace(b"HTTP/1.1", b"HTTP/1.0", 1))
    input_seed("crash-ws-101-close", 0, [],
               ws_hello("/ws/echo").replace(b"Connection: Upgrade", b"Connection: close, Upgrade"))
    # Two members of a room: each sees the other's join and message.
    a = ws_hello("/ws/chat?room=r&name=a")
    b = ws_hello("/ws/chat?room=r&name=b") + ws_frame(1, "hi from b")
    input_seed("chat-two", 0, deliver(len(a)) + select(1), a + b)
    # A long poll answered from another connection's POST.
    poll = req("GET /chat/poll?room=p&timeout=5000 HTTP/1.1", H)
    send = req("POST /chat/send?room=p&name=x HTTP/1.1", H, "Content-Length: 2", body="hi")
    input_seed("chat-poll", 0, deliver(len(poll)) + select(1), poll + send)
    input_seed("chat-poll-timeout", 0, deliver(len(poll)) + [0x80], poll + GET)
    input_seed("chat-page", 0, [], req("GET /chat HTTP/1.1", H) +
               req("GET /chat/poll?room=q&since=0&timeout=0 HTTP/1.1", H) +
               req("POST /chat/send HTTP/1.1", H, "Content-Length: 1", body="x"))
    # Members that stop reading (kernel room 0) are dropped by a sender.
    ops = (deliver(len(a)) + [0x40] + select(1) + deliver(len(a)) + [0x40] + select(2))
    msgs = ws_hello("/ws/chat?room=r&name=c") + ws_frame(1, "m" * 120) * 30
    input_seed("chat-slow-members", SMALLWS, ops, a + a + msgs)
    # The sender stops reading too: the leave notices of the members it
    # drops must not end it from inside its own callback.
    input_seed("chat-slow-all", SMALLWS, ops + [0x40], a + a + msgs)
    # Fixed in 917cd73 (heap-use-after-free): the sender is the first
    # member; the second is dropped from its publish, and that member's
    # leave notice dropped the sender from inside its own input callback.
    b2 = ws_hello("/ws/chat?room=r&name=b")
    ops = deliver(len(a)) + [0x40] + select(1) + deliver(len(b2)) + [0x40] + select(0)
    input_seed("crash-chat-leave-drops-sender", SMALLWS, ops,
               a + b2 + ws_frame(1, "m" * 100) * 7)


def ini_seeds():
    t = "fuzz_ini"
    with open(os.path.join(HERE, "..", "conf", "netdemo.ini"), "rb") as f:
        write(t, "netdemo.ini", f.read())
    write(t, "readme-example.ini", """[netdemo]
log_level = notice
max_connections = 20000
shutdown_timeout = 5s

[echo]
module = echo
listen = tcp://0.0.0.0:7, tcp://[::]:7, udp://0.0.0.0:7, unix:/run/netdemo/echo.sock
idle_timeout = 60s
buffer_size = 128k
""")
    write(t, "http-keys.ini", """[web]
module = http
listen = tcp://127.0.0.1:8080, unix:@web
root = /tmp
probes = off
websocket = off
chat = off
drain = on
reuseport = yes
access_log = on
ws_max_message = 125
ws_max_queue = 64m
ws_ping_interval = 100ms
max_delay = 1500ms
max_bytes = 1g
max_request_line = 256
max_header_size = 1m
max_headers = 1000
max_body = 0
header_timeout = 100ms
keepalive_timeout = 0
send_timeout = 1h
""")
    write(t, "errors.ini", """key = outside
[netdemo]
log_level = loud
max_connections = 0
bogus = 1
[a]
module = echo
listen = tcp://127.0.0.1:7, tcp://127.0.0.1:7,, udp://[::1]:99999
listen = again
buffer_size = 1x
[a]
[b]
module = nope
[c]
listen = unix:
[d b]
x = 1
[e]
module = http
listen = udp://127.0.0.1:9, tcp://127.0.0.1:7
root = /nonexistent/dir
max_headers = 1001
300s ; comment
no equals here
= value
k!y = v
""")
    write(t, "crlf.ini", "[s]\r\nmodule = echo\r\nlisten = tcp://1.2.3.4:5\r\n")
    write(t, "long-line.ini", "[s]\nmodule = echo\nlisten = unix:/" + "p" * 5000 + "\n")
    write(t, "nul.ini", b"[s]\nmodule = echo\x00\nlisten = tcp://1.2.3.4:5\n")
    write(t, "empty.ini", "")
    write(t, "comments-only.ini", "; nothing\n# here\n\n")


def values_seeds():
    t = "fuzz_values"
    seeds = {
        "tcp4": "tcp://127.0.0.1:7007", "tcp6": "tcp://[::1]:7007",
        "udp4": "udp://0.0.0.0:7", "udp6-mapped": "udp://[::ffff:1.2.3.4]:65535",
        "unix": "unix:/run/netdemo/echo.sock", "unix-abstract": "unix:@netdemo",
        "unix-long": "unix:/" + "x" * 120, "port-zero": "tcp://1.2.3.4:0",
        "v6-no-bracket": "tcp://::1:80", "dur-ms": "1500ms", "dur-h": "2h",
        "dur-big": "18446744073709551615h", "size-k": "64k", "size-G": "1G",
        "size-bad": "1x", "uint-max": "18446744073709551615",
        "uint-over": "18446744073709551616", "zeros": "0" * 40 + "1",
        "bool-on": "on", "bool-false": "false",
        "path": "/a/b/../c/./d%20e?x=1&format=text&header=A:b",
        "path-abs": "http://host/a/%2e%2e/b?q", "path-abs-query": "http://host?x",
        "path-userinfo": "http://user:pw@host/", "path-at-in-path": "http://host/a@b?c@d",
        "authority": "host:443", "authority-v6": "[::1]:443", "authority-userinfo": "u@host:443",
        "path-climb": "/a/../..", "path-dots": "/a/.", "path-pct": "/%41%2",
        "query": "a=1&a=%41+b&header=X:%00&format", "date": "Sun, 06 Nov 1994 08:49:37 GMT",
        "date-feb31": "Mon, 31 Feb 2000 23:59:60 GMT", "date-bad": "Sun, 06 Nov 1994 08:49:37 UTC",
        "date-rfc850": "Sunday, 06-Nov-94 08:49:37 GMT", "date-asctime": "Sun Nov  6 08:49:37 1994",
    }
    for name, s in seeds.items():
        write(t, name, s)


def resp_seeds():
    """fuzz_resp: a cut byte, a limits byte (low bit: small), then replies."""
    def bulk(s):
        s = s.encode() if isinstance(s, str) else s
        return b"$%d\r\n%s\r\n" % (len(s), s)

    def arr(*items):
        return b"*%d\r\n" % len(items) + b"".join(items)

    seeds = {
        "simple": b"+OK\r\n-ERR unknown command 'FOO'\r\n:-42\r\n",
        "bulk": bulk("hello") + b"$0\r\n\r\n" + bulk(b"a\r\nb"),
        "nulls": b"$-1\r\n*-1\r\n_\r\n" + arr(b"$-1\r\n", b"_\r\n"),
        "nested": arr(arr(b":1\r\n", arr(b":2\r\n")), b":3\r\n", arr(b"-E x\r\n", bulk("z"))),
        "message": arr(bulk("message"), bulk("room"), bulk("hello")) +
                   arr(bulk("pmessage"), bulk("r*"), bulk("room"), bulk("hey")),
        "subscribe": arr(bulk("subscribe"), bulk("room"), b":1\r\n"),
        "noscript": b"-NOSCRIPT No matching script. Please use EVAL.\r\n",
        "evalsha": arr(arr(bulk("1-0"), arr(bulk("name"), bulk("a"), bulk("text"), bulk("hi"))),
                       b":7\r\n"),
        "resp3": b"#t\r\n,1.5\r\n,-inf\r\n(-123456789012345678901234567890\r\n"
                 b"%1\r\n+k\r\n:1\r\n~2\r\n+a\r\n+b\r\n!7\r\nERR x y\r\n=8\r\ntxt:abcd\r\n",
        "push": b">3\r\n" + bulk("message") + bulk("ch") + bulk("hi"),
        "int-limits": b":9223372036854775807\r\n:-9223372036854775808\r\n:9223372036854775808\r\n",
        "bare-lf": b"*1\r\n+OK\n",
        "cr-no-lf": b"+OK\rX\r\n",
        "bad-length": b"$-2\r\n",
        "huge-length": b"$99999999999999999999999\r\n",
        "too-deep": b"*1\r\n" * 9 + b":1\r\n",
        "junk-type": b"?x\r\n",
        "bulk-no-crlf": b"$5\r\nhelloXY",
        "partial": b"*2\r\n$10\r\nhello",
    }
    for name, data in seeds.items():
        write("fuzz_resp", name, b"\x07\x00" + data)
    # The same with small limits (bulk 16, depth 3, 8 nodes).
    write("fuzz_resp", "small-limits", b"\x05\x01" + bulk("x" * 17) )
    write("fuzz_resp", "small-many", b"\x03\x01" + arr(*[b":1\r\n"] * 8))
    write("fuzz_resp", "small-depth", b"\x03\x01" + arr(arr(arr(b"*0\r\n"))))


def main():
    parse_seeds()
    input_seeds()
    ini_seeds()
    values_seeds()
    resp_seeds()
    return 0


if __name__ == "__main__":
    sys.exit(main())
