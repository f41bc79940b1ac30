#!/usr/bin/env bash
# Installs everything apd needs from Debian 12's archive, idempotently.
# One `apt-get update` at most, only when something is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build git pkg-config
  libtorch-dev libopenblas0-pthread
  libcli11-dev nlohmann-json3-dev libspdlog-dev libfmt-dev catch2
  zlib1g-dev
  nodejs npm
  python3 python3-torch python3-numpy python3-networkx
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

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
