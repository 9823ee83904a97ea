"""Compares eddy's embeddings operator (its prequential ranks, read from the predictions of an
`eddy run`) with most-popular and plain BPR-SGD on the same streams, and writes a Markdown
table. Run by benchmarks/embeddings/run.sh, which generates the streams and runs eddy.

    compare.py --tune STREAM --stream NAME STREAM PREDICTIONS [--stream ...] --drift-at N
"""

import argparse
import json
import sys
import time

import numpy as np
import pyarrow.ipc as ipc

from baselines import bpr_hits, popularity_hits, read_stream, windows

LRS = [0.01, 0.02, 0.03, 0.05, 0.07, 0.1, 0.2]


def eddy_hits(predictions):
    with ipc.open_file(predictions) as f:
        values = f.read_all().column("value").to_pylist()
    out = np.zeros(len(values), dtype=np.int8)
    for n, v in enumerate(values):
        r = json.loads(v).get("rank")
        out[n] = r is not None and 1 <= r <= 10
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tune", required=True, help="stream to tune BPR's learning rate on (another seed)")
    ap.add_argument("--stream", nargs=3, action="append", metavar=("NAME", "JSONL", "PREDICTIONS"), required=True)
    ap.add_argument("--drift-at", type=int, required=True)
    a = ap.parse_args()

    users, items = read_stream(a.tune)
    tuned = []
    for lr in LRS:
        t = time.time()
        w = windows(bpr_hits(users, items, lr), a.drift_at)
        tuned.append((w["whole"], lr))
        print(f"  BPR tuning on {a.tune}: lr {lr}: HR@10 {w['whole']:.3f} ({time.time() - t:.0f} s)", file=sys.stderr)
    lr = max(tuned)[1]
    print(f"  BPR learning rate: {lr} (best whole-stream HR@10 on the tuning stream)", file=sys.stderr)

    rows = []
    for name, jsonl, preds in a.stream:
        users, items = read_stream(jsonl)
        e = windows(eddy_hits(preds), a.drift_at)
        p = windows(popularity_hits(items), a.drift_at)
        b = windows(bpr_hits(users, items, lr), a.drift_at)
        rows.append((name, e, b, p))
    print(f"| stream | window | eddy (defaults) | plain BPR-SGD (lr {lr}) | most popular | eddy / BPR | eddy / popular |")
    print("|---|---|---|---|---|---|---|")
    ok = True
    for name, e, b, p in rows:
        for k, label in [("whole", "whole stream"), ("before", "before the drift"), ("after", "10,000 after the drift"), ("end", "last 10,000")]:
            print(f"| {name} | {label} | {e[k]:.3f} | {b[k]:.3f} | {p[k]:.3f} | {e[k] / b[k]:.2f} | {e[k] / p[k]:.2f} |")
        ok &= e["whole"] >= b["whole"] and e["after"] >= b["after"] and e["whole"] >= 1.5 * p["whole"]
    print(f"\ndone-when (eddy >= BPR on the whole stream and the 10,000 after the drift, >= 1.5x most popular): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
