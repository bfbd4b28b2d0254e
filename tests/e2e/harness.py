"""harness.py: the small library under netdemo's end-to-end tests.

A test starts the real daemon on free loopback ports from a configuration
it writes into a temporary directory, talks to it with ordinary clients,
and stops it by PID. Every wait polls a condition until a deadline; the
only fixed waits are negative ones ("no byte arrives within 0.5 s"), which
say so where they are used.

Deadlines are multiplied by SLOW, which run.py sets larger for the
sanitizer build. After each test run.py calls end_test(): it stops (by the
PID it started) every daemon still running, and fails the test if any
daemon's stderr holds a sanitizer report.
"""
import hashlib
import os
import random
import re
import resource
import selectors
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

BINARY = None           # absolute path of the netdemo under test (run.py)
SANITIZER = False       # the binary is the ASan/UBSan build
SLOW = 1.0              # deadline multiplier

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "runtime error:")

TESTS = []              # (module, name, function), filled by @test
_daemons = []           # every Daemon of the current test
_cli_runs = []          # (argv, stderr text) of the current test's CLI runs


class Failure(Exception):
    """A test's expectation was not met."""


def test(fn):
    """Registers a test function; its module names the theme."""
    module = fn.__module__
    if module.startswith("test_"):
        module = module[len("test_"):]
    TESTS.append((module, fn.__name__, fn))
    return fn


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def scaled(seconds):
    return seconds * SLOW


def wait_until(pred, timeout, what, interval=0.01):
    """Polls pred() until it returns something true, and returns that; fails
    naming `what` once timeout (scaled by SLOW) has passed."""
    end = time.monotonic() + scaled(timeout)
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= end:
            raise Failure("timed out after %.1fs waiting for %s" % (scaled(timeout), what))
        time.sleep(interval)


def raise_nofile():
    """Soft RLIMIT_NOFILE up to the hard limit: 1000 clients need fds."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def daemon_env():
    """The environment a daemon (or a CLI run) gets: nothing that would change
    how it logs or what it inherits, plus the sanitizer options."""
    env = dict(os.environ)
    for k in ("JOURNAL_STREAM", "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID",
              "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        env.pop(k, None)
    if SANITIZER:
        env["ASAN_OPTIONS"] = "detect_leaks=1:quarantine_size_mb=16:abort_on_error=0"
        env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    return env


def sanitizer_report(text):
    """The first sanitizer report line in text, or None."""
    for line in text.splitlines():
        if any(m in line for m in SANITIZER_MARKERS):
            return line.strip()
    return None


# ---- ports and addresses ----

def free_port(kind="tcp", host="127.0.0.1"):
    """A port that is free on host for kind ("tcp", "udp" or "both"): bind
    port 0, note the number, close."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(50):
        first = socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM
        s = socket.socket(family, first)
        try:
            s.bind((host, 0))
            port = s.getsockname()[1]
        finally:
            s.close()
        if kind != "both":
            return port
        u = socket.socket(family, socket.SOCK_DGRAM)
        try:
            u.bind((host, port))
            return port
        except OSError:
            continue
        finally:
            u.close()
    raise Failure("no free %s port on %s" % (kind, host))


def free_ports(n, kind="tcp", host="127.0.0.1"):
    """n distinct free ports."""
    ports = []
    while len(ports) < n:
        p = free_port(kind, host)
        if p not in ports:
            ports.append(p)
    return ports


def tcp(port, host="127.0.0.1"):
    return "tcp://[%s]:%d" % (host, port) if ":" in host else "tcp://%s:%d" % (host, port)


def udp(port, host="127.0.0.1"):
    return "udp://[%s]:%d" % (host, port) if ":" in host else "udp://%s:%d" % (host, port)


def parse_addr(text):
    """("tcp"|"udp", (host, port)) or ("unix", path) from a listen item."""
    text = text.strip()
    m = re.match(r"^(tcp|udp)://(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):(\d+)$", text)
    if m:
        return m.group(1), (m.group(2) or m.group(3), int(m.group(4)))
    if text.startswith("unix:@"):
        return "unix", "\0" + text[len("unix:@"):]
    if text.startswith("unix:"):
        return "unix", text[len("unix:"):]
    raise ValueError("cannot parse listen address %r" % text)


def listen_addrs(config_text):
    """Every listener address in a configuration text."""
    out = []
    for line in config_text.splitlines():
        m = re.match(r"^\s*listen\s*=\s*(.*?)\s*$", line)
        if m:
            out += [parse_addr(a) for a in m.group(1).split(",") if a.strip()]
    return out


def config(services, **globals_):
    """An INI text: [netdemo] with the given keys, then one section per
    service. services: {name: {"listen": [addr, ...], key: value, ...}};
    module defaults to echo."""
    lines = []
    if globals_:
        lines.append("[netdemo]")
        lines += ["%s = %s" % (k, v) for k, v in globals_.items()]
        lines.append("")
    for name, keys in services.items():
        keys = dict(keys)
        lines.append("[%s]" % name)
        lines.append("module = %s" % keys.pop("module", "echo"))
        listen = keys.pop("listen")
        if not isinstance(listen, str):
            listen = ", ".join(listen)
        lines.append("listen = %s" % listen)
        lines += ["%s = %s" % (k, v) for k, v in keys.items()]
        lines.append("")
    return "\n".join(lines)


# ---- clients ----

def connect(addr, timeout=5.0):
    """A connected blocking stream socket to a tcp address (host, port) or a
    unix path, with a (scaled) timeout on every operation."""
    if isinstance(addr, str):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    else:
        family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(scaled(timeout))
    try:
        s.connect(addr)
    except BaseException:
        s.close()
        raise
    return s


def refuses(addr):
    """True if a connection to addr is refused (nobody listening)."""
    try:
        s = connect(addr, timeout=2)
    except (ConnectionRefusedError, FileNotFoundError):
        return True
    s.close()
    return False


def recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        try:
            d = s.recv(min(n - len(buf), 1 << 20))
        except socket.timeout:
            raise Failure("timed out after %d of %d bytes" % (len(buf), n))
        except ConnectionResetError:
            raise Failure("connection reset after %d of %d bytes" % (len(buf), n))
        if not d:
            raise Failure("EOF after %d of %d bytes" % (len(buf), n))
        buf += d
    return bytes(buf)


def recv_until_eof(s):
    buf = bytearray()
    while True:
        try:
            d = s.recv(1 << 20)
        except socket.timeout:
            raise Failure("timed out waiting for EOF after %d bytes" % len(buf))
        except ConnectionResetError:
            raise Failure("connection reset after %d bytes, before EOF" % len(buf))
        if not d:
            return bytes(buf)
        buf += d


def tcp_queues(local, remote):
    """(tx_queue, rx_queue) of the IPv4 TCP socket local -> remote, both
    (host, port), from /proc/net/tcp: bytes sent and not yet acknowledged,
    and bytes received that its owner has not read yet."""
    def hexaddr(a):
        ip = socket.inet_aton(a[0])
        return "%08X:%04X" % (int.from_bytes(ip, "little"), a[1])
    want = (hexaddr(local), hexaddr(remote))
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if (fields[1], fields[2]) == want:
                tx, rx = fields[4].split(":")
                return int(tx, 16), int(rx, 16)
    raise Failure("no socket %s -> %s in /proc/net/tcp" % (local, remote))


def echo_ok(s, payload=b"ping"):
    """Sends payload on an open connection and checks that it comes back."""
    try:
        s.sendall(payload)
        got = recv_exact(s, len(payload))
    except Failure as e:
        raise Failure("echo of %r: %s" % (payload[:40], e))
    except OSError as e:
        raise Failure("echo of %r: %s" % (payload[:40], e))
    check(got == payload, "echo returned %r for %r" % (got[:64], payload[:64]))


def nothing_within(s, seconds):
    """A deliberate negative wait: True if no byte (and no EOF) arrives on s
    within seconds. Not scaled: the wait is the assertion."""
    old = s.gettimeout()
    s.settimeout(seconds)
    try:
        s.recv(1, socket.MSG_PEEK)
        return False
    except socket.timeout:
        return True
    finally:
        s.settimeout(old)


def udp_roundtrip(addr, payload, tries=3, timeout=2.0):
    """Sends payload from a fresh UDP socket; returns (reply, sender). UDP
    may lose a datagram, so it is sent up to `tries` times."""
    family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
    u = socket.socket(family, socket.SOCK_DGRAM)
    try:
        u.settimeout(scaled(timeout))
        for _ in range(tries):
            u.sendto(payload, addr)
            try:
                return u.recvfrom(65536)
            except socket.timeout:
                continue
        raise Failure("no UDP reply to %d bytes from %s after %d tries"
                      % (len(payload), addr, tries))
    finally:
        u.close()


def pattern(seed, n):
    """n pseudo-random bytes, the same for the same seed."""
    return random.Random(seed).randbytes(n)


def sha(data):
    return hashlib.sha256(data).hexdigest()


class Sender(threading.Thread):
    """Sends data on s from a thread (so the caller can read at the same
    time), then optionally half-closes. Errors are kept for the caller."""

    def __init__(self, s, data, shut=True):
        super().__init__(daemon=True)
        self.s, self.data, self.shut = s, data, shut
        self.error = None

    def run(self):
        try:
            self.s.sendall(self.data)
            if self.shut:
                self.s.shutdown(socket.SHUT_WR)
        except Exception as e:  # reported by finish()
            self.error = e

    def finish(self, timeout=30):
        self.join(scaled(timeout))
        check(not self.is_alive(), "sender still blocked after %.0fs" % scaled(timeout))
        if self.error is not None:
            raise Failure("sender failed: %r" % (self.error,))


def fill_unread(s, limit, stall=0.3, seed=1):
    """Sends pattern bytes on s without reading until the kernel refuses more
    for `stall` seconds (the peer stopped reading) or limit bytes are out.
    Returns the bytes sent. s is left blocking with its old timeout."""
    data = pattern(seed, limit)
    sent = 0
    old = s.gettimeout()
    s.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(s, selectors.EVENT_WRITE)
    try:
        while sent < limit:
            if not sel.select(stall):
                break
            try:
                sent += s.send(data[sent:sent + 65536])
            except BlockingIOError:
                continue
    finally:
        sel.close()
        s.settimeout(old)
    return data[:sent]


# ---- the daemon ----

class Daemon:
    """One netdemo process with its own temporary directory, configuration
    file and stderr log. Create it, put paths under d.path(...), write the
    configuration, start it."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="nd-e2e-")
        self.conf = os.path.join(self.dir, "netdemo.ini")
        self.logpath = os.path.join(self.dir, "stderr.log")
        self.proc = None
        self.pid = None
        self.rc = None
        self.config_text = ""
        self._log_file = None
        _daemons.append(self)

    def path(self, name):
        return os.path.join(self.dir, name)

    def write_config(self, text):
        """Replaces the configuration atomically (a reload never sees half)."""
        tmp = self.conf + ".new"
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, self.conf)
        self.config_text = text

    def start(self, args=(), ready=True, timeout=10, nofile=None):
        """Starts netdemo -c CONF ARGS..., and unless ready=False waits until
        it serves every listener of the configuration. nofile: an open-file
        limit (soft and hard) for the daemon."""
        argv = [BINARY, "-c", self.conf] + list(args)
        preexec = None
        if nofile is not None:
            def preexec():
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        self._log_file = open(self.logpath, "ab")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=self._log_file, stderr=self._log_file,
                                     env=daemon_env(), start_new_session=True,
                                     preexec_fn=preexec)
        self.pid = self.proc.pid
        if ready:
            self.wait_ready(timeout=timeout)
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def _exited(self, what):
        return Failure("netdemo exited with %s while %s; log:\n%s"
                       % (self.proc.returncode, what, self.log_tail()))

    def wait_ready(self, addrs=None, timeout=10):
        """Polls the listeners until each answers: a connect for TCP and unix
        ones, a datagram that must come back (echo) for UDP ones. A TCP port
        accepts as soon as it listens, possibly before the listeners after it
        are open, so every one is probed, UDP too, even though a config with
        a stream listener would need no UDP probe."""
        if addrs is None:
            addrs = listen_addrs(self.config_text)
        pending = list(addrs)
        end = time.monotonic() + scaled(timeout)
        while pending:
            if not self.running():
                raise self._exited("starting")
            for kind, a in list(pending):
                if self._probe(a, udp=kind == "udp"):
                    pending.remove((kind, a))
            if pending:
                if time.monotonic() >= end:
                    raise Failure("netdemo not ready after %.1fs (%s not answering); log:\n%s"
                                  % (scaled(timeout), [a for _, a in pending],
                                     self.log_tail()))
                time.sleep(0.01)

    @staticmethod
    def _probe(addr, udp):
        if udp:
            family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
            u = socket.socket(family, socket.SOCK_DGRAM)
            u.settimeout(0.1)
            try:
                u.sendto(b"ready?", addr)
                return u.recvfrom(64)[0] == b"ready?"
            except OSError:
                return False
            finally:
                u.close()
        try:
            s = connect(addr, timeout=0.5)
        except OSError:
            return False
        s.close()
        return True

    # logs

    def log(self):
        try:
            with open(self.logpath, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_mark(self):
        """An offset: wait_log(..., since=mark) looks only at later lines."""
        return len(self.log())

    def log_tail(self, n=25):
        return "\n".join("    " + l for l in self.log().splitlines()[-n:])

    def wait_log(self, regex, timeout=10, since=0):
        """Polls the log for a line matching regex (after offset since) and
        returns the match."""
        rx = re.compile(regex, re.M)
        end = time.monotonic() + scaled(timeout)
        while True:
            m = rx.search(self.log()[since:])
            if m:
                return m
            if self.proc is not None and self.proc.poll() is not None:
                m = rx.search(self.log()[since:])
                if m:
                    return m
                raise self._exited("waiting for log line %r" % regex)
            if time.monotonic() >= end:
                raise Failure("no log line matching %r after %.1fs; log:\n%s"
                              % (regex, scaled(timeout), self.log_tail()))
            time.sleep(0.01)

    # signals and exit

    def signal(self, sig):
        """Sends sig to the PID we started (never by name)."""
        check(self.running(), "netdemo is not running (exit %s)"
              % (self.proc.returncode if self.proc else None))
        os.kill(self.pid, sig)

    def wait_exit(self, timeout):
        """The exit status within timeout (scaled), or a Failure."""
        try:
            self.rc = self.proc.wait(scaled(timeout))
        except subprocess.TimeoutExpired:
            raise Failure("netdemo still running %.1fs later; log:\n%s"
                          % (scaled(timeout), self.log_tail()))
        return self.rc

    def stop(self, sig=None, timeout=10):
        """Sends sig (default SIGTERM) to our PID and returns the exit code."""
        self.signal(signal.SIGTERM if sig is None else sig)
        return self.wait_exit(timeout)

    def pause(self):
        """SIGSTOP: the daemon stops where it is (idle: in epoll_wait), so that
        what happens next reaches it as one batch of events on SIGCONT."""
        self.signal(signal.SIGSTOP)

        def stopped():
            with open("/proc/%d/stat" % self.pid) as f:
                return f.read().rsplit(")", 1)[1].split()[0] in ("T", "t")
        wait_until(stopped, 5, "netdemo to stop on SIGSTOP")

    def resume(self):
        os.kill(self.pid, signal.SIGCONT)

    # /proc

    def rss_kib(self):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise Failure("no VmRSS for pid %d" % self.pid)

    def fd_count(self):
        return len(os.listdir("/proc/%d/fd" % self.pid))

    def cpu_seconds(self):
        """User plus system CPU time used so far, from /proc/PID/stat."""
        with open("/proc/%d/stat" % self.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    # cleanup

    def _kill(self):
        """Stops a daemon a test left running: SIGTERM (so LeakSanitizer can
        report), then SIGKILL by PID if it does not go."""
        if not self.running():
            return
        try:
            os.kill(self.pid, signal.SIGTERM)
            self.proc.wait(scaled(5))
        except (subprocess.TimeoutExpired, ProcessLookupError):
            pass
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
            self.proc.wait()

    def _close(self):
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


class RssSampler(threading.Thread):
    """Samples a daemon's VmRSS every `every` seconds until stopped."""

    def __init__(self, daemon, every=0.02):
        super().__init__(daemon=True)
        self.d, self.every = daemon, every
        self.max_kib = 0
        self.samples = 0
        self._stop_ev = threading.Event()

    def run(self):
        while not self._stop_ev.is_set():
            try:
                self.max_kib = max(self.max_kib, self.d.rss_kib())
                self.samples += 1
            except (OSError, Failure):
                return
            self._stop_ev.wait(self.every)

    def stop(self):
        self._stop_ev.set()
        self.join()
        return self.max_kib


# ---- command-line runs ----

def run_cli(args, timeout=10, input=None):
    """Runs netdemo ARGS... to completion: (exit code, stdout, stderr). The
    stderr is checked for sanitizer reports at the end of the test."""
    argv = [BINARY] + list(args)
    try:
        p = subprocess.run(argv, input=input, capture_output=True, env=daemon_env(),
                           timeout=scaled(timeout))
    except subprocess.TimeoutExpired:
        raise Failure("%s did not finish within %.0fs" % (" ".join(argv), scaled(timeout)))
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    _cli_runs.append((argv, err))
    return p.returncode, out, err


def run_tool(cmd, timeout=10, input=None):
    """Runs a client command line (nc, ...) through sh: (rc, stdout bytes)."""
    try:
        p = subprocess.run(["sh", "-c", cmd], input=input, capture_output=True,
                           timeout=scaled(timeout))
    except subprocess.TimeoutExpired:
        raise Failure("%r did not finish within %.0fs" % (cmd, scaled(timeout)))
    return p.returncode, p.stdout, p.stderr


def need_tool(name):
    check(shutil.which(name) is not None,
          "%s is not installed (sh tests/deps.sh installs it)" % name)


# ---- between tests ----

def end_test(passed):
    """Called by run.py after each test. Stops every daemon still running,
    then looks for sanitizer reports in every daemon's stderr and in every
    CLI run's. Returns (problem or None, directory kept for a look or None).
    Directories of passing tests are removed."""
    problem = None
    kept = None
    for d in _daemons:
        try:
            d._kill()
        finally:
            d._close()
    for d in _daemons:
        r = sanitizer_report(d.log())
        if r and problem is None:
            problem = "sanitizer report in %s: %s" % (d.logpath, r)
    for argv, err in _cli_runs:
        r = sanitizer_report(err)
        if r and problem is None:
            problem = "sanitizer report from %s: %s" % (" ".join(argv), r)
    for d in _daemons:
        if passed and problem is None:
            shutil.rmtree(d.dir, ignore_errors=True)
        elif kept is None:
            kept = d.dir
    del _daemons[:]
    del _cli_runs[:]
    return problem, kept


def kill_all():
    """Last resort (atexit, ^C): no daemon we started outlives the run."""
    for d in _daemons:
        try:
            if d.running():
                os.kill(d.pid, signal.SIGKILL)
                d.proc.wait()
        except OSError:
            pass
