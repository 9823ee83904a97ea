#!/usr/bin/env python3
"""Records river 0.26.1's HoeffdingTreeClassifier on the first rows of bananas.csv and
phishing.csv, prequentially (predict_one, then learn_one), for the reference test in
../reference.rs. Run from the repository root with river's virtualenv:

    target/river-venv/bin/python operator/hoeffding-tree/tests/reference/river_reference.py

Writes, next to this script, <dataset>.csv (the input rows verbatim, then river's prediction
under each configuration and its probability of class 1 under two of them) and
summary.json (each configuration's parameters, in eddy's names, and river's accuracy).
"""

import csv
import json
import os
import sys

import river
from river import tree

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.environ.get("EDDY_SHARED_DATA", "/work/shared/data")
ROWS = {"bananas": 2000, "phishing": 1250}

# name -> (eddy parameters, river keyword arguments). The defaults do not split on the first
# 2,000 bananas rows; the others split several times on both datasets and cover every
# criterion, every leaf prediction, removePoorAttrs and maxDepth.
CONFIGS = {
    "default": ({}, {}),
    "fast": ({"gracePeriod": 50, "delta": 1e-3, "tau": 0.1},
             {"grace_period": 50, "delta": 1e-3, "tau": 0.1}),
    "gini_mc": ({"gracePeriod": 100, "delta": 0.01, "splitCriterion": "gini", "leafPrediction": "mc"},
                {"grace_period": 100, "delta": 0.01, "split_criterion": "gini", "leaf_prediction": "mc"}),
    "hellinger_nb": ({"gracePeriod": 50, "delta": 1e-3, "splitCriterion": "hellinger", "leafPrediction": "nb", "nbThreshold": 20},
                     {"grace_period": 50, "delta": 1e-3, "split_criterion": "hellinger", "leaf_prediction": "nb", "nb_threshold": 20}),
    "mc_poor_depth": ({"gracePeriod": 50, "delta": 1e-3, "tau": 0.1, "leafPrediction": "mc", "removePoorAttrs": True, "maxDepth": 3},
                      {"grace_period": 50, "delta": 1e-3, "tau": 0.1, "leaf_prediction": "mc", "remove_poor_attrs": True, "max_depth": 3}),
}
# Configurations whose probability of class 1 is recorded too.
PROBA = ["default", "fast"]


def main():
    assert river.__version__ == "0.26.1", river.__version__
    summary = {"river": river.__version__, "python": sys.version.split()[0], "datasets": {}}
    for name, n in ROWS.items():
        with open(os.path.join(DATA, f"{name}.csv")) as f:
            reader = csv.reader(f)
            header = next(reader)
            raw = [r for _, r in zip(range(n), reader)]
        features, label = header[:-1], header[-1]
        rows = [({k: float(v) for k, v in zip(features, r[:-1])}, int(float(r[-1]))) for r in raw]
        preds = {}
        p1 = {c: [] for c in PROBA}
        entry = {"features": features, "label": label, "rows": len(rows), "configs": {}}
        for cname, (eddy_params, river_kwargs) in CONFIGS.items():
            model = tree.HoeffdingTreeClassifier(**river_kwargs)
            out = []
            correct = 0
            for x, y in rows:
                proba = model.predict_proba_one(x)
                p = model.predict_one(x)
                correct += int(p == y)
                out.append("" if p is None else str(p))
                if cname in PROBA:
                    p1[cname].append(f"{proba.get(1, 0.0):.9f}")
                model.learn_one(x, y)
            preds[cname] = out
            entry["configs"][cname] = {
                "params": eddy_params,
                "accuracy": correct / len(rows),
                "splits": model.n_branches or 0,
                "leaves": model.n_leaves,
            }
        summary["datasets"][name] = entry
        with open(os.path.join(HERE, f"{name}.csv"), "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(header + [f"river_{c}" for c in CONFIGS] + [f"river_p1_{c}" for c in PROBA])
            for i, r in enumerate(raw):
                w.writerow(r + [preds[c][i] for c in CONFIGS] + [p1[c][i] for c in PROBA])
    with open(os.path.join(HERE, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
