"""Command line: ``danneal demo`` and ``danneal cluster``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

DESCRIPTION = """\
danneal: deterministic annealing for clustering and matching.

commands:
  demo      cluster scikit-learn's digits (standardised, squared-Euclidean dissimilarities)
            with PairwiseAnnealing and with KMeans(n_init=10), and print cost, ARI and time
  cluster   cluster the objects in FILE (.npy or .csv): feature vectors with --metric, or a
            square dissimilarity matrix with --precomputed; writes one label per line
"""


def _read_matrix(path: str) -> np.ndarray:
    p = Path(path)
    if not p.exists():
        raise SystemExit(f"danneal: error: FILE {path!r} does not exist")
    if p.suffix == ".npy":
        return np.load(p, allow_pickle=False)
    if p.suffix in (".csv", ".txt", ".gz"):
        delimiter = "," if ".csv" in p.name else None
        return np.loadtxt(p, delimiter=delimiter, ndmin=2)
    raise SystemExit(f"danneal: error: FILE {path!r}: expected a .npy or .csv file")


def _demo(args) -> int:
    from sklearn.cluster import KMeans
    from sklearn.datasets import load_digits
    from sklearn.metrics import adjusted_rand_score, pairwise_distances
    from sklearn.preprocessing import StandardScaler

    from .pairwise import PairwiseAnnealing

    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    D = pairwise_distances(X, metric="sqeuclidean")
    k = 10
    print(f"digits: n={X.shape[0]}, d={X.shape[1]}, k={k}; squared-Euclidean dissimilarities "
          "on standardised features (the pairwise cost equals the k-means inertia)")
    rows = []
    t0 = time.perf_counter()
    da = PairwiseAnnealing(k, random_state=args.seed, n_threads=args.threads, verbose=args.verbose).fit(D)
    rows.append(("PairwiseAnnealing", da.cost_, adjusted_rand_score(y, da.labels_), time.perf_counter() - t0))
    t0 = time.perf_counter()
    km = KMeans(k, n_init=10, random_state=args.seed).fit(X)
    rows.append(("KMeans(n_init=10)", km.inertia_, adjusted_rand_score(y, km.labels_), time.perf_counter() - t0))
    print(f"{'method':<20} {'cost':>12} {'ARI':>7} {'time [s]':>9}")
    for name, cost, ari, t in rows:
        print(f"{name:<20} {cost:>12.2f} {ari:>7.4f} {t:>9.3f}")
    print(f"PairwiseAnnealing: {len(da.history_)} temperatures, {da.n_iter_} sweeps, "
          f"T0={da.T0_:.4g} (critical {da.critical_temperature_:.4g})")
    return 0


def _cluster(args) -> int:
    from .pairwise import PairwiseAnnealing

    X = _read_matrix(args.file)
    metric = "precomputed" if args.precomputed else args.metric
    n = X.shape[0]
    verbose = args.verbose
    if not verbose and n >= 2000 and sys.stderr.isatty():
        verbose = 1

    def progress(rec):
        if args.progress:
            print(f"T={rec['T']:.4g} cost={rec['cost']:.6g} hardness={rec['hardness']:.4f}", file=sys.stderr,
                  flush=True)
        return False

    try:
        model = PairwiseAnnealing(args.k, metric=metric, random_state=args.seed, n_threads=args.threads,
                                  verbose=verbose, callback=progress)
        model.fit(X)
    except (ValueError, TypeError, FloatingPointError) as exc:
        print(f"danneal: error: {exc}", file=sys.stderr)
        return 2
    labels = model.labels_
    if args.output:
        np.savetxt(args.output, labels, fmt="%d")
        print(f"wrote {n} labels to {args.output} (cost {model.cost_:.6g}, {len(model.history_)} temperatures)",
              file=sys.stderr)
    else:
        np.savetxt(sys.stdout, labels, fmt="%d")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="danneal", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser("demo", help="cluster scikit-learn's digits and compare with KMeans")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument("--threads", type=int, default=None, help="threads (default: all cores)")
    demo.add_argument("-v", "--verbose", action="count", default=0, help="print one line per temperature")
    demo.set_defaults(func=_demo)

    cl = sub.add_parser("cluster", help="cluster the objects in FILE and write their labels",
                        description="Cluster FILE (.npy or .csv) with PairwiseAnnealing. Rows are objects: "
                                    "feature vectors compared with --metric (default sqeuclidean, the k-means "
                                    "cost), or a square dissimilarity matrix with --precomputed.")
    cl.add_argument("file", metavar="FILE", help=".npy or .csv file")
    cl.add_argument("-k", "--n-clusters", dest="k", type=int, required=True, help="number of clusters")
    g = cl.add_mutually_exclusive_group()
    g.add_argument("--metric", default="sqeuclidean",
                   help="any metric of sklearn.metrics.pairwise_distances (default sqeuclidean)")
    g.add_argument("--precomputed", action="store_true", help="FILE holds a square dissimilarity matrix")
    cl.add_argument("-o", "--output", help="write labels here (one per line); default: standard output")
    cl.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    cl.add_argument("--threads", type=int, default=None, help="threads (default: all cores)")
    cl.add_argument("--progress", action="store_true", help="print one line per temperature")
    cl.add_argument("-v", "--verbose", action="count", default=0, help="verbose annealing log")
    cl.set_defaults(func=_cluster)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 0
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
