"""Pairwise clustering at scale (issue 11 §5): whole fits of PairwiseAnnealing on feature vectors
(squared Euclidean D never formed) against KMeans(n_init=10), with time, cost and peak memory.

Usage::

    python benchmarks/scale_pairwise.py          # digits and blobs N=20,000 (seconds)
    python benchmarks/scale_pairwise.py --full   # + blobs N=1,000,000 x 16 and sipu/a3 (minutes)
    python benchmarks/scale_pairwise.py --n 200000   # blobs N=200,000 x 16 only

Every row runs in its own subprocess, so "peak RSS" (``resource.getrusage``) is that fit's own
peak (the interpreter, numpy and scikit-learn included; "base RSS" is the same process before the
fit, after loading the data).

Targets (issue 11): digits: whole fit <= 5 x KMeans time, cost within 1e-4; blobs 1,000,000 x 16,
k=10: <= 3 x KMeans time, peak RSS <= 3 x the size of X; sipu/a3 (N=7500, k=50): whole fit <= 30 s,
cost <= KMeans.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import header, load_clustering_set, table  # noqa: E402

import numpy as np  # noqa: E402


def load(name: str, n: int | None):
    from sklearn.datasets import load_digits, make_blobs
    from sklearn.preprocessing import StandardScaler

    if name == "digits":
        return StandardScaler().fit_transform(load_digits().data), 10
    if name == "blobs":
        X, _ = make_blobs(n, centers=10, n_features=16, cluster_std=2.0, random_state=0)
        return X, 10
    if name == "sipu/a3":
        got = load_clustering_set("sipu", "a3")
        if got is None:
            return None, 0
        X, y = got
        return StandardScaler().fit_transform(np.asarray(X, dtype=np.float64)), len(np.unique(y[y > 0]))
    raise ValueError(name)


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def inertia(X, labels):
    return float(sum(((X[labels == v] - X[labels == v].mean(0)) ** 2).sum() for v in np.unique(labels)))


def run_row(name: str, method: str, n: int | None) -> dict:
    warnings.simplefilter("ignore")
    X, k = load(name, n)
    if X is None:
        return {"skipped": True}
    base = rss_mib()
    t0 = time.perf_counter()
    if method == "danneal":
        from danneal import PairwiseAnnealing

        m = PairwiseAnnealing(k, metric="sqeuclidean", random_state=0).fit(X)
        labels, extra = m.labels_, {"sweeps": m.n_iter_, "temps": len(m.history_), "path": m.algorithm_}
    else:
        from sklearn.cluster import KMeans

        m = KMeans(k, n_init=10, random_state=0).fit(X)
        labels, extra = m.labels_, {"sweeps": int(m.n_iter_), "temps": "", "path": "KMeans(n_init=10)"}
    t = time.perf_counter() - t0
    return {"time": t, "cost": inertia(X, labels), "peak": rss_mib(), "base": base, "X MiB": X.nbytes / 2 ** 20,
            "n": X.shape[0], "d": X.shape[1], "k": k, **extra}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help="add blobs N=1,000,000 x 16 and sipu/a3")
    ap.add_argument("--n", type=int, action="append", help="only blobs with N rows x 16 (repeatable)")
    ap.add_argument("--row", nargs=3, help=argparse.SUPPRESS)  # internal: NAME METHOD N
    args = ap.parse_args(argv)
    if args.row:
        name, method, n = args.row
        print(json.dumps(run_row(name, method, int(n) if n != "-" else None)))
        return
    work = [("digits", None), ("blobs", 20_000)]
    if args.full:
        work += [("blobs", 1_000_000), ("sipu/a3", None)]
    if args.n:
        work = [("blobs", n) for n in args.n]
    print(header("PairwiseAnnealing(metric='sqeuclidean') from X vs KMeans(n_init=10): whole fits"))
    rows = []
    for name, n in work:
        res = {}
        for method in ("KMeans", "danneal"):
            out = subprocess.run([sys.executable, __file__, "--row", name, method, str(n) if n else "-"],
                                 capture_output=True, text=True)
            if out.returncode != 0:
                print(out.stderr[-2000:], file=sys.stderr)
                res[method] = None
                continue
            res[method] = json.loads(out.stdout.strip().splitlines()[-1])
        km, da = res.get("KMeans"), res.get("danneal")
        if not km or not da or km.get("skipped"):
            print(f"{name}: skipped", file=sys.stderr)
            continue
        label = f"{name} {da['n']}x{da['d']} k={da['k']}"
        for method, r in (("KMeans(n_init=10)", km), ("danneal " + da["path"], da)):
            rows.append({"workload": label, "method": method, "time [s]": r["time"], "cost": r["cost"],
                         "cost / KMeans": r["cost"] / km["cost"], "time / KMeans": r["time"] / km["time"],
                         "peak RSS [MiB]": r["peak"], "base RSS [MiB]": r["base"],
                         "peak / X": r["peak"] / r["X MiB"], "(peak-base) / X": (r["peak"] - r["base"]) / r["X MiB"],
                         "sweeps": r["sweeps"], "temps": r["temps"]})
        print(f"{label}: danneal {da['time']:.2f} s vs KMeans {km['time']:.2f} s, cost ratio "
              f"{da['cost'] / km['cost']:.6f}", file=sys.stderr, flush=True)
    print(table(rows))


if __name__ == "__main__":
    main()
