#!/usr/bin/env bash
# The training study for a network trained outside apd (docs/series.md):
# LeNet-5 trained in PyTorch with a TorchScript checkpoint per epoch, an APD
# of the 10,000 MNIST test images per checkpoint (one apd-extract process),
# the series tables, and a report with Figure 1 drawn from the files.
# Usage: examples/lenet/series.sh [EPOCHS (default 10)] [OUT (default runs/lenet-series)]
#        (after cmake --preset release && cmake --build --preset release; MNIST in data/mnist)
set -euo pipefail
epochs="${1:-10}"; out="${2:-runs/lenet-series}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="$root/build/release/apps"
cd "$root"

/usr/bin/python3 examples/lenet/train_lenet.py --data data/mnist --out "$out" --epochs "$epochs"
mkdir -p "$out/series"
# Layers 3 and 4 (the fully connected ones) in full; conv layers would want a view (docs/views.md).
"$bin/apd-extract" --model "$out/scripted/epoch-{epoch}.pt" --epochs all --data data/mnist --split test \
  --input-shape 1,28,28 --layers 3,4 --out "$out/series/e{epoch}.json" --quiet
"$bin/apd-stats" "$out"/series/e*.json --table epochs
"$bin/apd-stats" "$out"/series/e*.json --table forgetting_summary
"$bin/apd-stats" "$out"/series/e*.json --table forgetting --format csv --out "$out/forgetting.csv"
"$bin/apd-report" --series "$out"/series/e*.json --out "$out/report.html" --title "LeNet-5, $epochs epochs"
echo "tables above; per-instance forgetting in $out/forgetting.csv; the page: $out/report.html"
