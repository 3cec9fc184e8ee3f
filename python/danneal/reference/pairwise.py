"""Reference twins of the pairwise-clustering kernels (csrc/danneal/pairwise.hpp)."""

import numpy as np

__all__ = [
    "softmax_rows",
    "pairwise_dq",
    "pairwise_potential",
    "pairwise_fixed_point",
    "pairwise_local_search",
    "stream_sum",
    "pairwise_features_dq",
    "pairwise_features_potential",
    "pairwise_features_fixed_point",
    "pairwise_features_local_search",
    "pairwise_features_block_stats",
    "pairwise_features_block_sweep",
    "pairwise_sparse_dq",
    "pairwise_sparse_local_search",
    "sparse_cost",
    "pairwise_tiles_dq",
    "pairwise_tiles_dq_cols",
    "pairwise_tiles_matrix",
    "pairwise_tiles_local_search",
]

TINY_MASS = 1e-150
DETAN, GRADIENT = 0, 1


def _weights(sample_weight, n):
    """Sample weights as float64 (all ones for None).  An object of weight w counts as w copies of
    itself: every sum over objects of q_jv becomes one of w_j q_jv (csrc/danneal/pairwise.hpp)."""
    return np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)


def softmax_rows(potentials, temperature, n_threads=1):
    """``P = softmax(-potentials / T)`` per row, and the row log-partition ``logZ``."""
    h = np.asarray(potentials, dtype=np.float64)
    hmin = h.min(axis=1, keepdims=True)
    with np.errstate(over="ignore"):  # a tiny T: the losing entries go to -inf, then exp() to 0
        d = h - hmin
        x = np.where(np.isinf(d), -(h / temperature - hmin / temperature), -d / temperature)  # <= 0, 0 at the min
    E = np.exp(x)
    s = E.sum(axis=1)
    P = E / s[:, None]  # normalised at any T (exp(x - (max + log s)) loses log s for a large max)
    with np.errstate(over="ignore"):
        logZ = -hmin[:, 0] / temperature + np.log(s)
    dt = np.asarray(potentials).dtype
    return P.astype(dt), logZ.astype(dt), {"converged": True, "numerical_error": False, "iterations": 0, "error": 0.0}


def pairwise_dq(distances, assignments, n_threads=1, sample_weight=None):
    """``(D @ wQ, c, S)`` with ``wQ`` the rows ``w_i q_i`` (in Q's dtype), ``c = diag(wQ.T D wQ)``
    and ``S = wQ.sum(0)``, both in float64."""
    D, Q = distances, assignments
    w = _weights(sample_weight, Q.shape[0])[:, None]
    Qw = Q if sample_weight is None else (w * Q.astype(np.float64)).astype(Q.dtype)
    DQ = D @ Qw
    c = (w * Q.astype(np.float64) * DQ.astype(np.float64)).sum(axis=0)
    S = (w * Q.astype(np.float64)).sum(axis=0)
    return DQ, c, S


def _potential(form, DQ, Q, c, S):
    DQ = DQ.astype(np.float64)
    Q = Q.astype(np.float64)
    empty = ~(S >= TINY_MASS)  # empty clusters attract nobody: potential +inf
    Sg = np.where(empty, 1.0, S)
    if form == DETAN:
        Sm1 = np.maximum(Sg[None, :] - Q, TINY_MASS)
        h = (DQ - c[None, :] / (2.0 * Sm1)) / (Sm1 + 1.0)
    else:
        h = DQ / Sg[None, :] - c[None, :] / (2.0 * Sg[None, :] ** 2)
    return np.where(empty[None, :], np.inf, h)


def pairwise_potential(distances, assignments, form, n_threads=1, sample_weight=None):
    """Mean-field potentials h (form 0: detan's leave-one-out form, 1: gradient of H)."""
    DQ, c, S = pairwise_dq(distances, assignments, sample_weight=sample_weight)
    return _potential(form, DQ, assignments, c, S).astype(assignments.dtype)


def pairwise_fixed_point(distances, assignments, temperature, form, max_iter, tol, n_threads=1, sample_weight=None):
    """Synchronous sweeps ``Q <- softmax(-h(Q)/T)``; returns ``(Q, stats, status)`` like the kernel
    (entropy and log-partition sums weighted by ``sample_weight``)."""
    Q = np.array(assignments, copy=True)
    k = Q.shape[1]
    w = _weights(sample_weight, Q.shape[0])
    stats = np.zeros(4)
    status = {"converged": False, "numerical_error": False, "iterations": 0, "error": 0.0}
    for it in range(max_iter):
        DQ, c, S = pairwise_dq(distances, Q, sample_weight=sample_weight)
        nz = S > TINY_MASS
        stats[0] = (c[nz] / (2.0 * S[nz])).sum()
        h = _potential(form, DQ, Q, c, S)
        if temperature == 0:
            Qn = np.eye(k, dtype=Q.dtype)[np.argmin(h, axis=1)]
            ent = lzs = 0.0
        else:
            hmin = h.min(axis=1, keepdims=True)
            with np.errstate(over="ignore", invalid="ignore"):
                x = -(h - hmin) / temperature  # as softmax_rows: <= 0, 0 at the row minimum
            E = np.exp(x)
            s = E.sum(axis=1)
            lp = x - np.log(s)[:, None]
            Qn = (E / s[:, None]).astype(Q.dtype)
            p = Qn.astype(np.float64)
            with np.errstate(invalid="ignore"):
                ent = -(w[:, None] * np.where((p > 0) & (lp < 0), p * lp, 0.0)).sum()
            lzs = (w * (-hmin[:, 0] / temperature + np.log(s))).sum()
        md = float(np.abs(Qn.astype(np.float64) - Q.astype(np.float64)).max())
        Q = Qn
        stats[1:] = ent, lzs, md
        status["iterations"] = it + 1
        status["error"] = md
        if md < tol:
            status["converged"] = True
            break
    return Q, stats, status


def pairwise_local_search(distances, labels, n_clusters, max_passes, n_threads=1, sample_weight=None):
    """Sequential exact single-object moves (Hartigan-style) on a hard partition.

    For each object in turn, the exact change of H for moving it (weight ``w_i``, 1 without
    weights) from its cluster a to b is ``add_b - rem_a`` with
    ``rem_a = w_i (DQ_ia/(S_a-w_i) - c_a/(2 S_a (S_a-w_i)))`` and
    ``add_b = w_i (DQ_ib - c_b/(2 S_b))/(S_b+w_i)`` (0 for an empty b), ``S`` the weighted masses and
    ``DQ = D (w Q)``; it moves to the most negative.  A cluster is never emptied of members.
    """
    D = np.asarray(distances, dtype=np.float64)
    labels = np.array(labels, dtype=np.int64, copy=True)
    n, k = D.shape[0], n_clusters
    w = _weights(sample_weight, n)
    status = {"converged": False, "numerical_error": False, "iterations": 0, "error": 0.0}

    def stats():
        Q = np.zeros((n, k))
        Q[np.arange(n), labels] = w
        DQ = D @ Q
        return DQ, (Q * DQ).sum(0), Q.sum(0), np.bincount(labels, minlength=k)

    DQ, c, S, members = stats()
    for p in range(max_passes):
        moved = 0
        for i in range(n):
            a = labels[i]
            if members[a] < 2:
                continue
            wi, Sr = w[i], S[a] - w[i]
            rem = wi * (DQ[i, a] / Sr - c[a] / (2 * S[a] * Sr)) if Sr > 0 else 0.0
            best, best_delta = a, 0.0
            for b in range(k):
                if b == a:
                    continue
                add = wi * (DQ[i, b] - c[b] / (2 * S[b])) / (S[b] + wi) if S[b] > 0 else 0.0
                delta = add - rem
                if delta < best_delta - 1e-12 * (abs(add) + abs(rem)):
                    best, best_delta = b, delta
            if best != a:
                b = best
                c[a] -= 2 * wi * DQ[i, a]
                c[b] += 2 * wi * DQ[i, b]
                S[a] -= wi
                S[b] += wi
                members[a] -= 1
                members[b] += 1
                labels[i] = b
                DQ[:, a] -= wi * D[i]
                DQ[:, b] += wi * D[i]
                moved += 1
        status["iterations"] = p + 1
        status["error"] = float(moved)
        if moved == 0:
            status["converged"] = True
            break
        DQ, c, S, members = stats()
    DQ, c, S, members = stats()
    nz = S > 0
    return labels, float((c[nz] / (2 * S[nz])).sum()), status


def stream_sum(x, n_threads=1):
    """Sum of all entries, accumulated in float64."""
    return float(np.sum(x, dtype=np.float64))


# ---- feature-space twins (csrc/danneal/pairwise_features.hpp): D_ij = |x_i - x_j|^2, never formed ----


def _features_model(Xc, Q, w=None):
    """Centroids ``Y`` (k x d), scatter ``W``, ``c = 2 S W`` and ``S`` of the assignments (weighted
    by ``w``)."""
    return _features_model_from_total(_flat_stats(Xc, Q, w), Q.shape[1], Xc.shape[1])


def _sqdist(Xc, Y):
    return ((Xc[:, None, :] - Y[None, :, :]) ** 2).sum(axis=2)


def pairwise_features_dq(X, center, assignments, n_threads=1, sample_weight=None):
    """``(D @ wQ, c, S)`` for ``D_ij = |x_i - x_j|^2`` from ``X``: ``(DQ)_iv = S_v |x_i - y_v|^2 + W_v``
    (the statistics weighted by ``sample_weight``)."""
    Xc = np.asarray(X, dtype=np.float64) - np.asarray(center, dtype=np.float64)
    Y, W, c, S = _features_model(Xc, assignments, _weights(sample_weight, Xc.shape[0]))
    DQ = np.where(S >= TINY_MASS, S * _sqdist(Xc, Y) + W, 0.0)
    return DQ.astype(assignments.dtype), c, S


def _features_potential(form, Xc, Q, Y, W, c, S):
    e = _sqdist(Xc, Y)
    if form == GRADIENT:
        return np.where((S >= TINY_MASS)[None, :], e, np.inf)
    return _potential(DETAN, S * e + W, Q, c, S)


def pairwise_features_potential(X, center, assignments, form, n_threads=1, sample_weight=None):
    """Mean-field potentials for squared Euclidean ``D`` from ``X`` (gradient form: ``|x_i - y_v|^2``)."""
    Xc = np.asarray(X, dtype=np.float64) - np.asarray(center, dtype=np.float64)
    Y, W, c, S = _features_model(Xc, assignments, _weights(sample_weight, Xc.shape[0]))
    return _features_potential(form, Xc, assignments, Y, W, c, S).astype(assignments.dtype)


def _features_step(h, Q, temperature, w=1.0):
    """One sweep's new assignments from the potentials ``h``: ``softmax(-h / T)`` (one-hot argmin
    at ``T = 0``), with the entropy, the sum of log-partitions (both weighted by the rows' ``w``)
    and the largest change."""
    k = Q.shape[1]
    if temperature == 0:
        Qn = np.eye(k, dtype=Q.dtype)[np.argmin(h, axis=1)]
        return Qn, 0.0, 0.0, float(np.abs(Qn.astype(np.float64) - Q.astype(np.float64)).max())
    # shifted before the division (row maximum exactly 0 even where -h / T overflows)
    hmin = h.min(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", over="ignore"):
        dv = h - hmin
        x = np.where(
            np.isinf(h), -np.inf, np.where(np.isinf(dv), -(h / temperature - hmin / temperature), -dv / temperature)
        )
        m = np.clip(-hmin / temperature, -1e300, 1e300)  # log Z's offset, clamped (finite sums)
    e = np.exp(x)
    s = e.sum(axis=1, keepdims=True)
    ls = np.log(s)
    lp = x - ls
    Qn = (e / s).astype(Q.dtype)
    p = Qn.astype(np.float64)
    w = np.broadcast_to(np.asarray(w, dtype=np.float64), (Q.shape[0],))[:, None]
    with np.errstate(invalid="ignore"):
        ent = -(w * np.where((p > 0) & (lp < 0), p * lp, 0.0)).sum()
    return Qn, ent, (w * (m + ls)).sum(), float(np.abs(p - Q.astype(np.float64)).max())


def _flat_stats(Xc, Q, w):
    """Flat statistics ``(S^T, t, S)`` of the assignments ``Q`` (weighted by ``w``)."""
    Q = Q.astype(np.float64) * (1.0 if w is None else w[:, None])
    return np.concatenate([(Q.T @ Xc).T.ravel(), Q.T @ (Xc * Xc).sum(axis=1), Q.sum(axis=0)])


def squarem_stats(s0, s1, s2, d, k):
    """SQUAREM extrapolation of three successive flat statistics (csrc: ``squarem_stats``):
    ``s0 - 2 a r + a^2 v`` with ``r = s1 - s0``, ``v = s2 - 2 s1 + s0``, ``a = -|r|/|v|``, halved
    towards -1 while a mass falls below half its value in ``s2`` or a number is not finite; None
    when no step beyond ``s2`` is taken."""
    with np.errstate(over="ignore", invalid="ignore"):
        r = s1 - s0
        v = s2 - 2.0 * s1 + s0
    scale = max(float(np.abs(r).max()), float(np.abs(v).max()))  # (squares of ~1e160 overflow)
    if not (scale > 0 and np.isfinite(scale)):
        return None
    rr, vv = float(((r / scale) ** 2).sum()), float(((v / scale) ** 2).sum())
    if not (vv > 0 and np.isfinite(rr) and np.isfinite(vv)):
        return None
    a = -np.sqrt(rr / vv)
    for _ in range(6):
        if not a < -1.0:
            return None
        with np.errstate(over="ignore", invalid="ignore"):
            out = s0 - 2.0 * a * r + a * a * v
        if np.isfinite(out).all() and (out[d * k + k :] >= 0.5 * s2[d * k + k :]).all():
            return out
        a = 0.5 * (a - 1.0)
    return None


def pairwise_features_fixed_point(
    X, center, assignments, temperature, form, max_iter, tol, n_threads=1, sample_weight=None, accelerate=False
):
    """``pairwise_fixed_point`` for ``D_ij = |x_i - x_j|^2`` computed from ``X``; ``accelerate``:
    every third sweep starts from the SQUAREM extrapolation (:func:`squarem_stats`) of the
    statistics of the two sweeps before it (gradient potentials at ``T > 0``)."""
    Xc = np.asarray(X, dtype=np.float64) - np.asarray(center, dtype=np.float64)
    w = _weights(sample_weight, Xc.shape[0])
    Q = np.array(assignments, copy=True)
    stats = np.zeros(4)
    status = {"converged": False, "numerical_error": False, "iterations": 0, "error": 0.0}
    accel = accelerate and temperature > 0 and form == 1
    k, d = Q.shape[1], Xc.shape[1]
    total = _flat_stats(Xc, Q, w)  # the statistics the next sweep starts from
    phase, s0, s1 = 0, None, None
    for it in range(max_iter):
        if phase == 0:
            s0 = total
        Y, W, c, S = _features_model_from_total(total, k, d)
        stats[0] = W[S > TINY_MASS].sum()
        h = _features_potential(form, Xc, Q, Y, W, c, S)
        Q, ent, lzs, md = _features_step(h, Q, temperature, w)
        total = _flat_stats(Xc, Q, w)
        stats[1:] = ent, lzs, md
        status["iterations"] = it + 1
        status["error"] = md
        if md < tol:
            status["converged"] = True
            break
        if not accel:
            continue
        if phase == 0:
            s1, phase = total, 1
        elif phase == 1:
            ext = squarem_stats(s0, s1, total, d, k)
            if ext is not None:
                total = ext
            phase = 2
        else:
            phase = 0
    return Q, stats, status


def _features_model_from_total(total, k, d):
    """``_features_model`` from flat statistics ``(S^T (d x k), t, S)``."""
    total = np.asarray(total, dtype=np.float64)
    m = total[: d * k].reshape(d, k).T
    t = total[d * k : d * k + k]
    S = total[d * k + k :]
    ok = S >= TINY_MASS
    Sg = np.where(ok, S, 1.0)
    Y = np.where(ok[:, None], m / Sg[:, None], 0.0)
    W = np.where(ok, np.maximum(0.0, t - (m * m).sum(axis=1) / Sg), 0.0)
    return Y, W, 2.0 * S * W, S


def pairwise_features_block_stats(X, center, assignments, n_threads=1):
    """Flat statistics ``(S^T, t, S)`` (width ``d k + 2 k``) of the assignments of a block of rows:
    ``m = Q^T (X - center)`` stored transposed, ``t = Q^T |x - center|^2``, ``S = Q^T 1``."""
    Xc = np.asarray(X, dtype=np.float64) - np.asarray(center, dtype=np.float64)
    return _flat_stats(Xc, np.asarray(assignments), None)


def pairwise_features_block_sweep(X, center, assignments, total, temperature, form, n_threads=1):
    """One sweep of :func:`pairwise_features_fixed_point` over a block of rows with the whole
    problem's statistics ``total`` given; returns the new assignments and the block's statistics
    of them followed by entropy, sum of logZ, largest change and a non-finite flag."""
    Xc = np.asarray(X, dtype=np.float64) - np.asarray(center, dtype=np.float64)
    Q = np.array(assignments, copy=True)
    k = Q.shape[1]
    Y, W, c, S = _features_model_from_total(total, k, Xc.shape[1])
    h = _features_potential(form, Xc, Q, Y, W, c, S)
    Qn, ent, lzs, md = _features_step(h, Q, temperature)
    out = np.concatenate([pairwise_features_block_stats(X, center, Qn), [ent, lzs, md, 0.0]])
    return Qn, out


def pairwise_features_local_search(X, center, labels, n_clusters, max_passes, n_threads=1, sample_weight=None):
    """Sequential exact single-object moves (Hartigan's k-means moves) for ``D_ij = |x_i - x_j|^2``.

    Moving object i (weight ``w_i``, 1 without weights) from a to b changes the cost by
    ``w_i S_b e_b/(S_b+w_i) - w_i S_a e_a/(S_a-w_i)`` with ``e_v = |x_i - y_v|^2`` and ``S`` the
    weighted masses (the add term is 0 for an empty b); the same rule as
    :func:`pairwise_local_search` on the dense matrix.
    """
    Xc = np.asarray(X, dtype=np.float64) - np.asarray(center, dtype=np.float64)
    labels = np.array(labels, dtype=np.int64, copy=True)
    n, k = Xc.shape[0], n_clusters
    w = _weights(sample_weight, n)
    status = {"converged": False, "numerical_error": False, "iterations": 0, "error": 0.0}

    def stats():
        M = np.zeros((k, Xc.shape[1]))
        np.add.at(M, labels, w[:, None] * Xc)
        return M, np.bincount(labels, weights=w, minlength=k), np.bincount(labels, minlength=k)

    def centroids(M, S):
        return np.where(S[:, None] > 0, M / np.where(S > 0, S, 1.0)[:, None], 0.0)

    M, S, members = stats()
    for p in range(max_passes):
        moved = 0
        Y = centroids(M, S)
        for i in range(n):
            a = labels[i]
            if members[a] < 2:
                continue
            wi, Sr = w[i], S[a] - w[i]
            e = ((Xc[i] - Y) ** 2).sum(axis=1)
            rem = wi * S[a] * e[a] / Sr if Sr > 0 else 0.0
            best, best_delta = a, 0.0
            for b in range(k):
                if b == a:
                    continue
                add = wi * S[b] * e[b] / (S[b] + wi) if S[b] > 0 else 0.0
                delta = add - rem
                if delta < best_delta - 1e-12 * (abs(add) + abs(rem)):
                    best, best_delta = b, delta
            if best != a:
                b = best
                M[a] -= wi * Xc[i]
                M[b] += wi * Xc[i]
                S[a] -= wi
                S[b] += wi
                members[a] -= 1
                members[b] += 1
                Y = centroids(M, S)
                labels[i] = b
                moved += 1
        status["iterations"] = p + 1
        status["error"] = float(moved)
        if moved == 0:
            status["converged"] = True
            break
        M, S, members = stats()
    M, S, members = stats()
    Y = centroids(M, S)
    return labels, float((w * ((Xc - Y[labels]) ** 2).sum(axis=1)).sum()), status


# ---- sparse twins (csrc/danneal/pairwise_sparse.hpp): only the stored pairs of a CSR matrix known ----

SPARSE_MEAN, SPARSE_FILL = 0, 1


def _csr_dense(indptr, indices, data, n):
    """Dense W (stored values, diagonal dropped) and A (stored pattern plus the diagonal)."""
    rows = np.repeat(np.arange(n), np.diff(indptr))
    off = rows != np.asarray(indices)
    W = np.zeros((n, n))
    A = np.eye(n)
    W[rows[off], np.asarray(indices)[off]] = np.asarray(data, dtype=np.float64)[off]
    A[rows[off], np.asarray(indices)[off]] = 1.0
    return W, A


def pairwise_sparse_dq(indptr, indices, data, assignments, n_threads=1, sample_weight=None):
    """``(W @ Q, A @ Q, [diag(Q.T W Q), diag(Q.T A Q), Q.sum(0)])`` in float64, with ``Q`` the rows
    ``w_i q_i`` under ``sample_weight``."""
    Q = np.asarray(assignments, dtype=np.float64)
    Q = Q * _weights(sample_weight, Q.shape[0])[:, None]
    W, A = _csr_dense(indptr, indices, data, Q.shape[0])
    WQ, AQ = W @ Q, A @ Q
    return WQ, AQ, np.stack([(Q * WQ).sum(0), (Q * AQ).sum(0), Q.sum(0)])


def sparse_cost(mode, fill, P, M, S):
    """Cost per cluster: ``S P / (2 M)`` (mode 0) or ``(P + fill (S^2 - M)) / (2 S)`` (mode 1); 0 if empty."""
    P, M, S = (np.asarray(a, dtype=np.float64) for a in (P, M, S))
    with np.errstate(divide="ignore", invalid="ignore"):
        if mode == SPARSE_MEAN:
            out = np.where(M > 0, S * P / (2.0 * M), 0.0)
        else:
            out = (P + fill * (S * S - M)) / (2.0 * S)
    return np.where(S > 0, out, 0.0)


def pairwise_sparse_local_search(
    indptr, indices, data, labels, n_clusters, mode, fill, max_passes, n_threads=1, sample_weight=None
):
    """Sequential exact single-object moves for the sparse cost (the kernel's rule, with the cluster
    statistics recomputed from scratch for every candidate move; object i of weight ``w_i`` changes
    ``P`` by ``2 w_i WQ_i``, ``M`` by ``2 w_i AQ_i +- w_i^2`` and ``S`` by ``w_i``)."""
    labels = np.array(labels, dtype=np.int64, copy=True)
    n, k = labels.shape[0], n_clusters
    W, A = _csr_dense(indptr, indices, data, n)
    w = _weights(sample_weight, n)
    status = {"converged": False, "numerical_error": False, "iterations": 0, "error": 0.0}

    def stats():
        Q = np.zeros((n, k))
        Q[np.arange(n), labels] = w
        WQ, AQ = W @ Q, A @ Q
        return WQ, AQ, (Q * WQ).sum(0), (Q * AQ).sum(0), Q.sum(0)

    f = lambda p, m, s: float(sparse_cost(mode, fill, p, m, s))
    for p in range(max_passes):
        moved = 0
        for i in range(n):
            WQ, AQ, P, M, S = stats()
            a = labels[i]
            if np.count_nonzero(labels == a) < 2:
                continue
            wi = w[i]
            fa = f(P[a], M[a], S[a])
            fa_new = f(P[a] - 2 * wi * WQ[i, a], M[a] - 2 * wi * AQ[i, a] + wi * wi, S[a] - wi)
            rem = fa - fa_new
            best, best_delta = a, 0.0
            for b in range(k):
                if b == a:
                    continue
                fb = f(P[b], M[b], S[b])
                add = f(P[b] + 2 * wi * WQ[i, b], M[b] + 2 * wi * AQ[i, b] + wi * wi, S[b] + wi) - fb
                if add - rem < best_delta - 1e-12 * (abs(fa) + abs(fa_new) + abs(fb) + abs(add)):
                    best, best_delta = b, add - rem
            if best != a:
                labels[i] = best
                moved += 1
        status["iterations"] = p + 1
        status["error"] = float(moved)
        if moved == 0:
            status["converged"] = True
            break
    _, _, P, M, S = stats()
    return labels, float(sparse_cost(mode, fill, P, M, S).sum()), status


# ---- tile twins (csrc/danneal/pairwise_tiles.hpp): D formed from X on the fly ----

_TILE_METRICS = {0: "cityblock", 1: "euclidean", 2: "chebyshev", 3: "minkowski", 4: "sqeuclidean"}


def _tile_matrix(X, metric, p):
    X = np.asarray(X, dtype=np.float64)
    diff = np.abs(X[:, None, :] - X[None, :, :])
    if metric == 0:
        return diff.sum(-1)
    if metric in (1, 4):
        s = (diff**2).sum(-1)
        return np.sqrt(s) if metric == 1 else s
    if metric == 2:
        return diff.max(-1)
    return ((diff**p).sum(-1)) ** (1.0 / p)


def pairwise_tiles_dq(X, metric, p, assignments, n_threads=1):
    """``(D @ Q, c, S)`` in float64 with ``D_ij = dist(x_i, x_j)`` (metric 0 cityblock, 1 euclidean,
    2 chebyshev, 3 minkowski with ``p``, 4 sqeuclidean)."""
    D = _tile_matrix(X, metric, p)
    Q = np.asarray(assignments, dtype=np.float64)
    DQ = D @ Q
    return DQ, (Q * DQ).sum(0), Q.sum(0)


def pairwise_tiles_dq_cols(X, metric, p, cols, weights, n_threads=1):
    """``D[:, cols] @ weights`` in float64."""
    return _tile_matrix(X, metric, p)[:, np.asarray(cols)] @ np.asarray(weights, dtype=np.float64)


def pairwise_tiles_matrix(X, metric, p, out, n_threads=1):
    """Writes ``D_ij = dist(x_i, x_j)`` into ``out``."""
    out[...] = _tile_matrix(X, metric, p)


def pairwise_tiles_local_search(X, metric, p, labels, n_clusters, max_passes, n_threads=1):
    """``pairwise_local_search`` on the matrix of ``X`` under ``metric``."""
    return pairwise_local_search(_tile_matrix(X, metric, p), labels, n_clusters, max_passes)
