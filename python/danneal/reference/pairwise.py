"""Reference twins of the pairwise-clustering kernels (csrc/danneal/pairwise.hpp)."""

import numpy as np

__all__ = ["softmax_rows", "pairwise_dq", "pairwise_potential", "pairwise_fixed_point"]

TINY_MASS = 1e-150
DETAN, GRADIENT = 0, 1


def softmax_rows(potentials, temperature, n_threads=1):
    """``P = softmax(-potentials / T)`` per row, and the row log-partition ``logZ``."""
    x = -np.asarray(potentials, dtype=np.float64) / temperature
    m = x.max(axis=1, keepdims=True)
    logZ = m[:, 0] + np.log(np.exp(x - m).sum(axis=1))
    P = np.exp(x - logZ[:, None])
    dt = np.asarray(potentials).dtype
    return P.astype(dt), logZ.astype(dt), {"converged": True, "numerical_error": False, "iterations": 0,
                                          "error": 0.0}


def pairwise_dq(distances, assignments, n_threads=1):
    """``(D @ Q, c, S)`` with ``c = diag(Q.T D Q)`` and ``S = Q.sum(0)``, both in float64."""
    D, Q = distances, assignments
    DQ = D @ Q
    c = (Q.astype(np.float64) * DQ.astype(np.float64)).sum(axis=0)
    S = Q.astype(np.float64).sum(axis=0)
    return DQ, c, S


def _potential(form, DQ, Q, c, S):
    DQ = DQ.astype(np.float64)
    Q = Q.astype(np.float64)
    if form == DETAN:
        Sm1 = np.maximum(S[None, :] - Q, TINY_MASS)
        return (DQ - c[None, :] / (2.0 * Sm1)) / (Sm1 + 1.0)
    Sg = np.maximum(S, TINY_MASS)
    return DQ / Sg[None, :] - c[None, :] / (2.0 * Sg[None, :] ** 2)


def pairwise_potential(distances, assignments, form, n_threads=1):
    """Mean-field potentials h (form 0: detan's leave-one-out form, 1: gradient of H)."""
    DQ, c, S = pairwise_dq(distances, assignments)
    return _potential(form, DQ, assignments, c, S).astype(assignments.dtype)


def pairwise_fixed_point(distances, assignments, temperature, form, max_iter, tol, n_threads=1):
    """Synchronous sweeps ``Q <- softmax(-h(Q)/T)``; returns ``(Q, stats, status)`` like the kernel."""
    Q = np.array(assignments, copy=True)
    k = Q.shape[1]
    stats = np.zeros(4)
    status = {"converged": False, "numerical_error": False, "iterations": 0, "error": 0.0}
    for it in range(max_iter):
        DQ, c, S = pairwise_dq(distances, Q)
        nz = S > TINY_MASS
        stats[0] = (c[nz] / (2.0 * S[nz])).sum()
        h = _potential(form, DQ, Q, c, S)
        if temperature == 0:
            Qn = np.eye(k, dtype=Q.dtype)[np.argmin(h, axis=1)]
            ent = lzs = 0.0
        else:
            x = -h / temperature
            m = x.max(axis=1, keepdims=True)
            lz = m[:, 0] + np.log(np.exp(x - m).sum(axis=1))
            lp = x - lz[:, None]
            Qn = np.exp(lp).astype(Q.dtype)
            p = Qn.astype(np.float64)
            ent = -(np.where(p > 0, p * lp, 0.0)).sum()
            lzs = lz.sum()
        md = float(np.abs(Qn.astype(np.float64) - Q.astype(np.float64)).max())
        Q = Qn
        stats[1:] = ent, lzs, md
        status["iterations"] = it + 1
        status["error"] = md
        if md < tol:
            status["converged"] = True
            break
    return Q, stats, status
