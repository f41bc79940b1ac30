#!/usr/bin/env bash
# Inputs that declare, or are, far more than they hold: each tool stays within
# a bounded memory (measured peak RSS) and ends with its one-line error at the
# first byte that shows the input wrong, instead of reading gigabytes first.
# Files are sparse: they take no disk. Not under ASan (its RSS is not ours).
# Usage: bounded_memory_test.sh BIN_DIR PYTHON RUN SCRATCH
set -euo pipefail
bin="$1"; python="$2"; run="$3"; dir="$4"
rm -rf "$dir"; mkdir -p "$dir"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
peak="$python $(dirname "${BASH_SOURCE[0]}")/python/peak_rss.py"

# An APD of 2 GB of NUL bytes: byte 0 is already wrong.
truncate -s 2G "$dir/nul.json"
expect 1 "nul.json: not valid JSON: unexpected byte 0x00 at byte 0" timeout 30 $peak 100 "$bin/apd-stats" "$dir/nul.json"
# A 1 GB string in the metadata: refused at the 64 MB one value may take.
printf '{"schema":"apd/1","graph":{"widths":[1],"note":"' >"$dir/string.json"
truncate -s 1G "$dir/string.json"
expect 1 "string.json: the JSON value at byte 26 is longer than 64 MB" timeout 30 $peak 400 "$bin/apd-stats" "$dir/string.json"
# 5M one-neuron layers (a 20 MB file): at most 4096.
"$python" -c "
import sys
n = 5_000_000
sys.stdout.write('{\"schema\":\"apd/1\",\"graph\":{\"widths\":[' + ','.join(['1'] * n) + '],\"instances\":0,\"errors\":0},'
                 '\"nodes\":[],\"links\":[],\"instances\":[]}')" >"$dir/layers.json"
expect 1 "layers.json: graph.widths: 5000000 layers; an APD holds at most 4096" timeout 30 $peak 1000 \
  "$bin/apd-stats" "$dir/layers.json"
echo "ok: APD files that are NUL bytes, one huge string or millions of layers"

# A metrics.jsonl of 2 GB whose lines after the run's own are NUL bytes.
cp -r "$run" "$dir/run"
truncate -s 2G "$dir/run/metrics.jsonl"
expect 1 "metrics.jsonl:[0-9]+: a line longer than 1 MB" timeout 30 $peak 100 \
  "$bin/apd-stats" --run "$dir/run" --table epochs
# A run.json of 1 GB.
truncate -s 1G "$dir/run/run.json"
expect 1 "run.json: 1024 MB, more than the 16 MB a run.json may hold" timeout 30 $peak 100 \
  "$bin/apd-stats" --run "$dir/run" --table epochs
echo "ok: a run's files of gigabytes"

# Instances of 16M floats (64 MB each): batches are sized by bytes, so 20 of
# them with the default --batch-size (256) never hold more than ~256 MB.
"$python" "$(dirname "${BASH_SOURCE[0]}")/python/make_wide.py" "$dir" 20 16777216
$peak 800 "$bin/apd-extract" --model "$dir/wide.pt" --data "$dir/wide.npy" --targets "$dir/wide_y.npy" \
  --input-shape 16777216 --out "$dir/wide.json" --quiet || fail "wide instances: exit $?"
grep -q '"batch_size":1[,}]' "$dir/wide.json" || fail "wide instances: the APD does not record batches of 1"
# .npy targets of 2 GB (sparse int8) beside 20 instances: the count is read from the header.
"$python" -c "
import numpy as np
with open('$dir/targets.npy', 'wb') as f:
    np.lib.format.write_array_header_1_0(f, {'descr': '|i1', 'fortran_order': False, 'shape': (1 << 31,)})
    f.truncate(f.tell() + (1 << 31))"
expect 1 "targets.npy: holds 2147483648 targets but .*wide.npy holds 20 instances" timeout 30 $peak 700 "$bin/apd-extract" \
  --model "$dir/wide.pt" --data "$dir/wide.npy" --targets "$dir/targets.npy" --input-shape 16777216 \
  --out "$dir/never.json"
expect_absent "$dir/never.json"
echo "ok: wide instances and huge targets within bounded memory"
rm -rf "$dir"
