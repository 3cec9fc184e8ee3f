"""Deep clustering losses with closed-form gradients (DDC, deep spectral clustering).

Two losses of the deep-clustering literature, each returning its value *and* its exact gradient,
so that a network can be trained with them without an autograd graph through the n x n matrices
(see :mod:`danneal.torch` for ``nn.Module`` wrappers):

- :func:`ddc_loss`: the DDC loss of Kampffmeyer et al. [1]_, with the conventions of the
  reference implementation (DanielTrosten/mvc) described in docs/losses.md;
- :func:`spectral_clustering_loss`: the supervised deep spectral clustering loss of Law, Urtasun
  and Zemel [2]_, computed without ever forming an n x n matrix.

The dense products with the hidden layer are BLAS GEMMs (numpy); the element-wise n x n passes of
DDC (distances, median bandwidth, kernel; gradient weights) are fused C++/OpenMP kernels
(``csrc/danneal/losses.hpp``).

References
----------
.. [1] M. Kampffmeyer, S. Løkse, F. M. Bianchi, L. Livi, A.-B. Salberg, R. Jenssen, "Deep
   divergence-based approach to clustering", Neural Networks 113 (2019) 91-101.
.. [2] M. T. Law, R. Urtasun, R. S. Zemel, "Deep spectral clustering learning", ICML 2017.
"""

from __future__ import annotations

import contextlib
import threading
from typing import NamedTuple, Optional

import numpy as np

from . import _core
from ._threads import resolve_n_threads
from ._validation import as_float_array, check_float

__all__ = ["DDCLossResult", "SpectralLossResult", "ddc_loss", "spectral_clustering_loss"]

_EPS = 1e-9  # clamps of the reference code: N >= eps, N_ii N_jj >= eps^2, sigma2 >= eps

# The BLAS products (H H^T, K [A|M], S H; n x n by n x (d or 2k)) run on one BLAS thread and the
# n x n element-wise passes on n_threads OpenMP threads.  Measured on a shared 2-core machine, a
# multi-threaded OpenBLAS was never faster in this mix (its spinning workers compete with the
# OpenMP passes; small products pay milliseconds of wake-ups), and one BLAS thread makes the
# whole loss bit-identical for every n_threads.
_BLAS = None


@contextlib.contextmanager
def _single_threaded_blas():
    """Limit the BLAS thread pools (threadpoolctl, a scikit-learn dependency) to one thread for
    the products of a loss call, and restore them after.  Only calls from the main thread touch
    this process-wide setting (calls from other Python threads leave it alone, so that concurrent
    calls can never race on it); a no-op when threadpoolctl is unavailable."""
    global _BLAS
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if _BLAS is None:
        try:
            from threadpoolctl import ThreadpoolController

            _BLAS = ThreadpoolController().select(user_api="blas")
        except Exception:  # pragma: no cover - threadpoolctl missing or broken
            _BLAS = False
    if _BLAS is False:  # pragma: no cover
        yield
        return
    with _BLAS.limit(limits=1):
        yield


class DDCLossResult(NamedTuple):
    """Result of :func:`ddc_loss` (a named tuple: unpacks as ``loss, terms, grad_A, grad_H, sigma2``).

    Parameters
    ----------
    loss : float
        Weighted sum of the three DDC terms [1]_.
    terms : ndarray of shape (3,), float64
        The unweighted terms ``(d_cs(A), orthogonality, d_cs(M))``.
    grad_A : ndarray of shape (n, k) or None
        Gradient of ``loss`` with respect to ``A`` (dtype of the inputs); None when
        ``return_grad=False``.
    grad_H : ndarray of shape (n, d) or None
        Gradient of ``loss`` with respect to ``H``; None when ``H`` was not given or
        ``return_grad=False``.
    sigma2 : float or None
        Kernel bandwidth sigma^2 that was used (None when ``K`` was given).

    References
    ----------
    .. [1] M. Kampffmeyer, S. Løkse, F. M. Bianchi, L. Livi, A.-B. Salberg and R. Jenssen,
           "Deep divergence-based approach to clustering", Neural Networks 113:91-101, 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from danneal.losses import ddc_loss
    >>> res = ddc_loss(np.full((6, 4), 0.25), H=np.arange(12.0).reshape(6, 2))
    >>> type(res).__name__, res._fields
    ('DDCLossResult', ('loss', 'terms', 'grad_A', 'grad_H', 'sigma2'))
    >>> loss, terms, grad_A, grad_H, sigma2 = res
    >>> round(loss, 6), grad_A.shape, grad_H.shape
    (2.25, (6, 4), (6, 2))
    >>> ddc_loss(np.full((6, 4), 0.25), K=np.eye(6), return_grad=False).grad_A is None
    True
    """

    #: weighted sum of the three terms (float)
    loss: float
    #: the unweighted terms ``(d_cs(A), orthogonality, d_cs(M))`` (float64 array of 3)
    terms: np.ndarray
    #: d loss / d A (n x k, dtype of the inputs), None when ``return_grad=False``
    grad_A: Optional[np.ndarray]
    #: d loss / d H (n x d), None when H was not given or ``return_grad=False``
    grad_H: Optional[np.ndarray]
    #: kernel bandwidth sigma^2 that was used (None when K was given)
    sigma2: Optional[float]


class SpectralLossResult(NamedTuple):
    """Result of :func:`spectral_clustering_loss` (a named tuple: unpacks as ``loss, grad_F, rank``).

    Parameters
    ----------
    loss : float
        ``n_classes - tr(F F^+ C)``, the value monitored in [1]_ (0 on perfectly clustered
        embeddings with ``d >= n_classes``).
    grad_F : ndarray of shape (n, d) or None
        Gradient of ``loss`` with respect to ``F`` (dtype of ``F``); None when
        ``return_grad=False``.
    rank : int
        Numerical rank of ``F`` (its singular values above the cutoff).

    References
    ----------
    .. [1] M. T. Law, R. Urtasun and R. S. Zemel, "Deep spectral clustering learning", ICML 2017,
           PMLR 70:1985-1994.

    Examples
    --------
    >>> import numpy as np
    >>> from danneal.losses import spectral_clustering_loss
    >>> y = np.repeat([0, 1, 2], 4)
    >>> res = spectral_clustering_loss(np.eye(3)[y], y)
    >>> type(res).__name__, res._fields
    ('SpectralLossResult', ('loss', 'grad_F', 'rank'))
    >>> loss, grad_F, rank = res
    >>> abs(loss) < 1e-12, grad_F.shape, rank
    (True, (12, 3), 3)
    """

    #: ``n_classes - tr(F F^+ C)`` (float)
    loss: float
    #: d loss / d F (n x d), None when ``return_grad=False``
    grad_F: Optional[np.ndarray]
    #: numerical rank of F (singular values above the cutoff)
    rank: int


# ---------------------------------------------------------------------------------------------
# DDC
# ---------------------------------------------------------------------------------------------


def _check_weights(weights):
    if isinstance(weights, (str, bytes)):
        raise TypeError(f"weights={weights!r} must be a sequence of 3 real numbers")
    try:
        w = [float(x) for x in weights]
    except (TypeError, ValueError):
        raise TypeError(f"weights={weights!r} must be a sequence of 3 real numbers") from None
    if len(w) != 3:
        raise ValueError(f"weights={weights!r} must have 3 entries (one per DDC term)")
    for x in w:
        if not np.isfinite(x):
            raise ValueError(f"weights={weights!r} must be finite")
    return w


def _check_assignments(A, name, simplex_tol):
    A = as_float_array(A, name, ndim=2)
    n, k = A.shape
    if n < 2:
        raise ValueError(f"{name}: need at least 2 samples, got n={n}")
    if k < 2:
        raise ValueError(f"{name}: need at least 2 clusters (columns), got k={k}")
    if (A < 0).any():
        i, j = np.argwhere(A < 0)[0]
        raise ValueError(f"{name}: soft assignments must be >= 0, got {name}[{i}, {j}]={float(A[i, j])!r}")
    if simplex_tol is not None:
        err = np.abs(A.sum(axis=1, dtype=np.float64) - 1.0)
        if (err > simplex_tol).any():
            i = int(np.argmax(err))
            raise ValueError(
                f"{name}: rows must sum to 1 (soft assignments on the simplex), but row {i} sums "
                f"to {float(A[i].sum(dtype=np.float64))!r} (simplex_tol={simplex_tol})"
            )
    return A


def _ddc(A, H, K, sigma2, rel_sigma, weights, want_A, want_H, n_threads):
    """Validated inputs in, (loss, terms, grad_A, grad_H, sigma2) out."""
    dt = A.dtype.type
    n, k = A.shape
    w1, w2, w3 = weights
    used_sigma2 = None
    if K is None:
        sqn = np.einsum("ij,ij->i", H, H)
        if not np.isfinite(sqn).all():
            i = int(np.flatnonzero(~np.isfinite(sqn))[0])
            raise ValueError(
                f"H: the squared norm of row {i} overflows {H.dtype} (max |H| = "
                f"{float(np.abs(H).max())!r}); rescale H or pass float64"
            )
        gram = H @ H.T  # ours: the kernel overwrites it with K
        K, used_sigma2 = _core.ddc_gaussian_kernel(
            gram, float(rel_sigma), 0.0 if sigma2 is None else float(sigma2), n_threads, out=gram
        )
    A64sum = A.sum(axis=0, dtype=np.float64)
    sq = np.einsum("ij,ij->i", A, A)
    # M_qi = exp(-|a_q - e_i|^2) = exp(-(|a_q|^2 - 2 a_qi + 1))
    M = np.exp(-(sq[:, None] - dt(2) * A + dt(1)))
    B = np.concatenate([A, M], axis=1)
    KB = K @ B
    N1 = np.ascontiguousarray(A.T @ KB[:, :k], dtype=np.float64)
    N3 = np.ascontiguousarray(M.T @ KB[:, k:], dtype=np.float64)
    want = want_A or want_H
    t1, G1 = _core.ddc_cs_divergence(N1, want)
    t3, G3 = _core.ddc_cs_divergence(N3, want)
    c2 = 2.0 / (n * (n - 1))
    t2 = c2 * 0.5 * (float(A64sum @ A64sum) - float(np.sum(sq, dtype=np.float64)))
    terms = np.array([t1, t2, t3])
    loss = float(w1 * t1 + w2 * t2 + w3 * t3)
    grad_A = grad_H = None
    if want:
        Gs1 = (w1 * (G1 + G1.T)).astype(A.dtype)
        Gs3 = (w3 * (G3 + G3.T)).astype(A.dtype)
    if want_A:
        gM = KB[:, k:] @ Gs3
        gMM = gM * M
        grad_A = KB[:, :k] @ Gs1
        grad_A += dt(w2 * c2) * (A64sum.astype(A.dtype)[None, :] - A)
        grad_A += dt(2) * gMM - dt(2) * A * gMM.sum(axis=1, keepdims=True)
    if want_H:
        P = np.concatenate([A @ Gs1, M @ Gs3], axis=1)
        # K (ours, built from H) is no longer needed: S overwrites it
        S, rowsum = _core.ddc_hidden_weights(K, P, B, -1.0 / (2.0 * used_sigma2), n_threads, out=K)
        grad_H = dt(2) * (rowsum.astype(A.dtype)[:, None] * H - S @ H)
    return loss, terms, grad_A, grad_H, used_sigma2


def ddc_loss(
    A,
    H=None,
    K=None,
    sigma2=None,
    weights=(1, 1, 1),
    return_grad=True,
    *,
    rel_sigma=0.15,
    simplex_tol=1e-3,
    n_threads=None,
) -> DDCLossResult:
    r"""DDC loss (Kampffmeyer et al. 2019 [1]_) and its closed-form gradients.

    .. math::

        L = w_1\, d_{cs}(A) + w_2 \frac{2}{n(n-1)} \sum_{a<b} (A A^T)_{ab} + w_3\, d_{cs}(M),
        \qquad d_{cs}(Q) = \frac{2}{k(k-1)} \sum_{i<j} \frac{N_{ij}}{\sqrt{N_{ii} N_{jj}}},\;
        N = Q^T K Q,

    with :math:`M_{qi} = \exp(-\|a_q - e_i\|^2)` and the Gaussian kernel
    :math:`K_{ab} = \exp(-\|h_a - h_b\|^2 / (2\sigma^2))` of the hidden layer.  Conventions of the
    reference implementation (DanielTrosten/mvc): :math:`\sigma^2 = \max(0.15\,\mathrm{median},
    10^{-9})` over all :math:`n^2` squared distances of the batch (lower median, as
    ``torch.median``), treated as a constant (no gradient); clamps :math:`N_{ij} \ge 10^{-9}` and
    :math:`N_{ii}N_{jj} \ge 10^{-18}` with zero gradient through clamped entries.  A uniform ``A``
    gives the terms ``(1, 1/k, 1)``.

    Parameters
    ----------
    A : array (n, k)
        Soft cluster assignments (softmax output), ``n >= 2`` samples, ``k >= 2`` clusters.
    H : array (n, d), optional
        Hidden layer the kernel is built from.  Exactly one of ``H`` and ``K`` must be given.
    K : array (n, n), optional
        A precomputed symmetric kernel matrix (no gradient is returned for it).
    sigma2 : float, optional
        Kernel bandwidth :math:`\sigma^2 > 0`; default: the median rule above.
    weights : 3 floats
        Weights of the three terms.
    return_grad : bool
        Also compute the gradients with respect to ``A`` and (when given) ``H``.
    rel_sigma : float
        Factor of the median rule (0.15 in DDC).
    simplex_tol : float or None
        Rows of ``A`` must sum to 1 within this tolerance (``None``: no check; the formulas are
        defined for any non-negative ``A``).  Negative entries are always an error.
    n_threads : int, optional
        Threads of the C++ element-wise passes (``None``/``-1``: all cores); results are
        bit-identical for every ``n_threads``.  The BLAS products run on one BLAS thread when
        called from the main thread (threadpoolctl, restored after the call; see the module
        source for the measurements); from other Python threads the BLAS setting is left alone.

    Returns
    -------
    DDCLossResult
        ``(loss, terms, grad_A, grad_H, sigma2)``; gradients have the dtype of the inputs
        (float32 stays float32 when both ``A`` and ``H`` are float32).

    Notes
    -----
    The kernel's gradient treats the ``relu`` of the squared distances as the identity; the two
    differ only for (numerically) coincident points, where the gradient factor
    :math:`h_a - h_b` vanishes anyway.

    Examples
    --------
    >>> import numpy as np
    >>> from danneal.losses import ddc_loss
    >>> A = np.full((6, 4), 0.25)
    >>> res = ddc_loss(A, H=np.arange(12.0).reshape(6, 2))
    >>> np.round(res.terms, 6)
    array([1.  , 0.25, 1.  ])

    References
    ----------
    .. [1] M. Kampffmeyer, S. Løkse, F. M. Bianchi, L. Livi, A.-B. Salberg and R. Jenssen,
           "Deep divergence-based approach to clustering", Neural Networks 113:91-101, 2019.
    """
    if not isinstance(return_grad, (bool, np.bool_)):
        raise TypeError(f"return_grad={return_grad!r} must be a bool")
    return _ddc_loss(
        A,
        H,
        K,
        sigma2,
        weights,
        grad_A=bool(return_grad),
        grad_H=bool(return_grad),
        rel_sigma=rel_sigma,
        simplex_tol=simplex_tol,
        n_threads=n_threads,
    )


def _ddc_loss(A, H, K, sigma2, weights, *, grad_A, grad_H, rel_sigma, simplex_tol, n_threads) -> DDCLossResult:
    """ddc_loss with a choice of gradients (the torch wrapper skips those autograd does not need)."""
    nt = resolve_n_threads(n_threads)
    w = _check_weights(weights)
    rel_sigma = check_float(rel_sigma, "rel_sigma", low=0, low_inclusive=False)
    if simplex_tol is not None:
        simplex_tol = check_float(simplex_tol, "simplex_tol", low=0)
    if sigma2 is not None:
        sigma2 = check_float(sigma2, "sigma2", low=0, low_inclusive=False)
    A = _check_assignments(A, "A", simplex_tol)
    n = A.shape[0]
    if (H is None) == (K is None):
        raise ValueError(
            "exactly one of H (hidden layer) and K (kernel matrix) must be given, got "
            f"H={'None' if H is None else 'array'}, K={'None' if K is None else 'array'}"
        )
    if H is not None:
        H = as_float_array(H, "H", ndim=2)
        if H.shape[0] != n:
            raise ValueError(f"H: expected {n} rows (as A), got shape {H.shape}")
        dtype = np.result_type(A.dtype, H.dtype)
        A, H = A.astype(dtype, copy=False), H.astype(dtype, copy=False)
    else:
        if sigma2 is not None:
            raise ValueError(f"sigma2={sigma2} is only used with H; K was given")
        K = as_float_array(K, "K", ndim=2)
        if K.shape != (n, n):
            raise ValueError(f"K: expected shape ({n}, {n}) (n x n with n = A.shape[0]), got {K.shape}")
        scale = float(np.abs(K).max()) or 1.0
        tol = (1e-5 if K.dtype == np.float32 else 1e-10) * scale
        diff = np.abs(K - K.T)
        if (diff > tol).any():
            i, j = np.unravel_index(int(np.argmax(diff)), diff.shape)
            raise ValueError(
                f"K: kernel matrix must be symmetric, but K[{i}, {j}]={float(K[i, j])!r} != "
                f"K[{j}, {i}]={float(K[j, i])!r}"
            )
        dtype = np.result_type(A.dtype, K.dtype)
        A, K = A.astype(dtype, copy=False), K.astype(dtype, copy=False)
    with _single_threaded_blas():
        out = _ddc(A, H, K, sigma2, rel_sigma, w, grad_A, grad_H and H is not None, nt)
    return DDCLossResult(*out)


# ---------------------------------------------------------------------------------------------
# Deep spectral clustering
# ---------------------------------------------------------------------------------------------


def _check_targets(Y, n, dtype):
    """Y as an (n, c) float matrix (labels become a one-hot matrix) and (Y^T Y)^-1 (c x c)."""
    Yarr = np.asarray(Y)
    if Yarr.dtype.kind == "c":
        raise TypeError(f"Y: complex dtype {Yarr.dtype} is not supported (labels, or a real (n, c) target matrix)")
    if Yarr.ndim == 1:
        if Yarr.shape[0] != n:
            raise ValueError(f"Y: expected {n} labels (one per row of F), got {Yarr.shape[0]}")
        if Yarr.dtype.kind == "f" and not np.isfinite(Yarr).all():
            raise ValueError("Y: labels contain NaN or inf")
        if Yarr.dtype.kind in "iu" and Yarr.min() >= 0 and Yarr.max() < 4 * n:
            # small non-negative integer labels: classes present via bincount (no sort)
            counts = np.bincount(Yarr)
            present = counts > 0
            inv = (np.cumsum(present) - 1)[Yarr]
            counts = counts[present].astype(np.float64)
            c = len(counts)
        else:
            classes, inv = np.unique(Yarr, return_inverse=True)
            inv = inv.ravel()
            c = len(classes)
            counts = np.bincount(inv, minlength=c).astype(np.float64)
        Ym = np.zeros((n, c), dtype=dtype)
        Ym[np.arange(n), inv] = 1
        return Ym, np.diag(1.0 / counts)
    Ym = as_float_array(Yarr, "Y", ndim=2).astype(dtype, copy=False)
    if Ym.shape[0] != n:
        raise ValueError(f"Y: expected {n} rows (as F), got shape {Ym.shape}")
    empty = np.flatnonzero(~(Ym != 0).any(axis=0))
    if empty.size:
        raise ValueError(
            f"Y: column {int(empty[0])} is empty (all zeros): every class needs a sample in the "
            "batch, (Y^T Y) is singular"
        )
    YtY = (Ym.T @ Ym).astype(np.float64)
    ev = np.linalg.eigvalsh(YtY)
    if not ev[0] > 1e-12 * max(ev[-1], 1.0):
        raise ValueError("Y: the columns of Y are linearly dependent, Y^T Y is singular")
    return Ym, np.linalg.inv(YtY)


def _thin_svd(F):
    """Thin SVD ``(U, s, Vt)`` of F (n x d, n > d) in float64, singular values descending.

    Well-conditioned F (the usual case in training: all singular values >= 1e-3 s_max) goes
    through the d x d Gram matrix (F^T F = V S^2 V^T, U = F V / s: O(n d^2) in one GEMM, ~10x
    faster than LAPACK's SVD for thin F), whose singular values are then accurate to ~1e-10
    relative; otherwise LAPACK's SVD, whose small singular values are accurate enough for the
    rank cutoff.
    """
    F64 = F.astype(np.float64, copy=False)
    # divided by a power of two near max |F| (exact), so that F^T F neither overflows (|F| ~ 1e300)
    # nor underflows; the singular values are scaled back
    amax = float(np.abs(F64).max()) if F64.size else 0.0
    pre = float(np.exp2(np.floor(np.log2(amax)))) if amax > 0 else 1.0
    if pre != 1.0:
        F64 = F64 / pre
    lam, V = np.linalg.eigh(F64.T @ F64)
    lam, V = lam[::-1], V[:, ::-1]
    if lam[0] > 0 and lam[-1] >= 1e-6 * lam[0]:
        s = np.sqrt(lam)
        U = (F64 @ V) / s[None, :]
        return U, s * pre, np.ascontiguousarray(V.T)
    U, s, Vt = np.linalg.svd(F64, full_matrices=False)
    return U, s * pre, Vt


def spectral_clustering_loss(F, Y, cutoff=None, return_grad=True) -> SpectralLossResult:
    r"""Supervised deep spectral clustering loss (Law, Urtasun & Zemel 2017 [1]_) and its gradient.

    .. math::

        L(F) = c - \operatorname{tr}(F F^+ C), \qquad C = Y (Y^T Y)^{-1} Y^T,

    the value the authors monitor (``c`` = number of classes, the columns of ``Y``).  Its floor is
    ``c - min(c, rank F)``, reached when the column space of ``F`` contains the class indicators,
    i.e. 0 on perfectly clustered embeddings with ``d >= c``.  The gradient is

    .. math::

        \nabla_F L = -2 (I - F F^+)\, C\, (F^+)^T

    (the authors feed back :math:`-\tfrac12` of the gradient of the trace, i.e. this gradient up to
    the factor 1/4 and the sign convention of their update).  Both are computed in float64 from
    the thin SVD of ``F`` (through the d x d Gram matrix when ``F`` is well conditioned) and c x d
    products: no n x n matrix is ever formed (O(n d^2 + n d c)).

    Parameters
    ----------
    F : array (n, d)
        Embeddings of a batch; the batch size ``n`` must exceed the dimension ``d``.
    Y : array (n,) of labels, or (n, c) assignment matrix
        Class labels (any values; the classes are those present) or an indicator / soft target
        matrix whose columns must be non-empty and linearly independent.
    cutoff : float, optional
        Relative cutoff on the singular values of ``F`` for the pseudo-inverse (those below
        ``cutoff * s_max`` are treated as zero); default ``max(n, d) * eps`` of the dtype, as
        ``numpy.linalg.pinv``.
    return_grad : bool
        Also compute the gradient.

    Returns
    -------
    SpectralLossResult
        ``(loss, grad_F, rank)``; the gradient has the dtype of ``F``.

    Examples
    --------
    >>> import numpy as np
    >>> from danneal.losses import spectral_clustering_loss
    >>> y = np.repeat([0, 1, 2], 4)
    >>> F = np.eye(3)[y] + 0.0
    >>> round(spectral_clustering_loss(F, y).loss, 12)
    0.0

    References
    ----------
    .. [1] M. T. Law, R. Urtasun and R. S. Zemel, "Deep spectral clustering learning", ICML 2017,
           PMLR 70:1985-1994.
    """
    if not isinstance(return_grad, (bool, np.bool_)):
        raise TypeError(f"return_grad={return_grad!r} must be a bool")
    F = as_float_array(F, "F", ndim=2)
    n, d = F.shape
    if n <= d:
        raise ValueError(
            f"F: the batch size n={n} must exceed the embedding dimension d={d} (F F^+ would be the identity)"
        )
    if cutoff is None:
        cutoff = max(n, d) * float(np.finfo(F.dtype).eps)
    else:
        cutoff = check_float(cutoff, "cutoff", low=0, high=1, high_inclusive=False)
    Y, Yinv = _check_targets(Y, n, np.float64)
    # OpenBLAS runs a GEMM on one thread when M N K <= 2^18: then the limiter's ~50 us are saved
    if n * d * max(d, Y.shape[1]) <= (1 << 18):
        return _spectral(F, Y, Yinv, cutoff, return_grad)
    with _single_threaded_blas():  # n x d and d x d products: far too small for threads to pay
        return _spectral(F, Y, Yinv, cutoff, return_grad)


def _spectral(F, Y, Yinv, cutoff, return_grad):
    c = Y.shape[1]
    U, s, Vt = _thin_svd(F)
    r = int(np.count_nonzero(s > cutoff * s[0])) if s[0] > 0 else 0
    U, s, Vt = U[:, :r], s[:r], Vt[:r]
    Y = Y.astype(np.float64, copy=False)
    Z = Y.T @ U  # c x r
    W0 = Yinv @ Z  # c x r
    loss = float(c - np.sum(Z * W0))
    grad = None
    if return_grad:
        if r == 0:
            grad = np.zeros_like(F)
        else:
            W = (W0 / s[None, :]) @ Vt  # c x d
            grad = (-2.0 * (Y @ W - U @ (Z.T @ W))).astype(F.dtype, copy=False)
    return SpectralLossResult(loss, grad, r)
