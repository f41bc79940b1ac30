#!/usr/bin/env bash
# apd-report on a short run: writes the report (and one with merged nodes),
# opens both in headless Chromium (tests/browser/check_report.mjs), checks
# their galleries against the APD files and the dataset's pixels
# (check_gallery.mjs; also on RGB .npy data), leaves PNG screenshots in the
# build tree, and prepares the error-test files.
# Usage: report_test.sh APD_REPORT APD_EXTRACT APD_MONITOR RUN_DIR SCRATCH BROWSER_DIR SCREENSHOT_DIR
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
report="$1"; extract="$2"; monitor="$3"; run="$4"; dir="$5"; browser="$6"; shots="$7"
rm -rf "$dir"; mkdir -p "$dir" "$shots"
"$extract" --run "$run" --epochs 1,3 --labels 1 --limit 500 --out "$dir/apd-e{epoch}.json" --quiet
# Epoch 5 with the instances' distances: Figure 3's region panel, medians in the hovers.
"$extract" --run "$run" --epoch 5 --labels 1 --limit 500 --geometry --out "$dir/apd-e5.json" --quiet
data="$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["data"]["dataset"]["dir"])' "$run/run.json")"
# The monitor section: the run's own test split scored, with itself as "out of distribution".
"$monitor" build --run "$run" --layers 1,2 --out "$dir/monitor.json" --quiet
"$monitor" score --monitor "$dir/monitor.json" --ood "$data" --out "$dir/scores.json" --quiet >/dev/null
"$report" --run "$run" --apd "$dir/apd-e1.json" "$dir/apd-e3.json" "$dir/apd-e5.json" --monitor "$dir/scores.json" \
  --out "$dir/report.html"
"$report" --run "$run" --apd "$dir/apd-e1.json" "$dir/apd-e5.json" --max-nodes 4 --no-images --out "$dir/merged.html"
grep -q 'other (' "$dir/merged.html" || { echo "FAIL: --max-nodes 4 merged nothing"; exit 1; }
node "$browser/check_report.mjs" "$dir/report.html" "$shots/report.png"
node "$browser/check_report.mjs" "$dir/merged.html" "$shots/report-merged.png"
node "$browser/check_gallery.mjs" "$dir/report.html" "$shots/gallery.png" "$dir"/apd-e{1,3,5}.json
node "$browser/check_gallery.mjs" "$dir/merged.html" "$shots/gallery-merged.png" "$dir"/apd-e{1,5}.json --no-images
# Colour pictures: a small RGB conv net on float32 [N, 3, 6, 5] data in [0, 1].
/usr/bin/python3 "$(dirname "$0")/python/make_rgb_model.py" "$dir/rgb" 200
"$extract" --model "$dir/rgb/rgb.pt" --data "$dir/rgb/rgb_X.npy" --targets "$dir/rgb/rgb_y.npy" --out "$dir/rgb.json" \
  --quiet
"$report" --apd "$dir/rgb.json" --out "$dir/rgb.html" --quiet
node "$browser/check_gallery.mjs" "$dir/rgb.html" "$shots/gallery-rgb.png" "$dir/rgb.json"
# A series of files instead of a run: Figure 1 from them, Figures 2 and 3 at --figure-epochs.
mkdir -p "$dir/series"
"$extract" --run "$run" --epochs all --split train --labels 1 --limit 300 --out "$dir/series/e{epoch}.json" --quiet
"$report" --series "$dir"/series/e*.json --figure-epochs 2,5 --out "$dir/series.html" --quiet
grep -q 'Figure 1: training, from 5 APD files' "$dir/series.html" || fail "no Figure 1 from the series"
node "$browser/check_report.mjs" "$dir/series.html" "$shots/report-series.png"
node "$browser/check_gallery.mjs" "$dir/series.html" "$shots/gallery-series.png" "$dir"/series/e{2,5}.json
expect 2 "--figure-epochs: epoch 7 is not in the series \(epochs 1 to 5, 5 files\)" \
  "$report" --series "$dir"/series/e*.json --figure-epochs 7 --out "$dir/never.html"
expect 2 "--series: Figure 1 comes from --run or from --series, not both" \
  "$report" --run "$run" --series "$dir"/series/e*.json --out "$dir/never.html"
expect_absent "$dir/never.html"
# HTML in every string that reaches the page (metadata, node ids, file names, --title): shown as text.
payload='<!--<script>window.pwned=1</script><SCRIPT>window.pwned=2</SCRIPT></script --><img src=x onerror="window.pwned=3">'"'"'&amp;'
inject="$(dirname "$0")/python/inject_payloads.py"
for e in 1 5; do /usr/bin/python3 "$inject" apd "$dir/apd-e$e.json" "$dir/payload-e$e.json" "$payload"; done
/usr/bin/python3 "$inject" scores "$dir/scores.json" "$dir/payload-scores.json" "$payload"
"$report" --apd "$dir/payload-e1.json" "$dir/payload-e5.json" --monitor "$dir/payload-scores.json" --title "T$payload" \
  --no-images --out "$dir/payload.html"
node "$browser/check_report.mjs" "$dir/payload.html" "$shots/report-payload.png" "$payload"
# For the error tests: an APD of a bare checkpoint, one of another depth, a run without metrics.
cp "$dir/apd-e5.json" "$dir/other-run.json"
sed -i 's|"run":"[^"]*"|"run":"/elsewhere/other-run"|' "$dir/other-run.json"
mkdir -p "$dir/no-metrics" && cp "$run/run.json" "$dir/no-metrics/"
# The dataset moved (the APD names a directory that is gone), and a copy of it with one pixel changed.
sed 's|"dir":"[^"]*"|"dir":"/nonexistent/moved-data"|' "$dir/apd-e5.json" > "$dir/moved.json"
mkdir -p "$dir/changed-data" && cp "$data"/* "$dir/changed-data/"
images="$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["graph"]["dataset"]["images"])' \
  "$dir/apd-e5.json")"
printf '\377' | dd of="$dir/changed-data/$images" bs=1 seek=100 conv=notrunc status=none
# The shallow model reads the synthetic data the run was trained on (64 pixels): no MNIST needed.
/usr/bin/python3 "$(dirname "$0")/python/make_state_dicts.py" "$dir/state-dicts-64" 64
"$extract" --checkpoint "$dir/state-dicts-64/sequential.pt" --data "$data" --split test --limit 50 \
  --out "$dir/shallow.json" --quiet
echo "report ok: screenshots in $shots"
