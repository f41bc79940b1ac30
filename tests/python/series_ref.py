"""An independent reference for `apd-stats FILES --table epochs|forgetting`:
json.load of each APD file and numpy, written from the definitions (docs/stats.md,
"A series of files"), not from apd's code.

  series_ref.py OUT.json APD.json...

Writes {"epochs": [...], "forgetting_summary": [...], "forgetting_histogram":
[...], "forgetting": [...]} with the columns apd-stats uses (the decision-tree
cluster AUROC aside), so that check mode can compare them:

  series_ref.py --check REF.json EPOCHS.json FORGETTING.json
"""
import json
import sys
from fractions import Fraction

import numpy as np


def patterns_of(doc):
    """Node id -> its pattern as a string of bits (apd/1 "pattern" or apd/2 "pattern_hex")."""
    widths = doc["graph"]["widths"]
    out = {}
    for n in doc["nodes"]:
        if n.get("kind") != "pattern":
            continue
        if "pattern" in n:
            out[n["id"]] = n["pattern"]
        else:
            w = widths[n["layer"] - 1]
            out[n["id"]] = bin(int(n["pattern_hex"], 16))[2:].zfill(w)[-w:]
    return out


def ari(a, b):
    """Adjusted Rand index of two labelings, exactly (Python integers), as a float."""
    n = len(a)
    if n < 2:
        return None
    pairs = lambda counts: sum(c * (c - 1) // 2 for c in counts)
    _, ca = np.unique(a, return_counts=True)
    _, cb = np.unique(b, return_counts=True)
    _, cab = np.unique(np.stack([a, b], 1), axis=0, return_counts=True)
    sa, sb, together, total = pairs(ca.tolist()), pairs(cb.tolist()), pairs(cab.tolist()), n * (n - 1) // 2
    den = sa * (total - sb) + sb * (total - sa)
    if den == 0:
        return 1.0
    return float(Fraction(2 * (together * total - sa * sb), den))


def auroc(score, positive):
    """Mann-Whitney AUROC with average ranks for ties; None without both classes."""
    pos, neg = positive.sum(), (~positive).sum()
    if pos == 0 or neg == 0:
        return None
    order = np.argsort(score, kind="stable")
    s = score[order]
    ranks = np.empty(len(s))
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[positive].sum() - pos * (pos + 1) / 2) / (pos * neg))


def load(path):
    doc = json.load(open(path))
    inst = doc["instances"]
    layers = len(doc["graph"]["widths"])
    pat = patterns_of(doc)
    paths = [[pat[p] for p in r["path"]] for r in inst]
    node_ids = np.array([[hash(p) for p in r["path"]] for r in inst]).reshape(len(inst), layers)
    return {
        "file": path, "epoch": doc["graph"]["epoch"], "graph": doc["graph"],
        "index": np.array([r["index"] for r in inst]), "label": np.array([r["label"] for r in inst]),
        "predicted": np.array([r["predicted"] for r in inst]), "paths": paths, "ids": node_ids, "layers": layers,
    }


def flow_labels(f):
    """The flows: instances grouped by their patterns on the last two layers (the last alone with one)."""
    keys = [tuple(p[-2:]) if f["layers"] > 1 else (p[-1],) for p in f["paths"]]
    _, labels = np.unique(np.array([hash(k) for k in keys]), return_inverse=True)
    return labels


def epoch_row(f, before):
    n, L = len(f["index"]), f["layers"]
    wrong = f["predicted"] != f["label"]
    row = {"epoch": f["epoch"], "file": f["file"], "instances": n, "accuracy": float(1 - wrong.mean())}
    for l in range(L):
        row[f"unique_l{l + 1}"] = len({p[l] for p in f["paths"]})
    for l in range(L):
        _, counts = np.unique(np.array([p[l] for p in f["paths"]]), return_counts=True)
        row[f"singletons_l{l + 1}"] = float((counts == 1).sum() / n)
    for l in range(L):
        row[f"churn_l{l + 1}"] = None if before is None else float(
            sum(a[l] != b[l] for a, b in zip(before["paths"], f["paths"])) / n)
    flows = flow_labels(f)
    row["flow_ari"] = None if before is None else ari(flow_labels(before), flows)
    # Per flow: strength and purity (share of its most frequent predicted label).
    strength = np.bincount(flows)
    purity = np.zeros(len(strength))
    for k in range(len(strength)):
        purity[k] = np.bincount(f["predicted"][flows == k]).max() / strength[k]
    row["auroc_small_strength"] = auroc(-strength[flows].astype(float), wrong)
    row["auroc_low_purity"] = auroc(-purity[flows], wrong)
    return row


def forgetting(files):
    first = files[0]
    train_label = first["label"].copy()
    corruption = first["graph"].get("label_corruption")
    corrupted = np.zeros(len(train_label), bool)
    if corruption:
        where = {i: l for i, l in zip(corruption["indices"], corruption["train_labels"])}
        for k, i in enumerate(first["index"]):
            if int(i) in where:
                train_label[k] = where[int(i)]
                corrupted[k] = True
    correct = np.array([f["predicted"] == train_label for f in files])  # epochs x instances
    epochs = [f["epoch"] for f in files]
    n = correct.shape[1]
    rows, events = [], np.zeros(n, int)
    learned_at = np.full(n, 0)
    learning = np.zeros(n, int)
    for t in range(len(files)):
        before = correct[t - 1] if t > 0 else np.zeros(n, bool)
        learning += correct[t] & ~before
        if t > 0:
            events += before & ~correct[t]
        learned_at = np.where((learned_at == 0) & correct[t], epochs[t], learned_at)
    never = learned_at == 0
    for i in range(n):
        rows.append({"index": int(first["index"][i]), "label": int(first["label"][i]),
                     "train_label": int(train_label[i]), "corrupted": bool(corrupted[i]),
                     "first_learned": None if never[i] else int(learned_at[i]),
                     "learning_events": int(learning[i]), "forgetting_events": int(events[i]),
                     "never_learned": bool(never[i]), "unforgettable": bool(~never[i] & (events[i] == 0))})
    groups = [("all", np.ones(n, bool))]
    if corruption:
        groups += [("clean", ~corrupted), ("corrupted", corrupted)]
    summary = []
    for name, m in groups:
        k = int(m.sum())
        summary.append({"group": name, "instances": k, "epochs": len(files), "never_learned": int(never[m].sum()),
                        "unforgettable": int((~never & (events == 0))[m].sum()),
                        "forgotten": int((events > 0)[m].sum()), "forgetting_events": int(events[m].sum()),
                        "mean_forgetting_events": float(events[m].sum() / k) if k else None,
                        "correct_last_epoch": int(correct[-1][m].sum())})
    histogram = []
    for e in range(int(events.max()) + 1 if n else 1):
        sel = ~never & (events == e)
        r = {"forgetting_events": e, "instances": int(sel.sum())}
        if corruption:
            r["clean"], r["corrupted"] = int((sel & ~corrupted).sum()), int((sel & corrupted).sum())
        histogram.append(r)
    return summary, histogram, rows


def reference(paths):
    files = sorted((load(p) for p in paths), key=lambda f: f["epoch"])
    epochs, before = [], None
    for f in files:
        epochs.append(epoch_row(f, before))
        before = f
    summary, histogram, rows = forgetting(files)
    return {"epochs": epochs, "forgetting_summary": summary, "forgetting_histogram": histogram, "forgetting": rows}


def close(a, b):
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and abs(a - b) <= 1e-12
    return a == b


def check(ref_path, epochs_path, forgetting_path):
    ref = json.load(open(ref_path))
    got = json.load(open(epochs_path))
    got.update(json.load(open(forgetting_path)))
    bad = []
    for table in ("epochs", "forgetting_summary", "forgetting_histogram", "forgetting"):
        want_rows, got_rows = ref[table], got[table]
        if table == "forgetting":  # by index: the orders may differ
            want_rows = sorted(want_rows, key=lambda r: r["index"])
            got_rows = sorted(got_rows, key=lambda r: r["index"])
        if len(want_rows) != len(got_rows):
            bad.append(f"{table}: {len(got_rows)} rows, the reference has {len(want_rows)}")
            continue
        for w, g in zip(want_rows, got_rows):
            for key, value in w.items():
                if not close(value, g.get(key)):
                    bad.append(f"{table}: {key} = {g.get(key)!r}, the reference says {value!r} (row {w})")
                    break
    if bad:
        print("FAIL:\n  " + "\n  ".join(bad[:10]))
        sys.exit(1)
    print(f"ok: {len(ref['epochs'])} epochs and {len(ref['forgetting'])} instances agree with the numpy reference")


if __name__ == "__main__":
    if sys.argv[1] == "--check":
        check(*sys.argv[2:5])
    else:
        json.dump(reference(sys.argv[2:]), open(sys.argv[1], "w"))
