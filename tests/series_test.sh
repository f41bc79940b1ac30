#!/usr/bin/env bash
# A series of APD files (apd-extract --epochs) read as a training study by
# apd-stats: on an apd-train run, the files of its training split at every
# epoch give the run's own unique counts, churn, flow ARI and forgetting rows;
# every table agrees with a numpy reference; a TorchScript series found with
# --epochs all reads the same way; files that are not one series are
# one-line errors that write nothing.
# Usage: series_test.sh BIN_DIR PYTHON RUN SCRIPT_MODELS SCRATCH
set -euo pipefail
bin="$1"; python="$2"; run="$3"; models="$4"; dir="$5"
here="$(cd "$(dirname "$0")" && pwd)"
rm -rf "$dir"; mkdir -p "$dir/s" "$dir/l"
source "$here/lib.sh"

"$bin/apd-extract" --run "$run" --epochs all --split train --out "$dir/s/e{epoch}.json" --quiet
files=("$dir"/s/e*.json)
[[ ${#files[@]} == 5 ]] || fail "--epochs all wrote ${#files[@]} files, not the run's 5 checkpoints"
"$bin/apd-stats" "${files[@]}" --table epochs --format json --out "$dir/series-epochs.json"
"$bin/apd-stats" "${files[@]}" --table forgetting --format json --out "$dir/series-forgetting.json"
"$bin/apd-stats" --run "$run" --table epochs --format json --out "$dir/run-epochs.json"
"$bin/apd-stats" --run "$run" --table forgetting --format json --out "$dir/run-forgetting.json"
"$python" "$here/python/compare_series_run.py" "$dir/run-epochs.json" "$dir/series-epochs.json" \
  "$dir/run-forgetting.json" "$dir/series-forgetting.json"
"$python" "$here/python/series_ref.py" "$dir/ref.json" "${files[@]}"
"$python" "$here/python/series_ref.py" --check "$dir/ref.json" "$dir/series-epochs.json" "$dir/series-forgetting.json"
# The order of the arguments does not matter: graph.epoch does.
"$bin/apd-stats" "$dir/s/e3.json" "$dir/s/e1.json" "$dir/s/e5.json" "$dir/s/e2.json" "$dir/s/e4.json" --table epochs \
  --format json --out "$dir/shuffled.json"
cmp "$dir/series-epochs.json" "$dir/shuffled.json" || fail "the series depends on the order of the files"

# A TorchScript series found on disk, read the same way.
"$bin/apd-extract" --model "$models/lenet-e{epoch}.pt" --epochs all --data "$models/images.npy" \
  --targets "$models/targets.npy" --input-shape 1,28,28 --out "$dir/l/e{epoch}.json" --quiet
"$bin/apd-stats" "$dir"/l/e*.json --table epochs --format json --out "$dir/lenet-epochs.json"
"$python" "$here/python/series_ref.py" "$dir/lenet-ref.json" "$dir"/l/e*.json
"$bin/apd-stats" "$dir"/l/e*.json --table forgetting --format json --out "$dir/lenet-forgetting.json"
"$python" "$here/python/series_ref.py" --check "$dir/lenet-ref.json" "$dir/lenet-epochs.json" "$dir/lenet-forgetting.json"

# Files that are not one series.
never="$dir/never.txt"
expect 1 "a series needs at least two APD files .* got 1" "$bin/apd-stats" "$dir/s/e1.json" --table epochs --out "$never"
cp "$dir/s/e2.json" "$dir/again.json"
expect 1 "epoch 2 again \(also .*\)" "$bin/apd-stats" "$dir/s/e1.json" "$dir/s/e2.json" "$dir/again.json" \
  --table epochs --out "$never"
"$bin/apd-extract" --run "$run" --epoch 3 --split train --limit 100 --out "$dir/fewer.json" --quiet
expect 1 "fewer.json: graph.selection differs from .*e1.json's" "$bin/apd-stats" "$dir/s/e1.json" "$dir/fewer.json" \
  --table forgetting --out "$never"
"$bin/apd-extract" --run "$run" --epoch 4 --split train --no-instances --out "$dir/lean.json" --quiet
expect 1 "lean.json: no per-instance records, which a series needs \(rerun apd-extract without --no-instances\)" \
  "$bin/apd-stats" "$dir/s/e1.json" "$dir/lean.json" --table epochs --out "$never"
"$bin/apd-extract" --checkpoint "$run/checkpoints/epoch-0002.pt" --data "$(dirname "$run")/synthetic" --split train \
  --out "$dir/bare.json" --quiet
expect 1 "bare.json: graph.epoch is missing: a series needs each file's epoch" \
  "$bin/apd-stats" "$dir/s/e1.json" "$dir/bare.json" --table epochs --out "$never"
expect_absent "$never"
echo "ok: series of APD files"
rm -rf "$dir"
