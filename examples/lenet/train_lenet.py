"""Trains LeNet-5 (or, with --arch cnn, the CNN of PyTorch's own MNIST example)
on MNIST for a few epochs, as a researcher would with their own model, and
saves it at every epoch the two ways TorchScript offers:

  OUT/scripted/epoch-{N}.pt   torch.jit.script(model).save(...)
  OUT/traced/epoch-{N}.pt     torch.jit.trace(model, example).save(...)
  OUT/state_dict.pt           the last epoch's weights (torch.save(model.state_dict()))

forward calls F.relu, torch.relu and an in-place F.relu: forward hooks on
nn.ReLU modules would see none of them; apd-extract --model sees all four.
Inputs are x/255 of the IDX bytes ([N, 1, 28, 28]), as apd-extract's
--normalize unit gives them.

The CNN (conv 32@3x3, conv 64@3x3, pool, 128, 10: 12 M multiply-adds per
image, 40x LeNet-5's) is the network whose forward pass dominates an
extraction: scripts/bench.sh shards measures sharding on it.

Usage: train_lenet.py [--arch lenet5|cnn] [--data data/mnist] [--out runs/lenet] [--epochs 3] [--seed 0] [--train-limit N]
"""
import argparse
import os

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class LeNet5(nn.Module):
    """LeNet-5 for 28x28 inputs: conv 6@5x5, pool, conv 16@5x5, pool, 120, 84, 10."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 4 * 4, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)      # ReLU layer 1: 6x24x24
        x = F.max_pool2d(torch.relu(self.conv2(x)), 2)  # ReLU layer 2: 16x8x8
        x = x.flatten(1)
        x = F.relu(self.fc1(x))                         # ReLU layer 3: 120
        x = F.relu(self.fc2(x), inplace=True)           # ReLU layer 4: 84
        return self.fc3(x)


class MnistCnn(nn.Module):
    """The network of PyTorch's examples/mnist (dropout included; eval mode drops it)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))                       # ReLU layer 1: 32x26x26
        x = F.relu(self.conv2(x))                       # ReLU layer 2: 64x24x24
        x = self.dropout1(F.max_pool2d(x, 2)).flatten(1)
        x = F.relu(self.fc1(x))                         # ReLU layer 3: 128
        return self.fc2(self.dropout2(x))


ARCHITECTURES = {"lenet5": LeNet5, "cnn": MnistCnn}


def read_idx(path, offset):
    return np.frombuffer(open(path, "rb").read(), dtype=np.uint8, offset=offset)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=sorted(ARCHITECTURES), default="lenet5")
    parser.add_argument("--data", default="data/mnist")
    parser.add_argument("--out", default="runs/lenet")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-limit", type=int, default=0, help="train on the first N images only (0: all)")
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(os.cpu_count() or 1)
    images = torch.from_numpy(read_idx(os.path.join(args.data, "train-images-idx3-ubyte"), 16).copy())
    images = images.reshape(-1, 1, 28, 28).float() / 255.0
    labels = torch.from_numpy(read_idx(os.path.join(args.data, "train-labels-idx1-ubyte"), 8).astype(np.int64))
    if args.train_limit > 0:
        images, labels = images[:args.train_limit], labels[:args.train_limit]
    model = ARCHITECTURES[args.arch]()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for kind in ("scripted", "traced"):
        os.makedirs(os.path.join(args.out, kind), exist_ok=True)
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = torch.randperm(len(images))
        total, correct = 0.0, 0
        for start in range(0, len(images), 64):
            batch = order[start:start + 64]
            logits = model(images[batch])
            loss = F.cross_entropy(logits, labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
            correct += (logits.argmax(1) == labels[batch]).sum().item()
        model.eval()
        torch.jit.script(model).save(os.path.join(args.out, "scripted", f"epoch-{epoch}.pt"))
        torch.jit.trace(model, images[:2]).save(os.path.join(args.out, "traced", f"epoch-{epoch}.pt"))
        print(f"epoch {epoch}: loss {total / len(images):.4f} train accuracy {correct / len(images):.4f}", flush=True)
    torch.save(model.state_dict(), os.path.join(args.out, "state_dict.pt"))
    print(f"models saved in {args.out}/scripted and {args.out}/traced")


if __name__ == "__main__":
    main()
