"""The classic inetd services: discard (RFC 863), chargen (RFC 864),
daytime (RFC 867) and time (RFC 868), over TCP and UDP, with nc and with
Python sockets."""
import fcntl
import os
import re
import socket
import struct
import subprocess
import tempfile
import termios
import time

import nd
from nd import check

SERVICES = ("discard", "chargen", "daytime", "time")


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


# --- chargen -------------------------------------------------------------

CHARS = bytes(range(0x20, 0x7f))        # the 95 printable characters
LINE = 74                               # 72 characters and CRLF
PERIOD = 95 * LINE                      # bytes after which the lines repeat


def chargen_line(k):
    """RFC 864: line k starts at character k mod 95."""
    s = k % 95
    return (CHARS + CHARS)[s:s + 72] + b"\r\n"


PATTERN = b"".join(chargen_line(k) for k in range(95))
PATTERN3 = PATTERN * 3


def stream_at(pos, n):
    """n bytes of the TCP stream from byte pos on."""
    out = bytearray()
    while len(out) < n:
        o = (pos + len(out)) % PERIOD
        out += PATTERN3[o:o + min(n - len(out), 2 * PERIOD)]
    return bytes(out)


def from_some_line(data):
    """True if data is the pattern from the start of some line on."""
    return any(data == PATTERN3[k * LINE:k * LINE + len(data)] for k in range(95))


def test_chargen_lines_exact():
    d, ports = start()
    fds0 = d.fds()
    s = nd.connect(ports["chargen"])
    n = 1000
    got = nd.recv_exact(s, n * LINE)
    for k in range(n):
        line = got[k * LINE:(k + 1) * LINE]
        check(line == chargen_line(k), "line %d is %r, not %r" % (k, line, chargen_line(k)))
    # Input is ignored, and a half-close does not stop it (as inetd).
    s.sendall(b"ignored\r\n" * 100)
    s.shutdown(socket.SHUT_WR)
    more = nd.recv_exact(s, 3 * PERIOD)
    check(more == stream_at(n * LINE, len(more)), "lines out of order after input")
    s.close()
    nd.wait_until(lambda: d.fds() <= fds0, 5, "the chargen connection to close")


def test_chargen_nc_tcp_udp():
    d, ports = start()
    p = ports["chargen"]
    out = nc("nc -d 127.0.0.1 %d | head -c %d" % (p, 2 * PERIOD + 100))
    check(out == stream_at(0, 2 * PERIOD + 100), "nc got %r..." % out[:80])
    out = nc("printf x | nc -u -w1 127.0.0.1 %d" % p)
    check(0 < len(out) <= 512, "nc -u got %d bytes" % len(out))
    check(from_some_line(out), "nc -u got %r" % out[:80])


def test_chargen_stopped_reader_bounded_memory():
    d, ports = start()
    fds0 = d.fds()
    rss0 = d.rss_kb()
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    s.settimeout(10 * nd.SLOW)
    s.connect(("127.0.0.1", ports["chargen"]))
    pos = 0
    first = nd.recv_exact(s, 10 * PERIOD)
    check(first == stream_at(0, len(first)), "first lines wrong")
    pos += len(first)

    # Stop reading until the bytes waiting for us stop growing: the kernel's
    # buffers on both sides are full and the daemon holds the rest.
    def unread():
        return struct.unpack("i", fcntl.ioctl(s.fileno(), termios.FIONREAD, b"\0\0\0\0"))[0]
    last = -1
    while True:
        time.sleep(0.2)
        n = unread()
        if n == last:
            break
        last = n
    samples = []
    for _ in range(10):
        samples.append(d.rss_kb())
        time.sleep(0.1)
    grew, over = max(samples) - samples[0], max(samples) - rss0
    print("    chargen stopped reader: RSS %d KiB before connecting, %d..%d KiB over "
          "1 s stalled (%d KiB unread in our socket)"
          % (rss0, min(samples), max(samples), last // 1024), flush=True)
    check(grew < 64, "RSS grew by %d KiB while the reader was stopped" % grew)
    check(over < 64 + (4096 if nd.SANITIZER else 512),
          "RSS %d KiB above the start with one stopped reader" % over)

    # Resume: the lines go on in order, and a lot more of them.
    s.settimeout(10 * nd.SLOW)
    want = 4 << 20
    while want > 0:
        chunk = s.recv(min(want, 1 << 16))
        check(chunk, "EOF while reading chargen")
        check(chunk == stream_at(pos, len(chunk)),
              "byte %d: lines out of order after the pause" % pos)
        pos += len(chunk)
        want -= len(chunk)
    s.close()
    nd.wait_until(lambda: d.fds() <= fds0, 5, "the chargen connection to close")


def test_chargen_udp():
    d, ports = start()
    u = udp(ports["chargen"])
    lengths = set()
    for i in range(513):
        u.send(b"any %d" % i)
        data = u.recv(2048)
        check(len(data) <= 512, "a reply of %d bytes" % len(data))
        check(from_some_line(data), "reply %d is not the pattern: %r" % (i, data[:80]))
        lengths.add(len(data))
    check(len(lengths) == 513, "only %d distinct lengths in 513 replies" % len(lengths))


# --- daytime -------------------------------------------------------------

DAYTIME = re.compile(rb"^(\d\d \w{3} \d{4} \d\d:\d\d:\d\d) (\S+)\r\n$")


def check_daytime(line, what):
    """xinetd's format, in the daemon's (and our) local time zone, within a
    few seconds of our own clock."""
    m = DAYTIME.match(line)
    check(m, "%s: %r is not a daytime line" % (what, line))
    tm = time.strptime(m.group(1).decode(), "%d %b %Y %H:%M:%S")
    then = time.mktime(tm[:8] + (-1,))
    check(abs(then - time.time()) < 5, "%s: %r is %.0f s off our clock"
          % (what, line, then - time.time()))
    zone = m.group(2).decode()
    check(zone in time.tzname or zone == time.strftime("%Z"),
          "%s: zone %s, ours %s" % (what, zone, time.tzname))


def test_daytime_tcp_udp():
    d, ports = start()
    p = ports["daytime"]
    s = nd.connect(p)
    t0 = time.monotonic()
    check_daytime(nd.recv_all(s), "tcp")
    check(time.monotonic() - t0 < 2 * nd.SLOW, "no prompt EOF")
    # A client that talks first still gets its line whole, and EOF.
    s = nd.connect(p)
    s.sendall(b"what time is it?\r\n" * 1000)
    check_daytime(nd.recv_all(s), "tcp after input")
    u = udp(p)
    for i in range(3):
        u.send(b"?" * i)
        check_daytime(u.recv(2048), "udp")


def test_daytime_nc():
    d, ports = start()
    p = ports["daytime"]
    check_daytime(nc("nc -q1 127.0.0.1 %d < /dev/null" % p), "nc")
    check_daytime(nc("printf x | nc -u -w1 127.0.0.1 %d" % p), "nc -u")


# --- time ----------------------------------------------------------------

EPOCH_1900 = 2208988800


def check_time(data, what):
    """Four bytes, big-endian seconds since 1900 modulo 2^32, close to ours."""
    check(len(data) == 4, "%s: %d bytes, not 4: %r" % (what, len(data), data))
    got = struct.unpack(">I", data)[0]
    want = (int(time.time()) + EPOCH_1900) % (1 << 32)
    off = (got - want + (1 << 31)) % (1 << 32) - (1 << 31)
    check(abs(off) <= 2, "%s: %d is %d s off %d" % (what, got, off, want))


def test_time_tcp_udp():
    d, ports = start()
    p = ports["time"]
    s = nd.connect(p)
    t0 = time.monotonic()
    check_time(nd.recv_all(s), "tcp")
    check(time.monotonic() - t0 < 2 * nd.SLOW, "no prompt EOF")
    s = nd.connect(p)
    s.sendall(b"\0" * 100000)
    check_time(nd.recv_all(s), "tcp after input")
    u = udp(p)
    for i in range(3):
        u.send(b"" if i == 0 else b"t" * i)
        check_time(u.recv(2048), "udp")


def test_time_nc():
    d, ports = start()
    p = ports["time"]
    check_time(nc("nc -q1 127.0.0.1 %d < /dev/null" % p), "nc")
    check_time(nc("printf x | nc -u -w1 127.0.0.1 %d" % p), "nc -u")


TESTS = [test_discard_nc_tcp_udp, test_discard_udp_no_reply, test_discard_1gib_bounded_memory,
         test_chargen_lines_exact, test_chargen_nc_tcp_udp,
         test_chargen_stopped_reader_bounded_memory, test_chargen_udp,
         test_daytime_tcp_udp, test_daytime_nc,
         test_time_tcp_udp, test_time_nc]
