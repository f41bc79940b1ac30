"""Checks an APD extracted with --view against numpy: each layer's view
recomputed from PyTorch's own full patterns (pool windows with their edges,
channel shares, top:K's choice with its ties, kept neurons), every
instance's pattern in the file, and the whole diagram (node and link counts
and errors) rebuilt from the recomputed bits.

Usage: check_views.py APD.json PATTERNS.npy PREDICTED.npy SHAPES [NEURONS_FROM.json]
  SHAPES: every ReLU layer's shape, e.g. 6x24x24,16x8x8,120,84
  NEURONS_FROM: the APD whose top:K neurons this one must reuse (--view-from)
"""
import json
import sys
from collections import Counter

import numpy as np

import views_ref

apd_path, patterns_path, predicted_path, shapes_arg = sys.argv[1:5]
neurons_from = json.load(open(sys.argv[5])) if len(sys.argv) > 5 else None
shapes = [[int(d) for d in s.split("x")] for s in shapes_arg.split(",")]
widths = [int(np.prod(s)) for s in shapes]
offsets = np.concatenate([[0], np.cumsum(widths)])
apd = json.load(open(apd_path))
reference = np.load(patterns_path).astype(bool)
reference_predicted = np.load(predicted_path)
views = apd["graph"]["views"]
indices = np.array([r["index"] for r in apd["instances"]])
n = len(indices)


def full_bits(layer):
    return reference[indices, offsets[layer - 1]:offsets[layer]]


def view_bits(view):
    layer, kind, arg = view["layer"], view["kind"], view["arg"]
    bits, shape = full_bits(layer), shapes[layer - 1]
    assert view["shape"] == shape and view["full_width"] == widths[layer - 1], view
    if kind == "top":
        if neurons_from is None:
            assert view["from"] is None, view
            assert view["neurons"] == views_ref.top(bits, arg), (view["neurons"], views_ref.top(bits, arg))
        else:
            theirs = [v for v in neurons_from["graph"]["views"] if v["layer"] == layer][0]
            assert view["neurons"] == theirs["neurons"] and view["from"] is not None, (view, theirs)
    return views_ref.apply(view, bits)


def text(row):
    return "".join("1" if b else "0" for b in row)


def file_pattern(node, width):
    if "pattern" in node:
        return node["pattern"]
    return format(int(node["pattern_hex"], 16), f"0{4 * len(node['pattern_hex'])}b")[:width]


layers = [v["layer"] for v in views]
bits = [view_bits(v) for v in views]
assert apd["graph"]["widths"] == [b.shape[1] for b in bits] == [v["width"] for v in views]
node_pattern = {}
for node in apd["nodes"]:
    if node["kind"] == "pattern":
        node_pattern[node["id"]] = (node["layer"], file_pattern(node, apd["graph"]["widths"][node["layer"] - 1]))
records = apd["instances"]
labels = np.array([r["label"] for r in records])
predicted = np.array([r["predicted"] for r in records])
assert (predicted == reference_predicted[indices]).all(), "predicted labels differ from PyTorch's"
mine = [[text(b[i]) for b in bits] for i in range(n)]
for i, r in enumerate(records):
    got = [node_pattern[p][1] for p in r["path"]]
    assert got == mine[i], (r["index"], got, mine[i])
print(f"ok: {n} instances' view patterns of layers {layers} equal numpy's from PyTorch's")

# The diagram rebuilt from the recomputed bits: nodes and links, with errors.
wrong = labels != predicted
nodes, links = Counter(), Counter()
for i in range(n):
    path = [(c + 1, p) for c, p in enumerate(mine[i])] + [("label", int(predicted[i]))]
    for step in path:
        nodes[step] += np.array([1, int(wrong[i])])
    for a, b in zip(path, path[1:]):
        links[(a, b)] += np.array([1, int(wrong[i])])
ids = {}
file_nodes = Counter()
for node in apd["nodes"]:
    key = (node["layer"], node_pattern[node["id"]][1]) if node["kind"] == "pattern" else ("label", node["label"])
    ids[node["id"]] = key
    file_nodes[key] += np.array([node["count"], node["errors"]])
file_links = Counter()
for link in apd["links"]:
    file_links[(ids[link["source"]], ids[link["target"]])] += np.array([link["count"], link["errors"]])
as_tuples = lambda c: {k: tuple(int(x) for x in v) for k, v in c.items()}
assert as_tuples(nodes) == as_tuples(file_nodes), "nodes differ from the diagram of the recomputed bits"
assert as_tuples(links) == as_tuples(file_links), "links differ from the diagram of the recomputed bits"
print(f"ok: the diagram ({len(nodes)} nodes, {len(links)} links) equals the one built from numpy's bits")
