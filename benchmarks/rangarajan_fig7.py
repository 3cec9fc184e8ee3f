"""Rangarajan (2000), Sec. 7: DA, self annealing, relaxation labeling, exponentiated RL and the chi-squared update.

Reproduces the experiments of A. Rangarajan, "Self annealing and self annihilation: unifying
deterministic annealing and relaxation labeling", Pattern Recognition 33, 2000 (Sec. 6-7):

* ``7a`` (Fig. 7a) random QAPs.  ``--generator paper`` (default; Sec. 7): C (N^2 x N^2) i.i.d.
  Gaussian, symmetrised (C + C^T)/2; with R = P (x) P, P = I - 11^T/N, and lambda = lambda_min(R C R):
  C <- C - lambda I + gamma I, positive definite on the constraint subspace.  ``--generator kron``
  (the previous, *not* the paper's, variant kept for comparison): C = G (x) g (Kronecker product of
  two random symmetric N x N matrices), projected onto the subspace (C <- R C R) and shifted there.
* ``7b`` (Fig. 7b) random QWTAs (quadratic winner-take-all, rows sum to 1): the same generator with
  R = I (x) P (the subspace of one set of constraints), canonical relaxation labeling (row
  normalisation).
* ``8a`` (Fig. 8a) self annealing on QAPs with N from 2 to 25: median energy against alpha,
  normalised by its value at log10 alpha = -1, per N.
* ``6`` (Figs. 5-6) a 50-node linear assignment with ties: the permutation norm sum M(1-M)/N of
  relaxation labeling (keeps the ties) and of relaxation labeling with self annihilation (breaks them).

The benefit is E(M) = 1/2 m^T C m (m = vec M, row-major), maximised over doubly stochastic M
(Sinkhorn) or row-stochastic M (QWTA), with step parameter alpha:

* DA: deterministic annealing with the linear schedule beta_k = k alpha, one fixed point per beta;
* SA: self annealing, M <- normalise(sigma * exp(alpha Q(M))) to a fixed point, then sigma <- M;
* RL: relaxation labeling, M <- normalise(M * (1 + alpha Q)) (Sinkhorn for the QAP, as the paper's
  "souped up" RL; row normalisation for the QWTA, the canonical RL), stopped once 1 + alpha Q turns
  negative, as in the paper (``positivity="stop"``; the column 'RL stop%' counts those runs, 'X2 stop%'
  likewise for X2);
* ER: exponentiated relaxation, M <- normalise(M * exp(alpha Q)), one step per alpha;
* X2: the chi-squared multiplicative update (eq. 40, reconstructed from eqs. 36-39: the KL
  proximal term of self annealing replaced by its chi-squared expansion, the multipliers solved
  exactly), also stopped when an entry turns non-positive.

All methods start from the uniform matrix (the paper's initial condition; with ``kron``, where it is
a fixed point, from a slightly perturbed one) and use the paper's
stopping rules (permutation norm < 1e-3, or every row dominated by one entry > 1 - 1e-3) with at
most 1000 steps.  C is scaled so that the uniform fixed point of the softmax/softassign turns
unstable at beta = 1 (the paper does not say how it scales C; the alpha grid is relative to this).
The final M is rounded (Hungarian for the QAP, row argmax for the QWTA); the energy of that
permutation relative to the best one any method found on the same instance is reported (median
over runs; 1 = best).  The paper's alpha grid (log alpha in steps of 0.1) is unreadable in the
extracted text: log10 alpha in [-1.5, 1] here.

Default: small (N = 6, 4 runs, 6 alphas; seconds).  ``--full``: N = 8, 100 runs, log10 alpha from
-1.5 to 1 in steps of 0.1, Fig. 8a for every N from 2 to 25 (hours on 2 cores; ``--runs``,
``--alphas``, ``--sizes`` and ``--only`` choose a part).  Writes benchmarks/out/rangarajan_fig7.md and
.png (all panels run) and rangarajan_fig7_<part>.png (one per part; docs/softassign.md shows them).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from _common import header, table
from scipy.optimize import linear_sum_assignment

import danneal

OUT = Path(__file__).resolve().parent / "out"
QAP_METHODS = {
    "DA": "graduated",
    "SA": "self_annealing",
    "RL": "relaxation_labeling",
    "ER": "exponentiated_relaxation",
    "X2": "chi_squared",
}


def _scaled(C, R, N):
    """C scaled so that the uniform softassign/softmax fixed point turns unstable at beta = 1."""
    return C * (N / np.linalg.eigvalsh(R @ C @ R).max())


def instance_paper(rng, N, gamma=0.05, one_way=False):
    """The paper's generator (Sec. 7): symmetrised i.i.d. Gaussian C, shifted by lambda_min(R C R);
    R = P (x) P (QAP) or I (x) P (QWTA: one set of constraints, the rows of M)."""
    n2 = N * N
    C = rng.standard_normal((n2, n2))
    C = (C + C.T) / 2
    J = np.eye(N) - 1.0 / N
    R = np.kron(np.eye(N), J) if one_way else np.kron(J, J)
    lam = np.linalg.eigvalsh(R @ C @ R).min()
    C = C + (-lam + gamma) * np.eye(n2)
    return _scaled(C, R, N)


def instance_kron(rng, N, gamma=0.05):
    """The previous generator (not the paper's): C = G (x) g projected and shifted on the subspace."""
    G = rng.standard_normal((N, N))
    g = rng.standard_normal((N, N))
    G, g = (G + G.T) / 2, (g + g.T) / 2
    J = np.eye(N) - 1.0 / N
    P = np.kron(J, J)
    C = P @ np.kron(G, g) @ P
    lam = np.linalg.eigvalsh(C)  # on the subspace (P has rank (N-1)^2), the rest are zeros
    C = C + (max(-lam.min(), 0.0) + gamma) * P
    return _scaled(C, P, N)


def run(C, N, method, alpha, *, constraint="doubly_stochastic", max_steps=1000, M0=None):
    """One run from M0 (default uniform); returns (energy of the rounded M, stopped by positivity)."""

    def qfun(M):
        return (C @ M.ravel()).reshape(N, N)

    opts = {
        "alpha": alpha,
        "max_iter": max_steps,
        "hard_tol": 1e-3,
        "perm_norm_tol": 1e-3,
        "inner_max_iter": 30,
        "inner_tol": 1e-6,
        "sinkhorn_max_iter": 200,
        "sinkhorn_tol": 1e-9,
        "positivity": "stop",
    }
    if method == "graduated":
        opts["betas"] = alpha * np.arange(1, max_steps + 1)
    res = danneal.assignment_annealing(
        qfun,
        (N, N),
        constraint=constraint,
        method=method,
        M0=np.full((N, N), 1.0 / N) if M0 is None else M0,
        options=opts,
        n_threads=1,
    )
    if constraint == "wta":
        col = res.M.argmax(axis=1)
    else:
        _, col = linear_sum_assignment(-res.M)
    H = np.zeros((N, N))
    H[np.arange(N), col] = 1
    return 0.5 * float(H.ravel() @ C @ H.ravel()), res.stopped == "positivity"


def compare(make, N, runs, alphas, rng, constraint, perturb=False):
    """Median E/E_best per method and alpha over ``runs`` instances (Fig. 7a/b).  ``perturb``: start
    near the uniform matrix (the kron generator has C 1 = 0, so the uniform matrix is a fixed point)."""
    rel = {k: np.zeros((runs, len(alphas))) for k in QAP_METHODS}
    raw = {k: np.zeros((runs, len(alphas))) for k in QAP_METHODS}
    stops = {"RL": np.zeros(len(alphas)), "X2": np.zeros(len(alphas))}
    for r in range(runs):
        C = make(rng, N)
        M0 = danneal.softassign(1e-2 * rng.standard_normal((N, N)), 1.0) if perturb else None
        for k, m in QAP_METHODS.items():
            for j, a in enumerate(alphas):
                raw[k][r, j], neg = run(C, N, m, a, constraint=constraint, M0=M0)
                if k in stops:
                    stops[k][j] += neg
        best = max(v[r].max() for v in raw.values())
        for k in QAP_METHODS:
            rel[k][r] = raw[k][r] / best
    rows = []
    for j, a in enumerate(alphas):
        row = {"alpha": float(a)}
        for k in QAP_METHODS:
            row[k] = float(np.median(rel[k][:, j]))
        for k, v in stops.items():
            row[f"{k} stop%"] = 100.0 * v[j] / runs
        row["SA median E"] = float(np.median(raw["SA"][:, j]))
        row["DA median E"] = float(np.median(raw["DA"][:, j]))
        rows.append(row)
    return rows, {k: np.median(rel[k], axis=0) for k in QAP_METHODS}


def fig8a(sizes, runs, alphas, rng):
    """Self annealing: median energy per N, normalised at log10 alpha = -1."""
    j_ref = int(np.argmin(np.abs(np.log10(alphas) + 1.0)))
    rows, curves = [], {}
    for N in sizes:
        E = np.array(
            [[run(C, N, "self_annealing", a)[0] for a in alphas] for C in (instance_paper(rng, N) for _ in range(runs))]
        )
        med = np.median(E, axis=0)
        curve = med / med[j_ref]
        curves[N] = curve
        rows.append({"N": N, **{f"{a:.3g}": float(c) for a, c in zip(alphas, curve)}})
    return rows, curves


def ties(rng, N=50, steps=1000):
    """Figs. 5-6: a linear assignment with ties; permutation norm sum M(1-M)/N over the iterations."""
    B = rng.uniform(size=(N, N))
    B[:, 1::2] = B[:, 0::2]  # columns 2k and 2k+1 identical: every optimal permutation has 2^(N/2) twins
    M0 = danneal.softassign(1e-3 * rng.standard_normal((N, N)), 1.0, tol=1e-14)
    out, curves = [], {}
    for label, method, extra in [
        ("RL", "relaxation_labeling", {}),
        ("RL + self annihilation", "relaxation_labeling_annihilation", {"delta": -1.0}),
        ("SA", "self_annealing", {}),
        ("self annihilation", "self_annihilation", {"delta": -1.0}),
        ("X2", "chi_squared", {}),
    ]:
        pn = []
        opts = {
            "alpha": 0.5,
            "max_iter": steps,
            "hard_tol": 1e-9,
            "sinkhorn_max_iter": 200,
            "sinkhorn_tol": 1e-9,
            "inner_max_iter": 30,
            "inner_tol": 1e-6,
            "positivity": "stop",
            **extra,
            "callback": lambda M, info: pn.append(float(np.sum(M * (1 - M))) / N),
        }
        res = danneal.assignment_annealing(lambda M: B, (N, N), method=method, M0=M0, options=opts, n_threads=1)
        _, col = linear_sum_assignment(-res.M)
        opt = B[linear_sum_assignment(-B)].sum()
        curves[label] = np.maximum(np.array(pn), 1e-16)  # below ~1e-16 it is rounding noise
        out.append(
            {
                "method": label,
                "steps": res.nit,
                "final perm norm": pn[-1] if pn else float("nan"),
                "energy of rounded M / optimum": float(B[np.arange(N), col].sum() / opt),
                "stopped": res.stopped,
            }
        )
    return out, curves


def plot(panels, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover
        print("(matplotlib not installed: no plot)")
        return
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), squeeze=False)
    for ax, (title, (xlabel, ylabel, series, logx, logy)) in zip(axes[0], panels.items()):
        for label, (x, y) in series.items():
            ax.plot(x, y, label=str(label), marker="o" if len(x) < 40 else None, ms=3)
        ax.set_xscale("log" if logx else "linear")
        ax.set_yscale("log" if logy else "linear")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"plot: {path}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="the paper's sizes: 100 runs, 26 alphas, N 2..25 (hours)")
    ap.add_argument("-N", type=int, default=None, help="size of Fig. 7a/b problems (default 6, --full 8)")
    ap.add_argument("--runs", type=int, default=None, help="instances per alpha (default 4, --full 100)")
    ap.add_argument("--alphas", type=int, default=None, help="number of log-spaced alphas in [10^-1.5, 10]")
    ap.add_argument("--sizes", default=None, help="Fig. 8a sizes, e.g. 2,4,8 (default 2,4,6,8; --full 2..25)")
    ap.add_argument("--only", default="7a,7b,8a,6", help="comma list of 7a, 7b, 8a, 6")
    ap.add_argument(
        "--generator",
        choices=["paper", "kron"],
        default="paper",
        help="Fig. 7a generator: paper (Sec. 7, default) or kron (the previous variant)",
    )
    args = ap.parse_args()
    N = args.N or (8 if args.full else 6)
    runs = args.runs or (100 if args.full else 4)
    n_alpha = args.alphas or (26 if args.full else 6)
    alphas = 10.0 ** np.round(np.linspace(-1.5, 1.0, n_alpha), 6)
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else list(range(2, 26)) if args.full else [2, 4, 6, 8]
    only = set(args.only.split(","))
    print(
        header(
            f"Rangarajan (2000) Sec. 7: N={N}, {runs} runs, {n_alpha} alphas, generator {args.generator}, "
            f"parts {sorted(only)}"
        )
    )
    rng = np.random.default_rng(2000)
    OUT.mkdir(exist_ok=True)
    md, panels, parts = [], {}, []
    t0 = time.perf_counter()
    if "7a" in only:
        make = instance_paper if args.generator == "paper" else instance_kron
        rows, curves = compare(make, N, runs, alphas, rng, "doubly_stochastic", perturb=args.generator == "kron")
        md += [
            f"#### Fig. 7a: QAP, N = {N}, {runs} runs, generator {args.generator} "
            "(median E/E_best; 'median E' = 1/2 m^T C m)",
            table(rows),
        ]
        parts.append("7a")
        panels[f"7a QAP (N={N}, {runs} runs, {args.generator})"] = (
            "alpha",
            "median E / E_best",
            {k: (alphas, v) for k, v in curves.items()},
            True,
            False,
        )
    if "7b" in only:
        rows, curves = compare(lambda r, n: instance_paper(r, n, one_way=True), N, runs, alphas, rng, "wta")
        md += [f"#### Fig. 7b: QWTA, N = {N}, {runs} runs (canonical RL: row normalisation)", table(rows)]
        parts.append("7b")
        panels[f"7b QWTA (N={N}, {runs} runs)"] = (
            "alpha",
            "median E / E_best",
            {k: (alphas, v) for k, v in curves.items()},
            True,
            False,
        )
    if "8a" in only:
        rows, curves = fig8a(sizes, runs, alphas, rng)
        md += [
            f"#### Fig. 8a: self annealing, median energy normalised at log10 alpha = -1, {runs} runs per N",
            table(rows),
        ]
        parts.append("8a")
        panels[f"8a SA, N = {sizes[0]}..{sizes[-1]}"] = (
            "alpha",
            "median E / median E(alpha=0.1)",
            {f"N={n}": (alphas, c) for n, c in curves.items()},
            True,
            False,
        )
    if "6" in only:
        rows, curves = ties(rng)
        md += ["#### Figs. 5-6: 50-node assignment with ties (alpha = 0.5, delta = -1)", table(rows)]
        parts.append("6")
        panels["5-6 AP with ties: permutation norm"] = (
            "iteration",
            "sum M(1-M)/N",
            {k: (np.arange(1, len(v) + 1), v) for k, v in curves.items()},
            False,
            True,
        )
    text = "\n\n".join(md)
    print(text)
    print(f"({time.perf_counter() - t0:.1f} s)")
    name = "rangarajan_fig7" if args.generator == "paper" else "rangarajan_fig7_kron"
    (OUT / f"{name}.md").write_text(text + "\n")
    plot(panels, OUT / f"{name}.png")
    for part, (title, panel) in zip(parts, panels.items()):  # one figure per part too (the docs show them)
        plot({title: panel}, OUT / f"{name}_{part}.png")


if __name__ == "__main__":
    main()
