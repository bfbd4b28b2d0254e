"""The /chat page in a real browser: headless Chromium, two tabs, driven
over the DevTools protocol with this suite's own WebSocket client. A
message typed in one tab must appear in the other; a screenshot is kept
in build/chat.png for people to look at."""
import base64
import json
import os
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


def test_chat_in_two_browser_tabs():
    chrome = shutil.which("chromium") or shutil.which("chromium-browser")
    check(chrome, "chromium is not installed (tests/deps.sh installs it)")
    port = nd.free_port()
    nd.Daemon(http_config(port))
    profile = tempfile.mkdtemp(prefix="nd-it-chrome-")
    proc = subprocess.Popen([chrome, "--headless", "--no-sandbox", "--disable-gpu",
                             "--disable-quic", "--no-first-run", "--disable-background-networking",
                             "--disable-component-update", "--disable-sync",
                             "--disable-dev-shm-usage", "--user-data-dir=" + profile,
                             "--remote-debugging-address=127.0.0.1",
                             "--remote-debugging-port=0", "--window-size=800,500",
                             "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        portfile = os.path.join(profile, "DevToolsActivePort")
        nd.wait_until(lambda: os.path.exists(portfile) and open(portfile).read().strip(), 30,
                      "chromium's DevTools port")
        cdp = int(open(portfile).read().split()[0])
        tabs = []
        for who in ("alice", "bob"):
            url = "http://127.0.0.1:%d/chat?room=browser&name=%s" % (port, who)
            req = urllib.request.Request("http://127.0.0.1:%d/json/new?%s"
                                         % (cdp, urllib.parse.quote(url, safe="")),
                                         method="PUT")
            info = json.loads(urllib.request.urlopen(req, timeout=20).read())
            tabs.append(Tab(info["webSocketDebuggerUrl"]))
        for t in tabs:
            t.wait_js("(document.getElementById('state') || {}).textContent === 'connected'",
                      20, "the page to connect")
        tabs[0].js("document.getElementById('text').value = 'hello from tab one';"
                   "document.getElementById('send').click(); true")
        try:
            tabs[1].wait_js("document.getElementById('log').innerText.includes("
                            "'alice: hello from tab one')", 10, "the message in the other tab")
        except nd.Failure:
            raise nd.Failure("tab two shows %r; tab one shows %r" % (
                tabs[1].js("document.body.innerText"), tabs[0].js("document.body.innerText")))
        tabs[1].js("document.getElementById('text').value = 'and back from tab two';"
                   "document.getElementById('send').click(); true")
        tabs[0].wait_js("document.getElementById('log').innerText.includes("
                        "'bob: and back from tab two')", 10, "the reply in the first tab")
        shot = tabs[0].call("Page.captureScreenshot", format="png")
        os.makedirs(os.path.dirname(SHOT), exist_ok=True)
        with open(SHOT, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        check(os.path.getsize(SHOT) > 1000, "empty screenshot")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(profile, ignore_errors=True)


TESTS = [test_chat_in_two_browser_tabs]
