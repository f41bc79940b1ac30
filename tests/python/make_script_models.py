"""Writes TorchScript models for apd-extract --model tests, and, beside each,
the patterns PyTorch itself computes on the first N images (divided by 255),
for the tests to compare with apd's byte for byte.

  lenet_scripted.pt / lenet_traced.pt   LeNet-5 (F.relu in forward; 4 ReLU layers)
  residual.pt                           relu(W2 relu(W1 x) + x), scripted
  loop.pt                               a ReLU inside a data-dependent loop
  no_relu.pt                            a Linear model without ReLU
  tuple_out.pt                          forward returns a tuple
  shifty.pt                             10 classes for batches of 2 (the probe), 2 for larger ones
  no_classes.pt                         logits of shape [N, 0]
  mlp.pt, mlp_state.pt                  the paper's 784-40-40-40-10 nn.Sequential, scripted, and
                                        its state_dict (torch.save), the same weights
  lenet-e1.pt, lenet-e2.pt              LeNet-5 at two "epochs" (different weights)
  images.npy, targets.npy               the N images (uint8 [N, 28, 28]) and labels (int64)
  images_f32.npy                        the same images / 255 as float32
  NAME.patterns.npy                     uint8 [N, total width]: (relu_out > 0).flatten(1) of
                                        every ReLU call, concatenated, in call order
  NAME.predicted.npy                    int64 [N]: argmax of the logits

Usage: make_script_models.py OUT_DIR IDX_IMAGES N   (labels: the IDX labels file beside it)
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
raw = np.frombuffer(open(images_path, "rb").read(), dtype=np.uint8, offset=16).reshape(-1, 28, 28)[:n]
labels_path = images_path.replace("images-idx3", "labels-idx1")
labels = np.frombuffer(open(labels_path, "rb").read(), dtype=np.uint8, offset=8)[:n].astype(np.int64)
np.save(os.path.join(out, "images.npy"), raw)
np.save(os.path.join(out, "targets.npy"), labels)
images = raw.astype(np.float32) / 255.0  # [N, 28, 28], as apd's --normalize unit (float32 arithmetic)
np.save(os.path.join(out, "images_f32.npy"), images)


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


class Shifty(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Linear(784, 10)

    def forward(self, x):
        y = F.relu(self.w(x.flatten(1)))
        if x.size(0) > 2:
            return y[:, :2]
        return y


class NoClasses(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Linear(784, 10)

    def forward(self, x):
        return F.relu(self.w(x.flatten(1)))[:, :0]


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
    if name in ("loop", "no_relu", "tuple_out", "shifty", "no_classes"):
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
save(Shifty(), "shifty", torch.from_numpy(images))
save(NoClasses(), "no_classes", torch.from_numpy(images))
mlp = nn.Sequential(nn.Linear(784, 40), nn.ReLU(), nn.Linear(40, 40), nn.ReLU(), nn.Linear(40, 40), nn.ReLU(),
                    nn.Linear(40, 10))
save(mlp, "mlp", torch.from_numpy(images).flatten(1))
torch.save(mlp.state_dict(), os.path.join(out, "mlp_state.pt"))
torch.jit.script(lenet).save(os.path.join(out, "lenet-e1.pt"))
torch.jit.script(LeNet().eval()).save(os.path.join(out, "lenet-e2.pt"))
print(f"TorchScript models written to {out}")
