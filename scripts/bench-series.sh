#!/usr/bin/env bash
# The training study from a series of files (docs/series.md), measured:
#  1. the paper's MLP trained 100 epochs (apd-train, cached), the APDs of its
#     54,000 training instances at every epoch (apd-extract --epochs all), and
#     the series tables (apd-stats FILES --table epochs, then forgetting)
#     against tests/python/series_ref.py (json.load + numpy) on the same
#     files: wall time and peak RSS of each, side by side;
#  2. apd-extract --epochs all over 20 TorchScript LeNet-5 checkpoints (one
#     process, LibTorch loaded once) against 20 x the forward-pass time of one
#     checkpoint (its own --verbose figure) and against 20 processes.
# Prints figures; asserts nothing.
# Usage: scripts/bench-series.sh BIN_DIR SCRATCH [EPOCHS]   (called by scripts/bench.sh series)
set -euo pipefail
bin="$1"; scratch="$2"; epochs="${3:-100}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
models="$root/build/bench-models"  # kept between runs: training takes minutes
mkdir -p "$models"

measure() { # LABEL COMMAND... -> "LABEL: wall W s, peak RSS R MB" (the command's output discarded)
  local label="$1"; shift
  /usr/bin/time -f "%e %M" -o "$scratch/time" "$@" >/dev/null
  read -r wall kb <"$scratch/time"
  echo "$wall $((kb / 1024))" >"$scratch/last"
  printf '  %-58s wall %7.1f s   peak RSS %6d MB\n' "$label" "$wall" "$((kb / 1024))"
}

echo "== a series of $epochs APDs of the paper's MLP over its 54,000 training instances"
run="$models/mlp-$epochs"
if [[ ! -f "$run/checkpoints/epoch-$(printf %04d "$epochs").pt" ]]; then
  echo "  (training the run once: $epochs epochs, cached in $run)"
  rm -rf "$run"
  "$bin/apps/apd-train" --data data/mnist --out "$run" --epochs "$epochs" --threads 2 --quiet
fi
series="$scratch/series"; mkdir -p "$series"
measure "apd-extract --epochs all --split train (one process)" \
  "$bin/apps/apd-extract" --run "$run" --epochs all --split train --out "$series/e{epoch}.json" --quiet
echo "  files: $(ls "$series" | wc -l), $(du -sm "$series" | cut -f1) MB"
measure "apd-stats FILES --table epochs" \
  "$bin/apps/apd-stats" "$series"/e*.json --table epochs --format json --out "$scratch/epochs.json" --quiet
read -r ours_epochs ours_epochs_rss <"$scratch/last"
measure "apd-stats FILES --table forgetting" \
  "$bin/apps/apd-stats" "$series"/e*.json --table forgetting --format json --out "$scratch/forgetting.json" --quiet
read -r ours_forgetting ours_forgetting_rss <"$scratch/last"
measure "reference: series_ref.py (json.load + numpy), both tables" \
  /usr/bin/python3 tests/python/series_ref.py "$scratch/ref.json" "$series"/e*.json
read -r ref ref_rss <"$scratch/last"
/usr/bin/python3 tests/python/series_ref.py --check "$scratch/ref.json" "$scratch/epochs.json" "$scratch/forgetting.json" |
  sed 's/^/  /' || true
"$bin/apps/apd-stats" --run "$run" --table epochs --format json --out "$scratch/run-epochs.json" --quiet
"$bin/apps/apd-stats" --run "$run" --table forgetting --format json --out "$scratch/run-forgetting.json" --quiet
/usr/bin/python3 tests/python/compare_series_run.py "$scratch/run-epochs.json" "$scratch/epochs.json" \
  "$scratch/run-forgetting.json" "$scratch/forgetting.json" | sed 's/^/  /' || true
/usr/bin/python3 - "$ours_epochs" "$ours_forgetting" "$ref" "$ours_epochs_rss" "$ours_forgetting_rss" <<'PY'
import sys
e, f, r, e_rss, f_rss = map(float, sys.argv[1:])
print(f"  both tables: apd-stats {e + f:.1f} s (two passes) vs reference {r:.1f} s: {(e + f) / r:.3f}x "
      f"(target <= 0.25x); peak RSS {max(e_rss, f_rss):.0f} MB (target <= 1024 MB)")
PY
rm -rf "$series"

echo
echo "== apd-extract --epochs all over 20 TorchScript LeNet-5 checkpoints, MNIST test (10,000) and train (60,000), 1 thread"
lenet="$models/lenet5-20"
if [[ ! -f "$lenet/scripted/epoch-20.pt" ]]; then
  echo "  (training LeNet-5 once: 20 epochs on the first 6,000 training images, cached in $lenet)"
  /usr/bin/python3 examples/lenet/train_lenet.py --data data/mnist --out "$lenet" --epochs 20 --train-limit 6000 \
    >/dev/null
fi
# The fixed costs of one process (LibTorch's start alone is ~1 s here, see
# apd-extract --version) weigh against 20 forward passes of 10,000 or 60,000 images.
for split in test train; do
  common=(--data data/mnist --split "$split" --input-shape 1,28,28 --threads 1)
  start=$(date +%s.%N)
  "$bin/apps/apd-extract" --version >/dev/null
  startup=$(echo "$(date +%s.%N) - $start" | bc)
  "$bin/apps/apd-extract" --model "$lenet/scripted/epoch-20.pt" "${common[@]}" --out "$scratch/one.json" --verbose \
    2>"$scratch/one.log"
  forward="$(grep -oE 'forward pass in [0-9.]+ s' "$scratch/one.log" | grep -oE '[0-9.]+' | head -1)"
  measure "--split $split: one process, --epochs all (20 files)" \
    "$bin/apps/apd-extract" --model "$lenet/scripted/epoch-{epoch}.pt" --epochs all "${common[@]}" \
    --out "$scratch/l{epoch}.json" --quiet
  read -r series_wall _ <"$scratch/last"
  start=$(date +%s.%N)
  for e in $(seq 1 20); do
    "$bin/apps/apd-extract" --model "$lenet/scripted/epoch-$e.pt" "${common[@]}" --out "$scratch/p$e.json" --quiet
  done
  processes=$(echo "$(date +%s.%N) - $start" | bc)
  /usr/bin/python3 - "$series_wall" "$forward" "$processes" "$startup" <<'PY'
import sys
wall, forward, processes, startup = map(float, sys.argv[1:])
print(f"    20 x the forward pass of one checkpoint: {20 * forward:.1f} s; one process for all 20: {wall:.1f} s = "
      f"{wall / (20 * forward):.3f}x (target <= 1.10x); 20 processes: {processes:.1f} s; "
      f"apd-extract --version alone: {startup:.2f} s")
PY
  rm -f "$scratch"/l*.json "$scratch"/p*.json
done
