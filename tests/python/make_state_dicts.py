"""Writes state_dicts with Python's torch.save(model.state_dict(), f), as
PyTorch users save them, for apd-extract --checkpoint tests:

  prefixed.pt      class Net: self.relus = nn.Sequential(nn.Flatten(), Linear(INPUTS,32), ReLU,
                   Linear(32,16), ReLU, Linear(16,10)) -> keys relus.1.weight, ...
  sequential.pt    nn.Sequential(Linear(INPUTS,24), ReLU, Linear(24,10)) -> keys 0.weight, ...
  not_mlp.pt       a BatchNorm1d between the Linears (running_mean, ... keys)
  unchained.pt     weights that do not chain (Linear(INPUTS,32) then Linear(20,10))
  wrong_inputs.pt  a first layer of 100 inputs
  corrupt.pt       the first half of prefixed.pt
  odd_storage.pt   sequential.pt with 3 bytes appended to a tensor record (not whole float32s)
  nested.pt        sequential.pt whose data.pkl is 1,000,000 nested tuples
  empty_layer.pt   a hidden Linear layer with no outputs
  compressed.pt    sequential.pt with its records deflated (torch.save stores them)
  bad_crc.pt       sequential.pt with a byte of a tensor record flipped (its CRC no longer matches)

Usage: make_state_dicts.py DIR INPUTS
"""
import os
import sys
import zipfile

import torch
from torch import nn

out, inputs = sys.argv[1], int(sys.argv[2])
os.makedirs(out, exist_ok=True)
torch.manual_seed(7)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.relus = nn.Sequential(nn.Flatten(), nn.Linear(inputs, 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU(),
                                   nn.Linear(16, 10))

    def forward(self, x):
        return self.relus(x)


torch.save(Net().state_dict(), os.path.join(out, "prefixed.pt"))
torch.save(nn.Sequential(nn.Linear(inputs, 24), nn.ReLU(), nn.Linear(24, 10)).state_dict(),
           os.path.join(out, "sequential.pt"))
torch.save(nn.Sequential(nn.Linear(inputs, 24), nn.BatchNorm1d(24), nn.ReLU(), nn.Linear(24, 10)).state_dict(),
           os.path.join(out, "not_mlp.pt"))
torch.save({"0.weight": torch.zeros(32, inputs), "0.bias": torch.zeros(32),
            "2.weight": torch.zeros(10, 20), "2.bias": torch.zeros(10)}, os.path.join(out, "unchained.pt"))
torch.save(nn.Sequential(nn.Linear(100, 24), nn.ReLU(), nn.Linear(24, 10)).state_dict(),
           os.path.join(out, "wrong_inputs.pt"))
torch.save({"0.weight": torch.zeros(0, inputs), "0.bias": torch.zeros(0), "2.weight": torch.zeros(10, 0),
            "2.bias": torch.zeros(10)}, os.path.join(out, "empty_layer.pt"))
data = open(os.path.join(out, "prefixed.pt"), "rb").read()
open(os.path.join(out, "corrupt.pt"), "wb").write(data[: len(data) // 2])


def rewrite(source, target, edit, compression=zipfile.ZIP_STORED):
    """Copies the zip archive `source` to `target`, passing each record through edit(name, bytes)."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", compression) as zout:
        for item in zin.infolist():
            record = edit(item.filename, zin.read(item.filename))
            item.compress_type = compression
            zout.writestr(item, record)


sequential = os.path.join(out, "sequential.pt")
rewrite(sequential, os.path.join(out, "odd_storage.pt"),
        lambda name, b: b + b"xyz" if name.endswith("/data/0") else b)
deep = b"\x80\x02)" + b"\x85" * 1_000_000 + b"."  # PROTO 2, EMPTY_TUPLE, TUPLE1 x 10^6, STOP
rewrite(sequential, os.path.join(out, "nested.pt"), lambda name, b: deep if name.endswith("/data.pkl") else b)
rewrite(sequential, os.path.join(out, "compressed.pt"), lambda name, b: b, zipfile.ZIP_DEFLATED)
data = bytearray(open(sequential, "rb").read())
with zipfile.ZipFile(sequential) as z:
    record = next(i for i in z.infolist() if i.filename.endswith("/data/0"))
name_len, extra_len = (int.from_bytes(data[record.header_offset + k:record.header_offset + k + 2], "little")
                       for k in (26, 28))
data[record.header_offset + 30 + name_len + extra_len + 5] ^= 0xFF
open(os.path.join(out, "bad_crc.pt"), "wb").write(data)
print(f"state_dicts written to {out}")
