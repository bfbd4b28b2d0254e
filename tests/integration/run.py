#!/usr/bin/env python3
"""run.py: runs netdemo's integration tests against one binary.

    python3 tests/integration/run.py --binary build/netdemo [-k NAME]

Prints one line per test and ends with "integration: N passed, M failed".
"""
import importlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import nd  # noqa: E402

MODULES = ["t_cli", "t_echo", "t_access_log", "t_inetd", "t_limits", "t_signals", "t_http", "t_probe", "t_ws", "t_chat", "t_chat_redis", "t_chat_redis_slow", "t_chat_redis_scale", "t_metrics", "t_browser", "t_scale"]


def main():
    opts = nd.setup(__doc__)
    if not os.access(nd.BINARY, os.X_OK):
        print("integration: no binary at %s" % nd.BINARY)
        return 2
    tests = []
    for name in MODULES:
        mod = importlib.import_module(name)
        tests += [("%s.%s" % (name, t.__name__), t) for t in mod.TESTS]
    return nd.run_tests("integration", tests, opts.only)


if __name__ == "__main__":
    sys.exit(main())
