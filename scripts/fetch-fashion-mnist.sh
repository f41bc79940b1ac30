#!/usr/bin/env bash
# Links Fashion-MNIST (same IDX format, gzip-compressed) as data/fashion-mnist/
# from Debian's dataset-fashion-mnist package, installing it if needed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src=/usr/share/datasets/fashion-mnist
if ! dpkg-query -W -f='${Status}' dataset-fashion-mnist 2>/dev/null | grep -q "install ok installed"; then
  echo "fetch-fashion-mnist: installing dataset-fashion-mnist"
  sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends dataset-fashion-mnist >/dev/null
fi
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  [[ -f "$src/$f.gz" || -f "$src/$f" ]] || { echo "fetch-fashion-mnist: $src lacks $f(.gz)" >&2; exit 1; }
done
mkdir -p "$root/data"
ln -sfn "$src" "$root/data/fashion-mnist"
echo "fetch-fashion-mnist: data/fashion-mnist -> $src"
