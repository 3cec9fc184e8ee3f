"""Time per iteration of the central DA kernel vs scikit-learn's Lloyd iteration and the numpy twin.

One danneal iteration = the soft (T > 0) mass-constrained DA update: distances by the norm trick,
log-domain posteriors with masses, masses and weighted sums (one pass over X).  scikit-learn's
per-iteration time is ``KMeans(algorithm="lloyd", init=<fixed>, n_init=1, tol=0).fit`` time divided
by ``n_iter_``; both use the same number of threads.  Targets (issue 5), at N = 1e6, d = 16, k = 10,
float64, 2 threads: no slower than scikit-learn's hard Lloyd iteration, and >= 10x the numpy twin.

    python benchmarks/bench_central.py          # seconds-to-a-minute: 5 iterations, 3 repeats
    python benchmarks/bench_central.py --full   # 20 iterations, 5 repeats
    python benchmarks/bench_central.py --fit    # whole fits vs KMeans(n_init=10) (issue 15; minutes)
    python benchmarks/bench_central.py --fit --n 200000   # the first row at 200,000 x 16 instead

``--fit``: one whole ``CentralAnnealing(k).fit`` against ``KMeans(k, n_init=10)`` (both with the
same threads) on a mixture of k Gaussians, 1,000,000 x 16, k = 10 and 100,000 x 64, k = 100,
float64; target at the first: time ratio <= 1.0 and distortion <= 1.001 x the KMeans inertia.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import header, median_time, table

from danneal import _core
from danneal.reference import central as ref


def make_data(n, d, k, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((k, d)) * 3.0
    X = centers[rng.integers(0, k, n)] + rng.standard_normal((n, d))
    X -= X.mean(0)
    Y0 = X[rng.choice(n, k, replace=False)].copy()
    return X, Y0


def mixture(n, d, k, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((k, d)) * 3.0
    return centers[rng.integers(0, k, n)] + rng.standard_normal((n, d))


def fit_rows(args):
    from danneal import CentralAnnealing

    nt = args.threads
    print(header("central DA whole fit vs scikit-learn KMeans(n_init=10)"))
    print(f"threads={nt}, one fit each, float64, mixture of k Gaussians (centres N(0, 9 I), unit noise)\n")
    rows = []
    sizes = [(1_000_000 if args.n is None else args.n, 16, 10), (100_000 if args.n2 is None else args.n2, 64, 100)]
    sizes = [s for s in sizes if s[0] > 0]  # --n 0 or --n2 0: skip that set
    for n, d, k in sizes:
        X = mixture(n, d, k)
        with threadpool_limits(nt):
            t0 = time.perf_counter()
            km = KMeans(k, n_init=10, random_state=0).fit(X)
            t_km = time.perf_counter() - t0
        t0 = time.perf_counter()
        da = CentralAnnealing(k, n_threads=nt).fit(X)
        t_da = time.perf_counter() - t0
        ratio = da.inertia_ / km.inertia_
        rows.append(
            {
                "N x d x k": f"{n}x{d}x{k}",
                "DA s": t_da,
                "KMeans(n_init=10) s": t_km,
                "time DA/KMeans": t_da / t_km,
                "DA passes": da.n_iter_,
                "temperatures": len(da.history_["T"]),
                "polish accepted": da.polish_["accepted"],
                "cost DA/KMeans": ratio,
                "KMeans iterations": int(km.n_iter_),
            }
        )
        print(f"  done {n}x{d}x{k}: {t_da:.1f} s vs {t_km:.1f} s, cost ratio {ratio:.5f}", file=sys.stderr, flush=True)
    print(table(rows))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="more iterations and repeats (minutes)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--fit", action="store_true", help="whole fits vs KMeans(n_init=10)")
    ap.add_argument("--n", type=int, default=None, help="rows of the first --fit set (default 1,000,000; 0: skip it)")
    ap.add_argument("--n2", type=int, default=None, help="rows of the second --fit set (default 100,000; 0: skip it)")
    args = ap.parse_args(argv)
    if args.fit:
        return fit_rows(args)
    iters, repeat = (20, 5) if args.full else (5, 3)
    nt = args.threads
    print(header("central DA iteration vs scikit-learn KMeans(lloyd) and the numpy twin"))
    print(
        f"threads={nt}, {iters} iterations per timed call, median of {repeat}; twin: 1 iteration, median of "
        f"{2 if args.full else 1}\n"
    )
    rows = []
    for n, d, k in [(1_000_000, 16, 10), (100_000, 64, 100)]:
        X64, Y64 = make_data(n, d, k)
        for dtype in (np.float64, np.float32):
            X = X64.astype(dtype)
            Y0 = Y64.astype(dtype)
            logp = np.full(k, -np.log(k))
            T = 2.0 * d  # soft assignments: about the within-cluster scale of the data

            def run_da():
                _core.central_fixed_point(X, None, Y0, logp, T, iters, 0.0, nt)

            t_da = median_time(run_da, repeat=repeat, warmup=1) / iters
            km = KMeans(k, init=Y0, n_init=1, max_iter=iters, tol=0.0, algorithm="lloyd")
            with threadpool_limits(nt):
                km.fit(X)  # warm-up
                n_it = km.n_iter_
                t_sk = median_time(lambda: km.fit(X), repeat=repeat, warmup=0) / n_it
            t_tw = median_time(
                lambda: ref.central_fixed_point(X, None, Y0, logp, T, 1, 0.0), repeat=2 if args.full else 1, warmup=0
            )
            gb = X.nbytes / t_da / 1e9
            gflop = 4.0 * n * d * k / t_da / 1e9  # two n x d x k products (multiply + add)
            target = ""
            if (n, d, k) == (1_000_000, 16, 10) and dtype == np.float64 and nt == 2:
                ok_sk = t_da <= t_sk
                ok_tw = t_tw / t_da >= 10
                target = (
                    f"sklearn/danneal >= 1: {'met' if ok_sk else 'NOT met'}; "
                    f"twin/danneal >= 10: {'met' if ok_tw else 'NOT met'}"
                )
            rows.append(
                {
                    "N x d x k": f"{n}x{d}x{k}",
                    "dtype": np.dtype(dtype).name,
                    "danneal ms/it": t_da * 1e3,
                    "sklearn lloyd ms/it": t_sk * 1e3,
                    "twin ms/it": t_tw * 1e3,
                    "sklearn/danneal": t_sk / t_da,
                    "twin/danneal": t_tw / t_da,
                    "GB/s": gb,
                    "GFLOP/s": gflop,
                    "target": target,
                }
            )
            print(f"  done {n}x{d}x{k} {np.dtype(dtype).name}", file=sys.stderr, flush=True)
    print(table(rows))


if __name__ == "__main__":
    main()
