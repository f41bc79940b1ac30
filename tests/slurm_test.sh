#!/usr/bin/env bash
# The shipped Slurm scripts against a real Slurm: Debian's slurm-wlm and
# munge as a one-node cluster on this machine, with its own configuration,
# state directories and ports, started and stopped (by pid) by this test.
# scripts/slurm/submit.sh runs a 4-task extraction job array and the merge
# job after it; the merged APD equals a single-process extraction byte for
# byte. A failing array task cancels the merge and submit.sh fails.
# Needs root (munged runs as the munge user, slurmd as root), as in CI.
# Usage: slurm_test.sh APD_EXTRACT APD_MERGE RUN_DIR SCRATCH
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
extract="$1"; merge="$2"; run="$3"; dir="$4"
root="$(cd "$(dirname "$0")/.." && pwd)"
fail() { echo "FAIL: $*"; for f in "$dir"/log/*; do [[ -f "$f" ]] && { echo "--- $f"; tail -20 "$f"; }; done; exit 1; }
for tool in munged slurmctld slurmd sbatch sinfo; do
  command -v "$tool" >/dev/null || PATH="$PATH:/usr/sbin" command -v "$tool" >/dev/null ||
    fail "$tool is missing: scripts/install-deps.sh installs slurm-wlm and munge"
done
export PATH="$PATH:/usr/sbin"
[[ $(id -u) == 0 ]] || fail "the Slurm test starts munged and slurmd, which needs root"
rm -rf "$dir"; mkdir -p "$dir"/{etc,state,spool,log,run,munge,shards}
dir="$(cd "$dir" && pwd)"

pids=()
stop() {
  for p in "${pids[@]+"${pids[@]}"}"; do kill "$p" 2>/dev/null || true; done
  [[ -f "$dir/munge/munged.pid" ]] && kill "$(cat "$dir/munge/munged.pid")" 2>/dev/null || true
  for p in "${pids[@]+"${pids[@]}"}"; do wait "$p" 2>/dev/null || true; done
}
trap stop EXIT

# munge: a fresh key, the daemon as user munge on our own socket.
chown munge:munge "$dir/munge"; chmod 755 "$dir/munge"
runuser -u munge -- mungekey --create --keyfile="$dir/munge/munge.key"
runuser -u munge -- munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
  --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed"

# Two free TCP ports for slurmctld and slurmd.
read -r ctld_port d_port < <(/usr/bin/python3 -c "
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(('127.0.0.1', 0))
print(*[x.getsockname()[1] for x in s])")
node="$(hostname -s)"
cat >"$dir/etc/slurm.conf" <<CONF
ClusterName=apdtest
SlurmctldHost=$node
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
NodeName=$node CPUs=$(nproc) State=UNKNOWN
PartitionName=apd Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
printf 'CgroupPlugin=cgroup/v1\nIgnoreSystemd=yes\n' >"$dir/etc/cgroup.conf"
export SLURM_CONF="$dir/etc/slurm.conf"
slurmctld -D -i -f "$SLURM_CONF" >"$dir/log/slurmctld.out" 2>&1 & pids+=($!)
slurmd -D -f "$SLURM_CONF" >"$dir/log/slurmd.out" 2>&1 & pids+=($!)
for _ in $(seq 1 120); do
  [[ "$(sinfo -h -o %T 2>/dev/null)" == idle ]] && break
  sleep 0.5
done
[[ "$(sinfo -h -o %T 2>/dev/null)" == idle ]] || fail "the one-node cluster did not come up"
echo "ok: munged, slurmctld and slurmd up on $node (ports $ctld_port, $d_port)"

options=(--run "$run" --epoch 5 --split train --quiet)
"$extract" "${options[@]}" --out "$dir/whole.json"
export APD_EXTRACT="$extract" APD_MERGE="$merge"
bash "$root/scripts/slurm/submit.sh" --wait 4 "$dir/shards" "$dir/merged.json" -- "${options[@]}" ||
  fail "submit.sh: the sharded extraction failed"
[[ $(ls "$dir"/shards/shard-*.json | wc -l) == 4 ]] || fail "4 shard files expected"
cmp "$dir/whole.json" "$dir/merged.json" || fail "Slurm's merged APD differs from the single-process one"
echo "ok: a 4-task job array and its dependent merge job give the single-process APD byte for byte"

# A task that fails (a bad option) cancels the merge; submit.sh says so.
set +e
bash "$root/scripts/slurm/submit.sh" --wait 2 "$dir/bad-shards" "$dir/bad.json" -- "${options[@]}" --epoch 99 \
  >"$dir/bad.out" 2>&1
code=$?
set -e
[[ $code != 0 && ! -e "$dir/bad.json" ]] || { cat "$dir/bad.out"; fail "a failed array task must fail the submission"; }
grep -q "the merge job failed" "$dir/bad.out" || { cat "$dir/bad.out"; fail "no message for the failed merge"; }
echo "ok: a failing extraction task cancels the merge and fails submit.sh"
stop; trap - EXIT
rm -rf "$dir"
