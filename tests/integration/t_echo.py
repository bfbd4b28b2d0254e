"""The echo module on every socket family, with real clients."""
import hashlib
import os
import selectors
import socket
import subprocess
import threading
import time

import nd
from nd import check


def test_tutorial_client():
    port = nd.free_port()
    nd.Daemon(nd.echo_config(port))
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"message")
    check(s.recv(10) == b"message", "tutorial client")
    s.close()


def test_nc_tcp_udp_unix():
    port = nd.free_port(udp_too=True)
    sock = "/tmp/nd-it-%d.sock" % os.getpid()
    nd.Daemon("[echo]\nmodule = echo\nlisten = tcp://127.0.0.1:%d, udp://127.0.0.1:%d, "
              "unix:%s\n" % (port, port, sock))
    t = 10 * nd.SLOW
    r = subprocess.run("printf message | nc -q1 127.0.0.1 %d" % port, shell=True,
                       capture_output=True, timeout=t)
    check(r.stdout == b"message", "nc tcp: %r" % r.stdout)
    r = subprocess.run("printf datagram | nc -u -w1 127.0.0.1 %d" % port, shell=True,
                       capture_output=True, timeout=t)
    check(r.stdout == b"datagram", "nc -u: %r" % r.stdout)
    r = subprocess.run("printf unixmsg | nc -q1 -U %s" % sock, shell=True,
                       capture_output=True, timeout=t)
    check(r.stdout == b"unixmsg", "nc -U: %r" % r.stdout)


def stream_roundtrip(s, data):
    """Sends data, half-closes, and reads the echo until EOF, concurrently."""
    got = []

    def reader():
        got.append(nd.recv_all(s))
    t = threading.Thread(target=reader)
    t.start()
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    t.join(60 * nd.SLOW)
    check(not t.is_alive(), "no EOF after the half-close")
    return got[0]


def test_ipv6_4mib_half_close():
    port = nd.free_port(host="::1")
    nd.Daemon(nd.echo_config(port, host="[::1]"))
    data = os.urandom(4 << 20)
    s = nd.connect(port, "::1")
    back = stream_roundtrip(s, data)
    check(hashlib.sha256(back).digest() == hashlib.sha256(data).digest(),
          "4 MiB differ (%d bytes back)" % len(back))


def test_unix_half_close():
    path = "/tmp/nd-it-u%d.sock" % os.getpid()
    nd.Daemon("[echo]\nmodule = echo\nlisten = unix:%s\n" % path)
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10 * nd.SLOW)
    s.connect(path)
    data = os.urandom(1 << 20)
    check(stream_roundtrip(s, data) == data, "unix echo differs")


def test_data_with_fin():
    """Bytes that arrive together with the FIN are echoed too."""
    port = nd.free_port()
    nd.Daemon(nd.echo_config(port))
    s = nd.connect(port)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(b"last words")
    s.shutdown(socket.SHUT_WR)
    check(nd.recv_all(s) == b"last words", "data with FIN lost")


def test_udp_datagrams():
    p4 = nd.free_port(udp_too=True)
    p6 = nd.free_port(udp_too=True, host="::1")
    nd.Daemon("[echo]\nmodule = echo\nlisten = udp://127.0.0.1:%d, udp://[::1]:%d\n" % (p4, p6))
    for family, host, port in ((socket.AF_INET, "127.0.0.1", p4),
                               (socket.AF_INET6, "::1", p6)):
        u = socket.socket(family, socket.SOCK_DGRAM)
        u.settimeout(5 * nd.SLOW)
        u.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        for size in (0, 1, 1000, 65507):
            data = os.urandom(size)
            u.sendto(data, (host, port))
            back, _ = u.recvfrom(70000)
            check(back == data, "%s datagram of %d bytes came back as %d" % (host, size, len(back)))
        u.close()


def test_1000_concurrent_clients():
    port = nd.free_port()
    d = nd.Daemon(nd.echo_config(port))
    sel = selectors.DefaultSelector()
    clients = []
    for i in range(1000):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        c = {"s": s, "msg": b"client %04d " % i * 8, "want": b"", "got": b"", "sent": 0}
        clients.append(c)
        sel.register(s, selectors.EVENT_WRITE | selectors.EVENT_READ, c)
    rounds = 3
    for c in clients:
        c["want"] = c["msg"] * rounds
    end = time.monotonic() + 60 * nd.SLOW
    done = 0
    while done < len(clients):
        check(time.monotonic() < end, "only %d of 1000 clients done" % done)
        for key, ev in sel.select(1):
            c = key.data
            s = c["s"]
            if ev & selectors.EVENT_WRITE and c["sent"] < len(c["want"]):
                try:
                    c["sent"] += s.send(c["want"][c["sent"]:])
                except BlockingIOError:
                    pass
                if c["sent"] == len(c["want"]):
                    sel.modify(s, selectors.EVENT_READ, c)
            if ev & selectors.EVENT_READ:
                try:
                    d_ = s.recv(65536)
                except BlockingIOError:
                    continue
                check(d_, "EOF before all bytes came back")
                c["got"] += d_
                if len(c["got"]) >= len(c["want"]):
                    check(c["got"] == c["want"], "a client got someone else's bytes")
                    sel.unregister(s)
                    s.close()
                    done += 1
    check(d.proc.poll() is None, "daemon died")


def test_256mib_non_reader_bounded_memory():
    port = nd.free_port()
    d = nd.Daemon(nd.echo_config(port))
    total = 256 << 20
    block = os.urandom(1 << 20)
    s = nd.connect(port)
    s.settimeout(120 * nd.SLOW)
    h_out, h_in = hashlib.sha256(), hashlib.sha256()
    state = {"sent": 0, "err": None}

    def writer():
        try:
            while state["sent"] < total:
                s.sendall(block)
                h_out.update(block)
                state["sent"] += len(block)
            s.shutdown(socket.SHUT_WR)
        except Exception as e:
            state["err"] = e
    t = threading.Thread(target=writer)
    t.start()
    # Do not read "for a while": until the writer has stalled, which means
    # the daemon stopped reading us (backpressure) and every buffer is full.
    last = -1
    while True:
        time.sleep(0.5)
        if state["sent"] == last:
            break
        last = state["sent"]
    check(state["sent"] < total, "the writer never stalled: no backpressure?")
    peak = d.rss_kb()
    got = 0
    while True:
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        h_in.update(chunk)
        got += len(chunk)
        if got % (8 << 20) < len(chunk):
            peak = max(peak, d.rss_kb())
    t.join(30)
    check(state["err"] is None, "writer: %r" % state["err"])
    check(got == total, "got %d of %d bytes" % (got, total))
    check(h_in.digest() == h_out.digest(), "256 MiB came back different")
    check(peak < 64 * 1024, "daemon RSS peaked at %d KiB" % peak)


TESTS = [test_tutorial_client, test_nc_tcp_udp_unix, test_ipv6_4mib_half_close,
         test_unix_half_close, test_data_with_fin, test_udp_datagrams,
         test_1000_concurrent_clients, test_256mib_non_reader_bounded_memory]
