#!/usr/bin/env bash
# apd-extract --view / --view-from on a scripted and a traced LeNet-5: every
# view's bits and the whole diagram against numpy's recomputation from
# PyTorch's own ReLU outputs (tests/python/check_views.py); --view-from
# reuses the chosen neurons on other data; sharded view extractions merge
# byte for byte into the one-process file; the paper's MLP (a run) takes
# top:K and neurons; every refusal is one line and writes nothing.
# Usage: views_test.sh APD_EXTRACT APD_MERGE SCRIPT_MODELS RUN SCRATCH
set -euo pipefail
extract="$1"; merge="$2"; models="$3"; run="$4"; dir="$5"
rm -rf "$dir"; mkdir -p "$dir"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
py=/usr/bin/python3
shapes=6x24x24,16x8x8,120,84
data=(--data "$models/images.npy" --targets "$models/targets.npy" --input-shape 1,28,28)

for name in lenet_scripted lenet_traced; do
  m=(--model "$models/$name.pt" "${data[@]}")
  # The traced model's graph differs, its patterns must not: the first set of views on it too.
  # pool with edge windows (24 = 4 x 5 + 4, 8 = 2 x 3 + 2), channel shares, top:K, kept neurons.
  "$extract" "${m[@]}" --view 1=pool:5 --view 2=channel:0.25 --view 3=top:16 --view 4=neurons:83,0,40 \
    --out "$dir/$name-a.json" --quiet
  "$py" "$here/python/check_views.py" "$dir/$name-a.json" "$models/$name.patterns.npy" "$models/$name.predicted.npy" $shapes
  [[ $name == lenet_traced ]] && continue
  # channel at S = 0, pool:3, top:K on 40 instances (ties on the active counts).
  "$extract" "${m[@]}" --limit 40 --view 1=channel --view 2=pool:3 --view 3=top:8 --view 4=top:50 \
    --out "$dir/$name-b.json" --quiet
  "$py" "$here/python/check_views.py" "$dir/$name-b.json" "$models/$name.patterns.npy" "$models/$name.predicted.npy" $shapes
  # Other instances seen through the first file's views and neurons.
  "$extract" "${m[@]}" --select random --limit 300 --seed 4 --view-from "$dir/$name-a.json" --out "$dir/$name-c.json" --quiet
  "$py" "$here/python/check_views.py" "$dir/$name-c.json" "$models/$name.patterns.npy" "$models/$name.predicted.npy" \
    $shapes "$dir/$name-a.json"
done

# Shards need recorded neurons for top:K; with them, merged shards == one process.
m=(--model "$models/lenet_scripted.pt" "${data[@]}" --view-from "$dir/lenet_scripted-a.json")
"$extract" "${m[@]}" --out "$dir/whole.json" --quiet
for i in 0 1 2; do "$extract" "${m[@]}" --shard $i/3 --out "$dir/shard-$i.json" --quiet; done
"$merge" "$dir"/shard-{2,0,1}.json --out "$dir/merged.json" --quiet
cmp "$dir/whole.json" "$dir/merged.json" || fail "merged view shards differ from the one-process file"
echo "ok: 3 merged shards with views == one process"
expect 2 "--view 3=top:8: with --shard, top:K needs --view-from" \
  "$extract" --model "$models/lenet_scripted.pt" "${data[@]}" --view 3=top:8 --shard 0/2 --out "$dir/never.json"

# The paper's MLP: top:K and neurons apply to its fully connected layers.
"$extract" --run "$run" --split train --view 1=top:4 --view 2=neurons:0,1 --out "$dir/mlp.json" --quiet
"$py" - "$dir/mlp.json" <<'PY'
import json, sys
g = json.load(open(sys.argv[1]))["graph"]
assert [v["width"] for v in g["views"]] == g["widths"] == [4, 2] and g["views"][1]["neurons"] == [0, 1], g["views"]
assert len(g["views"][0]["neurons"]) == 4 and g["model"]["hidden"] == [16, 8], g
PY
echo "ok: the paper's MLP seen through top:4 and neurons:0,1"

# Refusals: exit 2 for options, 1 for files; nothing written. (Every
# malformed --view text is a unit test, tests/test_views.cpp; here one, and
# what needs the model.)
lenet=(--model "$models/lenet_scripted.pt" "${data[@]}")
refused() {
  local code="$1" regex="$2"; shift 2
  expect "$code" "$regex" "$@" --out "$dir/never.json"
  expect_absent "$dir/never.json"
}
refused 2 "--view 3=pool:2: layer 3 is not C x H x W \(its shape is 120\)" "$extract" "${lenet[@]}" --view 3=pool:2
refused 2 "--view 4=channel: layer 4 is not C x H x W" "$extract" "${lenet[@]}" --view 4=channel
refused 2 "--view 1=pool:25: K = 25 exceeds the layer's 24 x 24 positions" "$extract" "${lenet[@]}" --view 1=pool:25
refused 2 "--view 3=top:121: K = 121 exceeds layer 3's 120 neurons" "$extract" "${lenet[@]}" --view 3=top:121
refused 2 "--view 3=neurons:5,120: neuron 120 does not exist: layer 3 has neurons 0..119" \
  "$extract" "${lenet[@]}" --view 3=neurons:120,5
refused 2 "--view '3=mean:2': 'mean' is not a view" "$extract" "${lenet[@]}" --view 3=mean:2
refused 2 "--view: layer 3 has two views" "$extract" "${lenet[@]}" --view 3=top:8 --view 3=full
refused 2 "--view 1=pool:2: layer 1 is not observed \(layers 3,4\)" "$extract" "${lenet[@]}" --layers 3,4 --view 1=pool:2
refused 2 "--view 1=pool:2: layer 1 is not C x H x W \(its shape is 16\)" "$extract" --run "$run" --view 1=pool:2
refused 2 "--view 3=top:8: .*lenet_scripted-a.json records 3=top:16" \
  "$extract" "${lenet[@]}" --view-from "$dir/lenet_scripted-a.json" --view 3=top:8
refused 1 "--view-from .*lenet_scripted-a.json: records a view of layer 1, which is not observed" \
  "$extract" "${lenet[@]}" --layers 3,4 --view-from "$dir/lenet_scripted-a.json"
refused 1 "--view-from .*mlp.json: its views are of a .* model, this one is torchscript" \
  "$extract" "${lenet[@]}" --view-from "$dir/mlp.json"
refused 1 "no-such.json" "$extract" "${lenet[@]}" --view-from "$dir/no-such.json"
"$extract" "${lenet[@]}" --limit 10 --out "$dir/plain.json" --quiet
refused 1 "plain.json: records no views \(graph.views\)" "$extract" "${lenet[@]}" --view-from "$dir/plain.json"
echo "ok: every wrong view is a one-line error and writes nothing"
rm -rf "$dir"
