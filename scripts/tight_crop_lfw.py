#!/usr/bin/env python3
"""Verification on photos that are already face crops: LFW's View 1 (pairsDevTrain,
pairsDevTest) cut to the face, ours (`siamese-face eval`) against dlib's face_recognition
on the same images, in one run.

Sets (all generated under --work, never committed):
  original   the deep-funneled 250x250 images as they are (for reference)
  tight      each image cut to its face box, squared around the box's centre (side = the
             box's longer side, no margin) and resized to 150x150: forehead and chin touch
             the frame
  tight-cut  the tight square with its top 15 % cut off (and 7.5 % off each side, so it
             stays square), resized to 150x150: the forehead is lost
The face box is MTCNN's (`siamese-face detect`, the face nearest the image centre, LFW's
labelled face) on the original image; an image without a detected face keeps its centre
(LFW images are centred on the face, about 100 px high).

Ours: `siamese-face eval --data SET --pairs pairsDevTrain --json` gives the threshold best
on DevTrain; DevTest is scored at it (`--threshold`), and at the model's stored threshold.
dlib: face_recognition's pipeline (HOG face_locations with upsample 1, the largest face,
face_encodings model "small"); a photo where HOG finds no face is encoded with the whole
photo as its face box (counted as a fallback). Its distance's threshold is chosen on
DevTrain the same way; its "stored" threshold is face_recognition's tolerance 0.6.
Reported per set and pipeline: DevTest accuracy at the DevTrain threshold, at the stored
threshold, the best DevTest accuracy (optimistic) and AUC. `--centring` also scores ours
with every embedding centred (the mean DevTrain embedding, times 0, 0.5 or 1, subtracted,
then re-normalised), the similarity-spreading the issue proposed.

    VENV/bin/python scripts/tight_crop_lfw.py [--lfw ../shared/data/lfw] \
        [--model DIR] [--sets original,tight,tight-cut] [--json target/tight_crop.json]

Crops, boxes and dlib's encodings are kept in target/tight_crop/ (delete it to start
over; ours are cached by `eval` in target/tight_crop/cache/<set>, see --ours-cache). Python set-up: see
scripts/dlib_reference.py (dlib-bin, face_recognition, numpy, Pillow).
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
LISTS = ("pairsDevTrain", "pairsDevTest")
SIDE = 150


def read_pairs(path):
    """[(image a, image b, same)] with images as 'Person/Person_0001.jpg'."""
    lines = [l.split() for l in Path(path).read_text().splitlines()[1:] if l.strip()]
    name = lambda p, n: f"{p}/{p}_{int(n):04d}.jpg"
    out = []
    for f in lines:
        if len(f) == 3:
            out.append((name(f[0], f[1]), name(f[0], f[2]), True))
        elif len(f) == 4:
            out.append((name(f[0], f[1]), name(f[2], f[3]), False))
    return out


def boxes(binary, root, images, work):
    """MTCNN's box of the face nearest the centre of each image (None: no face)."""
    cache = work / "boxes.json"
    found = json.loads(cache.read_text()) if cache.exists() else {}
    todo = [i for i in images if i not in found]
    for start in range(0, len(todo), 500):
        chunk = todo[start : start + 500]
        out = subprocess.run(
            [binary, "--backend", "cpu", "detect", "--json", *[str(root / i) for i in chunk]],
            check=True, capture_output=True, text=True,
        ).stdout
        for image, line in zip(chunk, out.splitlines()):
            d = json.loads(line)
            cx, cy = d["width"] / 2, d["height"] / 2
            centre = lambda f: ((f["box"][0] + f["box"][2]) / 2 - cx) ** 2 + ((f["box"][1] + f["box"][3]) / 2 - cy) ** 2
            faces = sorted(d["faces"], key=centre)
            found[image] = faces[0]["box"] if faces else None
        cache.write_text(json.dumps(found))
        print(f"  boxes: {len(found)}/{len(images)}", file=sys.stderr)
    return found


def cut(img, box, variant):
    """The variant's square crop of a PIL image, 150x150."""
    w, h = img.size
    if box is None:
        box = [w / 2 - 50, h / 2 - 60, w / 2 + 50, h / 2 + 60]
    x0, y0, x1, y1 = box
    side = max(x1 - x0, y1 - y0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    left, top = cx - side / 2, cy - side / 2
    if variant == "tight-cut":
        left, top, side = left + 0.075 * side, top + 0.15 * side, 0.85 * side
    return img.crop((round(left), round(top), round(left + side), round(top + side))).resize(
        (SIDE, SIDE), Image.BILINEAR
    )


def make_set(lfw, work, variant, images, found):
    """A dataset folder in LFW's layout holding the variant's crops and the View 1 lists."""
    root = work / variant
    for image in images:
        out = root / "lfw" / image
        if out.exists():
            continue
        out.parent.mkdir(parents=True, exist_ok=True)
        img = Image.open(lfw / "lfw-deepfunneled" / image).convert("RGB")
        cut(img, found[image], variant).save(out, quality=95)
    for name in LISTS:
        (root / f"{name}.txt").write_text((lfw / f"{name}.txt").read_text())
    return root


def best_threshold(scores, same):
    """The threshold (midpoint between neighbouring scores) with the best accuracy."""
    order = np.argsort(scores)
    s, y = scores[order], same[order]
    # Accuracy when everything >= s[i] is called same.
    pos_at_or_above = np.cumsum(y[::-1])[::-1]
    neg_below = np.concatenate([[0], np.cumsum(~y)[:-1]])
    acc = (pos_at_or_above + neg_below) / len(s)
    i = int(np.argmax(acc))
    t = (s[i] + s[i - 1]) / 2 if i > 0 else s[0] - 1e-6
    return float(t), float(acc[i])


def accuracy(scores, same, t):
    return float(np.mean((scores >= t) == same))


def auc(scores, same):
    pos, neg = scores[same], scores[~same]
    ranks = np.argsort(np.argsort(np.concatenate([pos, neg]))) + 1
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def ours(binary, root, model, cache):
    """DevTest at the DevTrain threshold and at the stored one, from `siamese-face eval`."""
    def run(pairs, *extra):
        args = [binary, "--backend", "cpu", "eval", "--data", str(root), "--pairs", pairs,
                "--cache", str(cache), "--json", *extra]
        if model:
            args += ["--model", model]
        return json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)

    t0 = time.time()
    train = run("pairsDevTrain")
    at_train = run("pairsDevTest", "--threshold", str(train["best_threshold"]))
    stored = run("pairsDevTest")
    return {
        "threshold_from_devtrain": train["best_threshold"],
        "accuracy_at_devtrain_threshold": at_train["accuracy"],
        "stored_threshold": stored["threshold"],
        "accuracy_at_stored_threshold": stored["accuracy"],
        "best_accuracy": at_train["best_accuracy"],
        "auc": at_train["auc"],
        "fallbacks": {"devtrain": train["fallback_crops"], "devtest": at_train["fallback_crops"]},
        "unscored_pairs": at_train["unscored_pairs"],
        "seconds": round(time.time() - t0, 1),
    }


def dlib_encodings(root, images, work, name):
    """face_recognition's encoding of each image, and the images where HOG found no face."""
    import face_recognition

    cache = work / f"dlib-{name}.npz"
    if cache.exists():
        z = np.load(cache, allow_pickle=True)
        return dict(zip(z["images"], z["encodings"])), list(z["fallbacks"])
    out, fallbacks = {}, []
    for k, image in enumerate(images):
        img = face_recognition.load_image_file(root / image)
        locations = face_recognition.face_locations(img, number_of_times_to_upsample=1)
        if locations:
            largest = max(locations, key=lambda l: (l[2] - l[0]) * (l[1] - l[3]))
        else:
            largest = (0, img.shape[1], img.shape[0], 0)
            fallbacks.append(image)
        out[image] = face_recognition.face_encodings(img, [largest], model="small")[0]
        if (k + 1) % 500 == 0:
            print(f"  dlib {name}: {k + 1}/{len(images)}", file=sys.stderr)
    np.savez(cache, images=np.array(list(out)), encodings=np.array(list(out.values())),
             fallbacks=np.array(fallbacks, dtype=object))
    return out, fallbacks


def dlib(root, images, pairs, work, name):
    t0 = time.time()
    enc, fallbacks = dlib_encodings(root, images, work, name)
    def scored(kind):
        p = pairs[kind]
        d = np.array([np.linalg.norm(enc[a] - enc[b]) for a, b, _ in p])
        return -d, np.array([s for _, _, s in p])
    s_train, y_train = scored("pairsDevTrain")
    s_test, y_test = scored("pairsDevTest")
    t, _ = best_threshold(s_train, y_train)
    _, best = best_threshold(s_test, y_test)
    return {
        "threshold_from_devtrain": -t,
        "accuracy_at_devtrain_threshold": accuracy(s_test, y_test, t),
        "stored_threshold": 0.6,
        "accuracy_at_stored_threshold": accuracy(s_test, y_test, -0.6),
        "best_accuracy": best,
        "auc": auc(s_test, y_test),
        "fallbacks": len(fallbacks),
        "seconds": round(time.time() - t0, 1),
    }


def centring(cache, pairs):
    """The centring experiment on ours' cached embeddings of one set (its own cache folder,
    one embeddings file): subtract alpha x the mean DevTrain embedding, re-normalise, and
    score DevTest at the DevTrain threshold."""
    files = sorted((cache / "embeddings").glob("*.json"), key=lambda f: f.stat().st_mtime)
    emb = {k: np.array(v["embedding"]) for k, v in json.loads(files[-1].read_text())["images"].items()}
    train = sorted({i for a, b, _ in pairs["pairsDevTrain"] for i in (a, b)})
    mean = np.mean([emb[i] for i in train], axis=0)
    out = {}
    for alpha in (0.0, 0.5, 1.0):
        def unit(i):
            e = emb[i] - alpha * mean
            return e / np.linalg.norm(e)
        def scored(kind):
            p = pairs[kind]
            return (np.array([unit(a) @ unit(b) for a, b, _ in p]), np.array([s for _, _, s in p]))
        s_train, y_train = scored("pairsDevTrain")
        s_test, y_test = scored("pairsDevTest")
        t, _ = best_threshold(s_train, y_train)
        out[str(alpha)] = {
            "accuracy_at_devtrain_threshold": accuracy(s_test, y_test, t),
            "best_accuracy": best_threshold(s_test, y_test)[1],
            "auc": auc(s_test, y_test),
            "mean_cosine_different_people": float(s_test[~y_test].mean()),
        }
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lfw", default=str(REPO.parent / "shared" / "data" / "lfw"))
    ap.add_argument("--model", help="model folder (default: the shipped default)")
    ap.add_argument("--bin", default=str(REPO / "target" / "release" / "siamese-face"))
    ap.add_argument("--sets", default="original,tight,tight-cut")
    ap.add_argument("--skip-dlib", action="store_true", help="ours only (while iterating)")
    ap.add_argument("--ours-cache", default="cache",
                    help="crop and embedding caches of ours under target/tight_crop/NAME/<set> "
                         "(another name measures another build from scratch)")
    ap.add_argument("--centring", action="store_true",
                    help="also score ours with its embeddings centred (see centring())")
    ap.add_argument("--json", help="write the results here too")
    args = ap.parse_args()
    lfw = Path(args.lfw)
    if not (lfw / "pairsDevTest.txt").exists():
        sys.exit(f"LFW not found at {lfw} (see ../shared/data/README.md)")
    work = REPO / "target" / "tight_crop"
    work.mkdir(parents=True, exist_ok=True)
    pairs = {name: read_pairs(lfw / f"{name}.txt") for name in LISTS}
    images = sorted({i for p in pairs.values() for a, b, _ in p for i in (a, b)})
    results = {}
    for variant in args.sets.split(","):
        print(f"{variant}:", file=sys.stderr)
        if variant == "original":
            root = lfw
            image_root = lfw / "lfw-deepfunneled"
        else:
            found = boxes(args.bin, lfw / "lfw-deepfunneled", images, work)
            root = make_set(lfw, work, variant, images, found)
            image_root = root / "lfw"
        cache = work / args.ours_cache / variant
        results[variant] = {"ours": ours(args.bin, root, args.model, cache)}
        if args.centring:
            results[variant]["ours_centred"] = centring(cache, pairs)
        if not args.skip_dlib:
            results[variant]["dlib"] = dlib(image_root, images, pairs, work, variant)
        print(json.dumps({variant: results[variant]}), file=sys.stderr)
    print(f"{'set':10} {'pipeline':6} {'acc@train-t':>11} {'acc@stored':>10} {'best':>6} {'AUC':>7}")
    for variant, r in results.items():
        for alpha, m in r.get("ours_centred", {}).items():
            print(f"{variant:10} ours centred x{alpha}: acc@train-t {m['accuracy_at_devtrain_threshold']:.4f} "
                  f"best {m['best_accuracy']:.4f} AUC {m['auc']:.4f} "
                  f"(different people's mean cosine {m['mean_cosine_different_people']:.3f})")
        for who, m in r.items():
            if who == "ours_centred":
                continue
            print(f"{variant:10} {who:6} {m['accuracy_at_devtrain_threshold']:11.4f} "
                  f"{m['accuracy_at_stored_threshold']:10.4f} {m['best_accuracy']:6.4f} {m['auc']:7.4f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
