"""Rangarajan (2000), Sec. 7 / Fig. 7: DA vs self annealing vs relaxation labeling vs exponentiated RL on random QAPs.

Random quadratic assignment benefits.  ``--generator paper`` (default; the paper's Sec. 7 as docs/softassign.md
read correctly): C^ (N^2 x N^2) i.i.d. Gaussian, symmetrised (C^ + C^T)/2; with R = P (x) P,
P = I - 11^T/N, and lambda = lambda_min(R C^ R): C = C^ - lambda I + gamma I, positive definite on the
constraint subspace.  ``--generator kron`` (the previous, *not* the paper's, variant kept for
comparison): C = G (x) g (Kronecker product of two random symmetric N x N matrices), projected onto
the constraint subspace (C <- R C R) and shifted there by its smallest eigenvalue plus gamma.  Both
are scaled so that the uniform fixed point turns unstable at beta = 1 (the paper does not say how it
scales C; the alpha grid is relative to this).  The benefit is E(M) = 1/2 m^T C m (m = vec M); every
method maximises E over doubly stochastic M (Sinkhorn) with step parameter alpha:

* DA: graduated assignment with the linear schedule beta_k = k * alpha, one fixed point per beta;
* SA: self annealing, M <- Sinkhorn(sigma * exp(alpha Q(M))) to a fixed point, then sigma <- M;
* RL: relaxation labeling, M <- Sinkhorn(M * (1 + alpha Q)) (Q shifted to be >= 0, so 1 + alpha Q never
  turns negative: the paper stops RL when it does instead);
* ER: exponentiated relaxation, M <- Sinkhorn(M * exp(alpha Q)).

All methods start from the same slightly perturbed uniform matrix (the uniform one is a fixed
point of all of them, since C m = 0 there).  The final M is rounded with the Hungarian method; the energy of that permutation, relative to the
best permutation any method found on the same instance, is reported (median over runs; 1 = best).
Expected (paper): self annealing best at intermediate alpha; SA close to DA at larger alpha.
Default: N = 8, 15 runs, 7 alphas (about a minute); --full: 100 runs, 10 alphas.
Writes benchmarks/out/rangarajan_fig7.png and .md (rangarajan_fig7_kron.* for the kron generator).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from _common import header, plot_lines, table

import danneal

OUT = Path(__file__).resolve().parent / "out"
METHODS = {"DA": "graduated", "SA": "self_annealing", "RL": "relaxation_labeling", "ER": "exponentiated_relaxation"}


def instance_paper(rng, N, gamma=0.05):
    """The paper's generator (Sec. 7; docs/softassign.md): symmetrised i.i.d. Gaussian C^, shifted by lambda_min(R C^ R)."""
    n2 = N * N
    C = rng.standard_normal((n2, n2))
    C = (C + C.T) / 2
    J = np.eye(N) - 1.0 / N
    R = np.kron(J, J)
    lam = np.linalg.eigvalsh(R @ C @ R).min()
    C = C + (-lam + gamma) * np.eye(n2)
    return C * (N / np.linalg.eigvalsh(R @ C @ R).max())


def instance(rng, N, gamma=0.05):
    """The previous generator (not the paper's): C = G (x) g projected and shifted on the subspace."""
    G = rng.standard_normal((N, N))
    g = rng.standard_normal((N, N))
    G, g = (G + G.T) / 2, (g + g.T) / 2
    C = np.kron(G, g)
    J = np.eye(N) - 1.0 / N
    P = np.kron(J, J)
    C = P @ C @ P
    lam = np.linalg.eigvalsh(C)  # on the subspace (P has rank (N-1)^2), the rest are zeros
    C = C + (max(-lam.min(), 0.0) + gamma) * P
    return C * (N / np.linalg.eigvalsh(C).max())  # uniform fixed point turns unstable at beta = 1


def run(C, N, method, alpha, max_steps, M0):
    def qfun(M):
        Q = (C @ M.ravel()).reshape(N, N)
        return Q - Q.min()  # constant on the constraint set; keeps 1 + alpha Q > 0 for RL

    opts = {"alpha": alpha, "max_iter": max_steps, "hard_tol": 1e-3, "inner_max_iter": 30, "inner_tol": 1e-6,
            "sinkhorn_max_iter": 200, "sinkhorn_tol": 1e-9}
    if method == "graduated":
        opts["betas"] = alpha * np.arange(1, max_steps + 1)
    res = danneal.assignment_annealing(qfun, (N, N), method=method, M0=M0, options=opts, n_threads=1)
    _, col = linear_sum_assignment(-res.M)
    H = np.zeros((N, N))
    H[np.arange(N), col] = 1
    return 0.5 * float(H.ravel() @ C @ H.ravel()), res.nit


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true")
    ap.add_argument("-N", type=int, default=8)
    ap.add_argument("--generator", choices=["paper", "kron"], default="paper",
                    help="paper: the reading of Sec. 7 in docs/softassign.md (default); kron: the previous variant")
    args = ap.parse_args()
    make = instance_paper if args.generator == "paper" else instance
    runs = 100 if args.full else 15
    alphas = np.logspace(-1.5, 1, 10 if args.full else 7)
    max_steps = 1000
    rng = np.random.default_rng(2000)
    print(header(f"Rangarajan (2000) Sec. 7: random QAP, N={args.N}, {runs} runs, generator {args.generator}"))
    t0 = time.perf_counter()
    rel = {k: np.zeros((runs, len(alphas))) for k in METHODS}
    for r in range(runs):
        C = make(rng, args.N)
        # the uniform matrix is a fixed point of every method (Q = C m = 0 there): start near it
        M0 = danneal.softassign(1e-2 * rng.standard_normal((args.N, args.N)), 1.0)
        E = {k: [run(C, args.N, m, a, max_steps, M0)[0] for a in alphas] for k, m in METHODS.items()}
        best = max(max(v) for v in E.values())
        for k in METHODS:
            rel[k][r] = np.array(E[k]) / best
    rows = []
    for j, a in enumerate(alphas):
        row = {"alpha": float(a)}
        for k in METHODS:
            row[f"{k} median E/E_best"] = float(np.median(rel[k][:, j]))
            row[f"{k} mean"] = float(np.mean(rel[k][:, j]))
        rows.append(row)
    md = table(rows)
    print(md)
    print(f"({time.perf_counter() - t0:.1f} s)")
    OUT.mkdir(exist_ok=True)
    name = "rangarajan_fig7" if args.generator == "paper" else "rangarajan_fig7_kron"
    (OUT / f"{name}.md").write_text(md)
    plot_lines({k: (alphas, np.median(rel[k], axis=0)) for k in METHODS}, name=name, xlabel="alpha",
               ylabel="median energy / best energy found", logx=True, figsize=(6, 4), marker="o",
               title=f"Random QAP (N={args.N}, {runs} runs, {args.generator}), cf. Rangarajan 2000 Fig. 7")


if __name__ == "__main__":
    main()
