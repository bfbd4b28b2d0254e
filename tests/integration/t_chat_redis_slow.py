"""Issue 17: a Redis that answers slowly, or a port where nothing listens.
The loop stays responsive (GET /health on a keep-alive connection: every
answer 200, p99 under 10 ms) and RSS stays bounded while WebSocket members
and POST /chat/send hammer a shared room; once Redis answers again,
publishing works and no message that was accepted (200 with a seq) is lost
or repeated in what the members receive. And, as the README has it, "503
means not published": no POST answered 503 reaches a member, and every
frame a member sent has exactly one answer: its own numbered event, an
error event (not published), or an error event with "unknown": true (it
went out and its reply did not come in time: Redis may have run it before
a sleep and held the reply, so it may also come back as an event; the POST
twin of that is a 504).

Slow Redis: DEBUG SLEEP, so redis-server is started with
--enable-debug-command local (Redis 7 refuses DEBUG otherwise). It is
chosen over CLIENT PAUSE because a sleeping Redis is the worst case: the
whole server stops, reading nothing either (its sockets' buffers fill, the
kernel still completes connects from the backlog), whereas a paused one
keeps reading and would only hold the replies back. The sleeps are 1.5 s
(longer than the client's 1 s reply limit: the command connection is
dropped and made again with backoff) and 0.6 s (shorter: replies are late
and the 1024-command queue fills up, so further sends are refused at once),
twice each; after each sleep the next one waits until netdemo has published
through Redis again (the room's seq moved on). All of it ends well before
the subscriber's first PING (10 s after it connected), so the subscriber
connection is never dropped, and the one known hole (a subscriber that
reconnects after more than 100 events went by misses the rest: README, "Not
yet") is not what this test measures.

Nothing listens: a free port where the connect is refused at once, and a
blackhole: a listener that never accepts, with backlog 0 and its accept
queue filled, so that the kernel drops further SYNs and a connect hangs
until netdemo's own 1 s limit (no root, no firewall rule needed). Sends
answer 503 with Retry-After: 1 within the 1 s reply limit (a command that
waits for a connection fails when its time is up; they are not failed
sooner because the backend is known to be down), /health stays fast, RSS
bounded, and the log says "chat backend Redis down" once, not once per
reconnect attempt (the attempts themselves are info lines, bounded by the
backoff: counted and printed).

The RSS bound. What Redis being slow or away may make netdemo hold is
capped: at most max_pending = 1024 publishes are queued or awaiting their
reply, each a command of CMD_BYTES (the EVAL script, four keys, the
event's JSON with a TEXT_LEN-byte text, an epoch: about 1.6 kB), held once
in the client's buffers (the unsent queue or the connection's output), plus
up to 1 MB of live events a room holds while it fetches (one room here),
plus what each WebSocket member may leave unread (ws_max_queue, 256k here,
MEMBERS members; the load reads all the time). Buffers grow by doubling,
so each of those terms may take up to twice its size; 4 MB more is left
for the allocator (arenas, fragmentation). That is about 11 MB; a queue
that did not refuse at its bound would hold every attempt made during a
1.5 s sleep (about ten thousand at this load, CMD_BYTES each: some 15 MB,
and more with every further sleep). The ASan
build's allocator keeps freed memory in quarantine (16 MB, nd.daemon_env)
and pads every block, so its bound is twice the plain one plus the
quarantine. Small leaks are not for RSS to find: every daemon here is
stopped with SIGTERM and must exit 0, so the ASan build's LeakSanitizer
runs at its exit.

The load runs in a child process (one selector loop, no threads, nice
19), so that the parent, which times /health, does not wait for Python's
GIL behind it, and the daemon gets the CPU before the load does. MEMBERS
members each write BATCH frames every WS_TICK (about 6300 attempts a second:
the queue is full a sixth of a second into a sleep, and while Redis is
healthy the load can read back what it publishes, MEMBERS times over);
POSTERS keep-alive connections each send the next POST as soon as the
last is answered (after POST_THINK when that answer waited: see Poster.parse).
The load is paced on purpose: an unpaced flood of frames keeps the loop
busy nearly all the time (measured on the 2-core machine: some 200,000
refused attempts a second, the daemon at 75 to 97% of a core, /health p99
7 to 12 ms, loop turns of several ms, READ_BUDGET reads of 64 kB from each
flooding member), and /health then measures how much CPU the flood takes,
not whether a slow Redis holds the loop up.

Beside each /health, the same request goes to an idle netdemo of its own
(no Redis, no load): its figures, printed with the daemon's, tell a busy
machine from a busy loop when the p99 check fails.
"""
import json
import os
import multiprocessing
import re
import selectors
import shutil
import socket
import struct
import threading
import time
import traceback

import nd
from nd import check
from t_chat_redis import Redis, instance, send
from t_http import http_config
from t_ws import handshake

ROOM = "slow"
MEMBERS = 4                 # WebSocket members, each publishing and reading
POSTERS = 8                 # keep-alive connections sending POST /chat/send
TEXT_LEN = 1000             # bytes of each message's text
WS_MAX_QUEUE = 256 * 1024   # the members' unread output bound
BATCH = 11                  # WebSocket frames a member writes each WS_TICK
WS_TICK = 0.007             # seconds between two batches
POST_THINK = 0.2           # a poster's pause after an answer that waited
PROBES = 300                # GET /health timed
PROBE_GAP = 0.012           # seconds between two probes (spreads them over the phase)
P99_MAX_MS = 10.0
CMD_BYTES = 1600            # one publish's command, TEXT_LEN text (see the docstring)
SLEEPS = (1.5, 0.6, 1.5, 0.6)
NICE = 19                   # the load's niceness: the daemon, not the load, gets the CPU first
REPLY_LIMIT = 1.0           # the Redis client's time limit on a reply (ND_REDIS_TIMEOUT_MS)

SEQ_RX = re.compile(rb'^\{"seq":(\d+),.*?"text":"([^ "\\]*)', re.S)
HEALTH = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"


def rss_bound_kb():
    plain = (2 * 1024 * CMD_BYTES + 2 * 1024 * 1024 + 2 * MEMBERS * WS_MAX_QUEUE
             + 4 * 1024 * 1024) // 1024
    return 2 * plain + 16 * 1024 if nd.SANITIZER else plain


def text_of(tag):
    t = tag + " "
    return t + "x" * (TEXT_LEN - len(t))


# ---- the load, in a child process ----

def ws_text(payload):
    """A client text frame: masked, with the all-zero key (a valid mask that
    leaves the payload as it is: no per-byte work in Python)."""
    n = len(payload)
    if n < 126:
        h = struct.pack("!BB", 0x81, 0x80 | n)
    elif n < 65536:
        h = struct.pack("!BBH", 0x81, 0x80 | 126, n)
    else:
        h = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
    return h + b"\0\0\0\0" + payload


class Member:
    def __init__(self, i, port):
        self.i = i
        s, resp = handshake(port, "/ws/chat?room=%s&name=m%d" % (ROOM, i))
        check(resp.startswith(b"HTTP/1.1 101 "), "member %d: %r" % (i, resp[:80]))
        s.setblocking(False)
        self.s = s
        self.inb = bytearray()
        self.out = bytearray()
        self.events = []        # (seq, tag) of numbered events, as received
        self.errors = 0         # {"type":"error"} events: not published
        self.unknown = 0        # ... with "unknown": true: may have been
        self.own = 0            # numbered events of its own messages
        self.prefix = "m%d-" % i
        self.sent = 0
        self.closed = None      # the close frame's payload, or "EOF"

    def fill(self):
        for _ in range(BATCH):
            self.out += ws_text(text_of("m%d-%d" % (self.i, self.sent)).encode())
            self.sent += 1

    def parse(self):
        b = self.inb
        i = 0
        while len(b) - i >= 2:
            op = b[i] & 15
            n = b[i + 1] & 127
            h = 2
            if n == 126:
                if len(b) - i < 4:
                    break
                n = struct.unpack_from("!H", b, i + 2)[0]
                h = 4
            elif n == 127:
                if len(b) - i < 10:
                    break
                n = struct.unpack_from("!Q", b, i + 2)[0]
                h = 10
            if len(b) - i < h + n:
                break
            p = bytes(b[i + h:i + h + n])
            i += h + n
            if op == 1:
                m = SEQ_RX.match(p)
                if m:
                    tag = m.group(2).decode()
                    self.events.append((int(m.group(1)), tag))
                    if tag.startswith(self.prefix):
                        self.own += 1
                elif p.startswith(b'{"seq":'):
                    self.events.append((json.loads(p)["seq"], None))
                else:
                    e = json.loads(p)
                    if e.get("type") == "error" and e.get("unknown") is True:
                        self.unknown += 1
                    elif e.get("type") == "error":
                        self.errors += 1
            elif op == 8:
                self.closed = p
            elif op == 9:
                self.out += struct.pack("!BB", 0x8A, 0x80 | len(p)) + b"\0\0\0\0" + p
        del b[:i]


class Poster:
    def __init__(self, i, port):
        self.i = i
        self.s = nd.connect(port)
        self.s.setblocking(False)
        self.inb = bytearray()
        self.out = bytearray()
        self.k = 0
        self.inflight = None    # (start, tag)
        self.next_at = 0.0      # no new POST before

    def start(self):
        tag = "p%d-%d" % (self.i, self.k)
        self.k += 1
        body = text_of(tag).encode()
        self.out += (b"POST /chat/send?room=%s&name=p%d HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Length: %d\r\n\r\n" % (ROOM.encode(), self.i, len(body)) + body)
        self.inflight = (time.monotonic(), tag)

    def parse(self):
        """(status, headers, body, seconds, tag) once the answer is in, else None."""
        end = self.inb.find(b"\r\n\r\n")
        if end < 0:
            return None
        lines = bytes(self.inb[:end]).decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        if len(self.inb) < end + 4 + n:
            return None
        body = bytes(self.inb[end + 4:end + 4 + n])
        del self.inb[:end + 4 + n]
        t0, tag = self.inflight
        self.inflight = None
        now = time.monotonic()
        # After an answer that waited (its command held a place in the
        # queue, up to the 1 s limit), a pause of POST_THINK. Places come
        # free a second after they were taken, so in the same short window
        # each second as the poster's own did (the queue filled up in a
        # fraction of a second, and refills the same way): a poster that
        # asks again at once lands in that window every time, takes a
        # place and waits again, and is never refused at once. Asking
        # POST_THINK later, outside the window, it meets a full queue and
        # is refused at once, again and again, until the window comes round.
        self.next_at = now + POST_THINK if now - t0 > 0.1 else now
        return int(lines[0].split()[1]), headers, body, time.monotonic() - t0, tag


class Load:
    """The child's side: members and posters on one selector loop, driven
    by messages on ctl: ("flood", on), ("stats",), ("stop",) (no new
    sends; answered once every POST in flight has its answer), ("drain",
    seq, timeout) (answered once every member has seen seq), ("quit",)."""

    def __init__(self, ctl, port):
        self.ctl = ctl
        self.members = [Member(i, port) for i in range(MEMBERS)]
        self.posters = [Poster(i, port) for i in range(POSTERS)]
        self.flood = False
        self.next_batch = 0.0
        self.stopping = False
        self.drain = None       # (seq, deadline)
        self.refused_tags = []  # the POSTs answered 503
        self.st = {"ok": 0, "refused": 0, "refused_fast": 0, "unanswered": 0, "other": [],
                   "no_retry_after": 0, "lat_max": 0.0, "accepted": {}}

    def stats(self):
        st = dict(self.st)
        st["accepted"] = dict(self.st["accepted"])
        st["ws_sent"] = sum(m.sent for m in self.members)
        st["ws_errors"] = sum(m.errors for m in self.members)
        st["ws_events"] = [len(m.events) for m in self.members]
        st["ws_unknown"] = sum(m.unknown for m in self.members)
        st["ws_outcomes"] = [(m.sent, m.own, m.errors, m.unknown) for m in self.members]
        st["closed"] = [(m.i, m.closed) for m in self.members if m.closed is not None]
        return st

    def answer(self, p, r):
        status, headers, body, dt, tag = r
        st = self.st
        st["lat_max"] = max(st["lat_max"], dt)
        if status == 200:
            st["ok"] += 1
            st["accepted"][json.loads(body)["seq"]] = tag
        elif status == 503:
            st["refused"] += 1
            self.refused_tags.append(tag)
            if dt < 0.1:
                st["refused_fast"] += 1
            if headers.get("retry-after") != "1":
                st["no_retry_after"] += 1
        elif status == 504:
            st["unanswered"] += 1
        else:
            st["other"].append((status, body[:80]))

    def command(self, msg):
        if msg[0] == "flood":
            self.flood = msg[1]
        elif msg[0] == "stats":
            self.ctl.send(("stats", self.stats()))
        elif msg[0] == "stop":
            self.flood = False
            self.stopping = time.monotonic() + msg[1]
        elif msg[0] == "drain":
            self.drain = (msg[1], time.monotonic() + msg[2])
        elif msg[0] == "quit":
            return False
        return True

    def run(self):
        sel = selectors.DefaultSelector()
        sel.register(self.ctl, selectors.EVENT_READ, None)
        conns = self.members + self.posters
        want = {}
        for c in conns:
            sel.register(c.s, selectors.EVENT_READ, c)
            want[c] = selectors.EVENT_READ
        self.ctl.send(("ready",))
        while True:
            now = time.monotonic()
            if self.flood and now >= self.next_batch:
                # A batch from each member every WS_TICK s: enough to fill
                # the queue within a fraction of a sleep, and no more
                # published than this process can read back MEMBERS times
                # over while Redis is healthy.
                self.next_batch = max(self.next_batch + WS_TICK, now - WS_TICK)
                for m in self.members:
                    if m.closed is None and len(m.out) < 65536:
                        m.fill()
            for p in self.posters:
                if self.flood and p.inflight is None and now >= p.next_at:
                    p.start()
            for c in conns:
                ev = selectors.EVENT_READ | (selectors.EVENT_WRITE if c.out else 0)
                if want[c] != ev:
                    sel.modify(c.s, ev, c)
                    want[c] = ev
            wake = min([self.next_batch] + [p.next_at for p in self.posters if p.inflight is None])
            for key, ev in sel.select(max(0.0, min(0.05, wake - time.monotonic()))
                                      if self.flood else 0.05):
                c = key.data
                if c is None:
                    if not self.command(self.ctl.recv()):
                        return
                    continue
                if ev & selectors.EVENT_WRITE and c.out:
                    try:
                        n = c.s.send(c.out)
                        del c.out[:n]
                    except BlockingIOError:
                        pass
                    except ConnectionError as e:
                        c.out.clear()
                        if isinstance(c, Member):
                            c.closed = c.closed or "send: %s" % e
                if ev & selectors.EVENT_READ:
                    try:
                        d = c.s.recv(262144)
                    except BlockingIOError:
                        d = None
                    except ConnectionError:
                        d = b""
                    if d == b"":
                        if isinstance(c, Member):
                            c.closed = c.closed or "EOF"
                        sel.unregister(c.s)
                        conns.remove(c)
                        if isinstance(c, Poster):
                            self.st["other"].append(("EOF", c.inflight and c.inflight[1]))
                            self.posters.remove(c)
                        continue
                    if d:
                        c.inb += d
                        if isinstance(c, Member):
                            c.parse()
                        else:
                            r = c.parse()
                            if r:
                                self.answer(c, r)
            # Stopped once every POST has its answer and every frame sent
            # its outcome: its own event or an error, either kind (an
            # unknown one may come with its event too), or at the deadline.
            if self.stopping and not any(p.inflight for p in self.posters) and (
                    all(not m.out and m.own + m.errors + m.unknown >= m.sent
                        for m in self.members if m.closed is None)
                    or time.monotonic() > self.stopping):
                self.stopping = False
                st = self.stats()
                st["refused_tags"] = self.refused_tags
                self.ctl.send(("stopped", st))
            if self.drain is not None:
                seq, deadline = self.drain
                done = all(m.events and m.events[-1][0] >= seq for m in self.members)
                if done or time.monotonic() > deadline:
                    self.drain = None
                    self.ctl.send(("drained", done, [m.events for m in self.members],
                                   self.stats()))


def _child(ctl, port):
    try:
        os.nice(NICE)
        Load(ctl, port).run()
    except BaseException:
        ctl.send(("crash", traceback.format_exc()))


class LoadProcess:
    """The parent's handle on the child."""

    def __init__(self, port):
        ctx = multiprocessing.get_context("fork")
        self.ctl, child = ctx.Pipe()
        self.proc = ctx.Process(target=_child, args=(child, port), daemon=True)
        self.proc.start()
        child.close()
        self.expect("ready", 10)

    def expect(self, what, timeout):
        if not self.ctl.poll(timeout * nd.SLOW):
            raise nd.Failure("the load process did not answer %r within %.0fs"
                             % (what, timeout * nd.SLOW))
        msg = self.ctl.recv()
        if msg[0] == "crash":
            raise nd.Failure("the load process failed:\n" + msg[1])
        check(msg[0] == what, "load process: %r, expected %r" % (msg[:1], what))
        return msg[1:]

    def flood(self, on):
        self.ctl.send(("flood", on))

    def stats(self):
        self.ctl.send(("stats",))
        return self.expect("stats", 10)[0]

    def stop(self):
        """No new sends; the stats once every POST in flight is answered."""
        self.ctl.send(("stop", 5 * nd.SLOW))
        return self.expect("stopped", 15)[0]

    def drain(self, seq, timeout):
        self.ctl.send(("drain", seq, timeout * nd.SLOW))
        return self.expect("drained", timeout + 5)

    def close(self):
        if self.proc.is_alive():
            try:
                self.ctl.send(("quit",))
            except OSError:
                pass
            self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.ctl.close()


# ---- the parent's side ----

class Prober:
    """GET /health on one keep-alive connection, timed; RSS sampled between
    probes (outside the timed part). After each, the same on an idle
    netdemo of its own (no chat backend, no load): the control, whose
    figures say what the machine itself costs at that moment (other
    processes, the scheduler), printed beside the daemon's."""

    def __init__(self, port, daemon):
        cport = nd.free_port()
        self.control = nd.Daemon(http_config(cport))
        self.s = self.connect(port)
        self.cs = self.connect(cport)
        self.d = daemon
        self.ms = []
        self.cms = []
        self.bad = []
        self.rss = []

    @staticmethod
    def connect(port):
        s = nd.connect(port)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def timed(self, s):
        t0 = time.perf_counter()
        s.sendall(HEALTH)
        buf = b""
        while True:
            d = s.recv(4096)
            check(d, "EOF on a /health connection")
            buf += d
            end = buf.find(b"\r\n\r\n")
            if end >= 0:
                m = re.search(rb"\r\ncontent-length: *(\d+)", buf[:end], re.I)
                if len(buf) >= end + 4 + int(m.group(1) if m else 0):
                    break
        return (time.perf_counter() - t0) * 1000, buf

    def probe(self):
        try:
            ms, buf = self.timed(self.s)
        except (nd.Failure, OSError):
            alive(self.d)
            raise
        self.ms.append(ms)
        if not buf.startswith(b"HTTP/1.1 200 "):
            self.bad.append(buf[:60])
        self.rss.append(self.d.rss_kb())
        self.cms.append(self.timed(self.cs)[0])

    def reset(self):
        self.ms, self.cms, self.rss = [], [], []

    def run(self, until, n):
        """Probes every PROBE_GAP s until until() is true and n probes are
        in. The gap only spreads the probes over the phase."""
        nxt = time.monotonic()
        while len(self.ms) < n or not until():
            self.probe()
            nxt += PROBE_GAP
            pause = nxt - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            check(len(self.ms) < 20 * n, "the phase did not end within %d probes" % (20 * n))

    @staticmethod
    def stats(v):
        ms = sorted(v)
        return ms[len(ms) // 2], ms[min(len(ms) - 1, int(len(ms) * 0.99))], ms[-1]

    def figures(self):
        return self.stats(self.ms)

    def text(self):
        return ("/health p50 %.2f ms p99 %.2f ms max %.2f ms over %d probes "
                "(idle control: p50 %.2f p99 %.2f max %.2f)"
                % (self.stats(self.ms) + (len(self.ms),) + self.stats(self.cms)))

    def check(self, label):
        check(not self.bad, "%s: /health answered %r" % (label, self.bad[:3]))
        check(len(self.ms) >= PROBES, "%s: %d probes" % (label, len(self.ms)))
        check(self.figures()[1] < P99_MAX_MS, "%s: %s" % (label, self.text()))

    def close(self):
        self.s.close()
        self.cs.close()
        check(self.control.stop() == 0, "control exit: %s" % self.control.log()[-2000:])


class Sleeper(threading.Thread):
    """Puts Redis to sleep (DEBUG SLEEP s) for each of SLEEPS in turn; after
    each, waits until the room's seq in Redis has moved on by `progress`
    (netdemo publishes through it again) before the next."""

    def __init__(self, port, progress=1500):
        super().__init__(daemon=True)
        self.port = port
        self.progress = progress
        self.error = None
        self.done = threading.Event()

    def ask(self, s, cmd):
        s.sendall(cmd)
        buf = b""
        while not buf.endswith(b"\r\n") or (buf.startswith(b"$") and buf.count(b"\r\n") < 2
                                            and not buf.startswith(b"$-1")):
            d = s.recv(4096)
            check(d, "redis closed the control connection")
            buf += d
        return buf

    def seq(self, s):
        r = self.ask(s, b"GET netdemo:{%s}:seq\r\n" % ROOM.encode())
        return int(r.split(b"\r\n")[1]) if r.startswith(b"$") and not r.startswith(b"$-1") else 0

    def run(self):
        try:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=30)
            for secs in SLEEPS:
                r = self.ask(s, b"DEBUG SLEEP %g\r\n" % secs)
                check(r.startswith(b"+OK"), "DEBUG SLEEP: %r" % r)
                start = self.seq(s)
                nd.wait_until(lambda: self.seq(s) >= start + self.progress, 10,
                              "publishing through Redis after a %g s sleep" % secs)
            s.close()
        except BaseException as e:
            self.error = e
        finally:
            self.done.set()


def check_attempts(st):
    """Thousands of attempts, most of them refused; the POSTs among them
    too, most refused at once (the queue was full)."""
    attempts = st["ok"] + st["refused"] + st["unanswered"] + st["ws_sent"]
    refused = st["refused"] + st["ws_errors"]
    posts = st["ok"] + st["refused"] + st["unanswered"]
    check(attempts > 5000 and refused > attempts // 2,
          "%d attempts, %d refused: the queue never filled" % (attempts, refused))
    check(posts > 1000 and fast_503(st) > posts // 2,
          "%d POSTs, %d refused at once: they did not meet a full queue" % (posts, fast_503(st)))


def have_tags(events):
    for got in events:
        for _, t in got:
            if t is not None:
                yield t


def ws_outcomes(st, events):
    """(sent, own events, errors, unknown) per member: the answers as the
    stats st have them, the own events counted in events (each member's
    whole list, once it is all in: an own event may come after the
    sender's error event)."""
    return [(sent, sum(1 for _, t in got if t is not None and t.startswith("m%d-" % i)), err, unk)
            for i, ((sent, _, err, unk), got) in enumerate(zip(st["ws_outcomes"], events))]


def alive(d):
    """Fails at once, with its log, when the daemon is gone (a sanitizer
    report ends it), instead of a wait timing out later."""
    if d.proc.poll() is not None:
        raise nd.Failure("netdemo exited (%s):\n%s" % (d.proc.returncode, d.log()[-4000:]))
    return True


def refusals(st):
    return st["refused"] + st["ws_errors"]


def fast_503(st):
    """POSTs refused at once: the queue was full (else a 503 comes when the
    command's time is up)."""
    return st["refused_fast"]


def first_publish(port, tag):
    def ok():
        status, _, body = send(port, ROOM, "op", text_of(tag))
        return json.loads(body)["seq"] if status == 200 else None
    return ok


def no_redis():
    if shutil.which("redis-server") is None:
        print("    SKIP: redis-server is not installed (apt-get install redis-server)")
        return True
    return False


def test_chat_redis_slow_loop_and_memory():
    if no_redis():
        return
    r = Redis(extra=["--enable-debug-command", "local"])
    try:
        slow(r)
    finally:
        r.stop()


def slow(r):
    port, d = instance(r.port, "ws_max_queue = %d\n" % WS_MAX_QUEUE)
    # The room exists in Redis and this instance publishes through it.
    nd.wait_until(first_publish(port, "first"), 10, "a first publish through Redis")
    load = LoadProcess(port)
    prober = None
    try:
        # Warm-up: the same load with Redis healthy, so that "before" is the
        # working set of normal operation.
        load.flood(True)
        nd.wait_until(lambda: alive(d) and load.stats()["ok"] >= 200, 15,
                      "200 sends accepted while healthy")
        prober = Prober(port, d)
        for _ in range(10):
            prober.probe()
        before = max(prober.rss)
        prober.reset()
        sleeper = Sleeper(r.port)
        sleeper.start()
        prober.run(lambda: alive(d) and sleeper.done.is_set(), PROBES)
        sleeper.join()
        if sleeper.error is not None:
            raise sleeper.error
        alive(d)
        st = load.stop()
        peak = max(prober.rss)
        # Publishing works again, and the members see everything accepted.
        last = nd.wait_until(first_publish(port, "after"), 10, "a publish after the sleeps")
        done, events, st2 = load.drain(last, 15)
        log = d.log()
        # Both connections log "connected" at the start; after that the
        # command connection once per "down" it came back from (the test
        # ends with a publish that went through), the subscriber once per
        # reconnect of its own.
        downs = log.count("chat backend Redis down")
        sub_reconnects = len(re.findall(r"redis tcp://127\.0\.0\.1:%d: connected" % r.port,
                                        log)) - 2 - downs
        print("    slow Redis: %s; RSS %d -> %d kB (+%d, bound %d); POST accepted %d, refused %d "
              "(%d at once, latency max %.2f s), unanswered (504) %d; WS sent %d, error events "
              "%d, unknown %d (published all the same: %d); members got %d numbered events; "
              "command reconnects %d, subscriber reconnects %d"
              % (prober.text(), before, peak, peak - before, rss_bound_kb(), st["ok"],
                 st["refused"], fast_503(st), st["lat_max"], st["unanswered"], st["ws_sent"],
                 st["ws_errors"], st["ws_unknown"],
                 sum(own + err + unk - sent for sent, own, err, unk in ws_outcomes(st2, events)),
                 len(events[0]), downs, sub_reconnects),
              flush=True)
        check(not st["other"], "answers other than 200, 503 and 504: %r" % st["other"][:5])
        check(st["no_retry_after"] == 0, "%d 503s without Retry-After: 1" % st["no_retry_after"])
        check_attempts(st)
        check(st["lat_max"] < (REPLY_LIMIT + 0.5) * nd.SLOW,
              "a send waited %.2f s (the reply limit is %.0f s)" % (st["lat_max"], REPLY_LIMIT))
        check(not st2["closed"], "members dropped: %r" % st2["closed"])
        check(done, "members did not all see seq %d (the last: %r); subscriber reconnects: %d"
              % (last, [e[-1] if e else None for e in events], sub_reconnects))
        accepted = dict(st["accepted"])
        accepted[last] = "after"
        for i, got in enumerate(events):
            seqs = [q for q, _ in got]
            check(len(set(seqs)) == len(seqs), "member %d: seq repeated: %r"
                  % (i, sorted(set(q for q in seqs if seqs.count(q) > 1))[:10]))
            check(all(x < y for x, y in zip(seqs, seqs[1:])), "member %d: seqs out of order" % i)
            # Every number is a PUBLISH (the script takes it and publishes
            # in one go); with the subscriber never reconnected each
            # reaches every member: no gap at all, not only none among
            # those accepted.
            gaps = sorted(set(range(seqs[0], seqs[-1] + 1)) - set(seqs))
            check(sub_reconnects > 0 or not gaps, "member %d: %d events missing: %r"
                  % (i, len(gaps), gaps[:10]))
            tags = [t for _, t in got if t is not None]
            check(len(set(tags)) == len(tags), "member %d: a message delivered twice" % i)
            have = dict(got)
            lost = sorted(q for q in accepted if q > seqs[0] and q not in have)
            check(not lost, "member %d: %d accepted messages lost: %r (subscriber reconnects: %d)"
                  % (i, len(lost), lost[:10], sub_reconnects))
            wrong = [(q, accepted[q], have[q]) for q in accepted
                     if q in have and have[q] != accepted[q]]
            check(not wrong, "member %d: seq with another message: %r" % (i, wrong[:5]))
        # "503 means not published" (README): no refused POST reaches a
        # member; and each frame a member sent had one answer: published
        # (its own event), refused (an error), or unknown (an error with
        # "unknown", and maybe its event as well). So own + errors +
        # unknown - sent is the number of unknown frames that were
        # published: between 0 and unknown; with no unknown ones, 0.
        refused = set(st["refused_tags"])
        back = sorted(set(t for t in have_tags(events) if t in refused))
        check(not back, "%d POSTs answered 503 were published: %r" % (len(back), back[:10]))
        # Counted once all is in: own events from everything each member
        # received up to the last publish, answers from the same moment.
        outcomes = ws_outcomes(st2, events)
        check(all(0 <= own + err + unk - sent <= unk for sent, own, err, unk in outcomes),
              "frames sent, own events, errors, unknown per member: %r (each frame one answer)"
              % outcomes)
        check(peak - before <= rss_bound_kb(), "RSS grew %d kB (%d -> %d), bound %d kB"
              % (peak - before, before, peak, rss_bound_kb()))
        prober.check("slow Redis")
        load.close()
        prober.close()
        check(d.stop() == 0, "exit: %s" % d.log()[-2000:])
    finally:
        load.close()
        if prober:
            prober.close()


# ---- nothing listens ----

def test_chat_redis_refused_port():
    """A free port, nobody on it: every connect is refused at once."""
    nowhere(nd.free_port(), "refused port")


def test_chat_redis_blackhole():
    """A listener that never accepts, its backlog full: SYNs are dropped and
    a connect hangs until netdemo gives up on it (1 s)."""
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(0)
    port = lst.getsockname()[1]
    fill = []
    try:
        # Backlog 0 takes one connection; the next SYN is dropped.
        for _ in range(2):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            fill.append(s)
        probe = socket.socket()
        probe.setblocking(False)
        probe.connect_ex(("127.0.0.1", port))
        fill.append(probe)
        sel = selectors.DefaultSelector()
        sel.register(probe, selectors.EVENT_WRITE)
        check(not sel.select(0.3), "a connect to the blackhole completed: it does not hold")
        sel.close()
        nowhere(port, "blackhole")
    finally:
        for s in fill:
            s.close()
        lst.close()


def nowhere(rport, label):
    t_daemon = time.monotonic()
    port, d = instance(rport, "ws_max_queue = %d\n" % WS_MAX_QUEUE)
    # One send makes the room and the backend; it is refused within the
    # reply limit.
    t0 = time.monotonic()
    status, headers, _ = send(port, ROOM, "op", "first")
    dt = time.monotonic() - t0
    check(status == 503 and headers.get("retry-after") == "1", "send: %d %r" % (status, headers))
    check(dt < (REPLY_LIMIT + 0.5) * nd.SLOW, "the first send took %.2f s" % dt)
    load = LoadProcess(port)
    prober = None
    try:
        load.flood(True)
        nd.wait_until(lambda: alive(d) and refusals(load.stats()) >= 200, 15,
                      "200 sends refused")
        prober = Prober(port, d)
        for _ in range(10):
            prober.probe()
        before = max(prober.rss)
        prober.reset()
        prober.run(lambda: alive(d), PROBES)
        st = load.stop()
        peak = max(prober.rss)
        load.close()
        check(d.stop() == 0, "exit: %s" % d.log()[-2000:])
        elapsed = time.monotonic() - t_daemon
        log = d.log()
        down = log.count("chat backend Redis down")
        attempts = len(re.findall(r"redis tcp://127\.0\.0\.1:%d: (cannot connect|connection "
                                  r"failed)" % rport, log))
        print("    %s: %s; RSS %d -> %d kB (+%d, bound %d); POST refused %d (%d at once, "
              "latency max %.2f s), accepted %d; WS sent %d, error events %d; log: %d down "
              "line(s), %d info lines for failed connects in %.1f s"
              % (label, prober.text(), before, peak, peak - before, rss_bound_kb(), st["refused"],
                 fast_503(st), st["lat_max"], st["ok"], st["ws_sent"], st["ws_errors"], down,
                 attempts, elapsed), flush=True)
        check(st["ok"] == 0, "%d sends accepted with no Redis" % st["ok"])
        check(not st["other"], "answers other than 503: %r" % st["other"][:5])
        check(st["no_retry_after"] == 0, "%d 503s without Retry-After: 1" % st["no_retry_after"])
        check_attempts(st)
        check(st["lat_max"] < (REPLY_LIMIT + 0.5) * nd.SLOW,
              "a send waited %.2f s (the reply limit is %.0f s)" % (st["lat_max"], REPLY_LIMIT))
        check(not st["closed"], "members dropped: %r" % st["closed"])
        # Nothing went out: every failure is certain (no 504, no unknown).
        check(st["unanswered"] == 0, "%d POSTs answered 504" % st["unanswered"])
        check(sum(st["ws_events"]) == 0 and
              all(sent == err and unk == 0 for sent, _, err, unk in st["ws_outcomes"]),
              "WS: numbered events %r; frames sent, own events, errors, unknown per member %r"
              % (st["ws_events"], st["ws_outcomes"]))
        check(down == 1, "%s: \"chat backend Redis down\" %d times:\n%s"
              % (label, down, log[-3000:]))
        check("chat backend Redis up" not in log, "up with no Redis:\n%s" % log[-3000:])
        loud = [ln for ln in log.splitlines()
                if re.match(r"netdemo: (warning|err|crit|alert|emerg|notice): ", ln)
                and "redis" in ln.lower() and "chat backend Redis down" not in ln]
        check(not loud, "%s: more than the one down line at notice or above: %r"
              % (label, loud[:5]))
        # Two connections (commands, subscriber), each retrying after 0.1,
        # 0.2, 0.4 ... 5 s: a few attempts each within the run.
        check(attempts <= 2 * (backoff_attempts(elapsed) + 1),
              "%d failed attempts logged in %.1f s: more than the backoff allows"
              % (attempts, elapsed))
        check(peak - before <= rss_bound_kb(), "%s: RSS grew %d kB (%d -> %d), bound %d kB"
              % (label, peak - before, before, peak, rss_bound_kb()))
        prober.check(label)
        prober.close()
    finally:
        load.close()
        if prober:
            prober.close()


def backoff_attempts(seconds):
    """Connection attempts in `seconds` with 100 ms doubling to 5 s between
    them (each attempt may itself take up to the 1 s limit; not counted)."""
    t, wait, n = 0.0, 0.1, 1
    while True:
        t += wait
        if t > seconds:
            return n
        n += 1
        wait = min(wait * 2, 5.0)


TESTS = [test_chat_redis_slow_loop_and_memory, test_chat_redis_refused_port,
         test_chat_redis_blackhole]
