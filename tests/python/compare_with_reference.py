"""apd-extract --checkpoint on a state_dict saved by Python gives, for every
instance, the same activation patterns and prediction as scripts/reference_apd.py
(forward hooks on nn.Sequential ReLUs, numpy) on the same weights.

Usage: compare_with_reference.py APD_EXTRACT DATA_DIR CHECKPOINT SCRATCH [extra apd-extract args...]
"""
import json
import os
import subprocess
import sys

extract, data, checkpoint, scratch = sys.argv[1:5]
extra = sys.argv[5:]
os.makedirs(scratch, exist_ok=True)
ours_path = os.path.join(scratch, "ours.json")
ref_path = os.path.join(scratch, "reference.json")
subprocess.run([extract, "--checkpoint", checkpoint, "--data", data, "--out", ours_path, "--quiet", *extra],
               check=True)
script = os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "reference_apd.py")
ref_args = []
for flag in ("--split", "--labels", "--limit"):
    if flag in extra:
        ref_args += [flag, extra[extra.index(flag) + 1]]
subprocess.run([sys.executable, script, "extract", "--data", data, "--checkpoint", checkpoint, "--out", ref_path,
                *ref_args], check=True)

ours = json.load(open(ours_path))
ref = json.load(open(ref_path))
pattern = {n["id"]: n["pattern"] for n in ours["nodes"] if n["kind"] == "pattern"}
assert len(ours["instances"]) == len(ref["instances"]) > 0, (len(ours["instances"]), len(ref["instances"]))
mismatches = 0
for a, b in zip(ours["instances"], ref["instances"]):
    assert a["index"] == b["index"] and a["label"] == b["label"], (a, b)
    ours_patterns = [pattern[i] for i in a["path"]]
    ref_patterns = [p.split(":", 1)[1] for p in b["path"]]
    if ours_patterns != ref_patterns or a["predicted"] != b["predicted"]:
        mismatches += 1
        if mismatches <= 3:
            print("mismatch at index", a["index"], ours_patterns, ref_patterns, a["predicted"], b["predicted"])
assert mismatches == 0, f"{mismatches} instances differ"
assert ours["graph"]["widths"] == ref["graph"]["widths"]
print(f"{len(ours['instances'])} instances: patterns and predictions identical to the PyTorch forward hooks")
