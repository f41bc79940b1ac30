#!/usr/bin/env bash
# Sharded extraction: n = 1, 3 and 7 shards extracted by parallel processes
# and merged (given in a scrambled order) equal the single-process file byte
# for byte, with and without instance records, as JSON and GraphML, for the
# paper's MLP (a run with corrupted labels, so graph.label_corruption is
# merged too) and for a TorchScript CNN (LeNet-5, hex patterns); and every
# way of getting the shards wrong is a one-line error naming the files.
# Usage: shard_test.sh APD_TRAIN APD_EXTRACT APD_MERGE DATA_DIR MNIST_DIR SCRIPT_MODELS SCRATCH
set -euo pipefail
train="$1"; extract="$2"; merge="$3"; data="$4"; mnist="$5"; models="$6"; dir="$7"
rm -rf "$dir"; mkdir -p "$dir"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"$train" --data "$data" --hidden 16,8 --epochs 2 --lr 0.05 --corrupt-labels 0.2 --corrupt-seed 1 --out "$dir/run" --quiet

# same NAME N [extract options...]: whole vs N merged shards, JSON with and
# without instances, and GraphML. The one-process files of NAME are
# extracted once, for every N.
same() {
  local name="$1" n="$2"; shift 2
  local d="$dir/$name-$n" w="$dir/$name-whole"; mkdir -p "$d"
  if [[ ! -d "$w" ]]; then
    mkdir -p "$w"
    "$extract" "$@" --out "$w/whole.json" --quiet
    "$extract" "$@" --no-instances --out "$w/whole-lean.json" --quiet
    "$extract" "$@" --format graphml --out "$w/whole.graphml" --quiet
  fi
  local pids=()
  for ((i = 0; i < n; i++)); do
    { "$extract" "$@" --shard "$i/$n" --out "$d/shard-$i.json" --quiet &&
      "$extract" "$@" --shard "$i/$n" --no-instances --out "$d/lean-$i.json" --quiet; } &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || fail "$name: a shard's extraction failed"; done
  # Reversed order: merging does not depend on the order of the files.
  local shards=() lean=()
  for ((i = n - 1; i >= 0; i--)); do shards+=("$d/shard-$i.json"); lean+=("$d/lean-$i.json"); done
  "$merge" "${shards[@]}" --out "$d/merged.json" --quiet
  "$merge" "${lean[@]}" --out "$d/merged-lean.json" --quiet
  "$merge" "${shards[@]}" --format graphml --out "$d/merged.graphml" --quiet
  cmp "$w/whole.json" "$d/merged.json" || fail "$name: $n merged shards differ from the whole"
  cmp "$w/whole-lean.json" "$d/merged-lean.json" || fail "$name: $n merged shards without instances differ"
  cmp "$w/whole.graphml" "$d/merged.graphml" || fail "$name: $n merged shards as GraphML differ"
  echo "ok: $name, $n shards merged == one process (JSON, without instances, GraphML)"
}

mlp=(--run "$dir/run" --split train)
for n in 1 3 7; do same mlp "$n" "${mlp[@]}" --epoch 2; done
grep -q '"label_corruption"' "$dir/mlp-7/merged.json" || fail "no label_corruption in the merged MLP APD"
cnn=(--model "$models/lenet_scripted.pt" --data "$mnist" --split test --limit 1000 --input-shape 1,28,28)
for n in 1 3 7; do same lenet "$n" "${cnn[@]}"; done
grep -q '"schema":"apd/2"' "$dir/lenet-3/merged.json" || fail "the LeNet APD should use pattern_hex"
# Batches that straddle the shards' edges: each shard forwards the whole
# batches of the one-process batching around its slice and keeps its rows.
same mlp-b10 3 "${mlp[@]}" --epoch 2 --batch-size 10
same lenet-b100 3 "${cnn[@]}" --batch-size 100

# refused REGEX MERGE FILES...: apd-merge refuses the shards (exit 1, one
# line) and writes nothing.
refused() {
  local regex="$1"; shift
  expect 1 "$regex" "$@" --out "$dir/bad.json"
  expect_absent "$dir/bad.json"
}
s="$dir/mlp-3"
refused "shard 1 of 3 missing: 2 files given" "$merge" "$s/shard-0.json" "$s/shard-2.json"
refused "shard-2.json and .*shard-2.json are both shard 2 of 3" "$merge" "$s/shard-0.json" "$s/shard-2.json" "$s/shard-1.json" "$s/shard-2.json"
refused "shard-0.json: shard 0 of 7 over .* but .* is one of 3" "$merge" "$s/shard-1.json" "$dir/mlp-7/shard-0.json"
"$extract" "${mlp[@]}" --epoch 1 --shard 1/3 --out "$dir/epoch1.json" --quiet
refused "epoch1.json: its checkpoint differs from .*shard-0.json's" "$merge" "$s/shard-0.json" "$dir/epoch1.json" "$s/shard-2.json"
"$extract" "${mlp[@]}" --epoch 2 --labels 1 --shard 1/3 --out "$dir/labels.json" --quiet
refused "labels.json: .* over .* but .* (is one of|differs)|labels.json: its selection differs" "$merge" "$s/shard-0.json" "$dir/labels.json" "$s/shard-2.json"
c="$dir/lenet-3"
"$extract" "${cnn[@]}" --normalize standard --shard 1/3 --out "$dir/norm.json" --quiet
refused "norm.json: its dataset differs from .*shard-0.json's" "$merge" "$c/shard-0.json" "$dir/norm.json" "$c/shard-2.json"
refused "shard-1.json: its (checkpoint|model) differs" "$merge" "$c/shard-0.json" "$s/shard-1.json" "$c/shard-2.json"
refused "whole.json: not a shard" "$merge" "$dir/mlp-whole/whole.json"
refused "shard-1.json: its forward_pass differs from .*shard-0.json's" "$merge" "$s/shard-0.json" "$dir/mlp-b10-3/shard-1.json" "$s/shard-2.json"
refused "lean-1.json: some parts have instance records and some do not" "$merge" "$s/shard-0.json" "$s/lean-1.json" "$s/shard-2.json"
# A shard whose instances were tampered with so that it overlaps its neighbour.
/usr/bin/python3 - "$s/shard-1.json" "$dir/overlap.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["instances"][0]["index"] = 0
json.dump(d, open(sys.argv[2], "w"))
PY
refused "shard-0.json and .*overlap.json overlap" "$merge" "$s/shard-0.json" "$dir/overlap.json" "$s/shard-2.json"
# A shard whose label_corruption record was dropped, or has another seed.
/usr/bin/python3 - "$s/shard-1.json" "$dir/clean.json" "$dir/reseeded.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
c = d["graph"].pop("label_corruption")
json.dump(d, open(sys.argv[2], "w"))
d["graph"]["label_corruption"] = dict(c, seed=c["seed"] + 1)
json.dump(d, open(sys.argv[3], "w"))
PY
refused "clean.json: its label_corruption \(none\) differs from .*shard-0.json's" "$merge" "$s/shard-0.json" "$dir/clean.json" "$s/shard-2.json"
refused "reseeded.json: its label_corruption .* differs from .*shard-0.json's" "$merge" "$s/shard-0.json" "$dir/reseeded.json" "$s/shard-2.json"
# The output may not be one of the inputs, however it is spelled.
cp "$s/shard-2.json" "$dir/shard-2.copy"
expect 2 "--out .*shard-2.json: it is the input .*shard-2.json" \
  "$merge" "$s/shard-0.json" "$s/shard-1.json" "$s/shard-2.json" --out "$s/./shard-2.json"
cmp "$s/shard-2.json" "$dir/shard-2.copy" || fail "apd-merge overwrote its input"
echo "ok: wrong shard sets are one-line errors naming the files"
rm -rf "$dir"
