"""The run path stays the reference: a run's own records (apd-stats --run R
--table epochs / forgetting, JSON) against the same tables computed from the
APDs of its training split at every epoch (apd-stats FILES ...). Unique
patterns, churn and flow ARI per epoch must be equal (the same numbers, not
close ones), and so must every forgetting row.

  compare_series_run.py RUN_EPOCHS SERIES_EPOCHS RUN_FORGETTING SERIES_FORGETTING
"""
import json
import sys

run_epochs, series_epochs, run_forgetting, series_forgetting = (json.load(open(p)) for p in sys.argv[1:5])
bad = []
run_rows, series_rows = run_epochs["epochs"], series_epochs["epochs"]
if [r["epoch"] for r in run_rows] != [r["epoch"] for r in series_rows]:
    bad.append(f"epochs {[r['epoch'] for r in series_rows]}, the run has {[r['epoch'] for r in run_rows]}")
for r, s in zip(run_rows, series_rows):
    for key in r:
        if key.startswith(("unique_l", "churn_l")) or key == "flow_ari":
            if r[key] != s.get(key):
                bad.append(f"epoch {r['epoch']}: {key} = {s.get(key)!r} from the files, {r[key]!r} in the run")
for table in ("forgetting_summary", "forgetting_histogram", "forgetting"):
    key = (lambda row: row["index"]) if table == "forgetting" else (lambda row: json.dumps(row, sort_keys=True))
    want, got = sorted(run_forgetting[table], key=key), sorted(series_forgetting[table], key=key)
    if want != got:
        diff = next((f"{w} vs {g}" for w, g in zip(want, got) if w != g), f"{len(got)} rows vs {len(want)}")
        bad.append(f"{table}: differs from the run's: {diff}")
if bad:
    print("FAIL:\n  " + "\n  ".join(bad[:10]))
    sys.exit(1)
print(f"ok: {len(run_rows)} epochs and {len(run_forgetting['forgetting'])} instances: the files give the run's numbers")
