"""Command line: ``danneal demo`` and ``danneal cluster`` (also ``python -m danneal``)."""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np

DESCRIPTION = """\
danneal: deterministic annealing for clustering and matching.

commands:
  demo      where annealing beats the usual tools, on built-in data (~15 s): one annealing run vs
            the best of 20 k-means++ starts; L1/cosine clustering vs agglomerative; Sinkhorn vs POT
            at a small regularisation; the phase diagram (saved as a figure with matplotlib)
  cluster   cluster the objects in FILE (.npy or .csv) with --method pairwise (default: feature
            vectors with --metric, or a square dissimilarity matrix with --precomputed), central
            (k-means cost; -k auto picks the number from the phase diagram) or clam; writes one
            label per line
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


def _pairwise_cost(D, labels):
    """Pairwise clustering cost sum_nu sum_{i,j in nu} D_ij / (2 n_nu) of a hard partition."""
    cost = 0.0
    for v in np.unique(labels):
        idx = np.flatnonzero(labels == v)
        cost += float(D[np.ix_(idx, idx)].sum()) / (2.0 * len(idx))
    return cost


def _cmp(a, b, lower="lower", higher="higher"):
    """The word for how ``a`` compares with ``b`` (claims are worded from the numbers, never assumed)."""
    return lower if a < b else higher if a > b else "equal to"


def _ratio(a, b):
    return f"{a / b:.4g}" if b else "inf"


def _demo(args) -> int:
    from sklearn.cluster import AgglomerativeClustering, KMeans
    from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
    from sklearn.metrics import adjusted_rand_score, pairwise_distances
    from sklearn.preprocessing import StandardScaler

    from ._pairwise import PairwiseAnnealing
    from ._sinkhorn import sinkhorn
    from .central import CentralAnnealing

    out = args.out or "danneal-demo.png"
    try:
        import matplotlib  # noqa: F401  (optional: the figure is skipped without it)

        have_mpl = True
        _check_output(out)
    except ImportError:
        have_mpl = False
    quick = args.quick
    nt, seed = args.threads, args.seed
    print(
        "danneal demo: where deterministic annealing beats the usual tools (built-in scikit-learn data;"
        + (" --quick: smaller problems;" if quick else "")
        + " times on this machine)"
    )
    claims = []

    # 1. one annealing run vs the best of many single k-means++ starts ------------------------
    X, y = load_digits(return_X_y=True)
    if quick:
        X, y = X[:400], y[:400]
    X = StandardScaler().fit_transform(X)
    k, n_starts = 10, (3 if quick else 20)
    print(
        f"\n[1] digits (standardised), n={X.shape[0]}, d={X.shape[1]}, k={k}: k-means cost (inertia, lower is better)"
    )
    t0 = time.perf_counter()
    da = CentralAnnealing(k, random_state=seed, n_threads=nt, verbose=args.verbose).fit(X)
    t_da = time.perf_counter() - t0
    da_cost = -da.score(X)
    t0 = time.perf_counter()
    kms = [KMeans(k, n_init=1, random_state=seed + s).fit(X) for s in range(n_starts)]
    t_km = time.perf_counter() - t0
    inertia = np.array([m.inertia_ for m in kms])
    best = kms[int(np.argmin(inertia))]
    print(f"    {'method':<38} {'cost':>11} {'ARI':>6} {'time [s]':>9}")
    print(
        f"    {'CentralAnnealing, one run':<38} {da_cost:>11.2f} "
        f"{adjusted_rand_score(y, da.labels_):>6.3f} {t_da:>9.2f}"
    )
    print(
        f"    {f'KMeans(n_init=1), best of {n_starts} seeds':<38} {inertia.min():>11.2f} "
        f"{adjusted_rand_score(y, best.labels_):>6.3f} {t_km:>9.2f}"
    )
    print(f"    {f'KMeans(n_init=1), median of {n_starts}':<38} {np.median(inertia):>11.2f}")
    beaten = int((inertia > da_cost).sum())
    claims.append(
        f"one CentralAnnealing run: cost {da_cost:.2f}, {_cmp(da_cost, inertia.min())} than the best of "
        f"{n_starts} k-means++ starts ({inertia.min():.2f}; ratio {_ratio(da_cost, inertia.min())}; "
        f"lower than {beaten} of {n_starts} starts) in {t_da / max(t_km, 1e-9):.2f}x their total time "
        f"({t_da:.2f} s vs {t_km:.2f} s)"
    )

    # 2. dissimilarities k-means cannot use ----------------------------------------------------
    print(
        "\n[2] dissimilarities k-means cannot minimise: pairwise cost sum_c sum_{i,j in c} D_ij / (2 n_c) "
        "(lower is better), ARI vs the true classes"
    )
    print(f"    {'data, dissimilarity':<26} {'method':<36} {'cost':>10} {'ARI':>6} {'time [s]':>9}")
    sets = [("breast cancer, L1", load_breast_cancer, True, "cityblock"), ("iris, cosine", load_iris, False, "cosine")]
    for name, loader, standardise, metric in sets:
        Xs, ys = loader(return_X_y=True)
        if standardise:
            Xs = StandardScaler().fit_transform(Xs)
        ks = len(np.unique(ys))
        D = pairwise_distances(Xs, metric=metric)
        rows = []
        t0 = time.perf_counter()
        if metric == "cosine":  # the feature-space path: D is never formed
            pa = PairwiseAnnealing(ks, metric="cosine", random_state=seed, n_threads=nt).fit(Xs)
            label = 'PairwiseAnnealing(metric="cosine")'
        else:
            pa = PairwiseAnnealing(ks, metric="precomputed", random_state=seed, n_threads=nt).fit(D)
            label = "PairwiseAnnealing(precomputed D)"
        rows.append((label, pa.labels_, time.perf_counter() - t0))
        t0 = time.perf_counter()
        ag = AgglomerativeClustering(ks, metric="precomputed", linkage="average").fit(D)
        rows.append(("AgglomerativeClustering(average)", ag.labels_, time.perf_counter() - t0))
        t0 = time.perf_counter()
        km = KMeans(ks, n_init=10, random_state=seed).fit(Xs)
        rows.append(("KMeans(n_init=10) labels", km.labels_, time.perf_counter() - t0))
        costs = []
        for i, (method, labels, t) in enumerate(rows):
            costs.append(_pairwise_cost(D, labels))
            head = f"{name} (k={ks})" if i == 0 else ""
            print(f"    {head:<26} {method:<36} {costs[-1]:>10.4g} {adjusted_rand_score(ys, labels):>6.3f} {t:>9.2f}")
        aris = [adjusted_rand_score(ys, r[1]) for r in rows]
        claims.append(
            f"{name}: PairwiseAnnealing cost {costs[0]:.4g}, {_cmp(costs[0], costs[1])} than "
            f"agglomerative ({costs[1]:.4g}, ratio {_ratio(costs[0], costs[1])}) and "
            f"{_cmp(costs[0], costs[2])} than k-means labels ({costs[2]:.4g}, ratio "
            f"{_ratio(costs[0], costs[2])}); ARI {aris[0]:.3f} vs {aris[1]:.3f} and {aris[2]:.3f}"
        )

    # 3. Sinkhorn at a small regularisation ------------------------------------------------------
    n = 100
    rng = np.random.default_rng(seed)
    xs, xt = rng.normal(size=(n, 2)), rng.normal(size=(n, 2)) + 1.0
    M = ((xs[:, None, :] - xt[None, :, :]) ** 2).sum(-1)
    M = M / M.max() + 8.0  # costs in [8, 9]: a constant offset leaves the optimal plan unchanged
    a = np.full(n, 1.0 / n)
    reg = 0.01
    print(f"\n[3] entropic optimal transport, {n}x{n}, costs in [8, 9], reg={reg} (exp(-cost/reg) underflows to 0)")
    t0 = time.perf_counter()
    P = sinkhorn(M, a, a, reg, n_threads=nt)
    t_s = time.perf_counter() - t0
    P0 = sinkhorn(M - 8.0, a, a, reg, n_threads=nt)
    err = float(np.abs(P.sum(axis=1) - a).sum() + np.abs(P.sum(axis=0) - a).sum())
    print(
        f"    danneal.sinkhorn: plan mass {P.sum():.6f}, marginal error {err:.2g}, NaN: {bool(np.isnan(P).any())}, "
        f"max |plan - plan without the offset| {np.abs(P - P0).max():.2g}, {t_s * 1e3:.1f} ms"
    )
    try:
        import ot
    except ImportError:
        print("    POT is not installed (pip install pot): the comparison with ot.sinkhorn is skipped")
    else:
        with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
            warnings.simplefilter("always")
            t0 = time.perf_counter()
            Q = np.asarray(ot.sinkhorn(a, a, M, reg))
            t_p = time.perf_counter() - t0
        qmass = float(np.nansum(Q))
        print(
            f"    POT ot.sinkhorn:  plan mass {qmass:.6f}, NaN: {bool(np.isnan(Q).any())}, "
            f"{len(caught)} warning(s), {t_p * 1e3:.1f} ms"
        )
        claims.append(
            f"Sinkhorn at reg={reg} on costs in [8, 9]: danneal's plan has mass {P.sum():.4f} (marginal "
            f"error {err:.1g}), POT's has mass {qmass:.4g}"
            + (" with NaN" if np.isnan(Q).any() else "")
            + f" and {len(caught)} warning(s)"
        )

    # 4. the phase diagram: how many clusters the data support -----------------------------------
    Xw, yw = load_wine(return_X_y=True)
    Xw = StandardScaler().fit_transform(Xw)
    t0 = time.perf_counter()
    ph = CentralAnnealing("auto", random_state=seed, n_threads=nt).fit(Xw)
    t_ph = time.perf_counter() - t0
    kw = len(np.unique(yw))
    print(
        f"\n[4] wine (standardised), n={Xw.shape[0]}, d={Xw.shape[1]}, {kw} cultivars: "
        f'CentralAnnealing(n_clusters="auto"), {t_ph:.2f} s'
    )
    steps = ", ".join(f"K={e['n_clusters']} at T={e['T_start']:.3g}" for e in ph.path_[:5])
    print(f"    phase transitions as T falls: {steps}, ...")
    ari_ph = adjusted_rand_score(yw, ph.labels_)
    print(
        f"    chosen K={ph.n_clusters_} ({'equal to' if ph.n_clusters_ == kw else 'not'} the {kw} cultivars), "
        f"ARI {ari_ph:.3f}"
    )
    claims.append(
        f"wine: the phase diagram chose K={ph.n_clusters_} without being told "
        f"(true number of cultivars {kw}; ARI {ari_ph:.3f})"
    )
    if have_mpl:
        from .plot import phase_diagram

        ax, _ = phase_diagram(ph)
        ax.set_title("danneal demo: wine, CentralAnnealing(n_clusters='auto')")
        ax.figure.savefig(out, dpi=100, bbox_inches="tight")
        import matplotlib.pyplot as plt

        plt.close(ax.figure)
        print(f"    figure (distortion and K vs temperature) saved to {out}")
    else:
        print("    matplotlib is not installed (pip install 'danneal[plot]'): the figure is skipped")

    print("\nclaims (computed above, on this run):")
    for i, c in enumerate(claims, 1):
        print(f"  {i}. {c}")
    return 0


def _cluster(args) -> int:
    from ._clam import ClAM
    from ._pairwise import PairwiseAnnealing
    from .central import CentralAnnealing

    method = args.method
    if method != "pairwise":
        if args.precomputed:
            raise UsageError(f"--precomputed needs --method pairwise (--method {method} clusters feature vectors)")
        if args.metric is not None:
            raise UsageError(f"--metric needs --method pairwise (--method {method} uses squared Euclidean distances)")
    if args.k == "auto" and method != "central":
        raise UsageError(f"-k auto needs --method central, got --method {method}")
    if args.output:
        _check_output(args.output)
    elif sys.stdout is None:
        raise UsageError("standard output is closed; write the labels with -o FILE")
    X = _read_matrix(args.file)
    if X.ndim != 2:
        raise UsageError(
            f"FILE {args.file!r} holds a {X.ndim}-D array of shape {X.shape}; expected a 2-D table (one row per object)"
        )
    if X.dtype.kind not in "biuf":
        raise UsageError(f"FILE {args.file!r} holds {X.dtype} values; expected numbers")
    metric = "precomputed" if args.precomputed else (args.metric or "sqeuclidean")
    n = X.shape[0]
    verbose = args.verbose
    if not verbose and n >= 2000 and sys.stderr.isatty():
        verbose = 1

    def progress(rec):  # one line per temperature (the callback convention: never asks to stop)
        if args.progress:
            cost = rec["cost"] if "cost" in rec else rec["distortion"]
            extra = f" hardness={rec['hardness']:.4f}" if "hardness" in rec else f" K={rec['n_clusters']}"
            print(f"T={rec['T']:.4g} cost={cost:.6g}{extra}", file=sys.stderr, flush=True)
        return False

    try:
        if method == "pairwise":
            model = PairwiseAnnealing(
                args.k,
                metric=metric,
                random_state=args.seed,
                n_threads=args.threads,
                verbose=verbose,
                callback=progress,
            )
        elif method == "central":
            model = CentralAnnealing(
                args.k, random_state=args.seed, n_threads=args.threads, verbose=verbose, callback=progress
            )
        else:
            model = ClAM(args.k, random_state=args.seed, n_threads=args.threads, verbose=verbose)
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
        print(f"wrote {n} labels to {args.output} ({_summary(model)})", file=sys.stderr)
    else:
        np.savetxt(sys.stdout, labels, fmt="%d")
    return 0


def _summary(model) -> str:
    """One line about a fitted model for ``danneal cluster -o``."""
    name = type(model).__name__
    if name == "PairwiseAnnealing":
        return f"cost {model.cost_:.6g}, {len(model.history_)} temperatures"
    if name == "CentralAnnealing":
        n_temperatures = len(model.history_["T"])
        return f"{model.n_clusters_} clusters, k-means cost {model.inertia_:.6g}, {n_temperatures} temperatures"
    return f"loss {model.loss_curve_[-1]:.6g}, {model.n_iter_} epochs" if len(model.loss_curve_) else name


def _k_arg(text: str):
    if text == "auto":
        return "auto"
    return _positive_int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="danneal", description=DESCRIPTION, epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    from ._version import __version__

    parser.add_argument("-V", "--version", action="version", version=f"danneal {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="why danneal: a short comparison on built-in data, and a figure",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument("--seed", type=_seed_arg, default=0, help="random seed (default 0)")
    demo.add_argument("--threads", type=_threads_arg, default=None, help="threads (default: all cores)")
    demo.add_argument("-v", "--verbose", action="count", default=0, help="print one line per temperature")
    demo.add_argument(
        "-o",
        "--out",
        default=None,
        help="where to save the figure (default: danneal-demo.png in the current directory; "
        "skipped when matplotlib is missing)",
    )
    demo.add_argument("--quick", action="store_true", help="smaller problems (seconds; for tests)")
    demo.set_defaults(func=_demo)

    cl = sub.add_parser(
        "cluster",
        help="cluster the objects in FILE and write their labels",
        description=textwrap.fill(
            "Cluster FILE (.npy or .csv). Rows are objects. --method pairwise "
            "(PairwiseAnnealing, the default): feature vectors compared with --metric "
            "(default sqeuclidean, the k-means cost), or a square dissimilarity matrix "
            "with --precomputed. --method central (CentralAnnealing): feature vectors, "
            "k-means cost; -k auto chooses the number of clusters. --method clam (ClAM): "
            "feature vectors, prototypes trained by associative-memory dynamics.",
            100,
        ),
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cl.add_argument("file", metavar="FILE", help=".npy or .csv file")
    cl.add_argument(
        "-k",
        "--n-clusters",
        dest="k",
        type=_k_arg,
        required=True,
        help="number of clusters ('auto' with --method central)",
    )
    cl.add_argument(
        "--method",
        choices=("pairwise", "central", "clam"),
        default="pairwise",
        help="PairwiseAnnealing (default), CentralAnnealing or ClAM",
    )
    g = cl.add_mutually_exclusive_group()
    g.add_argument(
        "--metric",
        default=None,
        help="--method pairwise: any metric of sklearn.metrics.pairwise_distances (default sqeuclidean)",
    )
    g.add_argument("--precomputed", action="store_true", help="FILE holds a square dissimilarity matrix")
    cl.add_argument("-o", "--output", help="write labels here (one per line); default: standard output")
    cl.add_argument("--seed", type=_seed_arg, default=0, help="random seed (default 0)")
    cl.add_argument("--threads", type=_threads_arg, default=None, help="threads (default: all cores)")
    cl.add_argument("--progress", action="store_true", help="print one line per temperature (pairwise, central)")
    cl.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="progress on standard error: phases and steps with the time left",
    )
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
