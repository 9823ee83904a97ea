#!/usr/bin/env python3
"""ROC AUC of eddy's half-space-trees and of river 0.26.1's HalfSpaceTrees over five seeds, on
two labelled streams that river ships (no download), prequential (score, then learn):

- Shuttle (49,097 rows, 7% anomalies), `limits` each feature's range over the data;
- Phishing (1,250 rows), `is_phishing` taken as the "anomaly" label, features already in [0, 1].

Default parameters otherwise (10 trees of height 8, windows of 250). eddy runs the job through
its binary (EDDY_BIN, default target/release/eddy, else target/debug/eddy) and reports the
host's ROC AUC; river's is computed here by the same rank-sum formula. Prints one line per seed
and the mean and standard deviation over the seeds.

    target/river-venv/bin/python operator/half-space-trees/tests/reference/auc_over_seeds.py
"""

import csv
import json
import os
import statistics
import subprocess
import tempfile

from river import anomaly, datasets

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
EDDY = os.environ.get("EDDY_BIN") or next(
    p for p in (os.path.join(ROOT, "target", b, "eddy") for b in ("release", "debug")) if os.path.exists(p))
SEEDS = [0, 1, 2, 3, 4]


def roc_auc(scores, labels):
    s = sorted(zip(scores, labels))
    pos = sum(labels)
    neg = len(labels) - pos
    i = 0
    rank_sum = 0.0
    while i < len(s):
        j = i
        while j < len(s) and s[j][0] == s[i][0]:
            j += 1
        rank_sum += (i + 1 + j) / 2 * sum(y for _, y in s[i:j])
        i = j
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg)


def river_auc(rows, seed, limits):
    h = anomaly.HalfSpaceTrees(seed=seed, limits=limits)
    scores = []
    for x, _ in rows:
        scores.append(h.score_one(x))
        h.learn_one(x)
    return roc_auc(scores, [y for _, y in rows])


def eddy_auc(workdir, name, names, rows, seed, limits):
    # Columns c0.. in river's (sorted name) order, so that both grow the same trees.
    order = sorted(names)
    path = os.path.join(workdir, f"{name}.csv")
    replay = os.path.join(workdir, f"{name}.replay")
    if not os.path.exists(replay):
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow([f"c{i}" for i in range(len(order))] + ["label"])
            for x, y in rows:
                w.writerow([float(x[n]) for n in order] + [int(y)])
        subprocess.run([EDDY, "topic", "import", "--csv", path, "--topic", name, "--out", replay], check=True,
                       stderr=subprocess.DEVNULL)
    config = {"featuresCol": [f"c{i}" for i in range(len(order))], "labelCol": "label", "seed": seed}
    if limits:
        config["limits"] = [list(limits[n]) for n in order]
    job = os.path.join(workdir, f"{name}-{seed}.toml")
    with open(job, "w") as f:
        f.write(f'[source]\nreplay = "{replay}"\n[operator]\ncomponent = "half-space-trees"\n[operator.config]\n')
        f.writelines(f"{k} = {json.dumps(v)}\n" for k, v in config.items())
        f.write("[run]\nbatch_size = 1024\n")
    out = subprocess.run([EDDY, "run", job, "--json", "-q"], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)["metrics"]["roc_auc"]


def main():
    workdir = tempfile.mkdtemp(prefix="eddy-hst-")
    shuttle = [(dict(x), int(y)) for x, y in datasets.Shuttle()]
    names = list(shuttle[0][0])
    limits = {n: (float(min(x[n] for x, _ in shuttle)), float(max(x[n] for x, _ in shuttle))) for n in names}
    phishing = [(dict(x), int(y)) for x, y in datasets.Phishing()]
    streams = [("shuttle", shuttle, limits), ("phishing", phishing, None)]
    print(f"eddy {EDDY}, river 0.26.1; ROC AUC, prequential; workdir {workdir}\n")
    print("| stream | seed | river | eddy | eddy - river |")
    print("|---|---|---|---|---|")
    for name, rows, lim in streams:
        r_all, e_all = [], []
        for seed in SEEDS:
            r = river_auc(rows, seed, lim)
            e = eddy_auc(workdir, name, list(rows[0][0]), rows, seed, lim)
            r_all.append(r)
            e_all.append(e)
            print(f"| {name} ({len(rows)}) | {seed} | {r:.6f} | {e:.6f} | {e - r:+.2e} |", flush=True)
        print(f"| {name} | mean (sd) | {statistics.mean(r_all):.4f} ({statistics.stdev(r_all):.4f}) "
              f"| {statistics.mean(e_all):.4f} ({statistics.stdev(e_all):.4f}) "
              f"| max abs {max(abs(e - r) for e, r in zip(e_all, r_all)):.2e} |", flush=True)


if __name__ == "__main__":
    main()
