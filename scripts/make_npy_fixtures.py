#!/usr/bin/env python3
"""Writes tests/fixtures/npy/*.npy with numpy, so the Rust .npy reader is tested on files a
numpy (or Keras notebook) user would have saved.  Run from the repo root with any numpy
(the committed files were made with numpy 1.26.4):

    python3 scripts/make_npy_fixtures.py
"""
import os

import numpy as np

out = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "npy")
os.makedirs(out, exist_ok=True)
N, S = 2, 4
a = np.zeros((N, 3, S, S, 3), dtype=np.uint8)
for n in range(N):
    for t in range(3):
        for y in range(S):
            for x in range(S):
                for c in range(3):
                    a[n, t, y, x, c] = (n * 7 + t * 31 + y * 5 + x * 3 + c * 11) % 256
np.save(os.path.join(out, "triplets_u8.npy"), a)
np.save(os.path.join(out, "triplets_f32_unit.npy"), a.astype(np.float32) / 255.0)
np.save(os.path.join(out, "triplets_f32_255.npy"), a.astype(np.float32))
np.save(os.path.join(out, "triplets_f64_unit.npy"), a.astype(np.float64) / 255.0)
np.save(os.path.join(out, "wrong_shape.npy"), a[:, :, :, :, 0])
np.save(os.path.join(out, "wrong_dtype.npy"), a.astype(np.int16))
np.save(os.path.join(out, "not_square.npy"), np.zeros((1, 3, 4, 5, 3), dtype=np.uint8))
np.save(os.path.join(out, "fortran_order.npy"), np.asfortranarray(a))
