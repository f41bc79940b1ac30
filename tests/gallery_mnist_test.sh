#!/usr/bin/env bash
# Galleries on real MNIST: LeNet-5 (TorchScript) on the IDX test images, its
# four ReLU layers drawn with merged "other" nodes (every conv pattern is
# unique); the page's pictures decode to the IDX file's bytes and its
# galleries equal the APD's instance records (tests/browser/check_gallery.mjs).
# Usage: gallery_mnist_test.sh APD_EXTRACT APD_REPORT MNIST_DIR MODELS SCRATCH BROWSER_DIR SCREENSHOT_DIR
set -euo pipefail
extract="$1"; report="$2"; mnist="$3"; models="$4"; dir="$5"; browser="$6"; shots="$7"
rm -rf "$dir"; mkdir -p "$dir" "$shots"
"$extract" --model "$models/lenet_scripted.pt" --data "$mnist" --split test --limit 300 --input-shape 1,28,28 \
  --out "$dir/lenet.json" --quiet
"$report" --apd "$dir/lenet.json" --max-nodes 40 --out "$dir/lenet.html" --quiet
node "$browser/check_gallery.mjs" "$dir/lenet.html" "$shots/gallery-mnist.png" "$dir/lenet.json"
