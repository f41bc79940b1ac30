#!/usr/bin/env bash
# The everyday checks: clang-format (the layout in .clang-format) on every
# C++ file, the size limits (scripts/check_sizes.py: files <= 600 lines,
# functions <= 60), and clang-tidy (the checks in .clang-tidy) on apd's own sources
# in src/ and apps/, each file on its own (the compile commands of a
# file-by-file configuration, configured here and never built: the release
# preset builds in unity batches). Debian's clang-format and clang-tidy (14).
# src/torch/ is left to GCC's warnings (the dev preset builds it with -Werror):
# clang 14 cannot parse Debian's LibTorch 1.13 headers (c10::IValue is an
# incomplete type in its std::vector instantiations), so clang-tidy would
# report only that.
# Usage: scripts/lint.sh [--fix]   (--fix rewrites the layout in place)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build="${APD_LINT_BUILD:-build/lint-db}"

mapfile -t files < <(git ls-files '*.cpp' '*.hpp')
if [[ "${1:-}" == --fix ]]; then
  clang-format -i "${files[@]}"
  echo "lint: formatted ${#files[@]} files"
  exit 0
fi

echo "lint: clang-format on ${#files[@]} files"
clang-format --dry-run --Werror "${files[@]}"

echo "lint: sizes of ${#files[@]} files (at most 600 lines; functions at most 60)"
/usr/bin/python3 scripts/check_sizes.py "${files[@]}"

cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_UNITY_BUILD=OFF >/dev/null
# clang cannot read GCC's precompiled headers: give clang-tidy the compile
# commands without them (every source includes the headers it needs itself).
mkdir -p "$build/lint"
/usr/bin/python3 - "$build/compile_commands.json" "$build/lint/compile_commands.json" <<'PY'
import json, re, sys
commands = json.load(open(sys.argv[1]))
for c in commands:
    c["command"] = re.sub(r" -Winvalid-pch| -include \S*cmake_pch\.hxx", "", c["command"])
json.dump(commands, open(sys.argv[2], "w"))
PY
mapfile -t sources < <(git ls-files 'src/*.cpp' 'apps/*.cpp' | grep -v '^src/torch/')
echo "lint: clang-tidy on ${#sources[@]} files"
run-clang-tidy -p "$build/lint" -j "$(nproc)" -quiet "${sources[@]/#/$root/}" >"$build/clang-tidy.log" 2>&1 || {
  grep -E "(error|warning):" "$build/clang-tidy.log" | grep -v "warnings generated" | sort -u >&2
  echo "lint: clang-tidy found problems (full output: $build/clang-tidy.log)" >&2
  exit 1
}
echo "lint: clean"
