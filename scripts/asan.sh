#!/usr/bin/env bash
# The torch-free libraries, apd-stats, apd-report and their tests under
# AddressSanitizer + UndefinedBehaviorSanitizer, leak detection on (CI).
# The whole suite, LibTorch parts included, runs under the asan preset
# (cmake --preset asan; ASAN_OPTIONS=detect_leaks=0: LibTorch leaks at exit),
# which costs ~10 minutes of compiling on two cores.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build="$root/build/asan-core"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAPD_BUILD_TORCH=OFF -DAPD_BUILD_BENCH=OFF \
  -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
cmake --build "$build" --parallel "$(nproc)" >/dev/null
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir "$build" --parallel "$(nproc)" --output-on-failure -LE mnist
