#!/usr/bin/env bash
# The test command: installs dependencies, fetches MNIST, configures the
# release preset with ninja, builds everything and runs the whole ctest suite
# (real-MNIST tests included). Exits non-zero on any failure.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bash scripts/install-deps.sh
bash scripts/fetch-mnist.sh

jobs="$(nproc)"
cmake --preset release
cmake --build --preset release --parallel "$jobs"
ctest --preset release --parallel "$jobs" --timeout 900
