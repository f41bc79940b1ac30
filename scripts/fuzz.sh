#!/usr/bin/env bash
# Builds the libFuzzer harnesses (fuzz_test/, clang 14 with
# -fsanitize=fuzzer,address,undefined) and runs them:
#   scripts/fuzz.sh --smoke        replay every regression input, then APD_FUZZ_SECONDS (60; CI: 20) per harness
#   scripts/fuzz.sh --runs N       a campaign of N executions per harness
# Seed corpora are generated from real files (MNIST, the docs' APD example,
# checkpoints written by Python's torch.save, arrays written by numpy.save, a synthetic run with its
# checkpoints, dynamics and APDs extracted from it, apd-monitor's files, when the release build has made them); what a campaign finds lands in build/fuzz/findings/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
mode="${1:---smoke}"
runs="${2:-}"
seconds="${APD_FUZZ_SECONDS:-60}"
build="$root/build/fuzz"

cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
  -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined,fuzzer-no-link -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
  -DAPD_BUILD_FUZZ=ON -DAPD_BUILD_TORCH=OFF -DAPD_BUILD_TESTS=OFF -DAPD_BUILD_BENCH=OFF \
  -DCMAKE_UNITY_BUILD=ON -DCMAKE_UNITY_BUILD_BATCH_SIZE=6 >/dev/null
harnesses=(fuzz_idx fuzz_apd_json fuzz_run_files fuzz_state_dict fuzz_npy fuzz_dynamics fuzz_monitor fuzz_thumbnails)
cmake --build "$build" --target "${harnesses[@]}" >/dev/null

# Seeds. The first byte of an IDX or run-file input picks the reader.
seeds="$build/seeds"
rm -rf "$seeds"; mkdir -p "$seeds"/{fuzz_idx,fuzz_apd_json,fuzz_run_files,fuzz_state_dict,fuzz_npy,fuzz_dynamics,fuzz_monitor,fuzz_thumbnails}
if [[ -f data/mnist/train-labels-idx1-ubyte ]]; then
  { printf '\x00'; head -c $((16 + 3 * 784)) data/mnist/t10k-images-idx3-ubyte | /usr/bin/python3 -c "
import sys; b = bytearray(sys.stdin.buffer.read()); b[4:8] = (3).to_bytes(4, 'big'); sys.stdout.buffer.write(b)"; } \
    >"$seeds/fuzz_idx/images"
  { printf '\x01'; head -c 20 data/mnist/t10k-labels-idx1-ubyte | /usr/bin/python3 -c "
import sys; b = bytearray(sys.stdin.buffer.read()); b[4:8] = (12).to_bytes(4, 'big'); sys.stdout.buffer.write(b)"; } \
    >"$seeds/fuzz_idx/labels"
  { printf '\x01'; tail -c +2 "$seeds/fuzz_idx/labels" | gzip -c; } >"$seeds/fuzz_idx/labels.gz"
fi
/usr/bin/python3 - "$seeds/fuzz_apd_json/docs-example.json" <<'PY'
import re, sys
doc = open("docs/apd-json.md").read()
open(sys.argv[1], "w").write(re.search(r"```json\n([\s\S]*?)```", doc).group(1))
PY
# The same example with recorded views (graph.views: top:2 and pool over a 1x2x2 layer).
/usr/bin/python3 - "$seeds/fuzz_apd_json/docs-example.json" "$seeds/fuzz_apd_json/docs-views.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
w = d["graph"]["widths"]
d["graph"]["views"] = [{"layer": 1, "view": "1=top:2", "kind": "top", "arg": 2, "shape": [w[0]], "full_width": w[0],
                        "width": 2, "neurons": [0, 1], "from": None},
                       {"layer": 2, "view": "2=pool:2", "kind": "pool", "arg": 2, "shape": [1, 2, 2],
                        "full_width": 4, "width": 1, "from": "a.json"}]
json.dump(d, open(sys.argv[2], "w"))
PY
# The same example as shard 0 of 1 (apd-merge's shard record).
/usr/bin/python3 - "$seeds/fuzz_apd_json/docs-example.json" "$seeds/fuzz_apd_json/docs-shard.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["graph"]["selection"]["shard"] = {"index": 0, "count": 1, "begin": 0, "end": 3, "of": 3}
json.dump(d, open(sys.argv[2], "w"))
PY
# The same example with the instances' distances (apd-extract --geometry), one unbounded (null).
/usr/bin/python3 - "$seeds/fuzz_apd_json/docs-example.json" "$seeds/fuzz_apd_json/docs-geometry.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["graph"]["geometry"] = {"arithmetic": "float64", "gradients": "float64", "radius_layers": None}
for k, r in enumerate(d["instances"]):
    r["region_radius"] = None if k == 1 else 0.028415320750887818 * (k + 1)
    r["boundary_distance"] = 0.7388944463540718 / (k + 1)
json.dump(d, open(sys.argv[2], "w"), separators=(",", ":"))
PY
scratch="$root/build/release/test-scratch"
for f in "$scratch"/stats/apd-e5.json "$scratch"/stats/lean.json "$scratch"/report/shallow.json; do
  [[ -f "$f" ]] && [[ $(stat -c %s "$f") -lt 400000 ]] && cp "$f" "$seeds/fuzz_apd_json/"
done
if [[ -f "$scratch/synthetic-run/run.json" ]]; then
  { printf '\x00'; cat "$scratch/synthetic-run/run.json"; } >"$seeds/fuzz_run_files/run.json"
  { printf '\x01'; cat "$scratch/synthetic-run/metrics.jsonl"; } >"$seeds/fuzz_run_files/metrics.jsonl"
  # The line splitter, fed in chunks of 6 bytes.
  { printf '\x02\x05'; cat "$scratch/synthetic-run/metrics.jsonl"; } >"$seeds/fuzz_run_files/lines"
  { printf '\x00'; /usr/bin/python3 -c "
import json, sys
j = json.load(open(sys.argv[1])); train = [i for i in range(20) if i not in set(j['split']['val_indices'])]
j['label_corruption'] = {'probability': 0.1, 'seed': 3, 'indices': train[:3], 'labels': [0, 1, 2]}
print(json.dumps(j, indent=1))" "$scratch/synthetic-run/run.json"; } >"$seeds/fuzz_run_files/run-corrupted.json"
  [[ -f "$scratch/synthetic-run/dynamics.bin" ]] && cp "$scratch/synthetic-run/dynamics.bin" "$seeds/fuzz_dynamics/"
fi
# A hand-made history: 10 instances, 3 epochs, padding clear.
printf 'APDDYN1\n\x0a\x00\x00\x00\x00\x00\x00\x00\xff\x03\x0f\x01\xf0\x02' >"$seeds/fuzz_dynamics/hand-made.bin"

# apd-monitor's files: a hand-made monitor of two layers (one class empty)
# and, when the tests have made them, a small monitor and the first scores.
/usr/bin/python3 - "$seeds/fuzz_monitor" <<'PY'
import json, os, sys
out = sys.argv[1]
monitor = {"format": "apd-monitor/1", "tool": {"name": "apd-monitor"},
           "model": {"kind": "mlp", "file": "m.pt", "sha256": "a" * 64, "run": None, "epoch": None,
                     "architecture": "4-10-70-3", "relu_widths": [10, 70], "classes": 3},
           "preprocessing": {"normalize": "unit", "mean": [], "std": [], "input_shape": [4]},
           "training": {}, "all_instances": False, "class_instances": [2, 1, 0],
           "layers": [{"layer": 1, "width": 10, "patterns": [["0040", "c040"], ["ff00"], []]},
                      {"layer": 2, "width": 70, "patterns": [["000000000000000004"], ["ff00000000000000fc"], []]}]}
open(os.path.join(out, "hand-made.json"), "wb").write(b"\x00" + json.dumps(monitor).encode())
# The same through views: layer 1 as neurons 0, 4, 9 (3 bits), layer 2 (70 = 7x5x2) pooled 2x2 (21 bits).
monitor["layers"] = [
    {"layer": 1, "width": 3, "view": {"layer": 1, "view": "1=neurons:0,4,9", "kind": "neurons", "arg": None,
                                      "shape": [10], "full_width": 10, "width": 3, "neurons": [0, 4, 9], "from": None},
     "patterns": [["20", "e0"], ["80"], []]},
    {"layer": 2, "width": 21, "view": {"layer": 2, "view": "2=pool:2", "kind": "pool", "arg": 2, "shape": [7, 5, 2],
                                       "full_width": 70, "width": 21, "from": "a.json"},
     "patterns": [["000008"], ["fff800"], []]}]
open(os.path.join(out, "hand-made-views.json"), "wb").write(b"\x00" + json.dumps(monitor).encode())
scores = {"monitor": [{"format": "apd-monitor-scores/1", "gamma": 1}], "layers": [{"layer": 1, "width": 10}],
          "instances": [{"set": "in", "index": 0, "label": 1, "predicted": 1, "distance_l1": 0},
                        {"set": "in", "index": 1, "label": 2, "predicted": 1, "distance_l1": 3},
                        {"set": "ood", "index": 0, "label": None, "predicted": 2, "distance_l1": None}]}
open(os.path.join(out, "hand-made-scores.json"), "wb").write(b"\x01" + json.dumps(scores).encode())
PY
if [[ -f "$scratch/monitor/two.json" ]]; then
  { printf '\x00'; cat "$scratch/monitor/two.json"; } >"$seeds/fuzz_monitor/two.json"
  { printf '\x01'; /usr/bin/python3 -c "
import json, sys
s = json.load(open(sys.argv[1])); s['instances'] = s['instances'][:40]; print(json.dumps(s))" \
    "$scratch/monitor/two-scores.json"; } >"$seeds/fuzz_monitor/two-scores.json"
fi

# Checkpoints from Python's torch.save (16 inputs keeps them small) and from
# apd-train: whole (first byte even) and their data.pkl alone (odd).
/usr/bin/python3 tests/python/make_state_dicts.py "$build/state-dicts" 16 >/dev/null
for f in "$build"/state-dicts/{prefixed,sequential}.pt "$scratch"/synthetic-run/checkpoints/epoch-0001.pt; do
  [[ -f "$f" ]] || continue
  base="$(basename "$(dirname "$f")")-$(basename "$f" .pt)"
  { printf '\x00'; cat "$f"; } >"$seeds/fuzz_state_dict/$base.pt"
  { printf '\x01'; /usr/bin/python3 -c "
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1]); sys.stdout.buffer.write(z.read(next(n for n in z.namelist() if n.endswith('/data.pkl'))))" "$f"; } \
    >"$seeds/fuzz_state_dict/$base.pkl"
done

# Arrays written by numpy.save (every dtype and version the tests use).
/usr/bin/python3 tests/python/make_npy.py "$seeds/fuzz_npy" >/dev/null

# The galleries' datasets: IDX images (first byte even) and .npy arrays (odd),
# with small gray and RGB float images of numpy's own.
[[ -f "$seeds/fuzz_idx/images" ]] && cp "$seeds/fuzz_idx/images" "$seeds/fuzz_thumbnails/idx-images"
for f in "$seeds"/fuzz_npy/*; do
  [[ $(stat -c %s "$f") -lt 65536 ]] && { printf '\x01'; cat "$f"; } >"$seeds/fuzz_thumbnails/$(basename "$f")"
done
/usr/bin/python3 - "$seeds/fuzz_thumbnails" <<'PY'
import io, os, sys
import numpy as np
rng = np.random.default_rng(0)
for name, a in {"rgb-first": rng.random((3, 3, 4, 5), dtype=np.float32),
                "rgb-last-f64": rng.normal(size=(2, 4, 3, 3)),
                "gray-u8": rng.integers(0, 256, (4, 6, 6), dtype=np.uint8),
                "flat-square": rng.random((2, 16), dtype=np.float32)}.items():
    b = io.BytesIO(); np.save(b, a)
    open(os.path.join(sys.argv[1], name), "wb").write(b"\x01" + b.getvalue())
PY

# run_harness NAME: replays its regression inputs, then fuzzes; prints what
# it found and leaves its exit status in $build/NAME.status.
run_harness() {
  local harness="$1" bin="$build/fuzz_test/$1" dict status=0
  case $harness in
    fuzz_idx) dict=fuzz_test/dict/idx.dict ;;
    fuzz_state_dict) dict=fuzz_test/dict/pickle.dict ;;
    fuzz_npy | fuzz_thumbnails) dict=fuzz_test/dict/npy.dict ;;
    fuzz_dynamics) dict=fuzz_test/dict/dynamics.dict ;;
    fuzz_monitor) dict=fuzz_test/dict/monitor.dict ;;
    *) dict=fuzz_test/dict/json.dict ;;
  esac
  local regressions="fuzz_test/regressions/$harness"
  if [[ -d "$regressions" ]] && compgen -G "$regressions/*" >/dev/null; then
    echo "fuzz: $harness replays $(ls "$regressions" | wc -l) regression inputs"
    "$bin" "$regressions"/* >"$build/$harness.replay.log" 2>&1 || { echo "FAIL: $harness on a regression input"; tail -30 "$build/$harness.replay.log"; status=1; }
  fi
  local corpus="$build/corpus/$harness" findings="$build/findings/$harness"
  mkdir -p "$corpus" "$findings"
  local limit=(-max_total_time="$seconds"); [[ "$mode" == --runs ]] && limit=(-runs="$runs")
  echo "fuzz: $harness ${limit[*]}"
  if ! "$bin" "$corpus" "$seeds/$harness" -dict="$dict" -max_len=65536 -rss_limit_mb=4096 -timeout=20 \
      -artifact_prefix="$findings/" -print_final_stats=1 "${limit[@]}" >"$build/$harness.log" 2>&1; then
    echo "FAIL: $harness found a crash, leak or hang: $(ls "$findings")"; tail -40 "$build/$harness.log"; status=1
  fi
  grep -E "stat::number_of_executed_units|cov: " "$build/$harness.log" | tail -2 | sed 's/^/  /' || true
  echo "$status" >"$build/$harness.status"
}

# One harness per core at a time: each fuzzes on one thread, so it gets the
# same time (or runs) as it would alone. Reports are printed in list order.
cores="$(nproc)"
for harness in "${harnesses[@]}"; do
  while (($(jobs -rp | wc -l) >= cores)); do wait -n || true; done
  rm -f "$build/$harness.status"
  run_harness "$harness" >"$build/$harness.report" 2>&1 &
done
wait
status=0
for harness in "${harnesses[@]}"; do
  cat "$build/$harness.report"
  case "$(cat "$build/$harness.status" 2>/dev/null)" in
    0) ;;
    1) status=1 ;;
    *) echo "FAIL: $harness: the fuzz script itself stopped early (see $build/$harness.report)"; status=1 ;;
  esac
done
exit $status
