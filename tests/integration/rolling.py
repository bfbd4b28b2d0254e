#!/usr/bin/env python3
"""rolling.py: run by t_scale.test_reuseport_rolling_restart inside a
network namespace of its own (loopback up, net.ipv4.tcp_migrate_req=1):
two reuseport instances serve one port under a steady load while each is
stopped and started again in turn. Prints "ok N errors {...}"."""
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nd  # noqa: E402

nd.BINARY = os.path.abspath(sys.argv[1])
nd.SANITIZER = "asan" in nd.BINARY
nd.SLOW = 3.0 if nd.SANITIZER else 1.0
nd.raise_nofile()
port = nd.free_port()
conf = ("[netdemo]\nshutdown_timeout = 5s\n[web]\nmodule = http\n"
        "listen = tcp://127.0.0.1:%d\nreuseport = on\n" % port)
stop = threading.Event()
res = {"ok": 0, "errors": {}}
lock = threading.Lock()


def load():
    while not stop.is_set():
        what = None
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            if not nd.recv_all(s).endswith(b"ok\n"):
                what = "no answer"
            s.close()
        except OSError as e:
            what = type(e).__name__
        with lock:
            if what:
                res["errors"][what] = res["errors"].get(what, 0) + 1
            else:
                res["ok"] += 1


try:
    instances = [nd.Daemon(conf, args=["-s", "web:%d" % i]) for i in (1, 2)]
    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    for i in range(2):
        for _ in range(2):
            before = res["ok"]
            nd.wait_until(lambda: res["ok"] > before + 200, 10, "traffic")
            rc = instances[i].stop()
            if rc != 0:
                res["errors"]["exit %d" % rc] = 1
            instances[i] = nd.Daemon(conf, args=["-s", "web:%d" % (i + 1)])
    before = res["ok"]
    nd.wait_until(lambda: res["ok"] > before + 200, 10, "traffic")
    stop.set()
    for t in threads:
        t.join(10)
    reports = [r for r in nd.reap_all() if r]
    if reports:
        res["errors"]["sanitizer"] = len(reports)
finally:
    stop.set()
    nd.reap_all()
print("ok %d errors %r" % (res["ok"], res["errors"]), flush=True)
