"""Pairwise clustering at scale (issue 11 §5): whole fits of PairwiseAnnealing on feature vectors
(squared Euclidean D never formed) against KMeans(n_init=10), with time, cost and peak memory.

Usage::

    python benchmarks/scale_pairwise.py          # digits and blobs N=20,000 (seconds)
    python benchmarks/scale_pairwise.py --full   # + blobs N=1,000,000 x 16 and sipu/a3 (minutes)
    python benchmarks/scale_pairwise.py --n 200000   # blobs N=200,000 x 16 only
    python benchmarks/scale_pairwise.py --tiles      # cityblock from X: D in tiles vs dense (seconds)
    python benchmarks/scale_pairwise.py --tiles --full   # + one sweep at N=100,000 x 16 (minutes)
    python benchmarks/scale_pairwise.py --tiles-fit 100000   # the whole cityblock fit at N x 16 (minutes)
    python benchmarks/scale_pairwise.py --tiles-kernel   # the tile D.Q kernel alone: ns per pair (seconds)
    python benchmarks/scale_pairwise.py --knn 100000 # kNN graph: exact/approximate build, fit (separately)

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
import numpy as np
from _common import header, load_clustering_set, table


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
    return {
        "time": t,
        "cost": inertia(X, labels),
        "peak": rss_mib(),
        "base": base,
        "X MiB": X.nbytes / 2**20,
        "n": X.shape[0],
        "d": X.shape[1],
        "k": k,
        **extra,
    }


def blobs16(n, k=10):
    from sklearn.datasets import make_blobs

    X, _ = make_blobs(n, centers=k, n_features=16, cluster_std=2.0, random_state=0)
    return X


def l1_cost(X, labels):
    """Pairwise cost of labels under cityblock D, cluster by cluster (O(n_v^2) per cluster)."""
    from sklearn.metrics import pairwise_distances

    cost = 0.0
    for v in np.unique(labels):
        Xv = X[labels == v]
        for b in range(0, len(Xv), 4096):
            cost += float(pairwise_distances(Xv[b : b + 4096], Xv, metric="cityblock").sum()) / (2.0 * len(Xv))
    return cost


def run_tiles_row(method: str, n: int) -> dict:
    """cityblock, k=10: a whole fit (``fit-tiles``, ``fit-dense``) or one sweep of the tile kernel
    (``sweep-tiles``: D.Q, potentials and softmax as in a fit)."""
    warnings.simplefilter("ignore")
    X = blobs16(n)
    base = rss_mib()
    t0 = time.perf_counter()
    extra = {}
    if method == "sweep-tiles":
        from danneal import _pairwise_large as large

        prob = large._TilesProblem(X, 0, 2.0, 2)
        Q = np.random.default_rng(0).dirichlet(np.ones(10), n)
        prob.fixed_point(Q, 1.0, 1, 1, 0.0)
        t = time.perf_counter() - t0
        extra = {"sweeps": 1, "time / sweep": t, "cost": float("nan")}
    else:
        from danneal import PairwiseAnnealing

        m = PairwiseAnnealing(10, metric="cityblock", algorithm=method.split("-")[1], random_state=0).fit(X)
        t = time.perf_counter() - t0
        extra = {
            "sweeps": m.n_iter_,
            "time / sweep": t / max(m.n_iter_, 1),
            "cost": m.cost_,
            "path": m.algorithm_,
            "anneal_rows": m.n_anneal_rows_,
        }
    return {"time": t, "peak": rss_mib(), "base": base, "X MiB": X.nbytes / 2**20, "n": n, **extra}


def main_tiles_kernel(n: int = 4000):
    """ns per pair of ``pairwise_tiles_dq`` (N x 16, k=10): CPU time of the process per pair and
    thread (the machine is shared, so CPU time is steadier than wall time), median of 5."""
    from danneal import _core

    print(header(f"pairwise_tiles_dq: N={n} x 16, k=10, D formed in tiles and multiplied into Q"))
    rng = np.random.default_rng(0)
    rows = []
    for dtype in (np.float32, np.float64):
        X = rng.standard_normal((n, 16)).astype(dtype)
        Q = rng.dirichlet(np.ones(10), n).astype(dtype)
        for metric, name in ((0, "cityblock"), (1, "euclidean"), (2, "chebyshev")):
            for nt in (1, 2):
                ts = []
                for _ in range(5):
                    c0, w0 = time.process_time(), time.perf_counter()
                    _core.pairwise_tiles_dq(X, metric, 2.0, Q, nt)
                    ts.append((time.process_time() - c0, time.perf_counter() - w0))
                cpu = float(np.median([t[0] for t in ts]))
                wall = float(np.median([t[1] for t in ts]))
                rows.append(
                    {
                        "metric": name,
                        "dtype": np.dtype(dtype).name,
                        "threads": nt,
                        "CPU ns / pair / thread": cpu / nt / n / n * 1e9,
                        "wall ns / pair": wall / n / n * 1e9,
                    }
                )
    print(table(rows))


def main_tiles_fit(n: int):
    r = _sub(["--tiles-row", "fit-tiles", str(n)])
    print(header(f"PairwiseAnnealing(metric='cityblock', algorithm='tiles') on blobs {n}x16, k=10: the whole fit"))
    if r is not None:
        print(
            table(
                [
                    {
                        "workload": f"cityblock {n}x16 k=10",
                        "time [s]": r["time"],
                        "sweeps": r["sweeps"],
                        "annealed rows": r.get("anneal_rows", ""),
                        "cost": r["cost"],
                        "peak RSS [MiB]": r["peak"],
                        "base RSS [MiB]": r["base"],
                    }
                ]
            )
        )


def run_knn_row(method: str, n: int, path: str) -> dict:
    """kNN graph of blobs N x 16 (n_neighbors=10, euclidean): ``build-exact`` / ``build-approximate``
    (saved to ``path`` / ``path + ".approximate.npz"``), or ``fit`` / ``fit-approximate`` on the
    saved graph (memory and time of the fit alone)."""
    warnings.simplefilter("ignore")
    import scipy.sparse as sp

    from danneal import _pairwise_large as large

    if method.startswith("build"):
        X = blobs16(n)
        base = rss_mib()
        t0 = time.perf_counter()
        G = large.knn_graph(X, 10, "euclidean", method=method.split("-")[1], n_threads=2)
        t = time.perf_counter() - t0
        sp.save_npz(path if method == "build-exact" else path + ".approximate.npz", G)
        return {"time": t, "peak": rss_mib(), "base": base, "nnz": G.nnz, "n": n, "cost": float("nan"), "sweeps": ""}
    from danneal import PairwiseAnnealing

    G = sp.load_npz(path if method == "fit" else path + ".approximate.npz")
    base = rss_mib()
    t0 = time.perf_counter()
    m = PairwiseAnnealing(10, metric="precomputed", random_state=0).fit(G)
    t = time.perf_counter() - t0
    return {"time": t, "peak": rss_mib(), "base": base, "nnz": G.nnz, "n": n, "cost": m.cost_, "sweeps": m.n_iter_}


def _sub(args):
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if out.returncode != 0:
        print(out.stderr[-2000:], file=sys.stderr)
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def main_tiles(full: bool):
    print(header("PairwiseAnnealing(metric='cityblock') from X, k=10: D formed in tiles vs the dense matrix"))
    rows = []
    work = [("fit-dense", 2000), ("fit-tiles", 2000)]
    if full:
        work += [("fit-dense", 5000), ("fit-tiles", 5000), ("sweep-tiles", 20_000), ("sweep-tiles", 100_000)]
    dense_t = {}
    for method, n in work:
        r = _sub(["--tiles-row", method, str(n)])
        if r is None:
            continue
        if method == "fit-dense":
            dense_t[n] = r["time"]
        rows.append(
            {
                "workload": f"cityblock {n}x16 k=10",
                "method": method,
                "path": r.get("path", "tiles"),
                "time [s]": r["time"],
                "time / dense": r["time"] / dense_t[n] if n in dense_t else "",
                "sweeps": r["sweeps"],
                "time / sweep [s]": r["time / sweep"],
                "cost": r["cost"],
                "peak RSS [MiB]": r["peak"],
                "base RSS [MiB]": r["base"],
            }
        )
        print(rows[-1], file=sys.stderr, flush=True)
    print(table(rows))


def main_knn(n: int, graph: str = "exact"):
    import tempfile

    print(header(f"kNN graph (n_neighbors=10, euclidean) of blobs {n}x16, k=10: build and fit separately"))
    rows = []
    steps = ("build-exact", "build-approximate", "fit")
    if graph == "approximate":  # the exact build of 1M x 16 takes longer than an hour on 2 cores
        steps = ("build-approximate", "fit-approximate")
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "graph.npz")
        for method in steps:
            r = _sub(["--knn-row", method, str(n), path])
            if r is None:
                continue
            rows.append(
                {
                    "workload": f"blobs {n}x16",
                    "step": method,
                    "time [s]": r["time"],
                    "nnz": r["nnz"],
                    "sweeps": r["sweeps"],
                    "cost": r["cost"],
                    "peak RSS [MiB]": r["peak"],
                    "base RSS [MiB]": r["base"],
                }
            )
            print(rows[-1], file=sys.stderr, flush=True)
    print(table(rows))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help="add blobs N=1,000,000 x 16 and sipu/a3")
    ap.add_argument("--n", type=int, action="append", help="only blobs with N rows x 16 (repeatable)")
    ap.add_argument("--row", nargs=3, help=argparse.SUPPRESS)  # internal: NAME METHOD N
    ap.add_argument("--tiles", action="store_true", help="cityblock from X: tiles vs dense")
    ap.add_argument("--knn", type=int, help="kNN graph of blobs N x 16: build (exact, approximate) and fit")
    ap.add_argument(
        "--knn-graph",
        choices=["exact", "approximate"],
        default="exact",
        help="with --knn: 'approximate' builds only the pynndescent graph and fits on it",
    )
    ap.add_argument("--tiles-kernel", action="store_true", help="the tile D.Q kernel alone: ns per pair")
    ap.add_argument("--tiles-fit", type=int, help="the whole cityblock fit on blobs N x 16 (tiles path)")
    ap.add_argument("--tiles-row", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--knn-row", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.tiles_row:
        print(json.dumps(run_tiles_row(args.tiles_row[0], int(args.tiles_row[1]))))
        return
    if args.knn_row:
        print(json.dumps(run_knn_row(args.knn_row[0], int(args.knn_row[1]), args.knn_row[2])))
        return
    if args.tiles_kernel:
        return main_tiles_kernel()
    if args.tiles_fit:
        return main_tiles_fit(args.tiles_fit)
    if args.tiles:
        return main_tiles(args.full)
    if args.knn:
        return main_knn(args.knn, args.knn_graph)
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
            out = subprocess.run(
                [sys.executable, __file__, "--row", name, method, str(n) if n else "-"], capture_output=True, text=True
            )
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
            rows.append(
                {
                    "workload": label,
                    "method": method,
                    "time [s]": r["time"],
                    "cost": r["cost"],
                    "cost / KMeans": r["cost"] / km["cost"],
                    "time / KMeans": r["time"] / km["time"],
                    "peak RSS [MiB]": r["peak"],
                    "base RSS [MiB]": r["base"],
                    "peak / X": r["peak"] / r["X MiB"],
                    "(peak-base) / X": (r["peak"] - r["base"]) / r["X MiB"],
                    "sweeps": r["sweeps"],
                    "temps": r["temps"],
                }
            )
        print(
            f"{label}: danneal {da['time']:.2f} s vs KMeans {km['time']:.2f} s, cost ratio "
            f"{da['cost'] / km['cost']:.6f}",
            file=sys.stderr,
            flush=True,
        )
    print(table(rows))


if __name__ == "__main__":
    main()
