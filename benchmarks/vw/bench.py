#!/usr/bin/env python3
"""eddy's FTRL against Vowpal Wabbit on a dense logistic stream, in the same run.

A seeded stream of N rows x 32 features (f0..f31, uniform on [0, 1) with 4 decimals; a fixed
true weight vector, no intercept; label 0/1 drawn from the logistic of the score) is written as
CSV (for `eddy topic import`) and as VW text (labels -1/1). eddy reads it twice, imported as JSON
values (one row per record) and as Arrow values (4096 rows per record), one partition; VW reads
the text file with its own C++ driver. Both learn progressively (score, then learn each row).
Run through run.sh, which installs vowpalwabbit and numpy into target/vw-venv and builds eddy.

    benchmarks/vw/run.sh [--rows N] [--seed S] [--scale-check]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
EDDY = os.environ.get("EDDY_BIN", os.path.join(ROOT, "target", "release", "eddy"))
DATA = os.environ.get("VW_BENCH_DATA", os.path.join(ROOT, "target", "vw-bench"))
FEATURES = 32
CHUNK = 100_000  # rows generated at a time (part of what the seed means: keep it fixed)
ARROW_ROWS = 4096

# Every value is one of 0.0000 .. 0.9999, so that a row is fixed-width bytes and numpy can lay
# the files out without formatting numbers one by one.
TABLE = np.frombuffer(b"".join(b"0.%04d" % k for k in range(10_000)), dtype=np.uint8).reshape(10_000, 6)


def true_weights(seed):
    w = np.random.default_rng([seed, 1]).normal(0.0, 1.0, FEATURES)
    return w - w.mean()  # the scores are centred; there is still no intercept to learn


def layout(k, cells, sep, end):
    """Rows of fixed-width cells: k (rows x FEATURES) indexes TABLE; cells[j] is what comes before
    feature j's value, sep what follows each one, end what ends the row."""
    n = k.shape[0]
    parts = []
    for j in range(FEATURES):
        if cells[j]:
            parts.append(np.broadcast_to(np.frombuffer(cells[j], np.uint8), (n, len(cells[j]))))
        parts.append(TABLE[k[:, j]])
        tail = end if j == FEATURES - 1 else sep
        if tail:
            parts.append(np.broadcast_to(np.frombuffer(tail, np.uint8), (n, len(tail))))
    return np.concatenate(parts, axis=1)


def generate(n, seed, out_dir, vw_text=True):
    """Writes data.csv (and data.vw) into out_dir unless they are there already."""
    csv_path, vw_path = os.path.join(out_dir, "data.csv"), os.path.join(out_dir, "data.vw")
    if os.path.exists(csv_path) and (os.path.exists(vw_path) or not vw_text):
        return csv_path, vw_path
    os.makedirs(out_dir, exist_ok=True)
    t = time.time()
    w = true_weights(seed)
    rng = np.random.default_rng(seed)
    names = [f"f{j}" for j in range(FEATURES)]
    csv_tmp, vw_tmp = csv_path + ".tmp", vw_path + ".tmp"
    fv = open(vw_tmp, "wb") if vw_text else None
    with open(csv_tmp, "wb") as fc:
        fc.write((",".join(names) + ",label\n").encode())
        for start in range(0, n, CHUNK):
            m = min(CHUNK, n - start)
            k = rng.integers(0, 10_000, (m, FEATURES))
            score = (k / 10_000.0) @ w
            y = (rng.random(m) < 1.0 / (1.0 + np.exp(-score))).astype(np.uint8)
            # CSV: f0,...,f31,label
            body = layout(k, [b""] * FEATURES, b",", b",")
            rows = np.concatenate([body, (y + ord("0"))[:, None], np.full((m, 1), ord("\n"), np.uint8)], axis=1)
            fc.write(rows.tobytes())
            if fv:
                # VW: "1  |f f0:0.1234 ..." or "-1 |f ..." (the label padded to a fixed width)
                label = np.where(y[:, None] == 1, np.frombuffer(b"1  |f", np.uint8), np.frombuffer(b"-1 |f", np.uint8))
                body = layout(k, [f" {nm}:".encode() for nm in names], b"", b"\n")
                fv.write(np.concatenate([label, body], axis=1).tobytes())
    os.replace(csv_tmp, csv_path)
    if fv:
        fv.close()
        os.replace(vw_tmp, vw_path)
    print(f"generated {n:,} rows in {time.time() - t:.1f} s: {out_dir}", file=sys.stderr)
    return csv_path, vw_path


def imported(csv_path, out_dir, fmt):
    """The CSV imported as a replay with JSON or Arrow values (reused if there already)."""
    name = "json.replay" if fmt == "json" else f"arrow{ARROW_ROWS}.replay"
    path = os.path.join(out_dir, name)
    if not os.path.exists(path):
        t = time.time()
        extra = [] if fmt == "json" else ["--format", "arrow", "--rows-per-record", str(ARROW_ROWS)]
        subprocess.run([EDDY, "topic", "import", "--csv", csv_path, "--topic", "stream", "--out", path, *extra], check=True)
        print(f"imported ({fmt}) in {time.time() - t:.1f} s", file=sys.stderr)
    return path


def run_vw(vw_path, n):
    import vowpalwabbit

    # With -d, the Workspace constructor itself runs VW's driver over the whole file (run_parser()
    # afterwards finds the file read and returns at once), so the timing includes construction.
    t = time.perf_counter()
    vw = vowpalwabbit.Workspace(f"-d {vw_path} --loss_function logistic --quiet")
    vw.run_parser()
    seconds = time.perf_counter() - t
    examples = vw.get_weighted_examples()
    loss = vw.get_sum_loss() / examples
    vw.finish()
    assert int(examples) == n, f"VW read {examples} examples, expected {n}"
    return {"rows_per_second": n / seconds, "log_loss": loss, "seconds": seconds}


def run_eddy(replay, fmt, n, workdir, tag):
    """Runs `eddy run --json` in a fresh child process; wall time and the child's own peak RSS
    (os.wait4 reports the rusage of exactly that process)."""
    features = ", ".join(f'"f{j}"' for j in range(FEATURES))
    job = os.path.join(workdir, f"{tag}.toml")
    with open(job, "w") as f:
        f.write(
            f'[source]\nreplay = "{replay}"\nformat = "{fmt}"\n\n'
            f'[operator]\ncomponent = "ftrl"\n[operator.config]\nfeaturesCol = [{features}]\n'
            f'labelCol = "label"\nglobalBatchSize = 1\n\n'
            f'[sinks]\npredictions = "{workdir}/{tag}-predictions.replay"\n'
        )
    out_path, err_path = os.path.join(workdir, f"{tag}.out"), os.path.join(workdir, f"{tag}.err")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t = time.perf_counter()
        p = subprocess.Popen([EDDY, "run", job, "--json", "--quiet"], stdout=out, stderr=err)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t
        p.returncode = os.waitstatus_to_exitcode(status)
    rss_mib = usage.ru_maxrss / 1024.0  # KiB on Linux
    predictions = os.path.join(workdir, f"{tag}-predictions.replay")
    if os.path.exists(predictions):
        os.remove(predictions)  # up to a GB at 1M rows; the temp dir is removed at the end anyway
    if p.returncode != 0:
        lines = open(err_path, errors="replace").read().strip().splitlines()
        first = next((l for l in lines if l.startswith("error")), lines[0] if lines else f"exit {p.returncode}")
        traps = [l.strip() for l in lines if "trap" in l or "out of memory" in l.lower()]
        why = first if not traps or traps[0] in first else f"{first} ... {traps[0]}"
        return {"error": why[:400], "wall": wall, "rss_mib": rss_mib}
    s = json.loads(open(out_path).read().strip().splitlines()[-1])
    rows = s.get("rows", s["metrics"].get("rows"))
    if rows != n:
        return {"error": f"eddy read {rows} rows, expected {n}", "wall": wall, "rss_mib": rss_mib}
    rps = s.get("rows_per_second") or n / s["seconds"]
    return {"rows_per_second": rps, "log_loss": s["metrics"]["log_loss"], "seconds": s["seconds"], "wall": wall, "rss_mib": rss_mib}


def median_run(runs):
    """The run with the median rows/s (a failed run, if any), with the largest peak RSS."""
    failed = [r for r in runs if "error" in r]
    if failed:
        return failed[0]
    ordered = sorted(runs, key=lambda r: r["rows_per_second"])
    mid = dict(ordered[len(ordered) // 2])
    if "rss_mib" in mid:
        mid["rss_mib"] = max(r["rss_mib"] for r in runs)
    mid["all"] = [r["rows_per_second"] for r in runs]
    return mid


def verdict(ok):
    return "PASS" if ok else "MISS"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--scale-check", action="store_true", help="also run Arrow values on a 10x stream and compare peak RSS")
    ap.add_argument("--repeat", type=int, default=5, help="rounds of VW, eddy JSON and eddy Arrow, one after the other; the median of each is reported")
    a = ap.parse_args()
    n = a.rows
    data_dir = os.path.join(DATA, f"n{n}-s{a.seed}")
    csv_path, vw_path = generate(n, a.seed, data_dir)
    rounds = {"vw": [], "json": [], "arrow": []}
    with tempfile.TemporaryDirectory(prefix="eddy-vw-") as work:
        replays = {fmt: imported(csv_path, data_dir, fmt) for fmt in ("json", "arrow")}
        # The machine's speed drifts: the three run in turn, round after round, and each
        # reports its median round (peak memory: its largest).
        for _ in range(max(1, a.repeat)):
            rounds["vw"].append(run_vw(vw_path, n))
            for fmt in ("json", "arrow"):
                rounds[fmt].append(run_eddy(replays[fmt], fmt, n, work, fmt))
        vw = median_run(rounds["vw"])
        results = {fmt: median_run(rounds[fmt]) for fmt in ("json", "arrow")}
        big = None
        if a.scale_check:
            big_dir = os.path.join(DATA, f"n{10 * n}-s{a.seed}")
            big_csv, _ = generate(10 * n, a.seed, big_dir, vw_text=False)
            big = run_eddy(imported(big_csv, big_dir, "arrow"), "arrow", 10 * n, work, "arrow10x")

    label = {"json": "JSON, 1 row/record", "arrow": f"Arrow, {ARROW_ROWS} rows/record"}
    print(f"\n{n:,} rows x {FEATURES} features, seed {a.seed}; eddy: ftrl (defaults, globalBatchSize 1); VW {vw_version()}: defaults, --loss_function logistic\n")
    print("| input | eddy rows/s | VW rows/s | eddy/VW | eddy log loss | VW log loss | abs diff | eddy peak RSS MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for fmt, r in results.items():
        if "error" in r:
            print(f"| {label[fmt]} | FAILED | {vw['rows_per_second']:,.0f} | - | - | {vw['log_loss']:.4f} | - | {r['rss_mib']:.0f} |")
        else:
            print(
                f"| {label[fmt]} | {r['rows_per_second']:,.0f} | {vw['rows_per_second']:,.0f} | {r['rows_per_second'] / vw['rows_per_second']:.2f}x"
                f" | {r['log_loss']:.4f} | {vw['log_loss']:.4f} | {abs(r['log_loss'] - vw['log_loss']):.4f} | {r['rss_mib']:.0f} |"
            )
    for fmt, r in results.items():
        if "error" in r:
            print(f"\neddy ({label[fmt]}) failed after {r['wall']:.1f} s: {r['error']}")
        else:
            print(f"\neddy ({label[fmt]}): {r['seconds']:.2f} s in the run, {r['wall']:.2f} s wall (with loading the component)", end="")
    print(f"\nVW: {vw['seconds']:.2f} s (Workspace(-d ...) and run_parser())")
    print("rows/s of every round: " + "; ".join(f"{k}: " + ", ".join(f"{x:,.0f}" for x in r["all"]) for k, r in [("VW", vw)] + [(label[f], results[f]) for f in results] if "all" in r) + "\n")

    def ratio(fmt):
        """The median over rounds of eddy's rows/s over VW's in the same round: the machine's
        speed drifts from one second to the next, and a round's two runs, one right after the
        other, share its weather (the medians of the columns above can come from different
        rounds)."""
        if "error" in results[fmt]:
            return None
        pairs = sorted(e["rows_per_second"] / v["rows_per_second"] for e, v in zip(rounds[fmt], rounds["vw"]))
        return pairs[len(pairs) // 2] if len(pairs) % 2 else (pairs[len(pairs) // 2 - 1] + pairs[len(pairs) // 2]) / 2

    for fmt in results:
        if ratio(fmt) is not None:
            per = ", ".join(f"{e['rows_per_second'] / v['rows_per_second']:.2f}x" for e, v in zip(rounds[fmt], rounds["vw"]))
            print(f"eddy/VW round by round, {label[fmt]}: {per}; median {ratio(fmt):.2f}x")
    print()

    bars = [
        ("Arrow >= 2.0x VW rows/s", ratio("arrow") is not None and ratio("arrow") >= 2.0),
        ("JSON >= 1.0x VW rows/s", ratio("json") is not None and ratio("json") >= 1.0),
    ]
    for fmt, r in results.items():
        bars.append((f"{label[fmt]}: log loss within 0.01 of VW's", "error" not in r and abs(r["log_loss"] - vw["log_loss"]) <= 0.01))
        bars.append((f"{label[fmt]}: peak RSS <= 512 MiB", "error" not in r and r["rss_mib"] <= 512))
    if big is not None:
        small = results["arrow"]
        if "error" in big or "error" in small:
            why = big.get("error") or small.get("error")
            print(f"scale check (Arrow, {10 * n:,} rows): FAILED: {why}")
            bars.append(("peak RSS 10x / 1x <= 1.2", False))
        else:
            q = big["rss_mib"] / small["rss_mib"]
            print(f"scale check (Arrow, {10 * n:,} rows): {big['rows_per_second']:,.0f} rows/s, log loss {big['log_loss']:.4f}, peak RSS {big['rss_mib']:.0f} MiB = {q:.2f}x the 1x run's")
            bars.append(("peak RSS 10x / 1x <= 1.2", q <= 1.2))
    print()
    for name, ok in bars:
        print(f"{verdict(ok)}  {name}")


def vw_version():
    try:
        from importlib.metadata import version

        return version("vowpalwabbit")
    except Exception:
        return "?"


if __name__ == "__main__":
    main()
