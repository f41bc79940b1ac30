#!/usr/bin/env bash
# Crash safety of apd-train: a run killed with kill -9 mid-run and resumed,
# and a run stopped by SIGTERM and resumed, end with byte-identical final
# checkpoints and dynamics.bin, and identical metrics (churn and flow ARI
# included; apart from "seconds") to an uninterrupted run, with corrupted
# labels. The killed run checkpoints every 7 epochs, so it resumes from
# before epochs whose dynamics rows were already written.
# Usage: resume_test.sh APD_TRAIN APD_MAKE_FIXTURE SCRATCH
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
train="$1"; fixture="$2"; dir="$3"
rm -rf "$dir"; mkdir -p "$dir"
"$fixture" "$dir/data" 30000
base=(--data "$dir/data" --hidden 32,16 --epochs 60 --lr 0.05 --momentum 0.5 --corrupt-labels 0.1 --corrupt-seed 3)
common=("${base[@]}" --quiet)

metrics_lines() { [[ -f "$1/metrics.jsonl" ]] && wc -l <"$1/metrics.jsonl" || echo 0; }
without_seconds() { /usr/bin/python3 -c "
import json, sys
for line in open(sys.argv[1]):
    d = json.loads(line); d.pop('seconds'); print(json.dumps(d, sort_keys=True))" "$1"; }
same_as_whole() {
  cmp "$dir/whole/checkpoints/epoch-0060.pt" "$1/checkpoints/epoch-0060.pt"
  cmp "$dir/whole/dynamics.bin" "$1/dynamics.bin"
  diff <(without_seconds "$dir/whole/metrics.jsonl") <(without_seconds "$1/metrics.jsonl")
  [[ -z "$(find "$1" -name '*.tmp')" ]] || { echo "FAIL: temporary files left in $1"; exit 1; }
  echo "ok: $1 matches the uninterrupted run"
}
# out-dir epoch [options] -> starts a run in the background and returns as soon as it
# reports that epoch complete: the run's progress lines arrive through a pipe
# (a blocking read wakes at once; no wall-clock polling that a loaded machine
# could outrun). The rest of its output goes on to OUT-DIR.stderr.
start_and_wait_for() {
  local out="$1" epoch="$2"; shift 2
  coproc TRAIN { exec "$train" "${base[@]}" "$@" --out "$out" 2>&1; }
  pid=$TRAIN_PID
  exec {from_train}<&"${TRAIN[0]}"
  local line
  while IFS= read -r line <&"$from_train"; do
    echo "$line" >>"$out.stderr"
    [[ "$line" == *"epoch $epoch/60 "* ]] && { (cat <&"$from_train" >>"$out.stderr" &) ; return 0; }
  done
  echo "FAIL: run $out ended before epoch $epoch"; cat "$out.stderr"; exit 1
}

"$train" "${common[@]}" --out "$dir/whole"
# An epoch must take long enough that 50 of them cannot pass between the
# progress line and the signal: the data set is sized for that.

# kill -9 at an arbitrary moment after epoch 10.
start_and_wait_for "$dir/killed" 10 --checkpoint-every 7
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
(( $(metrics_lines "$dir/killed") < 60 )) || { echo "FAIL: the run finished before it was killed"; exit 1; }
echo "killed after $(metrics_lines "$dir/killed") epochs"
"$train" "${common[@]}" --checkpoint-every 7 --out "$dir/killed" --resume
same_as_whole "$dir/killed"

# SIGTERM: the current epoch's files are completed, exit 143, then resume
# with options taken from run.json.
start_and_wait_for "$dir/term" 5
kill -TERM "$pid"
set +e; wait "$pid"; code=$?; set -e
[[ "$code" == 143 ]] || { echo "FAIL: SIGTERM exit code $code, wanted 143"; cat "$dir/term.stderr"; exit 1; }
grep -q "SIGTERM received after epoch" "$dir/term.stderr" || { echo "FAIL: no SIGTERM message"; cat "$dir/term.stderr"; exit 1; }
done_epochs=$(metrics_lines "$dir/term")
[[ -f "$dir/term/checkpoints/epoch-$(printf %04d "$done_epochs").pt" ]] || { echo "FAIL: no checkpoint for the last epoch"; exit 1; }
echo "stopped by SIGTERM after $done_epochs epochs"
"$train" --out "$dir/term" --resume --quiet
same_as_whole "$dir/term"
rm -rf "$dir"
