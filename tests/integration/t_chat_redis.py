"""Chat rooms shared through Redis (chat_backend = redis://): one
redis-server started here (a free loopback port, no persistence, stopped by
PID) and netdemo instances on ports of their own. Every member on every
instance gets the same events with consecutive numbers in the same order;
a long poll on one instance is answered by a message sent on another; an
instance started later shows the history on join; with Redis stopped a
sender hears it (503 with Retry-After, a WebSocket error event) while
/health stays 200. Skipped, saying so, without redis-server."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile

import nd
from nd import check
from t_chat import hold_poll, read_response, request
from t_http import http_config
from t_ws import frame, recv_frame, ws

TEXT = 0x1


class Redis:
    def __init__(self):
        self.port = nd.free_port()
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", "/tmp", "--loglevel", "warning"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        nd.wait_until(self.answers, 10, "redis-server to answer PING")

    def answers(self):
        check(self.proc.poll() is None, "redis-server exited at start")
        try:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=1)
        except OSError:
            return False
        try:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
        except OSError:
            return False
        finally:
            s.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait()


def instance(redis_port, extra=""):
    port = nd.free_port()
    d = nd.Daemon(http_config(port, "chat_backend = redis://127.0.0.1:%d\n%s" % (redis_port, extra)))
    return port, d


def send(port, room, name, text):
    status, headers, body = request(port, "POST", "/chat/send?room=%s&name=%s" % (room, name),
                                    text.encode())
    return status, headers, body


def events(s, n):
    return [json.loads(recv_frame(s)[1]) for _ in range(n)]


def test_chat_shared_through_redis():
    if shutil.which("redis-server") is None:
        print("    SKIP test_chat_shared_through_redis: redis-server is not installed "
              "(apt-get install redis-server)")
        return
    r = Redis()
    try:
        shared(r)
    finally:
        r.stop()


def shared(r):
    a, da = instance(r.port)
    b, _ = instance(r.port)
    # An event before anyone is in: its coming back in each member's
    # history says the member's instance has the room in step.
    status, _, body = send(a, "lobby", "op", "first")
    check(status == 200, "send: %d %r" % (status, body))
    first = json.loads(body)
    check(first["seq"] == 1 and len(first["epoch"]) == 16, first)
    members = [ws(p, "/ws/chat?room=lobby&name=m%d" % i) for i, p in enumerate((a, a, b, b))]
    for s in members:
        got = events(s, 1)
        check([(e["seq"], e["text"]) for e in got] == [(1, "first")], got)
    # Messages from both instances, by WebSocket and by POST.
    texts = []
    for k in range(10):
        t = "ws %d" % k
        members[k % 4].sendall(frame(TEXT, t.encode()))
        texts.append(t)
        t = "post %d" % k
        status, _, body = send((a, b)[k % 2], "lobby", "poster", t)
        check(status == 200, "send: %d %r" % (status, body))
        texts.append(t)
    seen = [events(s, len(texts)) for s in members]
    for got in seen:
        check(got == seen[0], "members differ:\n%r\n%r" % (got, seen[0]))
    check([e["seq"] for e in seen[0]] == list(range(2, 2 + len(texts))),
          "not consecutive: %r" % [e["seq"] for e in seen[0]])
    check(all(e["epoch"] == first["epoch"] and e["type"] == "message" for e in seen[0]), seen[0])
    check(sorted(e["text"] for e in seen[0]) == sorted(texts), seen[0])
    last = seen[0][-1]["seq"]
    # A long poll on B, answered by a message sent on A.
    p = hold_poll(b, "room=lobby&since=%d&timeout=20000" % last)
    status, _, body = send(a, "lobby", "op", "to the poll")
    check(status == 200, body)
    status, headers, body = read_response(p)
    p.close()
    evs = json.loads(body)
    check(status == 200 and [(e["seq"], e["text"]) for e in evs] == [(last + 1, "to the poll")]
          and headers.get("chat-epoch") == first["epoch"], "poll: %d %r %r" % (status, headers, evs))
    for s in members:
        e = events(s, 1)[0]
        check((e["seq"], e["text"]) == (last + 1, "to the poll"), e)
    # An instance started later shows the room's history on join.
    c, dc = instance(r.port)
    late = ws(c, "/ws/chat?room=lobby&name=late")
    hist = events(late, last + 1)
    check([e["seq"] for e in hist] == list(range(1, last + 2)), hist)
    check(hist[1:-1] == seen[0], "history differs from what members saw")
    # A stop with Redis connected frees what the room and the backend hold.
    late.close()
    check(dc.stop() == 0, "exit: %s" % dc.log()[-2000:])
    # Redis stops answering: senders hear it, /health does not care.
    r.proc.send_signal(signal.SIGSTOP)
    status, headers, body = send(a, "lobby", "op", "into the void")
    check(status == 503 and headers.get("retry-after") == "1", "send: %d %r" % (status, headers))
    members[0].sendall(frame(TEXT, b"lost"))
    while True:
        op, data = recv_frame(members[0])
        e = json.loads(data)
        if e.get("type") == "error":
            break
        check(e.get("text") != "lost", "published with Redis stopped: %r" % e)
    status, _, body = request(b, "GET", "/health")
    check(status == 200, "health: %d %r" % (status, body))
    # And killed: still a 503 (the connection is refused now).
    r.stop()
    status, headers, body = send(b, "lobby", "op", "nobody home")
    check(status == 503 and headers.get("retry-after") == "1", "send: %d %r" % (status, headers))
    status, _, body = request(a, "GET", "/health")
    check(status == 200, "health: %d %r" % (status, body))
    for s in members:
        s.close()
    check(da.stop() == 0, "exit: %s" % da.log()[-2000:])


def test_chat_backend_checked_by_t():
    """-t reads chat_backend and chat_backend_password (no Redis needed)."""
    cases = [
        ("chat_backend = local\n", 0, None),
        ("chat_backend = redis://127.0.0.1:6379/2\nchat_backend_password = pw\n", 0, None),
        ("chat_backend = redis+unix:/run/redis.sock\n", 0, None),
        ("chat_backend = redis://127.0.0.1:0\n", 78, r":4: chat_backend: 'redis://127.0.0.1:0': the port"),
        ("chat_backend = redis://localhost\n", 78, r":4: chat_backend: 'localhost' is not an IPv4"),
        ("chat_backend_password = pw\n", 78, r": chat_backend_password: chat_backend is not"),
        ("chat_backend = redis://:a@127.0.0.1\nchat_backend_password = b\n", 78,
         r": chat_backend_password: chat_backend names a password"),
    ]
    d = tempfile.mkdtemp(prefix="nd-it-")
    try:
        path = os.path.join(d, "netdemo.ini")
        for extra, code, msg in cases:
            with open(path, "w") as f:
                f.write(http_config(nd.free_port(), extra))
            rc, _, err = nd.run_cli(["-t", "-c", path])
            check(rc == code, "%r: exit %d, %s" % (extra, rc, err))
            if msg:
                check(re.search(msg, err), "%r: %s" % (extra, err))
    finally:
        shutil.rmtree(d, ignore_errors=True)


TESTS = [test_chat_backend_checked_by_t, test_chat_shared_through_redis]
