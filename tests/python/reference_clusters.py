"""The decision-tree clustering as the paper authors' code states it, written
independently of apd's: information gain on the predicted labels computed
with 60-digit decimal logarithms (a split is kept when the gain exceeds
1e-40), recursion from the last hidden layer down. Compares its clusters
(members, size, stopping layer) with `apd-stats --table members` and
`--table clusters` output in CSV, for every instance.

Usage: reference_clusters.py APD.json MEMBERS.csv CLUSTERS.csv
"""
import csv
import json
import sys
from collections import Counter
from decimal import Decimal, getcontext

getcontext().prec = 60
LN2 = Decimal(2).ln()

apd = json.load(open(sys.argv[1]))
layers = apd["graph"]["layers"]
paths = [r["path"] for r in apd["instances"]]
predicted = [r["predicted"] for r in apd["instances"]]


def entropy(members):
    n = Decimal(len(members))
    h = Decimal(0)
    for count in Counter(predicted[i] for i in members).values():
        p = Decimal(count) / n
        h -= p * p.ln() / LN2
    return h


final = []  # (members, layer)


def grow(members, layer):
    groups = {}
    for i in members:
        groups.setdefault(paths[i][layer - 1], []).append(i)
    children = list(groups.values())
    gain = entropy(members) - sum(Decimal(len(c)) / Decimal(len(members)) * entropy(c) for c in children)
    if gain <= Decimal("1e-40"):
        final.append((members, layer))
        return
    for child in children:
        if layer == 1 or len(child) == 1:
            final.append((child, layer))
        else:
            grow(child, layer - 1)


sys.setrecursionlimit(100000)
grow(list(range(len(paths))), layers)
mine = {frozenset(m): l for m, l in final}

rows = list(csv.DictReader(open(sys.argv[2])))
clusters = {r["cluster"]: r for r in csv.DictReader(open(sys.argv[3]))}
theirs = {}
for r in rows:
    theirs.setdefault(r["cluster"], set()).add(int(r["position"]))
assert len(theirs) == len(mine), (len(theirs), len(mine))
for name, members in theirs.items():
    key = frozenset(members)
    assert key in mine, f"cluster {name} ({len(members)} instances) is not one of the reference's"
    assert int(clusters[name]["size"]) == len(members)
    assert int(clusters[name]["layer"]) == mine[key], (name, clusters[name]["layer"], mine[key])
print(f"{sys.argv[1]}: {len(mine)} clusters of {len(paths)} instances equal the reference's")
