#!/usr/bin/python3
"""The dependency check (docs/architecture.md, "Layers"): fails when a part includes a part it must
not know, or when a new cycle appears between the supervisor's (or worker's) files.

Two graphs, both from the real tree:
  - folders, from the `#include "..."` lines: each part may include only the parts below it (RULES);
  - files, from the object files of a build (`nm`): file A -> file B when A uses a symbol B defines.
    A cycle (a strongly connected set of more than one file) must be listed in ALLOWED_CYCLES.

usage: scripts/check-deps.py [BUILD_DIR]   (default build/; the file graph needs a build)
"""
import os
import re
import subprocess
import sys
from collections import defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# part -> the parts it may include (besides itself). Bottom up.
RULES = {
    "common": set(),
    "worker/engine": {"common"},
    "worker/process": {"common"},
    "worker/commands": {"common", "worker/process", "worker/engine"},
    "worker/python": {"common", "worker/process"},
    "worker": {"common", "worker/process", "worker/commands", "worker/python", "worker/engine"},
    "supervisor/core": {"common"},
    "supervisor/routing": {"common", "supervisor/core"},
    "supervisor/api": {"common", "supervisor/core", "supervisor/routing"},
    "supervisor/jobs": {"common", "supervisor/core", "supervisor/routing", "worker/engine"},
    "supervisor/cli": {"common"},
    "supervisor": {"common", "supervisor/core", "supervisor/routing", "supervisor/api", "supervisor/jobs",
                   "supervisor/cli"},
    "tests/unit": None,  # tests and tools may include any part
    "tests/fuzz": None,
    "bench": None,
}

# Files that may reach each other: one state machine split in two (router admits and places calls,
# proxy moves their messages). Every other cycle is a knot to untie, not to list here.
ALLOWED_CYCLES = [
    {"supervisor/routing/router.c", "supervisor/routing/proxy.c"},
]

INCLUDE_ROOTS = ["common", "supervisor", "worker"]


def part_of(path):
    d = os.path.dirname(path)
    while d and d not in RULES:
        d = os.path.dirname(d)
    return d or None


def resolve(include, from_file):
    here = os.path.join(os.path.dirname(from_file), include)
    if os.path.exists(os.path.join(ROOT, here)):
        return os.path.normpath(here)
    for r in INCLUDE_ROOTS:
        p = os.path.join(r, include)
        if os.path.exists(os.path.join(ROOT, p)):
            return p
    return None  # a system or generated header


def tracked_sources():
    out = subprocess.check_output(["git", "-C", ROOT, "ls-files", "*.c", "*.h"], text=True).split()
    return [f for f in out if part_of(f)]


def check_includes():
    problems = []
    inc = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
    for f in tracked_sources():
        part = part_of(f)
        allowed = RULES[part]
        text = open(os.path.join(ROOT, f), errors="replace").read()
        for name in inc.findall(text):
            target = resolve(name, f)
            if not target:
                continue
            tpart = part_of(target)
            if allowed is None or tpart == part or tpart in allowed:
                continue
            problems.append(f"{f} includes \"{name}\" ({tpart}): {part} may include only "
                            f"{', '.join(sorted(allowed | {part}))}")
    return problems


def object_files(build):
    """source path (relative) -> its object file, for the objects CMake built from our sources."""
    objs = {}
    for dirpath, _, names in os.walk(build):
        for n in names:
            if not n.endswith(".c.o"):
                continue
            full = os.path.join(dirpath, n)
            # CMakeFiles/<target>.dir/<relative source>.o, the relative path from the CMakeLists' folder
            m = re.search(r"CMakeFiles/[^/]+\.dir/(.+)\.o$", full)
            if not m:
                continue
            rel_dir = os.path.relpath(dirpath.split("/CMakeFiles/")[0], build)
            src = os.path.normpath(os.path.join("" if rel_dir == "." else rel_dir, m.group(1)))
            if os.path.exists(os.path.join(ROOT, src)) and (src.startswith("supervisor/") or src.startswith("worker/")):
                objs[src] = full
    return objs


def symbols(obj):
    defined, used = set(), set()
    out = subprocess.check_output(["nm", "-P", obj], text=True)
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        name, kind = parts[0], parts[1]
        if kind == "U":
            used.add(name)
        elif kind in "TDBRC" or kind in "VW":
            defined.add(name)
    return defined, used


def sccs(graph):
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    sys.setrecursionlimit(10000)
    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def check_cycles(build):
    objs = object_files(build)
    if not objs:
        return [f"no object files of supervisor/ or worker/ under {build}: build first"], []
    owner, uses = {}, {}
    for src, obj in objs.items():
        d, u = symbols(obj)
        for s in d:
            owner.setdefault(s, src)
        uses[src] = u
    graph = defaultdict(set)
    edges = defaultdict(set)  # (a, b) -> symbols
    for src, u in uses.items():
        graph[src]
        for s in u:
            o = owner.get(s)
            if o and o != src and o.split("/")[0] == src.split("/")[0]:
                graph[src].add(o)
                edges[(src, o)].add(s)
    found = sccs(graph)
    problems = []
    for comp in found:
        if any(comp == a for a in ALLOWED_CYCLES):
            continue
        why = []
        for a in sorted(comp):
            for b in sorted(graph[a] & comp):
                why.append(f"    {a} -> {b}: {', '.join(sorted(edges[(a, b)])[:4])}")
        problems.append("a cycle between " + ", ".join(sorted(comp)) + ":\n" + "\n".join(why))
    return problems, found


def check_documented():
    """docs/architecture.md names every folder's every file."""
    doc = open(os.path.join(ROOT, "docs", "architecture.md")).read()
    out = subprocess.check_output(["git", "-C", ROOT, "ls-files", "common", "supervisor", "worker"], text=True).split()
    return [f"{f} is not named in docs/architecture.md (add it to its folder's table)"
            for f in out if f.endswith((".c", ".h")) and f"`{f}`" not in doc]


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build")
    problems = check_includes() + check_documented()
    cycle_problems, found = check_cycles(build)
    problems += cycle_problems
    for p in problems:
        print("check-deps:", p)
    if problems:
        print(f"check-deps: {len(problems)} problem(s). Each part may use only the parts below it "
              "(scripts/check-deps.py RULES, docs/architecture.md): move the shared piece down a layer, or "
              "pass a callback up.")
        return 1
    print("check-deps: ok: every include goes down a layer; file cycles: " +
          ("; ".join(" <-> ".join(sorted(os.path.basename(f) for f in c)) for c in found) or "none"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
