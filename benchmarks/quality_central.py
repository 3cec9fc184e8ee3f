"""Quality of CentralAnnealing: distortion vs KMeans(n_init=10) and how often n_clusters="auto"
finds the reference K.

Sets: scikit-learn's iris and digits, and every set of Gagolewski's clustering benchmark suite
found under ../shared/data/clustering (fcps, graves, sipu, other; labels0, K = number of
non-noise labels).  Target (issue 5): distortion <= 1.001 x KMeans(n_init=10) inertia on >= 90 %
of the sets.

    python benchmarks/quality_central.py            # all sets, true K, plus auto on sets with K <= 20
    python benchmarks/quality_central.py --no-auto  # true K only
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
from _common import clustering_sets, header, load_clustering_set, table  # noqa: E402

from danneal import CentralAnnealing  # noqa: E402


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
    ap.add_argument("--no-auto", action="store_true", help="skip the n_clusters='auto' runs")
    ap.add_argument("--max-clusters", type=int, default=20, help="max_clusters of the auto runs")
    args = ap.parse_args(argv)
    print(header("CentralAnnealing quality: distortion vs KMeans(n_init=10)"))
    rows = []
    n_ok = n_auto = n_auto_runs = 0
    with threadpool_limits(args.threads):
        for battery, name, X, y in sets():
            X = np.asarray(X, dtype=np.float64)
            K = len(np.unique(y[y > 0]))
            t0 = time.perf_counter()
            km = KMeans(K, n_init=10, random_state=0).fit(X)
            t_km = time.perf_counter() - t0
            t0 = time.perf_counter()
            da = CentralAnnealing(K, n_threads=args.threads).fit(X)
            t_da = time.perf_counter() - t0
            ratio = da.inertia_ / km.inertia_ if km.inertia_ > 0 else 1.0
            ok = ratio <= 1.001
            n_ok += ok
            row = {"set": f"{battery}/{name}", "n": len(X), "d": X.shape[1], "K": K,
                   "KMeans inertia": float(km.inertia_), "DA distortion": float(da.inertia_),
                   "ratio": float(ratio), "<=1.001": "yes" if ok else "NO",
                   "KMeans s": t_km, "DA s": t_da}
            if not args.no_auto and K <= args.max_clusters:
                auto = CentralAnnealing("auto", max_clusters=args.max_clusters, n_threads=args.threads).fit(X)
                row["auto K"] = auto.n_clusters_
                n_auto += auto.n_clusters_ == K
                n_auto_runs += 1
            rows.append(row)
            print(f"  {battery}/{name}: ratio {ratio:.5f}", file=sys.stderr, flush=True)
    print(table(rows))
    frac = n_ok / len(rows)
    print(f"distortion <= 1.001 x KMeans(n_init=10): {n_ok}/{len(rows)} sets = {100 * frac:.1f} % "
          f"(target >= 90 %: {'met' if frac >= 0.9 else 'NOT met'})")
    ratios = np.array([r["ratio"] for r in rows])
    print(f"ratio: median {np.median(ratios):.5f}, geometric mean {np.exp(np.log(ratios).mean()):.5f}, "
          f"best {ratios.min():.5f}, worst {ratios.max():.5f}")
    if n_auto_runs:
        print(f'n_clusters="auto" (max_clusters={args.max_clusters}) found the reference K on '
              f"{n_auto}/{n_auto_runs} sets with K <= {args.max_clusters}")


if __name__ == "__main__":
    main()
