"""Reference twins for the losses kernels (``csrc/danneal/losses.hpp``), plus a plain numpy
version of the whole DDC loss written straight from the formulas (used by the tests).

Twins have the same names and argument order as the compiled kernels in ``danneal._core``; the
``n_threads`` argument is accepted and ignored.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "ddc_gaussian_kernel",
    "ddc_hidden_weights",
    "ddc_cs_divergence",
    "ddc_loss_dense",
    "spectral_clustering_loss_dense",
]

_EPS = 1e-9


def ddc_gaussian_kernel(gram, rel_sigma, sigma2, n_threads=1, out=None):
    """``(K, sigma2)``: Gaussian kernel from ``gram = H @ H.T`` (twin of ``_core.ddc_gaussian_kernel``)."""
    gram = np.asarray(gram)
    g = np.diagonal(gram)
    dist = np.maximum((g[:, None] + g[None, :]) - 2 * gram, 0).astype(gram.dtype)
    np.fill_diagonal(dist, 0)
    if not sigma2 > 0:
        # lower median of all n^2 entries, as torch.median
        med = np.sort(dist, axis=None)[(dist.size - 1) // 2]
        sigma2 = max(rel_sigma * float(med), _EPS)
    K = np.exp(dist * gram.dtype.type(-1.0 / (2.0 * sigma2)))
    np.fill_diagonal(K, 1)
    if out is not None:
        out[...] = K
        K = out
    return K, float(sigma2)


def ddc_hidden_weights(K, P, B, scale, n_threads=1, out=None):
    """``(S, rowsum)`` with ``S = scale * K * (P @ B.T)`` (twin of ``_core.ddc_hidden_weights``)."""
    K = np.asarray(K)
    S = K.dtype.type(scale) * (K * (np.asarray(P) @ np.asarray(B).T))
    if out is not None:
        out[...] = S
        S = out
    return S, S.sum(axis=1, dtype=np.float64)


def ddc_cs_divergence(N, want_grad):
    """``(value, G)``: d_cs on ``N`` (k x k) and its gradient (twin of ``_core.ddc_cs_divergence``)."""
    N = np.asarray(N, dtype=np.float64)
    k = N.shape[0]
    c = 2.0 / (k * (k - 1))
    d = np.diagonal(N).copy()
    D = np.outer(d, d)
    okN = N >= _EPS
    okD = D >= _EPS**2
    Nc = np.where(okN, N, _EPS)
    Dc = np.where(okD, D, _EPS**2)
    rs = 1.0 / np.sqrt(Dc)
    upper = np.triu(np.ones((k, k), dtype=bool), 1)
    value = c * float((Nc * rs)[upper].sum())
    if not want_grad:
        return value, None
    G = np.where(upper & okN, c * rs, 0.0)
    gD = np.where(upper & okD, -0.5 * c * Nc * rs**3, 0.0)
    G[np.diag_indices(k)] += gD @ d + gD.T @ d
    return value, G


def _d_cs(A, K):
    """Cauchy-Schwarz divergence term of DDC with the reference code's clamps."""
    k = A.shape[1]
    N = A.T @ K @ A
    D = np.outer(np.diagonal(N), np.diagonal(N))
    N = np.where(N < _EPS, _EPS, N)
    D = np.where(D < _EPS**2, _EPS**2, D)
    R = N / np.sqrt(D)
    return 2.0 / (k * (k - 1)) * np.triu(R, 1).sum()


def ddc_loss_dense(A, H=None, K=None, sigma2=None, rel_sigma=0.15):
    """The three DDC terms ``(d_cs(A), triu(A A^T) term, d_cs(M))``, forming every n x n matrix.

    Written from the formulas of Kampffmeyer et al. (2019) with the conventions of the reference
    implementation (DanielTrosten/mvc): squared distances ``relu(|h_a|^2 - 2 h_a.h_b + |h_b|^2)``,
    ``sigma2 = max(rel_sigma * median, 1e-9)`` (lower median over all n^2 entries), clamps
    ``N >= 1e-9`` and ``N_ii N_jj >= 1e-18``, ``M_qi = exp(-|a_q - e_i|^2)``.
    """
    A = np.asarray(A, dtype=np.float64)
    n, k = A.shape
    if K is None:
        H = np.asarray(H, dtype=np.float64)
        sq = (H**2).sum(1)
        dist = np.maximum(sq[:, None] - 2 * H @ H.T + sq[None, :], 0)
        np.fill_diagonal(dist, 0)
        if sigma2 is None:
            sigma2 = max(rel_sigma * np.sort(dist, axis=None)[(dist.size - 1) // 2], _EPS)
        K = np.exp(-dist / (2 * sigma2))
    K = np.asarray(K, dtype=np.float64)
    t1 = _d_cs(A, K)
    t2 = 2.0 / (n * (n - 1)) * np.triu(A @ A.T, 1).sum()
    M = np.exp(-((A[:, None, :] - np.eye(k)[None, :, :]) ** 2).sum(-1))
    t3 = _d_cs(M, K)
    return np.array([t1, t2, t3])


def spectral_clustering_loss_dense(F, Y):
    """``k - tr(F F^+ C)``, ``C = Y (Y^T Y)^-1 Y^T``, with every n x n matrix formed (tests only)."""
    F = np.asarray(F, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    C = Y @ np.linalg.solve(Y.T @ Y, Y.T)
    P = F @ np.linalg.pinv(F)
    return Y.shape[1] - np.trace(P @ C)
