#!/usr/bin/env bash
# Shards forward every instance in the batch, at the row, it has in one
# process. BLAS rounds a row's sums differently at another row or in a batch
# of another size, so a ReLU input within rounding of 0 can flip between the
# two: on 1,000,000 synthetic images through a random 784-40-40-40-10 MLP,
# 8 shards that batched their own slice from its first instance put 2
# instances on another pattern than one process (found by scripts/bench.sh;
# on this kind of machine's OpenBLAS kernels). Merged, they must be the
# one-process file byte for byte.
# Usage: shard_rounding_test.sh APD_EXTRACT APD_MERGE MAKE_FIXTURE PYTHON SCRATCH
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
extract="$1"; merge="$2"; make_fixture="$3"; python="$4"; dir="$5"
rm -rf "$dir"; mkdir -p "$dir"
trap 'rm -rf "$dir"' EXIT
"$make_fixture" "$dir/data" 1000000 --side 28 >/dev/null
"$python" -c "
import sys, torch; from torch import nn
torch.manual_seed(0)
layers, prev = [], 784
for w in (40, 40, 40): layers += [nn.Linear(prev, w), nn.ReLU()]; prev = w
torch.save(nn.Sequential(*layers, nn.Linear(prev, 10)).state_dict(), sys.argv[1])" "$dir/mlp.pt"
opts=(--checkpoint "$dir/mlp.pt" --data "$dir/data" --split train --no-instances --quiet)
"$extract" "${opts[@]}" --out "$dir/whole.json"
for half in 0 4; do
  pids=()
  for i in $half $((half + 1)) $((half + 2)) $((half + 3)); do
    "$extract" "${opts[@]}" --shard "$i/8" --out "$dir/shard-$i.json" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || { echo "FAIL: a shard's extraction failed"; exit 1; }; done
done
"$merge" "$dir"/shard-?.json --no-instances --out "$dir/merged.json" --quiet
cmp "$dir/whole.json" "$dir/merged.json" || { echo "FAIL: 8 merged shards differ from one process"; exit 1; }
echo "ok: 8 shards of 1,000,000 instances merged == one process"
