#!/usr/bin/env bash
# apd-stats end to end on APD files extracted from a short run: every table in
# every format, CSV and JSON parsed back, --run, and the files the error
# tests use. Usage: stats_test.sh APD_STATS APD_EXTRACT RUN_DIR SCRATCH
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
stats="$1"; extract="$2"; run="$3"; dir="$4"
rm -rf "$dir"; mkdir -p "$dir"; cd "$dir"
py=/usr/bin/python3
"$extract" --run "$run" --epochs 1,5 --out apd-e{epoch}.json --quiet
"$extract" --run "$run" --epoch 5 --no-instances --out lean.json --quiet
sed 's/"schema":"apd\/1"/"schema":"apd\/9"/' apd-e5.json > schema9.json
echo '{"hello": 1}' > notapd.json
cp "$run/run.json" run.json

"$stats" apd-e1.json apd-e5.json > all.txt
for t in layers flows bins errors clusters; do grep -q "== $t ==" all.txt || { echo "FAIL: no $t table"; exit 1; }; done
"$stats" apd-e1.json apd-e5.json --format markdown > all.md
grep -q "^### flows" all.md
"$stats" apd-e1.json apd-e5.json --format json --top 0 > all.json
for t in layers flows bins errors; do
  "$stats" apd-e1.json apd-e5.json --format csv --table $t --top 0 > $t.csv
done
# The decision-tree clusters against an independent implementation (decimal entropies).
for f in apd-e1 apd-e5; do
  "$stats" $f.json --table members --format csv > $f-members.csv
  "$stats" $f.json --table clusters --top 0 --format csv > $f-clusters.csv
  $py "$(dirname "$0")/python/reference_clusters.py" $f.json $f-members.csv $f-clusters.csv
done
grep -q "small_cluster" errors.csv || { echo "FAIL: no small_cluster AUROC in the errors table"; exit 1; }
"$stats" --run "$run" --format csv > epochs.csv
"$stats" --run "$run" > epochs.txt
"$stats" lean.json --table layers --format csv > lean-layers.csv
$py - <<'PY'
import csv, json
doc = json.load(open("all.json"))
layers = list(csv.DictReader(open("layers.csv")))
assert [r["layer"] for r in layers] == ["1", "2", "1", "2"], layers
assert list(layers[0]) == "file,epoch,layer,width,instances,unique_patterns,singleton_share,largest,entropy_bits".split(",")
flows = list(csv.DictReader(open("flows.csv")))
apd = {f: json.load(open(f)) for f in ("apd-e1.json", "apd-e5.json")}
for f, d in apd.items():
    mine = [r for r in flows if r["file"] == f]
    assert sum(int(r["strength"]) for r in mine) == d["graph"]["instances"], f   # --top 0: all flows
    assert sum(int(r["errors"]) for r in mine) == d["graph"]["errors"], f
    for r in mine:
        assert 0 < float(r["purity"]) <= 1 and 0 <= float(r["accuracy"]) <= 1
        assert all(len(p) == w for p, w in zip(r["patterns"].split("|"), d["graph"]["widths"][-2:]))
bins = list(csv.DictReader(open("bins.csv")))
assert sum(int(b["instances"]) for b in bins) == sum(d["graph"]["instances"] for d in apd.values())
errors = list(csv.DictReader(open("errors.csv")))
assert {r["score"] for r in errors} == {"small_strength", "low_purity", "small_cluster"}
# The JSON document holds the same flow records as the CSV, with numbers as numbers.
assert len(doc["flows"]) == len(flows)
for j, c in zip(doc["flows"], flows):
    assert list(j) == list(c), (list(j), list(c))
    assert j["strength"] == int(c["strength"]) and j["purity"] == float(c["purity"]) and j["patterns"] == c["patterns"]
epochs = list(csv.DictReader(open("epochs.csv")))
assert list(epochs[0]) == ("epoch,train_loss,train_acc,val_loss,val_acc,unique_l1,unique_l2,churn_l1,churn_l2,"
                           "flow_ari,best").split(",")
assert epochs[0]["churn_l1"] == "" and 0 <= float(epochs[1]["churn_l1"]) <= 1 and -1 <= float(epochs[1]["flow_ari"]) <= 1
assert [r["epoch"] for r in epochs] == ["1", "2", "3", "4", "5"]
assert sum(r["best"] == "true" for r in epochs) == 1
assert len(list(csv.DictReader(open("lean-layers.csv")))) == 2
print("apd-stats: tables in text, markdown, json and csv, parsed back and consistent: ok")
PY
grep -q "yes" epochs.txt
