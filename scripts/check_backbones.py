#!/usr/bin/env python3
"""Checks the Rust VGG19 and Inception-ResNet-v2 ports against PyTorch, tensor for tensor.

No ImageNet weights for these two can be downloaded here, so this makes randomly initialised
torchvision vgg19 / timm inception_resnet_v2 models (eval mode: BatchNorm running statistics
randomised too), saves their state dicts, has `siamese-face weights features` load each file
into the Rust backbone (the same path as a user-supplied ImageNet file) and compares the
globally pooled features on tests/fixtures/face_crop.png.

    /work/pyref/bin/python scripts/check_backbones.py [target/release/siamese-face]

venv: as scripts/bench_train_torch.py, plus `pip install timm==0.9.16`.
"""
import json
import subprocess
import sys
import tempfile

import numpy as np
import timm
import torch
import torchvision
from PIL import Image

exe = sys.argv[1] if len(sys.argv) > 1 else "target/release/siamese-face"
torch.manual_seed(0)
img = np.asarray(Image.open("tests/fixtures/face_crop.png").convert("RGB"), dtype=np.float32)
x = torch.from_numpy(img / 255.0).permute(2, 0, 1)[None]


def randomise_bn(model):
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.1, 0.1)


cases = []
vgg = torchvision.models.vgg19().eval()
mean = torch.tensor([0.485, 0.456, 0.406])[:, None, None]
std = torch.tensor([0.229, 0.224, 0.225])[:, None, None]
cases.append(("vgg19", vgg, lambda m: m.features((x - mean) / std)))
irv2 = timm.create_model("inception_resnet_v2", pretrained=False).eval()
randomise_bn(irv2)
cases.append(("inception-resnet-v2", irv2, lambda m: m.forward_features((x - 0.5) / 0.5)))

worst_all = 0.0
for name, model, features in cases:
    with torch.no_grad():
        ref = features(model).mean(dim=(2, 3))[0].numpy()
    with tempfile.NamedTemporaryFile(suffix=".pth") as f:
        torch.save(model.state_dict(), f.name)
        out = subprocess.run(
            [exe, "weights", "features", "--backbone", name, "--from", f.name,
             "--image", "tests/fixtures/face_crop.png"],
            check=True, capture_output=True, text=True).stdout
    ours = np.array(json.loads(out)["pooled_features"], dtype=np.float32)
    worst = float(np.abs(ours - ref).max())
    scale = float(np.abs(ref).max())
    print(f"{name}: {ref.size} features, largest |difference| {worst:.2e} (largest |value| {scale:.3f})")
    worst_all = max(worst_all, worst / max(scale, 1e-6))
sys.exit(0 if worst_all < 1e-3 else 1)
