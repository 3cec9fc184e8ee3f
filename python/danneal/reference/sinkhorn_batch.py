"""Reference twins of the batched and unbalanced Sinkhorn kernels (``csrc/danneal/sinkhorn_batch.hpp``)."""

import numpy as np

from .softassign import sinkhorn_log

__all__ = ["sinkhorn_batch", "sinkhorn_unbalanced_log"]


def sinkhorn_batch(C, scale, a, b, max_iter, tol, norm, n_threads=1):
    """``sinkhorn_log`` on every problem ``C[k]`` (twin of ``_core.sinkhorn_batch``).

    Parameters
    ----------
    C : array of shape (B, n, m)
    scale : float
        ``-1/reg``.
    a, b : arrays of shape (B, n), (B, m)
        Positive marginals, equal sums per problem.
    max_iter : int
    tol : float
    norm : {0, 2}
        As :func:`sinkhorn_log`.
    n_threads : int
        Ignored (the twin is serial).

    Returns
    -------
    P : array of shape (B, n, m), dtype of ``C``
    alpha, beta : float64 arrays of shape (B, n), (B, m)
    iterations : int64 array of shape (B,)
    errors : float64 array of shape (B,)
    converged : bool array of shape (B,)

    References
    ----------
    .. [1] M. Cuturi, "Sinkhorn distances: lightspeed computation of optimal transport", NeurIPS 2013.

    Examples
    --------
    >>> import numpy as np
    >>> from danneal.reference import sinkhorn_batch
    >>> C = np.stack([[[0.0, 1.0], [1.0, 0.0]]] * 3)
    >>> P, al, be, its, errs, conv = sinkhorn_batch(C, -10.0, np.full((3, 2), 0.5), np.full((3, 2), 0.5), 100,
    ...                                            1e-12, 0)
    >>> P.shape, bool(conv.all())
    ((3, 2, 2), True)
    """
    out = [
        sinkhorn_log(C[k], scale, a[k], b[k], np.zeros(C.shape[1]), np.zeros(C.shape[2]), max_iter, tol, norm)
        for k in range(C.shape[0])
    ]
    P = np.stack([o[0] for o in out]).astype(np.asarray(C).dtype)
    return (
        P,
        np.stack([o[1] for o in out]),
        np.stack([o[2] for o in out]),
        np.array([o[3]["iterations"] for o in out], dtype=np.int64),
        np.array([o[3]["error"] for o in out]),
        np.array([o[3]["converged"] for o in out], dtype=bool),
    )


def _lse(x, axis):
    mx = x.max(axis=axis, keepdims=True)
    safe = np.where(np.isfinite(mx), mx, 0.0)
    with np.errstate(divide="ignore"):
        out = safe + np.log(np.exp(x - safe).sum(axis=axis, keepdims=True))
    return np.squeeze(np.where(np.isfinite(mx), out, mx), axis=axis)


def sinkhorn_unbalanced_log(C, scale, a, b, fi, alpha0, beta0, max_iter, tol, n_threads=1):
    """Unbalanced log-domain Sinkhorn (twin of ``_core.sinkhorn_unbalanced_log``).

    ``alpha <- fi (log a - LSE_j(scale C + beta))`` then ``beta <- fi (log b - LSE_i(scale C + alpha))``
    until the largest change of the duals is below ``tol`` or ``max_iter`` iterations.

    Parameters
    ----------
    C : array of shape (n, m)
    scale : float
        ``-1/reg``.
    a, b : arrays of shape (n,), (m,)
        Non-negative marginals (zeros give ``-inf`` duals).
    fi : float
        ``reg_m / (reg_m + reg)`` (1: balanced).
    alpha0, beta0 : arrays of shape (n,), (m,)
        Starting duals.
    max_iter : int
    tol : float
        Stop when the largest change of the duals is below it.
    n_threads : int
        Ignored (the twin is serial).

    Returns
    -------
    P : array of shape (n, m), dtype of ``C``
    alpha, beta : float64 arrays of shape (n,), (m,)
    status : dict
        ``converged``, ``numerical_error``, ``iterations``, ``error``.

    References
    ----------
    .. [1] L. Chizat, G. Peyré, B. Schmitzer, F.-X. Vialard, "Scaling algorithms for unbalanced
           optimal transport problems", Math. Comp. 87, 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from danneal.reference import sinkhorn_unbalanced_log
    >>> C = np.array([[0.0, 1.0], [1.0, 0.0]])
    >>> P, al, be, st = sinkhorn_unbalanced_log(C, -10.0, np.full(2, 0.5), np.full(2, 0.5), 0.5, np.zeros(2),
    ...                                         np.zeros(2), 1000, 1e-12)
    >>> bool(st["converged"]), round(float(P[0, 0]), 3)
    (True, 0.63)
    """
    K = scale * np.asarray(C, dtype=np.float64)
    with np.errstate(divide="ignore"):
        la, lb = np.log(np.asarray(a, dtype=np.float64)), np.log(np.asarray(b, dtype=np.float64))
    al = np.where(np.isfinite(la), np.asarray(alpha0, dtype=np.float64), -np.inf)
    be = np.where(np.isfinite(lb), np.asarray(beta0, dtype=np.float64), -np.inf)
    it, change, converged = 0, np.inf, False
    while it < max_iter:
        new_al = np.where(np.isfinite(la), fi * (la - _lse(K + be[None, :], 1)), -np.inf)
        new_be = np.where(np.isfinite(lb), fi * (lb - _lse(K + new_al[:, None], 0)), -np.inf)
        fa, fb = np.isfinite(new_al), np.isfinite(new_be)
        change = max(np.abs(new_al[fa] - al[fa]).max(initial=0.0), np.abs(new_be[fb] - be[fb]).max(initial=0.0))
        al, be = new_al, new_be
        it += 1
        if change < tol:
            converged = True
            break
    with np.errstate(under="ignore"):
        P = np.exp(K + al[:, None] + be[None, :])
    status = {"converged": converged, "numerical_error": False, "iterations": it, "error": float(change)}
    return P.astype(np.asarray(C).dtype), al, be, status
