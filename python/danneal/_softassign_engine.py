"""Softassign family, annealing engine: graduated assignment, self annealing / annihilation,
relaxation labeling, on one-way (WTA) or two-way (doubly stochastic) constraints.

References
----------
.. [1] S. Gold and A. Rangarajan, "A graduated assignment algorithm for graph matching",
   IEEE TPAMI 18(4), 1996.
.. [2] A. Rangarajan, "Self annealing and self annihilation: unifying deterministic annealing and
   relaxation labeling", Pattern Recognition 33, 2000.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import OptimizeResult

from . import _core
from ._threads import resolve_n_threads
from ._validation import as_float_array, check_float, check_int
from ._sinkhorn import _row_log_softmax

__all__ = ["assignment_annealing"]

METHODS = ("graduated", "self_annealing", "self_annihilation", "relaxation_labeling", "exponentiated_relaxation",
           "relaxation_labeling_annihilation")


# --------------------------------------------------------------------------------------------
# the generic annealer: one-way (WTA) or two-way (doubly stochastic) constraints
_DEFAULTS = {
    "beta0": 0.5, "beta_max": 10.0, "beta_rate": 1.075, "inner_max_iter": 30, "inner_tol": 1e-3,
    "sinkhorn_max_iter": 4, "sinkhorn_tol": 0.0, "alpha": 0.5, "delta": -0.5, "max_iter": 300,
    "hard_tol": 1e-3, "betas": None, "energy_tol": 0.0, "perm_norm_tol": 0.0,
}


def _check_options(options):
    if options is not None and not isinstance(options, dict):
        raise TypeError(f"options={options!r} must be a dict or None")


def _check_shape(shape):
    if not (isinstance(shape, (tuple, list)) and len(shape) == 2):
        raise ValueError(f"shape={shape!r} must be a pair (n, m) of positive ints")
    return tuple(check_int(s, "shape", low=1) for s in shape)


def _engine_options(options):
    """Merge ``options`` into the defaults and validate them.  Returns ``(opts, callback, values)``
    with ``values = (beta0, beta_max, beta_rate, inner_max_iter, inner_tol, sinkhorn_max_iter,
    sinkhorn_tol, alpha, delta, max_iter, hard_tol)``."""
    opts = dict(_DEFAULTS)
    callback = None
    _check_options(options)
    for k, v in (options or {}).items():
        if k == "callback":
            callback = v
            continue
        if k not in _DEFAULTS:
            raise ValueError(f"unknown option {k!r}; valid options: {sorted(_DEFAULTS) + ['callback']}")
        opts[k] = v
    beta0 = check_float(opts["beta0"], "beta0", low=0, low_inclusive=False)
    values = (
        beta0,
        check_float(opts["beta_max"], "beta_max", low=beta0),
        check_float(opts["beta_rate"], "beta_rate", low=1, low_inclusive=False),
        check_int(opts["inner_max_iter"], "inner_max_iter", low=1),
        check_float(opts["inner_tol"], "inner_tol", low=0),
        check_int(opts["sinkhorn_max_iter"], "sinkhorn_max_iter", low=1),
        check_float(opts["sinkhorn_tol"], "sinkhorn_tol", low=0),
        check_float(opts["alpha"], "alpha", low=0, low_inclusive=False),
        check_float(opts["delta"], "delta"),
        check_int(opts["max_iter"], "max_iter", low=0),
        check_float(opts["hard_tol"], "hard_tol", low=0, high=1),
    )
    check_float(opts["energy_tol"], "energy_tol", low=0)
    check_float(opts["perm_norm_tol"], "perm_norm_tol", low=0)
    return opts, callback, values


def assignment_annealing(qfun, shape, *, constraint="doubly_stochastic", method="graduated", M0=None,
                         options=None, n_threads=None):
    r"""Anneal soft assignments M (shape ``(n, m)``) to maximise a benefit whose gradient is ``qfun(M)``.

    This is the engine behind :func:`linear_assignment`, :func:`quadratic_assignment` and
    :func:`quadratic_labeling` (Gold & Rangarajan [1]_, Rangarajan [2]_).  ``qfun(M)`` returns
    :math:`Q = \partial E / \partial M` for a benefit ``E`` (e.g. ``Q = C M`` for a quadratic benefit).
    ``constraint`` is ``"doubly_stochastic"`` (Sinkhorn: rows and columns of a square M sum to 1)
    or ``"wta"`` (rows sum to 1: softmax over labels).

    Methods (every exponential is evaluated in the log domain):

    ``graduated``
        deterministic annealing: for :math:`\beta = \beta_0, \beta_0 \beta_r, \dots \le \beta_{max}`,
        iterate ``M <- normalise(exp(beta Q(M)))`` (at most ``inner_max_iter`` times, or until
        ``max |ΔM|`` < ``inner_tol``), Sinkhorn with ``sinkhorn_max_iter`` iterations warm-started.
    ``self_annealing``
        ``M <- normalise(sigma * exp(alpha Q(M)))`` to a fixed point, then ``sigma <- M``; no schedule.
        From a uniform start and a constant Q this equals ``graduated`` at :math:`\beta_n = n\alpha`.
    ``self_annihilation``
        as self annealing with :math:`\delta \sum M \log M` added (``-1/alpha < delta < 0``):
        ``M <- normalise((sigma * exp(alpha Q))**kappa)``, :math:`\kappa = 1/(1 + \alpha\delta)`.
    ``relaxation_labeling``
        ``M <- normalise(M * (1 + alpha Q(M)))`` (Sinkhorn in place of the row normalisation for
        two-way constraints); needs ``1 + alpha Q > 0`` (a ``ValueError`` otherwise).
    ``exponentiated_relaxation``
        ``M <- normalise(M * exp(alpha Q(M)))``, one step per iteration.
    ``relaxation_labeling_annihilation``
        relaxation labeling with self annihilation (Rangarajan [2]_ Fig. 6; our reading of the
        garbled text): ``M <- normalise((M * (1 + alpha Q(M)))**kappa)``, kappa as above; breaks ties
        that plain relaxation labeling keeps.

    ``constraint="columns"`` normalises the columns only (the paper's pseudo-code for relaxation
    labeling on the QAP); M then needs no square shape, and "hard" means every column has an entry
    ``> 1 - hard_tol``.  Stopping rules of the paper (options, 0 = off): ``perm_norm_tol`` stops
    when the permutation norm ``sum M (1 - M) / n`` is below it, ``energy_tol`` when the energy
    ``1/2 <M, Q(M)>`` (a quadratic benefit) changes by less than it between outer steps.

    Every method stops when M is hard (every row has an entry ``> 1 - hard_tol``; ``hard_tol=0``
    disables this), the graduated one also at ``beta_max``, the others after ``max_iter`` outer steps.  Options (defaults): ``beta0`` 0.5, ``beta_max`` 10, ``beta_rate``
    1.075, ``inner_max_iter`` 30, ``inner_tol`` 1e-3, ``sinkhorn_max_iter`` 4, ``sinkhorn_tol`` 0,
    ``alpha`` 0.5, ``delta`` -0.5, ``max_iter`` 300, ``hard_tol`` 1e-3, ``betas`` (an explicit
    increasing schedule for ``graduated``, e.g. ``alpha * arange(1, k)``), ``callback(M, info)``.

    Returns an :class:`~scipy.optimize.OptimizeResult` with ``M`` (soft assignments), ``log_M``,
    ``nit`` (outer steps), ``n_inner`` (Q evaluations), ``betas`` (graduated) and ``hard``.

    References
    ----------
    .. [1] S. Gold and A. Rangarajan, "A graduated assignment algorithm for graph matching",
           IEEE TPAMI 18(4):377-388, 1996.
    .. [2] A. Rangarajan, "Self-annealing and self-annihilation: unifying deterministic annealing
           and relaxation labeling", Pattern Recognition 33(4):635-649, 2000.

    Examples
    --------
    A constant gradient ``Q`` is a linear assignment problem; the annealing ends in the
    permutation that maximises the benefit:

    >>> import numpy as np
    >>> from danneal import assignment_annealing
    >>> benefit = np.array([[3.0, 1.0], [1.0, 2.0]])
    >>> res = assignment_annealing(lambda M: benefit, (2, 2))
    >>> res.M.argmax(axis=1), bool(res.hard)
    (array([0, 1]), True)
    """
    if constraint not in ("doubly_stochastic", "wta", "columns"):
        raise ValueError(f"constraint={constraint!r} must be 'doubly_stochastic', 'wta' or 'columns'")
    if method not in METHODS:
        raise ValueError(f"method={method!r} must be one of {METHODS}")
    if not callable(qfun):
        raise TypeError("qfun must be callable: qfun(M) -> Q of the same shape as M")
    n, m = _check_shape(shape)
    if constraint == "doubly_stochastic" and n != m:
        raise ValueError(f"shape={tuple(shape)} must be square for constraint='doubly_stochastic'")
    opts, callback, (beta0, beta_max, beta_rate, inner_max, inner_tol, sk_iter, sk_tol, alpha, delta, max_iter,
                     hard_tol) = _engine_options(options)
    if method in ("self_annihilation", "relaxation_labeling_annihilation") and not (-1.0 / alpha < delta < 0):
        raise ValueError(f"delta={delta} must satisfy -1/alpha={-1.0 / alpha!r} < delta < 0 for {method}")
    energy_tol, perm_norm_tol = float(opts["energy_tol"]), float(opts["perm_norm_tol"])
    nt = resolve_n_threads(n_threads)

    if M0 is None:
        logM = np.full((n, m), -np.log(m))
    else:
        M0 = as_float_array(M0, "M0", ndim=2, dtype=np.float64)
        if M0.shape != (n, m):
            raise ValueError(f"M0: expected shape {(n, m)}, got {M0.shape}")
        if (M0 <= 0).any():
            i, j = np.argwhere(M0 <= 0)[0]
            raise ValueError(f"M0: entries must be > 0, got M0[{i}, {j}]={float(M0[i, j])!r}")
        logM = np.log(M0)
    ones_n, ones_m = np.ones(n), np.ones(m)
    state = {"alpha": None, "beta": None, "scale": 1.0}

    def project(logK, scale_hint=1.0):
        """Normalise exp(logK) (log domain); returns log M."""
        if constraint == "wta":
            return _row_log_softmax(logK)
        if constraint == "columns":
            return _row_log_softmax(logK.T).T
        a0 = state["alpha"]
        b0 = state["beta"]
        if a0 is not None:
            a0 = a0 * scale_hint
            b0 = b0 * scale_hint
        K = np.ascontiguousarray(logK)
        P, al, be, _st = _core.sinkhorn_log(K, 1.0, ones_n, ones_m,
                                            np.zeros(n) if a0 is None else a0,
                                            np.zeros(m) if b0 is None else b0, sk_iter, sk_tol, 0, nt)
        state["alpha"], state["beta"] = al, be
        # log of the kernel's plan (computed stably as u Kt v) where it is a normal number: K + al + be
        # cancels catastrophically when K is large (its rounding, not the plan's, decides the sums);
        # the log-domain sum only where the plan underflows
        tiny = np.finfo(np.float64).tiny
        with np.errstate(divide="ignore"):
            lP = np.log(np.maximum(P, tiny))
        return np.where(P > tiny, lP, np.minimum(K + al[:, None] + be[None, :], np.log(tiny)))

    def Q_of(M):
        Q = np.asarray(qfun(M), dtype=np.float64)
        if Q.shape != (n, m):
            raise ValueError(f"qfun returned shape {Q.shape}, expected {(n, m)}")
        if not np.isfinite(Q).all():
            raise ValueError("qfun returned NaN or inf")
        return Q

    def is_hard(M):
        return bool((M.max(axis=0 if constraint == "columns" else 1) > 1 - hard_tol).all())

    last = {"E": None}

    def stop_rule(M, Q):
        """The paper's stopping rules: permutation norm sum M(1-M)/n and the change of the energy
        1/2 <M, Q(M)> (exact for a quadratic benefit, Q = C M) between outer steps."""
        if perm_norm_tol > 0 and float(np.sum(M * (1.0 - M))) / n < perm_norm_tol:
            return True
        if energy_tol > 0:
            E = 0.5 * float(np.sum(M * Q))
            done = last["E"] is not None and abs(E - last["E"]) < energy_tol
            last["E"] = E
            return done
        return False

    n_inner = 0
    nit = 0
    betas = []
    schedule = opts["betas"]
    if schedule is not None:
        schedule = as_float_array(schedule, "betas", ndim=1, dtype=np.float64)
        if (schedule <= 0).any():
            raise ValueError("betas: every inverse temperature must be > 0")
    if method == "graduated":
        if schedule is None:
            k = int(np.floor(np.log(beta_max / beta0) / np.log(beta_rate) + 1e-12))
            schedule = beta0 * beta_rate ** np.arange(k + 1)
        prev_beta = None
        for beta in schedule:
            beta = float(beta)
            betas.append(beta)
            hint = 1.0 if prev_beta is None else beta / prev_beta
            for _ in range(inner_max):
                M = np.exp(logM)
                Q = Q_of(M)
                n_inner += 1
                new = project(beta * Q, hint)
                hint = 1.0
                change = float(np.abs(np.exp(new) - M).max())
                logM = new
                if change < inner_tol:
                    break
            nit += 1
            if callback is not None:
                callback(np.exp(logM), {"beta": beta, "nit": nit})
            prev_beta = beta
            if hard_tol > 0 and is_hard(np.exp(logM)):
                break
            if stop_rule(M, Q):
                break
    else:
        annihilate = method in ("self_annihilation", "relaxation_labeling_annihilation")
        kappa = 1.0 / (1.0 + alpha * delta) if annihilate else 1.0
        for _ in range(max_iter):
            M = np.exp(logM)
            if nit > 0 and is_hard(M):
                break
            log_sigma = logM
            if method in ("self_annealing", "self_annihilation"):
                for _ in range(inner_max):
                    Q = Q_of(M)
                    n_inner += 1
                    new = project(kappa * (log_sigma + alpha * Q))
                    Mn = np.exp(new)
                    change = float(np.abs(Mn - M).max())
                    logM, M = new, Mn
                    if change < inner_tol:
                        break
            elif method == "exponentiated_relaxation":
                Q = Q_of(M)
                n_inner += 1
                logM = project(log_sigma + alpha * Q)
            else:  # relaxation_labeling (with self annihilation: the power kappa)
                Q = Q_of(M)
                n_inner += 1
                g = 1.0 + alpha * Q
                if not (g > 0).all():
                    i, j = np.unravel_index(int(np.argmin(g)), g.shape)
                    raise ValueError(f"relaxation_labeling needs 1 + alpha*Q > 0, but 1 + alpha*Q[{i}, {j}]="
                                     f"{float(g[i, j])!r} with alpha={alpha}; use a smaller alpha or shift the benefit")
                logM = project(kappa * (log_sigma + np.log(g)))
            nit += 1
            if callback is not None:
                callback(np.exp(logM), {"nit": nit})
            if stop_rule(M, Q):
                break
    M = np.exp(logM)
    return OptimizeResult(M=M, log_M=logM, nit=nit, n_inner=n_inner, betas=np.array(betas), hard=is_hard(M),
                          method=method, constraint=constraint)
