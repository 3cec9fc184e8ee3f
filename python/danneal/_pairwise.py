"""Pairwise clustering by deterministic annealing (Hofmann & Buhmann 1997).

The cost of a soft partition ``Q`` (n x k, rows summing to 1) of objects with dissimilarities
``D`` is ``H(Q) = sum_v (Q.T D Q)_vv / (2 S_v)`` with ``S_v = sum_i Q_iv``.  For squared
Euclidean dissimilarities it equals the k-means inertia of the hard partition.  Annealing
minimises the free energy ``F = H - T * entropy`` while the temperature ``T`` falls; at each
temperature the mean-field fixed point ``Q = softmax(-h(Q) / T)`` is found by the compiled
kernel (one pass over ``D`` per sweep).

References
----------
.. [1] T. Hofmann and J. M. Buhmann, "Pairwise data clustering by deterministic annealing",
   IEEE TPAMI 19(1), 1997.
"""

from __future__ import annotations

import os
import sys
import warnings
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, ClusterMixin, TransformerMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import pairwise_distances
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from . import _core
from . import _pairwise_large as _large
from ._callbacks import CallbackSupport, FitMonitor, n_geometric_steps
from ._dask import is_dask
from ._pairwise_split import dense_top_eigvecs, gradient_potentials, split_merge
from ._rownoise import draw_key, row_uniform
from ._threads import resolve_n_threads
from ._validation import check_dissimilarity, check_int, check_n_clusters, validate_X

__all__ = ["PairwiseAnnealing", "PairwiseAnnealer", "critical_temperature"]

_FORMS = {"detan": 0, "gradient": 1}


def _dense_top_eigenvalue(D) -> float:
    """Largest eigenvalue of ``-1/2 P D P`` by a dense symmetric eigensolver (small ``n`` only)."""
    B = -0.5 * np.asarray(D, dtype=np.float64)
    B = B - B.mean(axis=0, keepdims=True)
    B = B - B.mean(axis=1, keepdims=True)
    return float(np.linalg.eigvalsh(0.5 * (B + B.T))[-1])


def critical_temperature(D, *, n_threads=None, tol=1e-3) -> float:
    """First critical temperature ``T_c = (2/n) lambda_max(-1/2 P D P)``, ``P = I - 11^T/n``.

    Above ``T_c`` the only fixed point is the uniform assignment; below it the first split occurs.
    For squared Euclidean ``D`` this is ``2 lambda_max(cov(X))``.  Computed by Lanczos
    (``scipy.sparse.linalg.eigsh``) with matrix-vector products by the compiled kernel.

    Parameters
    ----------
    D : ndarray of shape (n, n), float32 or float64
        Symmetric dissimilarities with a zero diagonal.
    n_threads : int or None, default=None
        Threads of the matrix-vector products (None or -1: all available).
    tol : float, default=1e-3
        Relative tolerance of the Lanczos iteration.

    Returns
    -------
    float
        ``T_c >= 0``; 0 when all objects coincide (the uniform assignment never turns unstable).

    References
    ----------
    .. [1] T. Hofmann and J. M. Buhmann, "Pairwise data clustering by deterministic annealing",
       IEEE TPAMI 19(1), 1997.

    Examples
    --------
    >>> import numpy as np
    >>> from danneal.pairwise import critical_temperature
    >>> X = np.array([[0.0, 0.0], [0.1, 0.0], [4.0, 0.0], [4.1, 0.0]])
    >>> D = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    >>> round(critical_temperature(D), 4)  # 2 * largest variance of X
    8.005
    """
    from scipy.sparse.linalg import ArpackError, ArpackNoConvergence, LinearOperator, eigsh

    n = D.shape[0]
    nt = resolve_n_threads(n_threads)
    if n < 2 or not np.any(D):
        # identical objects (an all-zero block): the uniform assignment never turns unstable
        return 0.0
    if n <= 64:
        # small blocks (split-merge sub-problems): the dense eigenvalue problem is cheaper and exact
        return max(0.0, 2.0 * _dense_top_eigenvalue(D) / n)

    def matvec(v):
        v = np.asarray(v, dtype=np.float64).reshape(-1)
        v = v - v.mean()
        Dv, _, _ = _core.pairwise_dq(D, np.ascontiguousarray(v[:, None], dtype=D.dtype), nt)
        w = -0.5 * Dv[:, 0].astype(np.float64)
        return w - w.mean()

    op = LinearOperator((n, n), matvec=matvec, dtype=np.float64)
    v0 = np.random.default_rng(0).standard_normal(n)
    try:
        lam = eigsh(op, k=1, which="LA", tol=tol, v0=v0, maxiter=max(300, 10 * n), return_eigenvectors=False)[0]
    except ArpackNoConvergence as exc:  # pragma: no cover - best effort
        lam = float(np.max(exc.eigenvalues)) if len(exc.eigenvalues) else 0.0
    except ArpackError:
        # the centred operator maps the start vector to zero: -1/2 P D P vanishes on it (D is constant
        # off the diagonal on the start's span); the dense fallback costs O(n^2) memory only here
        lam = _dense_top_eigenvalue(D)
    return max(0.0, 2.0 * float(lam) / n)


def _features_top_eigenvalue(X, center) -> float:
    """Largest eigenvalue of the (population) covariance of ``X`` about ``center``, accumulated in
    row blocks (no copy of ``X``)."""
    n, d = X.shape
    C = np.zeros((d, d))
    for b in range(0, n, 65536):
        B = X[b : b + 65536].astype(np.float64) - center
        C += B.T @ B
    return float(np.linalg.eigvalsh(C / n)[-1]) if n else 0.0


class _DenseProblem:
    """The dissimilarity matrix ``D`` and the kernels that read it (one pass over ``D`` per sweep)."""

    features = False

    def __init__(self, D, nt):
        self.D = D
        self.n = D.shape[0]
        self.dtype = D.dtype
        self.nt = nt

    def fixed_point(self, Q, T, form, max_iter, tol):
        return _core.pairwise_fixed_point(self.D, Q, float(T), form, int(max_iter), float(tol), self.nt)

    def local_search(self, labels, k, max_passes):
        return _core.pairwise_local_search(self.D, labels, k, max_passes, self.nt)

    def hard_potentials(self, labels, k):
        """Gradient potentials of the hard partition (+inf for empty clusters), cluster costs, sizes."""
        DQ, c, S = _core.pairwise_dq(self.D, _onehot(labels, k, self.dtype), self.nt)
        h, cl_cost = gradient_potentials(DQ, c, S)
        return h, cl_cost, S

    def critical_temperature(self):
        return critical_temperature(self.D, n_threads=self.nt)

    def top_eigvecs(self, m):
        return dense_top_eigvecs(self.D, m, self.nt)

    def subset(self, idx):
        return _DenseProblem(np.ascontiguousarray(self.D[np.ix_(idx, idx)]), self.nt)

    def work(self, size):
        """Work of a sub-problem on ``size`` objects, in passes over the whole problem."""
        return (size / self.n) ** 2

    def scale(self):
        return float(self.D.max()) if self.D.size else 1.0


_ROWS_PER_THREAD = 512


class _FeatureProblem:
    """Squared Euclidean dissimilarities of the rows of ``X``, never formed: every kernel works
    from ``X`` about ``center`` (one pass over ``X`` per sweep, O(n (d + k)) memory)."""

    features = True
    accelerate = False  # SQUAREM in the fixed point (PairwiseAnnealing(accelerate=...))

    def __init__(self, X, nt, center=None):
        self.X = X = np.ascontiguousarray(X)
        self.n = X.shape[0]
        self.dtype = X.dtype
        # one thread per _ROWS_PER_THREAD rows at most: on a busy machine each parallel region's
        # barrier waits for a descheduled thread (digits: 6x slower with 2 threads than with 1 on 2
        # loaded cores), but on a quiet one 2 threads win from a few hundred rows (digits 0.59 s
        # vs 0.84 s, blobs 5000x2 0.98 s vs 1.34 s with 16384 rows per thread), so only tiny
        # problems run on one thread.  The results do not depend on the thread count.
        self.nt = max(1, min(nt, self.n // _ROWS_PER_THREAD))
        self.center = np.ascontiguousarray(
            X.mean(axis=0, dtype=np.float64) if center is None else center, dtype=np.float64
        )

    def fixed_point(self, Q, T, form, max_iter, tol):
        return _core.pairwise_features_fixed_point(
            self.X, self.center, Q, float(T), form, int(max_iter), float(tol), self.nt, accelerate=self.accelerate
        )

    def local_search(self, labels, k, max_passes):
        return _core.pairwise_features_local_search(self.X, self.center, labels, k, max_passes, self.nt)

    def hard_potentials(self, labels, k):
        # gradient potentials are the squared distances to the centroids; a cluster's cost is the
        # sum of its members' own potentials
        h = _core.pairwise_features_potential(self.X, self.center, _onehot(labels, k, self.dtype), 1, self.nt)
        h = h.astype(np.float64)
        S = np.bincount(labels, minlength=k).astype(np.float64)
        cl_cost = np.bincount(labels, weights=h[np.arange(self.n), labels], minlength=k)
        return h, cl_cost, S

    def critical_temperature(self):
        """``2 lambda_max(cov(X))``: the first critical temperature of squared Euclidean ``D``."""
        if self.n < 2:
            return 0.0
        return max(0.0, 2.0 * _features_top_eigenvalue(self.X, self.center))

    def top_eigvecs(self, m):
        """Scores of the objects on the top ``m`` principal directions (exact: ``d x d`` eigenproblem);
        they span the same space as the top eigenvectors of ``-1/2 P D P``."""
        n, d = self.X.shape
        m = min(m, n - 1, d)
        if m < 1:
            return np.zeros((n, 0))
        Xc = self.X.astype(np.float64) - self.center
        w, U = np.linalg.eigh(Xc.T @ Xc)
        return Xc @ U[:, ::-1][:, :m]

    def subset(self, idx):
        sub = _FeatureProblem(np.ascontiguousarray(self.X[idx]), self.nt)
        sub.accelerate = self.accelerate
        return sub

    def work(self, size):
        return size / self.n

    def scale(self):
        return 1.0

    def centroids(self, labels, k):
        """Centroids (k x d, float64, about the original origin) of the hard partition."""
        M = np.zeros((k, self.X.shape[1]))
        np.add.at(M, labels, self.X.astype(np.float64) - self.center)
        S = np.bincount(labels, minlength=k).astype(np.float64)
        return np.where(S[:, None] > 0, M / np.maximum(S, 1)[:, None], 0.0) + self.center, S


def _as_problem(D, nt):
    return _DenseProblem(D, nt) if isinstance(D, np.ndarray) else D


def _initial_rows(key, row0, n, k, perturbation, dtype):
    """Initial assignments of rows ``row0 .. row0 + n - 1``: ``1 + p u`` (u uniform in [-1, 1),
    noise stream 0), normalised; for ``p >= 1`` the noise enters in the log domain instead."""
    u = 2.0 * row_uniform(key, 0, row0, n, k) - 1.0
    if perturbation < 1:
        Q = 1.0 + perturbation * u
    else:  # 1 + p u would go negative: log-domain noise instead (finite for any finite p)
        L = np.clip(perturbation * u, -1e300, 1e300)
        Q = np.exp(L - L.max(axis=1, keepdims=True))
    return np.ascontiguousarray(Q / Q.sum(axis=1, keepdims=True), dtype=dtype)


_SQRT3 = float(np.sqrt(3.0))


def _perturb_rows(Q, key, index, row0, perturbation):
    """Rows ``row0 ..`` of ``Q`` times ``exp(eps * z)``, renormalised (float64): ``z`` uniform on
    ``[-sqrt 3, sqrt 3)`` (mean 0, variance 1; noise stream ``1 + index``).  Uniform rather than
    normal noise: bounded, so for ``eps sqrt 3 <= 300`` every factor lies in ``[e^-300, e^300]`` and
    the row sums are finite and positive without a check, and no inverse normal CDF is needed
    (the perturbation cost a quarter of the blobs 5000 x 2 fit with normal noise)."""
    a = perturbation * _SQRT3
    F = row_uniform(key, 1 + index, row0, Q.shape[0], Q.shape[1])
    F *= 2.0 * a
    F -= a
    if a <= 300.0:
        np.exp(F, out=F)
        Bn = np.multiply(Q, F, dtype=np.float64)
    else:  # a huge perturbation: in the log domain (finite for any finite perturbation)
        with np.errstate(divide="ignore"):
            L = np.log(Q.astype(np.float64)) + np.clip(F, -1e300, 1e300)
        Bn = np.exp(L - L.max(axis=1, keepdims=True))
    Bn /= Bn.sum(axis=1, keepdims=True)
    return Bn


class PairwiseAnnealer:
    """Annealing state for pairwise clustering: owns ``D``, the assignments and the history.

    One :meth:`step` runs the mean-field fixed point at the current temperature (compiled
    kernel, at most ``max_iter`` sweeps, until no assignment changes by ``tol``), records it,
    perturbs the assignments slightly (symmetry breaking) and cools by ``cooling``.  Use it to
    drive an annealing by hand; :class:`danneal.PairwiseAnnealing` runs the whole fit.

    Parameters
    ----------
    D : ndarray of shape (n, n), float32 or float64
        Symmetric dissimilarities with a zero diagonal.
    n_clusters : int
        Number of clusters ``k``.
    T0 : float
        Starting temperature (e.g. 1.5 x :func:`critical_temperature`).
    cooling : float, default=0.9
        Factor applied to the temperature after each step.
    potential : {"gradient", "detan"}, default="gradient"
        Mean-field potentials: the exact gradient of the cost, or detan's form.
    max_iter : int, default=100
        Sweeps of the fixed point per step at most.
    tol : float, default=1e-4
        A fixed point ends when no assignment changes by more than this.
    perturbation : float, default=1e-3
        Size of the random perturbation after each step (symmetry breaking).
    random_state : int, RandomState or None, default=None
        Seed of the initial assignments and perturbations (drawn per row).
    n_threads : int or None, default=None
        Threads of the compiled kernel.

    Returns
    -------
    PairwiseAnnealer
        The state: ``assignments`` (n, k), ``T``, ``history`` (one record per step: ``T``,
        ``cost``, ``free_energy``, ``entropy``, ``n_iter``, ``max_change``, ``converged``),
        ``n_sweeps``.

    References
    ----------
    .. [1] T. Hofmann and J. M. Buhmann, "Pairwise data clustering by deterministic annealing",
       IEEE TPAMI 19(1), 1997.

    Examples
    --------
    >>> import numpy as np
    >>> from danneal.pairwise import PairwiseAnnealer
    >>> X = np.array([[0.0, 0.0], [0.1, 0.0], [4.0, 0.0], [4.1, 0.0]])
    >>> D = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    >>> ann = PairwiseAnnealer(D, 2, T0=10.0, cooling=0.5, random_state=0)
    >>> for _ in range(12):
    ...     record = ann.step()
    >>> labels = ann.assignments.argmax(axis=1)
    >>> bool(labels[0] == labels[1] != labels[2] == labels[3]), ann.hardness()
    (True, 1.0)
    """

    def __init__(
        self,
        D,
        n_clusters,
        *,
        T0,
        cooling=0.9,
        potential="gradient",
        max_iter=100,
        tol=1e-4,
        perturbation=1e-3,
        random_state=None,
        n_threads=None,
    ):
        self.n_threads = resolve_n_threads(n_threads)
        self.problem = _as_problem(D, self.n_threads)
        self.D = D
        self.n_clusters = n_clusters
        self.T = float(T0)
        self.cooling = float(cooling)
        self.form = _FORMS[potential]
        self.max_iter = check_int(max_iter, "max_iter", low=0)
        self.tol = float(tol)
        self.perturbation = float(perturbation)
        self.rng = check_random_state(random_state)
        n = self.problem.n
        # noise indexed by row (danneal._rownoise): the dask driver draws the same numbers block by block
        self.noise_key = draw_key(self.rng)
        self.n_perturbed = 0
        self.assignments = _initial_rows(self.noise_key, 0, n, n_clusters, self.perturbation, self.problem.dtype)
        self.history = []
        self.n_sweeps = 0
        self.numerical_error = False

    def run_fixed_point(self, T, max_iter=None, tol=None):
        """Fixed point at temperature ``T`` from the current assignments; returns the record."""
        max_iter = self.max_iter if max_iter is None else max_iter
        tol = self.tol if tol is None else tol
        Q, stats, status = self.problem.fixed_point(self.assignments, T, self.form, max_iter, tol)
        self.assignments = Q
        self.n_sweeps += status["iterations"]
        self.numerical_error |= bool(status["numerical_error"])
        cost, entropy = float(stats[0]), float(stats[1])
        return {
            "T": float(T),
            "cost": cost,
            "free_energy": cost - float(T) * entropy,
            "entropy": entropy,
            "n_iter": int(status["iterations"]),
            "converged": bool(status["converged"]),
            "max_change": float(stats[3]),
        }

    def perturb(self):
        """Multiply the assignments by ``exp(eps * z)`` (``z`` uniform of variance 1) and renormalise
        (breaks symmetry).
        Done in row blocks with noise indexed by row, so large problems need no n x k temporaries
        and the dask driver reproduces it block by block."""
        if self.perturbation <= 0:
            return
        Q = self.assignments
        out = np.empty_like(Q)
        for b in range(0, Q.shape[0], 65536):
            out[b : b + 65536] = _perturb_rows(Q[b : b + 65536], self.noise_key, self.n_perturbed, b, self.perturbation)
        self.n_perturbed += 1
        self.assignments = out

    def step(self):
        """Fixed point at the current temperature, record, perturb, cool.  Returns the record."""
        rec = self.run_fixed_point(self.T)
        self.history.append(rec)
        self.perturb()
        self.T *= self.cooling
        return rec

    def hardness(self) -> float:
        """Smallest row maximum of the assignments (1 means every assignment is hard)."""
        return float(self.assignments.max(axis=1).min())


def _onehot(labels, k, dtype):
    Q = np.zeros((labels.shape[0], k), dtype=dtype)
    Q[np.arange(labels.shape[0]), labels] = 1
    return Q


def _hard_cost(D, labels, k, nt):
    _, c, S = _core.pairwise_dq(D, _onehot(labels, k, D.dtype), nt)
    nz = S > 0
    return float((c[nz] / (2.0 * S[nz])).sum())


@dataclass(frozen=True)
class _AnnealParams:
    """The settings of one annealing run (:func:`_anneal`), shared by the fit and the split-merge
    refinement's two-way splits (``_pairwise_split``)."""

    cooling: float
    potential: str
    max_iter: int
    tol: float
    perturbation: float
    hard_tol: float
    local_search: bool
    nt: int
    patience: int = 0
    settle_tol: float = 1e-3


def _anneal(D, k, params, *, T0, T_min, rng, callback=None, populated=True):
    """One annealing run to hard labels: the schedule, the zero-temperature sweeps and the local
    search.  ``D`` is a dissimilarity matrix or a problem (:class:`_DenseProblem`,
    :class:`_FeatureProblem`); ``params`` an :class:`_AnnealParams`.

    With ``patience > 0`` cooling also stops once the hard labels (row argmax) of the rows assigned
    with probability > 2/3 have not changed (at most one in a thousand: boundary objects of large
    problems keep flipping; and at least half of the rows are such rows) for
    ``patience`` consecutive temperatures, every cluster has members, and the cost moved by
    less than ``settle_tol`` (relative) at each of those temperatures: the remaining temperatures
    would only harden assignments the zero-temperature finish fixes anyway.  (An empty hard
    cluster means two columns still coincide, i.e. a split is pending: cooling goes on.)
    ``callback(record, annealer)`` is called after each temperature; ``True`` stops the cooling.
    Returns ``(labels, cost, annealer, n_unconverged_temperatures)``."""
    p = params
    patience, settle_tol, hard_tol, max_iter = p.patience, p.settle_tol, p.hard_tol, p.max_iter
    prob = _as_problem(D, p.nt)
    ann = PairwiseAnnealer(
        prob,
        k,
        T0=T0,
        cooling=p.cooling,
        potential=p.potential,
        max_iter=max_iter,
        tol=p.tol,
        perturbation=p.perturbation,
        random_state=rng,
        n_threads=p.nt,
    )
    not_converged = 0
    prev_labels, prev_cost, stable = None, None, 0
    while k > 1 and ann.T >= T_min:
        rec = ann.step()
        rec["hardness"] = ann.hardness()
        not_converged += not rec["converged"]
        if callback is not None and callback(dict(rec), ann) is True:
            break
        if rec["hardness"] >= 1.0 - hard_tol:
            break
        if patience:
            lab = np.argmax(ann.assignments, axis=1)
            # flips are counted among confidently assigned rows only: within a pair of coincident
            # columns the argmax follows the symmetry-breaking noise
            confident = ann.assignments.max(axis=1) > 2.0 / 3.0
            settled = (
                prev_labels is not None
                and 2 * np.count_nonzero(confident) >= lab.size
                and np.count_nonzero((lab != prev_labels) & confident) <= lab.size // 1000
                and abs(rec["cost"] - prev_cost) <= settle_tol * abs(rec["cost"])
                and (not populated or np.bincount(lab, minlength=k).min() > 0)
            )
            stable = stable + 1 if settled else 0
            prev_labels, prev_cost = lab, rec["cost"]
            if stable >= patience:
                rec["early_stop"] = True
                break
    ann.assignments_annealed = ann.assignments.copy()
    # Zero temperature: hard sweeps until no label changes (Lloyd iterations for the gradient
    # potentials on squared Euclidean D).  Synchronous hard sweeps can cycle on general D, so the
    # cheaper of the annealed argmax and the swept partition is kept.
    soft_labels = np.argmax(ann.assignments, axis=1)
    ann.assignments = _onehot(soft_labels, k, prob.dtype)
    ann.run_fixed_point(0.0, max_iter=max(max_iter, 100), tol=0.5)
    if ann.numerical_error:
        raise FloatingPointError(
            "non-finite potentials met during annealing: the dissimilarities are too large to represent; rescale them"
        )
    swept_labels = np.argmax(ann.assignments, axis=1)
    best = None
    starts = (swept_labels,) if np.array_equal(swept_labels, soft_labels) else (swept_labels, soft_labels)
    for labels in starts:
        labels = np.ascontiguousarray(labels, dtype=np.int64)
        labels, cost, _ = prob.local_search(labels, k, 100 if p.local_search else 0)
        if best is None or cost < best[0]:
            best = (cost, labels)
    return best[1], best[0], ann, not_converged


def _rescaled(rec, scale):
    """A temperature's record with the weight-linear quantities (cost, free energy, entropy) times
    ``scale`` (a weighted fit runs on weights of mean 1 and reports in the caller's weights)."""
    return {**rec, **{key: rec[key] * scale for key in ("cost", "free_energy", "entropy") if key in rec}}


# anneal_rows="auto" (feature path): the annealing and the split-merge run on a uniform sample of
# max(_ANNEAL_ROWS, 256 k) rows when there are more; all rows are then assigned to the nearest
# centroid and finished by zero-temperature sweeps and the local search (as CentralAnnealing).
_ANNEAL_ROWS = 32768
# tiles (D formed from X in every sweep): the sample's D is formed densely (split-merge sub-problems
# up to 64 MiB are dense), so the annealing costs O(m^2) per sweep, not O(n^2 d)
_TILES_ANNEAL_ROWS = 2000


def _nearest_centroid(prob, C):
    """Labels (int64) of the rows of a :class:`_FeatureProblem` at their nearest of the centroids
    ``C`` (k x d, about the original origin), in row blocks (lowest index on ties)."""
    X = prob.X
    Cc = np.asarray(C, dtype=np.float64) - prob.center
    cn = (Cc * Cc).sum(axis=1)
    out = np.empty(prob.n, dtype=np.int64)
    for b in range(0, prob.n, 65536):
        B = X[b : b + 65536].astype(np.float64) - prob.center
        out[b : b + 65536] = np.argmin(cn[None, :] - 2.0 * (B @ Cc.T), axis=1)
    return out


def _finish_all_rows(prob, labels, k, form, local_search, max_iter):
    """Zero-temperature sweeps (Lloyd iterations for the gradient potentials) from ``labels`` on all
    rows of ``prob``, then the local search; returns ``(labels, cost, sweeps)``."""
    Q, _, st = prob.fixed_point(_onehot(labels, k, prob.dtype), 0.0, form, max(max_iter, 100), 0.5)
    labels = np.ascontiguousarray(np.argmax(Q, axis=1), dtype=np.int64)
    del Q
    labels, cost, _ = prob.local_search(labels, k, 100 if local_search else 0)
    return labels, cost, int(st["iterations"])


def _available_memory():
    """Bytes of memory available now (``MemAvailable`` of /proc/meminfo), or None if unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):  # pragma: no cover - not Linux
        pass
    try:  # pragma: no cover - not Linux
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _check_scale(X, power):
    """ValueError unless the kernels' intermediate sums stay finite: ``d (2 max|X|)^power`` (one
    distance, accumulated in X's dtype) and ``n^2`` distances summed in float64."""
    n, d = X.shape
    amax = float(np.abs(X).max())
    with np.errstate(over="ignore"):
        one = np.float64(d) * np.power(np.float64(2.0 * amax), power)
        ok = bool(one < np.finfo(X.dtype).max and np.float64(n) * n * max(one, 2.0 * amax) < 1e300)
    if not ok:
        raise ValueError(f"X: dissimilarities overflow (max |X| = {amax!r}); rescale X")


def _check_dense_memory(n, metric):
    """Raise MemoryError before forming an ``n x n`` dissimilarity matrix that would not fit
    (``pairwise_distances`` and the symmetrisation hold about three float64 copies)."""
    need = 3 * 8 * n * n
    avail = _available_memory()
    if avail is not None and need > avail:
        raise MemoryError(
            f"PairwiseAnnealing(metric={metric!r}) on n_samples={n} would form the {n} x {n} dissimilarity matrix "
            f"(about {need / 2**30:.3g} GiB with its temporaries) but only {avail / 2**30:.3g} GiB are available. "
            "Ways out: metric='sqeuclidean' or metric='cosine' never form it (algorithm='auto' or 'features': "
            "one pass over X per sweep); metric='cityblock', 'euclidean', 'chebyshev' or 'minkowski' with "
            "algorithm='auto' or 'tiles' form it in tiles inside every sweep (a float32 copy is cached when it fits "
            "memory_budget); n_neighbors=... clusters the sparse k-nearest-neighbour graph (O(n n_neighbors) "
            "memory); or compute the matrix yourself in float32 and pass it with metric='precomputed' (half the "
            "memory, no temporaries), or a scipy.sparse matrix of the known pairs; or cluster a subsample."
        )


def _features_potentials(X, centers, sizes, metric):
    """Gradient potentials of new rows for a feature-space fit: squared distances to the centroids
    (+inf for empty clusters); cosine rows are first scaled to norm 1/sqrt(2)."""
    if metric == "cosine":
        norms = np.sqrt(np.einsum("ij,ij->i", X, X, dtype=np.float64))
        X = X / (np.sqrt(2.0) * np.where(norms > 0, norms, 1.0))[:, None]
    X = np.asarray(X, dtype=np.float64)
    h = np.empty((X.shape[0], centers.shape[0]))
    with np.errstate(over="ignore", invalid="ignore"):
        for v in range(centers.shape[0]):
            h[:, v] = ((X - centers[v]) ** 2).sum(axis=1)
    if not np.isfinite(h).all():
        raise ValueError(
            f"X: squared distances to the centroids overflow float64 (max |X| = {float(np.abs(X).max())!r}); rescale X"
        )
    h[:, sizes == 0] = np.inf
    return h


def _soft_memberships(h, T):
    """``softmax(-h / T)`` by rows, max-subtracted (+inf potentials get 0)."""
    h = np.asarray(h, dtype=np.float64)
    hmin = h.min(axis=1, keepdims=True)
    with np.errstate(over="ignore", invalid="ignore"):
        E = np.exp(-(h - hmin) / T)  # <= 1, exactly 1 at the row minimum, 0 for +inf (empty clusters)
    return E / E.sum(axis=1, keepdims=True)


def _features_block(X, centers, sizes, metric, what, T=None):
    """``predict`` (``what="labels"``), ``transform`` (``"potentials"``) or ``predict_proba``
    (``"proba"`` at temperature ``T``) of a feature-space fit on one block of rows (the dask
    path's task)."""
    X = np.asarray(X)
    if not np.isfinite(X).all():
        raise ValueError("Input X contains NaN or infinity")
    h = _features_potentials(X, centers, sizes, metric)
    if what == "labels":
        return np.argmin(h, axis=1).astype(np.intp)
    return h if what == "potentials" else _soft_memberships(h, T)


class PairwiseAnnealing(
    CallbackSupport, ClassNamePrefixFeaturesOutMixin, TransformerMixin, ClusterMixin, BaseEstimator
):
    """Pairwise clustering by deterministic annealing (Hofmann & Buhmann 1997 [1]_).

    Minimises the pairwise clustering cost ``H = sum_v (Q^T D Q)_vv / (2 S_v)`` over
    partitions of ``n`` objects into ``n_clusters`` groups, given only their dissimilarities
    (or feature vectors and a metric).  For squared Euclidean dissimilarities ``H`` is the
    k-means inertia.

    The schedule is automatic: start at ``T0`` (default 1.5 x the first critical temperature,
    estimated from the data), run the mean-field fixed point at each temperature (compiled
    kernel, one pass over ``D`` per sweep), perturb slightly to break symmetry, cool
    geometrically, and stop once the assignments are hard (or at ``T_min``); finish with
    zero-temperature sweeps (for the ``"gradient"`` potentials and squared Euclidean ``D``
    exactly Lloyd iterations) and a sequential local search of exact single-object moves.

    Parameters
    ----------
    n_clusters : int, default=8
    metric : str or callable, default="precomputed"
        ``"precomputed"``: ``fit`` takes an ``(n, n)`` dissimilarity matrix (symmetric,
        non-negative, zero diagonal).  Otherwise any metric accepted by
        :func:`sklearn.metrics.pairwise_distances` (use ``"sqeuclidean"`` for the k-means
        cost); ``fit`` then takes feature vectors.
    potential : {"gradient", "detan"}, default="gradient"
        Mean-field potentials: the exact gradient of ``H`` (large-n form) or detan's
        leave-one-out form.
    T0 : "auto" or float, default="auto"
        Starting temperature; "auto" is 1.5 x the estimated critical temperature.
    cooling : float in (0, 1), default=0.8
        Geometric cooling factor.  (0.8 and ``max_iter=30`` since issue 11: on the 31 sets of
        ``benchmarks/quality_pairwise.py --full`` every cost stayed the same as with 0.9 and
        100, for 2.6x fewer sweeps; ``max_iter=20`` since: 31/31 sets still <= 1.001 x
        k-means on the feature-space path and 26/26 on D, for 10-45 % fewer sweeps.)
    T_min : "auto" or float, default="auto"
        Lowest temperature; "auto" is ``1e-4 * T0``.
    max_iter : int, default=20
        Cap on sweeps per temperature.
    tol : float, default=1e-4
        A temperature's fixed point is reached when no assignment changes by more than ``tol``.
    perturbation : float, default=1e-3
        Size of the multiplicative noise added after each temperature (symmetry breaking).
    hard_tol : float, default=1e-3
        Annealing stops when every row of the assignments has a maximum above ``1 - hard_tol``.
    local_search : bool, default=True
        Finish with sequential exact single-object moves (Hartigan-style: each object moves to
        the cluster that lowers ``H`` most, until no move helps).  Costs O(n k) per pass plus
        one row of ``D`` per move; it never increases the cost.
    refine : bool, default=True
        Then try split-merge moves: anneal each cluster into two on its own dissimilarities,
        price the deletion of each cluster, and swap a redundant cluster for the most useful
        split while that lowers the cost (each move ends with the local search).  Repairs the
        one thing a fixed-k annealing path can get wrong: how many clusters follow each branch
        at a phase transition.
    algorithm : {"auto", "features", "dense"}, default="auto"
        ``"features"``: for ``metric="sqeuclidean"`` or ``"cosine"`` on feature vectors, never
        form ``D``: every sweep, the local search and the refinement work from ``X`` (one pass
        over ``X`` per sweep, O(n (d + k)) memory; exact, the same potentials as the dense path).
        Cosine dissimilarity is half the squared distance of the unit-normalised rows.
        ``"dense"``: form the ``n x n`` matrix.  ``"auto"``: ``"features"`` where it applies
        (not for cosine with all-zero rows), else ``"dense"``.
    patience : int, default=5
        Stop cooling once the hard labels have not changed (up to one in a thousand) for ``patience`` consecutive
        temperatures (with every cluster populated and the cost settled to 1e-3 relative); 0
        cools until the assignments are hard or ``T_min``.
    anneal_rows : int, None or "auto", default="auto"
        Feature-space and tiles paths only (``algorithm_`` ``"features"`` or ``"tiles"``): the
        annealing and the split-merge refinement run on a uniform sample of this many rows (drawn
        from ``random_state``) when ``X`` has more; every row is then assigned to the cluster of the
        sample's partition of lowest potential (feature space: the nearest centroid) and finished by
        zero-temperature sweeps (for squared Euclidean ``D`` Lloyd iterations) and the local search
        on all rows.  The cost divided by ``n`` is a mean over the objects, which a uniform sample
        estimates without bias.  ``"auto"``: ``max(32768, 256 * n_clusters)`` (features),
        ``max(2000, 200 * n_clusters)`` (tiles: one sweep over all rows costs O(n^2 d)); ``None``:
        all rows.
    accelerate : bool, default=True
        Feature-space path only (``algorithm_="features"``, gradient potentials): every third sweep
        of a temperature's fixed point starts from the SQUAREM extrapolation (Varadhan & Roland
        2008) of the two sweeps before it, so it converges in fewer sweeps (the same stop: the
        largest change of an assignment in one sweep below ``tol``).  ``False``: plain sweeps,
        the same sequence as the dense path's.
    random_state : int, RandomState or None
    n_threads : int or None
        Threads for the kernels (None or -1: all available cores).
    verbose : int, default=0
        1: progress on standard error: each phase (critical temperature, annealing, split-merge
        refinement) and each temperature, with the time elapsed and an upper estimate of the
        time left.
    callback : callable or None
        Called once per temperature with the history record (a dict with ``T``, ``cost``,
        ``free_energy``, ``entropy``, ``n_iter``, ``hardness``, and ``step``, ``elapsed``,
        ``progress``); returning ``True`` stops the annealing early (the zero-temperature finish
        still runs).  The convention of every danneal estimator; scikit-learn's callbacks
        (``set_callbacks``, scikit-learn >= 1.9) work too.

    Attributes
    ----------
    labels_ : ndarray (n,)
    assignments_ : ndarray (n, n_clusters)
        Soft assignments at the last annealing temperature.
    cost_ : float
        Pairwise clustering cost of ``labels_``.
    n_iter_ : int
        Total sweeps (passes over ``D``) over all temperatures.
    n_refinements_ : int
        Split-merge moves kept by ``refine``.
    history_ : list of dict
        One record per temperature: ``T``, ``cost``, ``free_energy``, ``entropy``, ``n_iter``,
        ``converged``, ``hardness``.
    T0_, critical_temperature_ : float
    n_anneal_rows_ : int
        Rows the annealing ran on (see ``anneal_rows``).
    algorithm_ : str
        The path taken: ``"features"`` or ``"dense"``.
    cluster_centers_ : ndarray (n_clusters, n_features)
        Only for ``algorithm_ == "features"``: the centroids (for cosine, of the rows normalised
        to norm ``1/sqrt(2)``).
    n_features_in_ : int

    Examples
    --------
    Feature vectors under any metric of :func:`sklearn.metrics.pairwise_distances` (here L1,
    where k-means does not apply), or a precomputed dissimilarity matrix:

    >>> import numpy as np
    >>> from sklearn.metrics import pairwise_distances
    >>> from danneal import PairwiseAnnealing
    >>> X = np.array([[0.0, 0.0], [0.2, 0.1], [0.1, 0.3], [4.0, 4.0], [4.2, 3.9], [3.9, 4.3]])
    >>> model = PairwiseAnnealing(n_clusters=2, metric="cityblock", random_state=0, n_threads=1).fit(X)
    >>> labels = model.labels_.tolist()
    >>> labels[0] == labels[1] == labels[2] != labels[3] == labels[4] == labels[5]
    True
    >>> D = pairwise_distances(X, metric="cityblock")
    >>> pre = PairwiseAnnealing(n_clusters=2, metric="precomputed", random_state=0, n_threads=1).fit(D)
    >>> bool(np.isclose(pre.cost_, model.cost_))
    True
    >>> model.predict([[0.1, 0.1], [4.1, 4.1]]).tolist() == [labels[0], labels[3]]
    True

    References
    ----------
    .. [1] T. Hofmann and J. M. Buhmann, "Pairwise data clustering by deterministic annealing",
           IEEE TPAMI 19(1):1-14, 1997.
    """

    _parameter_constraints = {
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "metric": [str, callable],
        "potential": [StrOptions(set(_FORMS))],
        "T0": [StrOptions({"auto"}), Interval(Real, 0, None, closed="neither")],
        "cooling": [Interval(Real, 0, 1, closed="neither")],
        "T_min": [StrOptions({"auto"}), Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, 2**63 - 1, closed="both")],  # the kernels take int64
        "tol": [Interval(Real, 0, None, closed="left")],
        "perturbation": [Interval(Real, 0, None, closed="left")],
        "hard_tol": [Interval(Real, 0, 1, closed="neither")],
        "local_search": ["boolean"],
        "refine": ["boolean"],
        "algorithm": [StrOptions({"auto", "features", "dense", "tiles"})],
        "patience": [Interval(Integral, 0, None, closed="left")],
        "random_state": ["random_state"],
        "n_threads": [None, Interval(Integral, -1, None, closed="left")],
        "verbose": ["verbose"],
        "callback": [None, callable],
        "n_neighbors": [None, Interval(Integral, 1, None, closed="left")],
        "neighbors": [StrOptions({"exact", "approximate"})],
        "missing": [StrOptions({"max", "mean"}), Interval(Real, 0, None, closed="left")],
        "memory_budget": [StrOptions({"auto"}), Interval(Real, 0, None, closed="left")],
        "metric_params": [None, dict],
        "anneal_rows": [StrOptions({"auto"}), None, Interval(Integral, 1, None, closed="left")],
        "accelerate": ["boolean"],
    }

    def __init__(
        self,
        n_clusters=8,
        *,
        metric="precomputed",
        potential="gradient",
        T0="auto",
        cooling=0.8,
        T_min="auto",
        max_iter=20,
        tol=1e-4,
        perturbation=1e-3,
        hard_tol=1e-3,
        local_search=True,
        refine=True,
        algorithm="auto",
        patience=5,
        random_state=None,
        n_threads=None,
        verbose=0,
        callback=None,
        n_neighbors=None,
        neighbors="exact",
        missing="max",
        memory_budget="auto",
        metric_params=None,
        anneal_rows="auto",
        accelerate=True,
    ):
        self.n_clusters = n_clusters
        self.metric = metric
        self.potential = potential
        self.T0 = T0
        self.cooling = cooling
        self.T_min = T_min
        self.max_iter = max_iter
        self.tol = tol
        self.perturbation = perturbation
        self.hard_tol = hard_tol
        self.local_search = local_search
        self.refine = refine
        self.algorithm = algorithm
        self.patience = patience
        self.random_state = random_state
        self.n_threads = n_threads
        self.verbose = verbose
        self.callback = callback
        self.n_neighbors = n_neighbors
        self.neighbors = neighbors
        self.missing = missing
        self.memory_budget = memory_budget
        self.metric_params = metric_params
        self.anneal_rows = anneal_rows
        self.accelerate = accelerate

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = self.metric == "precomputed"
        tags.input_tags.sparse = self.metric == "precomputed"
        return tags

    # -- input ----------------------------------------------------------------------------------
    def _dissimilarities(self, X):
        if self.metric == "precomputed":
            X = validate_X(self, X, dtype=[np.float64, np.float32], min_samples=2, what="(n_samples, n_samples)")
            return check_dissimilarity(X, "X", min_samples=2)
        X = validate_X(self, X, dtype=[np.float64, np.float32], min_samples=2)
        self._fit_X = X
        _check_dense_memory(X.shape[0], self.metric)
        D = pairwise_distances(X, metric=self.metric, **(self.metric_params or {}))
        D = np.ascontiguousarray(D, dtype=X.dtype)
        D = 0.5 * (D + D.T)
        np.fill_diagonal(D, 0)
        if not np.isfinite(D).all():
            raise ValueError(
                f"X: metric={self.metric!r} produced non-finite dissimilarities (max |X| = "
                f"{float(np.abs(X).max())!r}); rescale X"
            )
        if (D < 0).any():
            raise ValueError(f"X: metric={self.metric!r} produced negative dissimilarities")
        return np.ascontiguousarray(D)

    def _feature_rows(self, X):
        """Rows whose squared Euclidean distances are the dissimilarities, or None (cosine with an
        all-zero row, whose cosine dissimilarity is not a distance of normalised rows)."""
        if self.metric == "sqeuclidean":
            return X
        norms = np.sqrt(np.einsum("ij,ij->i", X, X, dtype=np.float64))
        if not (norms > 0).all():
            return None
        # 1 - cos(x, y) = |u - w|^2 / 2 for unit u, w: rows of norm 1/sqrt(2)
        return np.ascontiguousarray(X / (np.sqrt(2.0) * norms)[:, None], dtype=X.dtype)

    def _sparse_mode(self, data):
        if self.missing == "mean":
            return _large.SPARSE_MEAN, 0.0
        fill = (
            float(data.max())
            if (self.missing == "max" and data.size)
            else (0.0 if self.missing == "max" else float(self.missing))
        )
        return _large.SPARSE_FILL, fill

    def _memory_budget(self):
        if self.memory_budget == "auto":
            avail = _available_memory()
            return 0.5 * avail if avail is not None else 2.0**31
        return float(self.memory_budget)

    def _problem(self, X, nt):
        """The problem to anneal: sparse (a scipy.sparse ``X`` or ``n_neighbors``), feature space where
        it applies (see ``algorithm``), D formed in tiles, else ``D``."""
        import scipy.sparse as sp

        if self.metric == "precomputed" and sp.issparse(X):
            if self.algorithm not in ("auto",):
                raise ValueError(
                    f"algorithm={self.algorithm!r}: a sparse X (metric='precomputed') takes the sparse "
                    "path; use algorithm='auto'"
                )
            indptr, indices, data = _large.check_sparse_dissimilarity(X, "X")
            self.n_features_in_ = X.shape[1]
            return self._sparse_problem(indptr, indices, data, nt)
        if self.n_neighbors is not None:
            if self.metric == "precomputed":
                raise ValueError("n_neighbors needs feature vectors: with metric='precomputed' pass a sparse X instead")
            Xv = validate_X(self, X, dtype=[np.float64, np.float32], min_samples=2)
            _check_scale(Xv, 2.0)  # the neighbour search squares distances (sklearn's euclidean)
            G = _large.knn_graph(
                Xv, self.n_neighbors, self.metric, method=self.neighbors, n_threads=nt, metric_params=self.metric_params
            )
            self._fit_X = Xv
            indptr, indices, data = _large.check_sparse_dissimilarity(G, "X")
            return self._sparse_problem(indptr, indices, data, nt)
        if self.metric in _large.TILE_METRICS and self.algorithm in ("auto", "tiles"):
            Xv = validate_X(self, X, dtype=[np.float64, np.float32], min_samples=2)
            self._fit_X = Xv
            p = float((self.metric_params or {}).get("p", 2.0)) if self.metric == "minkowski" else 2.0
            if not (np.isfinite(p) and p >= 1):
                raise ValueError(f"metric_params['p']={p!r} must be finite and >= 1")
            metric_code = _large.TILE_METRICS[self.metric]
            _check_scale(Xv, {0: 1.0, 1: 2.0, 2: 1.0, 3: p}[metric_code])
            tiles = _large._TilesProblem(Xv, metric_code, p, nt)
            n = Xv.shape[0]
            budget = self._memory_budget()
            if self.algorithm == "auto" and 3.0 * Xv.itemsize * n * n <= budget:
                self.algorithm_ = "dense"  # small: the matrix as before (pairwise_distances and its copies)
                return _DenseProblem(self._dissimilarities(X), nt)
            if self.algorithm == "auto" and 4.0 * n * n <= budget:
                self.algorithm_ = "dense-float32"  # cached once in float32, formed by the tile kernel
                return _DenseProblem(tiles.matrix(dtype=np.float32), nt)
            self.algorithm_ = "tiles"
            return tiles
        if self.algorithm == "tiles":
            raise ValueError(
                f"algorithm='tiles' needs metric in {sorted(set(_large.TILE_METRICS))}, got metric={self.metric!r}"
            )
        if self.metric in ("sqeuclidean", "cosine") and self.algorithm != "dense":
            Xv = validate_X(self, X, dtype=[np.float64, np.float32], min_samples=2)
            amax = float(np.abs(Xv).max())
            with np.errstate(over="ignore"):
                big = not np.isfinite(4.0 * amax * amax * Xv.shape[1])
            if big:  # as on the dense path, where pairwise_distances would return inf
                raise ValueError(f"X: squared distances overflow float64 (max |X| = {amax!r}); rescale X")
            Xf = self._feature_rows(Xv)
            if Xf is not None:
                self.algorithm_ = "features"
                return _FeatureProblem(Xf, nt)
            if self.algorithm == "features":
                raise ValueError(
                    "algorithm='features' with metric='cosine' needs rows of nonzero norm: X has an "
                    "all-zero row (use algorithm='dense' or 'auto')"
                )
        elif self.algorithm == "features":
            raise ValueError(f"algorithm='features' needs metric='sqeuclidean' or 'cosine', got metric={self.metric!r}")
        self.algorithm_ = "dense"
        return _DenseProblem(self._dissimilarities(X), nt)

    def _anneal_problem(self, prob, k, rng):
        """The problem the annealing and the split-merge run on, and the rows it holds: a uniform
        sample of the rows of a feature-space or tiles problem when ``anneal_rows`` asks for fewer
        rows than it has (drawn from ``rng``), else ``(prob, None)``.  Sets ``n_anneal_rows_``."""
        m = prob.n
        tiles = isinstance(prob, _large._TilesProblem)
        if (prob.features or tiles) and self.anneal_rows is not None:
            if self.anneal_rows == "auto":
                m = max(_ANNEAL_ROWS, 256 * k) if prob.features else max(_TILES_ANNEAL_ROWS, 200 * k)
            else:
                m = int(self.anneal_rows)
            m = min(prob.n, max(m, k))
        self.n_anneal_rows_ = int(m)
        if m >= prob.n:
            return prob, None
        idx = np.sort(np.random.default_rng(int(rng.randint(2**31))).choice(prob.n, m, replace=False))
        return prob.subset(idx), idx

    def _finish_sampled(self, prob, aprob, idx, labels, k, ann, mon):
        """After annealing a sample: every row to the cluster of the sample's partition of lowest
        potential (feature space: the nearest centroid), then zero-temperature sweeps and the local
        search on all rows; ``assignments_`` are the soft assignments of all rows to that final
        partition at the last annealing temperature (one sweep).  Returns ``(labels, cost)``."""
        mon.phase("all rows", f"n={prob.n}: extend the sample's partition, zero-temperature sweeps, local search")
        if prob.features:
            C, _ = aprob.centroids(labels, k)
            start = _nearest_centroid(prob, C)
        else:
            start = prob.extend_labels(idx, labels, k)
        form = _FORMS[self.potential]
        labels, cost, sweeps = _finish_all_rows(prob, start, k, form, self.local_search, self.max_iter)
        ann.n_sweeps += sweeps
        T_last = float(ann.history[-1]["T"]) if ann.history else float(self.T0_)
        Q, _, st = prob.fixed_point(_onehot(labels, k, prob.dtype), T_last, form, 1, 0.0)
        ann.n_sweeps += 1
        self.assignments_ = Q
        return labels, cost

    def _sparse_problem(self, indptr, indices, data, nt):
        if self.potential != "gradient":
            raise ValueError(
                f"potential={self.potential!r}: sparse dissimilarities take the gradient potentials "
                "only (potential='gradient')"
            )
        mode, fill = self._sparse_mode(data)
        self.algorithm_ = "sparse"
        self.missing_fill_ = fill if mode == _large.SPARSE_FILL else None
        return _large._SparseProblem(indptr, indices, data, nt, mode, fill)

    # -- fit ------------------------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: ArrayLike, y: Any = None, sample_weight: ArrayLike | None = None) -> PairwiseAnnealing:
        """Cluster ``X`` (dissimilarities if ``metric="precomputed"``, else feature vectors).

        ``sample_weight`` (n_samples,), finite and >= 0, or None: object ``i`` counts as
        ``sample_weight[i]`` copies of itself (integer weights give the fit on repeated rows), so
        the cost is ``H = sum_v sum_ij w_i w_j q_iv q_jv D_ij / (2 S_v)`` with the weighted masses
        ``S_v = sum_i w_i q_iv`` (docs/guide/pairwise.md).  Dense, feature-space and sparse paths
        (not the tiled or dask ones)."""
        # the small dense linear algebra of the schedule and the refinement (d x d and block
        # eigenproblems) runs between kernel calls: BLAS threads only contend with the kernels'
        # OpenMP threads there (a 64 x 64 eigh took 60x longer with them on 2 busy cores)
        with threadpool_limits(limits=1, user_api="blas"):
            return self._fit(X, y, sample_weight)

    def _fit(self, X, y=None, sample_weight=None):
        nt = resolve_n_threads(self.n_threads)
        self._sample_weight_fit = None
        if is_dask(X):  # feature-space fit on the blocks of a dask array (danneal._dask.fit_pairwise)
            if sample_weight is not None:
                raise ValueError("sample_weight is not supported for a dask array X: fit in memory, or repeat rows")
            from ._dask import fit_pairwise

            return fit_pairwise(self, X, nt, y)
        prob = self._problem(X, nt)
        n = prob.n
        k = check_n_clusters(self.n_clusters, n)
        wscale = 1.0  # the fit runs on weights of mean 1 (the partition does not depend on their scale)
        if sample_weight is not None:  # weighted twins of the problems (danneal._pairwise_weights)
            from ._pairwise_weights import check_sample_weight, weighted_problem

            w = check_sample_weight(sample_weight, n)
            if w is not None:
                wscale = float(w.sum()) / n
                self._sample_weight_fit = w / wscale
                prob = weighted_problem(prob, self._sample_weight_fit, self.metric)
        if prob.features:
            prob.accelerate = bool(self.accelerate)
        mon = FitMonitor(
            self,
            X,
            y,
            callback=self.callback,
            verbose=self.verbose,
            max_steps=n_geometric_steps(self.T0, self.T_min, self.cooling, 1e-4),
        )
        mon.phase("critical temperature", f"n={n}, {self.algorithm_}")
        self.critical_temperature_ = prob.critical_temperature()
        if self.T0 == "auto":
            scale = prob.scale()
            T0 = 1.5 * self.critical_temperature_ if self.critical_temperature_ > 0 else max(scale, 1.0)
        else:
            T0 = float(self.T0)
        T_min = 1e-4 * T0 if self.T_min == "auto" else float(self.T_min)
        self.T0_ = T0

        mon.phase("annealing", f"T0={T0:.4g} down to at most T_min={T_min:.4g}")

        def step(rec, ann):  # progress: the share of the log-temperature range covered (an upper bound on the rest)
            if wscale != 1.0:
                rec = _rescaled(rec, wscale)
            Q, hist = ann.assignments, list(ann.history)

            def state():  # scikit-learn callbacks (ScoringMonitor): a model of this temperature's argmax partition
                labels = np.ascontiguousarray(np.argmax(Q, axis=1), dtype=np.int64)
                # (the annealed problem: all rows, or the sample of them that anneal_rows asks for)
                return {
                    **self._partition_attributes(aprob, labels, k, nt),
                    "assignments_": Q,
                    "cost_": rec["cost"],
                    "history_": hist if wscale == 1.0 else [_rescaled(r, wscale) for r in hist],
                }

            return mon.step(
                rec,
                reconstruction=state,
                progress=np.log(T0 / rec["T"]) / np.log(T0 / T_min) if T_min < T0 else None,
                line=f"T={rec['T']:.4g} cost={rec['cost']:.6g} F={rec['free_energy']:.6g} "
                f"sweeps={rec['n_iter']} hardness={rec['hardness']:.4f}",
            )

        rng = check_random_state(self.random_state)
        aprob, anneal_idx = self._anneal_problem(prob, k, rng)
        params = _AnnealParams(
            cooling=self.cooling,
            potential=self.potential,
            max_iter=self.max_iter,
            tol=self.tol,
            perturbation=self.perturbation,
            hard_tol=self.hard_tol,
            local_search=self.local_search,
            nt=nt,
            patience=self.patience,
        )
        labels, cost, ann, not_converged = _anneal(
            aprob, k, params, T0=T0, T_min=T_min, rng=rng, callback=step, populated=not self.refine
        )
        self.assignments_ = ann.assignments_annealed
        self.n_refinements_ = 0
        if self.refine and k > 1:
            # refinement may cost as much work as the annealing did (and at least 64 passes)
            mon.phase("split-merge refinement", f"at most {max(64, ann.n_sweeps)} sweeps")
            labels, cost, self.n_refinements_ = split_merge(
                aprob, labels, k, cost, params=params, rng=rng, budget=max(64.0, float(ann.n_sweeps))
            )
        if aprob is not prob:
            labels, cost = self._finish_sampled(prob, aprob, anneal_idx, labels, k, ann, mon)
        self.cost_ = cost * wscale
        for key, val in self._partition_attributes(prob, labels, k, nt).items():
            setattr(self, key, val)
        if not_converged and self.verbose:
            print(
                f"[PairwiseAnnealing] {not_converged} temperature(s) hit max_iter={self.max_iter}; "
                f"{self.n_refinements_} split-merge refinement(s)",
                file=sys.stderr,
            )
        self.history_ = ann.history if wscale == 1.0 else [_rescaled(rec, wscale) for rec in ann.history]
        self.n_iter_ = ann.n_sweeps
        self.converged_ = not_converged == 0
        if self.history_ and not self.history_[-1]["converged"] and not self.history_[-1].get("early_stop"):
            warnings.warn(
                f"the fixed point at the last temperature T={float(self.history_[-1]['T'])!r} did not "
                f"converge within max_iter={self.max_iter} sweeps",
                ConvergenceWarning,
                stacklevel=2,
            )
        mon.finish()
        return self

    def _partition_attributes(self, prob, labels, k, nt):
        """The fitted attributes ``predict``/``transform`` read for the hard partition ``labels`` (set
        at the end of the fit; built per temperature for scikit-learn callbacks)."""
        attrs = {"labels_": labels.astype(np.intp), "_problem_": None}
        if prob.features:
            attrs["cluster_centers_"], attrs["cluster_sizes_"] = prob.centroids(labels, k)
        elif not isinstance(prob, _DenseProblem):
            attrs["_cluster_c"], attrs["cluster_sizes_"] = prob.cluster_stats(labels, k)
            if isinstance(prob, _large._SparseProblem):
                attrs["_problem_"] = prob
        else:
            _, attrs["_cluster_c"], attrs["cluster_sizes_"] = _core.pairwise_dq(
                prob.D, _onehot(labels, k, prob.dtype), nt, sample_weight=getattr(prob, "weights", None)
            )
        return attrs

    # -- predict --------------------------------------------------------------------------------
    def _potentials_new(self, X):
        check_is_fitted(self, "labels_")
        if getattr(self, "algorithm_", "dense") == "sparse":
            return self._sparse_potentials_new(X)
        if getattr(self, "algorithm_", "dense") == "features":
            # gradient potentials of squared Euclidean D: squared distances to the centroids
            X = validate_X(self, X, reset=False, dtype=[np.float64, np.float32])
            return _features_potentials(X, self.cluster_centers_, self.cluster_sizes_, self.metric)
        if self.metric == "precomputed":
            X = validate_X(self, X, reset=False, dtype=[np.float64, np.float32], what="(n_new, n_train)")
            if (X < 0).any():
                i, j = np.argwhere(X < 0)[0]
                raise ValueError(f"X: dissimilarities must be >= 0, got X[{i}, {j}]={float(X[i, j])!r}")
            Dn = X
        else:
            X = validate_X(self, X, reset=False, dtype=[np.float64, np.float32])
            Dn = pairwise_distances(X, self._fit_X, metric=self.metric, **(self.metric_params or {}))
            if not np.isfinite(Dn).all():
                raise ValueError(
                    f"X: metric={self.metric!r} produced non-finite dissimilarities (max |X| = "
                    f"{float(np.abs(X).max())!r}); rescale X"
                )
        k = self.assignments_.shape[1]
        n_train = self.labels_.shape[0]
        if Dn.shape[1] != n_train:
            raise ValueError(f"X: expected dissimilarities to the {n_train} training objects, got shape {Dn.shape}")
        Q = np.zeros((n_train, k))
        w_fit = getattr(self, "_sample_weight_fit", None)
        Q[np.arange(n_train), self.labels_] = 1.0 if w_fit is None else w_fit
        S = self.cluster_sizes_
        c = self._cluster_c
        h, _ = gradient_potentials(np.asarray(Dn, dtype=np.float64) @ Q, c, S)
        return h

    def _sparse_potentials_new(self, X):
        """Potentials of new objects under the sparse cost: ``X`` holds their known dissimilarities to
        the training objects (``metric="precomputed"``: sparse or dense ``(n_new, n_train)``, every
        entry of a dense ``X`` known) or feature vectors (their ``n_neighbors`` nearest training
        objects are the known pairs)."""
        import scipy.sparse as sp

        prob = self._problem_
        n_train = self.labels_.shape[0]
        k = self.assignments_.shape[1]
        if self.metric == "precomputed":
            if sp.issparse(X):
                if X.ndim != 2 or X.shape[1] != n_train:
                    raise ValueError(
                        f"X: expected dissimilarities to the {n_train} training objects, got shape {X.shape}"
                    )
                Wn = sp.csr_matrix(X, dtype=np.float64)
            else:
                Xd = validate_X(self, X, reset=False, dtype=[np.float64, np.float32], what="(n_new, n_train)")
                rows, cols = np.indices(Xd.shape)
                Wn = sp.csr_matrix((Xd.ravel().astype(np.float64), (rows.ravel(), cols.ravel())), shape=Xd.shape)
            if Wn.data.size and not np.isfinite(Wn.data).all():
                raise ValueError("X: the stored dissimilarities contain NaN or inf")
            if Wn.data.size and (Wn.data < 0).any():
                raise ValueError(f"X: dissimilarities must be >= 0, got a stored value {float(Wn.data.min())!r}")
        else:
            from sklearn.neighbors import NearestNeighbors

            Xn = validate_X(self, X, reset=False, dtype=[np.float64, np.float32])
            kq = min(int(self.n_neighbors), n_train)
            nn = NearestNeighbors(n_neighbors=kq, metric=self.metric, metric_params=self.metric_params).fit(self._fit_X)
            dist, ind = nn.kneighbors(Xn)
            if not np.isfinite(dist).all():
                raise ValueError(f"X: metric={self.metric!r} produced non-finite dissimilarities; rescale X")
            Wn = sp.csr_matrix(
                (dist.ravel(), ind.ravel(), np.arange(0, dist.size + 1, kq)), shape=(Xn.shape[0], n_train)
            )
        return prob.new_potentials(Wn, self.labels_, k, self._cluster_c, self.cluster_sizes_)

    @property
    def _n_features_out(self):
        """Number of columns of ``transform`` (for ``get_feature_names_out``)."""
        return self.assignments_.shape[1]

    def transform(self, X):
        """Potentials of ``X`` for every cluster, shape ``(n_new, n_clusters)`` (lower is closer; +inf
        for an empty cluster): the mean-field potentials of the fitted hard partition, the same numbers
        ``predict`` takes the argmin of (for squared Euclidean ``D``: squared distances to the
        centroids).  ``X`` is what ``predict`` takes (a dask array gives a lazy dask array)."""
        if is_dask(X):
            return self._map_dask(X, "potentials")
        return self._potentials_new(X)

    def _map_dask(self, X, what, T=None):
        """predict / transform / predict_proba of a feature-space fit over the blocks of a dask
        array, lazily (as dask-ml)."""
        check_is_fitted(self, "labels_")
        if getattr(self, "algorithm_", "dense") != "features":
            raise ValueError(
                "a dask array needs a feature-space fit (metric='sqeuclidean' or 'cosine'), got "
                f"algorithm_={self.algorithm_!r}"
            )
        from functools import partial

        from ._dask import map_rows

        fn = partial(
            _features_block,
            centers=self.cluster_centers_,
            sizes=self.cluster_sizes_,
            metric=self.metric,
            what=what,
            T=T,
        )
        if what == "labels":
            return map_rows(fn, X, self.n_features_in_, dtype=np.intp)
        return map_rows(fn, X, self.n_features_in_, n_out=len(self.cluster_centers_), dtype=np.float64)

    def predict_proba(self, X, temperature=None):
        """Soft memberships ``softmax(-transform(X) / T)`` (rows sum to 1).

        ``temperature``: the temperature ``T`` (> 0); None takes the last annealing temperature of the
        fit (``history_[-1]["T"]``).  As ``T`` falls they harden to ``predict``'s one-hot labels."""
        check_is_fitted(self, "labels_")
        if temperature is None:
            T = float(self.history_[-1]["T"]) if self.history_ else float(self.T0_)
        else:
            if isinstance(temperature, bool) or not isinstance(temperature, Real):
                raise TypeError(f"temperature={temperature!r} must be a positive float or None")
            T = float(temperature)
            if not (np.isfinite(T) and T > 0):
                raise ValueError(f"temperature={temperature!r} must be finite and > 0")
        if is_dask(X):
            return self._map_dask(X, "proba", T)
        return _soft_memberships(self._potentials_new(X), T)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Assign new objects to the cluster of lowest potential.

        With ``metric="precomputed"``, ``X`` holds the dissimilarities of the new objects to the
        training objects, shape ``(n_new, n_train)``; otherwise feature vectors.  The potential
        of a cluster is the mean dissimilarity to its members minus half its mean within-cluster
        dissimilarity (for squared Euclidean ``D``: the squared distance to its centroid).
        """
        if is_dask(X):
            return self._map_dask(X, "labels")
        return np.argmin(self._potentials_new(X), axis=1).astype(np.intp)

    # -- scikit-learn surface (issue 17) ---------------------------------------------------------
    def score(self, X: ArrayLike, y: Any = None, sample_weight: ArrayLike | None = None) -> float:
        """Minus the pairwise cost of the partition that ``predict`` gives ``X`` (higher is better),
        as ``KMeans.score``, so that ``GridSearchCV`` works without a scorer.

        Feature vectors (any ``metric`` but ``"precomputed"``): ``-H`` with
        ``H = sum_nu sum_{i,j in nu} D_ij / (2 S_nu)`` over the objects of ``X`` alone, ``D`` their
        dissimilarities under ``metric`` and ``S_nu`` the cluster sizes (for ``"sqeuclidean"``, the
        within-cluster sum of squares of ``X``; computed from ``X`` without forming ``D`` for
        ``"sqeuclidean"`` and ``"cosine"``).  On the training data this is ``-cost_`` whenever
        ``predict`` reproduces ``labels_``.

        ``metric="precomputed"``: ``X`` holds dissimilarities to the *training* objects, shape
        ``(n_new, n_train)``, so the new objects' mutual dissimilarities are unknown; the score is
        minus the sum over the new objects of the potential of the cluster ``predict`` chooses (mean
        dissimilarity to its training members minus half its mean within-cluster dissimilarity):
        the cost each object adds to the fitted partition.  For the training matrix these
        potentials sum to ``cost_`` when ``predict`` reproduces ``labels_``.

        ``sample_weight`` (n_new,) or None: the weighted cost (object ``i`` counts
        ``sample_weight[i]`` times, as in :meth:`fit`).
        """
        h = self._potentials_new(X)
        labels = np.argmin(h, axis=1)
        w = None
        if sample_weight is not None:
            from ._pairwise_weights import check_sample_weight

            w = check_sample_weight(sample_weight, h.shape[0])
        if self.metric == "precomputed":
            own = h[np.arange(h.shape[0]), labels]
            return -float(own.sum() if w is None else np.where(w > 0, w * own, 0.0).sum())
        X = validate_X(self, X, reset=False, dtype=[np.float64, np.float32])
        k = self.assignments_.shape[1]
        Xd = np.asarray(X, dtype=np.float64)
        if self.metric == "cosine":
            norms = np.sqrt(np.einsum("ij,ij->i", Xd, Xd))
        if self.metric == "sqeuclidean" or (self.metric == "cosine" and (norms > 0).all()):
            if self.metric == "cosine":  # 1 - cos(x, y) = |u - w|^2 / 2 for unit rows u, w
                Xd = Xd / (np.sqrt(2.0) * norms)[:, None]
            cost = 0.0
            for v in range(k):
                rows = Xd[labels == v]
                if w is None and len(rows):
                    cost += float(((rows - rows.mean(axis=0)) ** 2).sum())
                elif w is not None and w[labels == v].sum() > 0:
                    wv = w[labels == v]
                    mean = (wv @ rows) / wv.sum()
                    cost += float(wv @ ((rows - mean) ** 2).sum(axis=1))
            return -cost
        D = pairwise_distances(Xd, metric=self.metric)
        cost = 0.0
        for v in range(k):
            idx = np.flatnonzero(labels == v)
            if w is None and len(idx):
                cost += float(D[np.ix_(idx, idx)].sum()) / (2.0 * len(idx))
            elif w is not None and w[idx].sum() > 0:
                cost += float(w[idx] @ D[np.ix_(idx, idx)] @ w[idx]) / (2.0 * w[idx].sum())
        return -cost
