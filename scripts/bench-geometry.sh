#!/usr/bin/env bash
# apd-extract --geometry (docs/geometry.md), measured against the issue's targets:
#  1. the paper's MLP (trained 100 epochs here, cached) on its 54,000 training
#     images: wall time with --geometry over the same extraction without it
#     (target <= 3x), best of 3, alternated;
#  2. LeNet-5 (examples/lenet, 3 epochs, cached) on the 10,000 MNIST test
#     images: wall time (target <= 120 s on this 2-core machine) with float64
#     and float32 gradients; on 1,000 images, receptive-field patches (the
#     default) side by side with the dense baseline (--geometry-tangents dense);
#  3. peak RSS bounded by the batch: LeNet-5 on 1,000 and on 10,000 images;
#  4. PyTorch's MNIST CNN (a 9216-feature Linear layer after the convolutions)
#     on 100 images: patches against dense float32 tangents.
# One thread (apd-extract's default). Prints figures; asserts nothing.
# Usage: scripts/bench-geometry.sh BIN_DIR SCRATCH   (called by scripts/bench.sh geometry)
set -euo pipefail
bin="$1"; scratch="$2"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source "$root/scripts/bench-models.sh"
run="$(paper_run)"
lenet_model lenet5
extract="$bin/apps/apd-extract"

measure() { # NAME COMMAND... -> "NAME wall_s peak_kB"
  local name="$1"; shift
  /usr/bin/time -f "$name %e %M" -o "$scratch/measure" "$@" >/dev/null
  cat "$scratch/measure"
}

echo "== apd-extract --geometry: the paper's MLP (784-40-40-40-10, epoch 100), 54,000 training images"
{
  for _ in 1 2 3; do  # alternated, so the machine's noise falls on both
    measure plain "$extract" --run "$run" --epoch 100 --split train --threads 1 --out "$scratch/mlp.json" --quiet
    measure geometry "$extract" --run "$run" --epoch 100 --split train --threads 1 --geometry --out "$scratch/mlp-g.json" --quiet
  done
} >"$scratch/mlp.txt"
/usr/bin/python3 - "$scratch/mlp.txt" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1])]
best = {k: min(float(r[1]) for r in rows if r[0] == k) for k in ("plain", "geometry")}
rss = {k: max(int(r[2]) for r in rows if r[0] == k) / 1024 for k in ("plain", "geometry")}
print(f"  without {best['plain']:.2f} s ({rss['plain']:.0f} MB), --geometry {best['geometry']:.2f} s "
      f"({rss['geometry']:.0f} MB): {best['geometry'] / best['plain']:.2f}x (target <= 3x), best of 3")
PY

echo "== LeNet-5 (3 epochs), MNIST test images"
lenet=(--model "$models/lenet5/scripted/epoch-3.pt" --data data/mnist --split test --input-shape 1,28,28 --quiet)
{
  measure "without,10000" "$extract" "${lenet[@]}" --out "$scratch/lenet.json"
  measure "patches,float64,1000" "$extract" "${lenet[@]}" --limit 1000 --geometry --out "$scratch/l.json"
  measure "dense,float64,1000" "$extract" "${lenet[@]}" --limit 1000 --geometry --geometry-tangents dense --out "$scratch/l.json"
  measure "dense,float32,1000" "$extract" "${lenet[@]}" --limit 1000 --geometry --geometry-gradients float32 \
    --geometry-tangents dense --out "$scratch/l.json"
  measure "patches,float64,10000" "$extract" "${lenet[@]}" --geometry --out "$scratch/l.json"
  measure "patches,float32,10000" "$extract" "${lenet[@]}" --geometry --geometry-gradients float32 --out "$scratch/l.json"
} >"$scratch/lenet.txt"
/usr/bin/python3 - "$scratch/lenet.txt" <<'PY'
import sys
rows = {r.split()[0]: (float(r.split()[1]), int(r.split()[2]) / 1024) for r in open(sys.argv[1])}
w, m = rows["without,10000"]
print(f"  without --geometry, 10,000 images: {w:.1f} s, {m:.0f} MB")
p, _ = rows["patches,float64,1000"]
for grad in ("float64", "float32"):
    s, mb = rows[f"dense,{grad},1000"]
    print(f"  dense tangents (the baseline), {grad} gradients, 1,000 images: {s:.1f} s -> {10 * s:.0f} s for 10,000 "
          f"(projected); patches, float64: {p:.1f} s ({s / p:.1f}x faster)")
for grad in ("float64", "float32"):
    s, mb = rows[f"patches,{grad},10000"]
    print(f"  patches, {grad} gradients, 10,000 images: {s:.1f} s (target <= 120 s), {mb:.0f} MB peak")
print(f"  peak RSS: {rows['patches,float64,1000'][1]:.0f} MB on 1,000 images, "
      f"{rows['patches,float64,10000'][1]:.0f} MB on 10,000: bounded by the batch")
PY

echo "== PyTorch's MNIST CNN (examples/lenet --arch cnn: conv 32, conv 64, pool, 9216 -> 128 -> 10), 100 test images"
lenet_model cnn
cnn=(--model "$models/cnn/scripted/epoch-3.pt" --data data/mnist --split test --input-shape 1,28,28 --limit 100 --quiet)
{
  measure "patches,float64" "$extract" "${cnn[@]}" --geometry --out "$scratch/c.json"
  measure "patches,float32" "$extract" "${cnn[@]}" --geometry --geometry-gradients float32 --out "$scratch/c.json"
  measure "dense,float32" "$extract" "${cnn[@]}" --geometry --geometry-gradients float32 --geometry-tangents dense \
    --out "$scratch/c.json"
} >"$scratch/cnn.txt"
/usr/bin/python3 - "$scratch/cnn.txt" <<'PY'
import sys
rows = {r.split()[0]: (float(r.split()[1]), int(r.split()[2]) / 1024) for r in open(sys.argv[1])}
d = rows["dense,float32"][0]
for k in ("patches,float64", "patches,float32", "dense,float32"):
    s, mb = rows[k]
    print(f"  {k.replace(',', ', ')} gradients: {s:.1f} s, {mb:.0f} MB peak ({d / s:.1f}x the dense float32 speed)")
PY
