#!/usr/bin/env python3
"""run.py: netdemo's end-to-end tests against one binary.

    python3 tests/e2e/run.py --binary build/netdemo [-k NAME]... [--list]

Runs every test registered with @harness.test in tests/e2e/test_*.py (or
only those whose name contains one of the -k strings), one at a time,
printing "PASS name (1.2s)" or "FAIL name: reason" for each, and ends with
"e2e: N passed, M failed"; the exit status is 1 when M > 0. A binary whose
path contains "asan" is taken for the sanitizer build: its deadlines are
longer, and any sanitizer report in its stderr fails the test. The
directory of a failed test (configuration, stderr log) is kept and named.
"""
import argparse
import atexit
import glob
import importlib
import os
import signal
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402

# A test that hangs despite its own deadlines is stopped here.
TEST_LIMIT = 90


class TestTimeout(Exception):
    pass


def on_alarm(signo, frame):
    raise TestTimeout("test still running after %.0fs" % harness.scaled(TEST_LIMIT))


def one_line(text, limit=600):
    text = " | ".join(l.strip() for l in str(text).strip().splitlines() if l.strip())
    return text if len(text) <= limit else text[:limit] + " ..."


def where(tb_text):
    """The innermost line of a test file in a traceback, for a short reason."""
    lines = [l.strip() for l in tb_text.splitlines()]
    at = [l for l in lines if l.startswith("File ") and "/test_" in l]
    return at[-1] if at else ""


def main():
    ap = argparse.ArgumentParser(description="netdemo end-to-end tests")
    ap.add_argument("--binary", required=True, help="the netdemo to test")
    ap.add_argument("-k", dest="only", action="append", default=[],
                    help="run only tests whose name contains NAME (repeatable)")
    ap.add_argument("--list", action="store_true", help="list the tests and exit")
    opts = ap.parse_args()

    harness.BINARY = os.path.abspath(opts.binary)
    harness.SANITIZER = "asan" in harness.BINARY
    harness.SLOW = 3.0 if harness.SANITIZER else 1.0
    for path in sorted(glob.glob(os.path.join(HERE, "test_*.py"))):
        importlib.import_module(os.path.basename(path)[:-3])
    tests = [("%s.%s" % (mod, name), fn) for mod, name, fn in harness.TESTS]
    if opts.only:
        tests = [t for t in tests if any(k in t[0] for k in opts.only)]
    if opts.list:
        for name, _ in tests:
            print(name)
        return 0
    if not (os.path.isfile(harness.BINARY) and os.access(harness.BINARY, os.X_OK)):
        print("e2e: no executable at %s (run make)" % harness.BINARY)
        return 2
    if not tests:
        print("e2e: no test matches %s" % " ".join(opts.only))
        return 2

    harness.raise_nofile()
    atexit.register(harness.kill_all)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, lambda s, f: sys.exit(143))
    passed = failed = 0
    started = time.monotonic()
    for name, fn in tests:
        t0 = time.monotonic()
        reason = None
        signal.setitimer(signal.ITIMER_REAL, harness.scaled(TEST_LIMIT))
        try:
            fn()
        except harness.Failure as e:
            reason = one_line(e)
        except TestTimeout as e:
            reason = "%s (%s)" % (e, where(traceback.format_exc()))
        except KeyboardInterrupt:
            signal.setitimer(signal.ITIMER_REAL, 0)
            harness.end_test(False)
            print("e2e: interrupted")
            return 130
        except Exception as e:
            reason = "%s: %s (%s)" % (type(e).__name__, one_line(e, 300),
                                      where(traceback.format_exc()))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        problem, kept = harness.end_test(reason is None)
        if problem and reason is None:
            reason = problem
        elif problem:
            reason += "; " + problem
        dt = time.monotonic() - t0
        if reason is None:
            passed += 1
            print("PASS %s (%.1fs)" % (name, dt), flush=True)
        else:
            failed += 1
            if kept:
                reason += " [kept %s]" % kept
            print("FAIL %s: %s" % (name, reason), flush=True)
    sys.stderr.write("e2e: %s, %.1fs in all\n" % (harness.BINARY,
                                                  time.monotonic() - started))
    print("e2e: %d passed, %d failed" % (passed, failed), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
