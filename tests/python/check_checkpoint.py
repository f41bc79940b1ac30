"""A run directory is enough to rebuild the model in PyTorch and feed it:
torch.load(checkpoint) gives a dict of tensors with nn.Sequential keys, the
architecture and the preprocessing come from run.json, and the validation
loss recomputed here equals the one apd-train recorded for that epoch.

Usage: check_checkpoint.py RUN_DIR EPOCH
"""
import json
import os
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
from reference_apd import load, mlp  # noqa: E402

run, epoch = sys.argv[1], int(sys.argv[2])
info = json.load(open(os.path.join(run, "run.json")))
state = torch.load(os.path.join(run, "checkpoints", f"epoch-{epoch:04d}.pt"))
assert isinstance(state, dict), type(state)
hidden = info["model"]["hidden"]
expected = [f"{2 * i}.{k}" for i in range(len(hidden) + 1) for k in ("weight", "bias")]
assert sorted(state) == sorted(expected), sorted(state)
assert all(isinstance(v, torch.Tensor) and v.dtype == torch.float32 for v in state.values())

model = mlp(hidden, classes=info["model"]["classes"], inputs=info["model"]["inputs"])
model.load_state_dict(state)
model.eval()
x, y = load(info["data"]["dataset"]["dir"], "train", info["data"]["normalize"])
val = torch.tensor(info["split"]["val_indices"])
with torch.no_grad():
    val_loss = nn.functional.cross_entropy(model(x[val]), y[val]).item()
recorded = [json.loads(l) for l in open(os.path.join(run, "metrics.jsonl"))][epoch - 1]
assert recorded["epoch"] == epoch
assert abs(val_loss - recorded["val_loss"]) < 1e-5, (val_loss, recorded["val_loss"])
print(f"torch.load({run}, epoch {epoch}): {len(state)} tensors, val_loss {val_loss:.6f} == {recorded['val_loss']:.6f}: ok")
