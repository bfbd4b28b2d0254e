"""Issue 17 at scale: one chat room shared through Redis by three netdemo
instances behind haproxy, two of them reuseport siblings on 127.0.0.1:P and
a third "box" on 127.0.0.2:Q. 300 members join through haproxy (WebSocket
and long poll), five publishers send 200 messages each, interleaved; every
member must end with the same 1,000 message events, numbered 1 to 1,000 in
one order. Midway the box is killed with SIGKILL (in a second run, one of
the reuseport pair): its WebSocket members reconnect through haproxy to a
survivor, get the room's history, drop what they had, and miss nothing.

Where the members are: each instance also has a private http service
([admin], its own port on 127.0.0.1, chat off) whose /stats counts the chat
service's present members for that process; behind one reuseport address the
public port cannot say which sibling answers. A held poll is not a member
there, so polls (and POST sends) are counted per instance from the chat
service's access log.

Everything runs from one Python process on non-blocking sockets and one
selector. Publishing keeps at most WINDOW events ahead of the slowest member
(a disconnected one included), so no member, poller or reconnecting
WebSocket, can fall out of the 100 events of history; from the kill until
every member is back and in step it slows to one event per KILL_PACE
seconds, and goes on. The publishers have nothing in flight at the kill
(each waits for its message back, or its answer), so nothing is lost with
the box; a message written after the kill into a connection to the dead box
(haproxy had not closed it yet) reached nobody and is sent again. Events
without a "seq" (presence counts, backend notes) are ignored; only type
"message" is counted. Needs redis-server and haproxy (tests/deps.sh
installs both)."""
import base64
import json
import os
import selectors
import shutil
import socket
import subprocess
import tempfile
import time

import nd
from nd import check
from t_chat import request
from t_chat_redis import Redis
from t_ws import frame

ROOM = "scale"
N_WS = 240              # WebSocket members, the WebSocket publishers among them
N_POLL = 60             # long-poll members
N_PUB = 5               # publishers: the first N_WS_PUB by WebSocket, the others by POST
N_WS_PUB = 3
PER_PUB = 200
TOTAL = N_PUB * PER_PUB
WINDOW = 50             # events a publisher may be ahead of the slowest member
KILL_AT = 400           # events sent before the box is killed
KILL_PACE = 0.01        # seconds between events from the kill until all are back
POLL_MS = 10000         # a poll's wait (max_delay caps it at 10 s); haproxy's
                        # timeout server is three times that
INTER_MS = 200          # haproxy's health-check interval

HAPROXY = """
global
    maxconn 4000
    stats socket {sock} mode 600 level admin
defaults
    mode http
    timeout connect 1s
    timeout client 60s
    timeout server 30s
    timeout tunnel 120s
    timeout http-request 10s
    timeout check 1s
    retries 3
    option redispatch
    default-server inter {inter}ms fall 2 rise 2
frontend chat_in
    bind 127.0.0.1:{front}
    default_backend be_chat
backend be_chat
    balance roundrobin
    option httpchk GET /health
    http-check expect status 200
    server pair 127.0.0.1:{p} check weight 2
    server box 127.0.0.2:{q} check weight 1
"""


def instance_config(host, port, admin, redis_port):
    return ("[netdemo]\nlog_level = notice\nshutdown_timeout = 5s\n"
            "[chat]\nmodule = http\nlisten = tcp://%s:%d\nreuseport = on\naccess_log = on\n"
            "chat_backend = redis://127.0.0.1:%d\n"
            "[admin]\nmodule = http\nlisten = tcp://127.0.0.1:%d\nchat = off\n"
            % (host, port, redis_port, admin))


class Haproxy:
    def __init__(self, p, q):
        self.dir = tempfile.mkdtemp(prefix="nd-it-haproxy-")
        self.sock = os.path.join(self.dir, "admin.sock")
        self.front = nd.free_port()
        path = os.path.join(self.dir, "haproxy.cfg")
        with open(path, "w") as f:
            f.write(HAPROXY.format(sock=self.sock, inter=INTER_MS, front=self.front, p=p, q=q))
        self.proc = subprocess.Popen(["haproxy", "-db", "-f", path], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        nd.wait_until(lambda: self.started(), 10, "haproxy to start")

    def started(self):
        check(self.proc.poll() is None, "haproxy exited at start (code %s)" % self.proc.returncode)
        return os.path.exists(self.sock) and self.states()

    def states(self):
        """{server: 'UP' or 'DOWN' ...} of be_chat, from the admin socket."""
        return nd.haproxy_states(self.sock, "be_chat", lambda name: name in ("pair", "box"))

    def stop(self):
        nd.terminate(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


class Instance:
    def __init__(self, label, host, port, redis_port):
        self.label = label
        self.admin = nd.free_port()
        self.d = nd.Daemon(instance_config(host, port, self.admin, redis_port))

    def chat_stats(self):
        """The chat service's entry in this process's /stats."""
        status, _, body = request(self.admin, "GET", "/stats")
        check(status == 200, "%s /stats: %d %r" % (self.label, status, body[:200]))
        for s in json.loads(body)["services"]:
            if s["name"] == "chat":
                return s
        raise nd.Failure("%s: no chat service in /stats" % self.label)

    def members(self):
        return self.chat_stats()["chat"]["members"]

    def requests(self):
        """(polls answered, sends answered), from its access log."""
        log = self.d.out()
        return log.count("/chat/poll?"), log.count("/chat/send?")


class Run:
    """The selector, the members and the publishers, and what went wrong."""

    def __init__(self, front):
        self.front = front
        self.sel = selectors.DefaultSelector()
        self.errors = []
        self.timers = []            # (when, fn)
        self.epoch = None
        self.sent = 0               # messages handed to a publisher's connection
        self.hold = False           # publishers finish what they sent, send nothing more
        self.killed_at = None       # monotonic time of the kill
        self.kill_seq = None        # the latest seq when the box was killed
        self.pace_until_back = False
        self.last_send = 0.0
        self.members = []           # WsMember and Poller
        self.pubs = []

    def error(self, what):
        self.errors.append(what)

    def later(self, delay, fn):
        self.timers.append((time.monotonic() + delay, fn))

    def pump(self, timeout=0.01):
        now = time.monotonic()
        if self.timers:
            due = [t for t in self.timers if t[0] <= now]
            self.timers = [t for t in self.timers if t[0] > now]
            for _, fn in due:
                fn()
        for key, mask in self.sel.select(timeout):
            conn = key.data
            if mask & selectors.EVENT_WRITE:
                conn.flush()
            if mask & selectors.EVENT_READ and conn.sock is not None and conn.sock is key.fileobj:
                conn.readable()
        self.publish()
        check(not self.errors, "; ".join(self.errors[:5]))

    def run_until(self, cond, timeout, what, stall=10):
        """Pumps until cond(); fails after timeout, or once nothing has
        moved (no event sent or received) for stall seconds."""
        now = time.monotonic()
        end = now + timeout * nd.SLOW
        moved, seen = now, self.motion()
        while not cond():
            now = time.monotonic()
            m = self.motion()
            if m != seen:
                moved, seen = now, m
            if now > end or now - moved > stall * nd.SLOW:
                raise nd.Failure("%s waiting for %s (%s)"
                                 % ("timed out" if now > end else "stuck %.0fs" % (now - moved),
                                    what, self.progress()))
            self.pump()

    def motion(self):
        return (self.sent, sum(m.last for m in self.members),
                sum(1 for m in self.members if m.up))

    def progress(self):
        lasts = sorted(m.last for m in self.members)
        return ("sent %d, members' last seq from %d to %d, %d WebSocket members down, "
                "publishers %s" % (self.sent, lasts[0] if lasts else 0, lasts[-1] if lasts else 0,
                                   sum(1 for m in self.members if not m.up),
                                   [p.state() for p in self.pubs]))

    def slowest(self):
        return min(m.last for m in self.members)

    def publish(self):
        if self.pace_until_back and all(m.up and m.last >= self.kill_seq for m in self.members):
            self.pace_until_back = False
        if self.hold or self.sent >= TOTAL:
            return
        now = time.monotonic()
        floor = self.slowest()
        for p in self.pubs:
            if self.sent >= TOTAL or self.sent - floor >= WINDOW:
                return
            if self.pace_until_back and now - self.last_send < KILL_PACE:
                return
            if p.ready():
                p.send_next()
                self.sent += 1
                self.last_send = now


class Conn:
    """A non-blocking connection to haproxy's front end."""

    def __init__(self, run):
        self.run = run
        self.sock = None
        self.rbuf = bytearray()
        self.wbuf = bytearray()
        self.up = False
        self.wmask = 0

    def open(self):
        s = socket.socket()
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.settimeout(5 * nd.SLOW)
        try:
            s.connect(("127.0.0.1", self.run.front))
        except OSError as e:
            s.close()
            self.run.error("connect to haproxy: %s" % e)
            return
        s.setblocking(False)
        self.sock = s
        self.rbuf = bytearray()
        self.wbuf = bytearray()
        self.wmask = 0
        self.run.sel.register(s, selectors.EVENT_READ, self)

    def write(self, data):
        self.wbuf += data
        self.flush()

    def flush(self):
        if self.sock is None:
            return
        try:
            n = self.sock.send(self.wbuf) if self.wbuf else 0
        except BlockingIOError:
            n = 0
        except OSError:
            return          # the read side sees the end
        del self.wbuf[:n]
        wmask = selectors.EVENT_WRITE if self.wbuf else 0
        if wmask != self.wmask:
            self.wmask = wmask
            self.run.sel.modify(self.sock, selectors.EVENT_READ | wmask, self)

    def readable(self):
        try:
            d = self.sock.recv(262144)
        except BlockingIOError:
            return
        except OSError:
            d = b""
        if not d:
            self.drop("connection ended")
            return
        self.rbuf += d
        self.received()

    def close(self):
        if self.sock is not None:
            self.run.sel.unregister(self.sock)
            self.sock.close()
            self.sock = None
        self.up = False


class Member:
    """What a member saw: the seq it has got to, the messages in order."""

    def __init__(self, run, name):
        Conn.__init__(self, run)
        self.name = name
        self.last = 0
        self.msgs = []
        self.replayed = 0

    def take(self, e):
        if "seq" not in e:
            return              # presence counts, backend notes: not numbered, not counted
        if self.run.epoch is None:
            self.run.epoch = e["epoch"]
        if e["epoch"] != self.run.epoch:
            self.run.error("%s: epoch %s, not %s" % (self.name, e["epoch"], self.run.epoch))
        seq = e["seq"]
        if seq <= self.last:
            self.replayed += 1          # history after a reconnect: had it already
            return
        if seq != self.last + 1:
            self.run.error("%s: seq %d after %d (%d events missed)"
                           % (self.name, seq, self.last, seq - self.last - 1))
        self.last = seq
        if e.get("type") == "message":
            self.msgs.append((seq, e["name"], e["text"]))


class WsMember(Conn, Member):
    def __init__(self, run, name):
        Member.__init__(self, run, name)
        self.joins = 0
        self.lost_at = None
        self.back_after = []        # seconds from the kill to each rejoin
        self.tries = 0
        self.own = None             # a publisher's message not yet seen back
        self.pub = None

    def start(self):
        self.open()
        if self.sock is None:
            return
        key = base64.b64encode(os.urandom(16)).decode()
        self.hs = True
        self.write(("GET /ws/chat?room=%s&name=%s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                    "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                    "Sec-WebSocket-Version: 13\r\n\r\n" % (ROOM, self.name, key)).encode())

    def drop(self, why):
        was_up = self.up
        self.close()
        if self.run.killed_at is None:
            self.run.error("%s: %s before the kill" % (self.name, why))
        if was_up:
            self.lost_at = time.monotonic()
        if self.own is not None:
            # Written after the kill into a connection to the dead box,
            # which haproxy had not closed yet: it reached no instance.
            self.pub.unsend()
        # Until haproxy routes it to a live instance: at once the first
        # time, then after a short pause.
        self.tries += 1
        self.run.later(0 if self.tries == 1 else 0.02, self.start)

    def received(self):
        if self.hs:
            end = self.rbuf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.rbuf[:end])
            del self.rbuf[:end + 4]
            if not head.startswith(b"HTTP/1.1 101 "):
                self.drop("handshake answered %r" % head[:60])
                return
            self.hs = False
            self.up = True
            self.tries = 0
            self.joins += 1
            if self.joins > 1 and self.run.killed_at is not None:
                self.back_after.append(time.monotonic() - self.run.killed_at)
        buf = self.rbuf
        pos = 0
        while len(buf) - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            n, hl = b1 & 127, 2
            if n == 126:
                if len(buf) - pos < 4:
                    break
                n, hl = int.from_bytes(buf[pos + 2:pos + 4], "big"), 4
            elif n == 127:
                if len(buf) - pos < 10:
                    break
                n, hl = int.from_bytes(buf[pos + 2:pos + 10], "big"), 10
            if len(buf) - pos < hl + n:
                break
            op = b0 & 15
            data = bytes(buf[pos + hl:pos + hl + n])
            pos += hl + n
            if b1 & 0x80 or not b0 & 0x80:
                self.run.error("%s: masked or fragmented frame from the server" % self.name)
            elif op == 1:
                e = json.loads(data)
                if "seq" not in e and e.get("type") == "error" and self.own is not None:
                    self.run.error("%s: %r refused: %r" % (self.name, self.own, e))
                self.take(e)
                if self.own is not None and e.get("name") == self.name and \
                        e.get("text") == self.own:
                    self.own = None
            elif op == 9:
                self.write(frame(10, data))
            elif op == 8:
                del buf[:pos]
                self.drop("close frame %r" % data[:2])
                return
        del buf[:pos]


class Poller(Conn, Member):
    def __init__(self, run, name):
        Member.__init__(self, run, name)
        self.answers = 0
        self.failed = 0
        self.stale = 0
        self.up = True              # a poll member is never "down": it asks again

    def start(self):
        if self.sock is None:
            self.open()
            if self.sock is None:
                return
        self.up = True
        self.write(("GET /chat/poll?room=%s&name=%s&since=%d%s&timeout=%d HTTP/1.1\r\n"
                    "Host: x\r\n\r\n"
                    % (ROOM, self.name, self.last,
                       "&epoch=" + self.run.epoch if self.run.epoch else "", POLL_MS)).encode())

    def drop(self, why):
        self.close()
        self.up = True
        self.failed += 1
        if self.run.killed_at is None:
            self.run.error("%s: %s before the kill" % (self.name, why))
        self.run.later(0.02, self.start)

    def received(self):
        status, headers, body = parse_answer(self.rbuf)
        if status is None:
            return
        if status != 200:
            # haproxy's own 502/503: the poll was on the killed box.
            self.drop("poll answered %d %r" % (status, body[:80]))
            return
        self.answers += 1
        ep = headers.get("chat-epoch")
        if self.run.epoch is not None and ep != self.run.epoch:
            self.run.error("%s: Chat-Epoch %s, not %s" % (self.name, ep, self.run.epoch))
        evs = json.loads(body)
        if evs and all(e.get("seq", 0) <= self.last for e in evs):
            # since was past the last number the answering instance had
            # heard of (another one answered the previous poll): taken as a
            # poll from an older room, answered with the whole history.
            self.stale += 1
        for e in evs:
            self.take(e)
        if headers.get("connection", "").lower() == "close":
            self.close()
        self.start()


class PostPublisher(Conn):
    def __init__(self, run, name):
        Conn.__init__(self, run)
        self.name = name
        self.i = 0
        self.busy = False
        self.text = None
        self.acks = {}              # text: (seq, epoch)
        self.retries = 0

    def ready(self):
        return not self.busy and self.i < PER_PUB

    def state(self):
        return "%s: %d sent, waiting for %r, %d retries" % (
            self.name, self.i, self.text if self.busy else None, self.retries)

    def send_next(self):
        self.text = "%s m%03d" % (self.name, self.i)
        self.i += 1
        self.busy = True
        self.post()

    def post(self):
        if self.sock is None:
            self.open()
            if self.sock is None:
                return
        body = self.text.encode()
        self.write(("POST /chat/send?room=%s&name=%s HTTP/1.1\r\nHost: x\r\n"
                    "Content-Length: %d\r\n\r\n" % (ROOM, self.name, len(body))).encode() + body)

    def drop(self, why):
        self.close()
        if not self.busy:
            return
        # Publishers are idle when the box dies, so a send that fails after
        # the kill went to the dead box, or to nobody: it was not published.
        if self.run.killed_at is None:
            self.run.error("%s: %s: %s" % (self.name, self.text, why))
            return
        self.retries += 1
        self.run.later(0.02, self.post)

    def received(self):
        status, headers, body = parse_answer(self.rbuf)
        if status is None:
            return
        if status != 200:
            if body.startswith(b"chat backend unavailable"):
                self.run.error("%s: %s: netdemo answered %d" % (self.name, self.text, status))
            self.drop("answered %d %r" % (status, body[:60]))
            return
        a = json.loads(body)
        self.acks[self.text] = (a["seq"], a["epoch"])
        self.busy = False
        if headers.get("connection", "").lower() == "close":
            self.close()


class WsPublisher:
    """A WebSocket member that also publishes: one message at a time, the
    next once its own came back."""

    def __init__(self, member):
        self.m = member
        member.pub = self
        self.name = member.name
        self.i = 0
        self.retries = 0

    @property
    def busy(self):
        return self.m.own is not None

    def state(self):
        m = self.m
        return ("%s: %d sent, waiting for %r, %s, %d joins, last seq %d, lost at %s"
                % (self.name, self.i, m.own, "up" if m.up else "down", m.joins, m.last,
                   "%.3fs after the kill" % (m.lost_at - self.m.run.killed_at)
                   if m.lost_at else None))

    def ready(self):
        return self.m.up and self.m.own is None and self.i < PER_PUB

    def send_next(self):
        self.m.own = "%s m%03d" % (self.name, self.i)
        self.i += 1
        self.m.write(frame(1, self.m.own.encode()))

    def unsend(self):
        """The message in flight is lost with the connection: send it again."""
        self.m.own = None
        self.i -= 1
        self.m.run.sent -= 1
        self.retries += 1


def parse_answer(buf):
    """(status, headers, body) of one whole answer at the start of buf,
    taken out of it; (None, None, None) until it is all in."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None, None, None
    lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    if len(buf) < end + 4 + n:
        return None, None, None
    body = bytes(buf[end + 4:end + 4 + n])
    del buf[:end + 4 + n]
    return int(lines[0].split()[1]), headers, body


def port_free_on(hosts):
    for _ in range(100):
        p = nd.free_port()
        try:
            for h in hosts:
                s = socket.socket()
                s.bind((h, p))
                s.close()
            return p
        except OSError:
            continue
    raise nd.Failure("no port free on %s" % hosts)


def scale_and_kill(victim):
    """The whole run, SIGKILLing instance `victim` ("A", "B" or "C")."""
    for tool in ("redis-server", "haproxy"):
        if shutil.which(tool) is None:
            raise nd.Failure("%s is not installed (tests/deps.sh installs it)" % tool)
    t0 = time.monotonic()
    redis = Redis()
    hp = None
    run = None
    insts = []
    try:
        p, q = nd.free_port(), port_free_on(["127.0.0.2"])
        a = Instance("A", "127.0.0.1", p, redis.port)
        insts.append(a)
        b = Instance("B", "127.0.0.1", p, redis.port)
        insts.append(b)
        c = Instance("C", "127.0.0.2", q, redis.port)
        insts.append(c)
        hp = Haproxy(p, q)
        nd.wait_until(lambda: hp.states() == {"pair": "UP", "box": "UP"}, 10,
                      "both haproxy servers UP")
        run = Run(hp.front)
        ws_members = [WsMember(run, "w%03d" % i) for i in range(N_WS)]
        pollers = [Poller(run, "l%02d" % i) for i in range(N_POLL)]
        run.members = ws_members + pollers
        run.pubs = [WsPublisher(ws_members[j]) for j in range(N_WS_PUB)]
        run.pubs += [PostPublisher(run, "post%d" % j) for j in range(N_WS_PUB, N_PUB)]
        # Publishers by WebSocket are ws_members[0..2]: their names say so.
        for j in range(N_WS_PUB):
            ws_members[j].name = "pub%d" % j
            run.pubs[j].name = "pub%d" % j
        run.hold = True
        t_join = time.monotonic()
        for m in run.members:
            m.start()
        run.run_until(lambda: all(m.up for m in ws_members), 30, "every WebSocket member in")
        spread = {}

        def counted():
            spread.update((i.label, i.members()) for i in insts)
            return sum(spread.values()) == N_WS
        run.run_until(counted, 10, "the instances to count %d members" % N_WS)
        join_s = time.monotonic() - t_join
        check(all(spread.values()), "an instance got no member: %r" % spread)

        # Publish; at KILL_AT, once no publisher has anything in flight,
        # SIGKILL the victim (by the PID started here).
        t_pub = time.monotonic()
        run.hold = False
        run.run_until(lambda: run.sent >= KILL_AT, 60, "%d events sent" % KILL_AT)
        run.hold = True
        run.run_until(lambda: not any(pb.busy for pb in run.pubs), 10, "publishers idle")
        dead = {i.label: i for i in insts}[victim]
        live = [i for i in insts if i is not dead]
        on_dead = dead.members()
        check(on_dead == spread[victim], "members on %s moved: %d, then %d"
              % (victim, spread[victim], on_dead))
        reqs_dead = dead.requests()
        run.kill_seq = run.sent
        dead.d.proc.kill()
        dead.d.proc.wait()
        run.killed_at = time.monotonic()
        run.pace_until_back = True
        run.hold = False
        run.run_until(lambda: all(m.up for m in ws_members) and
                      sum(1 for m in ws_members if m.lost_at is not None) >= on_dead,
                      30, "the killed instance's members back")
        lost = [m for m in ws_members if m.lost_at is not None]
        back = max(t for m in lost for t in m.back_after)
        sent_during = run.sent - run.kill_seq
        run.run_until(lambda: not run.pace_until_back, 30, "the reconnected members caught up")
        caught_up = time.monotonic() - run.killed_at
        run.run_until(lambda: run.sent >= TOTAL and not any(pb.busy for pb in run.pubs) and
                      run.slowest() >= TOTAL, 90, "all %d events to every member" % TOTAL)
        pub_s = time.monotonic() - t_pub
        check(len(lost) == on_dead, "%d WebSocket members lost their connection, %d were on the "
              "killed instance" % (len(lost), on_dead))
        after = {i.label: i.members() for i in live}
        check(sum(after.values()) == N_WS, "after the kill the others hold %r members, not %d"
              % (after, N_WS))
        if victim == "C":
            nd.wait_until(lambda: hp.states().get("box") == "DOWN", 5,
                          "haproxy to mark the box DOWN")
        else:
            check(hp.states().get("pair") == "UP", "haproxy has the reuseport pair %s, its "
                  "survivor serving" % hp.states().get("pair"))

        # Every member: the same 1,000 messages, 1 to 1,000, in one order.
        ref = ws_members[N_WS_PUB].msgs
        check([e[0] for e in ref] == list(range(1, TOTAL + 1)),
              "seqs not 1..%d: %r" % (TOTAL, [e[0] for e in ref][:20]))
        for m in run.members:
            check(m.msgs == ref, "%s differs: %d messages, first difference at %r" % (
                m.name, len(m.msgs),
                next((x for x in zip(m.msgs, ref) if x[0] != x[1]), None)))
        texts = [t for _, _, t in ref]
        want = ["%s m%03d" % (pb.name, i) for pb in run.pubs for i in range(PER_PUB)]
        check(sorted(texts) == sorted(want), "messages differ from those sent")
        for pb in run.pubs:
            mine = [t for _, n, t in ref if n == pb.name]
            check(mine == ["%s m%03d" % (pb.name, i) for i in range(PER_PUB)],
                  "%s's messages out of order" % pb.name)
        by_seq = {t: s for s, _, t in ref}
        for pb in run.pubs:
            for t, (s, ep) in getattr(pb, "acks", {}).items():
                check(by_seq[t] == s and ep == run.epoch, "%s acknowledged as %d, seen as %d"
                      % (t, s, by_seq[t]))
        mixed = sum(1 for x, y in zip(ref, ref[1:]) if x[1] != y[1])
        check(mixed > TOTAL // 4, "publishers hardly interleaved (%d changes)" % mixed)
        replayed = sum(m.replayed for m in lost)
        retries = sum(pb.retries for pb in run.pubs)
        poll_fails = sum(m.failed for m in pollers)
        stale = sum(m.stale for m in pollers)
        for m in run.members:
            m.close()
        for i in live:
            check(i.d.stop() == 0, "%s did not stop cleanly:\n%s" % (i.label, i.d.log()[-2000:]))
        reqs = {i.label: i.requests() for i in live}    # their access logs are all out now
        reqs[victim] = reqs_dead
        print("    chat through redis: WebSocket members by instance %s (after the kill %s), "
              "polls and sends answered by instance %s; %d events to %d members (%d by "
              "WebSocket, %d polling) in %.1fs after %.2fs of joins; SIGKILL of %s at event "
              "%d: %d members back in %.3fs (all in step %.3fs), %d events sent meanwhile, "
              "%d replayed events dropped, %d polls and %d sends retried, %d poll answers "
              "with nothing new (whole history: since past the answering instance's last); "
              "%.1fs in all"
              % (spread, after, reqs, TOTAL, N_WS + N_POLL, N_WS, N_POLL, pub_s, join_s,
                 victim, run.kill_seq, len(lost), back, caught_up, sent_during, replayed,
                 poll_fails, retries, stale, time.monotonic() - t0), flush=True)
    except nd.Failure as e:
        raise nd.Failure("%s\n%s" % (e, "\n".join(
            "--- %s (pid %d, exit %s) log:\n%s"
            % (i.label, i.d.pid, i.d.proc.poll(), i.d.log()[-1500:]) for i in insts)))
    finally:
        if run is not None:
            for m in run.members + [pb for pb in run.pubs if isinstance(pb, Conn)]:
                m.close()
            run.sel.close()
        if hp:
            hp.stop()
        redis.stop()


def test_chat_redis_haproxy_300_members_and_a_kill():
    """The box on 127.0.0.2 dies: haproxy sends its members to the pair."""
    scale_and_kill("C")


def test_chat_redis_haproxy_reuseport_sibling_killed():
    """One of the reuseport pair dies: its members come back through the
    same haproxy server, the kernel handing them to the survivor (or
    through the box)."""
    scale_and_kill("A")


TESTS = [test_chat_redis_haproxy_300_members_and_a_kill,
         test_chat_redis_haproxy_reuseport_sibling_killed]
