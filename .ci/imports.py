#!/usr/bin/env python3
"""Fails when holmes-runtime's top-level modules import each other in a circle.

A module here is a top-level module of the crate (`crate::dump`, with all its
submodules). Module A imports B when a file of A names `crate::B` (in a `use` or
inline), outside its `#[cfg(test)]` module. The import graph must have no cycle:
pipeline imports flow one way (guard -> watch -> dump -> report), and every module may
read the plain data below them (config, event, state, ...).

Usage: .ci/imports.py [src dir]   (default: holmes-runtime/src)
Prints the graph, then each cycle found; exits 1 when there is one.
"""
import os
import re
import sys

src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "holmes-runtime", "src")


def top_module(path):
    rel = os.path.relpath(path, src).replace(os.sep, "/")
    first = rel.split("/")[0]
    return None if first == "lib.rs" else first[:-3] if first.endswith(".rs") else first


def without_tests(text):
    # The `#[cfg(test)] mod …` block: from its attribute to the end of the file, or to
    # the brace that closes it.
    m = re.search(r"#\[cfg\(test\)\]\s*(pub(\(\w+\))?\s+)?mod\s+\w+\s*\{", text)
    if not m:
        return text
    depth, i = 1, m.end()
    while i < len(text) and depth:
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
    return text[: m.start()] + without_tests(text[i:])


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def names(text):
    """Top-level modules named after `crate::`, grouped uses included."""
    out = set()
    for m in re.finditer(r"\bcrate::(\{|[A-Za-z_]\w*)", text):
        if m.group(1) != "{":
            out.add(m.group(1))
            continue
        depth, i, start = 1, m.end(), m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        body = text[start : i - 1]
        # First segments of the group's top-level items.
        depth, item = 0, ""
        for ch in body + ",":
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            if ch == "," and depth == 0:
                seg = re.match(r"\s*([A-Za-z_]\w*)", item)
                if seg and seg.group(1) != "self":
                    out.add(seg.group(1))
                item = ""
            else:
                item += ch
    return out


def root_reexports():
    """`crate::Name` of a name the crate root re-exports (`pub use module::…::{Name}`)
    stands for that module."""
    text = strip_comments(open(os.path.join(src, "lib.rs"), encoding="utf-8").read())
    out = {}
    for m in re.finditer(r"pub use ([A-Za-z_]\w*)((?:::\w+)*)::(\{[^}]*\}|\w+)\s*;", text):
        for name in re.findall(r"\w+", m.group(3)):
            out[name] = m.group(1)
    return out


modules = set()
files = []
for root, _, fs in os.walk(src):
    for f in fs:
        if f.endswith(".rs"):
            p = os.path.join(root, f)
            files.append(p)
            t = top_module(p)
            if t:
                modules.add(t)

reexports = root_reexports()
edges = {m: set() for m in modules}
where = {}
for p in sorted(files):
    a = top_module(p)
    if a is None:
        continue
    text = without_tests(strip_comments(open(p, encoding="utf-8").read()))
    for b in names(text):
        b = reexports.get(b, b)
        if b in modules and b != a:
            edges[a].add(b)
            where.setdefault((a, b), []).append(os.path.relpath(p, src))

# Strongly connected components (Tarjan).
index, low, stack, on, sccs = {}, {}, [], set(), []


def visit(v):
    index[v] = low[v] = len(index)
    stack.append(v)
    on.add(v)
    for w in sorted(edges[v]):
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
        sccs.append(sorted(comp))


for v in sorted(modules):
    if v not in index:
        visit(v)

for a in sorted(edges):
    print(f"{a} -> {', '.join(sorted(edges[a])) or '-'}")
cycles = [c for c in sccs if len(c) > 1]
for c in cycles:
    print(f"cycle: {' <-> '.join(c)}", file=sys.stderr)
    for a in c:
        for b in sorted(edges[a] & set(c)):
            print(f"  {a} -> {b}: {', '.join(where[(a, b)])}", file=sys.stderr)
sys.exit(1 if cycles else 0)
