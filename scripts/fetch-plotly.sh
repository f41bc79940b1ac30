#!/usr/bin/env bash
# Puts Plotly.js (the paper's plotting library) in third_party/plotly/ from the
# npm package plotly.js-dist-min at a pinned version, verified by SHA-256.
# apd-report embeds it at build time, so reports open offline from file://.
# Idempotent; a mismatch deletes the file and exits 1.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="2.35.2"
sha="6d21266ce1bd7d9e5ab4e115989c70c20de0382fd973a8f26ab58619eba4d603"
dest="$root/third_party/plotly"
file="$dest/plotly.min.js"

if [[ -f "$file" && "$(sha256sum "$file" | cut -d' ' -f1)" == "$sha" ]]; then
  echo "fetch-plotly: $file verified (plotly.js $version)"
  exit 0
fi
command -v npm >/dev/null || { echo "fetch-plotly: npm not found; run scripts/install-deps.sh" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "fetch-plotly: npm pack plotly.js-dist-min@$version"
(cd "$work" && npm pack --silent "plotly.js-dist-min@$version" >/dev/null 2>"$work/npm.log") || {
  echo "fetch-plotly: npm pack failed:" >&2; tail -3 "$work/npm.log" >&2; exit 1; }
tar -xzf "$work"/plotly.js-dist-min-*.tgz -C "$work"
mkdir -p "$dest"
if [[ "$(sha256sum "$work/package/plotly.min.js" | cut -d' ' -f1)" != "$sha" ]]; then
  rm -f "$file"
  echo "fetch-plotly: plotly.min.js: SHA-256 mismatch (expected $sha)" >&2
  exit 1
fi
cp "$work/package/plotly.min.js" "$file.tmp" && mv -f "$file.tmp" "$file"
cp "$work/package/LICENSE" "$dest/LICENSE"
echo "fetch-plotly: $file ready (plotly.js $version, MIT license in $dest/LICENSE)"
