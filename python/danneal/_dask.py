"""Dask row stores for the annealing estimators (the optional extra ``danneal[dask]``).

The estimators accept a :class:`dask.array.Array` of rows wherever they accept a numpy array and
dispatch on its type, as scikit-learn's own estimators do for sparse input: user code stays the
same whether the data sit in memory or on a cluster, and only the ``Client(...)`` line changes.

Design (the schedule stays on the client):

- the rows are validated, centred and scaled blockwise and **persisted on the workers**; a block is
  recomputed from its source if a worker dies;
- each sweep is **one graph**: one task per row block runs the compiled kernel
  (``_core.central_statistics``, GIL released) and returns only O(k d) sufficient statistics;
- the client adds the blocks' statistics **in block order**, so the result does not depend on
  which worker finished first, and applies the same update as the compiled fixed point;
- the rows' assignments never travel: labels are a dask array computed on the workers.

A dask fit equals the in-memory fit of the same data to about 1e-12 relative (not bit for bit):
the in-memory kernel adds its 2048-row chunks in one sequence, the dask driver adds per-block
totals.  ``tests/test_dask.py`` checks this on a real ``distributed.LocalCluster``.
"""

from __future__ import annotations

import numpy as np

from . import _core
from ._threads import resolve_n_threads

__all__ = ["DaskRows", "is_dask", "map_rows"]


def is_dask(X) -> bool:
    """True for a dask collection (checked without importing dask)."""
    return type(X).__module__.split(".")[0] == "dask" and hasattr(X, "__dask_graph__")


def _require_dask():
    try:
        import dask
        import dask.array as da
    except ImportError as exc:  # pragma: no cover - the extra is installed in CI
        raise ImportError("dask arrays need the optional extra: pip install 'danneal[dask]'") from exc
    return dask, da


def _canonical(a, dtype):
    dt = np.dtype(np.dtype(dtype).type)
    return np.ascontiguousarray(np.asarray(a), dtype=dt).view(dt)


def check_dask_rows(X, name="X", *, n_features=None):
    """Validate a dask array of rows without computing it (shape, dtype, chunk sizes); returns it
    with float dtype and one chunk along the features."""
    _, da = _require_dask()
    if not isinstance(X, da.Array):
        raise TypeError(f"{name}: expected a dask.array.Array, got {type(X).__name__}")
    if X.ndim != 2:
        raise ValueError(f"{name}: expected a 2-d dask array (n_samples, n_features), got ndim={X.ndim} "
                         f"with shape {X.shape}")
    if any(np.isnan(c) for c in X.chunks[0]) or any(np.isnan(c) for c in X.chunks[1]):
        raise ValueError(f"{name}: dask array with unknown chunk sizes {X.chunks}; call "
                         f"{name}.compute_chunk_sizes() (or build it with known chunks) first")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name}: empty array of shape {X.shape}")
    dt = X.dtype
    if dt == np.float32 or dt == np.float64:
        pass
    elif np.issubdtype(dt, np.integer) or dt == np.bool_:
        X = X.astype(np.float64)
    else:
        raise TypeError(f"{name}: unsupported dtype {dt} (use float32 or float64)")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(f"{name}: has {X.shape[1]} features, but the estimator was fitted with {n_features}")
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    return X


def _finite_max(block, w):
    """Per block: (all finite, max |x|, weight) -- the first reduction of a fit."""
    Xd = np.asarray(block, dtype=np.float64)
    wd = np.ones(len(Xd)) if w is None else np.asarray(w, dtype=np.float64)
    finite = bool(np.isfinite(Xd).all())
    return finite, float(np.abs(Xd).max()) if finite and Xd.size else 0.0, float(wd.sum())


def _weighted_sum(block, w, pre):
    Xd = np.asarray(block, dtype=np.float64) / pre
    wd = np.ones(len(Xd)) if w is None else np.asarray(w, dtype=np.float64)
    return wd @ Xd


def _scatter(block, w, pre, mean):
    Xd = np.asarray(block, dtype=np.float64) / pre - mean
    wd = np.ones(len(Xd)) if w is None else np.asarray(w, dtype=np.float64)
    return (Xd * wd[:, None]).T @ Xd


def _centre_block(block, pre, mean, root, dtype):
    Xd = np.asarray(block, dtype=np.float64) / pre - mean
    if root != 1.0:
        Xd /= root
    return _canonical(Xd, dtype)


def _block_statistics(block, w, Y, logp, T):
    sums, mass, out, st = _core.central_statistics(block, w, Y, logp, float(T), resolve_n_threads(None))
    return sums, mass, out


def _block_covariance(block, w, Y, logp, T):
    cov, mass, mean, _ = _core.central_covariance(block, w, Y, logp, float(T), resolve_n_threads(None))
    return cov, mass, mean


def _block_hard(block, centers):
    """Labels and -logZ (squared distance to the nearest centroid) of one block of input rows."""
    P, logZ, _ = _core.central_posteriors(_canonical(block, centers.dtype), centers, np.zeros(len(centers)), 0.0,
                                          resolve_n_threads(None))
    return np.argmax(P, axis=1).astype(np.int64), np.maximum(-logZ, 0.0)


class DaskRows:
    """The rows of a dask fit of :class:`danneal.CentralAnnealing` (see the module docstring):
    the same interface as ``danneal.central._MemoryRows``, each data pass one dask graph."""

    def __init__(self, est, X, sample_weight):
        dask, da = _require_dask()
        self._dask = dask
        X = check_dask_rows(X)
        self.X = X
        self.n, self.d = X.shape
        self.dtype = np.dtype(X.dtype.type)
        est.n_features_in_ = self.d
        if hasattr(est, "feature_names_in_"):
            del est.feature_names_in_
        self.w = None
        self.wscale = 1.0
        if sample_weight is None:
            self.w_blocks = [None] * X.numblocks[0]
        else:
            w = sample_weight if isinstance(sample_weight, da.Array) else da.from_array(np.asarray(sample_weight))
            if w.ndim != 1 or w.shape[0] != self.n:
                raise ValueError(f"sample_weight: expected shape ({self.n},), got {w.shape}")
            w = w.astype(self.dtype).rechunk((X.chunks[0],))
            wmin, wmax, wfin = dask.compute(w.min(), w.max(), da.isfinite(w).all())
            if not wfin:
                raise ValueError("sample_weight: contains NaN or inf")
            if wmin < 0:
                raise ValueError(f"sample_weight: must be >= 0, got a minimum of {float(wmin)!r}")
            if not wmax > 0:
                raise ValueError("sample_weight: all weights are zero (they sum to 0)")
            # only the ratios matter: divided by a power of two near the largest (exact), as in memory
            self.wscale = float(np.exp2(np.floor(np.log2(float(wmax)))))
            w = (w / w.dtype.type(self.wscale)).astype(self.dtype)
            w = w.persist()
            self.w = w
            self.w_blocks = list(w.to_delayed().ravel())
        self.x_blocks = list(X.to_delayed().ravel())
        try:  # a distributed client: work on futures (less overhead per sweep than a collection graph)
            from distributed import get_client
            self.client = get_client()
        except (ImportError, ValueError):
            self.client = None

    def _compute(self, tasks):
        if self.client is not None:
            return self.client.gather(self.client.compute(list(tasks)))
        return self._dask.compute(*tasks)

    def _map_blocks(self, fn, *args):
        """``[fn(block, weights, *args) for each row block]`` on the workers, in block order."""
        if self.client is not None:
            futures = [self.client.submit(fn, b, w, *args, pure=False) for b, w in zip(self.c_blocks, self.w_blocks)]
            return self.client.gather(futures)
        delayed = self._dask.delayed
        args = [delayed(a) if isinstance(a, np.ndarray) else a for a in args]
        return self._dask.compute(*[delayed(fn)(b, w, *args) for b, w in zip(self.c_blocks, self.w_blocks)])

    def moments(self):
        """``(mean, covariance, total weight, pre)`` as ``_MemoryRows.moments``: three reductions,
        each added in block order."""
        delayed = self._dask.delayed
        pairs = list(zip(self.x_blocks, self.w_blocks))
        first = self._compute([delayed(_finite_max)(b, w) for b, w in pairs])
        for i, (finite, _, _) in enumerate(first):
            if not finite:
                raise ValueError(f"Input X contains NaN or infinity (in row block {i} of the dask array)")
        amax = max(m for _, m, _ in first)
        pre = float(np.exp2(np.floor(np.log2(amax)))) if amax > 0 else 1.0
        wsum = 0.0
        for _, _, ws in first:  # block order
            wsum += ws
        total = np.zeros(self.d)
        for sx in self._compute([delayed(_weighted_sum)(b, w, pre) for b, w in pairs]):
            total += sx
        mean = total / wsum
        cov = np.zeros((self.d, self.d))
        for c in self._compute([delayed(_scatter)(b, w, pre, mean) for b, w in pairs]):
            cov += c
        return mean, cov / wsum, wsum, pre

    def centre(self, pre, mean, root):
        """Persist ``(X / pre - mean) / root`` on the workers (one task per block)."""
        delayed = self._dask.delayed
        blocks = [delayed(_centre_block)(b, pre, mean, root, self.dtype) for b in self.x_blocks]
        if self.client is not None:
            # futures keep their lineage: a block lost with its worker is recomputed from the source
            self.c_blocks = self.client.compute(blocks)
            if self.w_blocks[0] is not None:
                self.w_blocks = self.client.compute(self.w_blocks)
        else:
            self.c_blocks = list(self._dask.persist(*blocks))

    def statistics(self, Y, logp, T):
        """One sweep: the blocks' sufficient statistics, added in block order."""
        parts = self._map_blocks(_block_statistics, Y, logp, T)
        sums = np.zeros_like(parts[0][0])
        mass = np.zeros_like(parts[0][1])
        out = np.zeros_like(parts[0][2])
        for s, m, o in parts:
            sums += s
            mass += m
            out += o
        return sums, mass, out

    def fixed_point(self, Y, logp, T, max_iter, tol):
        """The compiled fixed point (``central_fixed_point``), one dask graph per iteration."""
        T = float(T)
        hard = T == 0
        k, d = Y.shape
        dtype = Y.dtype
        Y = Y.copy()
        logp = logp.copy()
        stats = np.zeros(4)
        it = 0
        numerical_error = False
        for it in range(1, int(max_iter) + 1):
            sums, mass, out = self.statistics(Y, logp, T)
            wsum = out[2]
            stats[3] = wsum
            Yd = Y.astype(np.float64)
            yy = (Yd * Yd).sum(1)
            distortion = max(0.0, out[1] - 2.0 * float((Yd * sums).sum()) + float(mass @ yy))
            stats[0] = distortion
            stats[1] = distortion if hard else out[1] - T * out[0]
            numerical_error |= out[3] > 0
            alive = (mass > 1e-300) & np.isfinite(mass)
            Ynew = Yd.copy()
            Ynew[alive] = (sums[alive] / mass[alive, None]).astype(dtype)
            shift = float(np.sqrt(((Ynew - Yd) ** 2).sum(1)).max()) if k else 0.0
            with np.errstate(divide="ignore"):
                logp = np.where(alive, np.log(np.where(alive, mass, 1.0) / wsum), -np.inf)
            Y = _canonical(Ynew, dtype)
            stats[2] = shift
            if shift < tol:
                break
        return Y, logp, stats, it, numerical_error

    def covariance(self, Y, logp, T):
        """Posterior covariances (k, d, d): the blocks' moments combined about the global means."""
        parts = self._map_blocks(_block_covariance, _canonical(Y, Y.dtype), _canonical(logp, np.float64), T)
        mass = np.zeros(len(Y))
        first = np.zeros((len(Y), self.d))
        for _, m, mu in parts:
            mass += m
            first += m[:, None] * mu
        safe = np.where(mass > 0, mass, 1.0)
        mean = first / safe[:, None]
        scatter = np.zeros((len(Y), self.d, self.d))
        for c, m, mu in parts:
            dm = mu - mean
            scatter += m[:, None, None] * (c + dm[:, :, None] * dm[:, None, :])
        return scatter / safe[:, None, None]

    def hard_partition(self, centers):
        """Labels (a dask array, left on the workers), weight per cluster and inertia."""
        _, da = _require_dask()
        hard = self.X.map_blocks(lambda b: np.stack(_block_hard(b, centers), axis=1), dtype=np.float64,
                                 chunks=(self.X.chunks[0], (2,)))
        hard = hard.persist()
        labels = hard[:, 0].astype(np.int64)
        d2 = hard[:, 1]
        k = len(centers)
        wd = da.ones(self.n, chunks=(self.X.chunks[0],)) if self.w is None else self.w.astype(np.float64)
        counts = da.bincount(labels, weights=wd, minlength=k)
        counts, inertia = self._dask.compute(counts, (wd * d2).sum())
        return labels, np.asarray(counts, dtype=np.float64), float(inertia)


def map_rows(fn, X, n_features, *, n_out=None, dtype):
    """Lazy ``fn`` over the row blocks of a dask array (predict/transform on dask input, as dask-ml):
    ``n_out=None`` for one value per row, else ``n_out`` columns."""
    X = check_dask_rows(X, n_features=n_features)
    if n_out is None:
        return X.map_blocks(fn, drop_axis=1, dtype=dtype)
    return X.map_blocks(fn, dtype=dtype, chunks=(X.chunks[0], (n_out,)))
