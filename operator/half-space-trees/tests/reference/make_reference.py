#!/usr/bin/env python3
"""Writes the reference streams and river 0.26.1's HalfSpaceTrees scores that tests/native.rs
compares eddy's scores with, bit for bit.

Run from the repository root with the benchmark virtualenv (benchmarks/river/run.sh makes it):

    target/river-venv/bin/python operator/half-space-trees/tests/reference/make_reference.py

Each case is prequential as eddy runs it: every row is scored (`score_one`) before it is learned
(`learn_one`). river grows its trees over the features in sorted name order; the eddy configs
list the feature columns in that same order, so both draw the same trees from
`random.Random(seed)`. Scores are written with `repr`, which round-trips every double exactly.

- `shuttle.csv`: the first 2,000 rows of river's `datasets.Shuttle` (shipped inside the river
  package, no download: NASA shuttle sensor readings, ODDS anomaly version, 1 = anomaly),
  default parameters (10 trees of height 8, windows of 250) with seed 42 and `limits` the
  range of each feature over the whole data set.
- `planted.csv`: a seeded stream of 600 rows of three features, normal rows around (0.3, 0.6,
  0.5) with a spread of 0.08, and one row in 20 an anomaly drawn uniformly from [-0.2, 1.3]^3
  (so some values fall outside the default [0, 1] limits); 4 trees of height 5, windows of 40,
  seed 2^40 + 5 (a two-word Mersenne Twister key).
- `tiny.csv`: 12 rows of one feature, 2 trees of height 2, windows of 3, seed -7 (Python seeds
  with its absolute value).

`cases.json` holds, for each case, the file and the eddy config.
"""

import csv
import json
import os
import random

from river import anomaly, datasets

HERE = os.path.dirname(os.path.abspath(__file__))


def run_river(rows, names, n_trees, height, window_size, seed, limits=None):
    hst = anomaly.HalfSpaceTrees(n_trees=n_trees, height=height, window_size=window_size, seed=seed,
                                 limits=limits)
    scores = []
    for x, _ in rows:
        scores.append(hst.score_one(x))
        hst.learn_one(x)
    return scores


def write(name, names, rows, scores):
    with open(os.path.join(HERE, f"{name}.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(names + ["anomaly", "score"])
        for (x, y), s in zip(rows, scores):
            w.writerow([repr(float(x[n])) for n in names] + [int(y), repr(float(s))])


def main():
    cases = {}

    # Shuttle: features f1..f9 (sorted order is numeric order), label `anomaly`.
    everything = [(dict(x), int(y)) for x, y in datasets.Shuttle()]
    names = [f"f{i}" for i in range(1, 10)]
    limits = {n: (float(min(x[n] for x, _ in everything)), float(max(x[n] for x, _ in everything))) for n in names}
    rows = [({n: float(x[n]) for n in names}, y) for x, y in everything[:2000]]
    scores = run_river(rows, names, 10, 8, 250, 42, limits)
    write("shuttle", names, rows, scores)
    cases["shuttle"] = {"file": "shuttle.csv", "config": {
        "featuresCol": names, "labelCol": "anomaly", "nTrees": 10, "height": 8, "windowSize": 250, "seed": 42,
        "limits": {n: list(limits[n]) for n in names}}}

    # Planted anomalies in [0, 1]^3, some values outside.
    g = random.Random(2024)
    names = ["a", "b", "c"]
    rows = []
    for i in range(600):
        if i % 20 == 19:
            rows.append(({n: g.uniform(-0.2, 1.3) for n in names}, 1))
        else:
            rows.append(({n: c + g.gauss(0.0, 0.08) for n, c in zip(names, (0.3, 0.6, 0.5))}, 0))
    seed = 2**40 + 5
    write("planted", names, rows, run_river(rows, names, 4, 5, 40, seed))
    cases["planted"] = {"file": "planted.csv", "config": {
        "featuresCol": names, "labelCol": "anomaly", "nTrees": 4, "height": 5, "windowSize": 40, "seed": seed}}

    # A tiny stream to follow by hand.
    names = ["x"]
    xs = [0.5, 0.45, 0.43, 0.44, 0.445, 0.45, 0.0, 0.5, 0.46, 0.9, 0.44, 0.47]
    rows = [({"x": v}, int(v in (0.0, 0.9))) for v in xs]
    write("tiny", names, rows, run_river(rows, names, 2, 2, 3, -7))
    cases["tiny"] = {"file": "tiny.csv", "config": {
        "featuresCol": names, "labelCol": "anomaly", "nTrees": 2, "height": 2, "windowSize": 3, "seed": -7}}

    with open(os.path.join(HERE, "cases.json"), "w") as f:
        json.dump(cases, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
