"""Reference twins for the softassign kernels: plain numpy, written for clarity (docs/design.md §2).

Same names and argument order as the compiled kernels in ``danneal._core``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["sinkhorn_log", "qap_fixed_point", "qap_2opt"]


def _lse(x, axis):
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    return np.squeeze(m, axis=axis) + np.log(np.sum(np.exp(x - m), axis=axis))


def sinkhorn_log(C, scale, a, b, alpha0, beta0, max_iter, tol, norm, n_threads=1):
    """Log-domain Sinkhorn for ``K = exp(scale * C)`` (twin of ``_core.sinkhorn_log``).

    One iteration: ``alpha = log a - LSE_j(scale C + beta)``, then ``beta = log b - LSE_i(scale C + alpha)``.
    The error of a state is the row-marginal violation (``norm`` 0: max, 2: l2); the loop stops as soon
    as it is ``< tol`` (checked before each iteration and at the end), or after ``max_iter`` iterations.
    Returns ``(P, alpha, beta, status)``.

    Written for clarity, not range: the plan is ``exp(scale C + alpha + beta)``, whose rounding grows
    with ``|scale C|`` (the duals then cancel it), so compare it with the kernel for ``|scale C|`` well
    below ``1/eps`` (the kernel keeps the scalings apart from the duals and has no such limit).
    """
    logK = scale * np.asarray(C, dtype=np.float64)
    loga, logb = np.log(a), np.log(b)
    alpha = np.array(alpha0, dtype=np.float64)
    beta = np.array(beta0, dtype=np.float64)

    def error():
        r = np.exp(alpha + _lse(logK + beta[None, :], 1))
        d = np.abs(r - a)
        return float(d.max()) if norm == 0 else float(np.sqrt(np.sum(d * d)))

    it, converged = 0, False
    while True:
        err = error()
        if err < tol:
            converged = True
            break
        if it >= max_iter:
            break
        alpha = loga - _lse(logK + beta[None, :], 1)
        beta = logb - _lse(logK + alpha[:, None], 0)
        it += 1
    P = np.exp(logK + alpha[:, None] + beta[None, :]).astype(np.asarray(C).dtype)
    status = {"converged": converged, "numerical_error": False, "iterations": it, "error": err}
    return P, alpha, beta, status


def qap_fixed_point(A, B, E, c, gamma, beta, M0, max_inner, inner_tol, sinkhorn_iter, alpha0, beta0):
    """Softassign fixed point for the QAP at one ``beta`` (twin of ``_core.qap_fixed_point``).

    ``Q = c (A M B^T + A^T M B) + gamma M + E``; ``M <- sinkhorn_log(Q, beta, ...)`` with ``sinkhorn_iter``
    iterations warm-started from the duals, until ``max |dM| < inner_tol`` or ``max_inner`` steps.
    """
    A = np.asarray(A, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    M = np.array(M0, dtype=np.float64)
    n = A.shape[0]
    ones = np.ones(n)
    al, be = np.array(alpha0, dtype=np.float64), np.array(beta0, dtype=np.float64)
    change, it, converged = np.inf, 0, False
    while it < max_inner:
        Q = c * (A @ M @ B.T + A.T @ M @ B) + gamma * M
        if E is not None:
            Q = Q + E
        P, al, be, _ = sinkhorn_log(Q, beta, ones, ones, al, be, sinkhorn_iter, 0.0, 0)
        change = float(np.abs(P - M).max())
        M = P
        it += 1
        if change < inner_tol:
            converged = True
            break
    status = {"converged": converged, "numerical_error": False, "iterations": it, "error": change}
    return M.astype(np.asarray(M0).dtype), al, be, status


def qap_2opt(A, B, perm, maximize, max_passes):
    """First-improvement 2-opt for ``sum_ij A[i, j] B[perm[i], perm[j]]`` (twin of ``_core.qap_2opt``).

    Scans pairs ``r < s`` in order and applies every swap that lowers (raises, if ``maximize``) the
    objective by more than a relative 1e-12; stops after a scan without swaps or ``max_passes`` scans.
    Returns ``(perm, n_swaps)``.
    """
    A = np.asarray(A, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    p = np.array(perm, dtype=np.int64)
    n = len(p)
    sgn = -1.0 if maximize else 1.0
    thr = -1e-12 * max(np.abs(A).max() * np.abs(B).max() * n, 1e-300)

    def f(q):
        return float(np.sum(A * B[np.ix_(q, q)]))

    swaps = 0
    for _ in range(max_passes):
        made = 0
        for r in range(n):
            for s in range(r + 1, n):
                q = p.copy()
                q[r], q[s] = q[s], q[r]
                if sgn * (f(q) - f(p)) < thr:
                    p = q
                    made += 1
        swaps += made
        if made == 0:
            break
    return p, swaps
