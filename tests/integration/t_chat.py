"""Chat epochs: every event and every poll answer names the room's epoch
(random, chosen when the room is made), so that clients holding sequence
numbers from a daemon that has since restarted start over instead of
dropping everything until the new numbers pass the old ones."""
import json
import re
import signal
import time

import nd
from nd import check
from t_http import http_config
from t_ws import frame, recv_events, recv_frame, ws

HEX16 = re.compile(r"^[0-9a-f]{16}$")


def read_response(s):
    """(status, headers with lower-case names, body) of one answer with a
    Content-Length."""
    head = b""
    while b"\r\n\r\n" not in head:
        d = s.recv(1)
        check(d, "EOF in an answer's head: %r" % head)
        head += d
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    body = nd.recv_exact(s, int(headers.get("content-length", "0")))
    return status, headers, body


def request(port, method, path, body=b""):
    s = nd.connect(port)
    try:
        s.sendall(("%s %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                   % (method, path, len(body))).encode() + body)
        return read_response(s)
    finally:
        s.close()


def send(port, room, name, text):
    status, _, body = request(port, "POST", "/chat/send?room=%s&name=%s" % (room, name),
                              text.encode())
    check(status == 200, "send: %d %r" % (status, body))
    return json.loads(body)


def poll(port, query):
    """(events, the Chat-Epoch header, seconds taken)."""
    t0 = time.monotonic()
    status, headers, body = request(port, "GET", "/chat/poll?" + query)
    check(status == 200, "poll %s: %d %r" % (query, status, body))
    return json.loads(body), headers.get("chat-epoch"), time.monotonic() - t0


def hold_poll(port, query):
    """Sends a poll on a socket of its own and returns once the daemon has
    read it (its /stats count the bytes in, the asking included)."""
    def bytes_in():
        status, _, body = request(port, "GET", "/stats")
        return json.loads(body)["bytes"]["in"]
    req = ("GET /chat/poll?%s HTTP/1.1\r\nHost: x\r\n\r\n" % query).encode()
    asked = len(b"GET /stats HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    before = bytes_in()
    s = nd.connect(port, timeout=30)
    s.sendall(req)
    calls = [0]

    def read():
        calls[0] += 1
        return bytes_in() - before - calls[0] * asked >= len(req)
    nd.wait_until(read, 10, "the daemon to read the poll")
    return s


def test_chat_epoch_on_every_event_and_answer():
    port = nd.free_port()
    nd.Daemon(http_config(port))
    a = ws(port, "/ws/chat?room=one&name=a")
    b = ws(port, "/ws/chat?room=one&name=b")
    a.sendall(frame(1, b"hello"))
    # a's and b's joins (in one presence event or two) and hello, in some order
    events = recv_events(a, lambda g: any(e["type"] == "message" for e in g) and
                         any(e.get("members") == 2 for e in g))
    ack = send(port, "one", "c", "from a poster")
    events.append(json.loads(recv_frame(a)[1]))
    b.close()
    events.append(json.loads(recv_frame(a)[1]))
    types = [e["type"] for e in events]
    check(types[-2:] == ["message", "presence"] and types.count("message") == 2 and
          sorted(x for e in events if e["type"] == "presence" for x in e["joined"]) == ["a", "b"]
          and events[-1]["left"] == ["b"] and events[-1]["members"] == 1, "events: %r" % events)
    epochs = {e["epoch"] for e in events}
    check(len(epochs) == 1, "epochs differ within a room: %r" % events)
    epoch = epochs.pop()
    check(HEX16.match(epoch), "epoch %r is not 16 lowercase hex digits" % epoch)
    check(ack["epoch"] == epoch and ack["seq"] == events[-2]["seq"] == len(events) - 1,
          "send's answer %r" % ack)
    evs, hdr, _ = poll(port, "room=one&since=0")
    check(hdr == epoch, "poll header %r, events say %r" % (hdr, epoch))
    check(evs and all(e["epoch"] == epoch for e in evs), evs)
    check([e["seq"] for e in evs] == list(range(1, len(evs) + 1)), evs)
    evs, hdr, dt = poll(port, "room=one&since=%d&epoch=%s&timeout=200" % (evs[-1]["seq"], epoch))
    check(evs == [] and hdr == epoch and dt >= 0.15, "an empty answer: %r %r %.2f" % (evs, hdr, dt))
    # Another room, another epoch; the header comes with a room's first poll.
    evs, other, _ = poll(port, "room=two&since=0&timeout=0")
    check(evs == [] and HEX16.match(other or "") and other != epoch, "%r vs %r" % (other, epoch))
    check(send(port, "two", "x", "y")["epoch"] == other, "room two's epoch changed")
    for bad in ("epoch=12", "epoch=zz00000000000000", "epoch=00000000000000000",
                "epoch=%s%%" % epoch):
        status, _, _ = request(port, "GET", "/chat/poll?room=one&since=0&" + bad)
        check(status == 400, "%s: %d" % (bad, status))


def test_chat_since_past_last_answers_at_once():
    port = nd.free_port()
    nd.Daemon(http_config(port))
    for k in range(3):
        ack = send(port, "r", "p", "m%d" % k)
    epoch = ack["epoch"]
    # Past the last number, with or without the epoch: the whole history, now.
    for q in ("since=10", "since=10&epoch=" + epoch, "since=4&epoch=" + epoch):
        evs, hdr, dt = poll(port, "room=r&timeout=10000&" + q)
        check(dt < 3 * nd.SLOW, "%s: held %.1fs" % (q, dt))
        check(hdr == epoch and [e["text"] for e in evs] == ["m0", "m1", "m2"], "%s: %r" % (q, evs))
    # Another epoch, even with a number the room has: the whole history.
    other = "%016x" % (int(epoch, 16) ^ 1)
    evs, hdr, dt = poll(port, "room=r&timeout=10000&since=2&epoch=" + other)
    check(dt < 3 * nd.SLOW and hdr == epoch and [e["seq"] for e in evs] == [1, 2, 3],
          "another epoch: %r %r %.1f" % (evs, hdr, dt))
    # A room made by the poll itself (nothing in it yet) and a number.
    evs, hdr, dt = poll(port, "room=new&timeout=10000&since=7")
    check(evs == [] and HEX16.match(hdr or "") and dt < 3 * nd.SLOW, "new room: %r %.1f" % (hdr, dt))
    # In step: held as before, until the next event.
    evs, hdr, dt = poll(port, "room=r&timeout=300&since=3&epoch=" + epoch)
    check(evs == [] and hdr == epoch and dt >= 0.25, "in step: %r %.2f" % (evs, dt))


def test_chat_long_poll_across_restart():
    port = nd.free_port()
    d = nd.Daemon(http_config(port))
    for k in range(5):
        ack = send(port, "lobby", "alice", "before %d" % k)
    old_epoch, last = ack["epoch"], ack["seq"]
    check(last >= 5, ack)
    # A poll in step with the room is held ...
    held = hold_poll(port, "room=lobby&since=%d&epoch=%s&timeout=60000" % (last, old_epoch))
    check(nd.nothing_within(held, 0.2), "a poll in step was answered at once")
    # ... and answered by the graceful stop.
    d.signal(signal.SIGTERM)
    status, headers, body = read_response(held)
    check(status == 200 and json.loads(body) == [] and headers.get("chat-epoch") == old_epoch,
          "the held poll at the stop: %d %r %r" % (status, headers, body))
    held.close()
    check(d.stop() == 0, "stop")
    # The same port, a new daemon: the room starts again at 1, in a new epoch.
    nd.Daemon(http_config(port))
    evs, new_epoch, dt = poll(port, "room=lobby&since=%d&epoch=%s&timeout=10000" % (last, old_epoch))
    check(dt < 3 * nd.SLOW, "a poll from the old epoch was held %.1fs" % dt)
    check(evs == [] and HEX16.match(new_epoch or "") and new_epoch != old_epoch,
          "after the restart: %r, epoch %r (was %r)" % (evs, new_epoch, old_epoch))
    # A client that started over (since=0, the new epoch) waits, and gets
    # the first message of the new daemon.
    held = hold_poll(port, "room=lobby&since=0&epoch=%s&timeout=60000" % new_epoch)
    check(nd.nothing_within(held, 0.2), "a poll in step was answered at once")
    ack = send(port, "lobby", "bob", "after the restart")
    check(ack == {"seq": 1, "epoch": new_epoch}, ack)
    status, headers, body = read_response(held)
    evs = json.loads(body)
    check([(e["seq"], e["epoch"], e["text"]) for e in evs] == [(1, new_epoch, "after the restart")],
          "the held poll after the restart: %r" % evs)
    # A client still on the old numbers is not left behind either.
    for q in ("since=%d&epoch=%s" % (last, old_epoch), "since=%d" % last):
        evs, hdr, dt = poll(port, "room=lobby&timeout=10000&" + q)
        check(dt < 3 * nd.SLOW and hdr == new_epoch and
              [(e["seq"], e["epoch"], e["text"]) for e in evs] == [(1, new_epoch, "after the restart")],
              "%s: %r %r %.1f" % (q, evs, hdr, dt))


def test_chat_ws_join_gets_history_first():
    """Needs chat_history_send called from http_ws_route before the join
    notice."""
    port = nd.free_port()
    nd.Daemon(http_config(port))
    for k in range(3):
        ack = send(port, "h", "alice", "earlier %d" % k)
    s = ws(port, "/ws/chat?room=h&name=late")
    got = recv_events(s, lambda g: g[-1]["type"] == "presence", 4)
    check([(e["seq"], e["type"], e.get("text")) for e in got] ==
          [(1, "message", "earlier 0"), (2, "message", "earlier 1"), (3, "message", "earlier 2"),
           (4, "presence", None)] and got[-1]["joined"] == ["late"], "a joiner got %r" % got)
    check(all(e["epoch"] == ack["epoch"] for e in got), got)
    # Live events follow, without the history again.
    send(port, "h", "alice", "live")
    e = json.loads(recv_frame(s)[1])
    check((e["seq"], e["text"]) == (5, "live"), e)


TESTS = [test_chat_epoch_on_every_event_and_answer, test_chat_since_past_last_answers_at_once,
         test_chat_long_poll_across_restart, test_chat_ws_join_gets_history_first]
