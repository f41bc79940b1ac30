"""What apd-train recorded about how instances move, recomputed independently
in PyTorch and Python from the run's per-epoch checkpoints:

- dynamics.bin: bit i of epoch e's row is "training instance i predicted as
  its training label (after corruption) at the end of epoch e";
- metrics.jsonl churn: the share of training instances whose pattern on
  layer l changed since the previous epoch (exactly count / n);
- metrics.jsonl flow_ari: the adjusted Rand index of the flow partitions
  (patterns on the last two layers) of consecutive epochs, from pair counts
  with exact fractions;
- apd-stats --table forgetting (CSV): first epoch learned, learning and
  forgetting events per instance (Toneva et al.), corrupted flags;
- run.json label_corruption: training indices only, ascending, labels
  changed to another class, about P (K - 1) / K of them.

Usage: check_dynamics.py RUN_DIR FORGETTING_CSV
"""
import csv
import json
import os
import sys
from collections import Counter
from fractions import Fraction

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
from reference_apd import forward_with_hooks, load, mlp  # noqa: E402

run, forgetting_csv = sys.argv[1], sys.argv[2]
info = json.load(open(os.path.join(run, "run.json")))
metrics = [json.loads(line) for line in open(os.path.join(run, "metrics.jsonl"))]
epochs = len(metrics)
assert [m["epoch"] for m in metrics] == list(range(1, epochs + 1))

x, y = load(info["data"]["dataset"]["dir"], "train", info["data"]["normalize"])
source = y.numpy().astype(np.int64)
val = set(info["split"]["val_indices"])
train = np.array([i for i in range(len(source)) if i not in val])
labels = source[train].copy()
corruption = info.get("label_corruption")
corrupted = np.zeros(len(train), dtype=bool)
if corruption:
    idx = corruption["indices"]
    assert idx == sorted(set(idx)) and not (set(idx) & val), "corrupted indices: training only, ascending"
    pos = np.searchsorted(train, idx)
    assert (train[pos] == idx).all()
    assert (labels[pos] != np.array(corruption["labels"])).all(), "a listed label must change"
    labels[pos] = corruption["labels"]
    corrupted[pos] = True
    p, k, n = corruption["probability"], info["model"]["classes"], len(train)
    expected = n * p * (k - 1) / k
    assert abs(len(idx) - expected) < 5 * (expected * (1 - p * (k - 1) / k)) ** 0.5 + 1, (len(idx), expected)

n = len(train)
row_bytes = (n + 7) // 8
raw = open(os.path.join(run, "dynamics.bin"), "rb").read()
assert raw[:8] == b"APDDYN1\n" and int.from_bytes(raw[8:16], "little") == n
rows = np.frombuffer(raw, np.uint8, offset=16).reshape(-1, row_bytes)
assert len(rows) == epochs, (len(rows), epochs)
recorded = np.unpackbits(rows, axis=1, bitorder="little")[:, :n].astype(bool)
assert not np.unpackbits(rows, axis=1, bitorder="little")[:, n:].any(), "padding bits must be 0"


def pairs(c):
    return c * (c - 1) // 2


def ari(a, b):
    """Hubert-Arabie ARI from the contingency table, in exact fractions."""
    together = sum(pairs(c) for c in Counter(zip(a, b)).values())
    sa = sum(pairs(c) for c in Counter(a).values())
    sb = sum(pairs(c) for c in Counter(b).values())
    total = pairs(len(a))
    expected = Fraction(sa * sb, total)
    top = Fraction(sa + sb, 2) - expected
    return 1.0 if top == 0 else float((together - expected) / top)


hidden = info["model"]["hidden"]
model = mlp(hidden, classes=info["model"]["classes"], inputs=info["model"]["inputs"])
model.eval()
previous = None
correct = np.zeros((epochs, n), dtype=bool)
for e in range(1, epochs + 1):
    model.load_state_dict(torch.load(os.path.join(run, "checkpoints", f"epoch-{e:04d}.pt")))
    layers, predicted = forward_with_hooks(model, x[torch.from_numpy(train)])
    correct[e - 1] = predicted == labels
    keys = [[row.tobytes() for row in layer] for layer in layers]
    flows = list(zip(*keys[-2:]))
    m = metrics[e - 1]
    if previous is None:
        assert "churn" not in m and "flow_ari" not in m, m
    else:
        prev_keys, prev_flows = previous
        churn = [sum(a != b for a, b in zip(pk, k)) / n for pk, k in zip(prev_keys, keys)]
        assert m["churn"] == churn, (e, m["churn"], churn)
        want = ari(prev_flows, flows)
        assert abs(m["flow_ari"] - want) <= 1e-15, (e, m["flow_ari"], want)
    previous = (keys, flows)
assert (recorded == correct).all(), "dynamics.bin differs from PyTorch's predictions"

# Forgetting, per instance, as Toneva et al. define the transitions.
as_int = correct.astype(np.int8)
learned_first = np.where(correct.any(0), correct.argmax(0) + 1, 0)
transitions = np.diff(np.vstack([np.zeros((1, n), np.int8), as_int]), axis=0)
learning = (transitions == 1).sum(0)
forgetting = (transitions == -1).sum(0)
table = list(csv.DictReader(open(forgetting_csv)))
assert len(table) == n
for i, r in enumerate(table):
    assert int(r["index"]) == train[i]
    assert int(r["label"]) == source[train[i]] and int(r["train_label"]) == labels[i]
    assert (r["corrupted"] == "true") == corrupted[i]
    assert (r["first_learned"] or "0") == str(learned_first[i]), (i, r)
    assert int(r["learning_events"]) == learning[i] and int(r["forgetting_events"]) == forgetting[i], (i, r)
    assert (r["never_learned"] == "true") == (learned_first[i] == 0)
    assert (r["unforgettable"] == "true") == (learned_first[i] > 0 and forgetting[i] == 0)
events = int(forgetting.sum())
assert events > 0, "the fixture run should forget something"
print(f"{run}: {epochs} epochs x {n} instances ({int(corrupted.sum())} corrupted): dynamics.bin, churn, "
      f"flow ARI and {events} forgetting events agree with PyTorch: ok")
