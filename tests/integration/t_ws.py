"""WebSocket: /ws/echo and /ws/chat, with a small RFC 6455 client."""
import base64
import json
import os
import selectors
import socket
import struct
import time

import nd
from nd import check
from t_http import http_config, statuses


def handshake(port, path, headers=None):
    s = nd.connect(port)
    key = base64.b64encode(os.urandom(16)).decode()
    h = {"Host": "x", "Upgrade": "websocket", "Connection": "Upgrade",
         "Sec-WebSocket-Key": key, "Sec-WebSocket-Version": "13"}
    h.update(headers or {})
    s.sendall(("GET %s HTTP/1.1\r\n" % path).encode() +
              b"".join(("%s: %s\r\n" % kv).encode() for kv in h.items() if kv[1] is not None) +
              b"\r\n")
    resp = b""
    while b"\r\n\r\n" not in resp:
        d = s.recv(1)
        check(d, "EOF in the handshake answer")
        resp += d
    return s, resp


def ws(port, path):
    s, resp = handshake(port, path)
    check(resp.startswith(b"HTTP/1.1 101 Switching Protocols\r\n"), resp)
    return s


def frame(op, data, fin=True, mask=True, rsv=0):
    h = bytes([(0x80 if fin else 0) | rsv | op])
    n = len(data)
    mbit = 0x80 if mask else 0
    if n < 126:
        h += bytes([mbit | n])
    elif n < 65536:
        h += bytes([mbit | 126]) + struct.pack(">H", n)
    else:
        h += bytes([mbit | 127]) + struct.pack(">Q", n)
    if not mask:
        return h + data
    m = os.urandom(4)
    return h + m + bytes(b ^ m[i % 4] for i, b in enumerate(data))


def recv_frame(s):
    h = nd.recv_exact(s, 2)
    n = h[1] & 127
    if n == 126:
        n = struct.unpack(">H", nd.recv_exact(s, 2))[0]
    elif n == 127:
        n = struct.unpack(">Q", nd.recv_exact(s, 8))[0]
    return h[0] & 15, nd.recv_exact(s, n)


def close_code(s):
    """Reads frames until a close frame; returns its code."""
    while True:
        op, data = recv_frame(s)
        if op == 8:
            return struct.unpack(">H", data[:2])[0]


def test_ws_echo_text_binary_fragments_ping():
    port = nd.free_port()
    nd.Daemon(http_config(port, "ws_max_message = 256k\n"))
    s = ws(port, "/ws/echo")
    s.sendall(frame(1, "héllo".encode()))
    check(recv_frame(s) == (1, "héllo".encode()), "text")
    big = os.urandom(256 * 1024)
    s.sendall(frame(2, big))
    check(recv_frame(s) == (2, big), "binary at the limit")
    s.sendall(frame(1, b"fr", fin=False) + frame(9, b"in between") + frame(0, b"ag", fin=False) +
              frame(0, b"ment"))
    check(recv_frame(s) == (10, b"in between"), "pong inside a fragmented message")
    check(recv_frame(s) == (1, b"fragment"), "reassembled")
    s.sendall(frame(8, struct.pack(">H", 1000) + b"bye"))
    check(close_code(s) == 1000, "close handshake")
    check(nd.expect_eof(s, 5), "closed after the close handshake")


REJECTIONS = [
    ("unmasked", [frame(1, b"x", mask=False)], 1002),
    ("rsv bit", [frame(1, b"x", rsv=0x40)], 1002),
    ("opcode 3", [frame(3, b"x")], 1002),
    ("opcode 11", [frame(11, b"x")], 1002),
    ("fragmented ping", [frame(9, b"x", fin=False)], 1002),
    ("ping over 125", [frame(9, b"x" * 126)], 1002),
    ("continuation first", [frame(0, b"x")], 1002),
    ("new message mid-fragment", [frame(1, b"a", fin=False), frame(1, b"b")], 1002),
    ("bad close code", [frame(8, struct.pack(">H", 1005))], 1002),
    ("close of one byte", [frame(8, b"\x03")], 1002),
    ("invalid utf-8", [frame(1, b"\xc0\xaf")], 1007),
    ("utf-8 split across fragments", [frame(1, b"\xe2\x82", fin=False), frame(0, b"\x28")], 1007),
    ("truncated utf-8 at the end", [frame(1, b"ok\xe2\x82")], 1007),
    ("surrogate", [frame(1, b"\xed\xa0\x80")], 1007),
    ("too big", [frame(2, b"x" * 2000)], 1009),
    ("too big in fragments", [frame(2, b"x" * 600, fin=False), frame(0, b"x" * 600)], 1009),
]


def test_ws_protocol_errors_close_with_code():
    port = nd.free_port()
    nd.Daemon(http_config(port, "ws_max_message = 1k\n"))
    for name, frames, code in REJECTIONS:
        s = ws(port, "/ws/echo")
        s.sendall(b"".join(frames))
        got = close_code(s)
        check(got == code, "%s: close %d, want %d" % (name, got, code))
        check(nd.expect_eof(s, 5), "%s: connection left open" % name)


def test_ws_handshake_rejections():
    port = nd.free_port()
    nd.Daemon(http_config(port))
    for headers, want in (({"Sec-WebSocket-Key": None}, 400),
                          ({"Sec-WebSocket-Key": "short"}, 400),
                          ({"Sec-WebSocket-Version": "8"}, 426),
                          ({"Upgrade": None}, 426),
                          ({"Connection": "keep-alive"}, 426)):
        s, resp = handshake(port, "/ws/echo", headers)
        check(statuses(resp) == [want], "%r: %r" % (headers, resp[:60]))
    s, resp = handshake(port, "/ws/echo", {"Connection": "close, Upgrade"})
    check(resp.startswith(b"HTTP/1.1 101") and resp.count(b"Connection:") == 1, resp)
    s = nd.connect(port)                                   # RFC 6455 wants HTTP/1.1
    s.sendall(b"GET /ws/echo HTTP/1.0\r\nHost: x\r\nUpgrade: websocket\r\n"
              b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
              b"Sec-WebSocket-Version: 13\r\n\r\n")
    check(s.recv(100).startswith(b"HTTP/1.1 400"), "HTTP/1.0 handshake")
    s, resp = handshake(port, "/ws/chat")                 # no room
    check(statuses(resp) == [400], resp[:60])
    s = nd.connect(port)
    s.sendall(b"POST /ws/echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    check(s.recv(100).startswith(b"HTTP/1.1 400"), "POST handshake")
    s, resp = handshake(port, "/ws/echo", {"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    check(b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" in resp, resp)


def test_chat_200_members_same_order():
    port = nd.free_port()
    nd.Daemon(http_config(port))
    members = []
    for i in range(200):
        s = ws(port, "/ws/chat?room=big&name=m%d" % i)
        members.append(s)
    n = 20
    for k in range(n):
        members[k * 7 % 200].sendall(frame(1, b"message %d" % k))
    for i, s in enumerate(members):
        texts = []
        while len(texts) < n:
            op, data = recv_frame(s)
            e = json.loads(data)
            if e["type"] == "message":
                texts.append((e["seq"], e["text"]))
        check([t for _, t in texts] == ["message %d" % k for k in range(n)],
              "member %d got %r" % (i, texts[:3]))
        check([q for q, _ in texts] == sorted(q for q, _ in texts), "seq order")


def recv_events(s, done, limit=10000):
    """A chat member's events, read until done(events) holds."""
    got = []
    while not got or not done(got):
        check(len(got) < limit, "no end in sight: %r" % got[-3:])
        got.append(json.loads(recv_frame(s)[1]))
    return got


def test_chat_presence_is_coalesced():
    """Joins and leaves are announced together, at most every 100 ms: 100
    members joining cost the first far fewer than 100 events, and together
    they name every one of them; a burst of leaves likewise."""
    port = nd.free_port()
    nd.Daemon(http_config(port))
    n = 100
    members = [ws(port, "/ws/chat?room=crowd&name=m%d" % i) for i in range(n)]
    got = recv_events(members[0], lambda g: g[-1]["members"] == n)
    check(all(e["type"] == "presence" for e in got), got[:3])
    check(sum(e["joins"] for e in got) == n and sum(e["leaves"] for e in got) == 0, got)
    check(len(got) < n // 2, "%d presence events for %d joins" % (len(got), n))
    named = [x for e in got for x in e["joined"]]
    check(all(len(e["joined"]) == min(e["joins"], 16) for e in got) and
          len(set(named)) == len(named) and set(named) <= {"m%d" % i for i in range(n)}, got)
    # the last to join saw its own arrival too
    last = recv_events(members[-1], lambda g: g[-1]["type"] == "presence" and g[-1]["members"] == n)
    check(last[-1]["members"] == n, last)
    for s in members[1:]:
        s.close()
    got = recv_events(members[0], lambda g: g[-1]["members"] == 1)
    check(sum(e["leaves"] for e in got) == n - 1 and len(got) < n // 2,
          "%d events for %d leaves: %r" % (len(got), n - 1, got[-1]))
    check(got[-1]["members"] == 1, got[-1])


def test_chat_drops_a_member_that_does_not_read():
    port = nd.free_port()
    d = nd.Daemon(http_config(port, "ws_max_queue = 64k\n"))
    slow = ws(port, "/ws/chat?room=r&name=slow")
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    talker = ws(port, "/ws/chat?room=r&name=talker")
    listener = ws(port, "/ws/chat?room=r&name=listener")
    listener.settimeout(10 * nd.SLOW)
    payload = b"x" * 4000
    left = False
    for k in range(3000):
        talker.sendall(frame(1, payload))
        # The listener reads everything; the talker drains its own echo.
        while True:
            op, data = recv_frame(listener)
            e = json.loads(data)
            if e["type"] == "presence" and "slow" in e["left"]:
                left = True
            if e["type"] == "message":
                break
        recv_frame(talker)
        if left:
            break
    check(left, "the non-reading member was never dropped")
    check(d.rss_kb() < 64 * 1024, "RSS %d KiB" % d.rss_kb())
    talker.sendall(frame(1, b"still going"))
    while True:
        e = json.loads(recv_frame(listener)[1])
        if e["type"] == "message" and e["text"] == "still going":
            break


def test_ws_idle_ping_and_timeout():
    port = nd.free_port()
    nd.Daemon(http_config(port, "ws_ping_interval = 300ms\n"))
    s = ws(port, "/ws/echo")
    s.settimeout(5 * nd.SLOW)
    op, data = recv_frame(s)
    check(op == 9, "a ping, got opcode %d" % op)
    s.sendall(frame(10, data))              # answered: stays open
    op, data = recv_frame(s)
    check(op == 9, "a second ping")
    t0 = time.monotonic()                   # not answered: closed
    check(close_code(s) == 1001, "close 1001 after an unanswered ping")
    check(time.monotonic() - t0 < 2 * nd.SLOW, "slow")


def test_long_polling_and_mixed_clients():
    import threading
    from t_http import curl
    port = nd.free_port()
    nd.Daemon(http_config(port))
    base = "http://127.0.0.1:%d" % port
    # A poll with nothing new waits; a message sent meanwhile answers it.
    got = {}

    def poll():
        t0 = time.monotonic()
        got["body"] = curl(base + "/chat/poll?room=p&since=0&timeout=5000").stdout
        got["dt"] = time.monotonic() - t0
    t = threading.Thread(target=poll)
    t.start()
    member = ws(port, "/ws/chat?room=p&name=wsuser")     # its join answers the poll
    t.join(10)
    ev = json.loads(got["body"])
    check(ev and ev[0]["type"] == "presence" and ev[0]["joined"] == ["wsuser"] and got["dt"] < 3,
          "poll answered by the join: %r" % got)
    seen = ev[-1]["seq"]
    r = curl("-X", "POST", "--data-binary", "from a poller", base + "/chat/send?room=p&name=poller")
    check(json.loads(r.stdout)["seq"] == seen + 1, r.stdout)
    e = json.loads(recv_frame(member)[1])
    while e["type"] != "message":
        e = json.loads(recv_frame(member)[1])
    check(e["text"] == "from a poller" and e["name"] == "poller", e)
    member.sendall(frame(1, b"from websocket"))
    ev = json.loads(curl(base + "/chat/poll?room=p&since=%d" % (seen + 1)).stdout)
    check([x["text"] for x in ev if x["type"] == "message"] == ["from websocket"], ev)
    # A poll with nothing new ends at its timeout with an empty list.
    t0 = time.monotonic()
    r = curl(base + "/chat/poll?room=p&since=%d&timeout=300" % ev[-1]["seq"])
    check(json.loads(r.stdout) == [] and 0.25 < time.monotonic() - t0 < 3, r.stdout)
    for bad in ("/chat/poll", "/chat/poll?room=", "/chat/poll?room=x&since=abc"):
        check(curl("-i", base + bad).stdout.startswith(b"HTTP/1.1 400"), bad)
    import subprocess
    r = subprocess.run(["curl", "-si", "--data-binary", "@-", base + "/chat/send?room=x"],
                       input=b"\xff", capture_output=True, timeout=10)
    check(r.stdout.startswith(b"HTTP/1.1 400"), "invalid UTF-8 in a send: %r" % r.stdout[:40])
    r = curl("-i", base + "/chat")
    check(r.stdout.startswith(b"HTTP/1.1 200") and b"new WebSocket(" in r.stdout, "the page")


def test_ws_empty_frames_complete_at_once():
    """An empty data frame completes with its header: nothing else needs
    to arrive first (and no ping interval passes) before its echo."""
    port = nd.free_port()
    nd.Daemon(http_config(port))
    s = ws(port, "/ws/echo")
    s.settimeout(5 * nd.SLOW)
    s.sendall(frame(1, b""))
    check(recv_frame(s) == (1, b""), "empty text")
    s.sendall(frame(2, b""))
    check(recv_frame(s) == (2, b""), "empty binary")
    s.sendall(frame(1, b"ab", fin=False) + frame(0, b""))
    check(recv_frame(s) == (1, b"ab"), "a message ended by an empty continuation")
    s.sendall(frame(2, b"", fin=False))
    s.sendall(frame(0, b"", fin=False))
    s.sendall(frame(0, b"x"))
    check(recv_frame(s) == (2, b"x"), "a message begun by empty fragments")
    s.sendall(frame(1, b"", fin=False))
    s.sendall(frame(0, b""))
    check(recv_frame(s) == (1, b""), "an empty message in two empty fragments")
    for k in range(1000):               # one round trip at a time
        s.sendall(frame(1 + k % 2, b""))
        check(recv_frame(s) == (1 + k % 2, b""), "empty message %d" % k)
    s.sendall(frame(8, struct.pack(">H", 1000)))
    check(close_code(s) == 1000, "close handshake")


def test_ws_echo_large_messages_are_backpressure():
    """An echo connection that sends a message it may send gets it back,
    however large against ws_max_queue: its own echo stops the daemon from
    reading it until the echo drains, as TCP echo does."""
    import threading
    port = nd.free_port()
    d = nd.Daemon(http_config(port, "ws_max_message = 64m\nws_max_queue = 1m\n"))
    s = ws(port, "/ws/echo")
    s.settimeout(30 * nd.SLOW)
    text = (b"0123456789abcdef" * 65536) * 16           # 16 MiB
    s.sendall(frame(1, text))
    check(recv_frame(s) == (1, text), "16 MiB text")
    binary = os.urandom(8 * 1024 * 1024)
    s.sendall(frame(2, binary))
    check(recv_frame(s) == (2, binary), "8 MiB binary")
    # Four 8 MiB messages sent while their echoes are read slowly.
    msgs = [bytes([k]) * (8 * 1024 * 1024) for k in range(4)]
    sender = threading.Thread(target=lambda: s.sendall(b"".join(frame(2, m) for m in msgs)))
    sender.start()
    peak = 0
    for k, m in enumerate(msgs):
        peak = max(peak, d.rss_kb())
        check(recv_frame(s) == (2, m), "pipelined message %d" % k)
    sender.join(30 * nd.SLOW)
    s.sendall(frame(8, struct.pack(">H", 1000)))
    check(close_code(s) == 1000, "close handshake after the large messages")
    check(peak < 160 * 1024, "RSS %d KiB while echoing 8 MiB messages" % peak)


TESTS = [test_ws_echo_text_binary_fragments_ping, test_ws_protocol_errors_close_with_code,
         test_ws_handshake_rejections, test_chat_200_members_same_order,
         test_chat_presence_is_coalesced,
         test_chat_drops_a_member_that_does_not_read, test_ws_idle_ping_and_timeout,
         test_long_polling_and_mixed_clients, test_ws_empty_frames_complete_at_once,
         test_ws_echo_large_messages_are_backpressure]
