"""Reference twins of the batched and unbalanced Sinkhorn kernels (``csrc/danneal/sinkhorn_batch.hpp``)."""

import numpy as np

from .softassign import sinkhorn_log

__all__ = ["sinkhorn_batch", "sinkhorn_unbalanced_log"]


def sinkhorn_batch(C, scale, a, b, max_iter, tol, norm, n_threads=1):
    """``sinkhorn_log`` on every problem ``C[k]`` (twin of ``_core.sinkhorn_batch``).

    Returns ``(P, alpha, beta, iterations, errors, converged)``.
    """
    out = [sinkhorn_log(C[k], scale, a[k], b[k], np.zeros(C.shape[1]), np.zeros(C.shape[2]), max_iter, tol, norm)
           for k in range(C.shape[0])]
    P = np.stack([o[0] for o in out]).astype(np.asarray(C).dtype)
    return (P, np.stack([o[1] for o in out]), np.stack([o[2] for o in out]),
            np.array([o[3]["iterations"] for o in out], dtype=np.int64), np.array([o[3]["error"] for o in out]),
            np.array([o[3]["converged"] for o in out], dtype=bool))


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
    Returns ``(P, alpha, beta, status)``.
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
