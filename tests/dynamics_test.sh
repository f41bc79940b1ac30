#!/usr/bin/env bash
# How instances move, end to end on real MNIST: a run with corrupted labels
# records dynamics.bin, churn and flow ARI that PyTorch reproduces from the
# checkpoints (check_dynamics.py), and the forgetting table agrees; the
# corruption is reproducible from its seed; runs without dynamics, or with a
# damaged dynamics.bin, give one-line messages.
# Usage: dynamics_test.sh APD_TRAIN APD_STATS MNIST_DIR PYTHON SCRATCH
set -euo pipefail
train="$1"; stats="$2"; mnist="$3"; python="$4"; dir="$5"
here="$(cd "$(dirname "$0")" && pwd)"
rm -rf "$dir"; mkdir -p "$dir"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
common=(--data "$mnist" --hidden 40,40,40 --lr 0.05 --momentum 0.9 --quiet)

"$train" "${common[@]}" --epochs 5 --corrupt-labels 0.2 --corrupt-seed 7 --out "$dir/run"
"$stats" --run "$dir/run" --table forgetting --format csv --out "$dir/forgetting.csv"
"$python" "$here/python/check_dynamics.py" "$dir/run" "$dir/forgetting.csv"

# Its APD records the corrupted instances; the tables split them.
extract="$(dirname "$stats")/apd-extract"
"$extract" --run "$dir/run" --epoch 5 --split train --limit 5000 --select random --out "$dir/apd-e5.json" --quiet
for t in members clusters corruption; do
  "$stats" "$dir/apd-e5.json" --table $t --top 0 --format csv --out "$dir/$t.csv"
done
"$python" "$here/python/check_corruption_tables.py" "$dir/run" "$dir/apd-e5.json" "$dir/members.csv" \
  "$dir/clusters.csv" "$dir/corruption.csv"

# The run path stays the reference: the APDs of its training split at every
# epoch, as a series, give its own churn, ARI and forgetting rows (54,000
# instances, corrupted ones split apart).
mkdir -p "$dir/series"
"$extract" --run "$dir/run" --epochs all --split train --out "$dir/series/e{epoch}.json" --quiet
"$stats" "$dir"/series/e*.json --table epochs --format json --out "$dir/series-epochs.json"
"$stats" "$dir"/series/e*.json --table forgetting --format json --out "$dir/series-forgetting.json"
"$stats" --run "$dir/run" --table epochs --format json --out "$dir/run-epochs.json"
"$stats" --run "$dir/run" --table forgetting --format json --out "$dir/run-forgetting.json"
"$python" "$here/python/compare_series_run.py" "$dir/run-epochs.json" "$dir/series-epochs.json" \
  "$dir/run-forgetting.json" "$dir/series-forgetting.json"
rm -rf "$dir/series"

# The same seed draws the same corruption; another seed another one.
corruption() { "$python" -c "import json,sys; print(json.dumps(json.load(open(sys.argv[1]))['label_corruption']))" "$1/run.json"; }
"$train" "${common[@]}" --epochs 1 --corrupt-labels 0.2 --corrupt-seed 7 --out "$dir/same"
"$train" "${common[@]}" --epochs 1 --corrupt-labels 0.2 --corrupt-seed 8 --out "$dir/other"
[[ "$(corruption "$dir/run")" == "$(corruption "$dir/same")" ]] || fail "same --corrupt-seed, different labels"
[[ "$(corruption "$dir/run")" != "$(corruption "$dir/other")" ]] || fail "another --corrupt-seed, same labels"
echo "ok: label corruption is reproducible from --corrupt-seed"

# expect CODE REGEX cmd...: exit code and a one-line message.

# A run trained before dynamics existed: run.json without the key, no file.
cp -r "$dir/same" "$dir/old"
"$python" -c "import json,sys; p=sys.argv[1]; j=json.load(open(p)); del j['dynamics']; json.dump(j, open(p, 'w'))" "$dir/old/run.json"
rm "$dir/old/dynamics.bin"
expect 1 "old: the run recorded no per-instance dynamics .* train it again" "$stats" --run "$dir/old" --table forgetting
"$stats" --run "$dir/old" >"$dir/out" 2>"$dir/err" || fail "apd-stats --run of an old run"
grep -q "== epochs ==" "$dir/out" && [[ ! -s "$dir/err" ]] || fail "old run: the epochs table, silently"
echo "ok: a run without dynamics says so"

# A damaged dynamics.bin: missing, short, not ours.
cp -r "$dir/run" "$dir/damaged"
rm "$dir/damaged/dynamics.bin"
expect 1 "dynamics.bin: cannot open" "$stats" --run "$dir/damaged" --table forgetting
head -c 20000 "$dir/run/dynamics.bin" >"$dir/damaged/dynamics.bin"
expect 1 "dynamics.bin: holds 2 complete epochs, the run completed 5" "$stats" --run "$dir/damaged" --table forgetting
printf 'not dynamics at all' >"$dir/damaged/dynamics.bin"
expect 1 "dynamics.bin: not an apd dynamics file" "$stats" --run "$dir/damaged" --table forgetting
expect 1 "dynamics.bin: not an apd dynamics file" "$train" --out "$dir/damaged" --resume --quiet
echo "ok: a damaged dynamics.bin is a one-line error"
rm -rf "$dir"
