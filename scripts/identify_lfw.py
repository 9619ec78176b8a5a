#!/usr/bin/env python3
"""Open-set identification and few-shot curves on all 13,233 LFW images, ours against
dlib's face_recognition, in one run on the same images and the same protocol.

Ours: `siamese-face people index` of lfw-deepfunneled into a fresh index (which also
measures indexing throughput); each image's face is read back from the index (SQLite,
schema in docs/face-index.md), the largest one and, separately, the one nearest the image
centre (LFW's labelled face). dlib: face_recognition's own pipeline (HOG face_locations
with upsample 1, the largest face, face_encodings model "small").
An image where a pipeline finds no face has no embedding on that side.

Protocols (people and images sorted by name):
  open set   gallery = the first image of each of the 1,680 people with >= 2 images;
             known probes = their other 7,484 images; unknown probes = the 4,069 people
             with one image. Rank-1 over known probes (a probe without a face, or whose
             person has no gallery face, counts as a miss); DIR at FAR 1 % and 10 %: the
             threshold lets that fraction of unknown probes be named (an unknown probe
             without a face is never named), DIR = known probes named correctly at it.
  few-shot   the 311 people with >= 6 images: enrol their first 1, 3 or 5 images, probe
             with the rest after the 5th (the same probes for every n), closed set:
             rank-1 with the best-of and the mean matching.

    /work/pyref/bin/python scripts/identify_lfw.py [--lfw DIR] [--model DIR] \
        [--json target/identify_lfw.json]

Embeddings are cached in target/identify_lfw/ (delete it to measure again). The full run
indexes all of LFW with both pipelines (about 25 + 40 minutes on 2 cores); throughput is
better measured on an idle machine with `--speed 300 --json target/identify_speed.json`
(the same 300 images indexed by both, alternated twice). Python set-up:
see scripts/dlib_reference.py (dlib-bin, face_recognition, numpy).
"""

import argparse
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / "target" / "identify_lfw"
FAR_LEVELS = (0.01, 0.10)


def lfw_images(lfw):
    root = Path(lfw) / "lfw-deepfunneled"
    people = {}
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        images = sorted(str(p.resolve()) for p in d.iterdir() if p.suffix.lower() == ".jpg")
        if images:
            people[d.name] = images
    return root, people


def ours(root, model, binary):
    """(embeddings by image path for each face rule, seconds, summary) from a fresh index of
    all of LFW. Rules: "largest" (what `people enrol` takes from a photo with several
    faces, and what the dlib side takes) and "centre" (the face nearest the image centre,
    LFW's convention for the labelled face, as `eval` crops it)."""
    out = CACHE / "ours.npz"
    db = CACHE / "ours.sqlite"
    if out.exists():
        z = np.load(out, allow_pickle=True)
        seconds, summary = float(z["seconds"]), json.loads(str(z["summary"]))
    else:
        for f in CACHE.glob("ours.sqlite*"):
            f.unlink()
        cmd = [binary, "people", "--index", str(db), "--model", str(model), "index", str(root),
               "--json"]
        t = time.time()
        res = subprocess.run(cmd, capture_output=True, text=True, check=True)
        seconds = time.time() - t
        summary = json.loads(res.stdout)
        np.savez(out, seconds=seconds, summary=json.dumps(summary))
    con = sqlite3.connect(db)
    rows = con.execute(
        "SELECT p.path, p.width, p.height, f.x1, f.y1, f.x2, f.y2, f.embedding FROM photos p "
        "JOIN faces f ON f.photo_id = p.id ORDER BY f.id").fetchall()
    largest, centre = {}, {}
    for path, w, h, x1, y1, x2, y2, blob in rows:
        e = np.frombuffer(blob, dtype="<f4")
        d = ((x1 + x2) / 2 - w / 2) ** 2 + ((y1 + y2) / 2 - h / 2) ** 2
        largest.setdefault(path, e)  # faces are stored largest first
        if path not in centre or d < centre[path][0]:
            centre[path] = (d, e)
    rules = {"largest": largest, "centre": {p: e for p, (_, e) in centre.items()}}
    return rules, seconds, summary


def dlib_side(people):
    """(encodings by image path, seconds) from face_recognition on every image."""
    out = CACHE / "dlib.npz"
    if out.exists():
        z = np.load(out, allow_pickle=True)
        return dict(zip(z["paths"], z["emb"])), float(z["seconds"])
    import face_recognition
    paths, embs = [], []
    images = [p for imgs in people.values() for p in imgs]
    t = time.time()
    for n, path in enumerate(images):
        img = face_recognition.load_image_file(path)
        locs = face_recognition.face_locations(img, 1, model="hog")
        if locs:
            loc = max(locs, key=lambda l: (l[2] - l[0]) * (l[1] - l[3]))
            embs.append(face_recognition.face_encodings(img, [loc], model="small")[0])
            paths.append(path)
        if n % 500 == 0:
            print(f"dlib: {n}/{len(images)} images, {time.time() - t:.0f} s", file=sys.stderr)
    seconds = time.time() - t
    np.savez(out, paths=np.array(paths, dtype=object), emb=np.array(embs), seconds=seconds)
    return dict(zip(paths, embs)), seconds


def speed(people, n, model, binary, rounds=2):
    """Photos per second of indexing the same n images (spread over LFW), ours and dlib's
    face_recognition (HOG, landmarks, encoding), alternated `rounds` times."""
    import tempfile
    import face_recognition
    images = [p for imgs in people.values() for p in imgs]
    chosen = images[:: max(1, len(images) // n)][:n]
    out = {"images": len(chosen), "ours": [], "dlib": []}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        for i, p in enumerate(chosen):
            (folder / f"{i:05d}_{Path(p).name}").symlink_to(p)
        for r in range(rounds):
            db = Path(tmp) / f"speed{r}.sqlite"
            res = subprocess.run([binary, "people", "--index", str(db), "--model", str(model),
                                  "index", str(folder), "--json"],
                                 capture_output=True, text=True, check=True)
            out["ours"].append(json.loads(res.stdout)["photos_per_second"])
            t = time.time()
            for p in chosen:
                img = face_recognition.load_image_file(p)
                locs = face_recognition.face_locations(img, 1, model="hog")
                if locs:
                    loc = max(locs, key=lambda l: (l[2] - l[0]) * (l[1] - l[3]))
                    face_recognition.face_encodings(img, [loc], model="small")
            out["dlib"].append(len(chosen) / (time.time() - t))
            print(f"speed round {r + 1}: ours {out['ours'][-1]:.2f}, dlib {out['dlib'][-1]:.2f} "
                  "photos/s", file=sys.stderr)
    return out


def similarity(kind, probes, gallery):
    """Higher is more alike: cosine for ours (unit vectors), minus the distance for dlib."""
    if kind == "ours":
        return probes @ gallery.T
    d2 = (probes ** 2).sum(1)[:, None] + (gallery ** 2).sum(1)[None, :] - 2 * probes @ gallery.T
    return -np.sqrt(np.maximum(d2, 0))


def top1(kind, emb, probe_paths, gallery_paths, gallery_ids, matching="best"):
    """(best score, best identity) per probe; None for a probe without an embedding."""
    have = [p for p in gallery_paths if p in emb]
    ids = np.array([gallery_ids[p] for p in have])
    g = np.stack([emb[p] for p in have])
    if matching == "mean":
        uniq = sorted(set(ids))
        g = np.stack([g[ids == u].mean(0) for u in uniq])
        if kind == "ours":
            g /= np.linalg.norm(g, axis=1, keepdims=True)
        ids = np.array(uniq)
    out = [None] * len(probe_paths)
    idx = [i for i, p in enumerate(probe_paths) if p in emb]
    if not idx:
        return out, 0.0
    t = time.perf_counter()
    s = similarity(kind, np.stack([emb[probe_paths[i]] for i in idx]), g)
    # With "best" the rows are each person's faces, so the top face names the top person;
    # with "mean" they are the people's means.
    j = s.argmax(1)
    best, who = s[np.arange(len(idx)), j], ids[j]
    ms = 1e3 * (time.perf_counter() - t) / len(idx)
    for k, i in enumerate(idx):
        out[i] = (float(best[k]), who[k])
    return out, ms


def open_set(kind, emb, people):
    multi = {n: imgs for n, imgs in people.items() if len(imgs) >= 2}
    single = {n: imgs for n, imgs in people.items() if len(imgs) == 1}
    gallery = [imgs[0] for imgs in multi.values()]
    gid = {imgs[0]: n for n, imgs in multi.items()}
    known = [(p, n) for n, imgs in multi.items() for p in imgs[1:]]
    unknown = [imgs[0] for imgs in single.values()]
    k_hits, ms = top1(kind, emb, [p for p, _ in known], gallery, gid)
    u_hits, _ = top1(kind, emb, unknown, gallery, gid)
    correct = np.array([h is not None and h[1] == n for h, (_, n) in zip(k_hits, known)])
    k_score = np.array([h[0] if h else -np.inf for h in k_hits])
    u_score = np.array([h[0] if h else -np.inf for h in u_hits])
    r = {"gallery": len(gallery), "gallery_without_face": sum(p not in emb for p in gallery),
         "known_probes": len(known), "unknown_probes": len(unknown),
         "probes_without_face": int(sum(h is None for h in k_hits + u_hits)),
         "rank1": float(correct.mean()), "search_ms_per_probe": ms}
    for far in FAR_LEVELS:
        t = np.quantile(u_score[np.isfinite(u_score)], 1 - far) if np.isfinite(u_score).any() else np.inf
        r[f"dir_at_far_{far:g}"] = float((correct & (k_score > t)).mean())
        r[f"threshold_at_far_{far:g}"] = float(t)
    return r


def few_shot(kind, emb, people, shots=(1, 3, 5)):
    six = {n: imgs for n, imgs in people.items() if len(imgs) >= 6}
    probes = [(p, n) for n, imgs in six.items() for p in imgs[5:]]
    r = {"people": len(six), "probes": len(probes)}
    for matching in ("best", "mean"):
        for k in shots:
            gallery = [p for imgs in six.values() for p in imgs[:k]]
            gid = {p: n for n, imgs in six.items() for p in imgs[:k]}
            hits, _ = top1(kind, emb, [p for p, _ in probes], gallery, gid, matching)
            r[f"rank1_{matching}_{k}"] = float(np.mean([h is not None and h[1] == n
                                                        for h, (_, n) in zip(hits, probes)]))
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lfw", default=str(REPO.parent / "shared" / "data" / "lfw"))
    ap.add_argument("--model", default=str(REPO / "weights" / "default-model"))
    ap.add_argument("--binary", default=str(REPO / "target" / "release" / "siamese-face"))
    ap.add_argument("--json", default=str(REPO / "target" / "identify_lfw.json"))
    ap.add_argument("--dlib-only", action="store_true",
                    help="only compute (and cache) dlib's encodings")
    ap.add_argument("--speed", type=int, metavar="N",
                    help="only time indexing N images, ours against dlib (idle machine)")
    ap.add_argument("--ours-only", action="store_true",
                    help="only index LFW with siamese-face (and cache the embeddings)")
    args = ap.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    root, people = lfw_images(args.lfw)
    n_images = sum(len(v) for v in people.values())
    print(f"{len(people)} people, {n_images} images", file=sys.stderr)
    if args.dlib_only:
        dlib_side(people)
        return
    if args.speed:
        r = speed(people, args.speed, args.model, args.binary)
        Path(args.json).write_text(json.dumps(r, indent=2))
        print(f"indexing {r['images']} images: ours {min(r['ours']):.2f}-{max(r['ours']):.2f}, "
              f"dlib {min(r['dlib']):.2f}-{max(r['dlib']):.2f} photos/s; wrote {args.json}")
        return
    if args.ours_only:
        ours(root, args.model, args.binary)
        return
    rules, ours_s, summary = ours(root, args.model, args.binary)
    dlib_emb, dlib_s = dlib_side(people)
    result = {"images": n_images,
              "ours_index": {"seconds": ours_s, "photos_per_second": n_images / ours_s,
                             "summary": summary}}
    for rule, emb in rules.items():
        result[f"ours_{rule}"] = {"images_with_face": len(emb),
                                  "open_set": open_set("ours", emb, people),
                                  "few_shot": few_shot("ours", emb, people)}
    result["dlib_largest"] = {"seconds": dlib_s, "photos_per_second": n_images / dlib_s,
                              "images_with_face": len(dlib_emb),
                              "open_set": open_set("dlib", dlib_emb, people),
                              "few_shot": few_shot("dlib", dlib_emb, people)}
    Path(args.json).write_text(json.dumps(result, indent=2))
    print(f"indexing: ours {n_images / ours_s:.1f} images/s, dlib {n_images / dlib_s:.1f} "
          "(both in this run, possibly sharing the machine; see --speed)")
    for side in ("ours_largest", "ours_centre", "dlib_largest"):
        o, f = result[side]["open_set"], result[side]["few_shot"]
        print(f"{side:13s} rank-1 {o['rank1']:.4f}  DIR@FAR1% {o['dir_at_far_0.01']:.4f} "
              f"(threshold {o['threshold_at_far_0.01']:.3f})  DIR@FAR10% "
              f"{o['dir_at_far_0.1']:.4f}  search {o['search_ms_per_probe']:.3f} ms/probe  "
              f"faces on {result[side]['images_with_face']}/{n_images}")
        print("      few-shot rank-1 " + "  ".join(
            f"{m} {k}: {f[f'rank1_{m}_{k}']:.4f}" for m in ("best", "mean") for k in (1, 3, 5)))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
