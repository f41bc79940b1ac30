#!/usr/bin/python3
"""The same jobs as apd-train and apd-extract, written the way a PyTorch user
writes them in Python: nn.Sequential, forward hooks on the ReLUs, numpy, json.

It is the baseline of scripts/bench.sh (same libtorch and BLAS: Debian's
python3-torch) and an independent oracle for the tests.

  reference_apd.py train   --data DIR --epochs N [--hidden 40,40,40] [--lr 0.001]
                           [--batch-size 64] [--seed 0] [--threads 1] [--no-track]
  reference_apd.py extract --data DIR --checkpoint FILE [--normalize unit]
                           [--split train|test] [--labels 1,7] [--limit N] --out FILE
  reference_apd.py extract-lenet --data DIR --state-dict FILE [--split test] --out FILE
      LeNet-5 of examples/lenet/train_lenet.py, rebuilt with nn.ReLU modules (the
      only ReLUs forward hooks can see), its state_dict loaded; numpy; json.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
from torch import nn


def read_idx(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        import gzip
        data = gzip.decompress(data)
    ndims = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndims).reshape(dims)


def load(data_dir, split, normalize):
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte"))
    images = images.reshape(images.shape[0], -1)
    labels = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte")).astype(np.int64)
    x = images.astype(np.float32) / np.float32(255.0)
    if normalize == "standard":
        x = (x - np.float32(0.1307)) / np.float32(0.3081)
    elif normalize == "symmetric":
        x = images.astype(np.float32) / np.float32(127.5) - np.float32(1.0)
    return torch.from_numpy(x), torch.from_numpy(labels)


def mlp(widths, classes=10, inputs=784):
    layers, prev = [], inputs
    for w in widths:
        layers += [nn.Linear(prev, w), nn.ReLU()]
        prev = w
    layers.append(nn.Linear(prev, classes))
    return nn.Sequential(*layers)


class PatternHooks:
    """Forward hooks on every ReLU: pack (output > 0) per layer with numpy."""

    def __init__(self, model):
        self.packed = []
        self.handles = []
        relus = [m for m in model if isinstance(m, nn.ReLU)]
        for layer, relu in enumerate(relus):
            self.packed.append([])
            self.handles.append(relu.register_forward_hook(self._hook(layer)))

    def _hook(self, layer):
        def hook(module, inputs, output):
            self.packed[layer].append(np.packbits((output > 0).numpy(), axis=1, bitorder="little"))
        return hook

    def layers(self):
        return [np.concatenate(p) for p in self.packed]

    def remove(self):
        for h in self.handles:
            h.remove()


def train(args):
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    x, y = load(args.data, "train", "unit")
    perm = np.random.default_rng(args.seed).permutation(len(x))
    val_idx, train_idx = perm[: len(x) // 10], perm[len(x) // 10:]
    xt, yt, xv, yv = x[train_idx], y[train_idx], x[val_idx], y[val_idx]
    model = mlp([int(w) for w in args.hidden.split(",")])
    opt = torch.optim.SGD(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        order = torch.randperm(len(xt))
        total, correct = 0.0, 0
        for b in range(0, len(xt), args.batch_size):
            idx = order[b: b + args.batch_size]
            xb, yb = xt[idx], yt[idx]
            opt.zero_grad()
            out = model(xb)
            loss = loss_fn(out, yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            correct += (out.argmax(1) == yb).sum().item()
        model.eval()
        with torch.no_grad():
            val_loss = loss_fn(model(xv), yv).item()
            unique = []
            if not args.no_track:
                hooks = PatternHooks(model)
                for b in range(0, len(xt), 2048):
                    model(xt[b: b + 2048])
                unique = [len(np.unique(p, axis=0)) for p in hooks.layers()]
                hooks.remove()
        seconds = time.perf_counter() - t0
        print(json.dumps({"epoch": epoch, "train_loss": total / len(xt), "val_loss": val_loss,
                          "unique_patterns": unique, "seconds": seconds}), flush=True)


def forward_with_hooks(model, x, batch=2048):
    hooks = PatternHooks(model)
    predicted = []
    with torch.no_grad():
        for b in range(0, len(x), batch):
            predicted.append(model(x[b: b + batch]).argmax(1).numpy())
    layers = hooks.layers()
    hooks.remove()
    return layers, np.concatenate(predicted) if predicted else np.zeros(0, dtype=np.int64)


def load_model(path):
    state = torch.load(path)
    weights = [k for k in state if k.endswith(".weight")]
    widths = [state[k].shape[0] for k in weights[:-1]]
    model = mlp(widths, classes=state[weights[-1]].shape[0], inputs=state[weights[0]].shape[1])
    model.load_state_dict({f"{2 * i}.{kind}": state[k.rsplit(".", 1)[0] + "." + kind]
                           for i, k in enumerate(weights) for kind in ("weight", "bias")})
    model.eval()
    return model, widths


def bits_text(row, width):
    return "".join("1" if (row[i // 8] >> (i % 8)) & 1 else "0" for i in range(width))


def write_apd(out_path, widths, idx, truth, predicted, pattern_text):
    """The APD with plain dicts, as a Python user would write it; pattern_text(layer, i) is '0'/'1' text."""
    nodes, links = {}, {}
    instances = []
    for i in range(len(idx)):
        wrong = int(truth[i] != predicted[i])
        path = [(layer + 1, pattern_text(layer, i)) for layer in range(len(widths))]
        keys = path + [("label", int(predicted[i]))]
        for k in keys:
            n = nodes.setdefault(k, {"count": 0, "errors": 0})
            n["count"] += 1
            n["errors"] += wrong
        for a, b in zip(keys, keys[1:]):
            e = links.setdefault((a, b), {"count": 0, "errors": 0})
            e["count"] += 1
            e["errors"] += wrong
        instances.append({"index": int(idx[i]), "label": int(truth[i]), "predicted": int(predicted[i]),
                          "path": [f"{k[0]}:{k[1]}" for k in path]})
    name = lambda k: f"{k[0]}:{k[1]}"
    out = {"directed": True, "multigraph": False,
           "graph": {"widths": widths, "instances": len(idx)},
           "nodes": [{"id": name(k), **v, **({"layer": k[0], "pattern": k[1]} if k[0] != "label" else {"label": k[1]})}
                     for k, v in nodes.items()],
           "links": [{"source": name(a), "target": name(b), **v} for (a, b), v in links.items()],
           "instances": instances}
    with open(out_path, "w") as f:
        json.dump(out, f)


def extract(args):
    torch.set_num_threads(args.threads)
    model, widths = load_model(args.checkpoint)
    x, y = load(args.data, args.split, args.normalize)
    labels = set(int(v) for v in args.labels.split(",")) if args.labels else None
    idx = [i for i in range(len(y)) if labels is None or int(y[i]) in labels]
    if args.limit:
        idx = idx[: args.limit]
    idx = np.array(idx, dtype=np.int64)
    layers, predicted = forward_with_hooks(model, x[idx])
    truth = y[idx].numpy()
    write_apd(args.out, widths, idx, truth, predicted,
              lambda layer, i: bits_text(layers[layer][i], widths[layer]))


class LeNet5Modules(nn.Module):
    """examples/lenet's LeNet-5 with nn.ReLU modules in place of F.relu calls."""

    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 6, 5), nn.Conv2d(6, 16, 5)
        self.fc1, self.fc2, self.fc3 = nn.Linear(256, 120), nn.Linear(120, 84), nn.Linear(84, 10)
        self.relus = nn.ModuleList(nn.ReLU() for _ in range(4))
        self.pool = nn.MaxPool2d(2)

    def forward(self, x):
        x = self.pool(self.relus[0](self.conv1(x)))
        x = self.pool(self.relus[1](self.conv2(x)))
        x = self.relus[2](self.fc1(x.flatten(1)))
        return self.fc3(self.relus[3](self.fc2(x)))


def extract_lenet(args):
    torch.set_num_threads(args.threads)
    model = LeNet5Modules()
    model.load_state_dict(torch.load(args.state_dict), strict=False)
    model.eval()
    x, y = load(args.data, args.split, "unit")
    x = x.reshape(-1, 1, 28, 28)
    packed = [[] for _ in model.relus]
    widths = [0] * len(model.relus)

    def hook(layer):
        def record(module, inputs, output):
            flat = (output > 0).flatten(1).numpy()
            widths[layer] = flat.shape[1]
            packed[layer].append(np.packbits(flat, axis=1))
        return record

    handles = [relu.register_forward_hook(hook(k)) for k, relu in enumerate(model.relus)]
    predicted = []
    with torch.no_grad():
        for b in range(0, len(x), 1024):
            predicted.append(model(x[b: b + 1024]).argmax(1).numpy())
    for h in handles:
        h.remove()
    predicted = np.concatenate(predicted)
    truth = y.numpy()
    layers = [np.concatenate(p) for p in packed]
    # Patterns as '0'/'1' text with numpy (a Python loop per bit would take minutes at 3456 bits).
    texts = [[(np.unpackbits(row)[:w] + ord("0")).tobytes().decode() for row in layer]
             for layer, w in zip(layers, widths)]
    write_apd(args.out, widths, np.arange(len(truth)), truth, predicted, lambda layer, i: texts[layer][i])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--data", default="data/mnist")
    t.add_argument("--hidden", default="40,40,40")
    t.add_argument("--epochs", type=int, default=1)
    t.add_argument("--lr", type=float, default=0.001)
    t.add_argument("--batch-size", type=int, default=64)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--no-track", action="store_true")
    e = sub.add_parser("extract")
    e.add_argument("--data", default="data/mnist")
    e.add_argument("--checkpoint", required=True)
    e.add_argument("--normalize", default="unit")
    e.add_argument("--split", default="train", choices=["train", "test"])
    e.add_argument("--labels", default="")
    e.add_argument("--limit", type=int, default=0)
    e.add_argument("--threads", type=int, default=1)
    e.add_argument("--out", required=True)
    lenet = sub.add_parser("extract-lenet")
    lenet.add_argument("--data", default="data/mnist")
    lenet.add_argument("--state-dict", required=True)
    lenet.add_argument("--split", default="test", choices=["train", "test"])
    lenet.add_argument("--threads", type=int, default=1)
    lenet.add_argument("--out", required=True)
    args = p.parse_args()
    {"train": train, "extract": extract, "extract-lenet": extract_lenet}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
