"""The /chat page in a real browser: headless Chromium, two tabs, driven
over the DevTools protocol with this suite's own WebSocket client. A
message typed in one tab must appear in the other; a screenshot is kept
in build/chat.png for people to look at."""
import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

import nd
from nd import check
from t_http import http_config
from t_ws import frame, recv_frame

HERE = os.path.dirname(os.path.abspath(__file__))
SHOT = os.path.join(HERE, "..", "..", "build", "chat.png")


class Tab:
    """One page, over its DevTools WebSocket."""

    def __init__(self, ws_url):
        rest = ws_url.split("://", 1)[1]
        hostport, path = rest.split("/", 1)
        host, port = hostport.rsplit(":", 1)
        self.s = nd.connect(int(port), host, timeout=20)
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall(("GET /%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                        "Sec-WebSocket-Version: 13\r\n\r\n" % (path, hostport, key)).encode())
        resp = b""
        while b"\r\n\r\n" not in resp:
            resp += self.s.recv(1)
        check(resp.startswith(b"HTTP/1.1 101"), "DevTools handshake: %r" % resp[:80])
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        self.s.sendall(frame(1, json.dumps({"id": self.next_id, "method": method,
                                            "params": params}).encode()))
        while True:
            op, data = recv_frame(self.s)
            if op != 1:
                continue
            msg = json.loads(data)
            if msg.get("id") == self.next_id:
                check("error" not in msg, "%s: %r" % (method, msg.get("error")))
                return msg["result"]

    def js(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True)
        check("exceptionDetails" not in r, "%s: %r" % (expr, r.get("exceptionDetails")))
        return r["result"].get("value")

    def wait_js(self, expr, timeout, what):
        return nd.wait_until(lambda: self.js(expr), timeout, what, step=0.05)


class Chromium:
    """Headless Chromium with a fresh profile; tabs are opened on demand."""

    def __init__(self):
        chrome = shutil.which("chromium") or shutil.which("chromium-browser")
        check(chrome, "chromium is not installed (tests/deps.sh installs it)")
        self.profile = tempfile.mkdtemp(prefix="nd-it-chrome-")
        self.proc = subprocess.Popen(
            [chrome, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-quic", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync",
             "--disable-dev-shm-usage", "--user-data-dir=" + self.profile,
             "--remote-debugging-address=127.0.0.1",
             "--remote-debugging-port=0", "--window-size=800,500",
             "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            portfile = os.path.join(self.profile, "DevToolsActivePort")
            nd.wait_until(lambda: os.path.exists(portfile) and open(portfile).read().strip(),
                          30, "chromium's DevTools port")
            self.cdp = int(open(portfile).read().split()[0])
        except BaseException:
            self.close()
            raise

    def tab(self, url):
        req = urllib.request.Request("http://127.0.0.1:%d/json/new?%s"
                                     % (self.cdp, urllib.parse.quote(url, safe="")),
                                     method="PUT")
        info = json.loads(urllib.request.urlopen(req, timeout=20).read())
        return Tab(info["webSocketDebuggerUrl"])

    def close(self):
        nd.terminate(self.proc)
        shutil.rmtree(self.profile, ignore_errors=True)


CONNECTED = "(document.getElementById('state') || {}).textContent === 'connected'"


def log_has(text):
    return "document.getElementById('log').innerText.includes(%s)" % json.dumps(text)


def test_chat_in_two_browser_tabs():
    port = nd.free_port()
    nd.Daemon(http_config(port))
    browser = Chromium()
    try:
        tabs = [browser.tab("http://127.0.0.1:%d/chat?room=browser&name=%s" % (port, who))
                for who in ("alice", "bob")]
        for t in tabs:
            t.wait_js(CONNECTED, 20, "the page to connect")
        tabs[0].js("document.getElementById('text').value = 'hello from tab one';"
                   "document.getElementById('send').click(); true")
        try:
            tabs[1].wait_js(log_has("alice: hello from tab one"), 10,
                            "the message in the other tab")
        except nd.Failure:
            raise nd.Failure("tab two shows %r; tab one shows %r" % (
                tabs[1].js("document.body.innerText"), tabs[0].js("document.body.innerText")))
        tabs[1].js("document.getElementById('text').value = 'and back from tab two';"
                   "document.getElementById('send').click(); true")
        tabs[0].wait_js(log_has("bob: and back from tab two"), 10, "the reply in the first tab")
        shot = tabs[0].call("Page.captureScreenshot", format="png")
        os.makedirs(os.path.dirname(SHOT), exist_ok=True)
        with open(SHOT, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        check(os.path.getsize(SHOT) > 1000, "empty screenshot")
    finally:
        browser.close()


def send(port, room, name, text):
    from t_chat import send as chat_send
    return chat_send(port, room, name, text)


def test_chat_page_survives_a_daemon_restart():
    """The page has seen events up to number 6 or so; the daemon restarts on
    the same port and the room's numbers start again at 1. The page, back
    on its own (its reconnect pause starts at 500 ms), must show the new
    daemon's messages: a page comparing numbers alone drops them."""
    port = nd.free_port()
    d = nd.Daemon(http_config(port))
    browser = Chromium()
    try:
        tab = browser.tab("http://127.0.0.1:%d/chat?room=restart&name=alice" % port)
        tab.wait_js(CONNECTED, 20, "the page to connect")
        for k in range(5):
            ack = send(port, "restart", "carol", "before %d" % k)
        tab.wait_js(log_has("carol: before 4"), 10, "the messages before the restart")
        check(tab.js("seen") == ack["seq"] > 3, "the page saw %r, the room is at %r"
              % (tab.js("seen"), ack))
        check(d.stop() == 0, "stop")
        tab.wait_js("document.getElementById('state').textContent !== 'connected'", 10,
                    "the page to see the daemon go")
        nd.Daemon(http_config(port))
        # 'connected' again can only be the new daemon; its join came first.
        tab.wait_js(CONNECTED, 20, "the page to reconnect to the new daemon")
        ack = send(port, "restart", "dave", "after the restart")
        check(ack["seq"] <= 3, "the new room is at %r" % ack)
        try:
            tab.wait_js(log_has("dave: after the restart"), 10, "the message after the restart")
        except nd.Failure:
            raise nd.Failure("the page shows %r (seen %r; the room is at %r)" % (
                tab.js("document.body.innerText"), tab.js("seen"), ack))
        check(tab.js("epoch") == ack["epoch"] and tab.js("seen") == ack["seq"],
              "the page is at %r/%r, the room at %r" % (tab.js("seen"), tab.js("epoch"), ack))
        text = tab.js("document.getElementById('log').innerText")
        check("carol: before 4" in text and "room restarted" in text,
              "the log should keep what came before and mark the restart: %r" % text)
    finally:
        browser.close()


def test_chat_page_shows_history_on_join():
    """Needs chat_history_send called from http_ws_route before the join
    notice."""
    port = nd.free_port()
    nd.Daemon(http_config(port))
    for k in range(3):
        send(port, "hist", "carol", "earlier %d" % k)
    browser = Chromium()
    try:
        tab = browser.tab("http://127.0.0.1:%d/chat?room=hist&name=alice" % port)
        tab.wait_js(CONNECTED + " && " + log_has("alice joined"), 20, "the page to join")
        text = tab.js("document.getElementById('log').innerText")
        check(re.search(r"carol: earlier 0\s+carol: earlier 1\s+carol: earlier 2\s+alice joined",
                        text), "the page shows %r" % text)
    finally:
        browser.close()


def test_chat_page_redis_restarted_empty():
    """A room shared through Redis; Redis is killed and started empty on
    its port: the page says the backend went down (and that a message sent
    meanwhile was not sent) and came back, marks the
    room restarted (a new epoch) and shows the new numbering's messages.
    It shows the members across instances in its header."""
    import shutil
    from t_chat_redis import Redis, wait_backend_up
    if shutil.which("redis-server") is None:
        raise nd.Failure("redis-server is not installed (tests/deps.sh installs it)")
    r = Redis()
    browser = None
    try:
        a, b = nd.free_port(), nd.free_port()
        for p in (a, b):
            nd.Daemon(http_config(p, "chat_backend = redis://127.0.0.1:%d\n" % r.port))
        browser = Chromium()
        tab = browser.tab("http://127.0.0.1:%d/chat?room=rr&name=alice" % a)
        tab.wait_js(CONNECTED, 20, "the page to connect")
        other = browser.tab("http://127.0.0.1:%d/chat?room=rr&name=bob" % b)
        other.wait_js(CONNECTED, 20, "the second page to connect")
        tab.wait_js("document.getElementById('count').textContent === '2 here'", 10,
                    "the page to count both instances' members")
        for k in range(5):
            ack = send(b, "rr", "carol", "before %d" % k)
        tab.wait_js(log_has("carol: before 4"), 10, "the messages before")
        check(tab.js("seen") == ack["seq"] == 5, "seen %r, room %r" % (tab.js("seen"), ack))
        r.stop()
        tab.wait_js(log_has("chat backend down"), 10, "the page to hear Redis went")
        # A message sent meanwhile: refused, and the page says so.
        tab.js("document.getElementById('text').value = 'while down';"
               "document.getElementById('send').click(); true")
        tab.wait_js(log_has("not sent: the chat backend is unavailable"), 10,
                    "the page to say its message was not sent")
        r.__init__(r.port)
        tab.wait_js(log_has("chat backend up"), 15, "the page to hear Redis is back")
        wait_backend_up(b)
        ack = send(b, "rr", "dave", "after")
        check(ack["seq"] == 1, ack)
        tab.wait_js(log_has("dave: after"), 10, "the message in the new numbering")
        check(tab.js("epoch") == ack["epoch"] and tab.js("seen") == 1,
              "the page is at %r/%r, the room at %r" % (tab.js("seen"), tab.js("epoch"), ack))
        text = tab.js("document.getElementById('log').innerText")
        check(re.search(r"carol: before 4[\s\S]*chat backend down[\s\S]*not sent[\s\S]*"
                        r"room restarted"
                        r"[\s\S]*dave: after", text), "the page shows %r" % text)
    finally:
        if browser:
            browser.close()
        r.stop()


TESTS = [test_chat_in_two_browser_tabs, test_chat_page_survives_a_daemon_restart,
         test_chat_page_shows_history_on_join, test_chat_page_redis_restarted_empty]
