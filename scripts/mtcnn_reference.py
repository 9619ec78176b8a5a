#!/usr/bin/env python3
"""Reference MTCNN detections on LFW, produced with facenet-pytorch.

Writes a JSON fixture (default: tests/fixtures/mtcnn_reference.json) with the
boxes, scores and 5-point landmarks that facenet-pytorch's MTCNN finds on 200
LFW images chosen deterministically, so the Rust MTCNN can be compared against
it.  Two extra modes print statistics instead of writing the fixture:

  --first1000-stats   face counts over the first 1000 images in sorted order
  --bench             detection time per image (2 threads), as one JSON line

Set-up (a venv outside the repo; PyPI only).  facenet-pytorch 2.6.0 pins
torch>=2.2,<2.3, torchvision>=0.17,<0.18, numpy<2 and Pillow<10.3; the versions
below satisfy those pins, but it is installed with --no-deps so pip cannot
drag in anything else.  `requests` and `tqdm` are imported by the package's
__init__ (for InceptionResnetV1 weight downloads) and so are needed to import
it at all; MTCNN itself loads only the bundled facenet_pytorch/data/
{pnet,rnet,onet}.pt and never touches the network.

    python3 -m venv /work/pyref
    /work/pyref/bin/pip install --upgrade pip
    /work/pyref/bin/pip install "torch==2.2.2" "torchvision==0.17.2" \
        "numpy>=1.24,<2" "Pillow>=10.2,<10.3"
    /work/pyref/bin/pip install --no-deps facenet-pytorch==2.6.0
    /work/pyref/bin/pip install "requests<3" "tqdm<5"

Versions used for the committed fixture: Python 3.11.7, torch 2.2.2+cu121
(PyPI's Linux wheel; it pulls the nvidia-*-cu12 packages but runs on CPU here),
torchvision 0.17.2+cu121, numpy 1.26.4, Pillow 10.2.0, facenet-pytorch 2.6.0.

Usage (from the repo root):

    /work/pyref/bin/python scripts/mtcnn_reference.py            # fixture
    /work/pyref/bin/python scripts/mtcnn_reference.py --first1000-stats
    /work/pyref/bin/python scripts/mtcnn_reference.py --bench
"""

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path

import torch
from PIL import Image
from facenet_pytorch import MTCNN

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_LFW = REPO_ROOT.parent / "shared" / "data" / "lfw"
DEFAULT_OUT = REPO_ROOT / "tests" / "fixtures" / "mtcnn_reference.json"

N_SAMPLE = 200
# MTCNN defaults in facenet-pytorch 2.6.0; stated explicitly so the fixture
# records exactly what produced it.
SETTINGS = {"min_face_size": 20, "thresholds": [0.6, 0.7, 0.7], "factor": 0.709}


def list_images(lfw_dir):
    """All LFW jpgs as paths relative to lfw_dir ('/' separators), sorted
    with a plain Python string sort."""
    root = Path(lfw_dir)
    rels = [p.relative_to(root).as_posix()
            for p in root.glob("lfw-deepfunneled/*/*.jpg")]
    rels.sort()
    if not rels:
        sys.exit(f"no images under {root}/lfw-deepfunneled/*/*.jpg")
    return rels


def sample(rels, n=N_SAMPLE):
    """n images spread over the whole sorted list: index i*len//n."""
    return [rels[i * len(rels) // n] for i in range(n)]


def make_mtcnn():
    return MTCNN(keep_all=True, device="cpu",
                 min_face_size=SETTINGS["min_face_size"],
                 thresholds=SETTINGS["thresholds"],
                 factor=SETTINGS["factor"])


def load_rgb(lfw_dir, rel):
    with Image.open(Path(lfw_dir) / rel) as im:
        return im.convert("RGB")


def detect(mtcnn, img):
    """List of faces in the order MTCNN returns them (empty when none)."""
    boxes, probs, points = mtcnn.detect(img, landmarks=True)
    if boxes is None:
        return []
    faces = []
    for box, prob, pts in zip(boxes, probs, points):
        faces.append({
            "box": [round(float(v), 4) for v in box],
            "score": round(float(prob), 6),
            "landmarks": [[round(float(x), 4), round(float(y), 4)]
                          for x, y in pts],
        })
    return faces


def write_fixture(lfw_dir, out):
    mtcnn = make_mtcnn()
    images = []
    for rel in sample(list_images(lfw_dir)):
        img = load_rgb(lfw_dir, rel)
        images.append({"path": rel, "width": img.width, "height": img.height,
                       "faces": detect(mtcnn, img)})
    doc = {
        "generator": {"facenet_pytorch": "2.6.0", "torch": torch.__version__,
                      "settings": SETTINGS},
        "images": images,
    }
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # indent=1 but with each box / landmark list on one line keeps the file
    # readable and small: dump compact leaves, then indent the outer levels.
    text = json.dumps(doc, indent=1)
    out.write_text(_collapse_number_lists(text) + "\n")
    counts = [len(im["faces"]) for im in images]
    print(f"wrote {out}: {len(images)} images, {sum(counts)} faces; "
          f"images by face count: "
          f"{ {k: counts.count(k) for k in sorted(set(counts))} }")


def _collapse_number_lists(text):
    """Put every innermost list of numbers on a single line."""
    pat = re.compile(r"\[\s*(-?[\d.eE+-]+(?:,\s*-?[\d.eE+-]+)*)\s*\]")
    return pat.sub(lambda m: "[" + ", ".join(
        s.strip() for s in m.group(1).split(",")) + "]", text)


def first1000_stats(lfw_dir):
    mtcnn = make_mtcnn()
    rels = list_images(lfw_dir)[:1000]
    counts = [len(detect(mtcnn, load_rgb(lfw_dir, r))) for r in rels]
    with_face = sum(1 for c in counts if c >= 1)
    print(json.dumps({
        "images": len(counts),
        "with_at_least_one_face": with_face,
        "mean_faces_per_image": round(sum(counts) / len(counts), 4),
        "images_by_face_count": {k: counts.count(k)
                                 for k in sorted(set(counts))},
        "torch": torch.__version__,
    }))


def bench(lfw_dir):
    torch.set_num_threads(2)
    mtcnn = make_mtcnn()
    # Decode up front: only mtcnn.detect is timed.
    imgs = [load_rgb(lfw_dir, r) for r in sample(list_images(lfw_dir))]
    for img in imgs[:5]:  # warm-up
        mtcnn.detect(img, landmarks=True)
    ms = []
    for img in imgs:
        t0 = time.perf_counter()
        mtcnn.detect(img, landmarks=True)
        ms.append((time.perf_counter() - t0) * 1000.0)
    ms_sorted = sorted(ms)
    p90 = ms_sorted[min(len(ms) - 1, int(round(0.9 * (len(ms) - 1))))]
    print(json.dumps({
        "images": len(ms),
        "median_ms": round(statistics.median(ms), 2),
        "mean_ms": round(statistics.fmean(ms), 2),
        "p90_ms": round(p90, 2),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lfw", default=str(DEFAULT_LFW),
                    help="LFW root holding lfw-deepfunneled/ (default: %(default)s)")
    ap.add_argument("--out", default=str(DEFAULT_OUT),
                    help="fixture to write (default: %(default)s)")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--first1000-stats", action="store_true",
                      help="print face statistics over the first 1000 sorted images")
    mode.add_argument("--bench", action="store_true",
                      help="time mtcnn.detect over the 200 sampled images, 2 threads")
    args = ap.parse_args()
    if args.first1000_stats:
        first1000_stats(args.lfw)
    elif args.bench:
        bench(args.lfw)
    else:
        write_fixture(args.lfw, args.out)


if __name__ == "__main__":
    main()
