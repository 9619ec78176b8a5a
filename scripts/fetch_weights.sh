#!/usr/bin/env bash
# Downloads the pretrained weights from package registries (never a model hub) and converts
# them into the burnpacks committed under weights/. Needs pip, unzip, sha256sum and cargo.
#
#   scripts/fetch_weights.sh
#
# MTCNN: facenet-pytorch 2.6.0's wheel (PyPI, MIT) ships facenet_pytorch/data/{p,r,o}net.pt,
# legacy torch.save state dicts that `siamese-face weights import-mtcnn` reads with
# burn-store's PyTorch reader (renaming PReLU `weight` to Burn's `alpha`).
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
