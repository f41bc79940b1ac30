#!/usr/bin/env bash
# apd-extract on a short apd-train run: the paper's Figure-2 command as
# written, determinism, selections, stdout, GraphML and --no-instances.
# Usage: extract_test.sh APD_EXTRACT RUN_DIR SCRATCH
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
extract="$1"; run="$2"; dir="$3"
rm -rf "$dir"; mkdir -p "$dir"; cd "$dir"
py=/usr/bin/python3

# The Figure-2 input, as written (epochs of the short run).
"$extract" --run "$run" --epochs 1,3,5 --split train --labels 1 --limit 500 --out apd-e{epoch}.json --quiet
for e in 1 3 5; do [[ -f apd-e$e.json ]] || { echo "FAIL: apd-e$e.json missing"; exit 1; }; done
$py - <<'PY'
import json
files = [json.load(open(f"apd-e{e}.json")) for e in (1, 3, 5)]
for e, d in zip((1, 3, 5), files):
    g = d["graph"]
    assert g["epoch"] == e and g["instances"] == 500 and g["selection"]["labels"] == [1], g
    assert all(i["label"] == 1 for i in d["instances"])
    assert g["checkpoint"].endswith(f"epoch-{e:04d}.pt")
# The same 500 instances at every epoch, the first 500 training images of label 1.
idx = [[i["index"] for i in d["instances"]] for d in files]
assert idx[0] == idx[1] == idx[2] and idx[0] == sorted(idx[0])
print("figure-2 command: 3 files, the same 500 instances of label 1: ok")
PY

# Determinism: the same command twice gives identical bytes.
"$extract" --run "$run" --epoch 3 --labels 1,2 --out a.json --quiet
"$extract" --run "$run" --epoch 3 --labels 1,2 --out b.json --quiet
cmp a.json b.json || { echo "FAIL: two extractions differ"; exit 1; }
echo "determinism: identical bytes: ok"

# --select random: the same seed picks the same instances at every epoch.
"$extract" --run "$run" --epochs 1,5 --select random --seed 9 --limit 50 --out r{epoch}.json --quiet
$py -c "
import json
a, b = (json.load(open(f)) for f in ('r1.json', 'r5.json'))
ia, ib = [i['index'] for i in a['instances']], [i['index'] for i in b['instances']]
assert ia == ib and len(ia) == 50 and ia != list(range(50)), ia[:5]
print('random selection: the same 50 instances at both epochs: ok')"

# best / last, stdout, GraphML, --no-instances.
"$extract" --run "$run" --epoch best --out best.json --quiet
"$extract" --run "$run" --epoch last --split val --out - --quiet > last.json
"$extract" --run "$run" --split test --format graphml --out t.graphml --quiet
"$extract" --run "$run" --no-instances --out lean.json --quiet
$py -c "
import json, networkx as nx
assert json.load(open('best.json'))['graph']['epoch'] == json.load(open('$run/summary.json'))['best_epoch']
last = json.load(open('last.json')); assert last['graph']['epoch'] == 5 and last['graph']['selection']['split'] == 'val'
g = nx.read_graphml('t.graphml'); assert g.number_of_nodes() > 0 and all('count' in a for _, a in g.nodes(data=True))
assert 'instances' not in json.load(open('lean.json'))
print('best, last to stdout, graphml (networkx reads it), --no-instances: ok')"

# --limit beyond the selection: all of it, with a warning.
"$extract" --run "$run" --split val --labels 2 --limit 100000 --out big.json 2> warn.txt
grep -q "warning: --limit 100000: the selection holds only" warn.txt || { echo "FAIL: no --limit warning"; cat warn.txt; exit 1; }
echo "limit warning: ok"
[[ -z "$(find . -name '*.tmp')" ]] || { echo "FAIL: temporary files left"; exit 1; }
cd / && rm -rf "$dir"
