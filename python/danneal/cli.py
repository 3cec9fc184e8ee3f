"""Command line: ``danneal demo`` and ``danneal cluster``."""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
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

EXIT_CODES = """\
exit status:
  0    success
  1    failure while running or writing the result (e.g. standard output closed early)
  2    usage or input error: bad option, --threads 0, FILE missing, a directory, malformed
       (.csv) or corrupt (.npy), data rejected (not square with --precomputed, NaN, k > n),
       output file not writable (checked before clustering)
  130  interrupted (Ctrl-C)
errors are reported as one line on standard error, never as a traceback
"""

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """Bad arguments or input: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line instead of argparse's usage block
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _threads_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value == 0 or value < -1:
        raise argparse.ArgumentTypeError(f"must be >= 1 (or -1 for all cores), got {value}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _seed_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be in [0, 2**32 - 1], got {value}")
    return value


def _read_matrix(path: str) -> np.ndarray:
    p = Path(path)
    if not p.exists():
        raise UsageError(f"FILE {path!r} does not exist")
    if p.is_dir():
        raise UsageError(f"FILE {path!r} is a directory, expected a .npy or .csv file")
    if p.suffix not in (".npy", ".csv", ".txt", ".gz"):
        raise UsageError(f"FILE {path!r}: expected a .npy or .csv (.txt, .gz) file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # numpy warns (and returns an empty array) on an empty file
            if p.suffix == ".npy":
                X = np.load(p, allow_pickle=False)
                if not isinstance(X, np.ndarray):
                    raise ValueError("expected one array (.npy), got an archive")
                return X
            delimiter = "," if ".csv" in p.name else None
            return np.loadtxt(p, delimiter=delimiter, ndmin=2)
    except PermissionError:
        raise UsageError(f"FILE {path!r} is not readable (permission denied)") from None
    except Exception as exc:  # malformed CSV, corrupt .npy, empty file, ...
        kind = "a valid .npy file" if p.suffix == ".npy" else "a numeric table"
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise UsageError(f"FILE {path!r} is not {kind}: {detail}") from None


def _check_output(path: str) -> None:
    """Fail before the (possibly long) clustering when the labels could not be written."""
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"-o {path!r} is a directory, expected a file name")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"-o {path!r}: directory {str(parent)!r} does not exist")
    if p.exists() and not os.access(p, os.W_OK):
        raise UsageError(f"-o {path!r} is not writable (permission denied)")
    if not p.exists() and not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"-o {path!r}: directory {str(parent)!r} is not writable (permission denied)")


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

    if args.output:
        _check_output(args.output)
    elif sys.stdout is None:
        raise UsageError("standard output is closed; write the labels with -o FILE")
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
    except (ValueError, TypeError) as exc:  # the data were rejected: an input error
        raise UsageError(" ".join(str(exc).split())) from None
    labels = model.labels_
    if args.output:
        try:
            np.savetxt(args.output, labels, fmt="%d")
        except OSError as exc:
            print(f"danneal: error: could not write {args.output!r}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_FAILURE
        print(f"wrote {n} labels to {args.output} (cost {model.cost_:.6g}, {len(model.history_)} temperatures)",
              file=sys.stderr)
    else:
        np.savetxt(sys.stdout, labels, fmt="%d")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="danneal", description=DESCRIPTION, epilog=EXIT_CODES,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser("demo", help="cluster scikit-learn's digits and compare with KMeans", epilog=EXIT_CODES,
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    demo.add_argument("--seed", type=_seed_arg, default=0, help="random seed (default 0)")
    demo.add_argument("--threads", type=_threads_arg, default=None, help="threads (default: all cores)")
    demo.add_argument("-v", "--verbose", action="count", default=0, help="print one line per temperature")
    demo.set_defaults(func=_demo)

    cl = sub.add_parser("cluster", help="cluster the objects in FILE and write their labels",
                        description="Cluster FILE (.npy or .csv) with PairwiseAnnealing. Rows are objects: "
                                    "feature vectors compared with --metric (default sqeuclidean, the k-means "
                                    "cost), or a square dissimilarity matrix with --precomputed.",
                        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    cl.add_argument("file", metavar="FILE", help=".npy or .csv file")
    cl.add_argument("-k", "--n-clusters", dest="k", type=_positive_int, required=True, help="number of clusters")
    g = cl.add_mutually_exclusive_group()
    g.add_argument("--metric", default="sqeuclidean",
                   help="any metric of sklearn.metrics.pairwise_distances (default sqeuclidean)")
    g.add_argument("--precomputed", action="store_true", help="FILE holds a square dissimilarity matrix")
    cl.add_argument("-o", "--output", help="write labels here (one per line); default: standard output")
    cl.add_argument("--seed", type=_seed_arg, default=0, help="random seed (default 0)")
    cl.add_argument("--threads", type=_threads_arg, default=None, help="threads (default: all cores)")
    cl.add_argument("--progress", action="store_true", help="print one line per temperature")
    cl.add_argument("-v", "--verbose", action="count", default=0, help="verbose annealing log")
    cl.set_defaults(func=_cluster)
    return parser


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    print(f"danneal: warning: {' '.join(str(message).split())}", file=sys.stderr if file is None else file)


def _stdout_closed() -> int:
    # the reader went away (``danneal ... | head``): nothing more can be written there; point the
    # descriptor at /dev/null so that the interpreter's final flush does not fail again
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, AttributeError, ValueError):
        pass
    print("danneal: error: standard output was closed before the labels were written", file=sys.stderr)
    return EXIT_FAILURE


def main(argv=None) -> int:
    """Run the command line; returns the exit status (documented in ``danneal --help``)."""
    parser = build_parser()
    args = parser.parse_args(argv)  # usage errors: one line, exit status 2
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_OK
    saved = warnings.showwarning
    warnings.showwarning = _one_line_warning
    try:
        status = args.func(args)
        if sys.stdout is not None:
            sys.stdout.flush()
        return status
    except UsageError as exc:
        print(f"danneal: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        return _stdout_closed()
    except KeyboardInterrupt:
        print("danneal: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except MemoryError:
        print("danneal: error: out of memory", file=sys.stderr)
        return EXIT_FAILURE
    except Exception as exc:  # never a traceback; the message and the exception's type suffice
        detail = " ".join(str(exc).split())
        print(f"danneal: error: {type(exc).__name__}: {detail}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        warnings.showwarning = saved


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
