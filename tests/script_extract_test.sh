#!/usr/bin/env bash
# apd-extract --model end to end, on the models and data of
# tests/python/make_script_models.py (MODELS): patterns equal PyTorch's own;
# .npy data equals IDX data; the paper's MLP through --model equals it through
# --checkpoint; --model with {epoch}; the errors a user meets first.
# Usage: script_extract_test.sh APD_EXTRACT MNIST_DIR MODELS SCRATCH
set -euo pipefail
extract="$1"; mnist="$2"; models="$3"; dir="$4"
here="$(cd "$(dirname "$0")" && pwd)"
py=/usr/bin/python3
rm -rf "$dir"; mkdir -p "$dir"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
common=(--data "$mnist" --split test --limit 1000 --quiet)

# Patterns and predictions equal PyTorch's, model by model.
check() {  # name, widths, layers, extra options...
  local name="$1" widths="$2" layers="$3"; shift 3
  "$extract" --model "$models/$name.pt" "${common[@]}" "$@" --out "$dir/$name.json" || fail "$name: apd-extract"
  "$py" "$here/python/compare_script_apd.py" "$dir/$name.json" "$models/$name.patterns.npy" \
    "$models/$name.predicted.npy" "$widths" "$layers" || fail "$name: patterns differ from PyTorch's"
}
check lenet_scripted 3456,1024,120,84 1,2,3,4 --input-shape 1,28,28
check lenet_traced 3456,1024,120,84 1,2,3,4 --input-shape 1,28,28
check residual 784,784 1,2
check mlp 40,40,40 1,2,3 --input-shape 784
"$extract" --model "$models/lenet_scripted.pt" "${common[@]}" --input-shape 1,28,28 --layers 4,2 --out "$dir/layers.json"
"$py" "$here/python/compare_script_apd.py" "$dir/layers.json" "$models/lenet_scripted.patterns.npy" \
  "$models/lenet_scripted.predicted.npy" 3456,1024,120,84 2,4 || fail "--layers 4,2"
echo "ok: scripted and traced LeNet-5, a residual MLP and the paper's MLP give PyTorch's patterns; --layers"

# The same APD, apart from the provenance the options change.
same_apd() {  # a.json b.json what
  "$py" - "$1" "$2" <<'PY' || fail "$3"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for d in (a, b):
    for key in ("model", "checkpoint", "dataset", "tool", "selection", "epoch", "forward_pass"):
        d["graph"].pop(key, None)
assert a == b, "the APDs differ"
PY
}
"$extract" --model "$models/lenet_scripted.pt" --data "$models/images.npy" --targets "$models/targets.npy" \
  --input-shape 1,28,28 --quiet --out "$dir/npy.json"
"$extract" --model "$models/lenet_scripted.pt" --data "$models/images_f32.npy" --targets "$models/targets.npy" \
  --input-shape 1,28,28 --quiet --out "$dir/npy-f32.json"
# The .npy files hold the first 1000 test images: the IDX run's selection.
same_apd "$dir/lenet_scripted.json" "$dir/npy.json" "uint8 .npy differs from IDX"
same_apd "$dir/npy.json" "$dir/npy-f32.json" "float32 .npy (x/255, --normalize none) differs from uint8 (unit)"
echo "ok: .npy data (uint8, and float32 already scaled) gives the APD the IDX files give"

"$extract" --checkpoint "$models/mlp_state.pt" "${common[@]}" --out "$dir/mlp-checkpoint.json"
same_apd "$dir/mlp.json" "$dir/mlp-checkpoint.json" "the MLP via --model differs from --checkpoint"
echo "ok: the paper's MLP through --model equals it through --checkpoint"

"$extract" --model "$models/lenet-e{epoch}.pt" --epochs 1,2 "${common[@]}" --input-shape 1,28,28 \
  --out "$dir/e{epoch}.json"
same_apd "$dir/e1.json" "$dir/lenet_scripted.json" "--model {epoch}: epoch 1 differs"
grep -q '"epoch":2' "$dir/e2.json" || fail "--model {epoch}: epoch 2 not recorded"
echo "ok: --model with {epoch} and --epochs"

expect 1 "loop.pt: a ReLU call stays inside the loop at make_script_models.py:[0-9]+ of forward" \
  "$extract" --model "$models/loop.pt" "${common[@]}" --out "$dir/x.json"
expect 1 "no_relu.pt: forward calls no ReLU" "$extract" --model "$models/no_relu.pt" "${common[@]}" --out "$dir/x.json"
expect 1 "tuple_out.pt: forward must return logits of shape \[N, classes\]" \
  "$extract" --model "$models/tuple_out.pt" "${common[@]}" --out "$dir/x.json"
# A model whose class count changes after the probe: every batch is checked.
expect 1 "shifty.pt: forward returned Float of shape [0-9]+x2 for a batch of [0-9]+ instances; the probe gave float logits of shape \[N, 10\]" \
  "$extract" --model "$models/shifty.pt" "${common[@]}" --out "$dir/x.json"
[[ ! -e "$dir/x.json" ]] || fail "shifty.pt: an APD was written"
expect 1 "no_classes.pt: forward returned logits of shape 2x0: a classifier needs at least one class" \
  "$extract" --model "$models/no_classes.pt" "${common[@]}" --out "$dir/x.json"
expect 2 "--layers: layer 9 does not exist; the model has 4 ReLU layer" \
  "$extract" --model "$models/lenet_scripted.pt" "${common[@]}" --input-shape 1,28,28 --layers 9 --out "$dir/x.json"
expect 2 "--input-shape 3,28,28 holds 2352 values; each instance of .* holds 784" \
  "$extract" --model "$models/lenet_scripted.pt" "${common[@]}" --input-shape 3,28,28 --out "$dir/x.json"
expect 1 "forward failed on instances of shape 28x28 \(--input-shape sets it\)" \
  "$extract" --model "$models/lenet_scripted.pt" "${common[@]}" --out "$dir/x.json"
expect 2 "with --epochs, the model file name needs \{epoch\}" \
  "$extract" --model "$models/lenet_scripted.pt" --epochs 1,2 "${common[@]}" --out "$dir/e{epoch}.json"
expect 2 "--data X.npy needs --targets y.npy" \
  "$extract" --model "$models/lenet_scripted.pt" --data "$models/images.npy" --out "$dir/x.json"
expect 2 "--input-shape applies to --model" "$extract" --checkpoint "$models/mlp_state.pt" --input-shape 784 --out "$dir/x.json"
[[ ! -e "$dir/x.json" ]] || fail "an output was written on error"
"$extract" --model "$models/lenet_traced.pt" --data "$mnist" --input-shape 1,28,28 --list-layers >"$dir/layers.txt"
grep -Eq "^ +1 +3456 +6x24x24 " "$dir/layers.txt" || { cat "$dir/layers.txt"; fail "--list-layers"; }
echo "ok: clear errors, nothing written; --list-layers"
rm -rf "$dir"
