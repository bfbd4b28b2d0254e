#!/usr/bin/env python3
"""check_tour.py: does README.md's source tour name every file in src/?

    check_tour.py README.md src/FILE...

The tour is the first ``` block after the heading "## How it works". Each
file given must appear in it by its name (`conn.c`, `conn.h`); names the
tour lists that are not given (a file removed) are reported too. Exit 0
when both lists agree, 1 otherwise.
"""
import os
import re
import sys


def tour(readme):
    text = open(readme, encoding="utf-8").read()
    at = text.find("\n## How it works")
    if at < 0:
        sys.exit("check_tour: no '## How it works' in %s" % readme)
    m = re.search(r"\n```\n(.*?)\n```", text[at:], re.S)
    if m is None:
        sys.exit("check_tour: no ``` block after '## How it works'")
    return m.group(1)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    block = tour(sys.argv[1])
    names = {os.path.basename(f) for f in sys.argv[2:]}
    listed = set(re.findall(r"\b[a-z_0-9]+\.[ch]\b", block)) | \
        set(re.findall(r"\bLAYERS\b", block))
    missing = sorted(n for n in names if not re.search(r"(?<![\w.])%s\b" % re.escape(n), block))
    elsewhere = {f for d in ("include/nd", "tools", "tests/unit") if os.path.isdir(d)
                 for f in os.listdir(d)}
    gone = sorted(n for n in listed if n not in names and n != "LAYERS" and n not in elsewhere)
    for n in missing:
        print("check_tour: src/%s is not in README.md's source tour" % n)
    for n in gone:
        print("check_tour: the source tour names %s, which is not in src/" % n)
    if missing or gone:
        return 1
    print("check_tour: the source tour names all %d files of src/" % len(names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
