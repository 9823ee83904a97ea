#!/usr/bin/env python3
"""Records river 0.26.1's LogisticRegression with the FTRLProximal optimizer, for the reference
test in ../reference.rs. Run from the repository root with river's virtualenv
(benchmarks/river/run.sh makes it):

    target/river-venv/bin/python operator/ftrl/tests/reference/river_reference.py

The model is `LogisticRegression(optimizer=FTRLProximal(alpha, beta, l1, l2), intercept_lr=0.0)`
(no intercept, as Flink ML's and eddy's FTRL), scored and learned row by row as river's
prequential evaluation does (predict_proba_one, then learn_one). For every row it records the
features, the label, the row's weight (learn_one's w) and river's probability of the second
class before learning the row; and the coefficients after the last row. Cases: river's Bananas
(all 5,300 rows), Phishing (all 1,250), Phishing with l1 and l2 set (river only assigns a
coefficient whose |z| exceeds l1), and Phishing with row weights 0.5, 1 and 2 in turn.
"""
import json
import os

import river
from river import datasets, linear_model, optim

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = {
    "bananas": (datasets.Bananas(), dict(alpha=0.1, beta=0.1, l1=0.0, l2=0.0), [1.0]),
    "phishing": (datasets.Phishing(), dict(alpha=0.1, beta=0.1, l1=0.0, l2=0.0), [1.0]),
    "phishing_l1_l2": (datasets.Phishing(), dict(alpha=0.5, beta=1.0, l1=0.2, l2=0.3), [1.0]),
    "phishing_weighted": (datasets.Phishing(), dict(alpha=0.1, beta=0.1, l1=0.0, l2=0.0), [0.5, 1.0, 2.0]),
}


def main():
    summary = {"river": river.__version__, "cases": {}}
    for name, (data, params, weights) in CASES.items():
        model = linear_model.LogisticRegression(optimizer=optim.FTRLProximal(**params), intercept_lr=0.0)
        rows = list(data)
        features = list(rows[0][0])
        lines = [",".join(features + ["label", "weight", "p"])]
        correct = 0
        for i, (x, y) in enumerate(rows):
            w = weights[i % len(weights)]
            p = model.predict_proba_one(x)[True]
            correct += int(model.predict_one(x) == bool(y))
            lines.append(",".join([repr(float(x[f])) for f in features] + [str(int(y)), repr(w), repr(p)]))
            model.learn_one(x, y, w)
        with open(os.path.join(HERE, f"{name}.csv"), "w") as f:
            f.write("\n".join(lines) + "\n")
        summary["cases"][name] = {
            "params": params,
            "features": features,
            "rows": len(rows),
            "accuracy": correct / len(rows),
            "weights": [repr(float(model.weights.get(f, 0.0))) for f in features],
        }
    with open(os.path.join(HERE, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
