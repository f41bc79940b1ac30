#!/usr/bin/env bash
# apd-extract --geometry end to end: every instance's region_radius and
# boundary_distance against an independent float64 oracle
# (tests/python/check_geometry.py) for the paper's MLP (an apd-train run) and
# a small CNN (conv, batch norm, max-pooling plain and overlapping-padded, a
# residual addition, concatenation, average pooling), scripted and traced; a
# strided one through receptive-field patches, and both CNNs' dense baseline;
# the 0.99/1.01 property tests; --geometry-layers; determinism and apd-merge
# of sharded geometry; the refusals.
# Usage: geometry_test.sh APD_EXTRACT APD_MERGE RUN_DIR SCRATCH
set -euo pipefail
extract="$1"; merge="$2"; run="$3"; dir="$4"
here="$(cd "$(dirname "$0")" && pwd)"
py=/usr/bin/python3
rm -rf "$dir"; mkdir -p "$dir"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The paper's MLP (16-8 hidden, a first layer narrower than the input: its row space is the basis).
"$extract" --run "$run" --epoch 5 --geometry --limit 1500 --out "$dir/mlp.json" --quiet
"$py" "$here/python/check_geometry.py" mlp "$dir/mlp.json" "$run" 5 || fail "MLP: differs from the oracle"

# The CNN, scripted and traced, and points near its decision boundary.
"$py" "$here/python/make_geometry_models.py" "$dir" 200
cnn=(--data "$dir/X.npy" --targets "$dir/y.npy" --geometry --quiet)
for kind in cnn cnn_traced; do
  "$extract" --model "$dir/$kind.pt" "${cnn[@]}" --out "$dir/$kind.json"
  "$py" "$here/python/check_geometry.py" cnn "$dir/$kind.json" "$dir" || fail "$kind: differs from the oracle"
done
"$py" "$here/python/check_geometry.py" near "$dir" 30
"$extract" --model "$dir/cnn.pt" --data "$dir/X_near.npy" --targets "$dir/y_near.npy" --geometry --quiet \
  --out "$dir/near.json"
"$py" "$here/python/check_geometry.py" cnn "$dir/near.json" "$dir" X_near.npy --min-crossed 20 ||
  fail "near the decision boundary: differs from the oracle or the property"

# Receptive-field patches (the default) through padded overlapping pooling, a strided grouped convolution, two
# frames' difference and "same" padding: the oracle on the scripted model; the traced one, and the dense baseline
# (--geometry-tangents dense) of both CNNs, equal to rounding.
strided=(--data "$dir/X_strided.npy" --targets "$dir/y_strided.npy" --geometry --limit 80 --quiet)
"$extract" --model "$dir/strided.pt" "${strided[@]}" --out "$dir/strided.json" 2>/dev/null
"$py" "$here/python/check_geometry.py" strided "$dir/strided.json" "$dir" 2>/dev/null ||
  fail "strided CNN: differs from the oracle"
"$extract" --model "$dir/strided_traced.pt" "${strided[@]}" --out "$dir/strided_traced.json" 2>/dev/null
"$extract" --model "$dir/strided.pt" "${strided[@]}" --geometry-tangents dense --out "$dir/strided_dense.json" 2>/dev/null
"$extract" --model "$dir/cnn.pt" "${cnn[@]}" --geometry-tangents dense --out "$dir/cnn_dense.json"
# --geometry-memory 1: a pass of 1 MB takes one instance and a chunk of its directions (patches hold zeros
# for the others), the MLP's too.
"$extract" --model "$dir/strided.pt" "${strided[@]}" --geometry-memory 1 --out "$dir/strided_1mb.json" 2>/dev/null
"$extract" --run "$run" --epoch 5 --geometry --limit 300 --geometry-memory 1 --out "$dir/mlp_1mb.json" --quiet
grep -q '"tangents":"dense"' "$dir/cnn_dense.json" || fail "dense tangents not recorded"
grep -q '"tangents":"patches"' "$dir/cnn.json" || fail "patches not recorded"
"$py" - "$dir" <<'PY' || fail "patches and dense tangents disagree"
import json, sys
d = sys.argv[1]
for a, b in (("strided", "strided_traced"), ("strided", "strided_dense"), ("cnn", "cnn_dense"),
             ("strided", "strided_1mb"), ("mlp", "mlp_1mb")):
    x, y = (json.load(open(f"{d}/{n}.json"))["instances"] for n in (a, b))
    assert len(y) > 0 and len(x) >= len(y)
    for p, q in zip(x, y):
        for key in ("region_radius", "boundary_distance"):
            assert abs(p[key] - q[key]) <= 1e-12 * abs(q[key]), (a, b, p, q)
PY
echo "ok: patches on a strided CNN equal the oracle; traced, dense tangents, chunked directions agree to 1e-12"

# --geometry-gradients float32: the same distances to 1e-5, with the arithmetic recorded.
"$extract" --model "$dir/cnn.pt" "${cnn[@]}" --geometry-gradients float32 --out "$dir/float32.json"
grep -q '"gradients":"float32"' "$dir/float32.json" || fail "float32 gradients not recorded"
"$py" "$here/python/check_geometry.py" cnn "$dir/float32.json" "$dir" --rtol 1e-5 || fail "float32 gradients"
"$extract" --run "$run" --epoch 5 --geometry --geometry-gradients float32 --limit 500 --out "$dir/mlp32.json" --quiet
"$py" "$here/python/check_geometry.py" mlp "$dir/mlp32.json" "$run" 5 --rtol 1e-5 || fail "MLP, float32 gradients"

# --geometry-layers: the radius over layers 2 and 4 only (no max-pooling windows).
"$extract" --model "$dir/cnn.pt" "${cnn[@]}" --layers 2,4 --geometry-layers --out "$dir/layers.json"
"$py" "$here/python/check_geometry.py" cnn "$dir/layers.json" "$dir" --layers 2,4 || fail "--geometry-layers"
echo "ok: MLP and CNN (scripted, traced) equal the float64 oracle; 0.99/1.01 properties; --geometry-layers"

# Byte-identical again; batches of 7 (sub-batches and chunks fall elsewhere) give the same numbers;
# two shards merged give the one-process file.
"$extract" --model "$dir/cnn.pt" "${cnn[@]}" --out "$dir/again.json"
cmp -s "$dir/cnn.json" "$dir/again.json" || fail "a second extraction differs"
"$extract" --model "$dir/cnn.pt" "${cnn[@]}" --batch-size 7 --out "$dir/batch7.json"
"$extract" --model "$dir/cnn.pt" "${cnn[@]}" --threads 2 --out "$dir/threads2.json"
"$py" - "$dir/cnn.json" "$dir/batch7.json" "$dir/threads2.json" <<'PY' || fail "--batch-size 7 or --threads 2 changed the distances"
import json, sys
a, b, c = (json.load(open(p))["instances"] for p in sys.argv[1:4])
for x, y in zip(a, b):
    for key in ("region_radius", "boundary_distance"):
        assert abs(x[key] - y[key]) <= 1e-12 * x[key], (x, y)
# Passes run one thread whatever --threads says: the same bits (the predictions agree here).
assert [(x["region_radius"], x["boundary_distance"]) for x in a] == [(x["region_radius"], x["boundary_distance"]) for x in c]
PY
for k in 0 1; do
  "$extract" --model "$dir/cnn.pt" "${cnn[@]}" --shard "$k/2" --out "$dir/shard$k.json"
done
"$merge" "$dir/shard0.json" "$dir/shard1.json" --out "$dir/merged.json" --quiet
"$py" - "$dir/cnn.json" "$dir/merged.json" <<'PY' || fail "merged shards lost or changed the distances"
import json, sys
a, b = (json.load(open(p))["instances"] for p in sys.argv[1:3])
key = lambda r: r["index"]
assert [(r["index"], r["region_radius"], r["boundary_distance"]) for r in sorted(a, key=key)] == \
       [(r["index"], r["region_radius"], r["boundary_distance"]) for r in sorted(b, key=key)]
PY
echo "ok: byte-identical twice; other batch sizes and --threads 2 agree; two merged shards carry every instance's distances"

# apd-stats and apd-report read them: the AUROC rows, the regions tables, and the medians the report's hovers
# show, each recomputed here from the file's own instance records.
stats="$(dirname "$extract")/apd-stats"; report="$(dirname "$extract")/apd-report"
"$stats" "$dir/cnn.json" --table errors --format csv --out "$dir/errors.csv"
"$stats" "$dir/cnn.json" --table regions --top 0 --format csv --out "$dir/regions.csv"
"$stats" "$dir/cnn.json" --table region_correlations --format csv --out "$dir/correlations.csv"
"$report" --apd "$dir/cnn.json" --no-images --out "$dir/report.html" --quiet
"$py" - "$dir" <<'PY' || fail "apd-stats or apd-report disagree with the file's distances"
import csv, json, math, sys
import numpy as np
d = sys.argv[1]
apd = json.load(open(f"{d}/cnn.json"))
ins = apd["instances"]
r = np.array([i["region_radius"] if i["region_radius"] is not None else math.inf for i in ins])
b = np.array([i["boundary_distance"] for i in ins])
wrong = np.array([i["label"] != i["predicted"] for i in ins])
def auroc(score, positive):  # Mann-Whitney with average ranks
    order = np.argsort(score, kind="stable"); ranks = np.empty(len(score)); s = score[order]; i = 0
    while i < len(s):
        j = i
        while j < len(s) and s[j] == s[i]: j += 1
        ranks[order[i:j]] = (i + 1 + j) / 2; i = j
    p = positive.sum(); n = len(score) - p
    return (ranks[positive].sum() - p * (p + 1) / 2) / (p * n)
rows = {row["score"]: row for row in csv.DictReader(open(f"{d}/errors.csv"))}
assert abs(float(rows["small_region_radius"]["auroc"]) - auroc(-r, wrong)) < 1e-12
assert abs(float(rows["small_boundary_distance"]["auroc"]) - auroc(-b, wrong)) < 1e-12
def ranks(x):
    return np.argsort(np.argsort(x, kind="stable"), kind="stable")  # distinct values here
rho = np.corrcoef(ranks(r), ranks(b))[0, 1]
corr = list(csv.DictReader(open(f"{d}/correlations.csv")))
assert abs(float(corr[0]["spearman"]) - rho) < 1e-9, (corr[0], rho)
nodes = {n["id"]: [] for n in apd["nodes"]}
for k, i in enumerate(ins):
    for node in i["path"]: nodes[node].append(k)
for row in csv.DictReader(open(f"{d}/regions.csv")):
    if row["kind"] != "node": continue
    members = nodes[row["id"]]
    assert int(row["instances"]) == len(members)
    assert float(row["radius_median"]) == float(np.median(r[members])), row
    assert float(row["boundary_max"]) == float(b[members].max()), row
html = open(f"{d}/report.html").read()
page = json.loads(html.split('id="apd-data">')[1].split("</script>")[0])
hover = page["apds"][0]["sankey"]["hover"]
largest = max((n for n in apd["nodes"] if n["kind"] == "pattern" and n["layer"] == 1), key=lambda n: n["count"])
text = next(h for h in hover if largest["id"] in h)
assert f"median region radius {float(np.median(r[nodes[largest['id']]])):.4g}" in text, text
print("ok: AUROC rows, regions, Spearman and the report's hover medians recomputed from the file")
PY

# Refusals: one line naming the op and its source line (exit 1), or the option (exit 2); nothing written.
for act in gelu:gelu relu6:hardtanh sigmoid:sigmoid; do
  expect 1 "${act%%:*}\.pt: --geometry: aten::${act#*:} at make_geometry_models\.py:[0-9]+ is not an op" \
    "$extract" --model "$dir/${act%%:*}.pt" "${cnn[@]}" --out "$dir/refused.json"
done
expect 2 "--geometry .*--no-instances" "$extract" --model "$dir/cnn.pt" "${cnn[@]}" --no-instances --out "$dir/refused.json"
expect 2 "--geometry needs --format json" "$extract" --model "$dir/cnn.pt" "${cnn[@]}" --format graphml --out "$dir/refused.json"
expect 2 "--geometry-layers applies to --geometry" "$extract" --model "$dir/cnn.pt" --data "$dir/X.npy" \
  --targets "$dir/y.npy" --geometry-layers --out "$dir/refused.json"
expect 2 "--geometry-gradients applies to --geometry" "$extract" --model "$dir/cnn.pt" --data "$dir/X.npy" \
  --targets "$dir/y.npy" --geometry-gradients float32 --out "$dir/refused.json"
expect 2 "--geometry-tangents applies to --geometry" "$extract" --model "$dir/cnn.pt" --data "$dir/X.npy" \
  --targets "$dir/y.npy" --geometry-tangents dense --out "$dir/refused.json"
expect 2 "--geometry-memory applies to --geometry" "$extract" --model "$dir/cnn.pt" --data "$dir/X.npy" \
  --targets "$dir/y.npy" --geometry-memory 64 --out "$dir/refused.json"
expect 2 "--geometry-memory: Value 0 not in range" "$extract" --model "$dir/cnn.pt" "${cnn[@]}" \
  --geometry-memory 0 --out "$dir/refused.json"
expect 2 "--geometry-tangents: sparse not in" "$extract" --model "$dir/cnn.pt" "${cnn[@]}" \
  --geometry-tangents sparse --out "$dir/refused.json"
expect 2 "--geometry-gradients: float16 not in" "$extract" --model "$dir/cnn.pt" "${cnn[@]}" \
  --geometry-gradients float16 --out "$dir/refused.json"
expect_absent "$dir/refused.json"
echo "ok: GELU, ReLU6 and sigmoid refused by op and source line; --no-instances, graphml, the sub-options alone"
