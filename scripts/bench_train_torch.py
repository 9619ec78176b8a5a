#!/usr/bin/env python3
"""PyTorch reference for the training throughput (triplets/s) of the Rust embedding network.

Trains the same embedding network as the Rust side with triplet loss on CPU and reports how
many triplets per second one training step handles.  The architectures must stay identical
to the Rust ones:

  embedding net = backbone -> global average pool -> Linear(C, 256) -> ReLU
                  -> Linear(256, 128) -> L2 normalise (x / max(||x||, 1e-12))

  small-cnn     for w in 16, 32, 64, 128:
                    Conv2d(c_in, w, 3, stride 1, pad 1, no bias) + BatchNorm2d(w) + ReLU
                    Conv2d(w, w, 3, stride 2, pad 1, no bias) + BatchNorm2d(w) + ReLU
                (c_in starts at 3; C = 128); input x / 127.5 - 1
  mobilenetv2   torchvision.models.mobilenet_v2(weights=None).features (C = 1280), optionally
                loaded from torchvision's mobilenet_v2-b0353104.pth with --weights;
                input x / 255, then ImageNet mean (0.485, 0.456, 0.406) / std (0.229, 0.224, 0.225)

  loss          mean(relu(|a - p|^2 - |a - n|^2 + margin)), squared Euclidean distance on the
                unit embeddings, margin 0.5; Adam, lr 1e-3
  one step      three separate forward passes (anchors, positives, negatives; B crops each;
                BatchNorm in train mode), loss, backward, optimiser step

Input: a triplet .npy of uint8, shape (N, 3, S, S, 3) (N triplets of anchor/positive/negative
S x S HWC RGB crops, as the Rust app writes them) with --triplets FILE; without it, random
uint8 crops of --size S, N = batch * steps.  Step i uses triplets i*B .. i*B+B-1 (mod N).
Only the --steps steps after --warmup warm-up steps are timed, and the timing includes the
uint8 -> float conversion, layout change and normalisation of each batch (as on the Rust side).

Set-up (a venv outside the repo; PyPI only -- the download.pytorch.org CPU index was not
reachable here, and PyPI's Linux torch 2.2.2 wheel is the CUDA 12.1 build, which pulls in the
nvidia-*-cu12 packages but runs on CPU without a GPU):

    python3 -m venv /work/pyref
    /work/pyref/bin/pip install --upgrade pip
    /work/pyref/bin/pip install "torch==2.2.2" "torchvision==0.17.2" "numpy<2"

Versions used for the numbers recorded with this script: Python 3.11.7, torch 2.2.2+cu121,
torchvision 0.17.2+cu121, numpy 1.26.4.

Run from the repo root:

    /work/pyref/bin/python scripts/bench_train_torch.py --arch small-cnn --json
    /work/pyref/bin/python scripts/bench_train_torch.py --arch mobilenetv2 --steps 8 --json
    /work/pyref/bin/python scripts/bench_train_torch.py --arch small-cnn \\
        --triplets triplets.npy --batch 32 --steps 20 --warmup 3 --threads 2
"""
import argparse
import json
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

MARGIN = 0.5
LR = 1e-3
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def small_cnn():
    layers = []
    c_in = 3
    for w in (16, 32, 64, 128):
        layers += [
            nn.Conv2d(c_in, w, 3, stride=1, padding=1, bias=False),
            nn.BatchNorm2d(w),
            nn.ReLU(inplace=True),
            nn.Conv2d(w, w, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(w),
            nn.ReLU(inplace=True),
        ]
        c_in = w
    return nn.Sequential(*layers), 128


def mobilenetv2(weights=None):
    model = torchvision.models.mobilenet_v2(weights=None)
    if weights is not None:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        model.load_state_dict(state, strict=True)
    return model.features, 1280


class EmbeddingNet(nn.Module):
    def __init__(self, backbone, channels):
        super().__init__()
        self.backbone = backbone
        self.fc1 = nn.Linear(channels, 256)
        self.fc2 = nn.Linear(256, 128)

    def forward(self, x):
        x = self.backbone(x)
        x = x.mean(dim=(2, 3))  # global average pool
        x = self.fc2(F.relu(self.fc1(x)))
        return x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)


def triplet_loss(a, p, n, margin=MARGIN):
    d_ap = (a - p).pow(2).sum(dim=1)
    d_an = (a - n).pow(2).sum(dim=1)
    return F.relu(d_ap - d_an + margin).mean()


def make_normalise(arch):
    """uint8-valued float NCHW -> the network's input range."""
    if arch == "small-cnn":
        return lambda x: x / 127.5 - 1.0
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return lambda x: (x / 255.0 - mean) / std


def load_triplets(path):
    arr = np.load(path, mmap_mode="r")
    if arr.dtype != np.uint8:
        sys.exit(f"{path}: dtype {arr.dtype}, expected uint8")
    if arr.ndim != 5 or arr.shape[1] != 3 or arr.shape[4] != 3 or arr.shape[2] != arr.shape[3]:
        sys.exit(f"{path}: shape {arr.shape} is not (N, 3, S, S, 3)")
    return np.ascontiguousarray(arr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", choices=("small-cnn", "mobilenetv2"), default="small-cnn")
    ap.add_argument("--triplets", metavar="FILE", help="uint8 (N,3,S,S,3) .npy; default random")
    ap.add_argument("--size", type=int, default=100, help="crop size S for random data")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=20, help="timed steps")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps before")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    ap.add_argument("--weights", metavar="PTH", help="mobilenet_v2-b0353104.pth (mobilenetv2)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print one JSON line")
    args = ap.parse_args()
    if args.batch < 1 or args.steps < 1 or args.warmup < 0:
        sys.exit("--batch and --steps must be >= 1, --warmup >= 0")
    if args.weights and args.arch != "mobilenetv2":
        sys.exit("--weights is only for --arch mobilenetv2")

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    if args.triplets:
        data = load_triplets(args.triplets)
    else:
        rng = np.random.default_rng(args.seed)
        n = args.batch * args.steps
        data = rng.integers(0, 256, size=(n, 3, args.size, args.size, 3), dtype=np.uint8)
    n, size = data.shape[0], data.shape[2]

    if args.arch == "small-cnn":
        backbone, channels = small_cnn()
    else:
        backbone, channels = mobilenetv2(args.weights)
    model = EmbeddingNet(backbone, channels)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    normalise = make_normalise(args.arch)

    def step(i):
        idx = (i * args.batch + np.arange(args.batch)) % n
        batch = torch.from_numpy(data[idx])  # (B, 3, S, S, 3) uint8
        # -> (3, B, 3, S, S) float, contiguous NCHW per role
        x = batch.permute(1, 0, 4, 2, 3).to(torch.float32).contiguous()
        a = model(normalise(x[0]))
        p = model(normalise(x[1]))
        neg = model(normalise(x[2]))
        loss = triplet_loss(a, p, neg)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    for i in range(args.warmup):
        step(i)
    t0 = time.perf_counter()
    for i in range(args.warmup, args.warmup + args.steps):
        loss = step(i)
    seconds = time.perf_counter() - t0

    per_step = seconds / args.steps
    tps = args.batch * args.steps / seconds
    result = {
        "arch": args.arch,
        "batch": args.batch,
        "size": size,
        "threads": args.threads,
        "steps": args.steps,
        "triplets_per_s": round(tps, 3),
        "seconds_per_step": round(per_step, 4),
        "torch": torch.__version__,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{args.arch}: batch {args.batch}, {size}x{size}, {args.threads} threads, "
            f"{args.steps} steps after {args.warmup} warm-up: {per_step:.3f} s/step, "
            f"{tps:.1f} triplets/s (last loss {loss:.4f}; torch {torch.__version__})"
        )


if __name__ == "__main__":
    main()
