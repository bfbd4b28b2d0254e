"""nd.py: the harness for netdemo's integration tests.

Starts the real daemon on free loopback ports from a configuration it
writes, waits until the daemon says every listener is open (its
"running" line, printed only after that) and the first TCP port accepts,
and stops it by PID. Nothing here sleeps a fixed time where a readiness
check belongs: waits poll a condition until a deadline.
"""
import argparse
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
import time
import traceback

BINARY = None           # set by run.py
SANITIZER = False       # the binary is the ASan/UBSan build
SLOW = 1.0              # deadline multiplier (larger for the sanitizer build)
_live = []              # daemons started and not yet reaped
_cli_stderr = []        # stderr of this test's run_cli() calls
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def wait_until(cond, timeout, what, step=0.01):
    """Polls cond() until it is true; fails with `what` at the deadline."""
    end = time.monotonic() + timeout * SLOW
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > end:
            raise Failure("timed out waiting for " + what)
        time.sleep(step)


def free_port(udp_too=False, host="127.0.0.1"):
    """A port free for TCP (and UDP if asked) on host."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(100):
        s = socket.socket(family, socket.SOCK_STREAM)
        s.bind((host, 0))
        port = s.getsockname()[1]
        s.close()
        if not udp_too:
            return port
        u = socket.socket(family, socket.SOCK_DGRAM)
        try:
            u.bind((host, port))
            return port
        except OSError:
            continue
        finally:
            u.close()
    raise Failure("no free port")


def connect(port, host="127.0.0.1", timeout=10):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout * SLOW)
    s.connect((host, port))
    return s


def recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        d = s.recv(n - len(buf))
        if not d:
            raise Failure("EOF after %d of %d bytes" % (len(buf), n))
        buf += d
    return bytes(buf)


def haproxy_states(sock, backend, servers):
    """{server: 'UP', 'DOWN', ...} of a haproxy backend's servers for which
    servers(name) is true, from its admin socket at path sock ({} while it
    does not answer)."""
    try:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(2)
        s.connect(sock)
        s.sendall(b"show stat\n")
        out = recv_all(s).decode()
        s.close()
    except OSError:
        return {}
    res = {}
    for line in out.splitlines():
        f = line.split(",")
        if len(f) > 17 and f[0] == backend and servers(f[1]):
            res[f[1]] = f[17].split()[0]
    return res


def recv_all(s):
    """Everything until EOF."""
    buf = bytearray()
    while True:
        d = s.recv(65536)
        if not d:
            return bytes(buf)
        buf += d


def expect_eof(s, timeout):
    """True if the peer closes within timeout (data before EOF is dropped)."""
    s.settimeout(timeout * SLOW)
    try:
        while s.recv(65536):
            pass
        return True
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True


def nothing_within(s, seconds):
    """True if no byte arrives within seconds: a legitimate negative wait."""
    s.settimeout(seconds)
    try:
        s.recv(1)
        return False
    except socket.timeout:
        return True


def daemon_env(env=None):
    """The environment of a daemon or a command-line run: nothing that would
    change how it logs, plus the sanitizer options, plus env."""
    e = dict(os.environ)
    e.pop("JOURNAL_STREAM", None)
    e.pop("NOTIFY_SOCKET", None)
    if SANITIZER:
        # Options already in the environment come last, so they win.
        e["ASAN_OPTIONS"] = ":".join(o for o in (
            "detect_leaks=1:quarantine_size_mb=16:abort_on_error=0",
            os.environ.get("ASAN_OPTIONS")) if o)
        e["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    if env:
        e.update(env)
    return e


def run_cli(args, timeout=10):
    """Runs netdemo ARGS... to completion: (exit code, stdout, stderr). A
    sanitizer report in its stderr fails the test (reap_all)."""
    argv = [BINARY] + list(args)
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                           env=daemon_env(), timeout=timeout * SLOW)
    except subprocess.TimeoutExpired:
        raise Failure("%s did not finish within %.0fs" % (" ".join(argv), timeout * SLOW))
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    _cli_stderr.append(err)
    return p.returncode, out, err


def refuses(port, host="127.0.0.1"):
    """True if nobody listens on port (or on the unix socket path `port`)."""
    if isinstance(port, str):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(2 * SLOW)
        try:
            s.connect(port)
        except (ConnectionRefusedError, FileNotFoundError):
            return True
        finally:
            s.close()
        return False
    try:
        connect(port, host, timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def echo_ok(s, payload=b"ping"):
    """Sends payload on an open connection; it must come back."""
    try:
        s.sendall(payload)
        got = recv_exact(s, len(payload))
    except OSError as e:
        raise Failure("echo of %r: %s" % (payload[:40], e))
    check(got == payload, "echo returned %r for %r" % (got[:64], payload[:64]))


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


def fill_unread(s, limit, stall=0.3, seed=1):
    """Sends pseudo-random bytes on s without reading until the kernel
    refuses more for `stall` seconds (the peer stopped reading) or limit
    bytes are out. Returns the bytes sent; s keeps its old timeout."""
    data = random.Random(seed).randbytes(limit)
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


class Daemon:
    """One netdemo process with its own directory, config and log."""

    def __init__(self, config, args=(), env=None, wait=True, prefix=None,
                 journal_stdout=False, stdout=None):
        """journal_stdout: JOURNAL_STREAM names its stdout, as under systemd.
        stdout: a descriptor for it instead of the file out() reads."""
        self.dir = tempfile.mkdtemp(prefix="nd-it-")
        self.conf = os.path.join(self.dir, "netdemo.ini")
        self.logpath = os.path.join(self.dir, "stderr.log")
        self.outpath = os.path.join(self.dir, "stdout.log")
        self.write_config(config)
        e = daemon_env(env)
        argv = list(prefix or []) + [BINARY, "-c", self.conf] + list(args)
        self.log_file = open(self.logpath, "wb")
        self.out_file = open(self.outpath, "wb")
        if journal_stdout:
            st = os.fstat(self.out_file.fileno())
            e["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino)
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=self.out_file if stdout is None else stdout,
                                     stderr=self.log_file, env=e)
        self.pid = self.proc.pid
        _live.append(self)
        if wait:
            self.wait_ready()

    def write_config(self, text):
        with open(self.conf + ".tmp", "w") as f:
            f.write(text)
        os.rename(self.conf + ".tmp", self.conf)

    def log(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def out(self):
        """What it wrote to stdout (the access log)."""
        with open(self.outpath, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_log(self, pattern, timeout=10, after=0):
        """Waits for a log line matching pattern after offset `after`."""
        rx = re.compile(pattern, re.M)

        def seen():
            if self.proc.poll() is not None and not rx.search(self.log()[after:]):
                raise Failure("daemon exited (%s) before logging %r:\n%s"
                              % (self.proc.returncode, pattern, self.log()))
            return rx.search(self.log()[after:])
        return wait_until(seen, timeout, "log line %r" % pattern)

    def wait_ready(self, timeout=10):
        self.wait_log(r"running \(pid %d" % self.pid, timeout)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def pause(self):
        """SIGSTOP, and waits until it took: what happens next reaches the
        daemon as one batch of events on resume()."""
        self.proc.send_signal(signal.SIGSTOP)

        def stopped():
            with open("/proc/%d/stat" % self.pid) as f:
                return f.read().rsplit(")", 1)[1].split()[0] in ("T", "t")
        wait_until(stopped, 5, "the daemon to stop on SIGSTOP")

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def reload(self, text=None, ok=True, timeout=10):
        """Rewrites the config (if given), sends SIGHUP, waits for the verdict."""
        mark = len(self.log())
        if text is not None:
            self.write_config(text)
        self.signal(signal.SIGHUP)
        self.wait_log(r"reloaded |reload failed", timeout, after=mark)
        verdict = "reloaded " in self.log()[mark:]
        check(verdict == ok, "reload %s, expected %s:\n%s"
              % ("succeeded" if verdict else "failed", "success" if ok else "failure",
                 self.log()[mark:]))
        return self.log()[mark:]

    def wait_exit(self, timeout):
        """The exit code once the daemon exits on its own; no signal sent."""
        try:
            return self.proc.wait(timeout * SLOW)
        except subprocess.TimeoutExpired:
            raise Failure("daemon still running %.0fs later:\n%s" % (timeout * SLOW, self.log()[-3000:]))

    def stop(self, timeout=20):
        """SIGTERM and the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout * SLOW)
        except subprocess.TimeoutExpired:
            raise Failure("daemon did not exit within %ss of SIGTERM" % timeout)

    def rss_kb(self):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def fds(self):
        return len(os.listdir("/proc/%d/fd" % self.pid))

    def cpu_ticks(self):
        with open("/proc/%d/stat" % self.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])

    def sanitizer_report(self):
        log = self.log()
        if any(m in log for m in SANITIZER_MARKERS):
            return log
        return None

    def cleanup(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log_file.close()
        self.out_file.close()
        if self in _live:
            _live.remove(self)
        shutil.rmtree(self.dir, ignore_errors=True)


def terminate(proc, timeout=10):
    """Ends a helper process the test started (Chromium, haproxy): SIGTERM,
    then SIGKILL if it has not gone within timeout seconds."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def reap_all():
    """After each test: kill what is still running (by PID), report
    sanitizer findings (daemons' and run_cli()'s), remove the directories."""
    reports = []
    for d in list(_live):
        r = d.sanitizer_report()
        if r:
            reports.append(r)
        d.cleanup()
    for err in _cli_stderr:
        if any(m in err for m in SANITIZER_MARKERS):
            reports.append(err)
    del _cli_stderr[:]
    return reports


def echo_config(port, extra="", host="127.0.0.1", glob=""):
    return ("[netdemo]\nlog_level = info\n%s\n[echo]\nmodule = echo\n"
            "listen = tcp://%s:%d\n%s" % (glob, host, port, extra))


def echo_and_http_config(echo, http, max_connections):
    """Echo on TCP and UDP, http on TCP, all on 127.0.0.1: the daemon the
    fault tests and the soak start."""
    return ("[netdemo]\nlog_level = notice\nmax_connections = %d\n\n"
            "[echo]\nmodule = echo\nlisten = tcp://127.0.0.1:%d, udp://127.0.0.1:%d\n\n"
            "[web]\nmodule = http\nlisten = tcp://127.0.0.1:%d\n"
            % (max_connections, echo, echo, http))


def setup(description):
    """The command line every runner takes: --binary PATH [-k NAME]..."""
    global BINARY, SANITIZER, SLOW
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--binary", required=True)
    ap.add_argument("-k", dest="only", action="append", default=[])
    opts = ap.parse_args()
    BINARY = os.path.abspath(opts.binary)
    SANITIZER = "asan" in BINARY
    SLOW = 3.0 if SANITIZER else 1.0
    raise_nofile()
    return opts


def run_tests(label, tests, only):
    """Runs (name, function) pairs, one PASS/FAIL line each, then
    "LABEL: N passed, M failed". A test fails on an exception or on a
    sanitizer report from a daemon it started. Returns the exit status."""
    passed = failed = 0
    for name, fn in tests:
        if only and not any(k in name for k in only):
            continue
        t0 = time.monotonic()
        err = None
        try:
            fn()
        except Failure as e:
            err = str(e)
        except Exception:
            err = traceback.format_exc()
        reports = reap_all()
        if reports and err is None:
            err = "sanitizer report:\n" + reports[0][-3000:]
        dt = time.monotonic() - t0
        if err is None:
            passed += 1
            print("PASS %s (%.1fs)" % (name, dt), flush=True)
        else:
            failed += 1
            print("FAIL %s (%.1fs): %s" % (name, dt, err), flush=True)
    print("%s: %d passed, %d failed" % (label, passed, failed))
    return 1 if failed else 0
