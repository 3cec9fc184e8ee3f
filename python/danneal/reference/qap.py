"""Reference twin of the QAP swap local search (``csrc/danneal/qap.hpp``): plain numpy/Python.

Same arithmetic, in the same order, as the kernel (the exact delta and the objective are Python
loops; the O(1) table update is elementwise numpy), so it makes the same moves.
"""

import numpy as np

__all__ = ["qap_local_search"]

_MASK = (1 << 64) - 1


def _splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & _MASK
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return state, z ^ (z >> 31)


def _swap_delta(A, B, p, r, s):
    n = len(p)
    pr, ps = p[r], p[s]
    d = (A[r, r] - A[s, s]) * (B[ps, ps] - B[pr, pr]) + (A[r, s] - A[s, r]) * (B[ps, pr] - B[pr, ps])
    for k in range(n):
        if k == r or k == s:
            continue
        pk = p[k]
        d += (A[k, r] - A[k, s]) * (B[pk, ps] - B[pk, pr]) + (A[r, k] - A[s, k]) * (B[ps, pk] - B[pr, pk])
    return float(d)


def _objective(A, B, p):
    f = 0.0
    n = len(p)
    for i in range(n):
        for j in range(n):
            f += A[i, j] * B[p[i], p[j]]
    return f


def qap_local_search(A, B, perms, movable, maximize, max_moves, n_kicks, kick_size, seeds, n_threads=1):
    """Best-improvement swap local search, then kicks, from each row of ``perms`` (twin of ``_core.qap_local_search``).

    Minimises ``sum_ij A[i, j] B[p[i], p[j]]`` (maximises with ``maximize``) over swaps of two
    positions that are both ``movable`` (None: all).  Each descent step applies the swap with the
    lowest delta (first pair ``r < s`` in row-major order on ties) read from a maintained table of
    all deltas, checked exactly before it is applied; a descent stops when no swap improves by more
    than ``1e-12 * max|A| max|B| n`` (after an exact recomputation of the table) or after
    ``max_moves``.  Then ``n_kicks`` times: ``kick_size`` random swaps (splitmix64 from ``seeds[q]``),
    a descent that trusts the maintained table (no final recomputation), kept only if the objective
    improves by more than the threshold; after the kicks, one exact recomputation and descent.

    Parameters
    ----------
    A, B : arrays of shape (n, n)
    perms : int array of shape (R, n)
        One start permutation per row.
    movable : bool array of shape (n,) or None
        Positions the search may swap (None: all; seeds are not movable).
    maximize : bool
        Maximise the objective instead of minimising it.
    max_moves : int
        Most descent swaps per descent.
    n_kicks : int
        Kicks per start.
    kick_size : int
        Random swaps per kick.
    seeds : int array of shape (R,)
        Seeds of the kicks' random swaps (splitmix64).
    n_threads : int
        Ignored (the twin is serial); kept for the kernel's argument order.

    Returns
    -------
    perms : int64 array of shape (R, n)
        Local optima (no swap improves them).
    moves : int64 array of shape (R,)
        Descent swaps kept per start.

    References
    ----------
    .. [1] H. R. Lourenço, O. C. Martin, T. Stützle, "Iterated local search", Handbook of
           Metaheuristics, 2003.

    Examples
    --------
    >>> import numpy as np
    >>> from danneal.reference import qap_local_search
    >>> rng = np.random.default_rng(0)
    >>> A, B = rng.integers(0, 9, (6, 6)), rng.integers(0, 9, (6, 6))
    >>> P, moves = qap_local_search(A, B, np.arange(6)[None, :], None, False, 100, 2, 2, np.array([1]))
    >>> sorted(P[0].tolist())
    [0, 1, 2, 3, 4, 5]
    """
    A = np.asarray(A).astype(np.float64)
    B = (-1.0 if maximize else 1.0) * np.asarray(B).astype(np.float64)
    P = np.array(perms, dtype=np.int64)
    R, n = P.shape
    mv = np.ones(n, dtype=bool) if movable is None else np.asarray(movable, dtype=bool)
    idx = np.flatnonzero(mv)
    nm = idx.size
    thr = -1e-12 * max(np.abs(A).max() * np.abs(B).max() * n, 1e-300)
    pair = np.triu(np.ones((n, n), dtype=bool), 1) & mv[:, None] & mv[None, :]
    moves = np.zeros(R, dtype=np.int64)

    def recompute(p):
        D = np.zeros((n, n))
        for r, s in zip(*np.nonzero(pair)):
            D[r, s] = _swap_delta(A, B, p, r, s)
        return D

    def apply_swap(p, D, u, v):
        p[u], p[v] = p[v], p[u]
        x = A[u, :] - A[v, :]
        y = B[p[u], p] - B[p[v], p]
        x2 = A[:, u] - A[:, v]
        y2 = B[p, p[u]] - B[p, p[v]]
        D = D + (
            (x[:, None] - x[None, :]) * (y[None, :] - y[:, None])
            + (x2[:, None] - x2[None, :]) * (y2[None, :] - y2[:, None])
        )
        for r2, s2 in zip(*np.nonzero(pair)):
            if r2 in (u, v) or s2 in (u, v):
                D[r2, s2] = _swap_delta(A, B, p, r2, s2)
        return D

    def descend(p, D, fresh, m, limit, verify=True):
        while m < limit:
            masked = np.where(pair, D, np.inf)
            r, s = divmod(int(np.argmin(masked)), n)
            if not masked[r, s] < thr:
                if fresh or not verify:
                    break
                D, fresh = recompute(p), True
                continue
            if not fresh and not _swap_delta(A, B, p, r, s) < thr:
                D, fresh = recompute(p), True
                continue
            D = apply_swap(p, D, r, s)
            fresh = False
            m += 1
        return D, fresh, m

    for q in range(R):
        p = P[q]
        D, fresh, m = descend(p, recompute(p), True, 0, max_moves)
        f = _objective(A, B, p)
        state = 0 if seeds is None else int(seeds[q])
        if seeds is None:
            state = q
        for _ in range(n_kicks if nm >= 2 else 0):
            psave, Dsave, fsave, msave = p.copy(), D, fresh, m
            for _ in range(min(kick_size, nm)):
                state, z = _splitmix64(state)
                a = z % nm
                state, z = _splitmix64(state)
                b = z % (nm - 1)
                if b >= a:
                    b += 1
                D = apply_swap(p, D, idx[min(a, b)], idx[max(a, b)])
                fresh = False
            D, fresh, m = descend(p, D, fresh, m, m + max_moves, verify=False)
            fn = _objective(A, B, p)
            if fn - f < thr:
                f = fn
            else:
                p[:] = psave
                D, fresh, m = Dsave, fsave, msave
        if n_kicks > 0 and nm >= 2:  # end on a true local optimum
            D, fresh, m = descend(p, recompute(p), True, m, m + max_moves)
        moves[q] = m
    return P, moves
