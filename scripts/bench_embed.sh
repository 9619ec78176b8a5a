#!/usr/bin/env bash
# Embedding speed per face, ours against dlib's face_recognition, in one run on the same
# faces (the first image of each of the first N people of LFW's peopleDevTest).
#
#   scripts/bench_embed.sh [LFW_DIR] [MODEL_DIR] [N]
#
# Needs a Python with dlib and face_recognition (see scripts/dlib_reference.py; set PYTHON,
# default /work/pyref/bin/python). Writes target/bench_embed_{dlib,ours}.json.
set -euo pipefail
cd "$(dirname "$0")/.."
lfw=${1:-../shared/data/lfw}
model=${2:-weights/default-model}
n=${3:-100}
python=${PYTHON:-/work/pyref/bin/python}
mkdir -p target
cargo build --release --quiet
echo "== dlib (face_recognition), $n faces"
"$python" scripts/dlib_reference.py bench --lfw "$lfw" --count "$n" --json target/bench_embed_dlib.json
echo "== siamese-face ($model), $n faces"
target/release/siamese-face bench embed --data "$lfw" --model "$model" --images "$n" \
    | tee target/bench_embed_ours.txt
target/release/siamese-face bench embed --data "$lfw" --model "$model" --images "$n" --json \
    > target/bench_embed_ours.json
"$python" - <<'PY'
import json
d = json.load(open("target/bench_embed_dlib.json"))
o = json.load(open("target/bench_embed_ours.json"))
full, ours = d["landmarks_chip_descriptor"]["median_ms"], o["crop_embed_median_ms"]
print(f"per face, face location known: dlib {full:.1f} ms, ours {ours:.1f} ms "
      f"-> ours takes {ours / full:.2f}x dlib's time")
print(f"descriptor alone: dlib {d['descriptor_on_chip']['median_ms']:.1f} ms, "
      f"ours {o['embed_median_ms']:.1f} ms; batched: dlib "
      f"{d['descriptor_batched']['32']['median_ms']:.1f}, ours {o['batched_ms_per_face']:.1f} ms/face")
PY
