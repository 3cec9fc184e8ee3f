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
    """``(K, sigma2)``: Gaussian kernel from ``gram = H @ H.T`` (twin of ``_core.ddc_gaussian_kernel``).

    ``K[a, b] = exp(-max(g_aa + g_bb - 2 g_ab, 0) / (2 sigma2))`` with a unit diagonal, the
    kernel of DDC [1]_.

    Parameters
    ----------
    gram : array (n, n)
        The Gram matrix ``H @ H.T`` of the hidden layer; K has its dtype.
    rel_sigma : float
        Factor of the bandwidth rule ``sigma2 = max(rel_sigma * median, 1e-9)`` (lower median
        over all ``n * n`` squared distances, as ``torch.median``).
    sigma2 : float
        Bandwidth; ``sigma2 <= 0`` selects the rule above.
    n_threads : int
        Accepted and ignored (the compiled kernel's argument).
    out : array (n, n), optional
        Array to write ``K`` into.

    Returns
    -------
    K : array (n, n)
        The kernel matrix (``out`` when given).
    sigma2 : float
        The bandwidth used.

    References
    ----------
    .. [1] M. Kampffmeyer, S. Løkse, F. M. Bianchi, L. Livi, A.-B. Salberg and R. Jenssen,
           "Deep divergence-based approach to clustering", Neural Networks 113:91-101, 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from danneal.reference.losses import ddc_gaussian_kernel
    >>> H = np.array([[0., 0.], [1., 0.], [0., 2.]])
    >>> K, sigma2 = ddc_gaussian_kernel(H @ H.T, 0.15, 0.5)
    >>> K.round(4)
    array([[1.    , 0.3679, 0.0183],
           [0.3679, 1.    , 0.0067],
           [0.0183, 0.0067, 1.    ]])
    >>> ddc_gaussian_kernel(H @ H.T, 0.15, 0.0)[1]  # median rule: 0.15 * 1
    0.15
    """
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
    """``(S, rowsum)`` with ``S = scale * K * (P @ B.T)`` (twin of ``_core.ddc_hidden_weights``).

    The element-wise weights of the gradient of the DDC loss [1]_ with respect to the hidden
    layer (``K`` times a low-rank product).

    Parameters
    ----------
    K : array (n, n)
        Kernel matrix; ``S`` has its dtype.
    P : array (n, r)
        Left factor.
    B : array (n, r)
        Right factor.
    scale : float
        Scalar factor.
    n_threads : int
        Accepted and ignored.
    out : array (n, n), optional
        Array to write ``S`` into.

    Returns
    -------
    S : array (n, n)
        ``scale * K * (P @ B.T)`` (``out`` when given).
    rowsum : array (n,), float64
        Row sums of ``S``.

    References
    ----------
    .. [1] M. Kampffmeyer, S. Løkse, F. M. Bianchi, L. Livi, A.-B. Salberg and R. Jenssen,
           "Deep divergence-based approach to clustering", Neural Networks 113:91-101, 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from danneal.reference.losses import ddc_hidden_weights
    >>> S, rowsum = ddc_hidden_weights(np.eye(2), np.eye(2), np.array([[1., 2.], [3., 4.]]), 0.5)
    >>> S
    array([[0.5, 0. ],
           [0. , 2. ]])
    >>> rowsum
    array([0.5, 2. ])
    """
    K = np.asarray(K)
    S = K.dtype.type(scale) * (K * (np.asarray(P) @ np.asarray(B).T))
    if out is not None:
        out[...] = S
        S = out
    return S, S.sum(axis=1, dtype=np.float64)


def ddc_cs_divergence(N, want_grad):
    """``(value, G)``: d_cs on ``N`` (k x k) and its gradient (twin of ``_core.ddc_cs_divergence``).

    ``d_cs = 2 / (k (k - 1)) sum_{i<j} N_ij / sqrt(N_ii N_jj)``, the Cauchy-Schwarz divergence
    term of DDC [1]_, with the reference code's clamps ``N_ij >= 1e-9`` and
    ``N_ii N_jj >= 1e-18`` (zero gradient through clamped entries).

    Parameters
    ----------
    N : array (k, k)
        The matrix ``Q^T K Q``; computed in float64.
    want_grad : bool
        Also return the gradient.

    Returns
    -------
    value : float
        ``d_cs``.
    G : array (k, k), float64, or None
        Gradient of ``value`` with respect to ``N`` (upper triangle and diagonal; None when
        ``want_grad`` is false).

    References
    ----------
    .. [1] M. Kampffmeyer, S. Løkse, F. M. Bianchi, L. Livi, A.-B. Salberg and R. Jenssen,
           "Deep divergence-based approach to clustering", Neural Networks 113:91-101, 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from danneal.reference.losses import ddc_cs_divergence
    >>> value, G = ddc_cs_divergence(np.array([[1., .5], [.5, 1.]]), True)
    >>> value
    0.5
    >>> G
    array([[-0.25,  1.  ],
           [ 0.  , -0.25]])
    """
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

    Parameters
    ----------
    A : array (n, k)
        Soft cluster assignments.
    H : array (n, d), optional
        Hidden layer the kernel is built from (when ``K`` is not given).
    K : array (n, n), optional
        A precomputed kernel matrix.
    sigma2 : float, optional
        Kernel bandwidth (default: the median rule).
    rel_sigma : float, default=0.15
        Factor of the median rule.

    Returns
    -------
    array (3,), float64
        The unweighted terms ``(d_cs(A), orthogonality, d_cs(M))``.

    References
    ----------
    .. [1] M. Kampffmeyer, S. Løkse, F. M. Bianchi, L. Livi, A.-B. Salberg and R. Jenssen,
           "Deep divergence-based approach to clustering", Neural Networks 113:91-101, 2019.

    Examples
    --------
    A uniform ``A`` gives the terms ``(1, 1/k, 1)``:

    >>> import numpy as np
    >>> from danneal.reference.losses import ddc_loss_dense
    >>> ddc_loss_dense(np.full((6, 4), 0.25), H=np.arange(12.0).reshape(6, 2)).round(6)
    array([1.  , 0.25, 1.  ])
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
    """``k - tr(F F^+ C)``, ``C = Y (Y^T Y)^-1 Y^T``, with every n x n matrix formed (tests only).

    The value monitored by the supervised deep spectral clustering of [1]_, straight from the
    formula (``numpy.linalg.pinv``).

    Parameters
    ----------
    F : array (n, d)
        Embeddings.
    Y : array (n, k)
        Indicator (or soft target) matrix with linearly independent columns.

    Returns
    -------
    float
        ``k - tr(F F^+ C)``.

    References
    ----------
    .. [1] M. T. Law, R. Urtasun and R. S. Zemel, "Deep spectral clustering learning", ICML 2017,
           PMLR 70:1985-1994.

    Examples
    --------
    >>> import numpy as np
    >>> from danneal.reference.losses import spectral_clustering_loss_dense
    >>> Y = np.eye(2)[[0, 0, 0, 1, 1, 1]]
    >>> abs(float(spectral_clustering_loss_dense(Y, Y))) < 1e-12  # perfectly clustered
    True
    >>> F = np.array([[1., 0.], [0., 1.], [1., 1.], [1., 0.], [0., 1.], [1., 2.]])
    >>> round(float(spectral_clustering_loss_dense(F, Y)), 4)
    1.1579
    """
    F = np.asarray(F, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    C = Y @ np.linalg.solve(Y.T @ Y, Y.T)
    P = F @ np.linalg.pinv(F)
    return Y.shape[1] - np.trace(P @ C)
