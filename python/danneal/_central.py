"""Central clustering by mass-constrained deterministic annealing (Rose 1998), docs/central.md.

References
----------
.. [1] K. Rose, "Deterministic annealing for clustering, compression, classification, regression,
   and related optimization problems", Proc. IEEE 86(11):2210-2239, 1998.
.. [2] K. Rose, E. Gurewitz, G. C. Fox, "Statistical mechanics and phase transitions in
   clustering", Phys. Rev. Lett. 65(8):945-948, 1990.
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any, Optional

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, ClusterMixin, TransformerMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import ThreadpoolController  # a dependency of scikit-learn

from . import _core
from ._callbacks import CallbackSupport, FitMonitor, n_geometric_steps, with_callbacks
from ._dask import is_dask as _is_dask
from ._threads import resolve_n_threads
from ._validation import check_float, check_int, check_n_clusters, check_random_state, validate_X

__all__ = ["CentralAnnealing"]


_BLAS_CONTROLLER = None
# fit schedule (issue 15; measured with benchmarks/fit_central.py, see docs/central.md)
_RETRY = 0.8  # a rejected split-merge move is tried again once T fell below _RETRY x its T
_SQ_STEP0 = 4.0  # first bound on the SQUAREM step length |alpha| (grows x4 while accepted)
_SQ_STEP_MAX = 16.0  # ... up to this bound
_SQ_FTOL = 3e-9  # K full: a temperature ends when F drops by < _SQ_FTOL x total weight per pass
_QUIET = 4  # adaptive cooling: <= _QUIET passes at a temperature doubles the stride
_STEADY = 10  # ... <= _STEADY passes keeps it, more passes reset it to one cooling step
_MAX_STRIDE = 16  # at most cooling**16 per temperature
_NULL_WIDTH = float(np.log(np.pi / (np.pi - 2.0)))  # "auto": widest log-T range of a Gaussian's splits
_PS_SPLITS = 2  # "auto": random half-splits of the annealing rows, both halves annealed (4 half-fits;
# 2, 4 and 8 splits find the same number of reference Ks on the clustering suite, docs/central.md)
_PS_STRONG = 0.9  # ... a K is reproducible when its prediction strength is >= this (Tibshirani-Walther 0.8-0.9)
_SPLIT_ITER = 12  # passes of the fixed point right after a split (critical slowing down: the
# next temperatures finish separating the copies; measured in docs/central.md)
_FROZEN = 1e-9  # K full: stop when D changed by < _FROZEN relative at a temperature settled in one pass
_ANNEAL_ROWS = 16384  # anneal_rows="auto": the annealing runs on max(_ANNEAL_ROWS, 256 K) rows at most
_ANNEAL_ROWS_PER_CLUSTER = 256
_POLISH_TOL = 1e-4  # ... and stop once no centroid moves by this much (unit total variance)
_WORK_PER_THREAD = 1 << 23  # a pass gets one thread per this many row x cluster x feature products
_POLISH_SAMPLE = 8192  # the final polish restarts run on at most max(_POLISH_SAMPLE, 128 K) rows (drawn
_POLISH_SAMPLE_PER_CLUSTER = 128  # uniformly; an improvement is confirmed by a Lloyd pass on all rows)


def _eigh(cov):
    """Batched eigh of the small (k, d, d) covariances on one BLAS thread: a threaded LAPACK call
    on tiny matrices costs ~100x more on a busy machine (measured: 1.4 s vs 17 ms for 10 x 64 x 64).
    The controller is created once (threadpool_limits() itself costs ~10 ms per call)."""
    global _BLAS_CONTROLLER
    if _BLAS_CONTROLLER is None:
        _BLAS_CONTROLLER = ThreadpoolController()
    with _BLAS_CONTROLLER.limit(limits=1, user_api="blas"):
        return np.linalg.eigh(cov)


def _blas_threads(n):
    """Context limiting the BLAS to ``n`` threads (the controller is created once)."""
    global _BLAS_CONTROLLER
    if _BLAS_CONTROLLER is None:
        _BLAS_CONTROLLER = ThreadpoolController()
    return _BLAS_CONTROLLER.limit(limits=int(n), user_api="blas")


def _sample_rows(n, m, rng):
    """``m`` distinct row indices out of ``n``, sorted, drawn from ``rng`` (a RandomState) through a
    Generator seeded from it (its ``choice`` without replacement does not permute all ``n``)."""
    return np.sort(np.random.default_rng(int(rng.randint(2**31))).choice(n, m, replace=False))


def _scatter(Xd, wd):
    """``sum_i w_i x_i x_i^T`` of the float64 rows ``Xd`` (``wd=None``: unit weights) as ``A^T A``
    with ``A = sqrt(w) X``, which numpy hands to the BLAS as one symmetric rank-k update: the
    general product ``(w X)^T X`` of a tall pair was measured 28x slower (3.6 s vs 0.13 s at
    1,000,000 x 16)."""
    A = Xd if wd is None else Xd * np.sqrt(wd)[:, None]
    return A.T @ A


def _c(a, dtype):
    """C-contiguous plain ndarray with the canonical dtype object (the bindings compare dtypes by
    identity, which fails for e.g. unpickled or memory-mapped arrays)."""
    dt = np.dtype(np.dtype(dtype).type)
    return np.ascontiguousarray(np.asarray(a), dtype=dt).view(dt)


def _squarem(step, Y, logp, T, max_iter, tol, ftol=0.0):
    """The fixed point at one temperature accelerated by squared extrapolation (SQUAREM, Varadhan
    and Roland, Scand. J. Stat. 35(2), 2008) on ``(Y, log p)``, with a free-energy guard.

    ``step(Y, logp, T, 1, tol)`` is one plain iteration (one pass over X) and reports the free
    energy at its input.  A cycle takes two plain steps ``θ0 → θ1 → θ2``, extrapolates
    ``θ' = θ0 - 2αr + α²v`` (``r = θ1 - θ0``, ``v = θ2 - 2θ1 + θ0``, ``α = -|r|/|v|`` clipped to
    ``[-step_max, -1]``, ``step_max`` from 4 up to 16: longer steps amplify the last bits of the
    input; ``α = -1`` is ``θ2``) and takes one plain step from ``θ'``.  The
    extrapolation is kept only when ``F(θ') <= F(θ1)``; otherwise the cycle continues from ``θ2``,
    so the free energy never rises above what the plain iteration reaches (each plain step lowers
    it: it is an EM step).  Returns what ``step`` returns, the iterations summed (``<= max_iter``
    plain passes, the extrapolated ones included)."""
    dtype = Y.dtype
    it = 0
    step_max = _SQ_STEP0
    Y0, lp0 = Y, np.asarray(logp, dtype=np.float64)
    F_prev, it_prev = None, 0
    while True:
        Y1, lp1, st1, i = step(Y0, lp0, T, 1, tol)
        it += i
        if st1[2] < tol or it >= max_iter:
            return Y1, lp1, st1, it
        if ftol > 0:
            F0 = float(st1[1])
            if F_prev is not None and F_prev - F0 <= ftol * float(st1[3]) * (it - it_prev):
                return Y1, lp1, st1, it
            F_prev, it_prev = F0, it
        Y2, lp2, st2, i = step(Y1, lp1, T, 1, tol)
        it += i
        if st2[2] < tol or it >= max_iter:
            return Y2, lp2, st2, it
        F1 = float(st2[1])
        fin = np.isfinite(lp0) & np.isfinite(lp1) & np.isfinite(lp2)
        a0 = np.concatenate([np.asarray(Y0, dtype=np.float64).ravel(), lp0[fin]])
        a1 = np.concatenate([np.asarray(Y1, dtype=np.float64).ravel(), lp1[fin]])
        a2 = np.concatenate([np.asarray(Y2, dtype=np.float64).ravel(), lp2[fin]])
        r = a1 - a0
        v = a2 - 2.0 * a1 + a0
        nr, nv = float(np.linalg.norm(r)), float(np.linalg.norm(v))
        alpha = -nr / nv if nv > 0 else -1.0
        alpha = max(min(alpha, -1.0), -step_max) if np.isfinite(alpha) else -1.0
        if alpha == -1.0:
            Y0, lp0 = Y2, lp2
            continue
        ap = a0 - 2.0 * alpha * r + alpha * alpha * v
        Yp = ap[: Y0.size].reshape(Y0.shape).astype(dtype)
        lpp = lp2.copy()
        lpp[fin] = ap[Y0.size :]
        top = float(lpp[fin].max())
        lpp[fin] -= top + np.log(np.exp(lpp[fin] - top).sum())
        Y3, lp3, st3, i = step(Yp, lpp, T, 1, tol)
        it += i
        F3 = float(st3[1])
        # a clear descent only (a tie within the rounding of the sums would make the path depend on
        # the last bits of the data, e.g. of sample weights scaled by a non-power of two)
        if np.isfinite(F3) and F3 <= F1 - 1e-12 * abs(F1) and np.isfinite(np.asarray(Y3, dtype=np.float64)).all():
            if alpha == -step_max:
                step_max = min(4.0 * step_max, _SQ_STEP_MAX)
            if st3[2] < tol or it >= max_iter:
                return Y3, lp3, st3, it
            Y0, lp0 = Y3, lp3
        else:
            step_max = max(1.0, step_max / 4.0)
            if it >= max_iter:
                return Y2, lp2, st2, it
            Y0, lp0 = Y2, lp2


def _pass_threads(n_threads, n, k, d):
    """Threads for a pass over ``n`` rows with ``k`` clusters in ``d`` dimensions: at most one per
    ``_WORK_PER_THREAD`` products (docs/design.md §4: on a busy machine a second thread on a
    pass of a few milliseconds waits longer for its time slice than it saves; measured on the
    shared 2-core machine: ~100 ms per call of 16,384 x 16 x 10 with 2 threads).  The kernels give
    the same bits for any thread count."""
    return int(max(1, min(n_threads, (n * k * d) // _WORK_PER_THREAD)))


def _lloyd(Xs, ws, Y, n_threads, max_iter, tol=1e-300):
    """Lloyd iterations (the compiled fixed point at T = 0) until no centroid moves by ``tol`` or
    more: ``(centres, distortion at the last input centres, passes)``."""
    nt = _pass_threads(n_threads, len(Xs), len(Y), Xs.shape[1])
    Yn, _, _, stats, st = _core.central_fixed_point(
        Xs, ws, _c(Y, Xs.dtype), np.zeros(len(Y)), 0.0, int(max_iter), float(tol), nt
    )
    return Yn, float(stats[0]), int(st["iterations"])


def _sq_dist(Xd, xx, C):
    return np.maximum(xx[:, None] - 2.0 * (Xd @ C.T) + (C * C).sum(1)[None, :], 0.0)


def _kmeanspp(Xd, xx, wd, k, rng):
    """k-means++ seeds (Arthur and Vassilvitskii 2007): each next seed drawn with probability
    proportional to its weight times its squared distance to the closest seed so far."""
    n = len(Xd)
    C = np.empty((k, Xd.shape[1]))
    i = int(rng.choice(n, p=wd / wd.sum()))
    C[0] = Xd[i]
    d2 = np.maximum(xx - 2.0 * (Xd @ C[0]) + xx[i], 0.0)
    for j in range(1, k):
        pr = wd * d2
        tot = float(pr.sum())
        i = int(rng.choice(n, p=pr / tot)) if tot > 0 else int(rng.choice(n, p=wd / wd.sum()))
        C[j] = Xd[i]
        d2 = np.minimum(d2, np.maximum(xx - 2.0 * (Xd @ C[j]) + xx[i], 0.0))
    return C


def _polish(Xs, ws, Y, D, trials, rng, n_threads, max_iter):
    """Final multi-start polish at T = 0 on the rows ``Xs`` (weights ``ws``) from the annealed
    centres ``Y`` (distortion ``D`` there): ``trials`` Lloyd runs, alternately

    * a relocation (J-means-like): the centre whose removal costs least (its rows go to their
      second-closest centre; the i-th relocation takes the i-th cheapest) moves to a row drawn with
      probability proportional to weight x squared distance to the other centres, then Lloyd;
    * a fresh k-means++ start, then Lloyd;

    a run that lowers the distortion (by more than 1e-9 relative) becomes the incumbent.  The runs
    stop once no centroid moves by ``_POLISH_TOL`` (the rows have unit total variance), the
    incumbent is then run to a fixed point.  Returns ``(centres, distortion, accepted runs, passes)``."""
    Xd = Xs.astype(np.float64)
    xx = (Xd * Xd).sum(1)
    wd = np.ones(len(Xd)) if ws is None else ws.astype(np.float64)
    k = len(Y)
    best_Y, best_D = Y, D
    accepted = passes = n_reloc = 0
    for t in range(trials):
        if t % 2 == 0:
            C = best_Y.astype(np.float64)
            D2 = _sq_dist(Xd, xx, C)
            part = np.partition(D2, 1, axis=1)
            cost = np.bincount(np.argmin(D2, axis=1), weights=wd * (part[:, 1] - part[:, 0]), minlength=k)
            r = int(np.argsort(cost, kind="stable")[n_reloc % k])
            n_reloc += 1
            pr = wd * np.delete(D2, r, axis=1).min(axis=1)
            tot = float(pr.sum())
            if not tot > 0:
                continue
            C[r] = Xd[int(rng.choice(len(Xd), p=pr / tot))]
        else:
            C = _kmeanspp(Xd, xx, wd, k, rng)
        Yn, Dn, it = _lloyd(Xs, ws, C, n_threads, max_iter, _POLISH_TOL)
        passes += it
        if np.isfinite(Dn) and Dn < best_D * (1.0 - 1e-9):
            best_Y, best_D = Yn, Dn
            accepted += 1
    if accepted:
        best_Y, Dn, it = _lloyd(Xs, ws, best_Y, n_threads, max_iter)
        passes += it
        best_D = min(best_D, Dn)
    return best_Y, best_D, accepted, passes


class _MemoryRows:
    """The rows of an in-memory fit: the data passes that :meth:`CentralAnnealing.fit` needs
    (moments, fixed points, covariances, the final hard partition), each one compiled call.
    ``danneal._dask.DaskRows`` is the same interface over the blocks of a dask array."""

    def __init__(self, est, X, sample_weight):
        X = validate_X(est, X, dtype=[np.float64, np.float32], order="C", copy=False)
        self.X = X
        self.n, self.d = X.shape
        self.dtype = np.dtype(X.dtype.type)
        w = est._check_sample_weight(sample_weight, self.n, X.dtype)
        self.wscale = 1.0
        if w is not None:
            # only the ratios of the weights matter: divided by a power of two near the largest (exact),
            # subnormal or huge weights cluster like any others; weighted sums are scaled back by the fit
            self.wscale = float(np.exp2(np.floor(np.log2(float(w.max())))))
            w = w / w.dtype.type(self.wscale)
        self.w = None if w is None else _c(w, X.dtype)
        self.wd = np.ones(self.n) if w is None else w.astype(np.float64)
        self.nt = resolve_n_threads(est.n_threads)

    def moments(self):
        """``(mean, covariance (d x d), total weight, pre)``, float64, mean and covariance in units of
        ``pre`` (a power of two near max |X|, so that neither overflows or underflows)."""
        wd = self.wd
        wsum = float(wd.sum())
        Xd = np.asarray(self.X, dtype=np.float64)
        amax = max(float(Xd.max()), -float(Xd.min())) if Xd.size else 0.0
        pre = float(np.exp2(np.floor(np.log2(amax)))) if amax > 0 else 1.0
        Xd = Xd / pre
        # the d x n x d products on at most n_threads BLAS threads: a BLAS that starts one thread per
        # core of the host on a loaded machine was measured 100x slower (24 s for 1,000,000 x 16)
        with _blas_threads(self.nt):
            mean = (wd @ Xd) / wsum
            Xd -= mean
            self._Xd = Xd
            return mean, _scatter(Xd, None if self.w is None else wd) / wsum, wsum, pre

    def centre(self, pre, mean, root):
        """Keep ``(X / pre - mean) / root`` (in the input dtype) for the passes."""
        Xd = self._Xd
        del self._Xd
        if root != 1.0:
            Xd /= root
        self.Xc = _c(Xd, self.dtype)

    def fixed_point(self, Y, logp, T, max_iter, tol):
        Yn, lp, _, stats, st = _core.central_fixed_point(
            self.Xc,
            self.w,
            Y,
            logp,
            float(T),
            int(max_iter),
            float(tol),
            _pass_threads(self.nt, self.n, len(Y), self.d),
        )
        return Yn, lp, stats, st["iterations"], bool(st["numerical_error"])

    def covariance(self, Y, logp, T):
        cov, _, _, _ = _core.central_covariance(
            self.Xc,
            self.w,
            _c(Y, Y.dtype),
            _c(logp, np.float64),
            float(T),
            _pass_threads(self.nt, self.n, len(Y), self.d * self.d),
        )
        return cov

    def subset(self, m, rng):
        """The same rows object over ``m`` of the centred rows, drawn uniformly (in row order), and
        their total weight."""
        return self.take(_sample_rows(self.n, m, rng))

    def take(self, idx):
        """:meth:`subset` over the rows ``idx`` (sorted indices): ``(rows, total weight)``."""
        sub = object.__new__(type(self))
        sub.n, sub.d, sub.dtype, sub.nt, sub.wscale = len(idx), self.d, self.dtype, self.nt, self.wscale
        sub.X = None if self.X is None else self.X[idx]
        sub.Xc = _c(self.Xc[idx], self.dtype)
        sub.w = None if self.w is None else _c(self.w[idx], self.dtype)
        sub.wd = self.wd[idx]
        return sub, float(sub.wd.sum())

    def sample(self, m, rng):
        """``(Xs, ws, full)``: at most ``m`` of the centred rows (uniformly drawn, in row order) and
        their weights (``None``: unit); ``full`` when they are all the rows (no copy)."""
        if self.n <= m:
            return self.Xc, self.w, True
        idx = _sample_rows(self.n, m, rng)
        return _c(self.Xc[idx], self.dtype), None if self.w is None else _c(self.w[idx], self.dtype), False

    def hard_partition(self, centers):
        """``(labels, weight per cluster, inertia)`` of the nearest-centroid partition of the input rows."""
        P, logZ, _ = _core.central_posteriors(_c(self.X, self.dtype), centers, np.zeros(len(centers)), 0.0, self.nt)
        labels = np.argmax(P, axis=1).astype(np.int64)
        counts = np.bincount(labels, weights=self.wd, minlength=len(centers))
        return labels, counts, float(self.wd @ np.maximum(-logZ, 0.0))


class _Units:
    """The internal units of a fit: the kernels see centred rows scaled to unit total variance
    (temperatures in units of ``s2``, the total variance in units of X**2), so that neither tiny nor
    huge coordinates reach the limits of float32; everything reported is converted back.  The
    moments come in units of ``pre``, a power of two near max |X| (exact), so that they neither
    overflow (|X| ~ 1e300) nor underflow (1e-300).  Measuring them centres ``rows`` in place."""

    def __init__(self, rows):
        mean_int, Cx, wsum, pre = rows.moments()
        self.mean = mean_int * pre
        s2_int = float(max(np.trace(Cx), 0.0))  # total variance in units of pre**2
        if not (s2_int > 0 and np.isfinite(s2_int)):  # identical points: no scaling (all rows equal the mean)
            s2_int, s2, sc = 1.0, 1.0, 1.0
            root = 1.0
        else:
            root = np.sqrt(s2_int)
            sc = root * pre
            with np.errstate(over="ignore", under="ignore"):
                s2 = s2_int * pre * pre  # total variance in units of X**2
            # central clustering is scale-covariant (X -> s X, T -> s^2 T) and the fit itself runs on
            # rescaled data, but temperatures (down to ~1e-6 s2, more with T_min) and distortions (up
            # to ~ s2 * total weight) are reported in units of X**2: they must stay normal numbers
            if not (np.isfinite(s2 * max(wsum, 1.0) * 16.0) and s2 >= 1e8 * np.finfo(np.float64).tiny):
                raise ValueError(
                    f"X: the data's total variance ({s2_int:.6g} * {pre:.6g}**2) is outside the "
                    f"range where temperatures and distortions (reported in units of X**2) are "
                    f"representable in float64 (about 1e-300 to 1e300 / n_samples); rescale X (e.g. "
                    f"divide it by {pre:.3g})"
                )
            s2 = float(s2)
        self.sc, self.s2, self.wsum, self.wscale, self.dtype = sc, s2, wsum, rows.wscale, rows.dtype
        # the first critical temperature 2 lambda_max(C_x), in internal units
        self.Tc0 = 2.0 * float(np.linalg.eigvalsh(Cx / s2_int)[-1])
        rows.centre(pre, mean_int, root)

    def to_caller(self, Y):
        """Centroids in the caller's units (and dtype)."""
        return (Y.astype(np.float64) * self.sc + self.mean).astype(self.dtype)

    def to_internal(self, Y):
        return _c((Y.astype(np.float64) - self.mean) / self.sc, self.dtype)


class _Annealer:
    """One annealing run (``docs/design.md`` §1: Python owns the schedule, one compiled call per
    temperature): the rows it runs on, the schedule's settings, the current centroids ``Y`` and
    log-masses ``logp`` at temperature ``T`` (internal units, see :class:`_Units`), and what it
    records on the way (``history``, ``path``, ``splits``, ``swaps``, ``n_iter`` passes).

    The annealing runs on ``sample`` (a rows object over some of the rows) when given, with
    ``weight_factor`` scaling its weighted sums to the whole set; the final Lloyd pass and the
    polish on all ``rows``.  :meth:`run` anneals (``mon``: the fit's :class:`FitMonitor`),
    :meth:`report` converts the records to the caller's units, :meth:`result` gives the centroids
    to start the final pass from, :meth:`final_pass` and :meth:`polish` finish at T = 0."""

    def __init__(self, est, rows, units, target, auto, sample=None, weight_factor=1.0):
        self.all_rows = rows
        self.rows = rows if sample is None else sample
        self.units, self.target, self.auto = units, target, auto
        self.cooling, self.max_iter, self.tol = est.cooling, est.max_iter, est.tol
        self.perturbation, self.accelerate = est.perturbation, est.accelerate
        self.adaptive = est.adaptive_cooling
        self.swap_moves = bool(est.swap_moves) and not auto and target >= 3
        self.wfac = weight_factor
        Tc0 = units.Tc0
        self.identical = not Tc0 > 0  # all points identical: nothing to anneal
        if self.identical:
            Tc0 = 1.0
        self.Tc0 = Tc0
        self.T = 1.2 * Tc0
        self.T_min = est.T_min / units.s2 if est.T_min is not None else 1e-6 * Tc0
        self.Y = np.zeros((1, rows.d), dtype=rows.dtype)
        self.logp = np.zeros(1)
        self.history = {"T": [], "n_clusters": [], "free_energy": [], "distortion": [], "n_iter": []}
        self.splits, self.path, self.swaps = [], [], []
        self.n_iter = 0
        self.stride = 1  # adaptive cooling: T <- cooling**stride * T
        self._rejected = {}  # trial moves rejected (key -> temperature), see _swap_move
        self._tc_max = None  # highest critical temperature of the current clusters (set by _split)
        self.strength = None  # "auto": {K: prediction strength} over half-splits (_prediction_strengths),
        # False when a callback stopped the annealing

    # -- the fixed point at one temperature
    def plain_fixed_point(self, Y, logp, T, max_iter, tol, rows=None):
        rows = self.rows if rows is None else rows
        Yn, lp, stats, iterations, numerical_error = rows.fixed_point(
            _c(Y, rows.dtype), _c(logp, np.float64), T, max_iter, tol
        )
        if numerical_error:
            warnings.warn(
                f"non-finite values met at T={float(T * self.units.s2)!r} (rows skipped)", RuntimeWarning, stacklevel=4
            )
        return Yn, lp, stats, iterations

    def fixed_point(self, Y, logp, T, max_iter, tol, ftol=0.0):
        """The fixed point at ``T``, SQUAREM-accelerated unless ``accelerate=False`` or ``T = 0``."""
        if not self.accelerate or T == 0:
            return self.plain_fixed_point(Y, logp, T, max_iter, tol)
        return _squarem(self.plain_fixed_point, Y, logp, T, max_iter, tol, ftol)

    # -- the schedule
    def _snapshot(self, T_start):
        self.path.append(
            {
                "n_clusters": len(self.Y),
                "T_start": T_start,
                "T_end": self.T,
                "cluster_centers": self.units.to_caller(self.Y),
                "cluster_weights": np.exp(self.logp),
            }
        )

    def run(self, mon):
        """Anneal from one cluster until ``target`` clusters are frozen (or ``T_min``, or ``mon``
        says stop)."""
        self._snapshot(self.T)
        while True:
            info, K_in, it_first, n_swaps, n_settle = self._temperature()
            if self._stop(mon, info, K_in, it_first, n_swaps):
                break
            T_next = self._next_temperature(K_in, n_swaps, n_settle)
            if T_next is None:
                break
            self.T = T_next

    def _temperature(self):
        """Equilibrate at ``T`` (fixed point, merges, splits, one split-merge move), record it."""
        T, target = self.T, self.target
        # once K is full, a temperature also ends when the free energy stalls (no split left to
        # resolve: near a phase transition a slow descent is the transition, not convergence)
        Y, logp, stats, it = self.fixed_point(
            self.Y, self.logp, T, self.max_iter, self.tol, _SQ_FTOL if self.adaptive and len(self.Y) >= target else 0.0
        )
        n_it = it
        it_first = it
        K_in = len(Y)
        self._tc_max = None
        n_swaps = len(self.swaps)
        if K_in > 1:
            # copies that fell back together (the split was premature: T_c = 2 lambda_max is exact
            # only for a cluster that does not share its points) are merged again
            Y, logp = _merge_coincident(Y, logp, self.perturbation * 0.5 * np.sqrt(T))
        if len(Y) < target:
            Y, logp, stats2, it, new = self._split(Y, logp, target - len(Y))
            stats = stats if stats2 is None else stats2
            n_it += it
            for parent, child, Tc in new:
                self.splits.append({"T": T, "T_c": Tc, "parent": parent, "child": child})
        n_settle = n_it  # passes of the fixed point and the splits (a rejected trial move is not counted)
        if self.swap_moves and len(Y) == target:
            moved = self._swap_move(Y, logp, float(stats[1]))
            if moved is not None:
                Y, logp, stats2, it, info = moved
                stats = stats if stats2 is None else stats2
                n_it += it
                if info is not None:
                    self.swaps.append({"T": T, **info})
        self.Y, self.logp = Y, logp
        self.n_iter += n_it
        if len(Y) != self.path[-1]["n_clusters"]:
            self.path[-1]["T_end"] = T
            self._snapshot(T)
        centers = self.units.to_caller(Y)
        self.path[-1].update(T_end=T, cluster_centers=centers, cluster_weights=np.exp(logp))
        s2, wscale, wfac = self.units.s2, self.units.wscale, self.wfac
        D, F = float(stats[0]) * s2 * wscale * wfac, float(stats[1]) * s2 * wscale * wfac
        for key, val in (
            ("T", T * s2),
            ("n_clusters", len(Y)),
            ("free_energy", F),
            ("distortion", D),
            ("n_iter", n_it),
        ):
            self.history[key].append(val)
        info = {
            "T": T * s2,
            "n_clusters": len(Y),
            "free_energy": F,
            "distortion": D,
            "n_iter": n_it,
            "cluster_centers": self.units.to_caller(Y),
        }
        return info, K_in, it_first, n_swaps, n_settle

    def _stop(self, mon, info, K_in, it_first, n_swaps):
        """Whether the annealing ends after this temperature."""
        T, T_min, s2 = self.T, self.T_min, self.units.s2
        K, D, F = info["n_clusters"], info["distortion"], info["free_energy"]
        if mon.step(
            info,
            progress=np.log(1.2 * self.Tc0 / T) / np.log(1.2 * self.Tc0 / T_min) if T_min < 1.2 * self.Tc0 else None,
            line=f"T={T * s2:.6g} K={K} F={F:.6g} D={D:.6g} iterations={info['n_iter']}",
            reconstruction=lambda: {"cluster_centers_": info["cluster_centers"], "n_clusters_": K},
        ):
            self.strength = False  # stopped by a callback: "auto" keeps the width rule (no half-fits)
            return True
        if self.identical:
            return True
        if K >= self.target:
            if self.auto:
                return True
            # assignments effectively hard: F - D = T * sum_i w_i KL(p_i || p) -> 0
            # (not right after a split: copies that have not yet moved apart also give F = D)
            if K == K_in and (
                abs(F - D) <= 1e-4 * max(D, 1e-300) or D <= 1e-12 * s2 * self.units.wsum * self.units.wscale
            ):
                return True
            # frozen: the centroids did not move at this temperature (one pass) and the distortion
            # is that of the previous temperature: the assignments no longer change
            dist = self.history["distortion"]
            if (
                self.adaptive
                and K == K_in
                and it_first <= 1
                and len(self.swaps) == n_swaps
                and len(dist) > 1
                and abs(D - dist[-2]) <= _FROZEN * max(D, 1e-300)
            ):
                return True
        return False

    def _next_temperature(self, K_in, n_swaps, n_settle):
        """The next temperature, or None when ``T_min`` is reached."""
        T, cooling = self.T, self.cooling
        T_next = T * cooling
        if self.adaptive:
            # quiet temperature (no split, no accepted move, the fixed point settled within a few
            # passes): double the stride; steady (a few more passes): keep it; else start again
            # with one cooling step.  Never jump past the highest critical temperature of the
            # current clusters while K can still grow
            calm = len(self.Y) == K_in and len(self.swaps) == n_swaps
            if calm and n_settle <= _QUIET:
                self.stride = min(2 * self.stride, _MAX_STRIDE)
            elif not (calm and n_settle <= _STEADY):
                self.stride = 1
            T_next = T * cooling**self.stride
            if self._tc_max is not None and len(self.Y) < self.target:
                T_next = min(T * cooling, max(T_next, cooling * self._tc_max))
        if T_next < self.T_min:
            if T <= self.T_min or T * cooling < self.T_min:
                return None
            T_next = self.T_min
        return T_next

    # -- phase transitions and moves
    def _split(self, Y, logp, room):
        """Split the clusters whose critical temperature 2 lambda_max(C_{x|v}) exceeds T."""
        T = self.T
        cov = self.rows.covariance(Y, logp, T)
        evals, evecs = _eigh(cov)
        Tc = 2.0 * evals[:, -1]
        alive = np.isfinite(logp)
        cand = [int(v) for v in np.argsort(-Tc, kind="stable") if alive[v] and Tc[v] > T][:room]
        self._tc_max = float(np.max(Tc[alive])) if alive.any() else 0.0
        if not cand:
            return Y, logp, None, 0, []
        dtype = Y.dtype
        Yd = Y.astype(np.float64)
        lp = logp.copy()
        pairs = []
        for v in cand:
            u = evecs[v, :, -1]
            delta = self.perturbation * np.sqrt(evals[v, -1])
            child = len(Yd)
            Yd = np.vstack([Yd, Yd[v] - delta * u])
            Yd[v] = Yd[v] + delta * u
            lp[v] -= np.log(2.0)
            lp = np.append(lp, lp[v])
            pairs.append((v, child, float(Tc[v]), 2.0 * delta))
        Y2, lp2, stats, it = self.fixed_point(Yd.astype(dtype), lp, T, min(self.max_iter, _SPLIT_ITER), self.tol)
        # undo splits whose copies fell back together
        Yf = Y2.astype(np.float64)
        undo = [(v, c) for v, c, _, sep0 in pairs if np.linalg.norm(Yf[v] - Yf[c]) <= sep0]
        if undo:
            keep = np.ones(len(Yf), dtype=bool)
            for v, c in undo:
                pv, pc = np.exp(lp2[v]), np.exp(lp2[c])
                tot = pv + pc
                if tot > 0:
                    Yf[v] = (pv * Yf[v] + pc * Yf[c]) / tot
                lp2[v] = np.logaddexp(lp2[v], lp2[c])
                keep[c] = False
            # renumber children after the removed ones
            old_index = np.flatnonzero(keep)
            new_of_old = {int(o): i for i, o in enumerate(old_index)}
            Yf, lp2 = Yf[keep], lp2[keep]
            accepted = [(v, new_of_old[c], Tc) for v, c, Tc, _ in pairs if keep[c]]
            Y2, lp2, stats, it2 = self.fixed_point(Yf.astype(dtype), lp2, T, self.max_iter, self.tol)
            it += it2
        else:
            accepted = [(v, c, Tc) for v, c, Tc, _ in pairs]
        return Y2, lp2, stats, it, accepted

    def _swap_move(self, Y, logp, F):
        """Free-energy descent move at a full K: split the cluster most above its critical
        temperature and merge the pair of clusters that is cheapest to merge (Ward cost), keep it if
        the free energy at T drops after re-equilibrating.  Returns None when there is no candidate."""
        T = self.T
        cov = self.rows.covariance(Y, logp, T)
        evals, evecs = _eigh(cov)
        Tc = 2.0 * evals[:, -1]
        m = np.exp(logp)
        ok = np.isfinite(logp) & (Tc > T)
        if not ok.any():
            return None
        rank = np.where(ok, Tc * m, -np.inf)
        c = int(np.argmax(rank))
        Yd = Y.astype(np.float64)
        sq = (Yd * Yd).sum(1)
        D2 = np.maximum(sq[:, None] - 2.0 * Yd @ Yd.T + sq[None, :], 0.0)
        msum = m[:, None] + m[None, :]
        ward = np.where(msum > 0, m[:, None] * m[None, :] / np.where(msum > 0, msum, 1.0), 0.0) * D2
        ward[c, :] = np.inf
        ward[:, c] = np.inf
        np.fill_diagonal(ward, np.inf)
        a, b = np.unravel_index(int(np.argmin(ward)), ward.shape)
        a, b = int(min(a, b)), int(max(a, b))
        if not np.isfinite(ward[a, b]):
            return None
        # splitting c can lower the distortion by at most about p(c) lambda_max(c) (the variance
        # along its principal axis); a merge that costs more than that cannot pay off: skip the trial
        if ward[a, b] >= m[c] * evals[c, -1]:
            return None
        # the same move, rejected at a temperature less than twice as high, is not tried again
        # (with frozen assignments it is rejected at every temperature; a fresh trial costs a fixed point)
        key = (c, a, b)
        if self.adaptive and key in self._rejected and T > _RETRY * self._rejected[key]:
            return None
        Yn = Yd.copy()
        lp = logp.copy()
        if m[a] + m[b] > 0:
            Yn[a] = (m[a] * Yd[a] + m[b] * Yd[b]) / (m[a] + m[b])
        lp[a] = np.logaddexp(lp[a], lp[b])
        u = evecs[c, :, -1]
        delta = max(self.perturbation, 1e-2) * np.sqrt(evals[c, -1])
        Yn[b] = Yd[c] - delta * u
        Yn[c] = Yd[c] + delta * u
        lp[c] -= np.log(2.0)
        lp[b] = lp[c]
        Y2, lp2, stats, it = self.fixed_point(Yn.astype(Y.dtype), lp, T, self.max_iter, self.tol)
        if float(stats[1]) < F - 1e-9 * abs(F):
            self._rejected = {}
            return Y2, lp2, stats, it, {"split": c, "merged": (a, b), "free_energy_gain": F - float(stats[1])}
        self._rejected[key] = T
        return Y, logp, None, it, None

    def _force_splits(self, room, rng):
        """Split the ``room`` clusters with the largest posterior variance (no phase transition left)."""
        Y, T = self.Y, self.T
        cov = self.rows.covariance(Y, self.logp, T)
        evals, evecs = _eigh(cov)
        Yd = Y.astype(np.float64)
        lp = self.logp.copy()
        for _ in range(room):
            score = np.where(np.isfinite(lp), evals[:, -1] * np.exp(lp), -np.inf)
            v = int(np.argmax(score))
            u = evecs[v, :, -1]
            if not evals[v, -1] > 0:
                u = rng.standard_normal(Y.shape[1])
                u /= np.linalg.norm(u) or 1.0
            delta = self.perturbation * np.sqrt(max(evals[v, -1], 0.0))
            Yd = np.vstack([Yd, Yd[v] - delta * u])
            Yd[v] = Yd[v] + delta * u
            lp[v] -= np.log(2.0)
            lp = np.append(lp, lp[v])
            evals = np.vstack([evals, evals[v]])
            evecs = np.concatenate([evecs, evecs[v : v + 1]])
            evals[v] /= 2
            evals[-1] /= 2
        return Yd.astype(Y.dtype), lp

    # -- at T = 0, on all rows
    def final_pass(self, Y, logp, max_iter):
        """The final Lloyd pass on all rows: ``(Y, distortion, converged)``."""
        Y, _, stats, it = self.plain_fixed_point(Y, logp, 0.0, max_iter, 1e-300, self.all_rows)
        self.n_iter += it
        return Y, float(stats[0]), it < max_iter or float(stats[2]) == 0.0

    def polish(self, Y, D0, n_polish, rng, max_iter):
        """Multi-start polish after the final Lloyd pass (``n_polish`` of :class:`CentralAnnealing`)
        from ``Y`` (distortion ``D0`` on all rows): ``(Y, polish_ dict)``."""
        rows = self.all_rows
        info = {"trials": 0, "accepted": 0, "sample_size": 0, "n_iter": 0, "gain": 0.0}
        if not n_polish or len(Y) < 2 or not hasattr(rows, "sample"):
            return Y, info
        Xs, ws, full = rows.sample(max(_POLISH_SAMPLE, _POLISH_SAMPLE_PER_CLUSTER * len(Y)), rng)
        if ws is not None and not float(ws.sum(dtype=np.float64)) > 0:  # a sample of zero-weight rows only
            return Y, info
        Y_s, D_s, passes0 = (Y, D0, 0) if full else _lloyd(Xs, ws, Y, rows.nt, max_iter)
        with _blas_threads(_pass_threads(rows.nt, len(Xs), len(Y), Xs.shape[1])):
            Yp, Dp, accepted, passes = _polish(Xs, ws, Y_s, D_s, int(n_polish), rng, rows.nt, max_iter)
        info.update(trials=int(n_polish), accepted=accepted, sample_size=len(Xs), n_iter=passes + passes0)
        if not accepted:
            return Y, info
        if full:
            D1 = Dp
        else:  # a better start on the sample: Lloyd on all rows decides
            Yp, _, st, it = self.plain_fixed_point(Yp, np.zeros(len(Yp)), 0.0, max_iter, 1e-300, rows)
            self.n_iter += it
            D1 = float(st[0])
        if D1 < D0 * (1.0 - 1e-9):
            info["gain"] = 1.0 - D1 / D0
            return _c(Yp, Y.dtype), info
        return Y, info

    # -- results
    def report(self):
        """Convert the records to the caller's units (once, after :meth:`run`); returns the last
        temperature in those units."""
        s2 = self.units.s2
        for entry in self.path:
            entry["T_start"] *= s2
            entry["T_end"] *= s2
        for entry in self.splits:
            entry["T"] *= s2
            entry["T_c"] *= s2
        for entry in self.swaps:
            entry["T"] *= s2
            entry["free_energy_gain"] *= s2 * self.units.wscale
        return float(self.T * s2)

    def result(self, rng):
        """``(Y, logp, T)``: the start of the final Lloyd pass (internal units) and the temperature
        of the model (caller's units; :meth:`report` first): with ``"auto"`` the chosen K's
        centroids on the path, else the last ones, with forced splits when fewer phase transitions
        than clusters were met (e.g. duplicated points: split the widest clusters)."""
        if self.auto:
            K_best = _choose_k_stable(self.path, self.strength) if self.strength else _choose_k(self.path)
            snap = next(p for p in self.path if p["n_clusters"] == K_best)
            logp = np.log(np.maximum(snap["cluster_weights"], 1e-300))
            return self.units.to_internal(snap["cluster_centers"]), logp, float(snap["T_end"])
        T = float(self.T * self.units.s2)
        if len(self.Y) < self.target:
            return (*self._force_splits(self.target - len(self.Y), rng), T)
        return self.Y, self.logp, T


def _merge_coincident(Y, logp, threshold):
    """Merge clusters closer than ``threshold`` (mass-weighted mean, masses added)."""
    Yd = Y.astype(np.float64)
    sq = (Yd * Yd).sum(1)
    D2 = sq[:, None] - 2.0 * Yd @ Yd.T + sq[None, :]
    np.fill_diagonal(D2, np.inf)
    if not (D2 < threshold**2).any():
        return Y, logp
    Yd, lp = list(Yd), list(logp)
    alive = list(range(len(Yd)))
    merged = True
    while merged:
        merged = False
        for a in range(len(alive)):
            for b in range(a + 1, len(alive)):
                i, j = alive[a], alive[b]
                if np.sum((Yd[i] - Yd[j]) ** 2) < threshold**2:
                    pi, pj = np.exp(lp[i]), np.exp(lp[j])
                    if pi + pj > 0:
                        Yd[i] = (pi * Yd[i] + pj * Yd[j]) / (pi + pj)
                    lp[i] = np.logaddexp(lp[i], lp[j])
                    del alive[b]
                    merged = True
                    break
            if merged:
                break
    return np.array([Yd[i] for i in alive]).astype(Y.dtype), np.array([lp[i] for i in alive])


def _choose_k(path):
    """The largest K whose range of log T between two phase transitions is wider than a Gaussian
    cluster's split cascade allows (``_NULL_WIDTH``); if there is none, the K stable over the
    widest range (K = 1 and the open-ended last range excluded).

    A Gaussian cluster of variance s^2 along its principal axis splits at T = 2 s^2 into two
    half-normals of variance (1 - 2/pi) s^2 along it, which split again at most a factor
    pi / (pi - 2) lower (sooner when another axis is nearly as wide): a wider range is structure,
    not the cascade of one blob.  Measured against the widest range alone on the clustering suite
    (benchmarks/auto_k_central.py, docs/central.md): one set more, none fewer."""
    inner = [e for e in path[:-1] if e["n_clusters"] >= 2]
    widths = [np.log(e["T_start"] / e["T_end"]) for e in inner]
    wide = [e["n_clusters"] for e, w in zip(inner, widths) if w > _NULL_WIDTH]
    if wide:
        return max(wide)
    best, best_width = path[-1]["n_clusters"], -np.inf
    for entry, width in zip(inner, widths):
        if width > best_width:
            best, best_width = entry["n_clusters"], width
    return best


class _Silent:
    """The monitor of the half-fits of ``"auto"``: no callback, no output, never stops."""

    def step(self, info, **kwargs):
        return False


def _hard_labels(Xc, C, nt):
    """Nearest-centroid labels of the centred rows ``Xc`` (compiled, independent of ``nt``)."""
    nt = _pass_threads(nt, len(Xc), len(C), Xc.shape[1])
    P, _, _ = _core.central_posteriors(Xc, _c(C, Xc.dtype), np.zeros(len(C)), 0.0, nt)
    return np.argmax(P, axis=1).astype(np.int64)


def _strength(test, w, C_test, C_train, nt):
    """Prediction strength (Tibshirani and Walther 2005) of the centroids ``C_train`` on the rows
    ``test`` (weights ``w``, ``None``: unit) clustered by their own centroids ``C_test``: over the
    clusters of ``C_test``, the smallest fraction of the (weighted) pairs of distinct rows of a
    cluster that ``C_train`` also puts in one cluster (clusters of fewer than two rows left out)."""
    a = _hard_labels(test, C_test, nt)
    b = _hard_labels(test, C_train, nt)
    ka, kb = len(C_test), len(C_train)
    wd = np.ones(len(a)) if w is None else np.asarray(w, dtype=np.float64)
    cell = a * kb + b
    m1 = np.bincount(cell, weights=wd, minlength=ka * kb).reshape(ka, kb)
    m2 = np.bincount(cell, weights=wd * wd, minlength=ka * kb).reshape(ka, kb)
    same = (m1 * m1 - m2).sum(1)  # weighted ordered pairs of distinct rows in one cell
    pairs = m1.sum(1) ** 2 - m2.sum(1)  # ... in one cluster of C_test
    ok = pairs > 0
    return float(np.min(same[ok] / pairs[ok])) if ok.any() else 0.0


def _prediction_strengths(est, ann, rng):
    """``{K: prediction strength}`` of the Ks of ``ann``'s path (K >= 2) over ``_PS_SPLITS`` random
    half-splits of its rows: both halves are annealed as ``ann`` was (from one cluster up to the
    same bound on K), and the centroids each half met at K predict the other half's clustering at
    K (:func:`_strength`, both ways).  The mean over the splits whose halves both met K; ``nan``
    when fewer than half of the half-fits met K.  ``None`` when the rows cannot be halved."""
    rows = ann.rows
    cap = max(_ANNEAL_ROWS, _ANNEAL_ROWS_PER_CLUSTER * ann.target)
    if rows.n > cap or not isinstance(rows, _MemoryRows):
        # at most as many rows as anneal_rows="auto" would anneal (a fixed draw: all rows when there
        # are fewer, which on dask travel to the client)
        rows = rows.subset(min(rows.n, cap), np.random.RandomState(0))[0]
    h = rows.n // 2
    if h < 2 or ann.identical:
        return None
    units = ann.units
    ks = sorted({e["n_clusters"] for e in ann.path if e["n_clusters"] >= 2})
    met = dict.fromkeys(ks, 0)
    vals = {K: [] for K in ks}
    for _ in range(_PS_SPLITS):
        perm = np.random.default_rng(int(rng.randint(2**31))).permutation(rows.n)
        halves = [rows.take(np.sort(perm[:h]))[0], rows.take(np.sort(perm[h : 2 * h]))[0]]
        if not all(float(half.wd.sum()) > 0 for half in halves):
            return None
        cents = []
        for half in halves:
            sub = _Annealer(est, half, units, ann.target, True)
            sub.run(_Silent())
            at = {}
            for e in sub.path:
                at.setdefault(e["n_clusters"], units.to_internal(e["cluster_centers"]))
            cents.append(at)
        for K in ks:
            has = [K in at for at in cents]
            met[K] += sum(has)
            if all(has):
                (A, CA), (B, CB) = zip(halves, cents)
                s1 = _strength(A.Xc, A.w, CA[K], CB[K], rows.nt)
                s2 = _strength(B.Xc, B.w, CB[K], CA[K], rows.nt)
                vals[K].append(0.5 * (s1 + s2))
    return {K: (float(np.mean(vals[K])) if vals[K] and met[K] >= _PS_SPLITS else float("nan")) for K in ks}


def _choose_k_stable(path, strength):
    """The largest K of the path whose prediction strength over half-splits is >= ``_PS_STRONG``
    (the K that both halves of the data reproduce); if there is none, the K with the largest
    prediction strength (the larger K on ties); if no K was met by half of the half-fits, the
    rule of :func:`_choose_k`.  Measured against :func:`_choose_k` on the clustering suite
    (benchmarks/auto_k_central.py, docs/central.md)."""
    cand = {K: v for K, v in strength.items() if np.isfinite(v)}
    if not cand:
        return _choose_k(path)
    strong = [K for K, v in cand.items() if v >= _PS_STRONG]
    if strong:
        return max(strong)
    return max(cand, key=lambda K: (cand[K], K))


class CentralAnnealing(CallbackSupport, ClassNamePrefixFeaturesOutMixin, TransformerMixin, ClusterMixin, BaseEstimator):
    r"""Soft k-means by mass-constrained deterministic annealing, with phase transitions.

    The model is Rose's mass-constrained deterministic annealing [1]_ [2]_: at temperature
    :math:`T` the soft assignments, cluster masses and centroids satisfy

    .. math::

        p(\nu \mid x_i) = \frac{p(\nu)\, e^{-\|x_i - y_\nu\|^2 / T}}
                               {\sum_\mu p(\mu)\, e^{-\|x_i - y_\mu\|^2 / T}}, \quad
        p(\nu) = \frac{\sum_i w_i\, p(\nu \mid x_i)}{\sum_i w_i}, \quad
        y_\nu = \frac{\sum_i w_i\, p(\nu \mid x_i)\, x_i}{\sum_i w_i\, p(\nu \mid x_i)},

    the stationary points of the free energy
    :math:`F = -T \sum_i w_i \log \sum_\nu p(\nu) e^{-\|x_i - y_\nu\|^2/T}`.
    Annealing starts with one cluster (the weighted mean) above the first critical temperature
    :math:`2\lambda_{\max}(C_x)` and cools geometrically.  Cluster :math:`\nu` becomes unstable
    below its critical temperature :math:`T_c(\nu) = 2\lambda_{\max}(C_{x|\nu})`, the largest
    eigenvalue of its posterior-weighted covariance: there it is split into two copies displaced
    along the principal axis, sharing its mass (a split whose copies fall back together is
    undone, and copies that later fall back together are merged).  Splitting stops at
    ``n_clusters``; cooling goes on until the assignments are effectively hard (or ``T_min``), with
    optional split-merge moves that lower the free energy (``swap_moves``), and a final Lloyd pass
    at :math:`T = 0` gives the centroids.

    Parameters
    ----------
    n_clusters : int or "auto", default=8
        Number of clusters.  ``"auto"`` anneals until ``max_clusters`` clusters (or ``T_min``) and
        keeps the K of the path that the data reproduce: the rows the annealing ran on are split
        twice at random into two halves, both halves are annealed the same way, and for every
        K of the path the centroids one half met at K predict the other half's clustering at K
        (prediction strength, Tibshirani and Walther 2005: the smallest fraction of pairs of a
        cluster that the other half's centroids also put together; ``prediction_strength_``).
        The largest K whose prediction strength is >= 0.9 is kept, else the K of the largest
        one.  Ks met by fewer than half of the half-fits are not candidates; when no K is, the
        largest K stable over a range of :math:`\log T` between two phase transitions wider
        than :math:`\log(\pi/(\pi-2)) \approx 1.01` (the widest range the successive splits
        of one Gaussian cluster leave), else the one stable over the widest range.  The 4
        half-fits make an ``"auto"`` fit about 4 times slower (median on the clustering suite).
    T_min : float or None, default=None
        Lowest temperature.  ``None``: ``1e-6`` times the first critical temperature.
    cooling : float in (0, 1), default=0.9
        Geometric cooling factor, ``T <- cooling * T``.
    max_iter : int, default=100
        Maximum fixed-point iterations (passes over X) per temperature.
    tol : float, default=1e-5
        A temperature's fixed point is reached when no centroid moves by more than
        ``tol * sqrt(trace(C_x))``.
    max_clusters : int or None, default=None
        Upper bound on K for ``n_clusters="auto"`` (``None``: ``min(20, n_samples)``).
    perturbation : float, default=1e-3
        Displacement of the two copies of a split cluster, in units of
        :math:`\sqrt{\lambda_{\max}(C_{x|\nu})}`.
    swap_moves : bool, default=True
        Once ``n_clusters`` clusters exist (fixed K, at least 3), try at every temperature one
        free-energy descent move: split the cluster that is most unstable (largest
        :math:`p(\nu) T_c(\nu)` with :math:`T_c(\nu) > T`) and merge the pair of clusters with the
        smallest Ward cost :math:`p_a p_b/(p_a + p_b) \|y_a - y_b\|^2`; the move is kept when the
        free energy at :math:`T` is lower after re-equilibrating.  A cluster split too early can so
        give its centroid back to a region that splits later (annealing with a fixed budget of K
        otherwise cannot undo a split).  With ``adaptive_cooling``, a rejected move is tried again
        only once the temperature fell below 0.8 times the one of its rejection.  ``False`` gives
        plain DA.
    final_max_iter : int, default=300
        Maximum Lloyd iterations of the final :math:`T = 0` pass.
    accelerate : bool, default=True
        Accelerate the fixed point at every temperature :math:`T > 0` by squared extrapolation
        (SQUAREM, Varadhan and Roland 2008) on the centroids and log-masses: two plain iterations,
        one extrapolated point, one plain iteration from it; the extrapolation is kept only when
        the free energy there is not above the one reached by the plain iterations, so the free
        energy never rises.  ``max_iter`` counts the passes over X, the extrapolated ones included.
    adaptive_cooling : bool, default=True
        Spend temperatures where the phase transitions are: after a quiet temperature (no split,
        no accepted split-merge move, the fixed point settled within 4 passes) the next step is
        ``cooling**stride`` with the stride doubled (at most 16), kept after a steady one (within
        10 passes), reset to 1 otherwise; while K can grow, the temperature never jumps below
        ``cooling`` times the highest critical temperature of the current clusters, so every
        split is still met within one cooling step.  Once K is full a temperature also ends when
        the free energy falls by less than ``3e-9`` times the total weight (data scaled to unit
        total variance) per pass.  ``False``: plain geometric cooling, every fixed point run to
        ``tol``.
    n_polish : int >= 0, default=24
        Final multi-start polish after the Lloyd pass (so that the fit is never worse than a
        multi-start k-means): ``n_polish`` Lloyd runs at :math:`T = 0`, alternately a relocation
        of the centroid whose removal costs least to a row drawn with probability proportional to
        its squared distance to the other centroids, and a fresh k-means++ start; a run that lowers
        the distortion becomes the incumbent.  On more than ``max(8192, 128 K)`` rows the runs use
        a uniform sample of that many rows and an improvement found there is confirmed by a Lloyd
        pass on all rows.  ``0``: none.  On dask input the sample is fetched to the client (the same rows as in
        memory) and the confirming Lloyd pass runs over the blocks.
    anneal_rows : int, None or "auto", default="auto"
        The annealing runs on a uniform sample of at most this many rows (drawn without
        replacement, weights kept); the final Lloyd pass and the polish then run on all rows.
        ``"auto"``: ``max(16384, 256 * K)`` (K = ``n_clusters``, or ``max_clusters`` for
        ``"auto"``), so that on large data the annealing costs about as much as on 16,384 rows;
        ``None``: all rows.  On dask input the same sample is fetched to the client and annealed
        there; the final Lloyd pass and the polish run over the blocks (``docs/dask.md``).
    random_state : int, RandomState or None, default=None
        Picks a split direction for a cluster whose covariance is zero, the annealing sample,
        the half-splits of ``n_clusters="auto"`` and the rows of the polish (``None``: a fixed
        seed, so that a fit is deterministic).
    n_threads : int or None, default=None
        Threads for the compiled kernels (``None``/``-1``: all available cores); a pass over few
        rows (e.g. the annealing sample) uses one thread per ~8 million row x cluster x feature
        products at most.  Results do not depend on it.
    verbose : int, default=0
        > 0: progress on standard error: each phase and each temperature, with the time elapsed
        and an upper estimate of the time left.
    callback : callable or None, default=None
        Called after every temperature with a dict (``T``, ``n_clusters``, ``free_energy``,
        ``distortion``, ``n_iter``, ``cluster_centers``, and ``step``, ``elapsed``,
        ``progress``); returning ``True`` stops the annealing (the final Lloyd pass still runs).
        The convention of every danneal estimator; scikit-learn's callbacks (``set_callbacks``,
        scikit-learn >= 1.9, e.g. ``ProgressBar``, ``ScoringMonitor``) work too.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (``n_clusters_``, n_features)
    labels_ : ndarray of int (n_samples,)
    cluster_weights_ : ndarray of shape (``n_clusters_``,)
        Cluster masses :math:`p(\nu)` after the final pass (they sum to 1).
    n_clusters_ : int
        Number of clusters found (``n_clusters`` unless ``"auto"``).
    critical_temperatures_ : ndarray
        :math:`T_c` of every accepted split, in the order the splits happened.
    splits_ : list of dict
        ``T`` (temperature of the split), ``T_c``, ``parent`` and ``child`` cluster indices.
    swaps_ : list of dict
        Accepted split-merge moves (``T``, ``split``, ``merged``, ``free_energy_gain``).
    history_ : dict of ndarrays
        One entry per temperature: ``T``, ``n_clusters``, ``free_energy``, ``distortion`` (both
        summed over the weighted samples) and ``n_iter``.
    prediction_strength_ : dict or None
        ``n_clusters="auto"``: ``{K: prediction strength}`` for every K >= 2 of ``path_`` (mean
        over the half-splits whose two halves both met K; ``nan`` when fewer than half of the
        half-fits met K), see ``n_clusters``.  ``None`` for a fixed K, rows too few to halve, or
        an annealing stopped by a callback (the log-T width rule then chooses K).
    path_ : list of dict
        One entry per K met along the annealing path: ``n_clusters``, ``T_start`` (temperature
        at which K was reached), ``T_end`` (temperature of the next split, or the last
        temperature), ``cluster_centers`` and ``cluster_weights`` at the last temperature with that
        K.  See :meth:`centers_at` and :meth:`partition_at`.
    temperature_ : float
        Last annealing temperature (the default of :meth:`predict_proba`).
    inertia_ : float
        Weighted sum of squared distances to the closest centroid after the final pass.
    n_iter_ : int
        Fixed-point iterations (passes over X) over the whole run, the final pass included
        (covariance passes for the critical temperatures are not counted).
    converged_ : bool
        Whether the final Lloyd pass converged within ``final_max_iter``.
    n_anneal_rows_ : int
        Rows the annealing ran on (see ``anneal_rows``).
    polish_ : dict
        The final polish: ``trials``, ``accepted`` (runs that became the incumbent),
        ``sample_size`` (rows it ran on), ``n_iter`` (its Lloyd passes over those rows, not in
        ``n_iter_``) and ``gain`` (relative drop of the distortion it gave, 0 if none).

    Examples
    --------
    >>> import numpy as np
    >>> from danneal import CentralAnnealing
    >>> X = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]])
    >>> model = CentralAnnealing(n_clusters=2, n_threads=1).fit(X)
    >>> sorted(model.cluster_centers_[:, 0].round(2).tolist())
    [0.05, 5.05]

    References
    ----------
    .. [1] K. Rose, "Deterministic annealing for clustering, compression, classification,
           regression, and related optimization problems", Proc. IEEE 86(11):2210-2239, 1998.
    .. [2] K. Rose, E. Gurewitz and G. C. Fox, "Statistical mechanics and phase transitions in
           clustering", Phys. Rev. Lett. 65(8):945-948, 1990.
    """

    def __init__(
        self,
        n_clusters=8,
        *,
        T_min=None,
        cooling=0.9,
        max_iter=100,
        tol=1e-5,
        max_clusters=None,
        perturbation=1e-3,
        swap_moves=True,
        final_max_iter=300,
        accelerate=True,
        adaptive_cooling=True,
        n_polish=24,
        anneal_rows="auto",
        random_state=None,
        n_threads=None,
        verbose=0,
        callback=None,
    ):
        self.n_clusters = n_clusters
        self.T_min = T_min
        self.cooling = cooling
        self.max_iter = max_iter
        self.tol = tol
        self.max_clusters = max_clusters
        self.perturbation = perturbation
        self.swap_moves = swap_moves
        self.final_max_iter = final_max_iter
        self.accelerate = accelerate
        self.adaptive_cooling = adaptive_cooling
        self.n_polish = n_polish
        self.anneal_rows = anneal_rows
        self.random_state = random_state
        self.n_threads = n_threads
        self.verbose = verbose
        self.callback = callback

    # ------------------------------------------------------------------ validation
    def _check_params(self, n_samples):
        if isinstance(self.n_clusters, str):
            if self.n_clusters != "auto":
                raise ValueError(f"n_clusters={self.n_clusters!r} must be an int >= 1 or 'auto'")
            auto = True
            if self.max_clusters is None:
                target = min(20, n_samples)
            else:
                target = check_n_clusters(self.max_clusters, n_samples, name="max_clusters")
        else:
            auto = False
            target = check_n_clusters(self.n_clusters, n_samples)
        if self.T_min is not None:
            check_float(self.T_min, "T_min", low=0, low_inclusive=False)
        check_float(self.cooling, "cooling", low=0, high=1, low_inclusive=False, high_inclusive=False)
        check_int(self.max_iter, "max_iter", low=1)
        check_float(self.tol, "tol", low=0)
        check_float(self.perturbation, "perturbation", low=0, low_inclusive=False)
        check_int(self.final_max_iter, "final_max_iter", low=1)
        check_int(self.n_polish, "n_polish", low=0)
        if isinstance(self.anneal_rows, str):
            if self.anneal_rows != "auto":
                raise ValueError(f"anneal_rows={self.anneal_rows!r} must be an int >= 1, None or 'auto'")
        elif self.anneal_rows is not None:
            check_int(self.anneal_rows, "anneal_rows", low=1)
        for name in ("swap_moves", "accelerate", "adaptive_cooling"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"{name}={getattr(self, name)!r} must be a bool")
        check_int(self.verbose, "verbose", low=0)
        if self.callback is not None and not callable(self.callback):
            raise TypeError(f"callback={self.callback!r} must be callable or None")
        return auto, target

    @staticmethod
    def _check_sample_weight(sample_weight, n, dtype):
        if sample_weight is None:
            return None
        if isinstance(sample_weight, numbers.Number):
            sample_weight = np.full(n, sample_weight)
        w = np.asarray(sample_weight)
        if w.dtype.kind not in "biuf":
            raise TypeError(f"sample_weight: unsupported dtype {w.dtype}; expected real weights of shape ({n},)")
        w = np.ascontiguousarray(w, dtype=dtype)
        if w.shape != (n,):
            raise ValueError(f"sample_weight: expected shape ({n},), got {w.shape}")
        if not np.isfinite(w).all():
            raise ValueError("sample_weight: contains NaN or inf")
        if (w < 0).any():
            i = int(np.flatnonzero(w < 0)[0])
            raise ValueError(f"sample_weight: must be >= 0, got sample_weight[{i}]={float(w[i])!r}")
        with np.errstate(over="ignore"):
            total = float(w.sum(dtype=np.float64))
        if not total > 0:
            raise ValueError("sample_weight: all weights are zero (they sum to 0)")
        if not total * 16.0 <= float(np.finfo(np.float64).max):  # masses and weighted sums would overflow
            raise ValueError(
                f"sample_weight: the total weight {total:.3g} is too large to represent in float64 "
                "sums; rescale the weights (only their ratios matter)"
            )
        return w

    # ------------------------------------------------------------------ fitting
    @with_callbacks
    def fit(self, X: ArrayLike, y: Any = None, sample_weight: Optional[ArrayLike] = None) -> CentralAnnealing:
        """Anneal from one cluster down to ``n_clusters`` clusters, then run a Lloyd pass.

        Parameters
        ----------
        X : array-like (n_samples, n_features)
        y : ignored
        sample_weight : array-like (n_samples,) or None
            Non-negative weights (a weight-2 sample counts like two copies of it).
        """
        if _is_dask(X):
            from ._dask import DaskRows

            rows = DaskRows(self, X, sample_weight)
        else:
            rows = _MemoryRows(self, X, sample_weight)
        auto, target = self._check_params(rows.n)
        rng = check_random_state(self.random_state)
        units = _Units(rows)  # centres rows
        ann = _Annealer(self, rows, units, target, auto, *self._annealing_sample(rows, units.wsum, target))
        self.n_anneal_rows_ = int(ann.rows.n)
        mon = FitMonitor(
            self,
            X,
            y,
            callback=self.callback,
            verbose=self.verbose,
            max_steps=n_geometric_steps(None, self.T_min, self.cooling, 1e-6 / 1.2),
        )
        mon.phase("annealing", f"n={rows.n}, d={rows.d}, from 1 to {'auto' if auto else target} clusters")
        ann.run(mon)
        if auto and _PS_SPLITS > 0 and ann.strength is None:
            mon.phase("stability", f"{_PS_SPLITS} half-splits, both halves annealed")
            ann.strength = _prediction_strengths(self, ann, self._seeded_rng())
        self.prediction_strength_ = ann.strength or None
        ann.report()
        Y, logp, self.temperature_ = ann.result(rng)

        mon.phase("final Lloyd pass")
        Y, D, self.converged_ = ann.final_pass(Y, logp, self.final_max_iter)
        if not self.converged_:
            warnings.warn(
                f"the final Lloyd pass did not converge in final_max_iter={self.final_max_iter} "
                "iterations; increase final_max_iter",
                ConvergenceWarning,
                stacklevel=2,
            )
        Y, self.polish_ = ann.polish(Y, D, self.n_polish, self._seeded_rng(), self.final_max_iter)
        self.cluster_centers_ = units.to_caller(Y)
        self.n_clusters_ = len(Y)
        self.labels_, counts, inertia = rows.hard_partition(_c(self.cluster_centers_, rows.dtype))
        self.cluster_weights_ = counts / counts.sum()
        self.inertia_ = inertia * units.wscale
        self.critical_temperatures_ = np.array([s["T_c"] for s in ann.splits], dtype=np.float64)
        self.splits_ = ann.splits
        self.swaps_ = ann.swaps
        self.history_ = {key: np.asarray(val) for key, val in ann.history.items()}
        self.path_ = ann.path
        self.n_iter_ = int(ann.n_iter)
        self._total_weight = units.wsum * units.wscale
        self._unit = (np.asarray(units.mean, dtype=np.float64), float(units.sc), float(units.s2))  # for partial_fit
        self._online = None
        mon.finish()
        return self

    def _seeded_rng(self):
        """A RandomState from ``random_state`` (``None``: a fixed seed, so that fits are deterministic)."""
        return np.random.RandomState(0) if self.random_state is None else check_random_state(self.random_state)

    def _annealing_sample(self, rows, wsum, target):
        """``(sample, weight factor)`` the annealing runs on (see ``anneal_rows``): ``(None, 1.0)``
        for all rows."""
        m = self._anneal_rows(rows.n, target)
        if m < rows.n and hasattr(rows, "subset"):
            sub, wsub = rows.subset(m, self._seeded_rng())
            if wsub > 0:  # (a sample of only zero-weight rows: anneal on all rows)
                return sub, wsum / wsub
        return None, 1.0

    def partial_fit(self, X, y=None, sample_weight=None, T=None):
        r"""Update the model with one mini-batch (online mass-constrained DA at a fixed temperature).

        The first call (on an unfitted model) runs :meth:`fit` on the batch.  Every call then adds
        the batch's sufficient statistics at temperature ``T``, :math:`\sum_i w_i p(\nu|x_i)` and
        :math:`\sum_i w_i p(\nu|x_i) x_i` under the current centroids and masses, to running sums
        over all batches seen, and sets the centroids and masses to their ratios (a stochastic
        approximation of the fixed point, each batch weighted by its total sample weight; on
        stationary data it approaches the fixed point of the whole stream at ``T``).

        Parameters
        ----------
        X : array-like (n_samples, n_features)
        y : ignored
        sample_weight : array-like (n_samples,) or None
        T : float >= 0 or None
            Temperature of this update, in units of X**2.  ``None``: ``temperature_`` (after the
            first call, the last annealing temperature; effectively hard assignments, i.e. online
            k-means).  A value is kept as ``temperature_``, so that a slowly falling schedule is
            one value per call.

        ``labels_`` and ``inertia_`` then describe the last batch; ``n_batches_`` counts the
        calls.  Not for dask input (pass the blocks as batches).
        """
        if _is_dask(X):
            raise TypeError("partial_fit: dask arrays are not supported; pass the blocks as numpy batches")
        if T is not None:
            T = check_float(T, "T", low=0)
        if not hasattr(self, "cluster_centers_"):
            self.fit(X, sample_weight=sample_weight)
        check_is_fitted(self)
        X = validate_X(self, X, reset=False, dtype=[np.float64, np.float32], order="C")
        Xb = _c(X, X.dtype)
        w = self._check_sample_weight(sample_weight, Xb.shape[0], Xb.dtype)
        mean, sc, s2 = self._unit
        if T is not None:
            if T > 0 and not np.isfinite(2.0 * s2 / T):
                raise ValueError(f"T={T} is too small (2/T overflows); use T=0 for hard assignments")
            self.temperature_ = float(T)
        Tu = self.temperature_ / s2
        dtype = Xb.dtype
        Xc = _c((Xb.astype(np.float64) - mean) / sc, dtype)
        if self._online is None:  # the first update since fit
            self._online = (np.zeros(self.n_clusters_), np.zeros((self.n_clusters_, Xc.shape[1])))
            self.n_batches_ = 0
        mass, sums = self._online
        Y = _c((self.cluster_centers_.astype(np.float64) - mean) / sc, dtype)
        with np.errstate(divide="ignore"):
            logp = np.log(self.cluster_weights_.astype(np.float64))
        wscale = 1.0
        wk = None
        if w is not None:  # only ratios matter within a batch: scaled as in fit, scaled back below
            wscale = float(np.exp2(np.floor(np.log2(float(w.max())))))
            wk = _c(w / w.dtype.type(wscale), dtype)
        Yn, lp, _, stats, st = _core.central_fixed_point(
            Xc, wk, Y, _c(logp, np.float64), float(Tu), 1, 0.0, resolve_n_threads(self.n_threads)
        )
        if st["numerical_error"]:
            raise ValueError(
                f"X: squared distances to the centroids overflow (max |X| = "
                f"{float(np.abs(Xb).max())!r}); X is far outside the range of the training data"
            )
        with np.errstate(invalid="ignore"):
            m_b = np.where(np.isfinite(lp), np.exp(lp), 0.0) * float(stats[3]) * wscale
        mass = mass + m_b
        sums = sums + m_b[:, None] * Yn.astype(np.float64)
        self._online = (mass, sums)
        alive = mass > 0
        Ynew = (self.cluster_centers_.astype(np.float64) - mean) / sc
        Ynew[alive] = sums[alive] / mass[alive, None]
        self.cluster_centers_ = (Ynew * sc + mean).astype(self.cluster_centers_.dtype)
        self.cluster_weights_ = mass / mass.sum()
        P, logZ, _ = _core.central_posteriors(
            Xb, _c(self.cluster_centers_, dtype), np.zeros(self.n_clusters_), 0.0, resolve_n_threads(self.n_threads)
        )
        wd = np.ones(len(Xb)) if w is None else w.astype(np.float64)
        self.labels_ = np.argmax(P, axis=1).astype(np.int64)
        self.inertia_ = float(wd @ np.maximum(-logZ, 0.0))
        self.n_batches_ += 1
        return self

    def _anneal_rows(self, n, target):
        """Rows the annealing runs on (see ``anneal_rows``)."""
        if self.anneal_rows is None:
            return n
        if isinstance(self.anneal_rows, str):
            return min(n, max(_ANNEAL_ROWS, _ANNEAL_ROWS_PER_CLUSTER * target))
        return min(n, int(self.anneal_rows))

    # ------------------------------------------------------------------ prediction
    def _check_X(self, X):
        check_is_fitted(self)
        X = validate_X(self, X, reset=False, dtype=[np.float64, np.float32], order="C")
        return _c(X, X.dtype)

    def _centers_like(self, X):
        return _c(self.cluster_centers_, X.dtype)

    def _map_dask(self, method, X, n_out=None, dtype=np.int64, **kwargs):
        from ._dask import map_rows

        check_is_fitted(self)
        return map_rows(lambda block: method(block, **kwargs), X, self.n_features_in_, n_out=n_out, dtype=dtype)

    def _posteriors(self, X, C, logp, T):
        P, _, status = _core.central_posteriors(X, C, logp, T, resolve_n_threads(self.n_threads))
        if status["numerical_error"]:  # the kernel left such rows uniform: never return them
            raise ValueError(
                f"X: squared distances to the centroids overflow float64 (max |X| = "
                f"{float(np.abs(X).max())!r}); X is far outside the range of the training data"
            )
        return P

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Index of the closest centroid for every sample (a lazy dask array for dask input)."""
        if _is_dask(X):
            return self._map_dask(self.predict, X)
        X = self._check_X(X)
        P = self._posteriors(X, self._centers_like(X), np.zeros(self.n_clusters_), 0.0)
        return np.argmax(P, axis=1).astype(np.int64)

    def fit_predict(self, X: ArrayLike, y: Any = None, sample_weight: Optional[ArrayLike] = None) -> np.ndarray:
        """Fit and return ``labels_``."""
        return self.fit(X, sample_weight=sample_weight).labels_

    def predict_proba(self, X: ArrayLike, T: Optional[float] = None) -> np.ndarray:
        r"""Soft assignments :math:`p(\nu|x)` at temperature ``T`` with the fitted masses as priors.

        ``T=None`` uses ``temperature_`` (the last annealing temperature); ``T=0`` gives one-hot
        rows (nearest centroid).  A lazy dask array for dask input.
        """
        if _is_dask(X):
            check_is_fitted(self)
            return self._map_dask(self.predict_proba, X, n_out=self.n_clusters_, dtype=X.dtype, T=T)
        X = self._check_X(X)
        T = self.temperature_ if T is None else check_float(T, "T", low=0)
        with np.errstate(divide="ignore"):
            logp = np.log(self.cluster_weights_)
        if T > 0 and not np.isfinite(2.0 / T):
            raise ValueError(f"T={T} is too small (2/T overflows); use T=0 for hard assignments")
        return self._posteriors(X, self._centers_like(X), _c(logp, np.float64), float(T))

    def transform(self, X: ArrayLike) -> np.ndarray:
        """Euclidean distances of every sample to every centroid, shape (n_samples, ``n_clusters_``)
        (a lazy dask array for dask input)."""
        if _is_dask(X):
            check_is_fitted(self)
            return self._map_dask(self.transform, X, n_out=self.n_clusters_, dtype=X.dtype)
        X = self._check_X(X)
        C = self._centers_like(X).astype(np.float64)
        Xd = X.astype(np.float64)
        # the squares overflow for |X| beyond ~1e154: scale by a power of two (exact), then back
        amax = max(float(np.abs(Xd).max(initial=0.0)), float(np.abs(C).max(initial=0.0)))
        e = int(np.frexp(amax)[1]) if amax > 1e150 else 0
        if e:
            Xd, C = np.ldexp(Xd, -e), np.ldexp(C, -e)
        D = (Xd * Xd).sum(1)[:, None] - 2.0 * Xd @ C.T + (C * C).sum(1)[None, :]
        return np.ldexp(np.sqrt(np.maximum(D, 0.0)), e).astype(X.dtype)

    def centers_at(self, n_clusters):
        """Centroids of the annealing path when it had ``n_clusters`` clusters (soft, at the last
        temperature with that K; no Lloyd pass)."""
        check_is_fitted(self)
        for entry in self.path_:
            if entry["n_clusters"] == n_clusters:
                return entry["cluster_centers"].copy()
        ks = sorted({e["n_clusters"] for e in self.path_})
        raise ValueError(f"n_clusters={n_clusters!r} was not met along the annealing path (met: {ks})")

    def partition_at(self, X, n_clusters):
        """Labels of ``X`` (closest centroid) for the partition with ``n_clusters`` clusters on the path."""
        X = self._check_X(X)
        C = _c(self.centers_at(n_clusters), X.dtype)
        P = self._posteriors(X, C, np.zeros(len(C)), 0.0)
        return np.argmax(P, axis=1).astype(np.int64)

    # -- scikit-learn surface (issue 17) ---------------------------------------------------------
    def score(self, X: ArrayLike, y: Any = None, sample_weight: Optional[ArrayLike] = None) -> float:
        """Minus the (weighted) sum of squared distances of ``X`` to the closest centroid, as
        ``KMeans.score`` (higher is better), so that ``GridSearchCV`` works without a scorer."""
        if _is_dask(X):
            check_is_fitted(self)
            d2 = self.transform(X).astype(np.float64) ** 2
            d2 = np.asarray(d2.min(axis=1).compute())
        else:
            X = self._check_X(X)
            Xd = X.astype(np.float64)
            C = self.cluster_centers_.astype(np.float64)
            d2 = np.full(Xd.shape[0], np.inf)
            with np.errstate(over="ignore", invalid="ignore"):
                for v in range(C.shape[0]):
                    d2 = np.minimum(d2, ((Xd - C[v]) ** 2).sum(axis=1))
            if not np.isfinite(d2).all():
                raise ValueError(
                    f"X: squared distances to the centroids overflow float64 (max |X| = "
                    f"{float(np.abs(Xd).max())!r}); rescale X"
                )
        if sample_weight is None:
            return -float(d2.sum())
        w = self._check_sample_weight(sample_weight, d2.shape[0], np.float64)
        return -float(np.dot(w, d2))

    @property
    def _n_features_out(self):
        """Number of columns of ``transform`` (for ``get_feature_names_out``)."""
        return self.cluster_centers_.shape[0]
