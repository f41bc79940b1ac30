#!/usr/bin/env bash
# Files a stranger hands over: a FIFO or a device as any input is "not a
# regular file" at once (no hang, no read of /dev/zero until memory runs
# out); an output never goes through a symlink planted at a temporary name;
# an output that is one of the inputs is refused and the input kept.
# Usage: hostile_files_test.sh BIN_DIR SCRIPT_MODELS RUN SCRATCH
set -euo pipefail
bin="$1"; models="$2"; run="$3"; dir="$4"
rm -rf "$dir"; mkdir -p "$dir"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mkfifo "$dir/fifo"
# Each within 20 s (a blocking open or a read of /dev/zero would not end).
expect 1 "/dev/zero: not a regular file" timeout 20 "$bin/apd-merge" /dev/zero --out "$dir/never.json"
expect 1 "/dev/zero: not a regular file" timeout 20 "$bin/apd-stats" /dev/zero
input="$dir/fifo"
expect 1 "$input: not a regular file" timeout 20 "$bin/apd-stats" "$input"
expect 1 "$input: not a regular file" timeout 20 "$bin/apd-merge" "$input" --out "$dir/never.json"
expect 1 "$input: not a regular file" timeout 20 "$bin/apd-report" --apd "$input" --out "$dir/never.html"
expect 1 "$input: not a regular file" timeout 20 "$bin/apd-monitor" score --monitor "$input"
expect 1 "$input: not a regular file" timeout 20 "$bin/apd-extract" --model "$input" \
  --data "$models/images.npy" --targets "$models/targets.npy" --input-shape 1,28,28 --out "$dir/never.json"
expect 1 "$input: not a regular file" timeout 20 "$bin/apd-extract" --checkpoint "$input" --data "$dir" \
  --out "$dir/never.json"
expect_absent "$dir/never.json" "$dir/never.html"
# .npy data and targets as FIFOs.
mkfifo "$dir/fifo.npy"
expect 1 "fifo.npy: not a regular file" timeout 20 "$bin/apd-extract" --model "$models/lenet_scripted.pt" \
  --data "$dir/fifo.npy" --targets "$models/targets.npy" --input-shape 1,28,28 --out "$dir/never.json"
expect 1 "fifo.npy: not a regular file" timeout 20 "$bin/apd-extract" --model "$models/lenet_scripted.pt" \
  --data "$models/images.npy" --targets "$dir/fifo.npy" --input-shape 1,28,28 --out "$dir/never.json"
expect_absent "$dir/never.json"
echo "ok: FIFOs and devices as inputs are refused at once"

# A run whose files are FIFOs.
cp -r "$run" "$dir/run"
for f in metrics.jsonl run.json; do
  mv "$dir/run/$f" "$dir/$f.real"; mkfifo "$dir/run/$f"
  expect 1 "$f: not a regular file" timeout 20 "$bin/apd-stats" --run "$dir/run" --table epochs
  rm "$dir/run/$f"; mv "$dir/$f.real" "$dir/run/$f"
done
echo "ok: a run's files as FIFOs are refused at once"

# Symlinks planted at every temporary name the old scheme (.NAME.PID.tmp)
# could use, pointing at a victim: the output lands, the victim is untouched.
echo victim >"$dir/victim"
"$bin/apd-extract" --model "$models/lenet_scripted.pt" --data "$models/images.npy" --targets "$models/targets.npy" \
  --input-shape 1,28,28 --limit 20 --layers 4 --out "$dir/apd.json" --quiet
max_pid=$(cat /proc/sys/kernel/pid_max)
next=$(( $(sh -c 'echo $$') + 1 ))
for ((p = next; p < next + 200 && p < max_pid; p++)); do ln -s "$dir/victim" "$dir/.out.json.$p.tmp"; done
"$bin/apd-stats" "$dir/apd.json" --format json --out "$dir/out.json" --quiet
[[ "$(cat "$dir/victim")" == victim ]] || fail "a planted symlink redirected the output"
[[ -f "$dir/out.json" && ! -L "$dir/out.json" ]] || fail "no output"
echo "ok: planted symlinks at temporary names redirect nothing"

# --out onto an input: refused, the input kept.
cp "$dir/apd.json" "$dir/apd.copy"
expect 2 "--out .*apd.json: it is the input .*apd.json" "$bin/apd-stats" "$dir/apd.json" --out "$dir/./apd.json"
ln "$dir/apd.json" "$dir/hard-link.json"
expect 2 "--out .*hard-link.json: it is the input" "$bin/apd-report" --apd "$dir/apd.json" --out "$dir/hard-link.json"
cmp "$dir/apd.json" "$dir/apd.copy" || fail "an input was overwritten"
"$bin/apd-monitor" build --model "$models/lenet_scripted.pt" --data "$models/images.npy" --targets "$models/targets.npy" \
  --input-shape 1,28,28 --limit 20 --layers 4 --out "$dir/monitor.json" --quiet
cp "$dir/monitor.json" "$dir/monitor.copy"
expect 2 "--out .*monitor.json: it is the input" "$bin/apd-monitor" score --monitor "$dir/monitor.json" \
  --data "$models/images.npy" --targets "$models/targets.npy" --out "$dir/monitor.json"
cmp "$dir/monitor.json" "$dir/monitor.copy" || fail "the monitor was overwritten"
expect 2 "--out .*lenet_scripted.pt: it is the input" "$bin/apd-extract" --model "$models/lenet_scripted.pt" \
  --data "$models/images.npy" --targets "$models/targets.npy" --input-shape 1,28,28 --out "$models/lenet_scripted.pt"
echo "ok: an output that is an input is refused, the input kept"

# A model given by a relative path: the monitor records it absolute, so
# `score` finds it from any directory; a relative one (older monitors) is
# taken relative to the monitor file.
(cd "$models" && "$bin/apd-monitor" build --model lenet_scripted.pt --data images.npy --targets targets.npy \
  --input-shape 1,28,28 --limit 20 --layers 4 --out "$dir/relative.json" --quiet)
grep -q "\"file\":\"$models/lenet_scripted.pt\"" "$dir/relative.json" || fail "the monitor's model path is not absolute"
(cd / && "$bin/apd-monitor" score --monitor "$dir/relative.json" --data "$models/images.npy" \
  --targets "$models/targets.npy" --limit 20 --out "$dir/relative-scores.json" --quiet >/dev/null)
mkdir -p "$dir/old" && cp "$models/lenet_scripted.pt" "$dir/old/" && \
  sed "s|\"file\":\"$models/|\"file\":\"|" "$dir/relative.json" >"$dir/old/monitor.json"
(cd / && "$bin/apd-monitor" score --monitor "$dir/old/monitor.json" --data "$models/images.npy" \
  --targets "$models/targets.npy" --limit 20 --out "$dir/old-scores.json" --quiet >/dev/null)
grep -Eq "\"model_file\": ?\"$dir/old/lenet_scripted.pt\"" "$dir/old-scores.json" || fail "not scored with the model beside the monitor"
echo "ok: a monitor's model path holds from any directory"

# Paths that are not UTF-8 go into JSON and HTML: refused before any work.
bad="$dir/$(printf 'bad\xff')"
expect 2 "files: not valid UTF-8 text" "$bin/apd-stats" "$bad.json"
expect 2 "--out: not valid UTF-8 text" "$bin/apd-extract" --model "$models/lenet_scripted.pt" \
  --data "$models/images.npy" --targets "$models/targets.npy" --input-shape 1,28,28 --out "$bad.json"
expect 2 "--out: not valid UTF-8 text" "$bin/apd-monitor" score --monitor "$dir/monitor.json" --out "$bad.json"
expect 2 "--apd: not valid UTF-8 text" "$bin/apd-report" --apd "$bad.json" --out "$dir/r.html"
expect_absent "$bad.json" "$dir/r.html"
echo "ok: paths that are not UTF-8 are refused before any work"
rm -rf "$dir"
