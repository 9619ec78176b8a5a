#!/usr/bin/env python3
"""The library's module graph from its `use` lines, and its cycles.

    python3 scripts/module_graph.py [--check]

Nodes are the top-level modules of src/ (the binary's cli/ and app/ are left out) and the
submodules of embed/. An edge A -> B means a file of A names `crate::B` (or, inside embed,
`super::B`). Unit-test files and `#[cfg(test)] mod tests` blocks are skipped. With
--check the exit status is 1 when there is a cycle.
"""
import os
import re
import sys

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
SKIP = {"main.rs", "lib.rs", "plans_agree.rs"}


def node_of(rel):
    parts = rel[:-3].split("/")
    if parts[0] in ("app", "cli") or parts[-1] == "tests":
        return None
    if parts[-1] == "mod":
        parts = parts[:-1]
    if parts[0] == "embed" and len(parts) > 1:
        return "embed::" + parts[1]
    return parts[0]


def modules():
    found = {}
    for dirpath, _, files in os.walk(SRC):
        for f in files:
            rel = os.path.relpath(os.path.join(dirpath, f), SRC).replace(os.sep, "/")
            if f.endswith(".rs") and rel not in SKIP:
                node = node_of(rel)
                if node:
                    found.setdefault(node, []).append(os.path.join(SRC, rel))
    return found


def edges(node, files, names):
    out = set()
    for path in files:
        text = open(path, encoding="utf-8").read()
        cut = text.find("#[cfg(test)]\nmod tests")
        text = text if cut < 0 else text[:cut]
        for m in re.finditer(r"crate::\{([^}]*)\}", text, re.S):
            for item in m.group(1).split(","):
                head = item.strip().split("::")[0]
                if head and head[0].islower():
                    out.add(head)
        for m in re.finditer(r"crate::(\w+)(?:::(\w+))?", text):
            a, b = m.group(1), m.group(2)
            if a == "Dataset":
                a = "dataset"
            out.add("embed::" + b if a == "embed" and "embed::" + str(b) in names else a)
        if node.startswith("embed::"):
            for m in re.finditer(r"super::(?:\{([^}]*)\}|(\w+))", text, re.S):
                items = m.group(1).split(",") if m.group(1) else [m.group(2)]
                for item in items:
                    head = item.strip().split("::")[0]
                    out.add("embed::" + head if "embed::" + head in names else "embed")
    out.discard(node)
    return {e for e in out if e in names}


def cycles(graph):
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
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
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def main():
    mods = modules()
    names = set(mods)
    graph = {n: edges(n, fs, names) for n, fs in mods.items()}
    # The embed root declares its submodules; only their uses of it count as edges.
    graph["embed"] = {e for e in graph.get("embed", set()) if not e.startswith("embed::")}
    for n in sorted(graph):
        print(f"{n} -> {', '.join(sorted(graph[n])) or '(nothing)'}")
    found = cycles(graph)
    print("cycles:", found if found else "none")
    if "--check" in sys.argv and found:
        sys.exit(1)


if __name__ == "__main__":
    main()
