"""An APD extracted from a run trained with --corrupt-labels records the
selected corrupted instances (graph.label_corruption: indices ascending, the
labels trained on, as in run.json), and apd-stats's members, clusters and
corruption tables split clean and corrupted instances consistently with it.

Usage: check_corruption_tables.py RUN_DIR APD MEMBERS_CSV CLUSTERS_CSV CORRUPTION_CSV
"""
import csv
import json
import statistics
import sys

run, apd, members_csv, clusters_csv, corruption_csv = sys.argv[1:]
info = json.load(open(f"{run}/run.json"))["label_corruption"]
trained = dict(zip(info["indices"], info["labels"]))
doc = json.load(open(apd))
record = doc["graph"]["label_corruption"]
chosen = [r["index"] for r in doc["instances"]]
want = sorted(i for i in chosen if i in trained)
assert record["indices"] == want, "label_corruption.indices: the selected corrupted instances"
assert record["train_labels"] == [trained[i] for i in want]
assert record["probability"] == info["probability"] and record["seed"] == info["seed"]

members = list(csv.DictReader(open(members_csv)))
assert [int(m["index"]) for m in members] == chosen
assert all((m["corrupted"] == "true") == (int(m["index"]) in trained) for m in members)
clusters = list(csv.DictReader(open(clusters_csv)))
per_cluster = {}
for m in members:
    per_cluster[m["cluster"]] = per_cluster.get(m["cluster"], 0) + (m["corrupted"] == "true")
assert all(int(c["corrupted"]) == per_cluster[c["cluster"]] for c in clusters)

rows = {r["group"]: r for r in csv.DictReader(open(corruption_csv))}
for group, flag in (("clean", False), ("corrupted", True)):
    mine = [(m, r) for m, r in zip(members, doc["instances"]) if (m["corrupted"] == "true") == flag]
    row = rows[group]
    assert int(row["instances"]) == len(mine)
    sizes = [int(m["cluster_size"]) for m, _ in mine]
    assert abs(float(row["mean_cluster_size"]) - statistics.mean(sizes)) < 1e-9
    assert float(row["median_cluster_size"]) == statistics.median(sizes)
    assert abs(float(row["in_singleton_clusters"]) - sum(s == 1 for s in sizes) / len(sizes)) < 1e-12
    as_label = sum(r["predicted"] == r["label"] for _, r in mine) / len(mine)
    as_trained = sum(r["predicted"] == trained.get(r["index"], r["label"]) for _, r in mine) / len(mine)
    assert abs(float(row["predicted_label"]) - as_label) < 1e-12
    assert abs(float(row["predicted_train_label"]) - as_trained) < 1e-12
print(f"{apd}: {len(want)} corrupted of {len(chosen)}: members, clusters and corruption tables agree: ok")
