#!/usr/bin/env bash
# The whole test suite, LibTorch parts included, under AddressSanitizer +
# UndefinedBehaviorSanitizer (CI). Leak detection is on, with LibTorch's own
# allocations at exit suppressed (tests/lsan.supp). -O1 -g1 and a unity
# build (6 sources per translation unit: 1320 -> 850 CPU-s of compile) keep
# the build to a few minutes on two cores, with line numbers in reports.
# Needs MNIST in data/mnist (scripts/test.sh fetches it). Tests labelled
# `large` (1,000,000-instance float checks, ~100 s under ASan, whose code
# paths the smaller tests already run) and the `slurm` test (a real Slurm
# running the same apd-extract/apd-merge paths as the shard test) are left
# to scripts/test.sh.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build="$root/build/asan-ci"
sanitize="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=None -DAPD_BUILD_BENCH=OFF \
  -DCMAKE_UNITY_BUILD=ON -DCMAKE_UNITY_BUILD_BATCH_SIZE=6 \
  -DCMAKE_CXX_FLAGS="-O1 -g1 $sanitize" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
cmake --build "$build" --parallel "$(nproc)" >/dev/null
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 LSAN_OPTIONS="suppressions=$root/tests/lsan.supp:print_suppressions=0" \
  UBSAN_OPTIONS=print_stacktrace=1 ctest --test-dir "$build" --parallel "$(nproc)" --output-on-failure -LE "large|slurm"
