#!/usr/bin/env bash
# apd-monitor end to end on MNIST and Fashion-MNIST: a monitor of the paper's
# MLP (two layers) and of LeNet-5 (TorchScript, its 3456-bit layer) checked
# against PyTorch and numpy (tests/python/check_monitor.py); byte-identical
# output whatever the thread count; CSV = JSON; a class without patterns;
# monitors through views (and apd-extract --view-from one); the logit
# baselines (msp, max logit, energy) against PyTorch's logits; and the errors
# a user meets first, each one line with the right exit code.
# Usage: monitor_test.sh APD_MONITOR APD_TRAIN MNIST_DIR FASHION_DIR SCRIPT_MODELS SCRATCH APD_EXTRACT
set -euo pipefail
monitor="$1"; train="$2"; mnist="$3"; fashion="$4"; models="$5"; dir="$6"; extract="$7"
here="$(cd "$(dirname "$0")" && pwd)"
py=/usr/bin/python3
rm -rf "$dir"; mkdir -p "$dir"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"$train" --data "$mnist" --out "$dir/run" --epochs 2 --threads 2 --quiet

# The paper's MLP: layers 1 and 3, scored on MNIST test with Fashion-MNIST as OOD.
"$monitor" build --run "$dir/run" --epoch 2 --layers 1,3 --out "$dir/mlp.json" --quiet
"$monitor" score --monitor "$dir/mlp.json" --data "$mnist" --ood "$fashion" --limit 2000 --gamma 3 \
  --out "$dir/mlp-scores.json" >"$dir/summary.txt"
grep -q "== detection ==" "$dir/summary.txt" || fail "no summary on stdout"
"$py" "$here/python/check_monitor.py" mlp "$dir/mlp.json" "$dir/mlp-scores.json" "$dir/run" 2 "$mnist" "$fashion" \
  2000 || fail "the MLP's monitor or scores differ from PyTorch's"

# Same inputs, any thread count: the same bytes.
"$monitor" build --run "$dir/run" --epoch 2 --layers 3,1 --threads 2 --out "$dir/mlp-2.json" --quiet
cmp -s "$dir/mlp.json" "$dir/mlp-2.json" || fail "build depends on --threads or on the order of --layers"
"$monitor" score --monitor "$dir/mlp.json" --data "$mnist" --ood "$fashion" --limit 2000 --gamma 3 --threads 2 \
  --out "$dir/mlp-scores-2.json" >/dev/null
# Patterns, distances and flags are exact whatever the thread count; the logit
# baselines are not: LibTorch's matrix products sum in another order on 2
# threads, so logits (and msp, max logit, energy) move in their last float bits.
"$py" - "$dir/mlp-scores.json" "$dir/mlp-scores-2.json" <<'PY' || fail "score depends on --threads"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
logit = ("msp", "max_logit", "energy")
for r, s in zip(a["instances"], b["instances"]):
    assert {k: v for k, v in r.items() if k not in logit} == {k: v for k, v in s.items() if k not in logit}, (r, s)
    assert all(abs(r[k] - s[k]) <= 1e-6 * max(1, abs(r[k])) for k in logit), (r, s)
for r, s in zip(a["detection"], b["detection"]):
    assert r == s or (r["score"] in logit and abs(r["auroc"] - s["auroc"]) < 1e-3), (r, s)
assert len(a["instances"]) == len(b["instances"]) and a["flags"] == b["flags"]
PY
echo "ok: byte-identical monitors, and scores equal but for the logits' last bits, with 1 and 2 threads"

# CSV holds the JSON's instances table.
"$monitor" score --monitor "$dir/mlp.json" --data "$mnist" --ood "$fashion" --limit 2000 --gamma 3 --format csv \
  --out "$dir/mlp-scores.csv" >/dev/null
"$py" - "$dir/mlp-scores.json" "$dir/mlp-scores.csv" <<'PY' || fail "CSV differs from JSON"
import csv, json, sys
rows = json.load(open(sys.argv[1]))["instances"]
with open(sys.argv[2]) as f:
    table = list(csv.DictReader(f))
assert len(rows) == len(table), (len(rows), len(table))
def text(v):
    return "" if v is None else ("true" if v is True else "false" if v is False else str(v))
for r, c in zip(rows, table):
    assert list(r) == list(c), (list(r), list(c))
    for k, v in r.items():
        assert text(v) == c[k] or (isinstance(v, float) and abs(v - float(c[k])) < 1e-12), (k, v, c[k])
PY
echo "ok: --format csv holds the instances table of the JSON"

# LeNet-5 through TorchScript on .npy data, its 3456-bit first layer and its last.
lenet=(--model "$models/lenet_scripted.pt" --data "$models/images.npy" --targets "$models/targets.npy")
"$monitor" build "${lenet[@]}" --input-shape 1,28,28 --limit 600 --all-instances --layers 1,4 \
  --out "$dir/lenet.json" --quiet
# No model options: the monitor's own model and preprocessing.
"$monitor" score --monitor "$dir/lenet.json" --data "$models/images.npy" --targets "$models/targets.npy" \
  --out "$dir/lenet-scores.json" >/dev/null
"$py" "$here/python/check_monitor.py" npy "$dir/lenet.json" "$dir/lenet-scores.json" "$models/lenet_scripted.patterns.npy" \
  "$models/lenet_scripted.predicted.npy" "$models/targets.npy" 3456,1024,120,84 600 ||
  fail "LeNet-5's monitor or scores differ from PyTorch's"

# Views: the monitor keeps (and scores) pooled, per-channel and top:K patterns.
"$monitor" build "${lenet[@]}" --input-shape 1,28,28 --limit 600 --layers 1,2,4 --view 1=pool:4 \
  --view 2=channel:0.1 --view 4=top:16 --out "$dir/lenet-views.json" --quiet
"$monitor" score --monitor "$dir/lenet-views.json" --data "$models/images.npy" --targets "$models/targets.npy" \
  --out "$dir/lenet-views-scores.json" >/dev/null
"$py" "$here/python/check_monitor.py" npy "$dir/lenet-views.json" "$dir/lenet-views-scores.json" \
  "$models/lenet_scripted.patterns.npy" "$models/lenet_scripted.predicted.npy" "$models/targets.npy" \
  3456,1024,120,84 600 || fail "LeNet-5's monitor with views or its scores differ from numpy's"
# apd-extract sees the data through the monitor's views and neurons.
"$extract" --model "$models/lenet_scripted.pt" --data "$models/images.npy" --targets "$models/targets.npy" \
  --input-shape 1,28,28 --layers 1,2,4 --view-from "$dir/lenet-views.json" --no-instances --out "$dir/viewed.json" --quiet
"$py" - "$dir/lenet-views.json" "$dir/viewed.json" <<'PY' || fail "--view-from a monitor"
import json, sys
m, a = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
mine = [l["view"] for l in m["layers"]]
theirs = a["graph"]["views"]
assert [v["neurons"] for v in mine if v["kind"] == "top"] == [v["neurons"] for v in theirs if v["kind"] == "top"]
assert [v["view"] for v in mine] == [v["view"] for v in theirs] and all(v["from"] == sys.argv[1] for v in theirs)
PY
expect 2 "--view 4=pool:2: layer 4 is not C x H x W" "$monitor" build "${lenet[@]}" --input-shape 1,28,28 \
  --limit 10 --layers 4 --view 4=pool:2 --out "$dir/never.json"
expect_absent "$dir/never.json"
echo "ok: monitors through views, and apd-extract --view-from a monitor"

# Out-of-distribution data as unlabelled .npy: here the very instances scored, so every OOD
# distance equals its in-distribution twin and the OOD AUROC is exactly one half.
"$monitor" score --monitor "$dir/lenet.json" --data "$models/images.npy" --targets "$models/targets.npy" \
  --ood "$models/images.npy" --out "$dir/lenet-twins.json" >/dev/null
"$py" - "$dir/lenet-twins.json" <<'PY' || fail "OOD .npy without targets"
import json, sys
s = json.load(open(sys.argv[1]))
rows = {k: [r for r in s["instances"] if r["set"] == k] for k in ("in", "ood")}
assert len(rows["in"]) == len(rows["ood"]) == 1000
for a, b in zip(rows["in"], rows["ood"]):
    assert b["label"] is None and b["correct"] is None
    assert (a["distance_l1"], a["distance_l4"], a["predicted"]) == (b["distance_l1"], b["distance_l4"], b["predicted"])
assert all(r["auroc"] == 0.5 for r in s["detection"] if r["task"] == "ood"), s["detection"]
PY
echo "ok: --ood X.npy without targets; the same instances as OOD give AUROC 0.5"

# A class without known patterns: its inputs have no distance and are flagged.
"$monitor" build --run "$dir/run" --epoch 2 --labels 0,1 --out "$dir/two.json" 2>"$dir/two.err"
grep -q "class 2: no correctly classified training instance" "$dir/two.err" || fail "no warning for empty classes"
"$monitor" score --monitor "$dir/two.json" --data "$mnist" --limit 500 --out "$dir/two-scores.json" >/dev/null
"$py" - "$dir/two-scores.json" <<'PY' || fail "undefined distances"
import json, sys
rows = json.load(open(sys.argv[1]))["instances"]
other = [r for r in rows if r["predicted"] not in (0, 1)]
assert other and all(r["distance_l3"] is None and r["combined"] is None and r["flagged"] for r in other)
assert all(r["distance_l3"] is not None for r in rows if r["predicted"] in (0, 1))
PY
echo "ok: a class without patterns: distance null, flagged, and a warning at build"

# Errors: one line naming the file or option, exit 2 for usage and 1 for data.
expect 1 "SHA-256 differs from the one .*mlp.json was built for" \
  "$monitor" score --monitor "$dir/mlp.json" --run "$dir/run" --epoch 1 --data "$mnist"
expect 2 "--layers: layer 5 does not exist; the model has 3 ReLU layer" \
  "$monitor" build --run "$dir/run" --layers 5 --out "$dir/never.json"
[[ ! -e "$dir/never.json" ]] || fail "a failed build wrote its output"
expect 2 "--gamma: -1 is negative" "$monitor" score --monitor "$dir/mlp.json" --gamma -1
expect 2 "not expected: none --normalize" "$monitor" score --monitor "$dir/mlp.json" --normalize none
head -c 3000 "$dir/mlp.json" >"$dir/cut.json"
expect 1 "cut.json: not valid JSON" "$monitor" score --monitor "$dir/cut.json"
sed 's/"relu_widths":\[40,40,40\]/"relu_widths":[40,40,41]/' "$dir/mlp.json" >"$dir/wider.json"
expect 1 "wider.json: layers\[1\].width: 40 differs from the model's layer 3 \(41\)" \
  "$monitor" score --monitor "$dir/wider.json"
expect 1 "apd-monitor/1" "$monitor" score --monitor "$dir/mlp-scores.json"
expect 1 "no such file|cannot open|does not exist" "$monitor" score --monitor "$dir/missing.json"
echo "ok: another model, other widths, layers out of range, negative gamma, bad files"
