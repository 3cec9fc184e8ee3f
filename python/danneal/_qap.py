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
from ._threads import resolve_n_threads
from ._validation import as_float_array, check_float, check_int
from ._softassign_engine import METHODS, _check_options, _engine_options, assignment_annealing

__all__ = ["quadratic_assignment", "quadratic_labeling"]


# --------------------------------------------------------------------------------------------
# quadratic assignment
_QAP_DEFAULTS = {"maximize": False, "P0": "barycenter", "rng": None, "local_search": "2opt", "n_init": 1,
                 "partial_match": None, "shuffle_input": False, "normalize": True, "gamma": "auto",
                 "gamma_scale": 0.5, "jitter": 0.2, "gamma_jitter": 0.2,
                 "fast": True}


def _qap_fun(A, B, perm):
    return float(np.sum(A * B[np.ix_(perm, perm)]))


def quadratic_assignment(A, B, method="graduated", options=None):
    r"""Approximate the quadratic assignment problem by softassign annealing (scipy conventions).

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
    one compiled fixed point per β (``_core.qap_fixed_point``).  The result is rounded with a
    Hungarian clean-up (:func:`scipy.optimize.linear_sum_assignment`) and, by default, polished
    with a first-improvement 2-opt local search (pair swaps, C++; ``local_search=None`` disables it).
    Restarts (``n_init`` > 1) start from randomized P0 and jitter the problem (γ times
    :math:`e^{U(-j, j)}` and an additive :math:`N(0, j^2)` benefit, ``jitter`` j = 0.2); the best
    permutation on the original objective is returned.

    Parameters
    ----------
    A, B : square arrays of the same shape
    method : {"graduated", "self_annealing", "self_annihilation", "relaxation_labeling", "exponentiated_relaxation"}
    options : dict
        ``maximize`` (False), ``P0`` ("barycenter", "randomized" or a doubly stochastic array),
        ``rng`` (seed or Generator; alias ``random_state``), ``n_init`` (1; restarts from randomized
        starts, the best is kept), ``local_search`` ("2opt" or None), ``normalize`` (True),
        ``partial_match`` (only None/empty), ``shuffle_input`` (ignored, accepted for scipy
        compatibility), ``gamma`` ("auto" or a float in normalised units), ``gamma_scale`` (0.5),
        ``jitter`` (0.2), ``gamma_jitter`` (0.2), ``fast`` (True: compiled per-β fixed point for ``graduated``),
        ``n_threads`` (1), plus the annealing options of :func:`assignment_annealing`.

    Returns
    -------
    OptimizeResult
        ``col_ind`` (the permutation), ``fun`` (objective), ``nit`` (outer steps), ``n_inner``,
        ``fun_before_local_search``, ``M`` (final soft assignments), ``method``.
    """
    if method not in METHODS:
        raise ValueError(f"method={method!r} must be one of {METHODS}")
    A = as_float_array(A, "A", ndim=2, dtype=np.float64)
    B = as_float_array(B, "B", ndim=2, dtype=np.float64)
    if A.shape[0] != A.shape[1]:
        raise ValueError(f"A: must be square, got shape {A.shape}")
    if B.shape[0] != B.shape[1]:
        raise ValueError(f"B: must be square, got shape {B.shape}")
    if A.shape != B.shape:
        raise ValueError(f"A and B must have the same shape, got {A.shape} and {B.shape}")
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
    if q["partial_match"] is not None and np.size(q["partial_match"]) > 0:
        raise ValueError("partial_match is not supported by the softassign methods")
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
    n = A.shape[0]
    if n == 0:
        raise ValueError("A: empty matrices")
    if n == 1:
        return OptimizeResult(col_ind=np.array([0]), fun=float(A[0, 0] * B[0, 0]), nit=0, n_inner=0,
                              fun_before_local_search=float(A[0, 0] * B[0, 0]), M=np.ones((1, 1)), method=method)
    An, Bn, s = A, B, 1.0
    sign = 1.0 if maximize else -1.0
    AT, BT = np.ascontiguousarray(An.T), np.ascontiguousarray(Bn.T)

    lam_min, lam_max = _qap_hessian_range(A, B, maximize)
    gamma = q["gamma"]
    if isinstance(gamma, str):
        if gamma != "auto":
            raise ValueError(f"gamma={gamma!r} must be 'auto' or a float >= 0")
        gamma = check_float(q["gamma_scale"], "gamma_scale", low=0) * max(-lam_min, 0.0)
    else:
        gamma = check_float(gamma, "gamma", low=0)
    if q["normalize"]:
        # critical beta of the uniform fixed point: beta_c = n / lambda_max(Hessian + gamma) -> 1
        s = max(lam_max + gamma, 1e-300) / n
        gamma = gamma / s

    cur = {"gamma": gamma, "noise": None}

    def qfun(M):
        Q = (sign / s) * (An @ M @ BT + AT @ M @ Bn) + cur["gamma"] * M
        if cur["noise"] is not None:
            Q = Q + cur["noise"]
        # a constant shift is constant on the feasible set (sum(M) = n): it changes nothing for the
        # exponential methods and keeps 1 + alpha*Q > 0 for relaxation labeling
        return Q - Q.min()

    P0 = q["P0"]
    best = None
    for run in range(n_init):
        if isinstance(P0, str):
            if P0 == "barycenter":
                M0 = None if run == 0 else _random_ds(n, rng)
            elif P0 == "randomized":
                M0 = _random_ds(n, rng)
            else:
                raise ValueError(f"P0={P0!r} must be 'barycenter', 'randomized' or an array")
        else:
            M0 = as_float_array(P0, "P0", ndim=2, dtype=np.float64)
            if M0.shape != (n, n):
                raise ValueError(f"P0: expected shape {(n, n)}, got {M0.shape}")
            if (M0 < 0).any() or not np.allclose(M0.sum(0), 1, atol=1e-6) or not np.allclose(M0.sum(1), 1, atol=1e-6):
                raise ValueError("P0: must be doubly stochastic (non-negative, rows and columns summing to 1)")
            M0 = np.maximum(M0, 1e-300)
        run_opts = opts
        if run > 0 and jitter > 0:  # restarts: perturb the convexification and the benefit a little
            cur["gamma"] = gamma * float(np.exp(rng.uniform(-gamma_jitter, gamma_jitter)))
            cur["noise"] = jitter * rng.standard_normal((n, n))
        if method == "graduated" and q["fast"]:
            res = _qap_graduated(A, B, cur["noise"], sign / s, cur["gamma"], M0, run_opts)
        else:
            res = assignment_annealing(qfun, (n, n), method=method, M0=M0, options=run_opts, n_threads=n_threads)
        _, perm = linear_sum_assignment(-res.M)
        perm = perm.astype(np.int64)
        f0 = _qap_fun(A, B, perm)
        if q["local_search"] == "2opt":
            perm, _ = _core.qap_2opt(A, B, perm, maximize, 10 * n * n)
        f = _qap_fun(A, B, perm)
        better = best is None or (f > best.fun if maximize else f < best.fun)
        if better:
            best = OptimizeResult(col_ind=perm, fun=f, nit=res.nit, n_inner=res.n_inner, fun_before_local_search=f0,
                                  M=res.M, method=method)
    return best


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
    opts, callback, (beta0, beta_max, beta_rate, inner_max, inner_tol, sk_iter, _, _, _, _,
                     hard_tol) = _engine_options(options)
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

    Returns an :class:`~scipy.optimize.OptimizeResult` with ``labels`` (row argmax), ``M``, ``fun``
    (E at the hard labels), ``nit``.
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
    res = assignment_annealing(qfun, (N, K), constraint="wta", method=method, M0=M0, options=options,
                               n_threads=n_threads)
    labels = res.M.argmax(axis=1)
    H = np.zeros((N, K))
    H[np.arange(N), labels] = 1
    if Cd is not None:
        fun = 0.5 * float(H.ravel() @ Cd @ H.ravel())
    else:
        fun = 0.5 * float(np.sum(np.asarray(qfun(H)) * H))
    return OptimizeResult(labels=labels, M=res.M, fun=fun, nit=res.nit, n_inner=res.n_inner, hard=res.hard,
                          method=method)
