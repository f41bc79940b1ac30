"""Writes TorchScript models for apd-extract --model tests, and, beside each,
the patterns PyTorch itself computes on the first N images (divided by 255),
for the tests to compare with apd's byte for byte.

  lenet_scripted.pt / lenet_traced.pt   LeNet-5 (F.relu in forward; 4 ReLU layers)
  residual.pt                           relu(W2 relu(W1 x) + x), scripted
  loop.pt                               a ReLU inside a data-dependent loop
  no_relu.pt                            a Linear model without ReLU
  tuple_out.pt                          forward returns a tuple
  NAME.patterns.npy                     uint8 [N, total width]: (relu_out > 0).flatten(1) of
                                        every ReLU call, concatenated, in call order
  NAME.predicted.npy                    int64 [N]: argmax of the logits

Usage: make_script_models.py OUT_DIR IMAGES N   (IMAGES: an .npy array or an IDX image file)
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

out, images_path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.makedirs(out, exist_ok=True)
torch.manual_seed(3)
if images_path.endswith(".npy"):
    images = np.load(images_path)[:n]
else:  # an IDX image file (uint8, 16-byte header)
    images = np.frombuffer(open(images_path, "rb").read(), dtype=np.uint8, offset=16).reshape(-1, 28, 28)[:n]
images = images.astype(np.float32) / 255.0  # [N, 28, 28], as apd's --normalize unit


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(256, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(torch.relu(self.conv2(x)), 2)
        x = x.flatten(1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x), inplace=True)
        return self.fc3(x)


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.w1 = nn.Linear(784, 784)
        self.w2 = nn.Linear(784, 784)
        self.out = nn.Linear(784, 10)
        self.act = nn.ReLU()

    def forward(self, x):
        x = x.flatten(1)
        return self.out(self.act(self.w2(self.act(self.w1(x))) + x))


class Loop(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Linear(784, 784)
        self.out = nn.Linear(784, 10)

    def forward(self, x):
        x = x.flatten(1)
        for _ in range(int(x.size(0)) % 3 + 1):
            x = F.relu(self.w(x))
        return self.out(x)


class NoRelu(nn.Module):
    def __init__(self):
        super().__init__()
        self.out = nn.Linear(784, 10)

    def forward(self, x):
        return self.out(x.flatten(1))


class TupleOut(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Linear(784, 10)

    def forward(self, x):
        y = F.relu(self.w(x.flatten(1)))
        return y, y


def reference(model, x):
    """PyTorch's own patterns: every relu/relu_ call's output > 0, in call order."""
    seen = []
    originals = (torch.relu, F.relu)

    def relu(t, inplace=False):
        r = originals[0](t)
        seen.append((r > 0).flatten(1).to(torch.uint8))
        return r

    torch.relu, F.relu = relu, relu
    try:
        with torch.no_grad():
            logits = model(x)
    finally:
        torch.relu, F.relu = originals
    return torch.cat(seen, 1).numpy(), logits.argmax(1).numpy()


def save(model, name, x, traced=False):
    model.eval()
    scripted = torch.jit.trace(model, x[:2]) if traced else torch.jit.script(model)
    scripted.save(os.path.join(out, f"{name}.pt"))
    if name in ("loop", "no_relu", "tuple_out"):
        return
    patterns, predicted = reference(model, x)
    np.save(os.path.join(out, f"{name}.patterns.npy"), patterns)
    np.save(os.path.join(out, f"{name}.predicted.npy"), predicted.astype(np.int64))


x4 = torch.from_numpy(images).unsqueeze(1)  # [N, 1, 28, 28]
lenet = LeNet()
save(lenet, "lenet_scripted", x4)
save(lenet, "lenet_traced", x4, traced=True)
save(Residual(), "residual", torch.from_numpy(images))
save(Loop(), "loop", torch.from_numpy(images))
save(NoRelu(), "no_relu", torch.from_numpy(images))
save(TupleOut(), "tuple_out", torch.from_numpy(images))
print(f"TorchScript models written to {out}")
