#!/usr/bin/env python3
"""Training on your own people, measured on LFW: the 311 people with >= 6 images are
enrolled with all their images (`people enrol`, the face nearest the centre, LFW's labelled
face), then `people train` trains the model's head on each person's first K images (in
sorted order) and identifies the rest among those 311 people (closed set, each person
matched by their mean) before and after. K = 5 gives the same probes as the 5-photo column
of the few-shot curve in scripts/identify_lfw.py.

    python3 scripts/people_train_lfw.py [--lfw DIR] [--binary PATH] [--model DIR]
        [--k 5 3] [--steps 200] [--lr 1e-3] [--json target/people_train_lfw.json]

--model: the model trained (default: the shipped one). The enrolled index of each model is
kept in target/people_train_lfw/ (delete it to enrol again; about 3 minutes on 2 cores);
each training run writes its model there too.
"""

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "target" / "people_train_lfw"


def people_with(lfw, at_least):
    root = Path(lfw) / "lfw-deepfunneled"
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        images = sorted(p for p in d.iterdir() if p.suffix.lower() == ".jpg")
        if len(images) >= at_least:
            yield d.name, images


def known_folder(lfw):
    """<person>/<image> links to every image of the people with >= 6 images."""
    known = WORK / "known"
    if known.exists():
        shutil.rmtree(known)
    count = 0
    for name, images in people_with(lfw, 6):
        (known / name).mkdir(parents=True)
        for image in images:
            (known / name / image.name).symlink_to(image.resolve())
            count += 1
    return known, count


def people(binary, db, *args):
    cmd = [binary, "people", "--index", str(db), *map(str, args)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{res.stderr}")
    return json.loads(res.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lfw", default=str(REPO.parent / "shared" / "data" / "lfw"))
    ap.add_argument("--binary", default=str(REPO / "target" / "release" / "siamese-face"))
    ap.add_argument("--model", help="model folder (default: the shipped model)")
    ap.add_argument("--k", type=int, nargs="+", default=[5, 3])
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--json")
    args = ap.parse_args()

    WORK.mkdir(parents=True, exist_ok=True)
    model = ["--model", str(Path(args.model).resolve())] if args.model else []
    tag = Path(args.model).resolve().name if args.model else "default"
    db = WORK / f"enrolled-{tag}.sqlite"
    if not db.exists():
        known, count = known_folder(args.lfw)
        t = time.time()
        enrolling = WORK / f"enrolling-{tag}.sqlite"
        enrolled = people(args.binary, enrolling, *model, "enrol", known, "--pick", "centre",
                          "--json")
        print(f"enrolled {len(enrolled['enrolled'])} of {count} images "
              f"({len(enrolled['failed'])} without a face) in {time.time() - t:.0f} s")
        for f in WORK.glob(f"enrolling-{tag}.sqlite*"):
            f.rename(WORK / f.name.replace("enrolling", "enrolled"))

    runs = []
    for k in args.k:
        out = WORK / f"{tag}-k{k}-steps{args.steps}-lr{args.lr:g}"
        shutil.rmtree(out, ignore_errors=True)
        s = people(args.binary, db, *model, "train", "--out", out, "--train-per-person", k,
                   "--steps", args.steps, "--lr", args.lr, "--json")
        runs.append({"model": tag, "k": k, "steps_asked": args.steps, "lr": args.lr, **s})

    print(f"{'K':>2} {'people':>6} {'train':>6} {'test':>6}  {'rank-1 before':>13} "
          f"{'after':>6}  {'named before':>12} {'after':>6}  {'FA before':>9} {'after':>7}  "
          f"{'threshold':>9} {'after':>6} {'unknown':>7}  {'steps':>5} {'train s':>7} "
          f"{'total s':>7}")
    for r in runs:
        b, a = r["before"], r["after"]
        print(f"{r['k']:>2} {r['trained_people']:>6} {r['training_faces']:>6} "
              f"{r['test_faces']:>6}  {b['rank1']:>13.4f} {a['rank1']:>6.4f}  "
              f"{b['named_at_threshold']:>12.4f} {a['named_at_threshold']:>6.4f}  "
              f"{b['false_accepts_at_threshold']:>9.5f} {a['false_accepts_at_threshold']:>7.5f}  "
              f"{r['threshold_before']:>9.4f} {r['threshold']:>6.4f} {r['unknown_faces']:>7}  "
              f"{r['steps']:>5} {r['training_seconds']:>7.1f} {r['seconds']:>7.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()
