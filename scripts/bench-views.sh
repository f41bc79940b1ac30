#!/usr/bin/env bash
# Pattern views on CNNs (docs/views.md), measured: for LeNet-5 and the CNN of
# PyTorch's MNIST example (examples/lenet/train_lenet.py, 3 epochs), over the
# 10,000 MNIST test images, the flows of the last two ReLU layers seen through
# each view tried and how well small / impure flows flag the test errors
# (AUROC, apd-stats --table errors); the monitors of a view against the
# max-softmax, max-logit and energy baselines (Fashion-MNIST test as OOD);
# and what views cost beside the extraction. Prints figures; asserts nothing.
# Usage: scripts/bench-views.sh BIN_DIR SCRATCH   (called by scripts/bench.sh views)
set -euo pipefail
bin="$1"; scratch="$2"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source "$root/scripts/bench-models.sh"
fashion=/usr/share/datasets/fashion-mnist

flows_and_aurocs() { # APD.json -> "flows  small_strength  low_purity"
  "$bin/apps/apd-stats" "$1" --table errors --format json --out "$scratch/errors.json" --quiet
  /usr/bin/python3 - "$1" "$scratch/errors.json" <<'PY'
import json, sys
apd, errors = (json.load(open(f)) for f in sys.argv[1:3])
flows = len({tuple(r["path"]) for r in apd["instances"]})
rows = {r["score"]: r["auroc"] for r in errors["errors"]}
print(f"{flows:>6}  {rows['small_strength']:.3f}  {rows['low_purity']:.3f}")
PY
}

views_table() { # ARCH LAYERS VIEW_SETS... (each "L=..,L=.." or "full")
  local arch="$1" layers="$2"; shift 2
  local m="$models/$arch/scripted/epoch-3.pt"
  local common=(--model "$m" --data data/mnist --input-shape 1,28,28 --layers "$layers" --threads 1 --quiet)
  echo "  views of layers $layers         flows  AUROC(small flow)  AUROC(impure flow)   for the $(
    "$bin/apps/apd-extract" "${common[@]}" --split test --out "$scratch/full.json" && /usr/bin/python3 -c "
import json, sys; d = json.load(open(sys.argv[1])); print(d['graph']['errors'])" "$scratch/full.json") test errors"
  for set in "$@"; do
    local args=()
    if [[ $set != full ]]; then IFS=, read -ra vs <<<"$set"; for v in "${vs[@]}"; do args+=(--view "$v"); done; fi
    "$bin/apps/apd-extract" "${common[@]}" --split test "${args[@]}" --out "$scratch/v.json"
    local label="$set"; [[ $set == *top* ]] && label="$set (chosen on test)"
    printf "  %-34s %s\n" "$label" "$(flows_and_aurocs "$scratch/v.json")"
    if [[ $set == *top* ]]; then
      # The neurons chosen on the 60,000 training images, then the test images seen through them.
      "$bin/apps/apd-extract" "${common[@]}" --split train "${args[@]}" --no-instances --out "$scratch/train-view.json"
      "$bin/apps/apd-extract" "${common[@]}" --split test --view-from "$scratch/train-view.json" --out "$scratch/v.json"
      printf "  %-34s %s\n" "$set (chosen on train)" "$(flows_and_aurocs "$scratch/v.json")"
    fi
  done
}

monitor_rows() { # ARCH LAYER VIEW_ARGS... -> the OOD and misclassification AUROCs beside the baselines
  local arch="$1" layer="$2"; shift 2
  local m="$models/$arch/scripted/epoch-3.pt"
  "$bin/apps/apd-monitor" build --model "$m" --data data/mnist --input-shape 1,28,28 --layers "$layer" "$@" \
    --out "$scratch/monitor.json" --quiet
  "$bin/apps/apd-monitor" score --monitor "$scratch/monitor.json" --data data/mnist --ood "$fashion" \
    --format json --out "$scratch/scores.json" >/dev/null
  /usr/bin/python3 - "$scratch/scores.json" "layer $layer ${*:-full}" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))["detection"]
get = lambda task, score: next(r["auroc"] for r in rows if r["task"] == task and r["score"] == score)
layer = next(r["score"] for r in rows if r["score"].startswith("layer"))
for task in ("ood", "misclassification"):
    print(f"  {sys.argv[2]:<28} {task:<17} pattern {get(task, layer):.4f}   msp {get(task, 'msp'):.4f}   "
          f"max logit {get(task, 'max_logit'):.4f}   energy {get(task, 'energy'):.4f}")
PY
}

view_cost() { # ARCH LAYERS VIEWS... : wall time of extraction with and without views, and the views stage itself
  local arch="$1" layers="$2"; shift 2
  local m="$models/$arch/scripted/epoch-3.pt" args=()
  for v in "$@"; do args+=(--view "$v"); done
  local common=(--model "$m" --data data/mnist --split test --input-shape 1,28,28 --layers "$layers" --threads 1)
  /usr/bin/python3 - "$bin/apps/apd-extract" "$scratch" "${common[@]}" -- "${args[@]}" <<'PY'
import re, subprocess, sys, time
exe, scratch = sys.argv[1:3]
rest = sys.argv[3:]
common, views = rest[:rest.index("--")], rest[rest.index("--") + 1:]
full, viewed, stage = [], [], []
for _ in range(3):  # alternated, so the machine's noise falls on both
    for args, into in ((common, full), (common + views, viewed)):
        t0 = time.perf_counter()
        p = subprocess.run([exe] + args + ["--out", f"{scratch}/cost.json", "--verbose"], capture_output=True, text=True, check=True)
        into.append(time.perf_counter() - t0)
        if args is not common:
            stage.append(float(re.search(r"views applied in ([0-9.]+) s", p.stderr).group(1)))
f, v, s = min(full), min(viewed), min(stage)
print(f"  extraction (best of 3): full {f:.2f} s, with views {v:.2f} s ({100 * (v / f - 1):+.1f}%); "
      f"the views stage itself {s * 1000:.0f} ms = {100 * s / f:.1f}% of the extraction (target <= 5%)")
PY
}

for arch in lenet5 cnn; do lenet_model "$arch"; done

echo "== LeNet-5 (3 epochs): flows of ReLU layers 3 (120) and 4 (84)"
views_table lenet5 3,4 full 3=top:32,4=top:32 3=top:16,4=top:16 3=top:8,4=top:8 3=top:4,4=top:4
echo "== LeNet-5 monitors (layer 1: 6x24x24, layer 4: 84) vs the logit baselines; OOD = Fashion-MNIST test"
monitor_rows lenet5 1 --view 1=pool:4
monitor_rows lenet5 1 --view 1=channel:0.1
monitor_rows lenet5 4
monitor_rows lenet5 4 --view 4=top:16
view_cost lenet5 1,2,3,4 1=pool:4 2=channel 3=top:8 4=top:8

echo "== PyTorch's MNIST example CNN (3 epochs): flows of ReLU layers 2 (64x24x24) and 3 (128)"
views_table cnn 2,3 full 2=channel,3=top:16 2=channel,3=top:8 2=top:16,3=top:16 2=top:8,3=top:8 2=top:4,3=top:4
echo "== CNN monitors vs the logit baselines"
monitor_rows cnn 1 --view 1=pool:4
monitor_rows cnn 3
monitor_rows cnn 3 --view 3=top:16
view_cost cnn 1,2,3 1=pool:4 2=channel 3=top:8
