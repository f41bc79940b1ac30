"""Checks apd-monitor build and score against PyTorch and numpy: the known
patterns of every class and layer, every instance's distances, flags and
combined score, and the flags and detection tables (AUROC with average ranks,
FPR at 95% TPR by enumerating thresholds), recomputed from scratch.

Usage:
  check_monitor.py mlp MONITOR SCORES RUN_DIR EPOCH MNIST_DIR OOD_DIR [LIMIT]
      the paper's MLP of an apd-train run: build data = the run's training
      split, scored = the MNIST test images, OOD = OOD_DIR's test images
      (the first LIMIT of each, when given)
  check_monitor.py npy MONITOR SCORES PATTERNS.npy PREDICTED.npy TARGETS.npy WIDTHS BUILD_COUNT
      a TorchScript model's reference patterns (tests/python/make_script_models.py):
      built from the first BUILD_COUNT instances, all of them scored
"""
import json
import os
import sys

import numpy as np
import torch

import views_ref

mode, monitor_path, scores_path = sys.argv[1:4]
monitor = json.load(open(monitor_path))
scores = json.load(open(scores_path))
layers = [l["layer"] for l in monitor["layers"]]
widths = [l["width"] for l in monitor["layers"]]
all_instances = monitor["all_instances"]


def read_idx(path, offset):
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        import gzip
        return np.frombuffer(gzip.open(path + ".gz").read(), dtype=np.uint8, offset=offset)
    return np.frombuffer(open(path, "rb").read(), dtype=np.uint8, offset=offset)


def mlp_reference(state, images):
    """Per hidden layer the patterns (uint8 [N, width]), the predictions and the logits."""
    x = torch.from_numpy(images.astype(np.float32) / 255.0)
    linears = sorted({k.split(".")[0] for k in state}, key=int)
    out = []
    with torch.no_grad():
        for k, name in enumerate(linears):
            x = x @ state[f"{name}.weight"].T + state[f"{name}.bias"]
            if k + 1 < len(linears):
                x = torch.relu(x)
                out.append((x > 0).numpy().astype(np.uint8))
    return out, x.argmax(1).numpy(), x.numpy()


if mode == "mlp":
    run, epoch, mnist, ood_dir = sys.argv[4:8]
    limit = int(sys.argv[8]) if len(sys.argv) > 8 else None
    info = json.load(open(os.path.join(run, "run.json")))
    state = torch.load(os.path.join(run, "checkpoints", f"epoch-{int(epoch):04d}.pt"))
    train_x = read_idx(os.path.join(mnist, "train-images-idx3-ubyte"), 16).reshape(-1, 784)
    train_y = read_idx(os.path.join(mnist, "train-labels-idx1-ubyte"), 8).astype(np.int64)
    val = set(info["split"]["val_indices"])
    train_idx = np.array([i for i in range(len(train_y)) if i not in val])
    test_x = read_idx(os.path.join(mnist, "t10k-images-idx3-ubyte"), 16).reshape(-1, 784)[:limit]
    test_y = read_idx(os.path.join(mnist, "t10k-labels-idx1-ubyte"), 8).astype(np.int64)[:limit]
    ood_x = read_idx(os.path.join(ood_dir, "t10k-images-idx3-ubyte"), 16).reshape(-1, 784)[:limit]
    build_p, build_q, _ = mlp_reference(state, train_x[train_idx])
    build = ([build_p[l - 1] for l in layers], build_q, train_y[train_idx])
    test_p, test_q, test_logits = mlp_reference(state, test_x)
    scored = ([test_p[l - 1] for l in layers], test_q, test_y)
    ood_p, ood_q, ood_logits = mlp_reference(state, ood_x)
    ood = ([ood_p[l - 1] for l in layers], ood_q)
    logits = {"in": test_logits, "ood": ood_logits}
else:
    patterns, predicted, targets = (np.load(p) for p in sys.argv[4:7])
    all_widths = [int(w) for w in sys.argv[7].split(",")]
    build_count = int(sys.argv[8])
    offsets = np.concatenate([[0], np.cumsum(all_widths)])
    per_layer = [patterns[:, offsets[l - 1]:offsets[l]] for l in layers]
    build = ([p[:build_count] for p in per_layer], predicted[:build_count], targets[:build_count])
    scored = (per_layer, predicted, targets)
    ood = None
    # PyTorch's logits of the scored .npy images, preprocessed as the monitor records.
    pre = monitor["preprocessing"]
    assert pre["normalize"] == "unit", pre
    images = np.load(monitor["training"]["data"]).astype(np.float32) / 255.0
    mean, std = (pre["mean"] or [0.0])[0], (pre["std"] or [1.0])[0]
    x = (torch.from_numpy(images).reshape([-1] + pre["input_shape"]) - mean) / std
    with torch.no_grad():
        logits = {"in": torch.jit.load(monitor["model"]["file"])(x).numpy()}

# The monitor's views, recomputed on the full patterns: top:K from the build instances.
for k, layer in enumerate(monitor["layers"]):
    view = layer.get("view")
    if view is None:
        continue
    if view["kind"] == "top" and view["from"] is None:
        assert view["neurons"] == views_ref.top(build[0][k].astype(bool), view["arg"]), view
    build[0][k] = views_ref.apply(view, build[0][k]).astype(np.uint8)
    scored[0][k] = views_ref.apply(view, scored[0][k]).astype(np.uint8)
    if ood is not None:
        ood[0][k] = views_ref.apply(view, ood[0][k]).astype(np.uint8)
    assert layer["width"] == view["width"] == build[0][k].shape[1], layer
if any("view" in l for l in monitor["layers"]):
    print(f"ok: views {[l['view']['view'] for l in monitor['layers'] if 'view' in l]} equal numpy's")

classes = monitor["model"]["classes"]

# 1. The known patterns: distinct, per predicted class, of the correct instances (or all).
keep = np.ones(len(build[1]), bool) if all_instances else build[1] == build[2]
assert monitor["class_instances"] == [int(np.sum(keep & (build[1] == c))) for c in range(classes)], \
    monitor["class_instances"]
known = []  # [layer][class] -> uint8 [n, width]
for k, p in enumerate(build[0]):
    sets = []
    for c in range(classes):
        rows = np.unique(p[keep & (build[1] == c)], axis=0)
        mine = sorted(np.packbits(r).tobytes().hex() for r in rows)
        theirs = monitor["layers"][k]["patterns"][c]
        # Ascending '0'/'1' text is ascending packbits hex.
        assert theirs == mine, f"layer {layers[k]} class {c}: {len(theirs)} patterns in the file, {len(mine)} expected"
        sets.append(rows)
    known.append(sets)
print(f"ok: known patterns of {len(layers)} layer(s) x {classes} classes equal PyTorch's")


def nearest(p, q):
    """Per instance, the Hamming distance to the nearest known pattern of its predicted class (None: none)."""
    out = [None] * len(q)
    for c in range(classes):
        rows = np.nonzero(q == c)[0]
        s = known_layer[c]
        if len(rows) == 0 or len(s) == 0:
            continue
        a = p[rows].astype(np.float64)
        b = s.astype(np.float64)
        for start in range(0, len(rows), 512):
            block = a[start:start + 512]
            d = block.sum(1)[:, None] + b.sum(1)[None, :] - 2 * block @ b.T
            for i, v in zip(rows[start:start + 512], d.min(1)):
                out[i] = int(round(v))
    return out


def distances(ref):
    global known_layer
    out = []
    for k in range(len(layers)):
        known_layer = known[k]
        out.append(nearest(ref[0][k], ref[1]))
    return out


gamma = scores["monitor"][0]["gamma"]
rows = {"in": [r for r in scores["instances"] if r["set"] == "in"],
        "ood": [r for r in scores["instances"] if r["set"] == "ood"]}
sets = {"in": (scored, distances(scored))}
if ood is not None:
    sets["ood"] = (ood, distances(ood))
for name, (ref, dist) in sets.items():
    assert len(rows[name]) == len(ref[1]), (name, len(rows[name]), len(ref[1]))
    for i, r in enumerate(rows[name]):
        assert r["index"] == i and r["predicted"] == int(ref[1][i]), (name, i, r)
        if name == "in":
            assert r["label"] == int(ref[2][i]) and r["correct"] == bool(ref[1][i] == ref[2][i]), (name, i, r)
        for k, l in enumerate(layers):
            assert r[f"distance_l{l}"] == dist[k][i], (name, i, l, r[f"distance_l{l}"], dist[k][i])
        undefined = any(dist[k][i] is None for k in range(len(layers)))
        combined = None if undefined else sum(dist[k][i] / widths[k] for k in range(len(layers)))
        assert (r["combined"] is None) == undefined and (undefined or abs(r["combined"] - combined) < 1e-12), r
        assert r["flagged"] == any(d[i] is None or d[i] > gamma for d in dist), r
print(f"ok: distances, combined scores and flags of {sum(len(r) for r in rows.values())} instances")


def baselines(z):
    """msp, max logit and energy of each row of logits, in float64."""
    z = z.astype(np.float64)
    top = z.max(axis=1)
    total = np.exp(z - top[:, None]).sum(axis=1)
    return {"msp": 1.0 / total, "max_logit": top, "energy": -(top + np.log(total))}


base = {name: baselines(z) for name, z in logits.items() if name in rows and rows[name]}
for name, b in base.items():
    for key, values in b.items():
        got = np.array([r[key] for r in rows[name]])
        assert np.allclose(got, values, rtol=1e-6, atol=1e-6), (name, key, np.abs(got - values).max())
print(f"ok: msp, max logit and energy of every instance equal PyTorch's logits'")
suspicion = {"msp": lambda v: -v, "max_logit": lambda v: -v, "energy": lambda v: v}


def score_of(dist, i, k):
    if k is None:
        if any(d[i] is None for d in dist):
            return float("inf")
        return sum(dist[j][i] / widths[j] for j in range(len(layers)))
    return float("inf") if dist[k][i] is None else float(dist[k][i])


def auroc(neg, pos):
    """Mann-Whitney U / (n_pos n_neg) with average ranks."""
    values = np.array(neg + pos)
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    sorted_values = values[order]
    i = 0
    while i < len(values):
        j = i
        while j < len(values) and sorted_values[j] == sorted_values[i]:
            j += 1
        ranks[order[i:j]] = (i + 1 + j) / 2
        i = j
    r = ranks[len(neg):].sum()
    return (r - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))


def fpr95(neg, pos):
    for t in sorted(set(neg + pos), reverse=True):
        if 100 * sum(p >= t for p in pos) >= 95 * len(pos):
            return sum(n >= t for n in neg) / len(neg)


expected = []
in_ref, in_dist = sets["in"]
wrong = [i for i in range(len(in_ref[1])) if in_ref[1][i] != in_ref[2][i]]
right = [i for i in range(len(in_ref[1])) if in_ref[1][i] == in_ref[2][i]]
score_keys = list(range(len(layers))) + [None]
for k in score_keys:
    name = "combined" if k is None else f"layer {layers[k]}"
    neg = [score_of(in_dist, i, k) for i in right]
    pos = [score_of(in_dist, i, k) for i in wrong]
    expected.append(("misclassification", name, auroc(neg, pos) if pos and neg else None,
                     fpr95(neg, pos) if pos and neg else None))
# The baselines from the file's own values (checked above against PyTorch's).
file_base = {name: {key: np.array([r[key] for r in rows[name]]) for key in suspicion} for name in base}
for key, f in suspicion.items():
    v = f(file_base["in"][key]).tolist()
    neg, pos = [v[i] for i in right], [v[i] for i in wrong]
    expected.append(("misclassification", key, auroc(neg, pos) if pos and neg else None,
                     fpr95(neg, pos) if pos and neg else None))
if "ood" in sets:
    ood_dist = sets["ood"][1]
    for k in score_keys:
        name = "combined" if k is None else f"layer {layers[k]}"
        neg = [score_of(in_dist, i, k) for i in range(len(in_ref[1]))]
        pos = [score_of(ood_dist, i, k) for i in range(len(sets["ood"][0][1]))]
        expected.append(("ood", name, auroc(neg, pos), fpr95(neg, pos)))
    for key, f in suspicion.items():
        neg, pos = f(file_base["in"][key]).tolist(), f(file_base["ood"][key]).tolist()
        expected.append(("ood", key, auroc(neg, pos), fpr95(neg, pos)))
got = [(r["task"], r["score"], r["auroc"], r["fpr_at_95_tpr"]) for r in scores["detection"]]
assert len(got) == len(expected), (got, expected)
for g, e in zip(got, expected):
    assert g[:2] == e[:2], (g, e)
    for a, b in zip(g[2:], e[2:]):
        assert (a is None) == (b is None) and (a is None or abs(a - b) < 1e-12), (g, e)

for r in scores["flags"]:
    ref, dist = sets[r["set"]]
    flagged = [i for i in range(len(ref[1])) if any(d[i] is None or d[i] > r["gamma"] for d in dist)]
    assert r["instances"] == len(ref[1]) and r["flagged"] == len(flagged), r
    if r["set"] == "in":
        w = set(wrong)
        assert r["misclassified"] == len(w) and r["misclassified_flagged"] == len(w & set(flagged)), r
        if flagged:
            assert abs(r["precision"] - len(w & set(flagged)) / len(flagged)) < 1e-15, r
print(f"ok: detection ({len(got)} rows) and flags ({len(scores['flags'])} rows) tables")
for g in got:
    print(f"   {g[0]:<17} {g[1]:<9} AUROC {g[2]}  FPR@95TPR {g[3]}")
