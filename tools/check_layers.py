#!/usr/bin/env python3
"""check_layers.py: do the objects keep to their layers?

    check_layers.py [--edges] LAYERS OBJ.o...

LAYERS holds one layer a line, lowest first: the basenames of the objects in
it (`conn` for conn.o), separated by blanks; `#` starts a comment, blank lines
are skipped. `nm` says which global symbols each object defines and which it
uses; A uses B when A uses a symbol that B defines. Violations, all listed:

  upward   an object uses one in a higher layer
  cycle    objects use each other round a loop (in one layer or across)
  unlisted an object given on the command line is in no layer

Objects named in LAYERS but not given (files not written yet) are skipped.
Symbols starting with `__` (compiler and sanitizer runtime) and symbols no
given object defines (libc) make no edge. Static functions never appear as
undefined, so they make none either. --edges prints every edge too.

Exit status: 0 clean, 1 violations, 2 usage or a bad LAYERS file.
"""

import os
import subprocess
import sys

DEFINED = set("TDBRCGSVWi")
UNDEFINED = set("Uwv")


def die(msg):
    print(f"check-layers: {msg}", file=sys.stderr)
    sys.exit(2)


def read_layers(path):
    """{object name: layer index}, and the layer lines for messages."""
    layer_of = {}
    layers = []
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        die(f"{path}: {e.strerror}")
    for lineno, line in enumerate(lines, 1):
        names = line.split("#", 1)[0].split()
        if not names:
            continue
        for name in names:
            if name in layer_of:
                die(f"{path}:{lineno}: {name} is already in layer {layer_of[name]}")
            layer_of[name] = len(layers)
        layers.append(names)
    return layer_of, layers


def symbols(obj, nm):
    """(defined, undefined) global symbol sets of one object."""
    try:
        out = subprocess.run([nm, "-P", obj], check=True, capture_output=True,
                             text=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        die(f"{nm} -P {obj}: {getattr(e, 'stderr', '') or e}")
    defined, undefined = set(), set()
    for line in out.splitlines():
        f = line.split()
        if len(f) < 2 or f[0].startswith("__"):
            continue
        if f[1] in DEFINED:
            defined.add(f[0])
        elif f[1] in UNDEFINED:
            undefined.add(f[0])
    return defined, undefined


def sccs(nodes, edges):
    """Tarjan's strongly connected components, each a sorted list."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def shortest_cycle(start, comp, edges):
    """A shortest loop from start back to it inside comp (BFS)."""
    prev = {start: None}
    queue = [start]
    for v in queue:
        for w in sorted(edges.get(v, ())):
            if w == start:
                path = [v]
                while prev[path[-1]] is not None:
                    path.append(prev[path[-1]])
                return list(reversed(path)) + [start]
            if w in comp and w not in prev:
                prev[w] = v
                queue.append(w)
    return [start, start]


def main(argv):
    show_edges = False
    if argv and argv[0] == "--edges":
        show_edges = True
        argv = argv[1:]
    if len(argv) < 1 or argv[0].startswith("-"):
        die("usage: check_layers.py [--edges] LAYERS OBJ.o...")
    layers_path, objs = argv[0], argv[1:]
    nm = os.environ.get("NM", "nm")
    layer_of, _ = read_layers(layers_path)

    names = {}
    for obj in objs:
        name = os.path.basename(obj)
        name = name[:-2] if name.endswith(".o") else name
        if name in names:
            die(f"{obj} and {names[name]} have one name")
        names[name] = obj
    syms = {name: symbols(obj, nm) for name, obj in names.items()}

    # A symbol defined by two objects (weak or common duplicates) says nothing
    # about who depends on whom; the linker settles it, not the layers.
    definer = {}
    for name, (defined, _) in syms.items():
        for s in defined:
            definer.setdefault(s, []).append(name)
    # edges[a][b]: the symbols of b that a uses
    edges = {}
    for name, (_, undefined) in syms.items():
        for s in undefined:
            d = definer.get(s)
            if d and len(d) == 1 and d[0] != name:
                edges.setdefault(name, {}).setdefault(d[0], []).append(s)

    def label(n):
        return f"{n} (layer {layer_of[n]})" if n in layer_of else n

    def syms_of(a, b, limit=6):
        s = sorted(edges[a][b])
        more = f", ... ({len(s) - limit} more)" if len(s) > limit else ""
        return ", ".join(s[:limit]) + more

    violations = []
    for n in sorted(names):
        if n not in layer_of:
            violations.append(f"unlisted: {names[n]} is in no layer of {layers_path}; "
                              f"add {n} to the line of its layer")
    for a in sorted(edges):
        for b in sorted(edges[a]):
            if a in layer_of and b in layer_of and layer_of[a] < layer_of[b]:
                violations.append(f"upward: {label(a)} -> {label(b)}: {syms_of(a, b)}")
    # A knot of objects that all reach each other is reported as the shortest
    # loop through each of its members: the loops one would cut.
    for comp in sccs(names, edges):
        if len(comp) < 2:
            continue
        members = set(comp)
        seen = []
        for n in comp:
            loop = shortest_cycle(n, members, edges)[:-1]
            i = loop.index(min(loop))
            loop = loop[i:] + loop[:i]
            if loop not in seen:
                seen.append(loop)
        for loop in sorted(seen, key=lambda l: (len(l), l)):
            layers_in = {layer_of.get(n) for n in loop}
            where = (f" (within layer {layer_of[loop[0]]})"
                     if len(layers_in) == 1 and None not in layers_in else "")
            loop = loop + loop[:1]
            msg = [f"cycle{where}: {' -> '.join(loop)}"]
            for a, b in zip(loop, loop[1:]):
                msg.append(f"    {label(a)} -> {label(b)}: {syms_of(a, b)}")
            violations.append("\n".join(msg))

    if show_edges:
        for a in sorted(edges):
            for b in sorted(edges[a]):
                print(f"edge: {label(a)} -> {label(b)}: {syms_of(a, b, 1000)}")
    for v in violations:
        print(v)
    skipped = sorted(n for n in layer_of if n not in names)
    nedges = sum(len(v) for v in edges.values())
    print(f"check-layers: {len(names)} objects, {nedges} edges, "
          f"{len(violations)} violation{'s' if len(violations) != 1 else ''}"
          + (f" (not built, skipped: {' '.join(skipped)})" if skipped else ""))
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
