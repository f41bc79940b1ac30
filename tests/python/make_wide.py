"""Writes a TorchScript model over very wide instances and a sparse .npy of
them (zeros, taking no disk), for the bounded-memory test: a batch of such
instances must be sized by bytes, not by --batch-size alone.

  wide.pt      x [N, D] -> Linear(1, 8)(mean of x) -> ReLU -> Linear(8, 3)
  wide.npy     float32 [N, D], sparse
  wide_y.npy   int64 [N] zeros

Usage: make_wide.py OUT_DIR N D
"""
import os
import sys

import numpy as np
import torch
from torch import nn

out, n, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(out, exist_ok=True)


class Wide(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(1, 8)
        self.out = nn.Linear(8, 3)

    def forward(self, x):
        return self.out(torch.relu(self.fc(x.flatten(1).mean(1, keepdim=True))))


torch.manual_seed(0)
torch.jit.script(Wide().eval()).save(os.path.join(out, "wide.pt"))
with open(os.path.join(out, "wide.npy"), "wb") as f:
    np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (n, d)})
    f.truncate(f.tell() + n * d * 4)
np.save(os.path.join(out, "wide_y.npy"), np.zeros(n, np.int64))
