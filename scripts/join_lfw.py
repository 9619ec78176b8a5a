#!/usr/bin/env python3
"""New photos joining what the index knows, on LFW: how often `siamese-face people index`
puts a newly indexed face with the right person or group, without grouping again.

From a copy of scripts/identify_lfw.py's index of all LFW (target/identify_lfw/ours.sqlite,
`--ours-only`, about 25 min), every tenth photo (by path) is taken out. The remaining faces
are grouped (`people cluster`, default settings) and every group of at least --name-min
faces is named after the identity most of its faces have (a user naming the groups they
recognise). Then `people index` reads LFW again: only the photos taken out are new, and
each of their faces is suggested as a named person, joins a stored group, or stays
unknown. Scored against the photo's folder: a suggestion is right when it names the
folder's person; a join is right when most of the group's earlier faces are that person.

    python3 scripts/join_lfw.py [--suggest 0.95,0.955,0.96] [--json target/join_lfw.json]

Needs only Python's standard library and the release binary.
"""

import argparse
import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / "target" / "identify_lfw"
LFW = REPO.parent / "shared" / "data" / "lfw" / "lfw-deepfunneled"


def person(path):
    return Path(path).parent.name


def people(binary, db, *args):
    out = subprocess.run([str(binary), "people", "--index", str(db), *args],
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"people {' '.join(args)} failed: {out.stderr}")
    return out.stdout


def take_out(db, every):
    """Deletes every `every`-th photo (by path) and its faces; returns their paths."""
    con = sqlite3.connect(db)
    con.execute("PRAGMA foreign_keys = ON")
    paths = [p for (p,) in con.execute("SELECT path FROM photos ORDER BY path")]
    out = paths[every - 1::every]
    con.executemany("DELETE FROM photos WHERE path = ?", [(p,) for p in out])
    con.commit()
    con.close()
    return set(out)


def name_groups(binary, db, name_min):
    """Groups the faces and names each group of at least `name_min` after its majority
    identity; returns the stored group -> majority identity of its faces."""
    grouping = json.loads(people(binary, db, "cluster", "--json"))
    named = 0
    for g in grouping["groups"]:
        if len(g) < name_min:
            continue
        who = Counter(person(f["photo"]) for f in g).most_common(1)[0][0]
        people(binary, db, "name", who, *[str(f["face_id"]) for f in g])
        named += 1
    con = sqlite3.connect(db)
    majority = {}
    members = {}
    for group, path in con.execute(
            "SELECT g.group_id, p.path FROM face_groups g JOIN faces f ON f.id = g.face_id "
            "JOIN photos p ON p.id = f.photo_id"):
        members.setdefault(group, Counter())[person(path)] += 1
    for group, c in members.items():
        majority[group] = c.most_common(1)[0][0]
    con.close()
    return grouping, named, majority


def score(db, new_paths, majority):
    con = sqlite3.connect(db)
    rows = con.execute(
        "SELECT p.path, pe.name, a.kind, g.group_id FROM faces f "
        "JOIN photos p ON p.id = f.photo_id "
        "LEFT JOIN assignments a ON a.face_id = f.id "
        "LEFT JOIN people pe ON pe.id = a.person_id "
        "LEFT JOIN face_groups g ON g.face_id = f.id").fetchall()
    named_people = {n for (n,) in con.execute("SELECT name FROM people")}
    con.close()
    new = [r for r in rows if r[0] in new_paths]
    suggested = [r for r in new if r[2] == "suggested"]
    joined = [r for r in new if r[2] is None and r[3] is not None]
    right_s = sum(r[1] == person(r[0]) for r in suggested)
    right_j = sum(majority.get(r[3]) == person(r[0]) for r in joined)
    # Faces whose person was named: what a perfect joiner would have suggested.
    could = [r for r in new if person(r[0]) in named_people]
    return {
        "new_faces": len(new),
        "suggested": len(suggested),
        "suggestion_precision": right_s / max(len(suggested), 1),
        "suggestion_recall": right_s / max(len(could), 1),
        "joined_groups": len(joined),
        "join_precision": right_j / max(len(joined), 1),
        "unknown": len(new) - len(suggested) - len(joined),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", default=str(REPO / "target" / "release" / "siamese-face"))
    ap.add_argument("--every", type=int, default=10, help="take out every N-th photo")
    ap.add_argument("--name-min", type=int, default=3, help="name groups of at least N faces")
    ap.add_argument("--suggest", default="0.955",
                    help="comma-separated --suggest-threshold values, each from the same start")
    ap.add_argument("--json", help="write the result here too")
    args = ap.parse_args()
    source = CACHE / "ours.sqlite"
    if not source.exists():
        sys.exit(f"{source} is missing: run scripts/identify_lfw.py --ours-only first")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base.sqlite"
        shutil.copy(source, base)
        new_paths = take_out(base, args.every)
        grouping, named, majority = name_groups(args.binary, base, args.name_min)
        for t in args.suggest.split(","):
            db = Path(tmp) / f"faces-{t}.sqlite"
            shutil.copy(base, db)
            start = time.time()
            summary = json.loads(people(args.binary, db, "index", str(LFW),
                                        "--suggest-threshold", t, "--json"))
            seconds = time.time() - start
            result = {
                "suggest_threshold": float(t),
                "photos_taken_out": len(new_paths),
                "groups": len(grouping["groups"]),
                "groups_named": named,
                "index": {k: summary[k] for k in ("read", "faces_added", "suggested",
                                                  "joined_groups", "seconds")},
                "index_wall_seconds": seconds,
                **score(db, new_paths, majority),
            }
            print(json.dumps(result), flush=True)
            results.append(result)
    result = results
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
