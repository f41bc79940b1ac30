"""Checks an APD written by apd-extract --model against PyTorch's own patterns:
every instance's pattern in every layer of the file, and its predicted label.

Usage: compare_script_apd.py APD.json PATTERNS.npy PREDICTED.npy WIDTHS LAYERS
  WIDTHS: the model's ReLU widths (comma-separated), LAYERS: the file's layers (1-based)
"""
import json
import sys

import numpy as np

apd_path, patterns_path, predicted_path = sys.argv[1:4]
widths = [int(w) for w in sys.argv[4].split(",")]
layers = [int(l) for l in sys.argv[5].split(",")]
apd = json.load(open(apd_path))
reference = np.load(patterns_path)
predicted = np.load(predicted_path)
offsets = np.concatenate([[0], np.cumsum(widths)])
file_widths = apd["graph"]["widths"]


def pattern(node):
    """The '0'/'1' text of a node, from "pattern" or (apd/2, wide layers) "pattern_hex"."""
    if "pattern" in node:
        return node["pattern"]
    h, w = node["pattern_hex"], file_widths[node["layer"] - 1]
    text = format(int(h, 16), f"0{4 * len(h)}b")[:w]  # the two one-liners of docs/apd-json.md agree
    assert "".join(map(str, np.unpackbits(np.frombuffer(bytes.fromhex(h), np.uint8))[:w])) == text
    assert np.packbits(np.array(list(text), dtype=np.uint8)).tobytes().hex() == h
    return text


patterns = {node["id"]: pattern(node) for node in apd["nodes"] if node["kind"] == "pattern"}
hex_nodes = sum("pattern_hex" in node for node in apd["nodes"])
assert apd["graph"]["widths"] == [widths[l - 1] for l in layers], apd["graph"]["widths"]
assert len(apd["instances"]) == len(reference), (len(apd["instances"]), len(reference))
bad = 0
for record in apd["instances"]:
    i = record["index"]
    for column, layer in enumerate(layers):
        want = "".join(map(str, reference[i, offsets[layer - 1]:offsets[layer]]))
        bad += patterns[record["path"][column]] != want
    bad += record["predicted"] != predicted[i]
assert bad == 0, f"{bad} patterns or predictions differ from PyTorch's"
assert (hex_nodes > 0) == (apd["schema"] == "apd/2") == any(w > 256 for w in file_widths)
print(f"{apd_path}: {len(apd['instances'])} instances x {len(layers)} layers equal PyTorch's ({hex_nodes} hex patterns)")
