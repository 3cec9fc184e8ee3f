"""Whole-fit cost of CentralAnnealing: passes over X (``n_iter_``, deterministic), covariance
passes, time and distortion vs KMeans(n_init=10) on the quality sets (iris, digits, the clustering
suite under ../shared/data/clustering), a 200,000 x 16 Gaussian mixture (k = 10) and a 50,000 x 16
single Gaussian (k = 10, no cluster structure: the slowest case for the fixed point).

    python benchmarks/fit_central.py                 # all sets
    python benchmarks/fit_central.py --only digits   # sets whose name contains "digits"
    python benchmarks/fit_central.py --json out.json # also write the rows
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import header, table
from quality_central import sets as quality_sets

import danneal._central as central
from danneal import CentralAnnealing


def all_sets():
    for battery, name, X, y in quality_sets():
        yield f"{battery}/{name}", np.asarray(X, dtype=np.float64), len(np.unique(y[y > 0]))
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((10, 16)) * 3.0
    yield "gauss-mix 200000x16", centers[rng.integers(0, 10, 200_000)] + rng.standard_normal((200_000, 16)), 10
    yield "gauss-one 50000x16", np.random.default_rng(0).standard_normal((50_000, 16)), 10


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", default=None)
    ap.add_argument("--json", default=None)
    ap.add_argument("--km-cache", default=None, help="json file caching the KMeans inertias")
    args = ap.parse_args(argv)
    cache = {}
    if args.km_cache and Path(args.km_cache).exists():
        cache = json.loads(Path(args.km_cache).read_text())
    n_cov = [0]
    cov0 = central._MemoryRows.covariance

    def counted(self, *a, **k):
        n_cov[0] += 1
        return cov0(self, *a, **k)

    central._MemoryRows.covariance = counted
    print(header("CentralAnnealing whole fit: passes over X and distortion vs KMeans(n_init=10)"))
    rows = []
    with threadpool_limits(args.threads):
        for name, X, K in all_sets():
            if args.only and args.only not in name:
                continue
            if name not in cache:
                cache[name] = float(KMeans(K, n_init=10, random_state=0).fit(X).inertia_)
            n_cov[0] = 0
            t0 = time.perf_counter()
            da = CentralAnnealing(K, n_threads=args.threads).fit(X)
            t_da = time.perf_counter() - t0
            km = cache[name]
            ratio = da.inertia_ / km if km > 0 else 1.0
            rows.append(
                {
                    "set": name,
                    "n": len(X),
                    "d": X.shape[1],
                    "K": K,
                    "n_iter_": da.n_iter_,
                    "cov passes": n_cov[0],
                    "temperatures": len(da.history_["T"]),
                    "DA s": t_da,
                    "ratio": float(ratio),
                }
            )
            print(f"  {name}: n_iter_ {da.n_iter_} ratio {ratio:.5f}", file=sys.stderr, flush=True)
    if args.km_cache:
        Path(args.km_cache).write_text(json.dumps(cache))
    print(table(rows))
    ratios = np.array([r["ratio"] for r in rows])
    print(
        f"worst ratio {ratios.max():.5f}; total n_iter_ {sum(r['n_iter_'] for r in rows)}, "
        f"cov passes {sum(r['cov passes'] for r in rows)}, DA s {sum(r['DA s'] for r in rows):.1f}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(rows))


if __name__ == "__main__":
    main()
