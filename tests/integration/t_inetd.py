"""The classic inetd services: discard (RFC 863), chargen (RFC 864),
daytime (RFC 867) and time (RFC 868), over TCP and UDP, with nc and with
Python sockets."""
import os
import socket
import subprocess
import tempfile
import time

import nd
from nd import check

SERVICES = ("discard",)


def start(extra=""):
    """One daemon serving each of SERVICES on a port of its own, TCP and UDP."""
    ports = {}
    for name in SERVICES:
        p = nd.free_port(udp_too=True)
        while p in ports.values():
            p = nd.free_port(udp_too=True)
        ports[name] = p
    conf = "[netdemo]\nlog_level = info\n"
    for name in SERVICES:
        conf += ("\n[%s]\nmodule = %s\nlisten = tcp://127.0.0.1:%d, udp://127.0.0.1:%d\n%s"
                 % (name, name, ports[name], ports[name], extra))
    return nd.Daemon(conf), ports


def nc(cmd, stdin=b""):
    """A shell pipeline around nc; its stdout."""
    r = subprocess.run(cmd, shell=True, input=stdin, capture_output=True,
                       timeout=15 * nd.SLOW)
    return r.stdout


def udp(port):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(5 * nd.SLOW)
    u.connect(("127.0.0.1", port))
    return u


# --- discard -------------------------------------------------------------

def test_discard_nc_tcp_udp():
    d, ports = start()
    p = ports["discard"]
    with tempfile.NamedTemporaryFile() as f:
        f.write(os.urandom(1 << 20))
        f.flush()
        # -N: half-close at the end of the file; nc then waits for the
        # daemon's close, which the daemon sends once it has read it all.
        t0 = time.monotonic()
        out = nc("nc -N 127.0.0.1 %d < %s" % (p, f.name))
        check(out == b"", "discard answered %d bytes over TCP" % len(out))
        check(time.monotonic() - t0 < 5 * nd.SLOW, "no close after the half-close")
        out = nc("nc -q1 127.0.0.1 %d < %s" % (p, f.name))
        check(out == b"", "discard answered %d bytes (nc -q1)" % len(out))
    out = nc("printf datagram | nc -u -w1 127.0.0.1 %d" % p)
    check(out == b"", "discard answered a datagram: %r" % out)
    check(d.proc.poll() is None, "daemon died")


def test_discard_udp_no_reply():
    d, ports = start()
    u = udp(ports["discard"])
    for size in (0, 1, 512, 65507):
        u.send(os.urandom(size))
    check(nd.nothing_within(u, 0.5 * nd.SLOW), "discard answered a datagram")
    # Still serving: an echo-free sink, and the TCP side too.
    s = nd.connect(ports["discard"])
    s.sendall(b"x" * 1000)
    s.shutdown(socket.SHUT_WR)
    check(nd.expect_eof(s, 5), "no EOF from discard")


def test_discard_1gib_bounded_memory():
    d, ports = start()
    total, block = 1 << 30, os.urandom(1 << 20)
    s = nd.connect(ports["discard"], timeout=60)
    base = d.rss_kb()
    peak = base
    t0 = time.monotonic()
    for i in range(total // len(block)):
        s.sendall(block)
        if i % 32 == 0:
            peak = max(peak, d.rss_kb())
    s.shutdown(socket.SHUT_WR)
    check(nd.expect_eof(s, 30), "no EOF after 1 GiB and a half-close")
    dt = time.monotonic() - t0
    peak = max(peak, d.rss_kb())
    print("    discard: 1 GiB in %.2f s (%.0f MiB/s); daemon RSS %d KiB before, "
          "peak %d KiB" % (dt, 1024 / dt, base, peak), flush=True)
    check(peak < 20 * 1024 * (3 if nd.SANITIZER else 1),
          "daemon RSS peaked at %d KiB" % peak)


TESTS = [test_discard_nc_tcp_udp, test_discard_udp_no_reply, test_discard_1gib_bounded_memory]
