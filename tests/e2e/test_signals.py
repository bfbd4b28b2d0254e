"""test_signals.py: SIGTERM/SIGINT (graceful stop, drain, shutdown_timeout)
and SIGHUP (reload: listeners kept, opened and closed; a bad file or an
address that cannot be bound changes nothing)."""
import os
import re
import signal
import socket
import subprocess
import time

import harness as h
from harness import check, test

LOCAL = "127.0.0.1"


def start(services, **globals_):
    d = h.Daemon()
    d.write_config(h.config(services, **globals_))
    d.start()
    return d


@test
def sigterm_idle():
    port = h.free_port()
    d = start({"echo": {"listen": [h.tcp(port)]}}, shutdown_timeout="10s")
    t0 = time.monotonic()
    rc = d.stop(signal.SIGTERM, timeout=5)
    took = time.monotonic() - t0
    check(rc == 0, "exit %d after SIGTERM" % rc)
    check(took < h.scaled(2), "SIGTERM with no clients took %.1fs" % took)


@test
def sigterm_idle_client():
    # An open connection with nothing owed gets EOF at once; when it closes,
    # the daemon exits 0.
    port = h.free_port()
    d = start({"echo": {"listen": [h.tcp(port)]}}, shutdown_timeout="10s")
    s = h.connect((LOCAL, port))
    h.echo_ok(s, b"idle soon")
    t0 = time.monotonic()
    d.signal(signal.SIGTERM)
    got = h.recv_until_eof(s)
    check(got == b"", "got %r instead of EOF" % got)
    s.close()
    rc = d.wait_exit(5)
    took = time.monotonic() - t0
    check(rc == 0, "exit %d after SIGTERM" % rc)
    check(took < h.scaled(1.5), "SIGTERM with an idle client took %.1fs" % took)


@test
def sigint_idle():
    port = h.free_port()
    d = start({"echo": {"listen": [h.tcp(port)]}}, shutdown_timeout="10s")
    rc = d.stop(signal.SIGINT, timeout=5)
    check(rc == 0, "exit %d after SIGINT" % rc)


def settled_queues(s):
    """The four kernel queues of client socket s and the daemon's end of it,
    from /proc/net/tcp, once they stop changing: (client tx, client rx,
    daemon tx, daemon rx)."""
    me, peer = s.getsockname(), s.getpeername()
    last = [None]

    def settled():
        q = h.tcp_queues(me, peer) + h.tcp_queues(peer, me)
        same = q == last[0]
        last[0] = q
        return q if same else None
    return h.wait_until(settled, 5, "the socket queues to settle", interval=0.05)


def drain_after_sigterm(buffer_size, total, min_queued):
    """A client with a small receive buffer sends up to `total` bytes and
    reads nothing, so echoed bytes wait in the daemon's own output queue, not
    only in the kernel. After SIGTERM the listener is closed, and the client
    that now reads gets exactly the bytes the daemon had read, in order, then
    EOF; then the daemon exits 0."""
    port = h.free_port()
    d = start({"echo": {"listen": [h.tcp(port)], "buffer_size": buffer_size}},
              shutdown_timeout="10s")
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
    s.settimeout(h.scaled(10))
    s.connect((LOCAL, port))
    sent = h.fill_unread(s, total, stall=0.3)
    ctx, crx, dtx, drx = settled_queues(s)
    # What the daemon read, and what of its echo is not in a kernel queue.
    owed = len(sent) - ctx - drx
    queued = owed - dtx - crx
    check(queued >= min_queued, "setup: only %d bytes of echo wait inside the daemon "
          "(sent %d, daemon read %d)" % (queued, len(sent), owed))
    mark = d.log_mark()
    t0 = time.monotonic()
    d.signal(signal.SIGTERM)
    d.wait_log(r"SIGTERM: shutting down", 5, since=mark)
    check(h.refuses((LOCAL, port)), "the listener still accepts after SIGTERM")
    got = h.recv_until_eof(s)
    s.close()
    check(got == sent[:len(got)], "the %d bytes back are not a prefix of those sent"
          % len(got))
    check(len(got) == owed, "got %d bytes back before EOF; the daemon had read %d "
          "(%d of them queued inside it)" % (len(got), owed, queued))
    rc = d.wait_exit(5)
    check(rc == 0, "exit %d after draining" % rc)
    check(time.monotonic() - t0 < h.scaled(5), "draining took %.1fs"
          % (time.monotonic() - t0))


@test
def sigterm_drains_queued():
    # Default buffer_size: the daemon stops reading at 64k queued.
    drain_after_sigterm("64k", 16 * 1024 * 1024, 32 * 1024)


@test
def sigterm_drains_large_queue():
    # buffer_size 16m: megabytes of echo wait in the daemon.
    drain_after_sigterm("16m", 12 * 1024 * 1024, 1024 * 1024)


@test
def sigterm_timeout_unread():
    # A client that never reads: the daemon gives up after shutdown_timeout.
    port = h.free_port()
    d = start({"echo": {"listen": [h.tcp(port)]}}, shutdown_timeout="1s")
    s = h.connect((LOCAL, port), timeout=10)
    try:
        sent = h.fill_unread(s, 8 * 1024 * 1024, stall=0.3)
        check(len(sent) > 256 * 1024, "could only send %d bytes" % len(sent))
        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        rc = d.wait_exit(1 + 2)
        took = time.monotonic() - t0
    finally:
        s.close()
    check(rc == 0, "exit %d after shutdown_timeout" % rc)
    check(took >= 0.9, "exited %.2fs after SIGTERM, before shutdown_timeout (1s) while "
          "output was still owed" % took)
    check(took <= 1 + h.scaled(1), "exited %.2fs after SIGTERM (shutdown_timeout 1s)" % took)


@test
def second_sigterm_is_immediate():
    port = h.free_port()
    d = start({"echo": {"listen": [h.tcp(port)]}}, shutdown_timeout="30s")
    s = h.connect((LOCAL, port), timeout=10)
    try:
        h.fill_unread(s, 8 * 1024 * 1024, stall=0.3)
        mark = d.log_mark()
        d.signal(signal.SIGTERM)
        d.wait_log(r"waiting up to", 5, since=mark)
        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        rc = d.wait_exit(5)
    finally:
        s.close()
    check(rc == 0, "exit %d after a second SIGTERM" % rc)
    check(time.monotonic() - t0 < h.scaled(2), "a second SIGTERM took %.1fs"
          % (time.monotonic() - t0))


def reload(d, text):
    """Rewrites the file, sends SIGHUP, and returns the log written since."""
    mark = d.log_mark()
    d.write_config(text)
    d.signal(signal.SIGHUP)
    d.wait_log(r"^netdemo: \w+: (reloaded |reload failed)", 10, since=mark)
    return d.log()[mark:]


@test
def sighup_listeners():
    a, b, c = h.free_ports(3)
    A, B, C = (LOCAL, a), (LOCAL, b), (LOCAL, c)
    d = start({"echo": {"listen": [h.tcp(a), h.tcp(b)]}})
    on_a, on_b = h.connect(A), h.connect(B)
    h.echo_ok(on_a, b"on A before")
    h.echo_ok(on_b, b"on B before")
    mark = d.log_mark()
    d.write_config(h.config({"echo": {"listen": [h.tcp(a), h.tcp(c)]}}))
    d.signal(signal.SIGHUP)
    h.wait_until(lambda: not h.refuses(C), 10, "the new listener C to accept")
    d.wait_log(r"^netdemo: notice: reloaded %s$" % re.escape(d.conf), 10, since=mark)
    check("reload failed" not in d.log()[mark:], "reload failed:\n%s" % d.log_tail())
    check(h.refuses(B), "B still accepts after it was removed by the reload")
    for s, what in ((on_a, "A"), (on_b, "B")):
        h.echo_ok(s, b"on %s after the reload" % what.encode())
        s.close()
    for addr in (A, C):
        s = h.connect(addr)
        h.echo_ok(s, b"new connection")
        s.close()


@test
def sighup_bad_config():
    a, b, c = h.free_ports(3)
    d = start({"echo": {"listen": [h.tcp(a), h.tcp(b)]}})
    before = h.connect((LOCAL, a))
    h.echo_ok(before, b"before")
    bad = ("[echo]\n"
           "module = echo\n"
           "listen = %s, %s\n"
           "idle_timeout = forever\n"
           "buffer_size = 12\n") % (h.tcp(a), h.tcp(c))
    log = reload(d, bad)
    check("reload failed" in log, "no `reload failed` in the log:\n%s" % log)
    for n in (4, 5):
        check(re.search(r"^netdemo: err: %s:%d: " % (re.escape(d.conf), n), log, re.M),
              "no `netdemo: err: FILE:%d: ...` line in the log:\n%s" % (n, log))
    check(h.refuses((LOCAL, c)), "a listener of the rejected file was opened")
    h.echo_ok(before, b"after a failed reload")
    for port in (a, b):
        s = h.connect((LOCAL, port))
        h.echo_ok(s, b"old listener %d" % port)
        s.close()
    before.close()
    # A good file afterwards is still taken.
    log = reload(d, h.config({"echo": {"listen": [h.tcp(a), h.tcp(c)]}}))
    check("reloaded " in log, "the fixed file was not taken:\n%s" % log)
    s = h.connect((LOCAL, c))
    h.echo_ok(s, b"fixed")
    s.close()


@test
def sighup_bind_failure():
    a, b = h.free_ports(2)
    d = start({"echo": {"listen": [h.tcp(a), h.tcp(b)]}})
    before = h.connect((LOCAL, b))
    h.echo_ok(before, b"before")
    holder = socket.socket()
    holder.bind((LOCAL, 0))
    holder.listen(1)
    c = holder.getsockname()[1]
    try:
        log = reload(d, h.config({"echo": {"listen": [h.tcp(a), h.tcp(c)]}}))
        check("reload failed" in log, "a reload onto a port in use did not fail:\n%s" % log)
        want = "tcp://127.0.0.1:%d: Address already in use" % c
        check(want in log, "the log does not say %r:\n%s" % (want, log))
        # The old configuration serves: B was not closed, A still works.
        h.echo_ok(before, b"after the failed reload")
        for port in (a, b):
            s = h.connect((LOCAL, port))
            h.echo_ok(s, b"old listener %d" % port)
            s.close()
    finally:
        holder.close()
        before.close()
    check(d.stop() == 0, "exit %s after SIGTERM" % d.rc)


@test
def sighup_udp_unix():
    # Reload keeps a UDP and a unix listener that did not change, and removes
    # a unix listener (and its file) that did.
    d = h.Daemon()
    port = h.free_port("udp")
    keep, gone = d.path("keep.sock"), d.path("gone.sock")
    d.write_config(h.config({"echo": {"listen": [h.udp(port), "unix:" + keep,
                                                 "unix:" + gone]}}))
    d.start()
    live = h.connect(gone)
    h.echo_ok(live, b"before")
    log = reload(d, h.config({"echo": {"listen": [h.udp(port), "unix:" + keep]}}))
    check("reloaded " in log, "reload failed:\n%s" % log)
    check(h.refuses(gone), "the removed unix listener still accepts")
    h.echo_ok(live, b"after")
    live.close()
    s = h.connect(keep)
    h.echo_ok(s, b"kept")
    s.close()
    reply, _ = h.udp_roundtrip((LOCAL, port), b"udp kept")
    check(reply == b"udp kept", "UDP reply %r" % reply)


@test
def sighup_raises_limit():
    # A client waiting in the backlog at max_connections = 1 is served once
    # a reload raises the limit.
    port = h.free_port()
    d = start({"echo": {"listen": [h.tcp(port)], "max_connections": 1}})
    first = h.connect((LOCAL, port))
    h.echo_ok(first, b"first")
    second = h.connect((LOCAL, port))
    try:
        second.sendall(b"second")
        check(h.nothing_within(second, 0.3), "a 2nd client served at max_connections = 1")
        log = reload(d, h.config({"echo": {"listen": [h.tcp(port)], "max_connections": 2}}))
        check("reloaded " in log, "reload failed:\n%s" % log)
        got = h.recv_exact(second, len(b"second"))
        check(got == b"second", "the 2nd client got %r" % got)
        h.echo_ok(first, b"first again")
    finally:
        first.close()
        second.close()


@test
def sighup_keeps_old_settings():
    # Connections keep the settings they were accepted under: one accepted
    # with idle_timeout = 300ms is still closed when idle after a reload to
    # idle_timeout = 0 (never); one accepted after the reload is not.
    port = h.free_port()
    d = start({"echo": {"listen": [h.tcp(port)], "idle_timeout": "300ms"}})
    old = h.connect((LOCAL, port))
    t0 = time.monotonic()
    log = reload(d, h.config({"echo": {"listen": [h.tcp(port)], "idle_timeout": "0"}}))
    check("reloaded " in log, "reload failed:\n%s" % log)
    new = h.connect((LOCAL, port))
    try:
        got = h.recv_until_eof(old)
        took = time.monotonic() - t0
        check(got == b"", "the old connection got %r" % got)
        check(took < 0.3 + h.scaled(1.5), "the old connection was closed only after "
              "%.1fs (idle_timeout 300ms when accepted)" % took)
        check(h.nothing_within(new, 0.8), "a connection accepted under idle_timeout = 0 "
              "was closed")
        h.echo_ok(new, b"never idle")
    finally:
        old.close()
        new.close()


def signal_and_connect_in_one_batch(sig):
    """Starts a daemon on A and B, without touching its listeners (no
    readiness probes, which would leave events behind: it is ready once it
    logs "running", after every listener is open), and has it find the signal
    and then a new connection to B in one epoll_wait: SIGSTOP, the signal,
    connect to B (the kernel completes it in B's backlog), SIGCONT."""
    a, b, c = h.free_ports(3)
    d = h.Daemon()
    d.write_config(h.config({"echo": {"listen": [h.tcp(a), h.tcp(b)]}}))
    d.start(ready=False)
    d.wait_log(r"netdemo \S+ running", 10)
    d.write_config(h.config({"echo": {"listen": [h.tcp(a), h.tcp(c)]}}))
    d.pause()
    try:
        os.kill(d.pid, sig)
        late = h.connect((LOCAL, b))
    finally:
        d.resume()
    return d, late, (LOCAL, a), (LOCAL, c)


def died(d, what):
    rc = d.proc.poll()
    if rc is None:
        return None
    return "netdemo %s (exit %s%s) %s" % (
        "was killed by signal %d" % -rc if rc < 0 else "exited", rc,
        ", SIGSEGV" if rc == -signal.SIGSEGV else "", what)


@test
def sighup_removed_listener_in_same_batch():
    # A reload that closes listener B while an accept event for B waits in
    # the same epoll batch, after the signalfd's: the daemon must not touch
    # B's freed watcher. It keeps running, and A and the new C serve.
    d, late, A, C = signal_and_connect_in_one_batch(signal.SIGHUP)
    try:
        d.wait_log(r"^netdemo: \w+: (reloaded |reload failed)", 10)
        h.wait_until(lambda: not h.refuses(C) or d.proc.poll() is not None, 10,
                     "the new listener C to accept")
        try:
            for addr in (A, C):
                s = h.connect(addr)
                h.echo_ok(s, b"after the reload")
                s.close()
        except (h.Failure, OSError):
            try:
                d.proc.wait(h.scaled(2))
            except subprocess.TimeoutExpired:
                pass
            problem = died(d, "after a reload that closed a listener with an event "
                           "pending in the same epoll batch")
            if problem:
                raise h.Failure(problem)
            raise
    finally:
        late.close()
    rc = d.stop()
    check(rc == 0, "exit %d after SIGTERM" % rc)


@test
def sigterm_listener_in_same_batch():
    # SIGTERM closes every listener while an accept event for one of them
    # waits in the same epoll batch: the daemon must still stop cleanly.
    d, late, A, C = signal_and_connect_in_one_batch(signal.SIGTERM)
    try:
        d.wait_log(r"SIGTERM: shutting down", 10)
        try:
            rc = d.wait_exit(10)
        except h.Failure:
            rc = None   # a connection to drain: `late`, if it was accepted
        if rc is None:
            late.close()
            rc = d.wait_exit(10)
    finally:
        late.close()
    problem = died(d, "after SIGTERM with a listener event pending in the same epoll batch")
    check(rc == 0, problem)
