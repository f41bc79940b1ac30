#!/usr/bin/env bash
# Submits a sharded extraction to Slurm: a job array of N extraction tasks
# (extract-array.sbatch) and a merge job that runs once all of them have
# succeeded (merge.sbatch, sbatch --dependency=afterok:ARRAY_JOB). Prints the
# two job ids; with --wait, returns when the merge has ended, with its exit
# status.
#   scripts/slurm/submit.sh [--wait] [--sbatch "OPTIONS"] N SHARD_DIR OUT -- APD_EXTRACT_OPTIONS...
# e.g.  scripts/slurm/submit.sh 8 shards/ apd-e300.json -- --run runs/paper --epoch 300 --split train
# The apd-extract and apd-merge run are $APD_EXTRACT and $APD_MERGE, by
# default those beside this script's build (build/release/apps) or on PATH.
# Logs: SHARD_DIR/logs/. Extra sbatch options (partition, time, account)
# go in --sbatch "...", applied to both jobs.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
usage() { echo "usage: submit.sh [--wait] [--sbatch OPTIONS] N SHARD_DIR OUT -- APD_EXTRACT_OPTIONS..." >&2; exit 2; }
wait_flag=(); extra=()
while [[ $# -gt 0 && "$1" == --* && "$1" != -- ]]; do
  case "$1" in
    --wait) wait_flag=(--wait); shift ;;
    --sbatch) [[ $# -ge 2 ]] || usage; read -r -a extra <<<"$2"; shift 2 ;;
    *) usage ;;
  esac
done
[[ $# -ge 4 && "$4" == -- ]] || usage
n="$1"; dir="$2"; out="$3"; shift 4
[[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "submit.sh: N must be a positive integer, not '$n'" >&2; exit 2; }
apps="$here/../../build/release/apps"
export APD_EXTRACT="${APD_EXTRACT:-$([[ -x "$apps/apd-extract" ]] && echo "$(cd "$apps" && pwd)/apd-extract" || echo apd-extract)}"
export APD_MERGE="${APD_MERGE:-$([[ -x "$apps/apd-merge" ]] && echo "$(cd "$apps" && pwd)/apd-merge" || echo apd-merge)}"
mkdir -p "$dir/logs"
dir="$(cd "$dir" && pwd)"
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
array=$(sbatch --parsable "${extra[@]+"${extra[@]}"}" --array="0-$((n - 1))" --chdir="$PWD" \
  --output="$dir/logs/extract-%A_%a.out" "$here/extract-array.sbatch" "$dir" "$@")
array="${array%%;*}"
echo "submit.sh: extraction job array $array ($n tasks) -> $dir/shard-*.json"
merge=$(sbatch --parsable "${wait_flag[@]+"${wait_flag[@]}"}" "${extra[@]+"${extra[@]}"}" --chdir="$PWD" \
  --dependency="afterok:$array" --kill-on-invalid-dep=yes --output="$dir/logs/merge-%j.out" \
  "$here/merge.sbatch" "$dir" "$out") || { status=$?; echo "submit.sh: the merge job failed (exit $status); logs in $dir/logs" >&2; exit "$status"; }
merge="${merge%%;*}"
echo "submit.sh: merge job $merge (after $array) -> $out"
if ((${#wait_flag[@]})); then
  # sbatch --wait returns 0 for a job cancelled before it ran (a failed
  # extraction task leaves the merge's dependency unsatisfiable): ask.
  state=$(scontrol show job -o "$merge" 2>/dev/null | grep -o 'JobState=[A-Z_]*' || true)
  if [[ "$state" != JobState=COMPLETED ]]; then
    echo "submit.sh: the merge job failed (${state:-state unknown}): an extraction task failed? logs in $dir/logs" >&2
    exit 1
  fi
fi
