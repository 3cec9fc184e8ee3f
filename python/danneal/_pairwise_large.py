"""Pairwise problems without a stored ``n x n`` matrix (issue 11 §2, §3).

- :class:`_SparseProblem`: a symmetric sparse matrix of dissimilarities, only the stored pairs known
  (``csrc/danneal/pairwise_sparse.hpp``; one sweep is O(nnz k)).
- :class:`_TilesProblem`: ``D_ij = dist(x_i, x_j)`` for cityblock, euclidean, chebyshev or minkowski,
  formed in tiles from ``X`` inside every product (``csrc/danneal/pairwise_tiles.hpp``; O(n (d + k))
  memory, O(n^2 d) work per sweep).

Both plug into the annealing, local search and split-merge of :mod:`danneal.pairwise` through the
same methods as ``_DenseProblem``.  Their fixed point runs here (:func:`_py_fixed_point`): one kernel
call per sweep for the products, then O(n k) numpy for the potentials and the softmax (the same
arithmetic as the compiled fixed points, deterministic for any thread count).
"""

from __future__ import annotations

import numpy as np

from . import _core

TINY_MASS = 1e-150
SPARSE_MEAN, SPARSE_FILL = 0, 1
TILE_METRICS = {"cityblock": 0, "manhattan": 0, "l1": 0, "euclidean": 1, "l2": 1, "chebyshev": 2, "minkowski": 3}


def _onehot(labels, k, dtype):
    Q = np.zeros((labels.shape[0], k), dtype=dtype)
    Q[np.arange(labels.shape[0]), labels] = 1
    return Q


def _py_fixed_point(potentials, Q0, T, max_iter, tol):
    """Synchronous sweeps ``Q <- softmax(-h(Q)/T)`` (``T = 0``: one-hot at the lowest potential, lowest
    index on ties) from ``Q0``, as ``pairwise_fixed_point``: returns ``(Q, stats, status)`` with
    ``stats = [cost of the last input Q, entropy, sum of logZ, max change]``.  ``potentials(Q)``
    returns ``(h, cost)`` (``h`` float64, +inf for empty clusters).  Rows with another non-finite
    potential keep their assignments and set ``numerical_error``."""
    Q = np.array(Q0, copy=True)
    dtype = Q.dtype
    k = Q.shape[1]
    stats = np.zeros(4)
    status = {"converged": False, "numerical_error": False, "iterations": 0, "error": 0.0}
    for it in range(max_iter):
        h, cost = potentials(Q)
        stats[0] = cost
        with np.errstate(invalid="ignore"):
            hmin = h.min(axis=1)
        good = np.isfinite(hmin) & ~np.isnan(h).any(axis=1) & ~(h == -np.inf).any(axis=1)
        status["numerical_error"] |= not bool(good.all())
        Qg = Q[good].astype(np.float64)
        hg, hm = h[good], hmin[good][:, None]
        if T == 0:
            Qn = _onehot(np.argmin(hg, axis=1), k, np.float64)
            ent = lzs = 0.0
        else:
            x = -(hg - hm) / T
            E = np.exp(x)
            s = E.sum(axis=1)
            ls = np.log(s)
            lp = x - ls[:, None]
            Qn = (E / s[:, None]).astype(dtype).astype(np.float64)
            ent = float(-(np.where((Qn > 0) & (lp < 0), Qn * lp, 0.0)).sum())
            lzs = float((-hm[:, 0] / T + ls).sum())
        md = float(np.abs(Qn - Qg).max()) if Qg.size else 0.0
        Q[good] = Qn.astype(dtype)
        stats[1], stats[2], stats[3] = ent, lzs, md
        status["iterations"] = it + 1
        status["error"] = md
        if md < tol:
            status["converged"] = True
            break
    return Q, stats, status


def _gradient_form(form, DQ, Q, c, S):
    """Potentials of the dense cost from ``D Q``, ``c`` and ``S`` (form 0: detan, 1: gradient)."""
    empty = ~(S >= TINY_MASS)
    Sg = np.where(empty, 1.0, S)
    if form == 0:
        Sm1 = np.maximum(Sg[None, :] - Q.astype(np.float64), TINY_MASS)
        h = (DQ - c[None, :] / (2.0 * Sm1)) / (Sm1 + 1.0)
    else:
        h = DQ / Sg[None, :] - c[None, :] / (2.0 * Sg[None, :] ** 2)
    h[:, empty] = np.inf
    return h


def _dense_cost(c, S):
    nz = S > TINY_MASS
    return float((c[nz] / (2.0 * S[nz])).sum())


def _critical_from_operator(apply, n, scale_max):
    """``(2/n) lambda_max(-1/2 P D P)`` with ``apply(V) = D V`` (V centred, n x b)."""
    from scipy.sparse.linalg import ArpackError, ArpackNoConvergence, LinearOperator, eigsh

    if n < 2 or scale_max <= 0:
        return 0.0

    def mv(v):
        v = np.asarray(v, dtype=np.float64).reshape(-1)
        v = v - v.mean()
        w = -0.5 * apply(v[:, None])[:, 0]
        return w - w.mean()

    if n <= 64:
        M = np.column_stack([mv(e) for e in np.eye(n)])
        return max(0.0, 2.0 * float(np.linalg.eigvalsh(0.5 * (M + M.T))[-1]) / n)
    op = LinearOperator((n, n), matvec=mv, dtype=np.float64)
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
    except ArpackError:  # pragma: no cover - degenerate operator
        lam = 0.0
    return max(0.0, 2.0 * float(lam) / n)


def _block_top_eigvecs(apply, n, m, n_iter=30):
    """Top ``m`` eigenvectors of ``-1/2 P D P`` by block power iteration (``apply(V) = D V``)."""
    m = min(m, n - 1)
    if m < 1:
        return np.zeros((n, 0))
    b = min(n - 1, m + 2)
    V = np.random.default_rng(0).standard_normal((n, b))

    def op(V):
        V = V - V.mean(axis=0, keepdims=True)
        W = -0.5 * apply(V)
        return W - W.mean(axis=0, keepdims=True)

    for _ in range(n_iter):
        V, _ = np.linalg.qr(op(V))
    H = V.T @ op(V)
    w, U = np.linalg.eigh(0.5 * (H + H.T))
    return (V @ U)[:, ::-1][:, :m]


# ---- sparse dissimilarities --------------------------------------------------------------------


def symmetrize_sparse(D, name="X"):
    """Canonical symmetric CSR (int64 indices, sorted, no diagonal, no duplicates) from a square
    scipy.sparse matrix: the known pairs are the union of the stored ``(i, j)`` and ``(j, i)``; a
    pair stored both ways gets the mean of its values, one stored once keeps it.  Explicit zeros
    are known pairs of dissimilarity 0; the diagonal is dropped (always known, 0)."""
    import scipy.sparse as sp

    C = sp.coo_matrix(D)
    n = C.shape[0]
    r = np.concatenate([C.row, C.col]).astype(np.int64)
    c = np.concatenate([C.col, C.row]).astype(np.int64)
    v = np.concatenate([C.data, C.data]).astype(np.float64)
    off = r != c
    r, c, v = r[off], c[off], v[off]
    key = r * n + c
    order = np.argsort(key, kind="stable")
    key, v = key[order], v[order]
    uniq, start, counts = np.unique(key, return_index=True, return_counts=True)
    vals = np.add.reduceat(v, start) / counts if uniq.size else np.zeros(0)
    rows, cols = uniq // n, uniq % n
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return indptr, np.ascontiguousarray(cols, dtype=np.int64), vals


def check_sparse_dissimilarity(X, name="X"):
    """Validate a scipy.sparse dissimilarity matrix; returns ``(indptr, indices, data)`` canonical and
    symmetric (see :func:`symmetrize_sparse`), data in the input's float dtype (integers: float64)."""
    import scipy.sparse as sp

    if not sp.issparse(X):
        raise TypeError(f"{name}: expected a scipy.sparse matrix, got {type(X).__name__}")
    if X.ndim != 2 or X.shape[0] != X.shape[1]:
        raise ValueError(f"{name}: a sparse dissimilarity matrix must be square, got shape {X.shape}")
    if X.shape[0] < 2:
        raise ValueError(f"{name}: expected at least 2 objects, got shape {X.shape}")
    if X.dtype.kind == "c" or X.dtype.kind not in "fiub":
        raise TypeError(f"{name}: unsupported dtype {X.dtype} (use float32 or float64)")
    dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    data = np.asarray(sp.coo_matrix(X).data, dtype=np.float64)
    if not np.isfinite(data).all():
        raise ValueError(f"{name}: the stored dissimilarities contain NaN or inf")
    if (data < 0).any():
        raise ValueError(f"{name}: dissimilarities must be >= 0, got a stored value {float(data.min())!r}")
    indptr, indices, vals = symmetrize_sparse(X, name)
    return indptr, indices, np.ascontiguousarray(vals, dtype=dtype)


def knn_graph(X, n_neighbors, metric="euclidean", *, method="exact", n_threads=1, random_state=0, metric_params=None):
    """Sparse dissimilarities of the ``n_neighbors`` nearest neighbours of every row of ``X``.

    ``method="exact"``: :class:`sklearn.neighbors.NearestNeighbors`; ``"approximate"``: the
    ``pynndescent`` index (optional extra ``danneal[knn]``).  The graph is symmetrised by union: the
    pair ``(i, j)`` is known when ``j`` is among the neighbours of ``i`` or ``i`` among those of
    ``j`` (its value is the metric's, the same either way; see :func:`symmetrize_sparse`).
    Returns a ``scipy.sparse.csr_matrix`` (before symmetrisation) in ``X``'s float dtype."""
    import scipy.sparse as sp

    n = X.shape[0]
    kq = min(int(n_neighbors), n - 1)
    if method == "exact":
        from sklearn.neighbors import NearestNeighbors

        nn = NearestNeighbors(n_neighbors=kq, metric=metric, metric_params=metric_params, n_jobs=int(n_threads)).fit(X)
        dist, ind = nn.kneighbors(return_distance=True)
    elif method == "approximate":
        try:
            from pynndescent import NNDescent
        except ImportError:  # pragma: no cover - optional extra
            raise ImportError("neighbors='approximate' needs pynndescent: pip install 'danneal[knn]'") from None
        index = NNDescent(
            X,
            n_neighbors=kq + 1,
            metric=metric,
            metric_kwds=metric_params,
            random_state=random_state,
            n_jobs=int(n_threads),
        )
        ind, dist = index.neighbor_graph
        # drop each row's own index (the nearest); rows where it was not found lose their last
        keep = np.ones_like(ind, dtype=bool)
        self_hit = ind == np.arange(n)[:, None]
        keep[self_hit] = False
        keep[~self_hit.any(axis=1), -1] = False
        ind = ind[keep].reshape(n, kq)
        dist = dist[keep].reshape(n, kq)
    else:
        raise ValueError(f"neighbors={method!r} must be 'exact' or 'approximate'")
    dist = np.maximum(np.asarray(dist, dtype=np.float64), 0.0)
    indptr = np.arange(0, n * kq + 1, kq, dtype=np.int64)
    return sp.csr_matrix((dist.ravel().astype(X.dtype), ind.ravel().astype(np.int64), indptr), shape=(n, n))


class _SparseProblem:
    """Only the stored pairs of a symmetric sparse matrix known (``mode``: 0 normalised by the
    known-pair mass, 1 unknown pairs count as ``fill``); see docs/pairwise.md."""

    features = False

    def __init__(self, indptr, indices, data, nt, mode, fill):
        self.indptr, self.indices, self.data = indptr, indices, data
        self.n = indptr.shape[0] - 1
        self.dtype = data.dtype
        self.nt = nt
        self.mode = int(mode)
        self.fill = float(fill)

    def stats(self, Q):
        WQ, AQ, st = _core.pairwise_sparse_dq(self.indptr, self.indices, self.data, Q, self.nt)
        return WQ, AQ, st[0], st[1], st[2]

    def cluster_costs(self, P, M, S):
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.mode == SPARSE_MEAN:
                out = np.where(M > 0, S * P / (2.0 * M), 0.0)
            else:
                out = (P + self.fill * (S * S - M)) / (2.0 * S)
        return np.where(S > TINY_MASS, out, 0.0)

    def potentials_from(self, WQ, AQ, P, M, S):
        """Exact gradient of the cost (docs/pairwise.md); +inf for empty clusters."""
        empty = ~(S >= TINY_MASS)
        Sg = np.where(empty, 1.0, S)
        if self.mode == SPARSE_MEAN:
            Mg = np.where(M > 0, M, 1.0)
            h = P / (2.0 * Mg) + (Sg / Mg) * WQ - (Sg * P / Mg**2) * AQ
        else:
            DQ = WQ + self.fill * (Sg - AQ)
            c = P + self.fill * (Sg * Sg - M)
            h = DQ / Sg - c / (2.0 * Sg**2)
        h[:, empty] = np.inf
        return h

    def potentials(self, Q):
        WQ, AQ, P, M, S = self.stats(Q)
        return self.potentials_from(WQ, AQ, P, M, S), float(self.cluster_costs(P, M, S).sum())

    def fixed_point(self, Q, T, form, max_iter, tol):
        return _py_fixed_point(self.potentials, Q, T, max_iter, tol)

    def local_search(self, labels, k, max_passes):
        return _core.pairwise_sparse_local_search(
            self.indptr, self.indices, self.data, labels, k, self.mode, self.fill, max_passes, self.nt
        )

    def hard_potentials(self, labels, k):
        WQ, AQ, P, M, S = self.stats(_onehot(labels, k, self.dtype))
        return self.potentials_from(WQ, AQ, P, M, S), self.cluster_costs(P, M, S), S

    def _apply(self, V):
        """``D~ V`` for centred ``V``: ``W V - fill A V`` (the constant of the unknown pairs drops)."""
        import scipy.sparse as sp

        W = sp.csr_matrix((self.data.astype(np.float64), self.indices, self.indptr), shape=(self.n, self.n))
        A = sp.csr_matrix((np.ones(self.indices.size), self.indices, self.indptr), shape=(self.n, self.n))
        f = self._eig_fill()
        return W @ V - f * (A @ V + V)

    def _eig_fill(self):
        if self.mode == SPARSE_FILL:
            return self.fill
        return float(self.data.mean()) if self.data.size else 0.0

    def critical_temperature(self):
        return _critical_from_operator(self._apply, self.n, self.scale())

    def top_eigvecs(self, m):
        return _block_top_eigvecs(self._apply, self.n, m)

    def subset(self, idx):
        import scipy.sparse as sp

        W = sp.csr_matrix((self.data, self.indices, self.indptr), shape=(self.n, self.n))[idx][:, idx]
        W.sort_indices()
        return _SparseProblem(
            np.ascontiguousarray(W.indptr, dtype=np.int64),
            np.ascontiguousarray(W.indices, dtype=np.int64),
            np.ascontiguousarray(W.data, dtype=self.dtype),
            self.nt,
            self.mode,
            self.fill,
        )

    def work(self, size):
        return size / self.n

    def scale(self):
        return float(max(self.data.max(), self.fill)) if self.data.size else max(self.fill, 0.0)

    def cluster_stats(self, labels, k):
        WQ, AQ, P, M, S = self.stats(_onehot(labels, k, self.dtype))
        return (P, M), S

    def new_potentials(self, Wn, labels, k, stats, S):
        """Potentials of new objects with known dissimilarities ``Wn`` (csr, n_new x n) to the objects."""
        import scipy.sparse as sp

        Qh = _onehot(labels, k, np.float64)
        Wn = sp.csr_matrix(Wn, dtype=np.float64)
        A = Wn.copy()
        A.data = np.ones_like(A.data)
        WQ, AQ = np.asarray(Wn @ Qh), np.asarray(A @ Qh)
        P, M = stats
        return self.potentials_from(WQ, AQ, P, M, S)


# ---- dissimilarities formed in tiles from X ----------------------------------------------------


class _TilesProblem:
    """``D_ij = dist(x_i, x_j)`` never stored: every product forms it in tiles from ``X``."""

    features = False
    _DENSE_SUBSET_BYTES = 64 * 2**20  # split-merge sub-problems whose D fits this are formed densely

    def __init__(self, X, metric, p, nt):
        self.X = np.ascontiguousarray(X)
        self.n = X.shape[0]
        self.dtype = X.dtype
        self.metric, self.p = int(metric), float(p)
        self.nt = nt

    def dq(self, Q):
        return _core.pairwise_tiles_dq(self.X, self.metric, self.p, np.ascontiguousarray(Q, dtype=self.dtype), self.nt)

    # Incremental D.Q (issue 11 §4): once most assignments stop moving (at low temperature rows are
    # exactly one-hot and the symmetry-breaking noise leaves them unchanged), D.Q is updated from the
    # rows that changed, D[:, changed] (Q - Q_prev)[changed], at O(n |changed| d) instead of O(n^2 d).
    # A full product every _REFRESH incremental sweeps bounds the rounding drift.
    _REFRESH = 16
    _MAX_CHANGED = 0.25

    def cached_dq(self, Q):
        """``D Q`` from the last product and the rows of ``Q`` that changed since (or afresh)."""
        cache = getattr(self, "_cache", None)
        if cache is not None and cache[0].shape == Q.shape:
            Qp, DQ, age = cache
            changed = np.flatnonzero((Q != Qp).any(axis=1))
            if changed.size <= self._MAX_CHANGED * self.n and age < self._REFRESH:
                if changed.size:
                    W = np.ascontiguousarray(Q[changed], dtype=np.float64) - Qp[changed].astype(np.float64)
                    DQ = DQ + _core.pairwise_tiles_dq_cols(
                        self.X, self.metric, self.p, changed.astype(np.int64), W, self.nt
                    )
                self._cache = (Q.copy(), DQ, age + 1)
                self.n_incremental = getattr(self, "n_incremental", 0) + 1
                return DQ
        DQ = self.dq(Q)[0]
        self._cache = (Q.copy(), DQ, 0)
        return DQ

    def potentials_form(self, form):
        def pot(Q):
            DQ = self.cached_dq(Q)
            Qd = Q.astype(np.float64)
            c, S = (Qd * DQ).sum(axis=0), Qd.sum(axis=0)
            return _gradient_form(form, DQ, Q, c, S), _dense_cost(c, S)

        return pot

    def fixed_point(self, Q, T, form, max_iter, tol):
        return _py_fixed_point(self.potentials_form(form), Q, T, max_iter, tol)

    def local_search(self, labels, k, max_passes):
        return _core.pairwise_tiles_local_search(self.X, self.metric, self.p, labels, k, max_passes, self.nt)

    def hard_potentials(self, labels, k):
        Q = _onehot(labels, k, self.dtype)
        DQ, c, S = self.dq(Q)
        cl_cost = np.where(S > 0, c / (2.0 * np.maximum(S, 1)), 0.0)
        return _gradient_form(1, DQ, Q, c, S), cl_cost, S

    def matrix(self, X=None, dtype=None):
        X = self.X if X is None else X
        out = np.empty((X.shape[0], X.shape[0]), dtype=dtype or self.dtype)
        _core.pairwise_tiles_matrix(X, self.metric, self.p, out, self.nt)
        return out

    def _sample(self, m=1000):
        if self.n <= m:
            return self.X
        idx = np.sort(np.random.default_rng(0).choice(self.n, m, replace=False))
        return np.ascontiguousarray(self.X[idx])

    def critical_temperature(self):
        """Exact for ``n <= 1000``; else on a fixed random sample of 1000 objects (``T_c`` is an
        intensive quantity: ``(2/n) lambda_max`` of the sample estimates the whole's)."""
        from ._pairwise import critical_temperature

        return critical_temperature(self.matrix(self._sample()), n_threads=self.nt)

    def top_eigvecs(self, m):
        return _block_top_eigvecs(lambda V: self.dq(V)[0], self.n, m)

    def subset(self, idx):
        Xs = np.ascontiguousarray(self.X[idx])
        if 8.0 * len(idx) ** 2 <= self._DENSE_SUBSET_BYTES:
            from ._pairwise import _DenseProblem

            return _DenseProblem(self.matrix(Xs), self.nt)
        return _TilesProblem(Xs, self.metric, self.p, self.nt)

    def work(self, size):
        return (size / self.n) ** 2

    def scale(self):
        return float(self.matrix(self._sample(200)).max())

    def cluster_stats(self, labels, k):
        # from the cached product when the fit's last sweeps saw this partition (no O(n^2 d) pass)
        Q = _onehot(labels, k, self.dtype)
        DQ = self.cached_dq(Q)
        Qd = Q.astype(np.float64)
        return (Qd * DQ).sum(axis=0), Qd.sum(axis=0)

    def extend_labels(self, idx, labels, k):
        """Labels of all objects from a partition ``labels`` of the objects ``idx``: each object to
        the cluster of lowest gradient potential under that partition, ``D[:, idx] Q_s / S_v -
        c_v / (2 S_v^2)`` (O(n |idx| d); lowest index on ties)."""
        Qs = _onehot(labels, k, np.float64)
        DQ = _core.pairwise_tiles_dq_cols(
            self.X, self.metric, self.p, np.ascontiguousarray(idx, dtype=np.int64), Qs, self.nt
        )
        c, S = (Qs * DQ[idx]).sum(axis=0), Qs.sum(axis=0)
        return np.ascontiguousarray(np.argmin(_gradient_form(1, DQ, None, c, S), axis=1), dtype=np.int64)
