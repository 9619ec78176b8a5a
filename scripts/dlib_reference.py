#!/usr/bin/env python3
"""Reference outputs of dlib's face-recognition pipeline (via face_recognition).

The Rust port of dlib's ResNet face descriptor ("dlib_face_recognition_resnet_
model_v1", 128-d) is checked against what dlib itself computes.  This script
runs dlib's own pipeline as the `face_recognition` package drives it:

    HOG face_locations (number_of_times_to_upsample=1, largest face kept)
    -> 5-point shape predictor (face_recognition.api.pose_predictor_5_point,
       the one face_encodings(model="small") uses)
    -> dlib.get_face_chip(img, shape, size=150, padding=0.25)
    -> face_encoder.compute_face_descriptor(chip)

Subcommands (run from the repo root):

  chips     write 150x150 aligned chips as PNG plus a JSON fixture holding
            dlib's 128-d descriptor of each chip (tests/fixtures/...)
  template  mean/std of facenet-pytorch MTCNN's 5 landmarks in dlib chip
            coordinates, i.e. where dlib's alignment puts eyes/nose/mouth:
            MTCNN run on the chip itself, and (more reliable, see
            cmd_template) MTCNN run on the full image and mapped into the chip
  bench     per-face timing of dlib's descriptor on this machine

    /work/pyref/bin/python scripts/dlib_reference.py chips \
        --out-dir tests/fixtures/dlib_chips \
        --json tests/fixtures/dlib_reference.json
    /work/pyref/bin/python scripts/dlib_reference.py template \
        --count 1000 --json /tmp/dlib_template.json
    /work/pyref/bin/python scripts/dlib_reference.py bench \
        --count 100 --json /tmp/dlib_bench.json

With no IMAGE arguments `chips` takes the first image of each person in
peopleDevTrain.txt file order, skipping images where HOG finds no face, until
--people (default 8) are collected.  IMAGE paths are relative to
<lfw>/lfw-deepfunneled, e.g. Aaron_Peirsol/Aaron_Peirsol_0001.jpg.

Set-up (venv outside the repo; PyPI only, nothing is compiled).  `dlib-bin`
is a prebuilt manylinux wheel that provides the `dlib` module, so dlib's own
sdist (a long CMake build) is not needed.  face_recognition is installed with
--no-deps because it declares a dependency on the `dlib` distribution, which
would trigger that build; face_recognition_models ships the dlib model files
(shape_predictor_5_face_landmarks.dat, dlib_face_recognition_resnet_model_v1
.dat, ...) so nothing is downloaded at run time.

    /work/pyref/bin/pip install dlib-bin==20.0.1.post1
    /work/pyref/bin/pip install --no-deps face_recognition==1.3.0 \
        face_recognition_models==0.3.0
    /work/pyref/bin/pip install Click Pillow numpy   # face_recognition's deps

`template` also needs facenet-pytorch (see scripts/mtcnn_reference.py for its
set-up).  Versions used for the committed fixture: Python 3.11.7, dlib-bin
20.0.1.post1 (dlib 20.0.1, built without BLAS/LAPACK/CUDA, with AVX),
face_recognition 1.3.0 (its __version__ string says 1.2.3),
face_recognition_models 0.3.0, numpy 1.26.4, Pillow 10.2.0, torch 2.2.2,
facenet-pytorch 2.6.0.
"""

import argparse
import importlib.metadata
import json
import os
import statistics
import sys
import time
from pathlib import Path

import dlib
import numpy as np
import face_recognition
import face_recognition.api as fr_api

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_LFW = REPO_ROOT.parent / "shared" / "data" / "lfw"

CHIP_SIZE = 150      # what dlib's ResNet expects, and what face_encodings uses
CHIP_PADDING = 0.25  # face_recognition_model_v1's default padding
HOG_UPSAMPLE = 1     # face_recognition.face_locations default

# MTCNN landmark order in facenet-pytorch (image left/right, not the subject's).
LANDMARK_NAMES = ["left_eye", "right_eye", "nose", "mouth_left", "mouth_right"]


# ----------------------------------------------------------------------------
# LFW helpers
# ----------------------------------------------------------------------------

def image_root(lfw):
    """Folder that holds <Name>/<Name>_NNNN.jpg."""
    return Path(lfw) / "lfw-deepfunneled"


def read_people(lfw, filename):
    """(name, image count) pairs from an LFW people*.txt file, in file order.

    The first line is the number of people; each later line is "Name<TAB>N".
    """
    lines = (Path(lfw) / filename).read_text().splitlines()
    people = []
    for line in lines[1:]:
        parts = line.split()
        if len(parts) == 2:
            people.append((parts[0], int(parts[1])))
    return people


def first_images(lfw, people_file):
    """Relative path of each person's first image, in people-file order."""
    return [f"{name}/{name}_0001.jpg" for name, _ in read_people(lfw, people_file)]


def load_rgb(lfw, rel):
    """HxWx3 uint8 RGB array, loaded the way face_recognition loads images."""
    return face_recognition.load_image_file(str(image_root(lfw) / rel))


# ----------------------------------------------------------------------------
# dlib pipeline
# ----------------------------------------------------------------------------

def largest_location(img):
    """Largest HOG face as (top, right, bottom, left), or None if none found.

    These are face_recognition's locations, already clipped to the image
    bounds; passing them back to face_encodings reproduces the same rect.
    """
    locs = face_recognition.face_locations(img, HOG_UPSAMPLE, model="hog")
    if not locs:
        return None
    # max() keeps the first of equal areas, so the choice is deterministic.
    return max(locs, key=lambda l: (l[2] - l[0]) * (l[1] - l[3]))


def align(img, loc):
    """5-point landmarks and the 150x150 aligned chip for one face location."""
    shape = fr_api.pose_predictor_5_point(img, fr_api._css_to_rect(loc))
    chip = dlib.get_face_chip(img, shape, size=CHIP_SIZE, padding=CHIP_PADDING)
    return shape, np.asarray(chip)


def source_to_chip_affine(shape, image_hw):
    """2x3 affine taking original-image (x, y) pixels to chip (x, y) pixels.

    dlib does not expose get_mapping_to_chip in Python, so the mapping is
    measured: two float ramps (x and y coordinate images) are pushed through
    dlib.extract_image_chip with the same chip_details that get_face_chip
    uses.  Bilinear sampling of a linear ramp is exact, so a least-squares
    affine fit of chip pixel -> source coordinate has ~1e-7 residual; its
    inverse is the wanted mapping.
    """
    details = dlib.get_face_chip_details(shape, CHIP_SIZE, CHIP_PADDING)
    h, w = image_hw
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    src_x = np.asarray(dlib.extract_image_chip(xs, details), dtype=np.float64)
    src_y = np.asarray(dlib.extract_image_chip(ys, details), dtype=np.float64)
    r, c = np.mgrid[0:CHIP_SIZE, 0:CHIP_SIZE]
    a = np.stack([c.ravel(), r.ravel(), np.ones(c.size)], axis=1)
    fx = np.linalg.lstsq(a, src_x.ravel(), rcond=None)[0]
    fy = np.linalg.lstsq(a, src_y.ravel(), rcond=None)[0]
    chip_to_src = np.vstack([fx, fy, [0.0, 0.0, 1.0]])
    return np.linalg.inv(chip_to_src)[:2]


def apply_affine(m, pts):
    pts = np.asarray(pts, dtype=np.float64)
    return pts @ m[:, :2].T + m[:, 2]


def iou(a, b):
    """Intersection over union of two (x1, y1, x2, y2) boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def chip_descriptor(chip):
    """dlib's descriptor of an aligned chip (the 150x150 overload, no jitter)."""
    return np.array(fr_api.face_encoder.compute_face_descriptor(chip))


def versions():
    meta = importlib.metadata.version
    out = {"dlib": dlib.__version__,
           "face_recognition": meta("face_recognition"),
           "face_recognition_models": meta("face_recognition_models"),
           "numpy": np.__version__,
           "python": sys.version.split()[0]}
    try:
        out["dlib_dist"] = "dlib-bin " + meta("dlib-bin")
    except importlib.metadata.PackageNotFoundError:
        out["dlib_dist"] = "dlib " + meta("dlib")
    return out


def dlib_build_flags():
    return {name: bool(getattr(dlib, name, False))
            for name in ("DLIB_USE_BLAS", "DLIB_USE_LAPACK", "DLIB_USE_CUDA",
                         "USE_AVX_INSTRUCTIONS", "USE_NEON_INSTRUCTIONS")}


def write_json(path, obj):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1) + "\n")
    print(f"wrote {path}")


# ----------------------------------------------------------------------------
# chips
# ----------------------------------------------------------------------------

def cmd_chips(args):
    from PIL import Image

    if args.images:
        candidates, explicit = list(args.images), True
    else:
        candidates, explicit = first_images(args.lfw, "peopleDevTrain.txt"), False

    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    chips, worst = [], 0.0
    for rel in candidates:
        if not explicit and len(chips) >= args.people:
            break
        img = load_rgb(args.lfw, rel)
        loc = largest_location(img)
        if loc is None:
            if explicit:
                sys.exit(f"{rel}: HOG found no face")
            print(f"{rel}: HOG found no face, skipped")
            continue
        shape, chip = align(img, loc)
        desc = chip_descriptor(chip)

        # The same descriptor through face_recognition's public API, which
        # aligns internally (compute_face_descriptor(img, shape, 1)).
        ref = face_recognition.face_encodings(img, [loc], model="small")[0]
        diff = float(np.max(np.abs(desc - ref)))
        worst = max(worst, diff)
        print(f"{rel}: loc={loc} max|chip - face_encodings| = {diff:.3g}")

        stem = Path(rel).stem
        Image.fromarray(chip).save(out_dir / f"{stem}.png")
        details = dlib.get_face_chip_details(shape, CHIP_SIZE, CHIP_PADDING)
        r = details.rect
        chips.append({
            "file": f"{stem}.png",
            "image": rel,
            # face_recognition order (top, right, bottom, left), pixels
            "location": list(loc),
            # dlib 5-point model: points 0,1 = one eye's outer/inner corner,
            # 2,3 = the other eye's, 4 = base of the nose (original image px)
            "landmarks_5": [[p.x, p.y] for p in shape.parts()],
            # dlib.get_face_chip_details: source rect and rotation of the chip
            "chip_rect_ltrb": [r.left(), r.top(), r.right(), r.bottom()],
            "chip_angle": details.angle,
            "max_abs_diff_vs_face_encodings": diff,
            "embedding": [float(x) for x in desc],
        })

    print(f"max |chip descriptor - face_encodings| over {len(chips)} faces: {worst:.3g}")
    if worst > 1e-4:
        print("WARNING: the two routes disagree by more than 1e-4")
    obj = {
        "source": (
            "scripts/dlib_reference.py chips: LFW lfw-deepfunneled images; "
            "face_recognition.face_locations (HOG, upsample 1, largest face), "
            "face_recognition.api.pose_predictor_5_point, "
            f"dlib.get_face_chip(size={CHIP_SIZE}, padding={CHIP_PADDING}) saved "
            "as RGB PNG, embedding = face_recognition.api.face_encoder."
            "compute_face_descriptor(chip) (aligned-chip overload, num_jitters 0); "
            "equals face_encodings(img, [location], model='small') within "
            "max_abs_diff_vs_face_encodings"),
        **versions(),
        "chip_size": CHIP_SIZE,
        "padding": CHIP_PADDING,
        "chips": chips,
    }
    write_json(args.json, obj)


# ----------------------------------------------------------------------------
# template
# ----------------------------------------------------------------------------

def landmark_stats(pts):
    """Mean, std (population) and median of (n, 5, 2) landmark arrays."""
    pts = np.stack(pts)
    return {"n": int(pts.shape[0]),
            "mean": pts.mean(axis=0).tolist(),
            "std": pts.std(axis=0).tolist(),
            "median": np.median(pts, axis=0).tolist()}


def cmd_template(args):
    """Where dlib's alignment puts MTCNN's 5 landmarks inside the chip.

    Primary measurement ("on_chip"): MTCNN run on the 150x150 chip itself.
    The chip is a tight crop (the face reaches the borders), which makes
    MTCNN's landmarks noisy there, so two cross-checks are recorded too:
      "full_image_mapped": MTCNN on the original LFW image (face whose box
          overlaps the HOG box most, IoU >= 0.3), its landmarks mapped into
          chip coordinates with dlib's exact chip transform;
      "dlib5_in_chip": dlib's own 5 points (eye corners, nose base) mapped
          the same way, i.e. dlib's alignment target as realised.
    """
    import torch
    from PIL import Image
    from facenet_pytorch import MTCNN

    torch.set_num_threads(args.threads)
    mtcnn = MTCNN(keep_all=False, device="cpu")  # facenet-pytorch defaults

    candidates = first_images(args.lfw, "peopleDevTrain.txt")[:args.count]
    on_chip, probs, boxes, mapped, dlib5 = [], [], [], [], []
    no_hog, no_mtcnn, no_mtcnn_full = [], [], []
    for i, rel in enumerate(candidates):
        img = load_rgb(args.lfw, rel)
        loc = largest_location(img)
        if loc is None:
            no_hog.append(rel)
            continue
        shape, chip = align(img, loc)
        to_chip = source_to_chip_affine(shape, img.shape[:2])
        dlib5.append(apply_affine(to_chip, [[p.x, p.y] for p in shape.parts()]))

        b, p, pts = mtcnn.detect(Image.fromarray(chip), landmarks=True)
        if b is None:
            no_mtcnn.append(rel)
        else:
            k = int(np.argmax(p))  # most probable face
            on_chip.append(np.asarray(pts[k], dtype=np.float64))
            probs.append(float(p[k]))
            boxes.append(np.asarray(b[k], dtype=np.float64))

        b, p, pts = mtcnn.detect(Image.fromarray(img), landmarks=True)
        top, right, bottom, left = loc
        hog_box = (left, top, right, bottom)
        best = None if b is None else max(range(len(b)), key=lambda j: iou(b[j], hog_box))
        if best is None or iou(b[best], hog_box) < 0.3:
            no_mtcnn_full.append(rel)
        else:
            mapped.append(apply_affine(to_chip, np.asarray(pts[best], dtype=np.float64)))

        if (i + 1) % 100 == 0:
            print(f"{i + 1}/{len(candidates)} images, {len(on_chip)} used", flush=True)

    primary = landmark_stats(on_chip)
    obj = {
        "source": (
            "scripts/dlib_reference.py template: first image of each person in "
            "peopleDevTrain.txt order; dlib chip as in `chips` (HOG, 5-point, "
            f"get_face_chip size {CHIP_SIZE} padding {CHIP_PADDING}); "
            "facenet_pytorch.MTCNN() defaults, detect(chip, landmarks=True), "
            "most probable face; landmarks in chip pixel coordinates (x, y); "
            "std is the population std over chips"),
        **versions(),
        "facenet_pytorch": importlib.metadata.version("facenet-pytorch"),
        "torch": torch.__version__,
        "chip_size": CHIP_SIZE,
        "padding": CHIP_PADDING,
        "images_considered": len(candidates),
        "hog_no_face": len(no_hog),
        "mtcnn_no_face": len(no_mtcnn),
        "used": len(on_chip),
        "landmark_order": LANDMARK_NAMES,
        "mean": primary["mean"],
        "std": primary["std"],
        "median": primary["median"],
        "mean_box_xyxy": np.stack(boxes).mean(axis=0).tolist(),
        "mean_prob": float(np.mean(probs)),
        "min_prob": float(np.min(probs)),
        "full_image_mapped": {
            "how": ("MTCNN on the original image, face with max IoU (>=0.3) "
                    "with the HOG box, landmarks mapped into chip coordinates "
                    "by dlib's chip transform"),
            "no_match": len(no_mtcnn_full),
            **landmark_stats(mapped)},
        "dlib5_in_chip": {
            "how": ("dlib 5-point landmarks (points 0,1 one eye's outer/inner "
                    "corner, 2,3 the other eye's, 4 nose base) mapped into chip "
                    "coordinates"),
            **landmark_stats(dlib5)},
        "hog_no_face_images": no_hog,
        "mtcnn_no_face_images": no_mtcnn,
        "mtcnn_full_no_match_images": no_mtcnn_full,
    }
    write_json(args.json, obj)
    print(f"used {len(on_chip)} of {len(candidates)} "
          f"(HOG missed {len(no_hog)}, MTCNN on chip missed {len(no_mtcnn)}, "
          f"MTCNN on full image unmatched {len(no_mtcnn_full)})")
    for title, st in (("MTCNN on the chip", primary),
                      ("MTCNN on the full image, mapped", obj["full_image_mapped"])):
        print(f"{title}: mean (x, y) +- std, median, in the "
              f"{CHIP_SIZE}x{CHIP_SIZE} dlib chip:")
        for name, m, s, md in zip(LANDMARK_NAMES, st["mean"], st["std"], st["median"]):
            print(f"  {name:12s} ({m[0]:7.3f}, {m[1]:7.3f})  +- ({s[0]:6.3f}, {s[1]:6.3f})"
                  f"  median ({md[0]:7.3f}, {md[1]:7.3f})")
    print("dlib 5 points in the chip (mean):",
          np.round(np.array(obj["dlib5_in_chip"]["mean"]), 3).tolist())


# ----------------------------------------------------------------------------
# bench
# ----------------------------------------------------------------------------

def thread_count():
    """Threads of this process right now (Linux), or None."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return None


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def summary(ms):
    return {"median_ms": statistics.median(ms), "mean_ms": statistics.fmean(ms),
            "min_ms": min(ms), "max_ms": max(ms), "n": len(ms)}


def cmd_bench(args):
    encoder = fr_api.face_encoder
    candidates = first_images(args.lfw, "peopleDevTest.txt")[:args.count]

    # Untimed preparation: images, HOG locations, chips.
    faces, hog_ms = [], []
    for rel in candidates:
        img = load_rgb(args.lfw, rel)
        t0 = time.perf_counter()
        loc = largest_location(img)
        hog_ms.append((time.perf_counter() - t0) * 1e3)
        if loc is not None:
            _, chip = align(img, loc)
            faces.append((img, loc, chip))
    print(f"{len(faces)} of {len(candidates)} images have a HOG face")
    threads_before = thread_count()
    load_before = os.getloadavg()[0]

    # Warm-up (first calls allocate the network's buffers).
    for img, loc, chip in faces[:3]:
        face_recognition.face_encodings(img, [loc], num_jitters=1, model="small")
        encoder.compute_face_descriptor(chip)

    def timed(fn):
        # Wall time per call, plus the process CPU time per call: on a shared
        # machine the CPU time is the less load-sensitive of the two.
        ms, cpu_ms = [], []
        c0, w0 = time.process_time(), time.perf_counter()
        for face in faces:
            t0, p0 = time.perf_counter(), time.process_time()
            fn(face)
            ms.append((time.perf_counter() - t0) * 1e3)
            cpu_ms.append((time.process_time() - p0) * 1e3)
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        return {**summary(ms), "cpu_median_ms": statistics.median(cpu_ms),
                "cpu_over_wall": cpu / wall}

    # (i) landmarks + chip + descriptor, as face_recognition does it
    full = timed(lambda f: face_recognition.face_encodings(
        f[0], [f[1]], num_jitters=1, model="small"))
    # (ii) descriptor only, on the precomputed chip
    chip_only = timed(lambda f: encoder.compute_face_descriptor(f[2]))

    # (iii) batched: compute_face_descriptor(list of chips), ms per face
    batched = {}
    chips = [f[2] for f in faces]
    for bs in args.batch_sizes:
        per_face = []
        c0, w0 = time.process_time(), time.perf_counter()
        for start in range(0, len(chips) - bs + 1, bs):
            t0 = time.perf_counter()
            encoder.compute_face_descriptor(chips[start:start + bs])
            per_face.append((time.perf_counter() - t0) * 1e3 / bs)
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        batched[str(bs)] = {**summary(per_face), "cpu_over_wall": cpu / wall,
                            "cpu_ms_per_face": cpu * 1e3 / (len(per_face) * bs),
                            "note": "ms per face; n = number of batches"}

    obj = {
        "source": (
            "scripts/dlib_reference.py bench: first image of each person in "
            "peopleDevTest.txt order, HOG location found beforehand (untimed); "
            "single process, time.perf_counter per call after 3 warm-up faces"),
        **versions(),
        "dlib_build": dlib_build_flags(),
        "cpu_model": cpu_model(),
        # Other processes on the machine skew the timings; 1-min load average.
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg()[0],
        "os_cpu_count": os.cpu_count(),
        "affinity_cpus": len(os.sched_getaffinity(0)),
        "process_threads_before_timing": threads_before,
        "process_threads_after_timing": thread_count(),
        "env_threads": {k: os.environ.get(k) for k in
                        ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")},
        "images": len(candidates),
        "faces": len(faces),
        "hog_upsample1_ms_info": summary(hog_ms),
        "landmarks_chip_descriptor": full,
        "descriptor_on_chip": chip_only,
        "descriptor_batched": batched,
    }
    write_json(args.json, obj)
    print(f"load average {load_before:.2f} -> {obj['loadavg_after']:.2f} "
          f"on {os.cpu_count()} CPUs")
    for title, r in (("(i)  face_encodings(img, [loc], small)", full),
                     ("(ii) descriptor on chip              ", chip_only)):
        print(f"{title}: median {r['median_ms']:.2f} ms, mean {r['mean_ms']:.2f} ms, "
              f"CPU median {r['cpu_median_ms']:.2f} ms")
    for bs, r in batched.items():
        print(f"(iii) batch of {bs:>3}: median {r['median_ms']:.2f} ms/face, "
              f"mean {r['mean_ms']:.2f} ms/face, CPU {r['cpu_ms_per_face']:.2f} ms/face")


# ----------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("chips", help="aligned chips + descriptor fixture")
    p.add_argument("--lfw", type=Path, default=DEFAULT_LFW,
                   help="LFW root (holds lfw-deepfunneled/ and people*.txt)")
    p.add_argument("--out-dir", default="tests/fixtures/dlib_chips")
    p.add_argument("--json", default="tests/fixtures/dlib_reference.json")
    p.add_argument("--people", type=int, default=8,
                   help="how many to pick when no IMAGE is given")
    p.add_argument("images", nargs="*", metavar="IMAGE",
                   help="paths relative to <lfw>/lfw-deepfunneled")
    p.set_defaults(fn=cmd_chips)

    p = sub.add_parser("template", help="mean MTCNN landmarks on dlib chips")
    p.add_argument("--lfw", type=Path, default=DEFAULT_LFW)
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--json", required=True)
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.set_defaults(fn=cmd_template)

    p = sub.add_parser("bench", help="descriptor timing on this machine")
    p.add_argument("--lfw", type=Path, default=DEFAULT_LFW)
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--json", required=True)
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 32])
    p.set_defaults(fn=cmd_bench)

    args = ap.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
