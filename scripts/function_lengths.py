#!/usr/bin/env python3
"""Functions in src/ longer than a limit (default 80 lines), longest first.

    python3 scripts/function_lengths.py [LIMIT]

A function spans from its `fn` line to its closing brace (braces in strings, characters
and line comments are ignored).
"""
import os
import re
import sys

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
FN = re.compile(r"\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?fn\s+(\w+)")


def clean(line):
    line = re.sub(r'"(\\.|[^"\\])*"', '""', line)
    line = re.sub(r"'(\\.|[^'\\])'", "''", line)
    return line.split("//")[0]


def span(lines, start):
    depth, opened = 0, False
    for j in range(start, len(lines)):
        text = clean(lines[j])
        if not opened and ";" in text and "{" not in text:
            return None
        for ch in text:
            if ch == "{":
                depth, opened = depth + 1, True
            elif ch == "}":
                depth -= 1
        if opened and depth == 0:
            return j - start + 1
    return None


def main():
    limit = int(sys.argv[1]) if len(sys.argv) > 1 else 80
    long = []
    for dirpath, _, files in os.walk(SRC):
        for f in files:
            if not f.endswith(".rs"):
                continue
            path = os.path.join(dirpath, f)
            lines = open(path, encoding="utf-8").read().split("\n")
            for i, line in enumerate(lines):
                m = FN.match(line)
                n = m and span(lines, i)
                if n and n > limit:
                    long.append((n, os.path.relpath(path, os.path.join(SRC, "..")), m.group(5), i + 1))
    for n, path, name, line in sorted(long, reverse=True):
        print(f"{n:4} lines  {path}:{line}  {name}")
    print(f"{len(long)} function(s) over {limit} lines")


if __name__ == "__main__":
    main()
