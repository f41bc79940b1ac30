#!/usr/bin/env bash
# Benchmarks, measured side by side in one run on this machine (it is shared
# and noisy: compare ratios within a run, not figures across runs). Prints
# figures; asserts nothing. Usage: scripts/bench.sh [core|train|extract|model|shards|monitor|views|series|gallery|geometry|stats|paper|all]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
what="${1:-all}"

cmake --preset release >/dev/null
cmake --build --preset release --parallel "$(nproc)" >/dev/null
bin="$root/build/release"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

peak_rss() { # command... -> prints "peak RSS N MB" after the command's own output
  /usr/bin/time -f "  peak RSS %M kB, wall %e s" "$@"
}

if [[ "$what" == core || "$what" == all ]]; then
  echo "== apd::core: APD, flows, bins and JSON for 1,000,000 instances x 3 layers x 40 neurons"
  peak_rss "$bin/bench/apd_bench_core" 1000000 "$scratch"
fi

random_mlp() { # HIDDEN OUT -> a seeded random 784-HIDDEN-10 ReLU MLP's state_dict
  /usr/bin/python3 -c "
import sys, torch; from torch import nn
torch.manual_seed(0)
layers, prev = [], 784
for w in map(int, sys.argv[1].split(',')): layers += [nn.Linear(prev, w), nn.ReLU()]; prev = w
torch.save(nn.Sequential(*layers, nn.Linear(prev, 10)).state_dict(), sys.argv[2])" "$1" "$2"
}

median_epoch_seconds() { # metrics.jsonl -> median "seconds" of all but the last epoch
  /usr/bin/python3 -c "
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(f'{statistics.median(r[\"seconds\"] for r in rows[:-1] or rows):.4f}')" "$1"
}

if [[ "$what" == train || "$what" == all ]]; then
  echo
  echo "== apd-train vs scripts/reference_apd.py (PyTorch, nn.Sequential + forward hooks), 1 thread each"
  echo "   paper setup: 784-40-40-40-10, batch 64, 54000 training instances; median epoch of 5"
  ours=() ; ref=()
  for track in on off; do
    flag=""; [[ $track == off ]] && flag="--no-track-patterns"
    "$bin/apps/apd-train" --data data/mnist --out "$scratch/train-$track" --epochs 6 --threads 1 $flag --quiet
    ours+=("$(median_epoch_seconds "$scratch/train-$track/metrics.jsonl")")
    rflag=""; [[ $track == off ]] && rflag="--no-track"
    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 scripts/reference_apd.py train --data data/mnist --epochs 6 --threads 1 $rflag \
      >"$scratch/ref-$track.jsonl"
    ref+=("$(median_epoch_seconds "$scratch/ref-$track.jsonl")")
  done
  /usr/bin/python3 - "${ours[@]}" "${ref[@]}" <<'PY'
import sys
o_on, o_off, r_on, r_off = map(float, sys.argv[1:])
print(f"  epoch, tracking on : apd-train {o_on:.3f} s   reference {r_on:.3f} s   ratio {o_on / r_on:.2f}x (target <= 0.6x)")
print(f"  epoch, tracking off: apd-train {o_off:.3f} s   reference {r_off:.3f} s   ratio {o_off / r_off:.2f}x")
print(f"  tracking with dynamics (patterns, correctness, churn, flow ARI) adds {100 * (o_on / o_off - 1):+.1f}% to an apd-train epoch (target <= 15%); "
      f"{100 * (r_on / r_off - 1):+.1f}% to the reference's")
PY
fi

if [[ "$what" == paper || "$what" == all ]]; then
  echo
  echo "== the full paper run: 500 epochs, checkpoint every epoch, tracking on (target < 2 minutes)"
  peak_rss "$bin/apps/apd-train" --data data/mnist --out "$scratch/paper" --epochs 500 --quiet
  du -sh "$scratch/paper" | sed 's/^/  run directory size /'
fi

if [[ "$what" == extract || "$what" == all ]]; then
  echo
  echo "== apd-extract vs scripts/reference_apd.py extract: 54000 MNIST training images of a 784-40-40-40-10 model"
  echo "   to APD JSON with per-instance records, whole process, 1 thread each"
  "$bin/apps/apd-train" --data data/mnist --out "$scratch/x-run" --epochs 3 --quiet
  ckpt="$scratch/x-run/checkpoints/epoch-0003.pt"
  /usr/bin/time -f "%e %M" -o "$scratch/ours.time" "$bin/apps/apd-extract" --checkpoint "$ckpt" --data data/mnist \
    --split train --limit 54000 --out "$scratch/ours.json" --quiet
  OPENBLAS_NUM_THREADS=1 /usr/bin/time -f "%e %M" -o "$scratch/ref.time" /usr/bin/python3 scripts/reference_apd.py extract \
    --checkpoint "$ckpt" --data data/mnist --split train --limit 54000 --out "$scratch/ref.json"
  read -r ot orss <"$scratch/ours.time"; read -r rt rrss <"$scratch/ref.time"
  /usr/bin/python3 -c "
ot, orss, rt, rrss = $ot, $orss, $rt, $rrss
print(f'  apd-extract {ot:.2f} s, peak RSS {orss/1024:.0f} MiB; reference {rt:.2f} s, peak RSS {rrss/1024:.0f} MiB; '
      f'ratio {ot/rt:.2f}x (target <= 0.25x)')"
  /usr/bin/time -f "%e %M" -o "$scratch/clusters.time" "$bin/apps/apd-stats" "$scratch/ours.json" --table clusters \
    --out "$scratch/clusters.txt"
  read -r ct crss <"$scratch/clusters.time"
  echo "  apd-stats --table clusters (decision-tree clusters) of those 54000 instances, whole process: $ct s," \
    "peak RSS $((crss / 1024)) MiB (target <= 1 s)"

  echo
  echo "== scale: synthetic 28x28 instances through a 784-256-256-256-256-10 MLP (target: <= 1.5 GB peak RSS at 1M, linear time)"
  "$bin/tests/apd_make_fixture" "$scratch/big" 1000000 --side 28
  random_mlp 256,256,256,256 "$scratch/big.pt"
  for n in 250000 500000 1000000; do
    /usr/bin/time -f "%e %M" -o "$scratch/big.time" "$bin/apps/apd-extract" --checkpoint "$scratch/big.pt" \
      --data "$scratch/big" --split train --limit "$n" --out "$scratch/big.json" --quiet
    read -r t rss <"$scratch/big.time"
    size=$(du -m "$scratch/big.json" | cut -f1)
    /usr/bin/python3 -c "print(f'  N={$n:>8}: {$t:6.2f} s  ({$t * 1e6 / $n:.2f} us/instance), peak RSS {$rss/1024:.0f} MiB, JSON {$size} MB')"
    rm -f "$scratch/big.json"
  done
fi

if [[ "$what" == model || "$what" == all ]]; then
  echo
  echo "== apd-extract --model (TorchScript) vs scripts/reference_apd.py extract-lenet (the same LeNet-5 with nn.ReLU"
  echo "   modules, forward hooks, numpy, json): the 10,000 MNIST test images to an APD with instances, whole"
  echo "   process, 1 thread each (targets: <= 0.3x the wall time, peak RSS below the reference's)"
  /usr/bin/python3 examples/lenet/train_lenet.py --data data/mnist --out "$scratch/lenet" --epochs 2 >/dev/null
  for k in 1 2 3; do
    /usr/bin/time -f "%e %M" -o "$scratch/ours.$k" "$bin/apps/apd-extract" --model "$scratch/lenet/scripted/epoch-2.pt" \
      --data data/mnist --split test --input-shape 1,28,28 --threads 1 --out "$scratch/lenet.json" --quiet
    /usr/bin/time -f "%e %M" -o "$scratch/ref.$k" /usr/bin/python3 scripts/reference_apd.py extract-lenet \
      --data data/mnist --state-dict "$scratch/lenet/state_dict.pt" --split test --threads 1 --out "$scratch/ref.json"
  done
  /usr/bin/python3 - "$scratch" "$(du -m "$scratch/lenet.json" | cut -f1)" "$(du -m "$scratch/ref.json" | cut -f1)" <<'PY'
import statistics, sys
d = sys.argv[1]
def runs(name):
    rows = [open(f"{d}/{name}.{k}").read().split() for k in (1, 2, 3)]
    return statistics.median(float(r[0]) for r in rows), max(int(r[1]) for r in rows) / 1024
(ot, orss), (rt, rrss) = runs("ours"), runs("ref")
print(f"  apd-extract --model {ot:.2f} s, peak RSS {orss:.0f} MiB, APD {sys.argv[2]} MB (hex patterns); "
      f"reference {rt:.2f} s, peak RSS {rrss:.0f} MiB, {sys.argv[3]} MB")
print(f"  ratio {ot / rt:.2f}x (target <= 0.3x); peak RSS {orss / rrss:.2f}x the reference's (median of 3 runs each)")
PY

  echo
  echo "== the paper's 784-40-40-40-10 MLP through --model vs --checkpoint: 54000 MNIST training images"
  echo "   (target: --model within 10% of --checkpoint)"
  "$bin/apps/apd-train" --data data/mnist --out "$scratch/m-run" --epochs 2 --quiet
  /usr/bin/python3 - "$scratch/m-run/checkpoints/epoch-0002.pt" "$scratch/mlp.pt" <<'PY'
import sys, torch
from torch import nn
m = nn.Sequential(nn.Linear(784, 40), nn.ReLU(), nn.Linear(40, 40), nn.ReLU(), nn.Linear(40, 40), nn.ReLU(),
                  nn.Linear(40, 10))
m.load_state_dict(torch.load(sys.argv[1]))
torch.jit.script(m.eval()).save(sys.argv[2])
PY
  for k in 1 2 3; do
    /usr/bin/time -f "%e %M" -o "$scratch/ckpt.$k" "$bin/apps/apd-extract" --data data/mnist --split train --limit 54000 \
      --checkpoint "$scratch/m-run/checkpoints/epoch-0002.pt" --out "$scratch/ckpt.json" --quiet
    /usr/bin/time -f "%e %M" -o "$scratch/model.$k" "$bin/apps/apd-extract" --data data/mnist --split train --limit 54000 \
      --model "$scratch/mlp.pt" --input-shape 784 --out "$scratch/model.json" --quiet
  done
  /usr/bin/python3 - "$scratch" <<'PY'
import statistics, sys
d = sys.argv[1]
def median(name):
    return statistics.median(float(open(f"{d}/{name}.{k}").read().split()[0]) for k in (1, 2, 3))
c, m = median("ckpt"), median("model")
print(f"  --checkpoint {c:.2f} s, --model {m:.2f} s: {100 * (m / c - 1):+.1f}% (target <= +10%; median of 3 runs each)")
PY
fi

if [[ "$what" == shards || "$what" == all ]]; then
  echo
  echo "== apd-merge: 8 shards of a 1,000,000-instance extraction (synthetic 28x28 images, a random 784-40-40-40-10"
  echo "   MLP, APD JSON with instances), whole process (target >= 200 MB/s of input); byte-identical to one process"
  "$bin/tests/apd_make_fixture" "$scratch/million" 1000000 --side 28
  random_mlp 40,40,40 "$scratch/million.pt"
  million=(--checkpoint "$scratch/million.pt" --data "$scratch/million" --split train --quiet)
  /usr/bin/time -f "%e %M" -o "$scratch/whole.time" "$bin/apps/apd-extract" "${million[@]}" --out "$scratch/whole.json"
  for i in 0 1 2 3 4 5 6 7; do "$bin/apps/apd-extract" "${million[@]}" --shard "$i/8" --out "$scratch/m-$i.json"; done
  input=$(cat "$scratch"/m-?.json | wc -c)
  for k in 1 2 3; do
    # Each run writes a new file, with the previous run's writes on disk
    # (not freeing or flushing 116 MB of the last output meanwhile).
    rm -f "$scratch/merged.json"; sync
    /usr/bin/time -f "%e %M" -o "$scratch/merge.$k" "$bin/apps/apd-merge" "$scratch"/m-?.json --out "$scratch/merged.json" --quiet
  done
  cmp "$scratch/whole.json" "$scratch/merged.json" && same=identical || same=DIFFERENT
  /usr/bin/python3 - "$scratch" "$input" "$same" <<'PY'
import statistics, sys
d, size, same = sys.argv[1], int(sys.argv[2]), sys.argv[3]
runs = [open(f"{d}/merge.{k}").read().split() for k in (1, 2, 3)]
t = statistics.median(float(r[0]) for r in runs)
rss = max(int(r[1]) for r in runs) / 1024
whole_t, whole_rss = open(f"{d}/whole.time").read().split()
print(f"  8 shards, {size / 1e6:.0f} MB in all: apd-merge {t:.2f} s = {size / 1e6 / t:.0f} MB/s (target >= 200), "
      f"peak RSS {rss:.0f} MiB (one-process extraction: {float(whole_t):.2f} s, {int(whole_rss) / 1024:.0f} MiB); "
      f"merged file {same} to the one-process file (median of 3)")
PY
  rm -f "$scratch"/m-?.json "$scratch/whole.json" "$scratch/merged.json"

  # OPENBLAS_NUM_THREADS=1 on both sides, as scripts/slurm/extract-array.sbatch sets it: OpenBLAS starts
  # its thread pool when the library loads, before apd can pin it, and the idle threads spin ~0.15 CPU-s.
  shards_vs_one() { # TITLE MODEL [apd-extract options...]: one process against 4 shards + apd-merge, median of 5
    local title="$1" model="$2"; shift 2
    local opts=(--model "$model" --data data/mnist --split train --input-shape 1,28,28 --threads 1 --quiet "$@")
    echo
    echo "== $title over the 60,000 MNIST training images: 4 shards as 4 parallel processes + apd-merge,"
    echo "   against one process, 1 thread each (target <= 0.6x the one-process wall time)"
    for k in 1 2 3 4 5; do
      rm -f "$scratch"/one.json "$scratch"/shard-?.json "$scratch/merged.json"
      start=$EPOCHREALTIME
      OPENBLAS_NUM_THREADS=1 "$bin/apps/apd-extract" "${opts[@]}" --out "$scratch/one.json"
      mid=$EPOCHREALTIME
      for i in 0 1 2 3; do
        OPENBLAS_NUM_THREADS=1 "$bin/apps/apd-extract" "${opts[@]}" --shard "$i/4" --out "$scratch/shard-$i.json" &
      done
      wait
      "$bin/apps/apd-merge" "$scratch"/shard-?.json --out "$scratch/merged.json" --quiet
      end=$EPOCHREALTIME
      cmp -s "$scratch/one.json" "$scratch/merged.json" || echo "  DIFFERENT merged file"
      echo "$start $mid $end" >"$scratch/times.$k"
    done
    /usr/bin/python3 - "$scratch" "$(du -m "$scratch/one.json" | cut -f1)" <<'PY'
import statistics, sys
d = sys.argv[1]
times = [[float(x) for x in open(f"{d}/times.{k}").read().split()] for k in (1, 2, 3, 4, 5)]
one = statistics.median(t[1] - t[0] for t in times)
four = statistics.median(t[2] - t[1] for t in times)
runs = ", ".join(f"{(t[2] - t[1]) / (t[1] - t[0]):.2f}x" for t in times)
print(f"  one process {one:.2f} s; 4 shards + merge {four:.2f} s: {four / one:.2f}x (target <= 0.6x; median of 5: {runs}); "
      f"APD {sys.argv[2]} MB")
PY
  }
  [[ -f "$scratch/lenet/scripted/epoch-2.pt" ]] ||
    /usr/bin/python3 examples/lenet/train_lenet.py --data data/mnist --out "$scratch/lenet" --epochs 2 >/dev/null
  shards_vs_one "LeNet-5 (--model; 0.3 M multiply-adds per image), every ReLU layer," "$scratch/lenet/scripted/epoch-2.pt"
  # PyTorch's own MNIST example network, trained one epoch on 10,000 images: a CNN whose forward pass,
  # not LibTorch's start-up, is the work. Its conv layers (21632 and 36864 neurons) give every image a
  # pattern of its own, so the APD is of its fully connected ReLU layer.
  /usr/bin/python3 examples/lenet/train_lenet.py --arch cnn --data data/mnist --out "$scratch/cnn" --epochs 1 \
    --train-limit 10000 >/dev/null
  shards_vs_one "PyTorch's MNIST example CNN (--model; 12 M multiply-adds per image), its 128-neuron ReLU layer," \
    "$scratch/cnn/scripted/epoch-1.pt" --layers 3
fi

if [[ "$what" == monitor || "$what" == all ]]; then
  echo
  echo "== apd-monitor, whole processes, 1 thread (targets: the paper's MLP, build from 54,000 training images and score"
  echo "   10,000 MNIST + 10,000 Fashion-MNIST test images <= 2 s in all; LeNet-5's 3456-bit layer: score 10,000 <= 10 s)"
  bash scripts/fetch-fashion-mnist.sh >/dev/null
  "$bin/apps/apd-train" --data data/mnist --out "$scratch/monitor-run" --epochs 5 --threads 2 --quiet
  timed() { # label command... -> "label: wall s, peak RSS" (the command's stdout dropped)
    local label="$1"; shift
    /usr/bin/time -f "%e %M" -o "$scratch/monitor.time" "$@" >/dev/null
    read -r t rss <"$scratch/monitor.time"
    echo "$t" >>"$scratch/monitor.sum"
    echo "  $label: $t s, peak RSS $((rss / 1024)) MiB"
  }
  rm -f "$scratch/monitor.sum"
  timed "MLP 784-40-40-40-10, build (layer 3, 54,000 images)" \
    "$bin/apps/apd-monitor" build --run "$scratch/monitor-run" --out "$scratch/mlp-monitor.json" --threads 1 --quiet
  timed "MLP, score 10,000 MNIST + 10,000 Fashion-MNIST  " \
    "$bin/apps/apd-monitor" score --monitor "$scratch/mlp-monitor.json" --data data/mnist --ood data/fashion-mnist \
    --threads 1 --out "$scratch/mlp-scores.json" --quiet
  echo "  MLP build + score: $(/usr/bin/python3 -c 'import sys; print(f"{sum(map(float, open(sys.argv[1]))):.2f}")' \
    "$scratch/monitor.sum") s (target <= 2 s)"
  [[ -f "$scratch/lenet/scripted/epoch-2.pt" ]] ||
    /usr/bin/python3 examples/lenet/train_lenet.py --data data/mnist --out "$scratch/lenet" --epochs 2 >/dev/null
  lenet=(--model "$scratch/lenet/scripted/epoch-2.pt" --input-shape 1,28,28)
  timed "LeNet-5 layer 1 (3456 bits), build from 60,000 images" \
    "$bin/apps/apd-monitor" build "${lenet[@]}" --data data/mnist --split train --layers 1 --threads 1 \
    --out "$scratch/lenet-monitor.json" --quiet
  timed "LeNet-5 layer 1, score 10,000 MNIST test images     " \
    "$bin/apps/apd-monitor" score --monitor "$scratch/lenet-monitor.json" --data data/mnist --threads 1 \
    --out "$scratch/lenet-scores.json" --quiet
  timed "LeNet-5 layer 1, score 10,000 MNIST + 10,000 Fashion " \
    "$bin/apps/apd-monitor" score --monitor "$scratch/lenet-monitor.json" --data data/mnist --ood data/fashion-mnist \
    --threads 1 --out "$scratch/lenet-scores.json" --quiet
  echo "  -- the search alone, side by side (queries: the test images' layer-1 patterns from apd-extract)"
  "$bin/apps/apd-extract" "${lenet[@]}" --data data/mnist --split test --layers 1 --threads 1 \
    --out "$scratch/lenet-test-l1.json" --quiet
  "$bin/bench/apd_bench_monitor" "$scratch/lenet-monitor.json" "$scratch/lenet-test-l1.json"
  rm -f "$scratch"/lenet-*.json "$scratch"/mlp-*.json
fi

if [[ "$what" == stats || "$what" == all ]]; then
  echo
  echo "== apd-stats: all tables (layers, all flows, bins, errors) of an APD JSON with 1,000,000 instances"
  echo "   (targets: MNIST-like <= 1.0 s; all-unique <= 4 s and <= 1.2 GB peak RSS); the files come from the"
  echo "   core benchmark's generator. Side by side: Python's json.load of the same file (parsing only)."
  "$bin/bench/apd_bench_core" 1000000 "$scratch" --no-read --keep >/dev/null
  measure() { # label args...
    local label="$1"; shift
    /usr/bin/time -f "%e %M" -o "$scratch/stats.time" "$bin/apps/apd-stats" "$@" --out "$scratch/stats.out"
    read -r t rss <"$scratch/stats.time"
    echo "  $label: $t s, peak RSS $((rss / 1024)) MiB"
  }
  for kind in mnist-like all-unique; do
    f="$scratch/apd-bench-$kind.json"
    echo "  -- $kind patterns ($(du -m "$f" | cut -f1) MB)"
    measure "all tables, text (top 20 flows)" "$f"
    measure "all tables, json (top 20 flows)" "$f" --format json
    measure "every flow (--top 0), csv      " "$f" --table flows --top 0 --format csv
    /usr/bin/time -f "%e %M" -o "$scratch/py.time" /usr/bin/python3 -c "import json,sys; json.load(open(sys.argv[1]))" "$f"
    read -r pt prss <"$scratch/py.time"
    echo "  reference: python3 json.load alone: $pt s, peak RSS $((prss / 1024)) MiB"
  done
  rm -f "$scratch"/apd-bench-*.json
  /usr/bin/python3 - "$bin/apps/apd-stats" <<'PY'
import subprocess, sys, time
runs = []
for _ in range(30):
    t0 = time.perf_counter(); subprocess.run([sys.argv[1], "--version"], stdout=subprocess.DEVNULL, check=True)
    runs.append(time.perf_counter() - t0)
runs.sort()
print(f"  start-up (apd-stats --version, median of 30): {runs[15] * 1000:.1f} ms (target well under 100 ms)")
PY
fi

if [[ "$what" == views || "$what" == all ]]; then
  echo
  bash "$root/scripts/bench-views.sh" "$bin" "$scratch"
fi

if [[ "$what" == series || "$what" == all ]]; then
  echo
  bash "$root/scripts/bench-series.sh" "$bin" "$scratch"
fi

if [[ "$what" == gallery || "$what" == all ]]; then
  echo
  bash "$root/scripts/bench-gallery.sh" "$bin" "$scratch"
fi

if [[ "$what" == geometry || "$what" == all ]]; then
  echo
  bash "$root/scripts/bench-geometry.sh" "$bin" "$scratch"
fi
