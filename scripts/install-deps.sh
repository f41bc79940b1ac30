#!/usr/bin/env bash
# Installs everything apd needs, idempotently: Debian 12 packages (one
# `apt-get update` at most, only when something is missing), then from the
# npm registry Plotly.js for apd-report (scripts/fetch-plotly.sh) and
# playwright-core for the browser test (tests/browser, driving Debian's
# chromium: no browser is downloaded).
set -euo pipefail

packages=(
  build-essential cmake ninja-build git pkg-config
  libtorch-dev libopenblas0-pthread
  libcli11-dev nlohmann-json3-dev libspdlog-dev libfmt-dev catch2
  zlib1g-dev libssl-dev libsimdjson-dev libzip-dev libpng-dev
  clang-format clang-tidy clang-14 libclang-rt-14-dev libfuzzer-14-dev
  nodejs npm
  python3 python3-torch python3-numpy python3-networkx
  chromium
  dataset-fashion-mnist
  slurm-wlm munge
  time bc
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# The node/npm pair may come from another source (e.g. nodesource's nodejs ships npm).
if command -v npm >/dev/null 2>&1; then
  filtered=()
  for p in "${missing[@]}"; do [[ "$p" == npm ]] || filtered+=("$p"); done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} Debian packages present"
else
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

bash "$root/scripts/fetch-plotly.sh"
if [[ ! -f "$root/tests/browser/node_modules/playwright-core/package.json" ]]; then
  echo "install-deps: npm ci in tests/browser (playwright-core, pinned by package-lock.json)"
  (cd "$root/tests/browser" && npm ci --silent --no-audit --no-fund >/dev/null)
fi
echo "install-deps: done"
