"""Prequential baselines for the embeddings benchmark, on a JSON-lines interaction stream
(`{"user": "u17", "item": 42, "ts": ...}`, as operator/embeddings-gen writes it):

* most popular so far: rank the known items by how often they occurred so far (ties by id
  text, as eddy breaks them), score the event's item, then count it;
* plain BPR-SGD in numpy: dim 32, vectors drawn N(0, 0.1) at an id's first sighting, 8 negatives
  drawn uniformly from the items seen so far, one SGD step per event with the gradients of the
  8 pairs taken at the vectors before the step (summed), L2 regularisation `reg`.

Both rank the true item among the items seen so far before learning from the event (an item or
user never seen before is a miss), as eddy does. `hits(...)` returns one 0/1 per event.
"""

import json

import numpy as np


def read_stream(path):
    users, items = [], []
    with open(path) as f:
        for line in f:
            e = json.loads(line)
            users.append(json.dumps(e["user"], separators=(",", ":")))
            items.append(json.dumps(e["item"], separators=(",", ":")))
    return users, items


def index(ids):
    table, out = {}, np.empty(len(ids), dtype=np.int64)
    for n, i in enumerate(ids):
        out[n] = table.setdefault(i, len(table))
    names = [None] * len(table)
    for k, v in table.items():
        names[v] = k
    return out, names


def popularity_hits(items):
    it, names = index(items)
    # Ties broken by id text, smaller first: the position of each id in text order.
    text_rank = np.empty(len(names), dtype=np.int64)
    text_rank[np.argsort(np.array(names, dtype=object), kind="stable")] = np.arange(len(names))
    counts = np.zeros(len(names), dtype=np.int64)
    seen = np.zeros(len(names), dtype=bool)
    out = np.zeros(len(items), dtype=np.int8)
    for n, i in enumerate(it):
        if seen[i]:
            c = counts[i]
            better = np.count_nonzero(seen & ((counts > c) | ((counts == c) & (text_rank < text_rank[i]))))
            out[n] = better < 10
        seen[i] = True
        counts[i] += 1
    return out


def bpr_hits(users, items, lr, dim=32, negatives=8, reg=1e-3, init_std=0.1, seed=0):
    ut, unames = index(users)
    it, inames = index(items)
    rng = np.random.default_rng(seed)
    P = np.zeros((len(unames), dim), dtype=np.float32)
    Q = np.zeros((len(inames), dim), dtype=np.float32)
    user_seen = np.zeros(len(unames), dtype=bool)
    slot = np.full(len(inames), -1, dtype=np.int64)  # position of an item in `known`
    known = np.zeros(len(inames), dtype=np.int64)
    nk = 0
    out = np.zeros(len(items), dtype=np.int8)
    for n in range(len(items)):
        u, i = ut[n], it[n]
        if user_seen[u] and slot[i] >= 0:
            s = Q[known[:nk]] @ P[u]
            out[n] = np.count_nonzero(s > s[slot[i]]) < 10
        if not user_seen[u]:
            P[u] = rng.normal(0.0, init_std, dim)
            user_seen[u] = True
        if slot[i] < 0:
            Q[i] = rng.normal(0.0, init_std, dim)
            slot[i] = nk
            known[nk] = i
            nk += 1
        j = known[rng.integers(0, nk, negatives)]
        j = j[j != i]
        if len(j) == 0:
            continue
        pu, qi, qj = P[u].copy(), Q[i].copy(), Q[j]
        x = (qi - qj) @ pu
        g = 1.0 / (1.0 + np.exp(x))  # sigmoid(-x): the gradient scale of -ln sigmoid(x)
        P[u] += lr * ((g[:, None] * (qi - qj)).sum(0) - reg * pu)
        Q[i] += lr * (g.sum() * pu - reg * qi)
        np.add.at(Q, j, lr * (-g[:, None] * pu - reg * qj))
    return out


def windows(h, drift_at):
    """HR@10 over the whole stream, before the drift, the 10,000 events after it, the last 10,000."""
    n = len(h)
    return {
        "whole": float(np.mean(h)),
        "before": float(np.mean(h[:drift_at])),
        "after": float(np.mean(h[drift_at : drift_at + 10_000])),
        "end": float(np.mean(h[n - 10_000 :])),
    }
