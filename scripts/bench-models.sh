# The models the benchmarks share, trained once and kept in build/bench-models
# between runs (training takes minutes). Source it with $root and $bin set:
#   source "$root/scripts/bench-models.sh"
#   run="$(paper_run)"          # the paper's MLP, 100 epochs
#   lenet_model lenet5|cnn      # examples/lenet, 3 epochs: $models/ARCH/scripted/epoch-3.pt
models="$root/build/bench-models"
mkdir -p "$models"

paper_run() {
  local run="$models/mlp-100"
  if [[ ! -f "$run/checkpoints/epoch-0100.pt" ]]; then
    echo "  (training the run once: 100 epochs, cached in $run)" >&2
    rm -rf "$run"
    "$bin/apps/apd-train" --data data/mnist --out "$run" --epochs 100 --threads 2 --quiet
  fi
  echo "$run"
}

lenet_model() {
  if [[ ! -f "$models/$1/scripted/epoch-3.pt" ]]; then
    echo "  (training $1 for 3 epochs into $models/$1)" >&2
    /usr/bin/python3 examples/lenet/train_lenet.py --arch "$1" --data data/mnist --out "$models/$1" --epochs 3 >/dev/null
  fi
}
