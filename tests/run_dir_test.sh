#!/usr/bin/env bash
# A run directory is resumable, or cleanly restartable, whatever stopped it;
# and only one apd-train writes it. Usage: run_dir_test.sh APD_TRAIN DATA_DIR FINISHED_RUN SCRATCH
# (FINISHED_RUN: a completed 5-epoch run on DATA_DIR with --hidden 16,8 --lr 0.05).
set -euo pipefail
train="$1"; data="$2"; finished="$3"; dir="$4"
rm -rf "$dir"; mkdir -p "$dir"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Killed during epoch 1's files: run.json and a checkpoint, no resume.pt.
# A fresh run refuses and says to use --resume; --resume restarts from epoch 1
# and ends byte-identical to the uninterrupted run.
mkdir -p "$dir/no-epoch/checkpoints"
cp "$finished/run.json" "$dir/no-epoch/"
cp "$finished/checkpoints/epoch-0001.pt" "$dir/no-epoch/checkpoints/"
set +e; "$train" --data "$data" --out "$dir/no-epoch" --hidden 16,8 --epochs 5 --lr 0.05 --quiet 2>"$dir/err"; code=$?; set -e
[[ $code == 2 ]] && grep -q "stopped before completing an epoch; restart it with --resume" "$dir/err" || { cat "$dir/err"; fail "fresh run into a no-epoch run"; }
"$train" --out "$dir/no-epoch" --resume 2>"$dir/err" || { cat "$dir/err"; fail "--resume of a no-epoch run"; }
grep -q "restarting it from epoch 1" "$dir/err" || fail "no restart message"
cmp "$finished/checkpoints/epoch-0005.pt" "$dir/no-epoch/checkpoints/epoch-0005.pt" || fail "restarted run differs"
echo "ok: a run stopped in epoch 1 restarts with --resume, byte-identical"

# Disk full or killed before run.json existed: only leftovers. --resume says
# to start again; a fresh run does.
mkdir -p "$dir/leftovers/checkpoints"; echo partial >"$dir/leftovers/.run.json.123.tmp"
set +e; "$train" --out "$dir/leftovers" --resume 2>"$dir/err"; code=$?; set -e
[[ $code == 1 ]] && grep -q "only the leftovers of a run that never started; start it again without --resume" "$dir/err" || { cat "$dir/err"; fail "--resume of leftovers"; }
"$train" --data "$data" --out "$dir/leftovers" --hidden 16,8 --epochs 2 --lr 0.05 --quiet || fail "fresh run over leftovers"
[[ -f "$dir/leftovers/checkpoints/epoch-0002.pt" && ! -e "$dir/leftovers/.run.json.123.tmp" ]] || fail "leftovers not replaced"
echo "ok: leftovers of a run that never started are replaced by a fresh run"

# Two writers: while another process holds the run's lock, apd-train refuses.
cp -r "$finished" "$dir/locked"
set +e; flock "$dir/locked/.lock" "$train" --out "$dir/locked" --resume --epochs 6 2>"$dir/err"; code=$?; set -e
[[ $code == 1 ]] && grep -q "another apd-train is writing this run" "$dir/err" || { cat "$dir/err"; fail "second writer not refused"; }
[[ ! -f "$dir/locked/checkpoints/epoch-0006.pt" ]] || fail "the second writer wrote"
echo "ok: a second writer is refused while the lock is held"
stats="$(dirname "$train")/apd-stats"
set +e; flock "$dir/locked/.lock" "$stats" --run "$dir/locked" --out "$dir/locked/epochs.txt" 2>"$dir/err"; code=$?; set -e
[[ $code == 1 ]] && grep -q "inside the run directory .*, which an apd-train is writing now" "$dir/err" || { cat "$dir/err"; fail "apd-stats wrote into a running run"; }
# Every spelling of a path into the live run: ./, .., a symlinked directory.
ln -s "$dir/locked/checkpoints" "$dir/into-run"
for out in "$dir/locked/checkpoints/./epoch-0001.pt" "$dir/locked/checkpoints/../epochs.txt" \
           "$dir/into-run/epoch-0001.pt" "$dir/into-run/../summary.json"; do
  cp "$dir/locked/checkpoints/epoch-0001.pt" "$dir/epoch-0001.before"
  set +e; flock "$dir/locked/.lock" "$stats" --run "$finished" --out "$out" 2>"$dir/err"; code=$?; set -e
  [[ $code == 1 ]] && grep -q "which an apd-train is writing now" "$dir/err" || { cat "$dir/err"; fail "apd-stats wrote $out into a running run"; }
  cmp "$dir/locked/checkpoints/epoch-0001.pt" "$dir/epoch-0001.before" || fail "$out: a checkpoint of the live run changed"
done
"$stats" --run "$dir/locked" --out "$dir/locked/epochs.txt" || fail "apd-stats refused a run nobody trains"
echo "ok: other tools refuse outputs inside a run being trained, and write there otherwise"

# A resume.pt that is not one (here: a model checkpoint in its place) is an
# error naming it, not a library's text.
cp -r "$finished" "$dir/bad-resume"
cp "$finished/checkpoints/epoch-0005.pt" "$dir/bad-resume/checkpoints/resume.pt"
set +e; "$train" --out "$dir/bad-resume" --resume --epochs 6 2>"$dir/err"; code=$?; set -e
[[ $code == 1 && $(wc -l <"$dir/err") == 1 ]] && grep -q "bad-resume/checkpoints/resume.pt: 6 tensors, a resume state of this model has 1" "$dir/err" \
  || { cat "$dir/err"; fail "a model checkpoint as resume.pt"; }
echo "ok: a resume.pt that is not a resume state is refused by name"

# A path run.json cannot record.
set +e; "$train" --data "$data" --out "$dir/$(printf 'bad\xff')" --quiet 2>"$dir/err"; code=$?; set -e
[[ $code == 2 ]] && grep -q -e "--out: not valid UTF-8 text" "$dir/err" || { cat "$dir/err"; fail "non-UTF-8 --out"; }
[[ ! -e "$dir/$(printf 'bad\xff')" ]] || fail "a directory was created"
echo "ok: a non-UTF-8 path is refused before anything is written"
rm -rf "$dir"
