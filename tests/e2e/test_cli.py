"""test_cli.py: the command line: --check/-t, exit codes, -V, -h, -s, and
a start that cannot bind."""
import re
import socket

import harness as h
from harness import check, test

EX_USAGE = 64
EX_CONFIG = 78


def good_config(d):
    a, b = h.free_ports(2)
    return h.config({
        "echo": {"listen": [h.tcp(a), h.udp(a), "unix:" + d.path("echo.sock")],
                 "idle_timeout": "30s", "buffer_size": "128k"},
        "other": {"listen": [h.tcp(b)], "max_connections": 10},
    }, log_level="notice", max_connections=100, shutdown_timeout="2s")


# Each error is on a known line; all of them must be reported, in one pass
# (in any order).
BAD_CONFIG = """\
[netdemo]
log_level = loud
shutdown_timeout = 10x

[echo]
module = echo
listen = tcp://127.0.0.1:%d, bogus://nowhere
colour = blue
idle_timeout = 5s
"""
BAD_LINES = [2, 3, 7, 8]


def error_lines(path, stderr):
    """The line numbers of stderr's `PATH:LINE: message` lines; fails on any
    other line."""
    lines = [l for l in stderr.splitlines() if l.strip()]
    rx = re.compile(r"^%s:(\d+): \S" % re.escape(path))
    nums = []
    for l in lines:
        m = rx.match(l)
        check(m is not None, "stderr line is not PATH:LINE: message: %r" % l)
        nums.append(int(m.group(1)))
    return nums


def check_good(option):
    d = h.Daemon()
    d.write_config(good_config(d))
    rc, out, err = h.run_cli(["-c", d.conf, option])
    check(rc == 0, "%s on a good file: exit %d, stderr %r" % (option, rc, err))
    lines = out.splitlines()
    check(len(lines) == 1, "%s printed %d lines, wanted one: %r" % (option, len(lines), out))
    check(d.conf in lines[0], "the line does not name the file: %r" % lines[0])
    check(err == "", "%s on a good file wrote to stderr: %r" % (option, err))


def check_bad(option):
    d = h.Daemon()
    d.write_config(BAD_CONFIG % h.free_port())
    rc, out, err = h.run_cli(["-c", d.conf, option])
    check(rc == EX_CONFIG, "%s on a bad file: exit %d, wanted 78; stderr %r"
          % (option, rc, err))
    nums = error_lines(d.conf, err)
    check(sorted(nums) == BAD_LINES, "errors reported at lines %s, wanted one per error at %s:\n%s"
          % (nums, BAD_LINES, err))
    check(out == "", "%s on a bad file wrote to stdout: %r" % (option, out))


@test
def check_good_file():
    check_good("--check")


@test
def check_bad_file():
    check_bad("--check")


@test
def t_good_file():
    check_good("-t")


@test
def t_bad_file():
    check_bad("-t")


@test
def check_binds_nothing():
    # --check reads and checks; it must not bind, so a port in use is fine.
    d = h.Daemon()
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        d.write_config(h.config({"echo": {"listen": [h.tcp(port)]}}))
        rc, out, err = h.run_cli(["-c", d.conf, "--check"])
        check(rc == 0, "--check with the port in use: exit %d, stderr %r" % (rc, err))
    finally:
        holder.close()


@test
def start_with_bad_file():
    # Starting (not checking) with errors: exit 78, each error logged.
    d = h.Daemon()
    d.write_config(BAD_CONFIG % h.free_port())
    d.start(ready=False)
    rc = d.wait_exit(10)
    check(rc == EX_CONFIG, "exit %d, wanted 78" % rc)
    log = d.log()
    for n in BAD_LINES:
        check(re.search(r"^netdemo: err: %s:%d: " % (re.escape(d.conf), n), log, re.M),
              "no `netdemo: err: FILE:%d:` line in the log:\n%s" % (n, log))


@test
def missing_file():
    d = h.Daemon()
    missing = d.path("nonexistent.ini")
    rc, out, err = h.run_cli(["-c", missing, "--check"])
    check(rc == EX_CONFIG, "--check on a missing file: exit %d, wanted 78" % rc)
    check(missing in err, "stderr does not name the file: %r" % err)
    d.start(args=[], ready=False)   # -c CONF: conf was never written
    check(d.wait_exit(10) == EX_CONFIG, "starting on a missing file: exit %s" % d.rc)


@test
def unknown_service():
    d = h.Daemon()
    d.write_config(good_config(d))
    rc, out, err = h.run_cli(["-c", d.conf, "-s", "unknown", "--check"])
    check(rc == EX_CONFIG, "-s unknown --check: exit %d, wanted 78; stderr %r" % (rc, err))
    check("unknown" in err, "stderr does not name the service: %r" % err)
    d.start(args=["-s", "unknown"], ready=False)
    check(d.wait_exit(10) == EX_CONFIG, "-s unknown: exit %s, wanted 78" % d.rc)


@test
def select_service():
    # -s other runs only [other]: echo's port stays closed.
    d = h.Daemon()
    a, b = h.free_ports(2)
    d.write_config(h.config({"echo": {"listen": [h.tcp(a)]},
                             "other": {"listen": [h.tcp(b)]}}))
    d.start(args=["-s", "other"], ready=False)
    d.wait_ready(addrs=[("tcp", ("127.0.0.1", b))])
    s = h.connect(("127.0.0.1", b))
    h.echo_ok(s, b"other")
    s.close()
    check(h.refuses(("127.0.0.1", a)), "-s other, yet [echo]'s port accepts")
    check(d.stop() == 0, "exit %s after SIGTERM" % d.rc)


@test
def bad_options():
    for args in (["--bogus"], ["-x"], ["-c"], ["stray-argument"]):
        rc, out, err = h.run_cli(args)
        check(rc == EX_USAGE, "netdemo %s: exit %d, wanted 64" % (" ".join(args), rc))
        check(err.strip() != "", "netdemo %s: nothing on stderr" % " ".join(args))


@test
def version():
    for opt in ("-V", "--version"):
        rc, out, err = h.run_cli([opt])
        check(rc == 0, "%s: exit %d" % (opt, rc))
        check(re.match(r"^netdemo \d+\.\d+\.\d+\n$", out),
              "%s printed %r, wanted 'netdemo X.Y.Z'" % (opt, out))


@test
def help_option():
    for opt in ("-h", "--help"):
        rc, out, err = h.run_cli([opt])
        check(rc == 0, "%s: exit %d" % (opt, rc))
        check("usage: netdemo" in out and "--check" in out,
              "%s: no usage on stdout: %r" % (opt, out))


@test
def port_in_use():
    d = h.Daemon()
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        free = h.free_port()
        d.write_config(h.config({"echo": {"listen": [h.tcp(free), h.tcp(port)]}}))
        d.start(ready=False)
        rc = d.wait_exit(10)
        check(rc == 1, "exit %d with the port in use, wanted 1" % rc)
        want = "tcp://127.0.0.1:%d: Address already in use" % port
        check(want in d.log(), "stderr does not say %r:\n%s" % (want, d.log_tail()))
        # The listener it did open first is closed again.
        check(h.refuses(("127.0.0.1", free)), "port %d still open after exit" % free)
    finally:
        holder.close()
