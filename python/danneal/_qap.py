"""Softassign family, quadratic problems: quadratic assignment (scipy conventions) and quadratic labeling.

References
----------
.. [1] S. Gold and A. Rangarajan, "A graduated assignment algorithm for graph matching",
   IEEE TPAMI 18(4), 1996.
.. [2] A. Rangarajan, "Self annealing and self annihilation: unifying deterministic annealing and
   relaxation labeling", Pattern Recognition 33, 2000.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import OptimizeResult, linear_sum_assignment

from . import _core
from ._softassign_engine import METHODS, _check_options, _engine_options, assignment_annealing
from ._threads import map_interruptible, resolve_n_threads
from ._validation import as_float_array, check_float, check_int

__all__ = ["quadratic_assignment", "quadratic_labeling"]


# --------------------------------------------------------------------------------------------
# quadratic assignment
_QAP_DEFAULTS = {
    "maximize": False,
    "P0": "barycenter",
    "rng": None,
    "local_search": "2opt",
    "n_init": 1,
    "partial_match": None,
    "shuffle_input": False,
    "normalize": True,
    "gamma": "auto",
    "gamma_scale": 0.1,
    "jitter": 0.2,
    "gamma_jitter": 0.2,
    "fast": True,
    "max_moves": None,
    "n_kicks": None,
    "kick_size": None,
}


def _qap_fun(A, B, perm):
    return float(np.sum(A * B[np.ix_(perm, perm)]))


def _check_partial_match(pm, nA, nB):
    """Seeds as an int64 (k, 2) array [node of A, node of B] (scipy's ``partial_match``)."""
    if pm is None:
        return np.zeros((0, 2), dtype=np.int64)
    arr = np.asarray(pm)
    if arr.size == 0:
        return np.zeros((0, 2), dtype=np.int64)
    if not (
        np.issubdtype(arr.dtype, np.integer)
        or (np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)))
    ):
        raise ValueError(f"partial_match: expected integer node indices, got dtype {arr.dtype}")
    arr = np.atleast_2d(arr).astype(np.int64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"partial_match: expected shape (k, 2) (pairs [node of A, node of B]), got {arr.shape}")
    for col, name, size in ((0, "A", nA), (1, "B", nB)):
        bad = (arr[:, col] < 0) | (arr[:, col] >= size)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"partial_match[{i}, {col}]={int(arr[i, col])} is not a node of {name} (0 <= i < {size})")
        if len(np.unique(arr[:, col])) != arr.shape[0]:
            raise ValueError(f"partial_match: column {col} (nodes of {name}) has repeated entries")
    return arr


def quadratic_assignment(A, B, method="graduated", options=None):
    r"""Approximate the quadratic assignment problem by softassign annealing and local search (scipy conventions).

    .. math::
        \min_P \ \mathrm{trace}(A^T P B P^T) = \sum_{ij} A_{ij} B_{\pi(i)\pi(j)}

    over permutation matrices (maximised with ``maximize=True``), as
    :func:`scipy.optimize.quadratic_assignment`.  The soft assignments are annealed with ``method``
    (see :func:`assignment_annealing`) on the benefit gradient :math:`Q = -(A M B^T + A^T M B)`
    (no :math:`n^4` tensor), plus :math:`\gamma M` with :math:`\gamma` = ``gamma_scale`` times minus the
    smallest eigenvalue of the benefit's Hessian on the constraint subspace (convexification,
    Rangarajan [2]_ Sec. 7), and divided by :math:`(\lambda_{max} + \gamma)/n` so that the uniform
    fixed point turns unstable at β = 1 (option ``normalize``).  The default schedule (β0 = 0.5,
    βf = 10, β_r = 1.075, 30 fixed-point steps, 4 Sinkhorn iterations: the literature's values [1]_)
    thus starts above the critical temperature whatever the units of A and B.  ``graduated`` runs
    one compiled fixed point per β (``_core.qap_fixed_point``).  Every run is rounded with a
    Hungarian clean-up (:func:`scipy.optimize.linear_sum_assignment`) and finished with a
    best-improvement swap local search (C++, each swap evaluated in O(n) from a maintained table of
    all swap deltas; the result is a local optimum: no swap improves it; ``local_search=None``
    disables it), then ``n_kicks`` perturbation restarts of the local search (iterated local
    search: ``kick_size`` random swaps, a descent, kept only if better; the random swaps are drawn
    from ``rng``).  Restarts (``n_init`` > 1) start from randomized P0 and jitter the problem (γ
    times :math:`e^{U(-j, j)}` and an additive :math:`N(0, j^2)` benefit, ``jitter`` j = 0.2); they run
    concurrently on ``n_threads`` threads, and the best permutation on the original objective is
    returned (ties: the earliest restart), identical for any thread count.

    Seeds (``partial_match``, as scipy) are honoured exactly: the annealing runs on the unseeded
    nodes with the seeds' contribution as a linear benefit, and the local search never moves them.
    A and B of different sizes are matched by padding the smaller with zeros (isolated dummy nodes,
    the "naive padding" of graph matching); then ``col_ind`` has one entry per node of A, and -1
    marks a node of A left unmatched (A larger than B).  scipy itself requires equal sizes.

    Parameters
    ----------
    A, B : square arrays
    method : {"graduated", "self_annealing", "self_annihilation", "relaxation_labeling", "exponentiated_relaxation", \
              "relaxation_labeling_annihilation"}
    options : dict
        ``maximize`` (False), ``P0`` ("barycenter", "randomized" or a doubly stochastic array over
        the unseeded nodes), ``rng`` (seed or Generator; alias ``random_state``), ``n_init`` (1;
        restarts from randomized starts, the best is kept), ``local_search`` ("2opt" or None),
        ``max_moves`` (swaps per descent, default 100 n), ``n_kicks`` (perturbation restarts of the
        local search per run, default 10 n), ``kick_size`` (random swaps per kick, default
        max(3, n // 8)), ``normalize`` (True),
        ``partial_match`` ((k, 2) ints: node ``partial_match[i, 0]`` of A is matched to node
        ``partial_match[i, 1]`` of B), ``shuffle_input`` (ignored, accepted for scipy
        compatibility), ``gamma`` ("auto" or a float in normalised units), ``gamma_scale`` (0.1; 0.5
        before the local search existed),
        ``jitter`` (0.2), ``gamma_jitter`` (0.2), ``fast`` (True: compiled per-β fixed point for ``graduated``),
        ``n_threads`` (1; threads over restarts and local searches), plus the annealing options of
        :func:`assignment_annealing`.

    Returns
    -------
    OptimizeResult
        ``col_ind`` (the permutation), ``fun`` (objective), ``nit`` (outer steps), ``n_inner``,
        ``fun_before_local_search``, ``M`` (final soft assignments over the unseeded nodes),
        ``method``, ``restart`` (index of the restart kept).

    References
    ----------
    .. [1] S. Gold and A. Rangarajan, "A graduated assignment algorithm for graph matching",
           IEEE TPAMI 18(4):377-388, 1996.
    .. [2] A. Rangarajan, "Self-annealing and self-annihilation: unifying deterministic annealing
           and relaxation labeling", Pattern Recognition 33(4):635-649, 2000.

    Examples
    --------
    Recover the relabelling of a path graph (maximising the overlap of the edges):

    >>> import numpy as np
    >>> from danneal import quadratic_assignment
    >>> A = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    >>> P = np.eye(3)[[2, 0, 1]]
    >>> res = quadratic_assignment(A, P @ A @ P.T, options={"maximize": True})
    >>> res.col_ind, float(res.fun)
    (array([0, 2, 1]), 4.0)
    """
    if method not in METHODS:
        raise ValueError(f"method={method!r} must be one of {METHODS}")
    A = as_float_array(A, "A", ndim=2, dtype=np.float64)
    B = as_float_array(B, "B", ndim=2, dtype=np.float64)
    if A.shape[0] != A.shape[1]:
        raise ValueError(f"A: must be square, got shape {A.shape}")
    if B.shape[0] != B.shape[1]:
        raise ValueError(f"B: must be square, got shape {B.shape}")
    _check_options(options)
    opts = dict(options or {})
    if "random_state" in opts:
        if "rng" in opts:
            raise ValueError("give only one of rng and random_state")
        opts["rng"] = opts.pop("random_state")
    qopts = {k: opts.pop(k) for k in list(opts) if k in _QAP_DEFAULTS}
    q = dict(_QAP_DEFAULTS)
    q.update(qopts)
    n_threads = resolve_n_threads(opts.pop("n_threads", 1))
    _engine_options(opts)  # unknown or bad annealing options fail before any work
    maximize = bool(q["maximize"])
    jitter = check_float(q["jitter"], "jitter", low=0)
    gamma_jitter = check_float(q["gamma_jitter"], "gamma_jitter", low=0)
    n_init = check_int(q["n_init"], "n_init", low=1)
    if q["local_search"] not in (None, "2opt"):
        raise ValueError(f"local_search={q['local_search']!r} must be '2opt' or None")
    try:
        rng = np.random.default_rng(q["rng"])
    except (TypeError, ValueError):
        raise ValueError(f"rng={q['rng']!r} must be None, a non-negative int or a numpy.random.Generator") from None
    nA, nB = A.shape[0], B.shape[0]
    if nA == 0 or nB == 0:
        raise ValueError(f"A: empty matrices (A has {nA} nodes, B has {nB})")
    seeds = _check_partial_match(q["partial_match"], nA, nB)
    n = max(nA, nB)
    if nA != nB:  # naive padding: the smaller graph gets isolated dummy nodes
        A = np.pad(A, (0, n - nA)) if nA < n else A
        B = np.pad(B, (0, n - nB)) if nB < n else B
    max_moves = 100 * n if q["max_moves"] is None else check_int(q["max_moves"], "max_moves", low=0)
    n_kicks = 10 * n if q["n_kicks"] is None else check_int(q["n_kicks"], "n_kicks", low=0)
    kick_size = max(3, n // 8) if q["kick_size"] is None else check_int(q["kick_size"], "kick_size", low=1)

    def finish(perm):
        col = perm[:nA].copy()
        col[col >= nB] = -1
        return col

    sa, sb = seeds[:, 0], seeds[:, 1]
    free_a = np.setdiff1d(np.arange(n), sa)
    free_b = np.setdiff1d(np.arange(n), sb)
    nf = free_a.size
    if nf <= 1:
        perm = np.empty(n, dtype=np.int64)
        perm[sa], perm[free_a] = sb, free_b
        f = _qap_fun(A, B, perm)
        return OptimizeResult(
            col_ind=finish(perm),
            fun=f,
            nit=0,
            n_inner=0,
            fun_before_local_search=f,
            M=np.ones((nf, nf)),
            method=method,
            restart=0,
        )
    Af = np.ascontiguousarray(A[np.ix_(free_a, free_a)])
    Bf = np.ascontiguousarray(B[np.ix_(free_b, free_b)])
    # the seeds' part of the objective that depends on the free nodes: a linear term <L, M>
    L = A[np.ix_(free_a, sa)] @ B[np.ix_(free_b, sb)].T + A[np.ix_(sa, free_a)].T @ B[np.ix_(sb, free_b)]
    sign = 1.0 if maximize else -1.0

    lam_min, lam_max = _qap_hessian_range(Af, Bf, maximize)
    gamma = q["gamma"]
    if isinstance(gamma, str):
        if gamma != "auto":
            raise ValueError(f"gamma={gamma!r} must be 'auto' or a float >= 0")
        gamma = check_float(q["gamma_scale"], "gamma_scale", low=0) * max(-lam_min, 0.0)
    else:
        gamma = check_float(gamma, "gamma", low=0)
    s = 1.0
    if q["normalize"]:
        # critical beta of the uniform fixed point: beta_c = n / lambda_max(Hessian + gamma) -> 1
        s = max(lam_max + gamma, 1e-300) / nf
        gamma = gamma / s
    lin = (sign / s) * L if seeds.shape[0] else None

    # every restart's random draws are made here, in order, so that the result never depends on
    # how the restarts are spread over threads
    P0 = q["P0"]
    plans = []
    for run in range(n_init):
        if isinstance(P0, str):
            if P0 == "barycenter":
                M0 = None if run == 0 else _random_ds(nf, rng)
            elif P0 == "randomized":
                M0 = _random_ds(nf, rng)
            else:
                raise ValueError(f"P0={P0!r} must be 'barycenter', 'randomized' or an array")
        else:
            M0 = as_float_array(P0, "P0", ndim=2, dtype=np.float64)
            if M0.shape != (nf, nf):
                raise ValueError(f"P0: expected shape {(nf, nf)} (the unseeded nodes), got {M0.shape}")
            if (M0 < 0).any() or not np.allclose(M0.sum(0), 1, atol=1e-6) or not np.allclose(M0.sum(1), 1, atol=1e-6):
                raise ValueError("P0: must be doubly stochastic (non-negative, rows and columns summing to 1)")
            M0 = np.maximum(M0, 1e-300)
        g, E = gamma, lin
        if run > 0 and jitter > 0:  # restarts: perturb the convexification and the benefit a little
            g = gamma * float(np.exp(rng.uniform(-gamma_jitter, gamma_jitter)))
            noise = jitter * rng.standard_normal((nf, nf))
            E = noise if E is None else E + noise
        plans.append((M0, g, E))
    kick_seeds = rng.integers(0, 2**63, size=n_init, dtype=np.uint64)
    AfT, BfT = np.ascontiguousarray(Af.T), np.ascontiguousarray(Bf.T)
    parallel = n_threads > 1 and n_init > 1 and "callback" not in opts

    def anneal(run):
        M0, g, E = plans[run]
        if method == "graduated" and q["fast"]:
            return _qap_graduated(Af, Bf, E, sign / s, g, M0, opts)

        def qfun(M):
            Q = (sign / s) * (Af @ M @ BfT + AfT @ M @ Bf) + g * M
            if E is not None:
                Q = Q + E
            # a constant shift is constant on the feasible set (sum(M) = n): it changes nothing for the
            # exponential methods and keeps 1 + alpha*Q > 0 for relaxation labeling
            return Q - Q.min()

        return assignment_annealing(
            qfun, (nf, nf), method=method, M0=M0, options=opts, n_threads=1 if parallel else n_threads
        )

    if parallel:
        runs = list(map_interruptible(anneal, range(n_init), min(n_threads, n_init)))
    else:
        runs = [anneal(run) for run in range(n_init)]
    perms = np.empty((n_init, n), dtype=np.int64)
    perms[:, sa] = sb
    for run, res in enumerate(runs):
        _, pf = linear_sum_assignment(-res.M)
        perms[run, free_a] = free_b[pf]
    f0 = np.array([_qap_fun(A, B, p) for p in perms])
    if q["local_search"] == "2opt":
        movable = np.ones(n, dtype=bool)
        movable[sa] = False
        perms, _ = _core.qap_local_search(
            A, B, perms, movable, maximize, max_moves, n_kicks, kick_size, kick_seeds, n_threads
        )
    f = np.array([_qap_fun(A, B, p) for p in perms])
    k = int(np.argmax(f) if maximize else np.argmin(f))  # the earliest restart on ties
    res = runs[k]
    return OptimizeResult(
        col_ind=finish(perms[k]),
        fun=float(f[k]),
        nit=res.nit,
        n_inner=res.n_inner,
        fun_before_local_search=float(f0[k]),
        M=res.M,
        method=method,
        restart=k,
    )


def _qap_hessian_range(A, B, maximize):
    """Smallest and largest eigenvalue of the benefit's Hessian on the doubly centred subspace.

    The benefit is -+trace(A^T M B M^T); on doubly centred X its Hessian is -+(Bc (x) Ac + Bc^T (x) Ac^T)
    with Ac = J A J, J = I - 11^T/n.  For symmetric A, B the eigenvalues are -+2 lambda_i(Ac) lambda_j(Bc);
    otherwise +-2 ||Ac|| ||Bc|| bound them.  gamma = -lambda_min makes benefit + (gamma/2) sum M^2
    convex there, so every softassign fixed-point step is a minorise-maximise step and cannot cycle
    (Rangarajan 2000, Sec. 7); lambda_max + gamma sets the critical beta n / (lambda_max + gamma) of
    the uniform fixed point, which the default schedule starts just above (in temperature).
    """
    n = A.shape[0]
    J = np.eye(n) - 1.0 / n
    Ac, Bc = J @ A @ J, J @ B @ J
    if np.allclose(A, A.T) and np.allclose(B, B.T):
        la, lb = np.linalg.eigvalsh(Ac), np.linalg.eigvalsh(Bc)
        prods = 2 * np.concatenate([la.max() * lb, la.min() * lb])
        if not maximize:
            prods = -prods
        return float(prods.min()), float(prods.max())
    bound = 2 * float(np.linalg.norm(Ac, 2) * np.linalg.norm(Bc, 2))
    return -bound, bound


def _qap_graduated(A, B, E, c, gamma, M0, options):
    """Graduated assignment for the QAP with the compiled fixed point (one call per beta)."""
    opts, callback, (beta0, beta_max, beta_rate, inner_max, inner_tol, sk_iter, _, _, _, _, hard_tol) = _engine_options(
        options
    )
    n = A.shape[0]
    M = np.full((n, n), 1.0 / n) if M0 is None else np.ascontiguousarray(M0, dtype=np.float64)
    al, be = np.zeros(n), np.zeros(n)
    E = None if E is None else np.ascontiguousarray(E, dtype=np.float64)
    schedule = opts["betas"]
    if schedule is None:
        k = int(np.floor(np.log(beta_max / beta0) / np.log(beta_rate) + 1e-12))
        schedule = beta0 * beta_rate ** np.arange(k + 1)
    else:
        schedule = as_float_array(schedule, "betas", ndim=1, dtype=np.float64)
        if (schedule <= 0).any():
            raise ValueError("betas: every inverse temperature must be > 0")
    prev, nit, n_inner, betas = None, 0, 0, []
    for beta in schedule:
        beta = float(beta)
        if prev is not None:  # the duals scale with beta
            al, be = al * (beta / prev), be * (beta / prev)
        M, al, be, st = _core.qap_fixed_point(A, B, E, c, gamma, beta, M, inner_max, inner_tol, sk_iter, al, be)
        n_inner += int(st["iterations"])
        nit += 1
        betas.append(beta)
        if callback is not None:
            callback(M, {"beta": beta, "nit": nit})
        prev = beta
        if hard_tol > 0 and (M.max(axis=1) > 1 - hard_tol).all():
            break
    return OptimizeResult(M=M, nit=nit, n_inner=n_inner, betas=np.array(betas))


def _random_ds(n, rng):
    """A random doubly stochastic matrix near the barycenter (as scipy's 'randomized' P0)."""
    K = rng.uniform(size=(n, n))
    for _ in range(50):
        K /= K.sum(1, keepdims=True)
        K /= K.sum(0, keepdims=True)
    return (np.full((n, n), 1.0 / n) + K) / 2


# --------------------------------------------------------------------------------------------
# quadratic labeling (one-way constraints)
def quadratic_labeling(C, n_labels=None, method="graduated", *, M0=None, options=None, n_threads=None):
    r"""Labeling with one-way (winner-take-all) constraints and a quadratic benefit.

    Maximises :math:`E(M) = \tfrac12 \sum_{ai,bj} C_{ai;bj} M_{ai} M_{bj}` over M (N x K) whose rows
    sum to 1, with :math:`Q = C M` (flattened row-major: index ``a*K + i``).  ``C`` is a dense
    (N·K) x (N·K) array (``n_labels`` = K required), or a callable ``C(M) -> Q`` (``n_labels`` =
    K and ``M0`` or N needed: pass ``n_labels=(N, K)``).  Methods as in :func:`assignment_annealing`.

    Parameters
    ----------
    C : array of shape (N*K, N*K), or callable
        The compatibilities :math:`C_{ai;bj}` (row-major index ``a*K + i``), or ``C(M) -> Q``
        returning the gradient :math:`Q = \partial E / \partial M` of shape (N, K).
    n_labels : int, or (N, K) when ``C`` is callable
        Number of labels K.
    method : str
        One of :func:`assignment_annealing`'s methods (``"graduated"``, ``"self_annealing"``,
        ``"self_annihilation"``, ``"relaxation_labeling"`` (the canonical one here: rows
        normalised), ``"exponentiated_relaxation"``, ``"relaxation_labeling_annihilation"``,
        ``"chi_squared"``).
    M0 : array of shape (N, K), optional
        Positive start (uniform by default, a fixed point when ``C`` has that symmetry: perturb it).
    options : dict, optional
        :func:`assignment_annealing`'s options.
    n_threads : int or None
        Threads (None or -1: all available cores).

    Returns
    -------
    res : :class:`~scipy.optimize.OptimizeResult`
        ``labels`` (row argmax of M), ``M`` (the soft labels), ``fun`` (E at the hard labels),
        ``nit``, ``n_inner``, ``hard``, ``method``.

    References
    ----------
    .. [1] A. Rangarajan, "Self-annealing and self-annihilation: unifying deterministic annealing
           and relaxation labeling", Pattern Recognition 33(4):635-649, 2000 (the quadratic
           winner-take-all problem, Sec. 2).

    Examples
    --------
    Four objects, two labels; objects 0, 1 attract each other, as do 2, 3, and the pairs repel:

    >>> import numpy as np
    >>> from danneal import quadratic_labeling
    >>> W = np.array([[0, 1, -1, -1], [1, 0, -1, -1], [-1, -1, 0, 1], [-1, -1, 1, 0]], dtype=float)
    >>> C = np.kron(W, np.eye(2))  # benefit W_ab when a and b share a label
    >>> M0 = np.array([[0.6, 0.4], [0.5, 0.5], [0.5, 0.5], [0.4, 0.6]])
    >>> res = quadratic_labeling(C, 2, M0=M0, n_threads=1)
    >>> res.labels, res.fun
    (array([0, 0, 1, 1]), 2.0)
    """
    if callable(C):
        if not (isinstance(n_labels, (tuple, list)) and len(n_labels) == 2):
            raise ValueError("n_labels must be (N, K) when C is a callable")
        N, K = (check_int(x, "n_labels", low=1) for x in n_labels)
        qfun = C
        Cd = None
    else:
        Cd = as_float_array(C, "C", ndim=2, dtype=np.float64)
        if Cd.shape[0] != Cd.shape[1]:
            raise ValueError(f"C: must be square (N*K, N*K), got shape {Cd.shape}")
        K = check_int(n_labels, "n_labels", low=1)
        if Cd.shape[0] % K:
            raise ValueError(f"n_labels={K} must divide C.shape[0]={Cd.shape[0]}")
        N = Cd.shape[0] // K

        def qfun(M):
            return (Cd @ M.ravel()).reshape(N, K)

    res = assignment_annealing(
        qfun, (N, K), constraint="wta", method=method, M0=M0, options=options, n_threads=n_threads
    )
    labels = res.M.argmax(axis=1)
    H = np.zeros((N, K))
    H[np.arange(N), labels] = 1
    if Cd is not None:
        fun = 0.5 * float(H.ravel() @ Cd @ H.ravel())
    else:
        fun = 0.5 * float(np.sum(np.asarray(qfun(H)) * H))
    return OptimizeResult(
        labels=labels, M=res.M, fun=fun, nit=res.nit, n_inner=res.n_inner, hard=res.hard, method=method
    )
