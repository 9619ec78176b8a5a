#!/usr/bin/env bash
# The CPU kernels' before and after against the peer tools, alternated in one run (README,
# "CPU kernels"): training (small CNN and MobileNetV2) against PyTorch, detection against
# facenet-pytorch, embedding against dlib's face_recognition. "burn" runs the same binary with
# SIAMESE_FACE_KERNELS=burn, i.e. Burn's own convolution, batch norm and clamp.
#
#   scripts/bench_kernels.sh [ROUNDS] [LFW_DIR]
#
# Needs a release build and the Python venv of scripts/bench_train_torch.py,
# scripts/mtcnn_reference.py and scripts/dlib_reference.py (PYTHON, default
# /work/pyref/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
lfw=${2:-../shared/data/lfw}
py=${PYTHON:-/work/pyref/bin/python}
bin=target/release/siamese-face
burn="SIAMESE_FACE_KERNELS=burn $bin"
train() { echo "bench train --backbone $1 --steps $2 --json"; }
scripts/bench_alternated.sh "$rounds" \
    small-burn "$burn $(train small-cnn 15)" \
    small-ours "$bin $(train small-cnn 15)" \
    small-torch "$py scripts/bench_train_torch.py --arch small-cnn --steps 15 --json" \
    mnv2-burn "$burn $(train mobilenetv2 6)" \
    mnv2-ours "$bin $(train mobilenetv2 6)" \
    mnv2-torch "$py scripts/bench_train_torch.py --arch mobilenetv2 --steps 6 --json" \
    detect-burn "$burn bench detect --data $lfw --json" \
    detect-ours "$bin bench detect --data $lfw --json" \
    detect-facenet "$py scripts/mtcnn_reference.py --bench" \
    embed-burn "$burn bench embed --data $lfw --images 100 --json" \
    embed-ours "$bin bench embed --data $lfw --images 100 --json" \
    embed-dlib "$py scripts/dlib_reference.py bench --lfw $lfw --count 100 \
        --json target/bench_embed_dlib.json > /dev/null && tr -d '\n ' < target/bench_embed_dlib.json"
