"""Sample weights for pairwise clustering (``PairwiseAnnealing.fit(X, sample_weight=w)``).

An object of weight ``w_i`` counts as ``w_i`` copies of itself (integer weights give exactly the
fit on repeated rows): with ``S_v = sum_i w_i q_iv`` the cost is
``H = sum_v sum_ij w_i w_j q_iv q_jv D_ij / (2 S_v)`` and the mean-field potentials
``h_iv = (1/S_v) sum_j w_j q_jv D_ij - (1/(2 S_v^2)) sum_jl w_j w_l q_jv q_lv D_jl`` keep their
form (``dH/dq_iv = w_i h_iv``).  The kernels take the weights (``sample_weight=`` of
``_core.pairwise_*``, csrc/danneal/pairwise.hpp); this module holds the weighted problems of the
dense and feature-space paths, whose critical temperature and principal directions are those of
the repeated objects, and the check of the weights.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import _core
from . import _pairwise_large as _large
from ._pairwise import _DenseProblem, _FeatureProblem, _onehot
from ._pairwise_split import gradient_potentials
from ._validation import as_float_array

__all__ = ["check_sample_weight", "weighted_problem"]


def check_sample_weight(sample_weight, n_samples):
    """``sample_weight`` as float64 of length ``n_samples`` (a scalar is every object's weight), or
    None when every weight is 1 (the unweighted fit, bit for bit).  Weights must be finite, >= 0,
    not all 0, and their sum finite."""
    if sample_weight is None:
        return None
    if isinstance(sample_weight, (bool, np.bool_)):
        raise TypeError(f"sample_weight={sample_weight!r} must be None, a number or an array of shape ({n_samples},)")
    if isinstance(sample_weight, (numbers.Real, np.number)) or (
        isinstance(sample_weight, np.ndarray) and sample_weight.ndim == 0
    ):
        sample_weight = np.full(n_samples, float(sample_weight))
    w = as_float_array(sample_weight, "sample_weight", ndim=1, dtype=np.float64, allow_empty=True)
    if w.shape != (n_samples,):
        raise ValueError(f"sample_weight: expected one weight per sample, shape ({n_samples},), got shape {w.shape}")
    if (w < 0).any():
        i = int(np.flatnonzero(w < 0)[0])
        raise ValueError(f"sample_weight: weights must be >= 0, got sample_weight[{i}]={float(w[i])!r}")
    total = float(w.sum())
    if not total > 0:
        raise ValueError("sample_weight: every weight is zero; at least one must be positive")
    if not np.isfinite(total):
        raise ValueError(
            f"sample_weight: the total weight overflows float64 (max weight {float(w.max())!r}); "
            "rescale the weights (only their ratios change the partition)"
        )
    if (w == 1.0).all():
        return None
    return np.ascontiguousarray(w)


def weighted_problem(prob, w, metric):
    """The weighted twin of a problem of ``PairwiseAnnealing._problem`` (ValueError on the paths
    without weights)."""
    if isinstance(prob, _FeatureProblem):
        return _WeightedFeatureProblem(prob.X, prob.nt, w, center=prob.center)
    if isinstance(prob, _DenseProblem):
        return _WeightedDenseProblem(prob.D, prob.nt, w)
    if isinstance(prob, _large._SparseProblem):
        return _WeightedSparseProblem(prob.indptr, prob.indices, prob.data, prob.nt, prob.mode, prob.fill, w)
    raise ValueError(
        f"sample_weight is not supported on the tiled path of metric={metric!r} "
        f"(algorithm_={getattr(prob, 'algorithm', 'tiles')!r}): pass metric='precomputed' with the "
        "dissimilarity matrix, use metric='sqeuclidean' or 'cosine', or algorithm='dense'"
    )


def _weighted_operator(apply_D, w):
    """``B V = -1/2 (I - u u^T) R D R (I - u u^T) V`` with ``R = diag(sqrt(w))``, ``u = sqrt(w/N)``,
    ``N = sum w``: its spectrum is that of ``-1/2 P D P`` of the repeated objects (zeros aside).
    Returns ``(B, N, map)``, ``map(Z)`` taking eigenvectors of ``B`` to coordinates of the objects
    (``P_w D R (I - u u^T) Z``, ``P_w = I - 1 w^T / N``; objects of weight 0 included)."""
    N = float(w.sum())
    r = np.sqrt(w)
    u = r / np.sqrt(N)

    def proj(V):
        return V - np.outer(u, u @ V)

    def B(V):
        Y = -0.5 * r[:, None] * apply_D(r[:, None] * proj(V))
        return proj(Y)

    def to_objects(Z):
        X = apply_D(r[:, None] * proj(Z))
        return X - np.outer(np.ones(len(w)), (w @ X) / N)

    return B, N, to_objects


def _weighted_critical_temperature(apply_D, w):
    """``(2 / N) lambda_max`` of the weighted operator (:func:`_weighted_operator`)."""
    from scipy.sparse.linalg import ArpackError, ArpackNoConvergence, LinearOperator, eigsh

    n = len(w)
    if n < 2:
        return 0.0
    B, N, _ = _weighted_operator(apply_D, w)
    if n <= 64:
        M = B(np.eye(n))
        return max(0.0, 2.0 * float(np.linalg.eigvalsh(0.5 * (M + M.T))[-1]) / N)
    op = LinearOperator(
        (n, n), matvec=lambda v: B(np.asarray(v, dtype=np.float64).reshape(-1, 1))[:, 0], dtype=np.float64
    )
    try:
        lam = eigsh(
            op,
            k=1,
            which="LA",
            tol=1e-3,
            v0=np.random.default_rng(0).standard_normal(n),
            maxiter=max(300, 10 * n),
            return_eigenvectors=False,
        )[0]
    except ArpackNoConvergence as exc:  # pragma: no cover - best effort
        lam = float(np.max(exc.eigenvalues)) if len(exc.eigenvalues) else 0.0
    except ArpackError:  # the operator vanishes on the start's span: the dense problem is small enough here
        M = B(np.eye(n))
        lam = float(np.linalg.eigvalsh(0.5 * (M + M.T))[-1])
    return max(0.0, 2.0 * float(lam) / N)


def _weighted_top_eigvecs(apply_D, w, m, n_iter=30):
    """Coordinates of the objects on the top ``m`` principal directions of the repeated objects
    (block power iteration with Rayleigh-Ritz on the weighted operator); only their signs are used."""
    n = len(w)
    m = min(m, n - 1)
    if m < 1:
        return np.zeros((n, 0))
    B, _, to_objects = _weighted_operator(apply_D, w)
    V = np.random.default_rng(0).standard_normal((n, min(n - 1, m + 2)))
    for _ in range(n_iter):
        V, _ = np.linalg.qr(B(V))
    H = V.T @ B(V)
    _, U = np.linalg.eigh(0.5 * (H + H.T))
    return to_objects((V @ U)[:, ::-1][:, :m])


class _WeightedDenseProblem(_DenseProblem):
    """:class:`_pairwise._DenseProblem` with sample weights ``w``."""

    def __init__(self, D, nt, w):
        super().__init__(D, nt)
        self.weights = w

    def _apply(self, V):
        DV, _, _ = _core.pairwise_dq(self.D, np.ascontiguousarray(V, dtype=self.dtype), self.nt)
        return DV.astype(np.float64)

    def fixed_point(self, Q, T, form, max_iter, tol):
        return _core.pairwise_fixed_point(
            self.D, Q, float(T), form, int(max_iter), float(tol), self.nt, sample_weight=self.weights
        )

    def local_search(self, labels, k, max_passes):
        return _core.pairwise_local_search(self.D, labels, k, max_passes, self.nt, sample_weight=self.weights)

    def hard_potentials(self, labels, k):
        DQ, c, S = _core.pairwise_dq(self.D, _onehot(labels, k, self.dtype), self.nt, sample_weight=self.weights)
        h, cl_cost = gradient_potentials(DQ, c, S)
        return h, cl_cost, S

    def critical_temperature(self):
        if not np.any(self.D):
            return 0.0
        return _weighted_critical_temperature(self._apply, self.weights)

    def top_eigvecs(self, m):
        return _weighted_top_eigvecs(self._apply, self.weights, m)

    def subset(self, idx):
        return _WeightedDenseProblem(
            np.ascontiguousarray(self.D[np.ix_(idx, idx)]), self.nt, np.ascontiguousarray(self.weights[idx])
        )


class _WeightedFeatureProblem(_FeatureProblem):
    """:class:`_pairwise._FeatureProblem` with sample weights ``w`` (weighted centroids and scatter)."""

    def __init__(self, X, nt, w, center=None):
        super().__init__(X, nt, center=center)
        self.weights = w

    def fixed_point(self, Q, T, form, max_iter, tol):
        return _core.pairwise_features_fixed_point(
            self.X,
            self.center,
            Q,
            float(T),
            form,
            int(max_iter),
            float(tol),
            self.nt,
            sample_weight=self.weights,
            accelerate=self.accelerate,
        )

    def local_search(self, labels, k, max_passes):
        return _core.pairwise_features_local_search(
            self.X, self.center, labels, k, max_passes, self.nt, sample_weight=self.weights
        )

    def hard_potentials(self, labels, k):
        h = _core.pairwise_features_potential(
            self.X, self.center, _onehot(labels, k, self.dtype), 1, self.nt, sample_weight=self.weights
        ).astype(np.float64)
        S = np.bincount(labels, weights=self.weights, minlength=k)
        own = h[np.arange(self.n), labels]
        cl_cost = np.bincount(labels, weights=np.where(self.weights > 0, self.weights * own, 0.0), minlength=k)
        return h, cl_cost, S

    def _weighted_centred(self):
        """Rows about their weighted mean (float64) and the total weight."""
        N = float(self.weights.sum())
        Xc = self.X.astype(np.float64) - self.center
        return Xc - (self.weights @ Xc) / N, N

    def critical_temperature(self):
        """``2 lambda_max`` of the weighted covariance (that of the repeated rows)."""
        if self.n < 2:
            return 0.0
        Xc, N = self._weighted_centred()
        C = Xc.T @ (self.weights[:, None] * Xc) / N
        return max(0.0, 2.0 * float(np.linalg.eigvalsh(0.5 * (C + C.T))[-1]))

    def top_eigvecs(self, m):
        n, d = self.X.shape
        m = min(m, n - 1, d)
        if m < 1:
            return np.zeros((n, 0))
        Xc, _ = self._weighted_centred()
        _, U = np.linalg.eigh(Xc.T @ (self.weights[:, None] * Xc))
        return Xc @ U[:, ::-1][:, :m]

    def subset(self, idx):
        sub = _WeightedFeatureProblem(
            np.ascontiguousarray(self.X[idx]), self.nt, np.ascontiguousarray(self.weights[idx])
        )
        sub.accelerate = self.accelerate
        return sub

    def centroids(self, labels, k):
        """Weighted centroids (k x d, about the original origin) and the clusters' total weights."""
        M = np.zeros((k, self.X.shape[1]))
        np.add.at(M, labels, self.weights[:, None] * (self.X.astype(np.float64) - self.center))
        S = np.bincount(labels, weights=self.weights, minlength=k)
        return np.where(S[:, None] > 0, M / np.where(S > 0, S, 1.0)[:, None], 0.0) + self.center, S


class _WeightedSparseProblem(_large._SparseProblem):
    """:class:`_pairwise_large._SparseProblem` with sample weights ``w``: the statistics are those of
    the rows ``w_i q_i`` (an object of weight 2 is two copies whose mutual pair is known and 0)."""

    def __init__(self, indptr, indices, data, nt, mode, fill, w):
        super().__init__(indptr, indices, data, nt, mode, fill)
        self.weights = w

    def stats(self, Q):
        WQ, AQ, st = _core.pairwise_sparse_dq(
            self.indptr, self.indices, self.data, Q, self.nt, sample_weight=self.weights
        )
        return WQ, AQ, st[0], st[1], st[2]

    def fixed_point(self, Q, T, form, max_iter, tol):
        Q, stats, status = super().fixed_point(Q, T, form, max_iter, tol)
        P = Q.astype(np.float64)  # the entropy of the returned assignments, weighted
        with np.errstate(divide="ignore", invalid="ignore"):
            stats[1] = float(-(self.weights[:, None] * np.where(P > 0, P * np.log(P), 0.0)).sum()) if T > 0 else 0.0
        return Q, stats, status

    def local_search(self, labels, k, max_passes):
        return _core.pairwise_sparse_local_search(
            self.indptr,
            self.indices,
            self.data,
            labels,
            k,
            self.mode,
            self.fill,
            max_passes,
            self.nt,
            sample_weight=self.weights,
        )

    def critical_temperature(self):
        if self.n < 2 or self.scale() <= 0:
            return 0.0
        return _weighted_critical_temperature(self._apply, self.weights)

    def top_eigvecs(self, m):
        return _weighted_top_eigvecs(self._apply, self.weights, m)

    def subset(self, idx):
        sub = super().subset(idx)
        return _WeightedSparseProblem(
            sub.indptr, sub.indices, sub.data, sub.nt, sub.mode, sub.fill, np.ascontiguousarray(self.weights[idx])
        )

    def new_potentials(self, Wn, labels, k, stats, S):
        """Potentials of new objects (as the base class), the training objects weighted."""
        import scipy.sparse as sp

        Qh = _onehot(labels, k, np.float64) * self.weights[:, None]
        Wn = sp.csr_matrix(Wn, dtype=np.float64)
        A = Wn.copy()
        A.data = np.ones_like(A.data)
        P, M = stats
        return self.potentials_from(np.asarray(Wn @ Qh), np.asarray(A @ Qh), P, M, S)
