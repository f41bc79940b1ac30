#!/usr/bin/env bash
# Benchmarks, measured side by side in one run on this machine (it is shared
# and noisy: compare ratios within a run, not figures across runs). Prints
# figures; asserts nothing. Usage: scripts/bench.sh [core|all]
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
