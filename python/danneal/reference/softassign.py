"""Reference twins for the softassign kernels: plain numpy, written for clarity (docs/design.md).

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

    Written for clarity, not range: the plan is ``exp(scale C + alpha + beta)``, whose rounding grows
    with ``|scale C|`` (the duals then cancel it), so compare it with the kernel for ``|scale C|`` well
    below ``1/eps`` (the kernel keeps the scalings apart from the duals and has no such limit).

    Parameters
    ----------
    C : array of shape (n, m)
        Cost (or benefit); the kernel is ``exp(scale * C)``.
    scale : float
        ``-1/reg`` for a cost, ``beta`` for a benefit.
    a, b : arrays of shape (n,), (m,)
        Positive marginals with equal sums.
    alpha0, beta0 : arrays of shape (n,), (m,)
        Starting log-domain duals (zeros: a cold start).
    max_iter : int
        Most iterations.
    tol : float
        Stop when the row-marginal violation is below it.
    norm : {0, 2}
        0: max norm, 2: l2 norm of the violation.
    n_threads : int
        Ignored (the twin is serial); kept for the kernel's argument order.

    Returns
    -------
    P : array of shape (n, m), dtype of ``C``
    alpha, beta : float64 arrays of shape (n,), (m,)
        The final duals.
    status : dict
        ``converged``, ``numerical_error``, ``iterations``, ``error``.

    References
    ----------
    .. [1] M. Cuturi, "Sinkhorn distances: lightspeed computation of optimal transport", NeurIPS 2013.

    Examples
    --------
    >>> import numpy as np
    >>> from danneal.reference import sinkhorn_log
    >>> C = np.array([[0.0, 1.0], [1.0, 0.0]])
    >>> P, al, be, st = sinkhorn_log(C, -10.0, np.full(2, 0.5), np.full(2, 0.5), np.zeros(2), np.zeros(2), 100,
    ...                              1e-12, 0)
    >>> np.round(P, 4), st["converged"]
    (array([[0.5, 0. ],
           [0. , 0.5]]), True)
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

    Parameters
    ----------
    A, B : arrays of shape (n, n)
        The QAP's matrices.
    E : array of shape (n, n)
        A linear benefit added to Q (seeds' part of the objective, zeros otherwise).
    c : float
        Scale of the quadratic term (its sign says minimise or maximise).
    gamma : float
        Convexification: ``gamma M`` is added to Q.
    beta : float
        Inverse temperature.
    M0 : array of shape (n, n)
        Start (doubly stochastic).
    max_inner : int
        Most fixed-point steps.
    inner_tol : float
        Stop when ``max |dM|`` is below it.
    sinkhorn_iter : int
        Sinkhorn iterations per step.
    alpha0, beta0 : arrays of shape (n,)
        Starting duals of the Sinkhorn iterations.

    Returns
    -------
    M : array of shape (n, n), dtype of ``M0``
    alpha, beta : float64 arrays of shape (n,)
        The Sinkhorn duals at the end.
    status : dict
        ``converged``, ``numerical_error``, ``iterations``, ``error`` (the last ``max |dM|``).

    References
    ----------
    .. [1] S. Gold and A. Rangarajan, "A graduated assignment algorithm for graph matching",
           IEEE TPAMI 18(4):377-388, 1996.

    Examples
    --------
    >>> import numpy as np
    >>> from danneal.reference import qap_fixed_point
    >>> A = np.array([[0.0, 1.0], [1.0, 0.0]])
    >>> M, al, be, st = qap_fixed_point(A, A, np.zeros((2, 2)), 1.0, 0.0, 1.0, np.full((2, 2), 0.5), 10, 1e-9, 20,
    ...                                 np.zeros(2), np.zeros(2))
    >>> np.round(M.sum(axis=0), 6), np.round(M.sum(axis=1), 6)
    (array([1., 1.]), array([1., 1.]))
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

    Parameters
    ----------
    A, B : arrays of shape (n, n)
    perm : int array of shape (n,)
        Start permutation.
    maximize : bool
        Raise the objective instead of lowering it.
    max_passes : int
        Most scans over all pairs.

    Returns
    -------
    perm : int64 array of shape (n,)
        The improved permutation.
    n_swaps : int
        Swaps applied.

    References
    ----------
    .. [1] G. A. Croes, "A method for solving traveling-salesman problems", Operations Research 6(6), 1958
           (2-opt).

    Examples
    --------
    >>> import numpy as np
    >>> from danneal.reference import qap_2opt
    >>> A = np.array([[0.0, 5.0, 1.0], [5.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
    >>> B = np.array([[0.0, 1.0, 3.0], [1.0, 0.0, 3.0], [3.0, 3.0, 0.0]])
    >>> p, swaps = qap_2opt(A, B, np.array([0, 2, 1]), False, 10)
    >>> float(np.sum(A * B[np.ix_(p, p)])) <= float(np.sum(A * B[np.ix_([0, 2, 1], [0, 2, 1])]))
    True
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
