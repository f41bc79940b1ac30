"""Writes .npy files with numpy for the .npy reader's tests. Every array's
element k (in C order) is (k * 7919) % 251, cast to the array's dtype, so the
reader can check each value without numpy.

  u1.npy f4.npy f8.npy     shape (5, 2, 3), numpy.save (format 1.0)
  f4_big.npy               '>f4', big-endian
  f4_v2.npy f4_v3.npy      format versions 2.0 and 3.0 (numpy.lib.format.write_array)
  t_<dtype>.npy            targets of shape (5,) for i1 i2 i4 i8 u1 u2 u4 u8 and >i4
  t_negative.npy           int8 targets [-1, 0, 1, 2, 3]
  fortran.npy              a Fortran-ordered (5, 2, 3) float32 array
  object.npy               dtype object (allow_pickle)
  strings.npy              dtype '<U3'
  f2.npy                   float16
  nan.npy                  float32 with a NaN in instance 3
  truncated.npy            f4.npy without its last 4 bytes
  targets_2d.npy           int64 targets of shape (5, 1)
  t_float.npy              float32 targets

Usage: make_npy.py DIR
"""
import os
import sys

import numpy as np

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
pattern = (np.arange(30) * 7919) % 251


def path(name):
    return os.path.join(out, name)


for dtype in ("u1", "f4", "f8"):
    np.save(path(f"{dtype}.npy"), pattern.reshape(5, 2, 3).astype(dtype))
np.save(path("f4_big.npy"), pattern.reshape(5, 2, 3).astype(">f4"))
for version in ((2, 0), (3, 0)):
    with open(path(f"f4_v{version[0]}.npy"), "wb") as f:
        np.lib.format.write_array(f, pattern.reshape(5, 2, 3).astype("f4"), version=version)
for dtype in ("i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", ">i4"):
    name = dtype.replace(">", "big_")
    np.save(path(f"t_{name}.npy"), pattern[:5].astype(dtype))
np.save(path("t_negative.npy"), np.array([-1, 0, 1, 2, 3], dtype="i1"))
np.save(path("fortran.npy"), np.asfortranarray(pattern.reshape(5, 2, 3).astype("f4")))
np.save(path("object.npy"), np.array([1, "a", None], dtype=object), allow_pickle=True)
np.save(path("strings.npy"), np.array(["abc", "de"]))
np.save(path("f2.npy"), pattern.reshape(5, 6).astype("f2"))
nan = pattern.reshape(5, 6).astype("f4")
nan[3, 4] = np.nan
np.save(path("nan.npy"), nan)
data = open(path("f4.npy"), "rb").read()
open(path("truncated.npy"), "wb").write(data[:-4])
np.save(path("targets_2d.npy"), pattern[:5].reshape(5, 1).astype("i8"))
np.save(path("t_float.npy"), pattern[:5].astype("f4"))
print(f"npy files written to {out}")
