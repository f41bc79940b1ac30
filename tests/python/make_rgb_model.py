"""Writes a small RGB convolutional TorchScript model and its data, for the
report's galleries on colour images (tests/report_test.sh):

  rgb.pt             conv 3->4 (3x3) -> ReLU -> flatten -> linear -> ReLU -> linear (3 classes)
  rgb_X.npy          float32 [N, 3, 6, 5] in [0, 1] (channels first; values k/255 and others)
  rgb_y.npy          int64 [N] labels

Usage: make_rgb_model.py OUT_DIR N
"""
import os
import sys

import numpy as np
import torch
from torch import nn

out, n = sys.argv[1], int(sys.argv[2])
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(7)
x = rng.random((n, 3, 6, 5), dtype=np.float32)
x[:, :, 0, :] = np.float32(0.5) / 255  # rounding at a half step
x[:, :, 1, 0] = 1.0
np.save(os.path.join(out, "rgb_X.npy"), x)
np.save(os.path.join(out, "rgb_y.npy"), rng.integers(0, 3, n).astype(np.int64))
torch.manual_seed(5)
model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 3, 6), nn.ReLU(), nn.Linear(6, 3))
torch.jit.script(model.eval()).save(os.path.join(out, "rgb.pt"))
