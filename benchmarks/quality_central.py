"""Quality of CentralAnnealing: distortion vs KMeans(n_init=10) and how often n_clusters="auto"
finds the reference K.

Sets: scikit-learn's iris and digits, and every set of Gagolewski's clustering benchmark suite
found under ../shared/data/clustering (fcps, graves, sipu, other; labels0, K = number of
non-noise labels).  Target (issue 15 §2): distortion <= 1.001 x KMeans(n_init=10) inertia on
every set.  "polish s" is the time of the final multi-start polish inside the DA fit, "ratio
before polish" the ratio of the annealed (and Lloyd-polished) centroids before it.

    python benchmarks/quality_central.py            # sets with <= 2,000 rows, true K (seconds)
    python benchmarks/quality_central.py --full     # every set, true K, plus auto on sets with K <= 20
    python benchmarks/quality_central.py --full --no-auto  # every set, true K only
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits, load_iris
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import clustering_sets, header, load_clustering_set, table

from danneal import CentralAnnealing


def sets():
    yield "sklearn", "iris", load_iris().data, load_iris().target + 1
    yield "sklearn", "digits", load_digits().data, load_digits().target + 1
    for battery, name in clustering_sets():
        loaded = load_clustering_set(battery, name)
        if loaded is not None:
            yield battery, name, loaded[0], loaded[1]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--full", action="store_true", help="every set, and the auto runs (minutes)")
    ap.add_argument("--no-auto", action="store_true", help="skip the n_clusters='auto' runs")
    ap.add_argument("--max-clusters", type=int, default=20, help="max_clusters of the auto runs")
    args = ap.parse_args(argv)
    if not args.full:
        args.no_auto = True
    polish_time = [0.0]
    from danneal._central import _Annealer

    polish0 = _Annealer.polish

    def timed_polish(self, *a, **k):
        t0 = time.perf_counter()
        try:
            return polish0(self, *a, **k)
        finally:
            polish_time[0] += time.perf_counter() - t0

    _Annealer.polish = timed_polish
    print(header("CentralAnnealing quality: distortion vs KMeans(n_init=10)"))
    rows = []
    n_ok = n_auto = n_auto_runs = 0
    with threadpool_limits(args.threads):
        for battery, name, X, y in sets():
            if not args.full and len(X) > 2000:
                continue
            X = np.asarray(X, dtype=np.float64)
            K = len(np.unique(y[y > 0]))
            t0 = time.perf_counter()
            km = KMeans(K, n_init=10, random_state=0).fit(X)
            t_km = time.perf_counter() - t0
            t0 = time.perf_counter()
            polish_time[0] = 0.0
            da = CentralAnnealing(K, n_threads=args.threads).fit(X)
            t_da = time.perf_counter() - t0
            ratio = da.inertia_ / km.inertia_ if km.inertia_ > 0 else 1.0
            ratio0 = ratio / (1.0 - da.polish_["gain"])
            ok = ratio <= 1.001
            n_ok += ok
            row = {
                "set": f"{battery}/{name}",
                "n": len(X),
                "d": X.shape[1],
                "K": K,
                "KMeans inertia": float(km.inertia_),
                "DA distortion": float(da.inertia_),
                "ratio before polish": float(ratio0),
                "ratio": float(ratio),
                "<=1.001": "yes" if ok else "NO",
                "KMeans s": t_km,
                "DA s": t_da,
                "polish s": polish_time[0],
            }
            if not args.no_auto and K <= args.max_clusters:
                auto = CentralAnnealing("auto", max_clusters=args.max_clusters, n_threads=args.threads).fit(X)
                row["auto K"] = auto.n_clusters_
                n_auto += auto.n_clusters_ == K
                n_auto_runs += 1
            rows.append(row)
            print(f"  {battery}/{name}: ratio {ratio:.5f}", file=sys.stderr, flush=True)
    print(table(rows))
    frac = n_ok / len(rows)
    print(
        f"distortion <= 1.001 x KMeans(n_init=10): {n_ok}/{len(rows)} sets = {100 * frac:.1f} % "
        f"(target: every set: {'met' if n_ok == len(rows) else 'NOT met'})"
    )
    ratios = np.array([r["ratio"] for r in rows])
    r0 = np.array([r["ratio before polish"] for r in rows])
    print(
        f"before the polish: {int((r0 <= 1.001).sum())}/{len(rows)} within 0.1 %, worst {r0.max():.5f}; "
        f"time: DA {sum(r['DA s'] for r in rows):.2f} s of which polish {sum(r['polish s'] for r in rows):.2f} s, "
        f"KMeans(n_init=10) {sum(r['KMeans s'] for r in rows):.2f} s"
    )
    print(
        f"ratio: median {np.median(ratios):.5f}, geometric mean {np.exp(np.log(ratios).mean()):.5f}, "
        f"best {ratios.min():.5f}, worst {ratios.max():.5f}"
    )
    if n_auto_runs:
        print(
            f'n_clusters="auto" (max_clusters={args.max_clusters}) found the reference K on '
            f"{n_auto}/{n_auto_runs} sets with K <= {args.max_clusters}"
        )


if __name__ == "__main__":
    main()
