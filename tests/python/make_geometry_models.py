"""Writes the models and data of apd-extract --geometry's tests
(tests/geometry_test.sh):

  cnn.pt, cnn_traced.pt  Net below, scripted and traced: conv, eval batch norm, ReLU,
                         max-pooling (2x2; and 3x3 stride 2 padded, overlapping),
                         a residual addition, channel and feature concatenation,
                         average pooling, a product and a quotient by constants, flatten, linear
  cnn_state.pt           its state_dict, for check_geometry.py's oracle
  X.npy, y.npy           float32 [N, 1, 12, 12] in [0, 1], int64 [N] labels in 0..2
  gelu.pt, relu6.pt, sigmoid.pt   models --geometry must refuse (op and source line)

Usage: make_geometry_models.py OUT_DIR N
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.conv3 = nn.Conv2d(4, 2, 1)
        self.fc1 = nn.Linear(6 * 3 * 3 + 4 * 3 * 3, 16)
        self.fc2 = nn.Linear(16, 3)

    def forward(self, x):
        a = torch.relu(self.bn1(self.conv1(x)))                      # ReLU 1: 4x12x12
        a = F.max_pool2d(a, 2)                                       # 4x6x6
        b = F.relu(self.conv2(a))                                    # ReLU 2: 4x6x6
        c = F.relu(a + b)                                            # ReLU 3: residual
        d = torch.cat([c, self.conv3(c) * 0.5], 1)                   # 6x6x6
        e = F.max_pool2d(d, 3, stride=2, padding=1)                  # 6x3x3, overlapping, padded
        features = torch.cat([e.flatten(1), F.avg_pool2d(c, 2).flatten(1)], 1) / 1.5
        f = F.relu(self.fc1(features))                               # ReLU 4: 16
        return self.fc2(f)

    def taps(self, x):
        """The oracle's view of forward: every ReLU's input and every max-pooling's input, in order."""
        z1 = self.bn1(self.conv1(x))
        a = F.max_pool2d(torch.relu(z1), 2)
        z2 = self.conv2(a)
        b = F.relu(z2)
        z3 = a + b
        c = F.relu(z3)
        d = torch.cat([c, self.conv3(c) * 0.5], 1)
        e = F.max_pool2d(d, 3, stride=2, padding=1)
        features = torch.cat([e.flatten(1), F.avg_pool2d(c, 2).flatten(1)], 1) / 1.5
        z4 = self.fc1(features)
        logits = self.fc2(F.relu(z4))
        return {"relu": [z1, z2, z3, z4], "pool": [(torch.relu(z1), 2, 2, 0), (d, 3, 2, 1)], "logits": logits}


class Strided(nn.Module):
    """Receptive-field patches (src/torch/patches.cpp) through padded overlapping max-pooling, a strided grouped
    convolution, a difference of two frames, "same" padding (symmetric, and even kernels' asymmetric), and a
    Linear layer of flattened patches."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(2, 6, 3, padding=1)
        self.conv2 = nn.Conv2d(6, 6, 3, stride=2, padding=1, groups=3)
        self.down = nn.Conv2d(6, 6, 1, stride=2)
        self.conv3 = nn.Conv2d(6, 4, 3, padding="same")
        self.conv4 = nn.Conv2d(4, 4, 2, padding="same")
        self.fc = nn.Linear(4 * 4 * 4, 3)
        self.skip = nn.Linear(6 * 4 * 4, 3)

    def forward(self, x):                                            # 2x15x15
        b = F.max_pool2d(F.relu(self.conv1(x)), 3, stride=2, padding=1)  # ReLU 1: 6x15x15, pooled 6x8x8
        c = F.relu(self.conv2(b) - self.down(b))                     # ReLU 2: 6x4x4
        d = F.relu(self.conv3(c))                                    # ReLU 3: 4x4x4
        return self.fc(self.conv4(d).flatten(1)) + self.skip(c.flatten(1))

    def taps(self, x):
        z1 = self.conv1(x)
        b = F.max_pool2d(F.relu(z1), 3, stride=2, padding=1)
        z2 = self.conv2(b) - self.down(b)
        z3 = self.conv3(F.relu(z2))
        logits = self.fc(self.conv4(F.relu(z3)).flatten(1)) + self.skip(F.relu(z2).flatten(1))
        return {"relu": [z1, z2, z3], "pool": [(torch.relu(z1), 3, 2, 1)], "logits": logits}


def save(net, out, name, x, rng):
    """The model scripted and traced, its state, and its data."""
    net.eval()
    with torch.no_grad():  # every class predicted for some instances: centre each logit on the data
        last = net.fc2 if hasattr(net, "fc2") else net.fc
        last.bias -= net(torch.from_numpy(x)).median(0).values
    prefix = "" if name == "cnn" else f"_{name}"
    np.save(os.path.join(out, f"X{prefix}.npy"), x)
    np.save(os.path.join(out, f"y{prefix}.npy"), rng.integers(0, 3, len(x)).astype(np.int64))
    torch.save(net.state_dict(), os.path.join(out, f"{name}_state.pt"))
    torch.jit.script(net).save(os.path.join(out, f"{name}.pt"))
    torch.jit.trace(net, torch.from_numpy(x[:2])).save(os.path.join(out, f"{name}_traced.pt"))


class Refused(nn.Module):
    def __init__(self, act):
        super().__init__()
        self.fc1 = nn.Linear(144, 8)
        self.fc2 = nn.Linear(8, 3)
        self.act = act

    def forward(self, x):
        return self.fc2(self.act(self.fc1(torch.relu(x.flatten(1)))))


def main():
    out, n = sys.argv[1], int(sys.argv[2])
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(11)
    net = Net()
    with torch.no_grad():
        net.bn1.running_mean.uniform_(-0.2, 0.2)
        net.bn1.running_var.uniform_(0.5, 2.0)
        net.bn1.weight.uniform_(0.5, 1.5)
        net.bn1.bias.uniform_(-0.1, 0.1)
    rng = np.random.default_rng(3)
    save(net, out, "cnn", rng.random((n, 1, 12, 12), dtype=np.float32), rng)
    save(Strided(), out, "strided", rng.random((n, 2, 15, 15), dtype=np.float32), rng)
    for name, act in (("gelu", nn.GELU()), ("relu6", nn.ReLU6()), ("sigmoid", nn.Sigmoid())):
        torch.jit.script(Refused(act).eval()).save(os.path.join(out, f"{name}.pt"))


if __name__ == "__main__":
    main()
