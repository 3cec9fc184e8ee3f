"""Reference twins for the central kernels (plain numpy, written for clarity; docs/design.md §2).

Same names and argument order as the compiled kernels in ``danneal._core`` (minus ``n_threads``,
which the twins accept and ignore).  Rose (1998), "Deterministic annealing for clustering,
compression, classification, regression, and related optimization problems", Proc. IEEE 86(11).
"""

from __future__ import annotations

import numpy as np

__all__ = ["central_fixed_point", "central_posteriors", "central_covariance", "central_statistics"]


def _logits(X, Y, logp, T):
    """log p(v) - |x - y_v|^2 / T with the squared distances in float64."""
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    D = (X * X).sum(1)[:, None] - 2.0 * X @ Y.T + (Y * Y).sum(1)[None, :]
    D = np.maximum(D, 0.0)
    if T == 0:
        return D, -D
    return D, np.asarray(logp, dtype=np.float64)[None, :] - D / T


def _lse(A):
    m = A.max(axis=1, keepdims=True)
    return (m + np.log(np.exp(A - m).sum(axis=1, keepdims=True)))[:, 0]


def _softmax(A):
    """Row softmax as the kernels take it: exp(A - max) / sum (normalised however large max is)."""
    E = np.exp(A - A.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


def central_posteriors(X, centers, log_weights, temperature, n_threads=1):
    """``(P, logZ, status)``: p(v|x) ∝ p(v) exp(-|x - y_v|^2/T); one-hot argmin at T = 0."""
    X = np.asarray(X)
    D, A = _logits(X, centers, log_weights, temperature)
    if temperature == 0:
        best = np.argmin(D, axis=1)
        P = np.zeros(D.shape)
        P[np.arange(len(X)), best] = 1.0
        logZ = -D[np.arange(len(X)), best]
    else:
        logZ = _lse(A)
        P = _softmax(A)
    status = {"converged": True, "numerical_error": False, "iterations": 0, "error": 0.0}
    return P.astype(X.dtype), logZ, status


def central_fixed_point(X, sample_weight, centers, log_weights, temperature, max_iter, tol, n_threads=1):
    """Mass-constrained DA iterations at one temperature; see ``danneal._core.central_fixed_point``.

    p(v|x_i) = p(v) exp(-|x_i - y_v|^2/T) / Z_i, then p(v) = sum_i w_i p(v|x_i) / sum_i w_i and
    y_v = sum_i w_i p(v|x_i) x_i / (sum_i w_i p(v|x_i)).  Returns ``(centers, log_weights, masses,
    stats, status)`` with ``stats = [distortion, free energy, max shift, total weight]``.
    """
    X = np.asarray(X)
    dtype = X.dtype
    Xd = X.astype(np.float64)
    n = len(X)
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    Y = np.array(centers, dtype=dtype)
    logp = np.array(log_weights, dtype=np.float64)
    wsum = float(w.sum())
    mass = np.exp(logp) * wsum
    stats = np.zeros(4)
    stats[3] = wsum
    status = {"converged": False, "numerical_error": False, "iterations": 0, "error": 0.0}
    for it in range(int(max_iter)):
        D, A = _logits(Xd, Y, logp, temperature)
        if temperature == 0:
            best = np.argmin(D, axis=1)
            P = np.zeros(D.shape)
            P[np.arange(n), best] = 1.0
            stats[0] = float(w @ D[np.arange(n), best])
            stats[1] = stats[0]
        else:
            lz = _lse(A)
            P = _softmax(A)
            stats[0] = float(w @ (P * D).sum(1))
            stats[1] = float(-temperature * (w @ lz))
        Q = P * w[:, None]
        mass = Q.sum(0)
        alive = mass > 1e-300
        Ynew = Y.astype(np.float64)
        Ynew[alive] = ((Q.T @ Xd)[alive] / mass[alive, None]).astype(dtype)
        shift = float(np.sqrt(((Ynew - Y.astype(np.float64)) ** 2).sum(1)).max())
        with np.errstate(divide="ignore"):
            logp = np.where(alive, np.log(np.where(alive, mass, 1.0) / wsum), -np.inf)
        Y = Ynew.astype(dtype)
        stats[2] = shift
        status["iterations"] = it + 1
        status["error"] = shift
        if shift < tol:
            status["converged"] = True
            break
    return Y, logp, mass, stats, status


def central_covariance(X, sample_weight, centers, log_weights, temperature, n_threads=1):
    """``(cov, masses, means, status)``: posterior-weighted covariance of every cluster.

    C_v = sum_i w_i p(v|x_i) (x_i - mu_v)(x_i - mu_v)^T / sum_i w_i p(v|x_i); the critical
    temperature of cluster v is 2 lambda_max(C_v) (Rose 1998, eq. 31).
    """
    Xd = np.asarray(X, dtype=np.float64)
    n, d = Xd.shape
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    _, A = _logits(Xd, centers, log_weights, temperature)
    P = _softmax(A)
    Q = P * w[:, None]
    mass = Q.sum(0)
    k = Q.shape[1]
    cov = np.zeros((k, d, d))
    mean = np.array(centers, dtype=np.float64)
    for v in range(k):
        if mass[v] > 1e-300:
            mean[v] = Q[:, v] @ Xd / mass[v]
            Z = Xd - mean[v]
            cov[v] = (Z * Q[:, v, None]).T @ Z / mass[v]
    status = {"converged": True, "numerical_error": False, "iterations": 0, "error": 0.0}
    return cov, mass, mean, status


def central_statistics(X, sample_weight, centers, log_weights, temperature, n_threads=1):
    """``(sums, masses, block, status)``: the sufficient statistics of one pass over ``X``.

    ``sums[v] = sum_i w_i p(v|x_i) x_i``, ``masses[v] = sum_i w_i p(v|x_i)``, ``block = [sum_i w_i
    L_i, sum_i w_i |x_i|^2, sum_i w_i, 0]`` with L_i = log sum_v p(v) exp((2 x_i.y_v - |y_v|^2)/T)
    (the norm trick: |x_i|^2/T cancels in the posteriors and is added back by the caller; the free
    energy is ``sum_i w_i |x_i|^2 - T sum_i w_i L_i``); 0 at T = 0.
    """
    Xd = np.asarray(X, dtype=np.float64)
    n = len(Xd)
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    D, A = _logits(Xd, centers, log_weights, temperature)
    if temperature == 0:
        P = np.zeros(D.shape)
        P[np.arange(n), np.argmin(D, axis=1)] = 1.0
        lse = 0.0
    else:
        lz = _lse(A)
        P = np.exp(A - lz[:, None])
        lse = float(w @ (lz + (Xd * Xd).sum(1) / temperature))
    Q = P * w[:, None]
    block = np.array([lse, float(w @ (Xd * Xd).sum(1)), float(w.sum()), 0.0])
    status = {"converged": True, "numerical_error": False, "iterations": 1, "error": 0.0}
    return Q.T @ Xd, Q.sum(0), block, status
