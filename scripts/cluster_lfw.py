#!/usr/bin/env python3
"""Grouping all of LFW's faces into people, ours against dlib's, on the same images.

Ours: `siamese-face people cluster --faces largest` over an index of all 13,233 LFW
images (each photo's largest face, as the dlib side takes), with Chinese whispers and with
connected components, over a range of thresholds. dlib: `dlib.chinese_whispers_clustering`
on face_recognition's encodings of the largest HOG face (threshold 0.5 as in its example,
and a range). Scored against the true identities (the photo's folder) on the images where
both pipelines found a face: pairwise precision, recall and F1 (pairs of faces put
together), BCubed F, the number of groups (of two or more), and the time.

The embeddings come from scripts/identify_lfw.py's cache (target/identify_lfw/: ours.sqlite
from `--ours-only`, about 25 min; dlib.npz from `--dlib-only`, about 40 min on 2 cores):

    /work/pyref/bin/python scripts/identify_lfw.py --ours-only
    /work/pyref/bin/python scripts/identify_lfw.py --dlib-only
    /work/pyref/bin/python scripts/cluster_lfw.py [--json target/cluster_lfw.json]

Python set-up: see scripts/dlib_reference.py (dlib-bin, face_recognition, numpy).
"""

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / "target" / "identify_lfw"


def person(path):
    return Path(path).parent.name


def scores(labels, truth):
    """Pairwise precision/recall/F1 and BCubed F of `labels` (None: ungrouped) against
    `truth`, both dicts by image."""
    images = sorted(truth)
    # Ungrouped faces are singletons.
    cluster = {im: (labels.get(im) if labels.get(im) is not None else ("single", im))
               for im in images}
    size = Counter(cluster.values())
    per_person = Counter(truth[im] for im in images)
    both = Counter((cluster[im], truth[im]) for im in images)
    pairs = lambda n: n * (n - 1) // 2
    tp = sum(pairs(n) for n in both.values())
    predicted = sum(pairs(n) for n in size.values())
    true = sum(pairs(n) for n in per_person.values())
    p = tp / predicted if predicted else 1.0
    r = tp / true if true else 1.0
    bp = np.mean([both[(cluster[im], truth[im])] / size[cluster[im]] for im in images])
    br = np.mean([both[(cluster[im], truth[im])] / per_person[truth[im]] for im in images])
    return {
        "pairwise_precision": p,
        "pairwise_recall": r,
        "pairwise_f1": 2 * p * r / (p + r) if p + r else 0.0,
        "bcubed_f": 2 * bp * br / (bp + br),
        "groups": sum(1 for n in size.values() if n >= 2),
    }


def ours(binary, model, threshold, method):
    cmd = [binary, "people", "--index", str(CACHE / "ours.sqlite"), "--model", str(model),
           "cluster", "--faces", "largest", "--threshold", str(threshold),
           "--method", method, "--json"]
    t = time.time()
    out = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    seconds = time.time() - t
    labels = {}
    for g, group in enumerate(out["groups"]):
        for f in group:
            labels[str(Path(f["photo"]).resolve())] = g
    return labels, out["faces"], seconds


def dlib_side(threshold, enc):
    import dlib
    paths = sorted(enc)
    vectors = [dlib.vector(enc[p].tolist()) for p in paths]
    t = time.time()
    found = dlib.chinese_whispers_clustering(vectors, threshold)
    seconds = time.time() - t
    return dict(zip(paths, found)), seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=str(REPO / "weights" / "default-model"))
    ap.add_argument("--binary", default=str(REPO / "target" / "release" / "siamese-face"))
    ap.add_argument("--json", default=str(REPO / "target" / "cluster_lfw.json"))
    ap.add_argument("--ours", default="0.93,0.94,0.95,0.96,0.97")
    ap.add_argument("--dlib", default="0.40,0.45,0.50,0.55")
    args = ap.parse_args()
    z = np.load(CACHE / "dlib.npz", allow_pickle=True)
    enc = dict(zip([str(p) for p in z["paths"]], z["emb"]))
    runs = []
    # Ours first, to learn which images it has a face for.
    ours_runs = []
    for method in ["chinese-whispers", "components"]:
        for t in [float(x) for x in args.ours.split(",")]:
            labels, faces, seconds = ours(args.binary, args.model, t, method)
            ours_runs.append((method, t, labels, faces, seconds))
    # Both sides by canonical path (the index stores them resolved).
    enc = {str(Path(p).resolve()): v for p, v in enc.items()}
    all_ours = json.loads(subprocess.run(
        [args.binary, "people", "--index", str(CACHE / "ours.sqlite"), "--model", args.model,
         "cluster", "--faces", "largest", "--min-size", "1", "--threshold", "1", "--json"],
        capture_output=True, text=True, check=True).stdout)
    ours_images = {str(Path(f["photo"]).resolve()) for g in all_ours["groups"] for f in g}
    common = sorted(ours_images & set(enc))
    truth = {im: person(im) for im in common}
    print(f"{len(ours_images)} images with a face (ours), {len(enc)} (dlib), "
          f"{len(common)} both; {len(set(truth.values()))} people", file=sys.stderr)
    for method, t, labels, faces, seconds in ours_runs:
        r = scores({im: labels.get(im) for im in common}, truth)
        runs.append({"who": "ours", "method": method, "threshold": t, "seconds": seconds, **r})
        print(json.dumps(runs[-1]), file=sys.stderr)
    sub = {im: enc[im] for im in common}
    for t in [float(x) for x in args.dlib.split(",")]:
        labels, seconds = dlib_side(t, sub)
        r = scores(labels, truth)
        runs.append({"who": "dlib", "method": "chinese-whispers", "threshold": t,
                     "seconds": seconds, **r})
        print(json.dumps(runs[-1]), file=sys.stderr)
    result = {"images": len(common), "people": len(set(truth.values())), "runs": runs}
    Path(args.json).write_text(json.dumps(result, indent=2))
    best = lambda who: max((x for x in runs if x["who"] == who), key=lambda x: x["pairwise_f1"])
    for who in ["ours", "dlib"]:
        b = best(who)
        print(f"best {who}: {b['method']} at {b['threshold']}: pairwise F1 "
              f"{b['pairwise_f1']:.4f} (P {b['pairwise_precision']:.4f}, R "
              f"{b['pairwise_recall']:.4f}), BCubed F {b['bcubed_f']:.4f}, "
              f"{b['groups']} groups, {b['seconds']:.1f} s")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
