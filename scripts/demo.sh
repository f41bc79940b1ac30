#!/usr/bin/env bash
# The main job, end to end on real MNIST: installs dependencies, builds,
# fetches MNIST, trains the paper's network (784-40-40-40-10, SGD, lr 0.001,
# batch 64, 54000/6000 split) for 300 epochs (about a minute here) with a
# checkpoint, the unique activation patterns per layer, the pattern churn and
# every training instance's correctness at every epoch (forgetting events),
# extracts the APDs of the same 500 training images of label 1 at epochs 10,
# 50, 150 and 300 (the paper's Figure 2), prints their statistics, and writes
# the report with the paper's three figures, builds a runtime monitor of the
# last hidden layer and scores MNIST's test images against Fashion-MNIST,
# then trains the LeNet-5 example (TorchScript) and monitors two of its
# layers. The full paper run is the same with APD_DEMO_EPOCHS=500.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
epochs="${APD_DEMO_EPOCHS:-300}"
run="runs/demo"

bash scripts/install-deps.sh
bash scripts/fetch-mnist.sh
cmake --preset release >/dev/null
cmake --build --preset release --parallel "$(nproc)"
bin="$root/build/release/apps"

if [[ -d "$run" ]]; then
  echo "demo: removing the previous demo run in $run"
  rm -rf "$run"
fi
echo "demo: training the paper's 3x40 MLP for $epochs epochs into $run"
"$bin/apd-train" --data data/mnist --out "$run" --epochs "$epochs"

echo
echo "demo: per-epoch metrics (unique patterns per layer over the 54000 training images):"
/usr/bin/python3 - "$run" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(f"{sys.argv[1]}/metrics.jsonl")]
print(f"{'epoch':>6} {'train_loss':>10} {'val_loss':>9} {'val_acc':>8}  unique patterns l1/l2/l3  churn l1/l2/l3  flow ARI")
for r in rows:
    if r["epoch"] in (1, 10, 50, 100, 150, 200, 300, 400, 500) or r is rows[-1]:
        churn = "/".join(f"{c:.3f}" for c in r.get("churn", [])) or "-"
        ari = f"{r['flow_ari']:.3f}" if "flow_ari" in r else "-"
        print(f"{r['epoch']:>6} {r['train_loss']:>10.4f} {r['val_loss']:>9.4f} {r['val_acc']:>8.4f}  "
              + f"{'/'.join(str(u) for u in r['unique_patterns']):<24} {churn:<14} {ari}")
s = json.load(open(f"{sys.argv[1]}/summary.json"))
print(f"best validation loss {s['best']['val_loss']:.4f} at epoch {s['best_epoch']}; {s['total_seconds']:.1f} s in all")
PY
echo "demo: run directory: $root/$run (checkpoints/epoch-NNNN.pt load with torch.load)"
echo
echo "demo: forgetting events of the 54000 training instances (per epoch; apd-stats --run $run --table forgetting for each one)"
"$bin/apd-stats" --run "$run" --table forgetting_summary

echo
echo "demo: APDs of the same 500 training images of label 1 at epochs 10, 50, 150, 300 (the paper's Figure 2)"
"$bin/apd-extract" --run "$run" --epochs 10,50,150,300 --split train --labels 1 --limit 500 --out "$run/apd-e{epoch}.json"
apds=("$run/apd-e10.json" "$run/apd-e50.json" "$run/apd-e150.json" "$run/apd-e300.json")
echo
"$bin/apd-stats" "${apds[@]}" --table layers
echo
"$bin/apd-stats" "${apds[@]}" --table errors
echo
echo
echo "demo: a runtime monitor of the last hidden layer (Cheng et al., DATE 2019): the distinct patterns of the"
echo "      correctly classified training images per predicted class; MNIST test images scored, Fashion-MNIST as OOD"
bash scripts/fetch-fashion-mnist.sh >/dev/null
"$bin/apd-monitor" build --run "$run" --epoch "$epochs" --out "$run/monitor.json"
"$bin/apd-monitor" score --monitor "$run/monitor.json" --data data/mnist --ood data/fashion-mnist \
  --out "$run/monitor-scores.json"
echo
"$bin/apd-report" --run "$run" --apd "${apds[@]}" --monitor "$run/monitor-scores.json" --out "$run/report.html"
echo "demo: report (open it in a browser; it works offline): $root/$run/report.html"

echo
lenet="runs/lenet"
echo "demo: the LeNet-5 example (examples/lenet, TorchScript) trained 3 epochs into $lenet, and monitors of its"
echo "      last hidden layer (84 neurons) and of its first ReLU layer (6x24x24 = 3456 neurons)"
rm -rf "$lenet"
/usr/bin/python3 examples/lenet/train_lenet.py --data data/mnist --out "$lenet" --epochs 3
for layer in 4 1; do
  echo
  echo "demo: LeNet-5, ReLU layer $layer"
  "$bin/apd-monitor" build --model "$lenet/scripted/epoch-3.pt" --data data/mnist --split train --input-shape 1,28,28 \
    --layers "$layer" --out "$lenet/monitor-l$layer.json"
  "$bin/apd-monitor" score --monitor "$lenet/monitor-l$layer.json" --data data/mnist --ood data/fashion-mnist \
    --out "$lenet/monitor-l$layer-scores.json"
done
