#!/usr/bin/env bash
# apd-report's galleries (docs/report.md), measured against the issue's targets:
#  1. the paper's Figure 2 setting: 500 training images of "1" at four epochs
#     of the paper's MLP (trained 100 epochs here, cached): how much the
#     galleries add to the page, and the time from a click on a node to its
#     gallery shown in headless Chromium;
#  2. one APD of all 60,000 MNIST training images: page size, generation time,
#     and the time to the first figure drawn in headless Chromium, beside a
#     page holding Plotly.js alone (the floor any page of ours pays).
# Prints figures; asserts nothing.
# Usage: scripts/bench-gallery.sh BIN_DIR SCRATCH   (called by scripts/bench.sh gallery)
set -euo pipefail
bin="$1"; scratch="$2"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source "$root/scripts/bench-models.sh"
run="$(paper_run)"
browser="$root/tests/browser"

seconds() { # COMMAND... -> wall seconds (output discarded)
  /usr/bin/time -f "%e" -o "$scratch/time" "$@" >/dev/null
  cat "$scratch/time"
}
chromium() { # PAGE REPEAT -> the JSON line of tests/browser/time_report.mjs
  node "$browser/time_report.mjs" "$1" "$2"
}

echo "== galleries on the paper's Figure 2 setting: 500 training images of \"1\", epochs 10, 50, 80, 100"
"$bin/apps/apd-extract" --run "$run" --epochs 10,50,80,100 --split train --labels 1 --limit 500 \
  --out "$scratch/paper-e{epoch}.json" --quiet
apds=("$scratch"/paper-e{10,50,80,100}.json)
with=$(seconds "$bin/apps/apd-report" --run "$run" --apd "${apds[@]}" --out "$scratch/paper.html" --quiet)
without=$(seconds "$bin/apps/apd-report" --run "$run" --apd "${apds[@]}" --no-images --out "$scratch/paper-no-images.html" --quiet)
/usr/bin/python3 - "$scratch/paper.html" "$scratch/paper-no-images.html" src/report/assets/gallery.js "$with" "$without" <<'PY'
import json, os, re, sys
page, no_images, script, with_s, without_s = sys.argv[1:]
text = open(page, encoding="utf-8").read()
data = json.loads(re.search(r'id="apd-data">(.*?)</script>', text, re.S).group(1))
dump = lambda v: len(json.dumps(v, separators=(",", ":")))
records = sum(dump(a["gallery"]) for a in data["apds"])
pictures = dump(data["datasets"])
code = os.path.getsize(script)
added = records + pictures + code
mb = lambda n: n / 1e6
print(f"  page {mb(os.path.getsize(page)):.2f} MB (generated in {with_s} s), --no-images {mb(os.path.getsize(no_images)):.2f} MB "
      f"({without_s} s)")
print(f"  the galleries add {mb(added):.3f} MB (target <= 1 MB): instance records {records / 1e3:.0f} kB, "
      f"{sum(len(d['png']) for d in data['datasets'] if d['png'])} pictures {pictures / 1e3:.0f} kB, gallery.js {code / 1e3:.0f} kB")
PY
chromium "$scratch/paper.html" 5 >"$scratch/paper-clicks.json"
/usr/bin/python3 - "$scratch/paper-clicks.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"  headless Chromium: {r['clicks']} clicks (largest and smallest drawn node of layer 1, 4 diagrams x 5): "
      f"gallery shown in median {r['clickMedian']:.0f} ms, max {r['clickMax']:.0f} ms (target <= 200 ms)")
print(f"  page drawn: cold {r['cold']['allFigures'] / 1000:.2f} s, warm {r['warm']['allFigures'] / 1000:.2f} s")
PY

echo "== one APD of all 60,000 MNIST training images (epoch 100)"
"$bin/apps/apd-extract" --checkpoint "$run/checkpoints/epoch-0100.pt" --data data/mnist --split train \
  --out "$scratch/all.json" --quiet
gen=$(seconds "$bin/apps/apd-report" --apd "$scratch/all.json" --out "$scratch/all.html" --quiet)
echo "  page $(/usr/bin/python3 -c "import os,sys; print(f'{os.path.getsize(sys.argv[1]) / 1e6:.2f}')" "$scratch/all.html") MB" \
     "(target <= 25 MB), generated in $gen s (target <= 5 s)"
/usr/bin/python3 - "$root/third_party/plotly/plotly.min.js" "$scratch/plotly-only.html" <<'PY'
import sys
plotly = open(sys.argv[1], encoding="utf-8").read()
open(sys.argv[2], "w", encoding="utf-8").write(
    "<!doctype html><html><head><script>" + plotly + "</script></head><body><div id=p></div><script>"
    "Plotly.newPlot('p', [{y: [1, 2, 3]}]).then(() => { document.body.dataset.rendered = 'true';"
    " document.body.dataset.galleries = 'ready'; });</script></body></html>")
PY
for k in 1 2 3; do
  chromium "$scratch/all.html" 1 >"$scratch/all-$k.json"
  chromium "$scratch/plotly-only.html" 0 >"$scratch/floor-$k.json"
done
/usr/bin/python3 - "$scratch" <<'PY'
import json, statistics, sys
d = sys.argv[1]
page = [json.load(open(f"{d}/all-{k}.json")) for k in (1, 2, 3)]
floor = [json.load(open(f"{d}/floor-{k}.json")) for k in (1, 2, 3)]
med = lambda rs, when, key: statistics.median(r[when][key] for r in rs) / 1000
for when in ("cold", "warm"):
    p, f = med(page, when, "firstFigure"), med(floor, when, "firstFigure")
    print(f"  headless Chromium, {when} ({'a fresh browser' if when == 'cold' else 'loaded again'}), median of 3: "
          f"first figure drawn {p:.2f} s (target <= 3 s); a page of Plotly.js alone {f:.2f} s, so ours {p - f:.2f} s")
clicks = [r["clickMedian"] for r in page]
print(f"  gallery of the largest layer-1 node ({page[0]['largestGallery']} instances): {statistics.median(clicks):.0f} ms")
PY
