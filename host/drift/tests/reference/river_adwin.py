"""Reference detections of river 0.26.1's `river.drift.ADWIN` for eddy-drift's tests.

Run from the repository root (it rewrites the two JSON files next to this script):

    target/river-venv/bin/python host/drift/tests/reference/river_adwin.py

streams.json holds the inputs, so the Rust tests read exactly what river read:
  - a Bernoulli stream is {"kind": "bits", "rows": n, "hex": "..."}: row 4*i+j is bit (3-j)
    of hex digit i (most significant bit first), the last digit padded with zeros;
  - a real-valued stream is {"kind": "values", "values": [...]} (each value rounded to
    6 decimals, so the decimal text is the exact input on both sides).
river_adwin.json holds, for every (stream, config) run: the rows at which `drift_detected`
was true after `update`, the window width right after each of them, and the final state.
Floats are written with repr, which round-trips exactly.
"""

from __future__ import annotations

import json
import pathlib
import random
import sys

import river
from river import drift

HERE = pathlib.Path(__file__).resolve().parent
N = 100_000


def bernoulli(seed: int, p_of_row) -> list[int]:
    rng = random.Random(seed)
    return [1 if rng.random() < p_of_row(i) else 0 for i in range(N)]


def ramp(i: int) -> float:
    """Error rate 0.2 until row 40,000, rising linearly to 0.4 at row 60,000, then 0.4."""
    if i < 40_000:
        return 0.2
    if i >= 60_000:
        return 0.4
    return 0.2 + 0.2 * (i - 40_000) / 20_000


def gaussian(seed: int, n: int, shift_at: int) -> list[float]:
    """N(0, 1) until `shift_at`, then N(0.5, 1); rounded to 6 decimals."""
    rng = random.Random(seed)
    return [round(rng.gauss(0.0 if i < shift_at else 0.5, 1.0), 6) for i in range(n)]


def to_hex(bits: list[int]) -> str:
    padded = bits + [0] * (-len(bits) % 4)
    return "".join(
        "%x" % (padded[i] << 3 | padded[i + 1] << 2 | padded[i + 2] << 1 | padded[i + 3]) for i in range(0, len(padded), 4)
    )


STREAMS = {
    # An abrupt shift of the error rate from 0.2 to 0.4 at row 50,000 of 100,000.
    "abrupt": bernoulli(1, lambda i: 0.2 if i < 50_000 else 0.4),
    # A gradual drift: 0.2 to 0.4 over rows 40,000 to 60,000.
    "gradual": bernoulli(2, ramp),
    # No drift: a constant error rate of 0.25 for 100,000 rows.
    "stable": bernoulli(3, lambda i: 0.25),
    # Real values: a mean shift of half a standard deviation at row 10,000 of 20,000.
    "gaussian": gaussian(4, 20_000, 10_000),
}

DEFAULT = dict(delta=0.002, clock=32, max_buckets=5, min_window_length=5, grace_period=10)
# Every row checked, a loose delta and the smallest bucket rows eddy accepts: many cuts, many
# compressions, several buckets dropped in one update.
EAGER = dict(delta=0.05, clock=1, max_buckets=2, min_window_length=2, grace_period=5)

RUNS = [(s, "default", DEFAULT) for s in STREAMS] + [("abrupt", "eager", EAGER), ("gaussian", "eager", EAGER)]


def run(values, config) -> dict:
    adwin = drift.ADWIN(**config)
    detections, widths = [], []
    for i, x in enumerate(values):
        adwin.update(float(x))
        if adwin.drift_detected:
            detections.append(i)
            widths.append(int(adwin.width))
    return {
        "detections": detections,
        "widths_at_detection": widths,
        "final": {
            "width": int(adwin.width),
            "total": adwin.total,
            "estimation": adwin.estimation,
            # river's `variance` is the sum of squared deviations in the window.
            "variance_sum": adwin.variance,
            "variance_in_window": adwin._helper.variance_in_window,
        },
    }


def main() -> None:
    if river.__version__ != "0.26.1":
        sys.exit(f"expected river 0.26.1, found {river.__version__}")
    streams = {}
    for name, values in STREAMS.items():
        if isinstance(values[0], int):
            streams[name] = {"kind": "bits", "rows": len(values), "hex": to_hex(values)}
        else:
            streams[name] = {"kind": "values", "values": values}
    runs = []
    for stream, config_name, config in RUNS:
        out = run(STREAMS[stream], config)
        runs.append({"stream": stream, "config_name": config_name, "config": config, **out})
        print(f"{stream:9} {config_name:8} detections {out['detections'][:12]}{' ...' if len(out['detections']) > 12 else ''}")
    (HERE / "streams.json").write_text(json.dumps(streams, separators=(",", ":")) + "\n")
    (HERE / "river_adwin.json").write_text(json.dumps({"river": river.__version__, "runs": runs}, indent=1) + "\n")


if __name__ == "__main__":
    main()
