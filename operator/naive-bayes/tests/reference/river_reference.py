#!/usr/bin/env python3
"""Records river 0.26.1's naive_bayes.GaussianNB, prequentially (predict_proba_one and
predict_one, then learn_one), for the reference test in ../reference.rs. Run from the
repository root with river's virtualenv (benchmarks/river/run.sh makes it):

    target/river-venv/bin/python operator/naive-bayes/tests/reference/river_reference.py

Datasets: all 1,250 rows of phishing.csv (the shared copy of river's own file; features in
{0, 0.5, 1}, so variances are often exactly zero), the first 400 rows of river's ImageSegments
(7 classes, numbered by sorted name, as benchmarks/river/compare.py does; values to 7
significant digits) and 1,500 rows of the Agrawal stream with a concept drift at row 750 (as
compare.py's agrawal-drift, drifting earlier; values rounded to cents). The rounding keeps the
files small; river learns from the rows as written here.

Writes, next to this script, <dataset>.csv (the features and the label, then river's prediction,
empty before any class is known, and river's probability of every class learned so far, in
ascending class order, separated by spaces, to 11 decimal places) and summary.json (features,
rows, river's accuracy).
"""

import csv
import json
import os
import sys

import river
from river import datasets, naive_bayes

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.environ.get("EDDY_SHARED_DATA", "/work/shared/data")


def shared(name, n):
    with open(os.path.join(DATA, f"{name}.csv")) as f:
        reader = csv.reader(f)
        header = next(reader)
        raw = [r for _, r in zip(range(n), reader)]
    return header[:-1], header[-1], raw


def generated(stream, n, label_map, rounding):
    raw = []
    names = None
    for _, (x, y) in zip(range(n), stream):
        names = names or list(x.keys())
        raw.append([repr(rounding(float(x[k]))) for k in names] + [str(label_map(y))])
    return [str(k) for k in names], "label", raw


def proba_text(p):
    """To 11 decimal places, trailing zeros dropped (the test's tolerance is 1e-9)."""
    t = f"{p:.11f}".rstrip("0").rstrip(".")
    return t if t else "0"


def main():
    assert river.__version__ == "0.26.1", river.__version__
    segment_classes = sorted({y for _, y in datasets.ImageSegments()})
    synth = datasets.synth
    agrawal = synth.ConceptDriftStream(
        stream=synth.Agrawal(classification_function=0, seed=42),
        drift_stream=synth.Agrawal(classification_function=2, seed=43),
        position=750, width=100, seed=7)
    sources = {
        "phishing": shared("phishing", 1250),
        "segment": generated(datasets.ImageSegments(), 400, segment_classes.index, lambda v: float(f"{v:.7g}")),
        "agrawal": generated(agrawal, 1500, int, lambda v: round(v, 2)),
    }
    summary = {"river": river.__version__, "python": sys.version.split()[0], "datasets": {}}
    for name, (features, label, raw) in sources.items():
        model = naive_bayes.GaussianNB()
        preds, probas = [], []
        correct = 0
        for r in raw:
            x = {k: float(v) for k, v in zip(features, r[:-1])}
            y = int(float(r[-1]))
            proba = model.predict_proba_one(x)
            p = model.predict_one(x)
            correct += int(p == y)
            preds.append("" if p is None else str(p))
            probas.append(" ".join(proba_text(proba[c]) for c in sorted(proba)))
            model.learn_one(x, y)
        summary["datasets"][name] = {"features": features, "label": label, "rows": len(raw), "accuracy": correct / len(raw)}
        with open(os.path.join(HERE, f"{name}.csv"), "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(features + [label, "river_prediction", "river_proba"])
            for r, p, q in zip(raw, preds, probas):
                w.writerow(r + [p, q])
    with open(os.path.join(HERE, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
