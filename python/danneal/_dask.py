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
        raise ValueError(
            f"{name}: expected a 2-d dask array (n_samples, n_features), got ndim={X.ndim} with shape {X.shape}"
        )
    if any(np.isnan(c) for c in X.chunks[0]) or any(np.isnan(c) for c in X.chunks[1]):
        raise ValueError(
            f"{name}: dask array with unknown chunk sizes {X.chunks}; call "
            f"{name}.compute_chunk_sizes() (or build it with known chunks) first"
        )
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
    from ._central import _scatter

    Xd = np.asarray(block, dtype=np.float64) / pre - mean
    return _scatter(Xd, None if w is None else np.asarray(w, dtype=np.float64))


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


def _take_rows(block, w, idx):
    return np.asarray(block)[idx], None if w is None else np.asarray(w)[idx]


def _block_hard(block, centers):
    """Labels and -logZ (squared distance to the nearest centroid) of one block of input rows."""
    P, logZ, _ = _core.central_posteriors(
        _canonical(block, centers.dtype), centers, np.zeros(len(centers)), 0.0, resolve_n_threads(None)
    )
    return np.argmax(P, axis=1).astype(np.int64), np.maximum(-logZ, 0.0)


class DaskRows:
    """The rows of a dask fit of :class:`danneal.CentralAnnealing` (see the module docstring):
    the same interface as ``danneal._central._MemoryRows``, each data pass one dask graph."""

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
        self.nt = resolve_n_threads(est.n_threads)  # for the client-side passes over a sample
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
        for it in range(1, int(max_iter) + 1):  # noqa: B007 (the count is read after the loop)
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

    def _gather(self, idx):
        """The centred rows ``idx`` (sorted) and their weights (None: unit), fetched block by block."""
        bounds = np.concatenate([[0], np.cumsum(self.X.chunks[0])])
        parts = []
        for i, (b, w) in enumerate(zip(self.c_blocks, self.w_blocks)):
            lo, hi = np.searchsorted(idx, [bounds[i], bounds[i + 1]])
            if hi > lo:
                parts.append((b, w, idx[lo:hi] - bounds[i]))
        if self.client is not None:
            got = self.client.gather([self.client.submit(_take_rows, b, w, j, pure=False) for b, w, j in parts])
        else:
            delayed = self._dask.delayed
            got = self._dask.compute(*[delayed(_take_rows)(b, w, j) for b, w, j in parts])
        Xc = _canonical(np.concatenate([g[0] for g in got]), self.dtype)
        w = None if self.w is None else _canonical(np.concatenate([g[1] for g in got]), self.dtype)
        return Xc, w

    def subset(self, m, rng):
        """As ``_MemoryRows.subset``: an in-memory rows object over ``m`` uniformly drawn centred rows
        (the same draw from ``rng``, so the same rows as in memory) and their total weight.  Only a
        sample of fixed size travels to the client; the annealing then runs there."""
        from ._central import _MemoryRows, _sample_rows

        idx = _sample_rows(self.n, m, rng)
        Xc, w = self._gather(idx)
        sub = object.__new__(_MemoryRows)
        sub.n, sub.d, sub.dtype, sub.nt, sub.wscale = m, self.d, self.dtype, self.nt, self.wscale
        sub.X = None  # the input rows: only hard_partition reads them, and a subset is never partitioned
        sub.Xc, sub.w = Xc, w
        sub.wd = np.ones(m) if w is None else w.astype(np.float64)
        return sub, float(sub.wd.sum())

    def sample(self, m, rng):
        """As ``_MemoryRows.sample``: ``(Xs, ws, full)`` with at most ``m`` centred rows."""
        if self.n <= m:
            Xc, w = self._gather(np.arange(self.n))
            return Xc, w, True
        from ._central import _sample_rows

        Xc, w = self._gather(_sample_rows(self.n, m, rng))
        return Xc, w, False

    def hard_partition(self, centers):
        """Labels (a dask array, left on the workers), weight per cluster and inertia."""
        _, da = _require_dask()
        hard = self.X.map_blocks(
            lambda b: np.stack(_block_hard(b, centers), axis=1), dtype=np.float64, chunks=(self.X.chunks[0], (2,))
        )
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


# ---- PairwiseAnnealing on dask (feature-space metrics) ---------------------------------------------
#
# The state of a feature-space pairwise fit with gradient potentials is small: the assignments of
# every row are a function of the previous sweep's statistics (S^T, t, S: O(k d) numbers), of the
# temperature, and of row-indexed noise (danneal._rownoise).  So the rows' assignments are never
# stored anywhere: a task rebuilds the block's current assignments from their description (a
# "spec": nested tuples of statistics, temperatures and noise keys), runs one compiled sweep and
# returns the block's statistics.  A lost worker loses nothing but its persisted input blocks,
# which dask recomputes from their source.  Each sweep rebuilds the previous assignments (one
# extra potential evaluation per row) to measure the largest change, as the in-memory fixed point
# does; its cost is one more pass of the same kernel.


def _pw_feature_block(block, metric, dtype):
    """The rows whose squared Euclidean distances are the dissimilarities (as
    ``PairwiseAnnealing._feature_rows``), and (finite, max |x|, min row norm) of the input."""
    X = _canonical(block, dtype)
    finite = bool(np.isfinite(X).all())
    amax = float(np.abs(X).max()) if finite and X.size else 0.0
    if metric == "cosine" and finite:
        norms = np.sqrt(np.einsum("ij,ij->i", X, X, dtype=np.float64))
        nmin = float(norms.min()) if norms.size else 1.0
        if nmin > 0:
            X = _canonical(X / (np.sqrt(2.0) * norms)[:, None], dtype)
    else:
        nmin = 1.0
    return X, (finite, amax, nmin)


def _pw_sum(block):
    return np.asarray(block, dtype=np.float64).sum(axis=0)


def _pw_scatter(block, mu):
    B = np.asarray(block, dtype=np.float64) - mu
    return B.T @ B


def _pw_materialise(block, row0, mu, spec, nt):
    """The current assignments of one block of rows, rebuilt from their description ``spec``."""
    from ._pairwise import _initial_rows, _perturb_rows

    kind = spec[0]
    if kind == "init":
        _, key, k, perturbation = spec
        return _initial_rows(key, row0, len(block), k, perturbation, block.dtype)
    if kind == "soft":  # softmax(-h / T) of the statistics `total` (hard at T = 0)
        _, total, T, form, k = spec
        Q0 = np.full((len(block), k), 1.0 / k, dtype=block.dtype)
        return _core.pairwise_features_block_sweep(block, mu, Q0, total, T, form, nt)[0]
    if kind == "perturbed":
        _, base, key, index, perturbation = spec
        Q = _pw_materialise(block, row0, mu, base, nt)
        return _perturb_rows(Q, key, index, row0, perturbation).astype(Q.dtype)
    if kind == "onehot":
        Q = _pw_materialise(block, row0, mu, spec[1], nt)
        out = np.zeros_like(Q)
        out[np.arange(len(Q)), np.argmax(Q, axis=1)] = 1
        return out
    raise ValueError(f"unknown assignment spec {kind!r}")  # pragma: no cover


def _pw_stats_task(block, row0, mu, spec, summary, prev, nt):
    """Statistics of the block's current assignments and, on request, the numbers the schedule's
    stopping rules read: (smallest row maximum, confident rows, label flips among them against
    the assignments ``prev``, label counts)."""
    Q = _pw_materialise(block, row0, mu, spec, nt)
    total = _core.pairwise_features_block_stats(block, mu, Q, nt)
    if not summary:
        return total, None
    rowmax = Q.max(axis=1)
    lab = np.argmax(Q, axis=1)
    confident = rowmax > 2.0 / 3.0
    flips = 0
    if prev is not None:
        flips = int(
            np.count_nonzero((lab != np.argmax(_pw_materialise(block, row0, mu, prev, nt), axis=1)) & confident)
        )
    counts = np.bincount(lab, minlength=Q.shape[1])
    return total, (float(rowmax.min()), int(np.count_nonzero(confident)), flips, counts)


def _pw_sweep_task(block, row0, mu, spec, total, T, form, nt):
    Q = _pw_materialise(block, row0, mu, spec, nt)
    return _core.pairwise_features_block_sweep(block, mu, Q, total, T, form, nt)[1]


def _pw_labels_block(block, row0, mu, spec, nt):
    return np.argmax(_pw_materialise(block, row0, mu, spec, nt), axis=1).astype(np.intp)


def _features_cost(total, k, d):
    """``H = sum_v W_v`` over non-empty clusters (``FeatureModel::cost`` of pairwise_features.hpp)."""
    m = total[: d * k].reshape(d, k)
    t = total[d * k : d * k + k]
    S = total[d * k + k :]
    cost = 0.0
    for v in range(k):
        if S[v] > 1e-150:  # kTinyMass of pairwise.hpp
            cost += max(0.0, t[v] - float(m[:, v] @ m[:, v]) / S[v])
    return cost


class PairwiseRows:
    """The rows of a dask fit of :class:`danneal.PairwiseAnnealing` with ``metric="sqeuclidean"`` or
    ``"cosine"``: the feature rows persisted on the workers, one round of tasks per data pass."""

    def __init__(self, est, X, nt):
        dask, da = _require_dask()
        self._dask = dask
        X = check_dask_rows(X)
        self.n, self.d = X.shape
        self.dtype = np.dtype(X.dtype.type)
        self.nt = nt
        est.n_features_in_ = self.d
        if hasattr(est, "feature_names_in_"):
            del est.feature_names_in_
        self.chunks = X.chunks[0]
        self.row0 = [int(r) for r in np.concatenate([[0], np.cumsum(self.chunks)[:-1]])]
        delayed = dask.delayed
        pairs = [delayed(_pw_feature_block, nout=2)(b, est.metric, self.dtype) for b in X.to_delayed().ravel()]
        try:
            from distributed import get_client

            self.client = get_client()
        except (ImportError, ValueError):
            self.client = None
        if self.client is not None:
            self.blocks = self.client.compute([p[0] for p in pairs])
        else:
            self.blocks = list(dask.persist(*[p[0] for p in pairs]))
        checks = self._compute([p[1] for p in pairs])
        for i, (finite, _, _) in enumerate(checks):
            if not finite:
                raise ValueError(f"Input X contains NaN or infinity (in row block {i} of the dask array)")
        amax = max(a for _, a, _ in checks)
        with np.errstate(over="ignore"):
            big = not np.isfinite(4.0 * amax * amax * self.d)
        if big:
            raise ValueError(f"X: squared distances overflow float64 (max |X| = {amax!r}); rescale X")
        if est.metric == "cosine" and min(m for _, _, m in checks) <= 0:
            raise ValueError("X: metric='cosine' on a dask array needs rows of nonzero norm (X has an all-zero row)")
        total = np.zeros(self.d)
        for s in self._map(_pw_sum):
            total += s
        self.mu = total / self.n

    def _compute(self, tasks):
        if self.client is not None:
            return self.client.gather(self.client.compute(list(tasks)))
        return self._dask.compute(*tasks)

    def _map(self, fn, *args, rows=False):
        """``[fn(block, [row0,] *args) for each block]`` on the workers, in block order."""
        if self.client is not None:
            futures = [
                self.client.submit(fn, b, *((r,) if rows else ()), *args, pure=False)
                for b, r in zip(self.blocks, self.row0)
            ]
            return self.client.gather(futures)
        delayed = self._dask.delayed
        return self._dask.compute(
            *[delayed(fn)(b, *((r,) if rows else ()), *args) for b, r in zip(self.blocks, self.row0)]
        )

    def critical_temperature(self):
        """``2 lambda_max(cov(X))`` of the feature rows, as ``_FeatureProblem.critical_temperature``."""
        if self.n < 2:
            return 0.0
        C = np.zeros((self.d, self.d))
        for c in self._map(_pw_scatter, self.mu):
            C += c
        return max(0.0, 2.0 * float(np.linalg.eigvalsh(C / self.n)[-1]))

    def stats(self, spec, summary=False, prev=None):
        parts = self._map(_pw_stats_task, self.mu, spec, summary, prev, self.nt, rows=True)
        total = np.zeros_like(parts[0][0])
        for t, _ in parts:
            total += t
        if not summary:
            return total, None
        summ = parts[0][1]
        hardness = min(s[0] for _, s in parts)
        counts = np.zeros_like(summ[3])
        conf = flips = 0
        for _, s in parts:
            conf += s[1]
            flips += s[2]
            counts += s[3]
        return total, (hardness, conf, flips, counts)

    def sweep(self, spec, total, T, form):
        outs = self._map(_pw_sweep_task, self.mu, spec, total, float(T), form, self.nt, rows=True)
        acc = np.zeros_like(outs[0])
        for o in outs:  # block order; the largest change and the error flag are maxima
            acc[:-2] += o[:-2]
            acc[-2] = max(acc[-2], o[-2])
            acc[-1] = max(acc[-1], o[-1])
        return acc

    def lazy(self, fn, spec, n_out=None, dtype=None):
        """A dask array of ``fn(block, row0, mu, spec, nt)`` over the blocks (left on the workers)."""
        _, da = _require_dask()
        delayed = self._dask.delayed
        parts = []
        for b, r, c in zip(self.blocks, self.row0, self.chunks):
            shape = (c,) if n_out is None else (c, n_out)
            parts.append(da.from_delayed(delayed(fn)(b, r, self.mu, spec, self.nt), shape=shape, dtype=dtype))
        return da.concatenate(parts)


def fit_pairwise(est, X, nt, y=None):
    """``PairwiseAnnealing.fit`` on a dask array: the schedule of ``_pairwise._anneal`` on the client,
    every sweep one round of tasks over the row blocks (see the comment above ``PairwiseRows``).

    The annealing, its stopping rules and the zero-temperature sweeps are those of the in-memory
    fit; the sequential local search and the split-merge refinement need all rows in one process
    and are not run (``local_search`` and ``refine`` are ignored): the result equals the in-memory
    fit with ``local_search=False, refine=False`` to about 1e-12 relative (sums in another order).
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.utils import check_random_state

    from ._callbacks import FitMonitor, n_geometric_steps
    from ._pairwise import _FORMS
    from ._rownoise import draw_key
    from ._validation import check_n_clusters
    from .reference.pairwise import squarem_stats  # the compiled fixed point's extrapolation, in numpy

    if est.metric not in ("sqeuclidean", "cosine") or est.algorithm == "dense":
        raise ValueError(
            f"PairwiseAnnealing on a dask array needs the feature-space path: metric='sqeuclidean' or "
            f"'cosine' with algorithm='auto' or 'features', got metric={est.metric!r}, "
            f"algorithm={est.algorithm!r}"
        )
    if getattr(est, "n_neighbors", None) is not None:
        raise ValueError(
            f"PairwiseAnnealing on a dask array runs the feature-space path on all pairs; "
            f"n_neighbors={est.n_neighbors!r} (a kNN graph) needs the data in memory"
        )
    if est.potential != "gradient":
        raise ValueError(
            f"PairwiseAnnealing on a dask array needs potential='gradient', got "
            f"potential={est.potential!r} (detan's leave-one-out potentials depend on each row's own "
            f"assignments, which the dask fit does not store)"
        )
    rows = PairwiseRows(est, X, nt)
    n, d = rows.n, rows.d
    k = check_n_clusters(est.n_clusters, n)
    if n < 2:
        raise ValueError(f"X: expected at least 2 samples, got {n}")
    mon = FitMonitor(
        est,
        X,
        y,
        callback=est.callback,
        verbose=est.verbose,
        max_steps=n_geometric_steps(est.T0, est.T_min, est.cooling, 1e-4),
    )
    mon.phase("critical temperature", f"n={n}, features on dask ({len(rows.blocks)} blocks)")
    form = _FORMS[est.potential]
    est.algorithm_ = "features"
    est.critical_temperature_ = Tc = rows.critical_temperature()
    T0 = (1.5 * Tc if Tc > 0 else 1.0) if est.T0 == "auto" else float(est.T0)
    T_min = 1e-4 * T0 if est.T_min == "auto" else float(est.T_min)
    est.T0_ = T0
    rng = check_random_state(est.random_state)
    key = draw_key(rng)
    pert, max_iter, tol = float(est.perturbation), int(est.max_iter), float(est.tol)
    patience, settle_tol, populated = int(est.patience), 1e-3, not est.refine

    mon.phase("annealing", f"T0={T0:.4g} down to at most T_min={T_min:.4g}")

    state = {"not_converged": 0, "prev_cost": None, "stable": 0, "decided": 0}

    def decide(rec, summ):
        """The in-memory loop's checks after a temperature (``_pairwise._anneal``); True to stop."""
        hardness, conf, flips, counts = summ
        rec["hardness"] = hardness
        state["not_converged"] += not rec["converged"]
        first = state["decided"] == 0
        state["decided"] += 1
        progress = np.log(T0 / rec["T"]) / np.log(T0 / T_min) if T_min < T0 else None
        if mon.step(
            rec,
            progress=progress,
            line=f"T={rec['T']:.4g} cost={rec['cost']:.6g} "
            f"F={rec['free_energy']:.6g} sweeps={rec['n_iter']} hardness={rec['hardness']:.4f}",
        ):
            return True
        if hardness >= 1.0 - est.hard_tol:
            return True
        if patience:
            prev_cost = state["prev_cost"]
            settled = (
                not first
                and 2 * conf >= n
                and flips <= n // 1000
                and abs(rec["cost"] - prev_cost) <= settle_tol * abs(rec["cost"])
                and (not populated or counts.min() > 0)
            )
            state["stable"] = state["stable"] + 1 if settled else 0
            state["prev_cost"] = rec["cost"]
            if state["stable"] >= patience:
                rec["early_stop"] = True
                return True
        return False

    accel = bool(getattr(est, "accelerate", False)) and form == _FORMS["gradient"]

    def fixed_point(spec, total, T, iters, tol_):
        """Up to ``iters`` sweeps from the assignments ``spec`` with statistics ``total`` (with
        ``accelerate``, every third sweep from the SQUAREM extrapolation of the two before it, as
        the compiled fixed point does)."""
        cost = ent = mdel = 0.0
        it, converged, bad = 0, False, False
        phase, s0, s1 = 0, None, None
        for it in range(1, iters + 1):  # noqa: B007 (the count is read after the loop)
            if phase == 0:
                s0 = total
            cost = float(_features_cost(total, k, d))
            out = rows.sweep(spec, total, T, form)
            spec = ("soft", total, float(T), form, k)
            total = out[:-4]
            ent, mdel, bad = float(out[-4]), float(out[-2]), bad or out[-1] > 0
            if mdel < tol_:
                converged = True
                break
            if accel and T > 0:
                if phase == 0:
                    s1, phase = total, 1
                elif phase == 1:
                    ext = squarem_stats(s0, s1, total, d, k)
                    total = total if ext is None else ext
                    phase = 2
                else:
                    phase = 0
        return (
            spec,
            total,
            {
                "T": float(T),
                "cost": cost,
                "free_energy": cost - float(T) * ent,
                "entropy": ent,
                "n_iter": it,
                "converged": converged,
                "max_change": mdel,
            },
            bad,
        )

    spec = ("init", key, k, pert)
    history, n_sweeps, numerical_error = [], 0, False
    prev_spec, pending, n_perturbed, T = None, None, 0, T0
    stopped = False
    while k > 1 and T >= T_min:
        total, summ = rows.stats(spec, summary=pending is not None, prev=prev_spec if patience else None)
        if pending is not None and decide(pending, summ):
            stopped = True
            break
        new, _, rec, bad = fixed_point(spec, total, T, max_iter, tol)
        numerical_error |= bad
        n_sweeps += rec["n_iter"]
        history.append(rec)
        if pert > 0:
            new = ("perturbed", new, key, n_perturbed, pert)
            n_perturbed += 1
        prev_spec, spec, pending = spec, new, rec
        T *= est.cooling
    if pending is not None and not stopped:
        _, summ = rows.stats(spec, summary=True, prev=prev_spec if patience else None)
        decide(pending, summ)
    annealed = spec
    mon.phase("zero-temperature sweeps")
    # zero temperature: hard sweeps from the annealed argmax; the cheaper of the two partitions
    soft = ("onehot", annealed)
    total_soft, _ = rows.stats(soft)
    swept, total_swept, rec0, bad = fixed_point(soft, total_soft, 0.0, max(max_iter, 100), 0.5)
    n_sweeps += rec0["n_iter"]
    numerical_error |= bad
    if numerical_error:
        raise FloatingPointError(
            "non-finite potentials met during annealing: the dissimilarities are too large to represent; rescale them"
        )
    best = (_features_cost(total_swept, k, d), swept, total_swept)
    c_soft = _features_cost(total_soft, k, d)
    if c_soft < best[0]:
        best = (c_soft, soft, total_soft)
    cost, chosen, total = best
    m = total[: d * k].reshape(d, k).T
    S = total[d * k + k :].copy()
    est.cost_ = cost
    est.cluster_centers_ = np.where(S[:, None] > 0, m / np.maximum(S, 1)[:, None], 0.0) + rows.mu
    est.cluster_sizes_ = S
    est.labels_ = rows.lazy(_pw_labels_block, chosen, dtype=np.intp)
    est.assignments_ = rows.lazy(_pw_materialise, annealed, n_out=k, dtype=rows.dtype)
    est.n_refinements_ = 0
    est.n_anneal_rows_ = int(n)  # every row anneals (no sample: anneal_rows applies in memory)
    est.history_ = history
    est.n_iter_ = n_sweeps
    est.converged_ = state["not_converged"] == 0
    if history and not history[-1]["converged"] and not history[-1].get("early_stop"):
        warnings.warn(
            f"the fixed point at the last temperature T={float(history[-1]['T'])!r} did not converge "
            f"within max_iter={max_iter} sweeps",
            ConvergenceWarning,
            stacklevel=3,
        )
    mon.finish()
    return est
