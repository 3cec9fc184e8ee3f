"""CentralAnnealing on a dask LocalCluster: time per sweep, whole fit, peak worker memory, scaling.

Data: n x 16 float64 blobs (k = 10) generated blockwise on the workers (never on the client).
Rows:
- ``danneal sweep``: one soft annealing sweep (``DaskRows.statistics``: one graph, one compiled
  pass per block, O(k d) statistics back, added in block order);
- ``dask Lloyd``: one hard Lloyd iteration written with dask futures and numpy/BLAS per block
  (distances by the norm trick, argmin, per-cluster sums) -- the same pass a k-means on dask makes;
- ``dask-ml KMeans``: fit time / n_iter_ of ``dask_ml.cluster.KMeans`` (if installed);
- ``danneal fit``: the whole ``CentralAnnealing(10).fit`` on the dask array;
- ``danneal pairwise sweep``: one round of ``PairwiseAnnealing(metric="sqeuclidean")`` on dask
  (``PairwiseRows.sweep``: each block rebuilds its previous assignments from the O(k d)
  statistics, sweeps, and returns the new statistics), and its whole fit.
Each with 1 and 2 worker processes (1 thread each); worker ``memory_limit`` is set below the data
size so that no single worker could hold it.

    python benchmarks/bench_dask.py           # n = 1,000,000 (about a minute)
    python benchmarks/bench_dask.py --full    # n = 20,000,000 (2.5 GB; many minutes)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dask.array as da
from _common import header, table
from distributed import Client, LocalCluster

import danneal
from danneal._dask import DaskRows, PairwiseRows

K, D = 10, 16


def _blobs_block(block_info=None):
    loc = block_info[None]["array-location"][0]
    n = loc[1] - loc[0]
    centers = np.random.default_rng(12345).standard_normal((K, D)) * 4.0
    rng = np.random.default_rng(loc[0])
    return centers[rng.integers(0, K, n)] + rng.standard_normal((n, D))


def make_data(n, chunk):
    chunks = ((chunk,) * (n // chunk) + ((n % chunk,) if n % chunk else ()), (D,))
    return da.map_blocks(_blobs_block, dtype=np.float64, chunks=chunks)


def _lloyd_block(X, C):
    d2 = (X * X).sum(1)[:, None] - 2.0 * X @ C.T + (C * C).sum(1)[None, :]
    lab = np.argmin(d2, axis=1)
    sums = np.stack([np.bincount(lab, weights=X[:, j], minlength=len(C)) for j in range(X.shape[1])], axis=1)
    return sums, np.bincount(lab, minlength=len(C)).astype(np.float64)


def lloyd_iteration_time(client, blocks, C, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        parts = client.gather([client.submit(_lloyd_block, b, C, pure=False) for b in blocks])
        sums = sum(p[0] for p in parts)
        cnt = sum(p[1] for p in parts)
        C = sums / np.maximum(cnt, 1)[:, None]
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def peak_worker_memory(client):
    return max(
        client.run(
            lambda: __import__("resource").getrusage(__import__("resource").RUSAGE_SELF).ru_maxrss * 1024
        ).values()
    )


def run(n, n_workers, memory_limit, chunk, repeat, fit, dask_ml=True, pairwise_fit=True):
    rows = []
    with (
        LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            memory_limit=memory_limit,
            dashboard_address=":0",
            silence_logs=40,
        ) as cluster,
        Client(cluster) as client,
    ):
        X = make_data(n, chunk)
        est = danneal.CentralAnnealing(K, random_state=0)
        store = DaskRows(est, X, None)
        mean, cov, _, pre = store.moments()
        store.centre(pre, mean, float(np.sqrt(np.trace(cov))))
        rng = np.random.default_rng(0)
        Y = rng.standard_normal((K, D)) * 0.3
        logp = np.full(K, -np.log(K))
        store.statistics(Y, logp, 0.1)  # warm-up: materialises the persisted blocks
        ts = []
        for _ in range(repeat):
            t = time.perf_counter()
            store.statistics(Y, logp, 0.1)
            ts.append(time.perf_counter() - t)
        rows.append({"workers": n_workers, "what": "danneal soft sweep", "s": float(np.median(ts))})
        C = np.asarray(client.compute(X[:K]).result())
        rows.append(
            {
                "workers": n_workers,
                "what": "dask Lloyd iteration (numpy per block)",
                "s": lloyd_iteration_time(client, store.c_blocks, C, repeat),
            }
        )
        try:
            if not dask_ml:
                raise ImportError
            from dask_ml.cluster import KMeans as DKMeans

            t = time.perf_counter()
            km = DKMeans(n_clusters=K, random_state=0, max_iter=20, tol=0).fit(X)
            total = time.perf_counter() - t
            rows.append(
                {
                    "workers": n_workers,
                    "what": f"dask-ml KMeans fit / n_iter_ ({km.n_iter_} it, incl. init)",
                    "s": total / max(km.n_iter_, 1),
                }
            )
        except ImportError:
            pass
        del store
        pest = danneal.PairwiseAnnealing(K, metric="sqeuclidean", random_state=0)
        prow = PairwiseRows(pest, X, 1)
        total, _ = prow.stats(("init", 1, K, 1e-3))
        T = 0.5 * prow.critical_temperature()
        spec = ("soft", total, T, 1, K)
        prow.sweep(spec, total, T, 1)  # warm-up
        ts = []
        for _ in range(repeat):
            t = time.perf_counter()
            prow.sweep(spec, total, T, 1)
            ts.append(time.perf_counter() - t)
        rows.append(
            {"workers": n_workers, "what": "danneal pairwise sweep (rebuild + sweep)", "s": float(np.median(ts))}
        )
        del prow
        if fit:
            t = time.perf_counter()
            model = danneal.CentralAnnealing(K, random_state=0).fit(X)
            total = time.perf_counter() - t
            rows.append(
                {
                    "workers": n_workers,
                    "what": f"danneal whole fit ({model.n_iter_} sweeps, annealing on {model.n_anneal_rows_:,} rows)",
                    "s": total,
                }
            )
        if fit and pairwise_fit:
            t = time.perf_counter()
            model = danneal.PairwiseAnnealing(K, metric="sqeuclidean", random_state=0).fit(X)
            total = time.perf_counter() - t
            rows.append(
                {"workers": n_workers, "what": f"danneal pairwise whole fit ({model.n_iter_} sweeps)", "s": total}
            )
        peak = peak_worker_memory(client)
        for r in rows:
            r["peak worker RSS GB"] = peak / 1e9
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--full", action="store_true", help="n = 20,000,000 (2.5 GB)")
    p.add_argument("--n", type=int, default=None)
    p.add_argument("--no-fit", action="store_true", help="skip the whole fit")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts to run")
    p.add_argument("--no-dask-ml", action="store_true", help="skip dask-ml's KMeans")
    p.add_argument("--no-pairwise-fit", action="store_true", help="skip the whole PairwiseAnnealing fit")
    args = p.parse_args(argv)
    n = args.n or (20_000_000 if args.full else 1_000_000)
    size = n * D * 8
    chunk = 250_000 if n >= 4_000_000 else max(n // 8, 1)
    memory_limit = max(int(0.85 * size), 512 * 2**20)  # below the data size: no worker could hold it
    print(
        header(
            f"CentralAnnealing on dask: n={n:,} x {D} float64 ({size / 1e9:.2f} GB), k={K}, "
            f"chunks of {chunk:,} rows, worker memory_limit {memory_limit / 1e9:.2f} GB"
        )
    )
    rows = []
    for workers in args.workers:
        rows += run(
            n,
            workers,
            memory_limit,
            chunk,
            args.repeat,
            fit=not args.no_fit,
            dask_ml=not args.no_dask_ml,
            pairwise_fit=not args.no_pairwise_fit,
        )
    base = {r["workers"]: r["s"] for r in rows if r["what"].startswith("dask Lloyd")}
    for r in rows:
        r["ratio to dask Lloyd"] = r["s"] / base[r["workers"]]
    print(table(rows))


if __name__ == "__main__":
    main()
