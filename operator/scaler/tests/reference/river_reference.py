#!/usr/bin/env python3
"""Records river 0.26.1's preprocessing.StandardScaler, for the reference test in
../reference.rs. Run from the repository root with river's virtualenv (benchmarks/river/run.sh
makes it):

    target/river-venv/bin/python operator/scaler/tests/reference/river_reference.py

For every row, in stream order, it records the row as river's scaler transforms it before
learning it (transform_one, as a pipeline's predict_one scores it: eddy's output column) and
after (learn_one, then transform_one, as a pipeline's learn_one hands it to the next step:
eddy's output@learned column).

Datasets: the first 500 rows of river's TrumpApproval (ordinal dates around 736,400 next to
approval percentages: large-magnitude features), with with_std=True and, for the first 200
rows, with_std=False; the first 200 rows of river's Phishing (features in {0, 0.5, 1}: some stay
constant for a while, so their variance is exactly 0 and river scales them to 0).

Writes, next to this script, <case>.csv: the features (exactly as river read them, Python's
repr), then river's scaled row before learning it and after, to 12 significant digits (the
test's tolerance is 1e-9 relative), and summary.json (per case: features, rows, with_std, and
river's running means and variances after the last row, exactly: Python's repr, as text).
"""

import csv
import json
import os
import sys

import river
from river import datasets, preprocessing

HERE = os.path.dirname(os.path.abspath(__file__))


def rows_of(dataset, n):
    rows = []
    for _, (x, _) in zip(range(n), dataset):
        rows.append({k: float(v) for k, v in x.items()})
    return list(rows[0].keys()), rows


def num(v):
    """12 significant digits, trailing zeros dropped."""
    return f"{v:.12g}"


def main():
    assert river.__version__ == "0.26.1", river.__version__
    trump = rows_of(datasets.TrumpApproval(), 500)
    phishing = rows_of(datasets.Phishing(), 200)
    cases = {
        "trump": (trump, 500, True),
        "trump_without_std": ((trump[0], trump[1][:200]), 200, False),
        "phishing": (phishing, 200, True),
    }
    summary = {"river": river.__version__, "python": sys.version.split()[0], "cases": {}}
    for case, ((features, rows), n, with_std) in cases.items():
        assert len(rows) == n
        scaler = preprocessing.StandardScaler(with_std=with_std)
        with open(os.path.join(HERE, f"{case}.csv"), "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(features + [f"scored_{k}" for k in features] + [f"learned_{k}" for k in features])
            for x in rows:
                scored = scaler.transform_one(x)
                scaler.learn_one(x)
                learned = scaler.transform_one(x)
                w.writerow([repr(x[k]) for k in features] + [num(scored[k]) for k in features] + [num(learned[k]) for k in features])
        summary["cases"][case] = {
            "features": features,
            "rows": n,
            "with_std": with_std,
            "mean": [repr(scaler.means[k]) for k in features],
            "var": [repr(scaler.vars[k]) for k in features] if with_std else None,
        }
    with open(os.path.join(HERE, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    print(json.dumps({c: {k: v for k, v in s.items() if k in ("rows", "with_std")} for c, s in summary["cases"].items()}))


if __name__ == "__main__":
    main()
