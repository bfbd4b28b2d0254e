#!/usr/bin/env python3
"""run.py: runs netdemo's integration tests against one binary.

    python3 tests/integration/run.py --binary build/netdemo [-k NAME]

Prints one line per test and ends with "integration: N passed, M failed".
"""
import argparse
import importlib
import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import nd  # noqa: E402

MODULES = ["t_cli", "t_echo", "t_limits", "t_signals", "t_http", "t_probe", "t_ws", "t_browser", "t_scale"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("-k", dest="only", action="append", default=[])
    opts = ap.parse_args()
    nd.BINARY = os.path.abspath(opts.binary)
    nd.SANITIZER = "asan" in nd.BINARY
    nd.SLOW = 3.0 if nd.SANITIZER else 1.0
    nd.raise_nofile()
    if not os.access(nd.BINARY, os.X_OK):
        print("integration: no binary at %s" % nd.BINARY)
        return 2

    tests = []
    for name in MODULES:
        mod = importlib.import_module(name)
        tests += [(name, t) for t in mod.TESTS]
    passed = failed = 0
    for mod, fn in tests:
        full = "%s.%s" % (mod, fn.__name__)
        if opts.only and not any(k in full for k in opts.only):
            continue
        t0 = time.monotonic()
        err = None
        try:
            fn()
        except nd.Failure as e:
            err = str(e)
        except Exception:
            err = traceback.format_exc()
        reports = nd.reap_all()
        if reports and err is None:
            err = "sanitizer report:\n" + reports[0][-3000:]
        dt = time.monotonic() - t0
        if err is None:
            passed += 1
            print("PASS %s (%.1fs)" % (full, dt), flush=True)
        else:
            failed += 1
            print("FAIL %s (%.1fs): %s" % (full, dt, err), flush=True)
    print("integration: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
