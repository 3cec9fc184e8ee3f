"""Split-merge refinement of a pairwise clustering (``PairwiseAnnealing(refine=True)``).

Annealing with a fixed number of clusters decides at each phase transition how many of the k
columns follow each branch; a branch can end with too many or too few.  The moves here repair
that on the hard partition: split a cluster in two (annealed on its own dissimilarities, or along
one of its principal directions), delete a redundant one, or merge two and split their union
again; every move ends with the exact local search and is kept only if the total cost falls.

The problems (``_pairwise._DenseProblem``, ``_pairwise._FeatureProblem`` and the sparse and tiled
problems of ``_pairwise_large``) share one interface: ``hard_potentials``, ``local_search``,
``subset``, ``top_eigvecs``, ``critical_temperature``, ``work``; the annealing itself is
``_pairwise._anneal`` with the fit's :class:`_pairwise._AnnealParams`.
"""

from __future__ import annotations

import numpy as np

from . import _core

__all__ = ["gradient_potentials", "dense_top_eigvecs", "best_split", "split_merge", "pair_resplit"]

# Feature-space clusters larger than this are split along their leading principal direction only
# (each candidate split costs local-search passes over the whole cluster).
SPLIT_SAMPLE = 4096


def gradient_potentials(DQ, c, S):
    """Gradient potentials ``h_iv = (DQ)_iv / S_v - c_v / (2 S_v^2)`` of a hard partition (float64,
    +inf for an empty cluster) and the cluster costs ``c_v / (2 S_v)`` (0 when empty), from
    ``DQ = D @ Q`` (rows: objects, old or new), ``c_v = (Q^T D Q)_vv`` and the masses ``S_v``."""
    S = np.asarray(S, dtype=np.float64)
    c = np.asarray(c, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.where(S > 0, np.asarray(DQ, dtype=np.float64) / S - c / (2.0 * S**2), np.inf)
    cl_cost = np.divide(c, 2.0 * S, out=np.zeros_like(c), where=S > 0)
    return h, cl_cost


def dense_top_eigvecs(D, m, nt, n_iter=30):
    """Approximate top ``m`` eigenvectors of ``-1/2 P D P`` (the principal directions of the
    objects) by block power iteration with Rayleigh-Ritz, each product one pass of the compiled
    kernel over ``D``.  Only their signs are used (to propose splits), so 30 iterations do."""
    n = D.shape[0]
    m = min(m, n - 1)
    if m < 1:
        return np.zeros((n, 0))
    b = min(n - 1, m + 2)
    rng = np.random.default_rng(0)
    V = rng.standard_normal((n, b))

    def apply(V):
        V = V - V.mean(axis=0, keepdims=True)
        DV, _, _ = _core.pairwise_dq(D, np.ascontiguousarray(V, dtype=D.dtype), nt)
        W = -0.5 * DV.astype(np.float64)
        return W - W.mean(axis=0, keepdims=True)

    for _ in range(n_iter):
        V, _ = np.linalg.qr(apply(V))
    H = V.T @ apply(V)
    w, U = np.linalg.eigh(0.5 * (H + H.T))
    return (V @ U)[:, ::-1][:, :m]


def best_split(prob, params, rng, *, n_directions=3):
    """Best two-way split of the objects of ``prob``: the annealed one, or the sign split along one
    of the top principal directions (each finished by the local search).  Annealing follows the
    leading direction only; when the top eigenvalues are close (e.g. standardised data) a
    lesser direction can give the better partition.  Feature-space problems take the principal
    directions alone (:func:`_feature_split`).  Returns ``(cost, labels, work)`` (work in
    passes over the problem) or None when its dissimilarities are all zero."""
    from ._pairwise import _anneal  # _pairwise imports this module

    if prob.features:
        return _feature_split(prob, n_directions)
    Tc = prob.critical_temperature()
    if Tc <= 0:
        return None
    labels, cost, ann, _ = _anneal(prob, 2, params, T0=1.5 * Tc, T_min=1.5e-4 * Tc, rng=rng)
    best, work = _direction_splits(prob, n_directions, (cost, labels))
    return best[0], best[1], work + ann.n_sweeps + 31


def _direction_splits(prob, n_directions, best=None):
    """The sign split at the median along each of the top ``n_directions`` principal directions of
    ``prob``, each finished by the local search; returns the cheapest of them and ``best`` (a
    ``(cost, labels)`` pair or None) and the work in passes."""
    work = 0.0
    for v in prob.top_eigvecs(n_directions).T:
        cand = np.ascontiguousarray(v > np.median(v), dtype=np.int64)
        if cand.min() == cand.max():
            continue
        cand, c, st = prob.local_search(cand, 2, 100)
        work += 1 + st["iterations"]
        if best is None or c < best[0] * (1 - 1e-12):
            best = (c, cand)
    return best, work


def _feature_split(prob, n_directions):
    """:func:`best_split` of a feature-space problem: the sign split at the median along each of the
    top ``n_directions`` principal directions (exact: a ``d x d`` eigenproblem), each finished by
    the local search (Hartigan's 2-means moves), the cheapest kept.  No annealed split: on the 31
    sets of ``benchmarks/quality_pairwise.py --full --features`` it gave the same final cost on 30
    and a 3e-4 higher one on graves/ring (still below k-means), while annealing the k two-way
    splits took up to half of a small fit's time."""
    if prob.critical_temperature() <= 0:
        return None  # all objects coincide
    if prob.n > SPLIT_SAMPLE:
        n_directions = 1  # each candidate costs local-search passes over the whole cluster
    best, work = _direction_splits(prob, n_directions)
    if best is None:  # no direction separates (ties at the median): the first object alone
        cand = np.zeros(prob.n, dtype=np.int64)
        cand[0] = 1
        cand, c, st = prob.local_search(cand, 2, 100)
        work += 1 + st["iterations"]
        best = (c, cand)
    return best[0], best[1], work


def split_merge(prob, labels, k, cost, *, params, rng, budget=64.0):
    """Swap a redundant cluster for a split of another (phase-transition view of the solution).

    Each round splits every cluster into two on its own dissimilarities (:func:`best_split`,
    cached while the cluster is unchanged; gain = cost saved), estimates the cost of deleting
    every cluster (its members move to their best other cluster, priced by their potentials),
    and tries the eight most promising (delete v, split u) swaps, each followed by the local
    search; failing that, it merges two clusters and splits their union along its principal
    directions (:func:`pair_resplit`).  A move is kept only if the exact total cost falls.
    Rounds stop when no move helps or when the work reaches ``budget`` passes over the problem
    (work is counted, not timed, so results stay deterministic).  Returns
    ``(labels, cost, n_moves)``.
    """
    split_cache = {}
    moves = 0
    work = 0.0
    while work < budget:
        h, cl_cost, S = prob.hard_potentials(labels, k)
        work += 1
        # split gains
        split = {}
        # feature space: costliest clusters first, and new splits only while the budget lasts
        # (there a split's work grows with n; on D the whole first round is cheap next to a sweep)
        order = np.argsort(-cl_cost, kind="stable") if prob.features else range(k)
        for u in order:
            idx = np.flatnonzero(labels == u)
            if idx.size < 2:
                continue
            key = (u, idx.size, hash(idx.tobytes()))
            if key not in split_cache:
                if prob.features and work >= budget and split:
                    continue
                res = best_split(prob.subset(idx), params, rng)
                if res is not None:
                    work += res[2] * prob.work(idx.size)
                split_cache[key] = None if res is None else (cl_cost[u] - res[0], res[1])
            if split_cache[key] is not None:
                split[u] = (split_cache[key][0], idx, split_cache[key][1])
        if not split:
            break
        # deletion estimates: members move to their best other cluster at its current potential
        # (times their weight on a weighted problem: dH/dq_iv = w_i h_iv)
        weights = getattr(prob, "weights", None)
        delete = {}
        for v in range(k):
            members = labels == v
            hv = h[members].copy()
            hv[:, v] = np.inf
            dest = np.argmin(hv, axis=1) if members.any() else np.zeros(0, dtype=np.intp)
            moved = hv[np.arange(dest.size), dest]
            if weights is not None:
                moved = np.where(weights[members] > 0, weights[members] * moved, 0.0)
            est = float(moved.sum()) - cl_cost[v] if members.any() else 0.0
            delete[v] = (est, members, dest)
        pairs = sorted((delete[v][0] - split[u][0], v, u) for v in range(k) for u in split if u != v)
        improved = False
        for _est, v, u in pairs[:8]:
            _, members, dest = delete[v]
            new = labels.copy()
            new[members] = dest
            gain, idx, sl = split[u]
            new[idx[sl == 1]] = v
            new = np.ascontiguousarray(new, dtype=np.int64)
            new, new_cost, st = prob.local_search(new, k, 100)
            work += 1 + st["iterations"]
            if new_cost < cost * (1 - 1e-12) - 1e-300:
                labels, cost, improved = new, new_cost, True
                moves += 1
                break
        if not improved:
            improved, labels, cost, w = pair_resplit(prob, labels, k, cost, cl_cost)
            work += w
            moves += improved
        if not improved:
            break
    return labels, cost, moves


def pair_resplit(prob, labels, k, cost, cl_cost, *, budget=64.0):
    """Merge two clusters and split their union again along its top principal directions
    (each candidate finished by the local search); keep the first that lowers the total cost.
    Pairs (costliest first) are tried while the work stays within ``budget`` passes over the
    problem (the direction finding makes 31 passes over the union's dissimilarities).
    Returns ``(improved, labels, cost, work)``."""
    work = 0.0
    pairs = sorted(((cl_cost[u] + cl_cost[v], u, v) for u in range(k) for v in range(u + 1, k)), reverse=True)
    for _, u, v in pairs:
        idx = np.flatnonzero((labels == u) | (labels == v))
        if idx.size < 3:
            continue
        if work + 31.0 * prob.work(idx.size) > budget:
            break
        work += 31.0 * prob.work(idx.size)
        sub = prob.subset(idx)
        current = cl_cost[u] + cl_cost[v]
        for vec in sub.top_eigvecs(3).T:
            cand = np.ascontiguousarray(vec > np.median(vec), dtype=np.int64)
            if cand.min() == cand.max():
                continue
            cand, c, _ = sub.local_search(cand, 2, 100)
            if c < current * (1 - 1e-9):
                new = labels.copy()
                new[idx] = np.where(cand == 0, u, v)
                new = np.ascontiguousarray(new, dtype=np.int64)
                new, new_cost, st = prob.local_search(new, k, 100)
                work += 1 + st["iterations"]
                if new_cost < cost * (1 - 1e-12):
                    return True, new, new_cost, work
    return False, labels, cost, work
