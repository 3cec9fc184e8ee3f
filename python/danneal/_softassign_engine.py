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
from ._sinkhorn import _row_log_softmax
from ._threads import resolve_n_threads
from ._validation import as_float_array, check_float, check_int

__all__ = ["assignment_annealing"]

METHODS = (
    "graduated",
    "self_annealing",
    "self_annihilation",
    "relaxation_labeling",
    "exponentiated_relaxation",
    "relaxation_labeling_annihilation",
    "chi_squared",
)


# --------------------------------------------------------------------------------------------
# the generic annealer: one-way (WTA) or two-way (doubly stochastic) constraints
_DEFAULTS = {
    "beta0": 0.5,
    "beta_max": 10.0,
    "beta_rate": 1.075,
    "inner_max_iter": 30,
    "inner_tol": 1e-3,
    "sinkhorn_max_iter": 4,
    "sinkhorn_tol": 0.0,
    "alpha": 0.5,
    "delta": -0.5,
    "max_iter": 300,
    "hard_tol": 1e-3,
    "betas": None,
    "energy_tol": 0.0,
    "perm_norm_tol": 0.0,
    "positivity": "raise",
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
    if opts["positivity"] not in ("raise", "stop"):
        raise ValueError(f"positivity={opts['positivity']!r} must be 'raise' or 'stop'")
    return opts, callback, values


def _laplacian_solve(W, h):
    """Solve ``L eta = h`` for the graph Laplacian ``L`` with off-diagonal weights ``-W`` (W >= 0,
    symmetric, zero diagonal), ``eta[-1] = 0``, by Gaussian elimination in the form of Grassmann,
    Taksar and Heyman: each pivot is the sum of its node's remaining weights, never a difference, so
    weights many orders of magnitude apart (a nearly hard M) keep their relative accuracy.  The
    nodes are eliminated from the least to the most connected, so the equation left out (``L eta =
    h`` is singular and only consistent up to the rounding of ``sum(h)``) is the most connected
    node's, on whose scale that rounding is negligible.  An isolated node (no weight left) gets
    eta = 0."""
    order = np.argsort(np.asarray(W).sum(axis=1), kind="stable")
    W = np.array(W, dtype=np.float64)[np.ix_(order, order)]
    h = np.array(h, dtype=np.float64)[order]
    m = len(h)
    d = np.zeros(m)
    for k in range(m - 1):
        w = W[k, k + 1 :]
        d[k] = dk = w.sum()
        if not dk > 0:
            continue
        W[k + 1 :, k + 1 :] += np.outer(w, w) / dk
        W[k + 1 + np.arange(m - k - 1), k + 1 + np.arange(m - k - 1)] = 0.0  # no self loops
        h[k + 1 :] += w * (h[k] / dk)
    eta = np.zeros(m)
    for k in range(m - 2, -1, -1):
        if d[k] > 0:
            eta[k] = (h[k] + W[k, k + 1 :] @ eta[k + 1 :]) / d[k]
    out = np.empty(m)
    out[order] = eta
    return out


def _chi2_factor(M, Q, alpha, constraint="doubly_stochastic"):
    r"""The factor ``f`` of one chi-squared multiplicative step ``M <- M * f`` (Rangarajan 2000,
    eqs. 36-40; docs/softassign.md, "The χ² update").

    The step minimises, over matrices X with the row (and column) sums of :math:`\sigma = M`,

    .. math::

        -\sum_{ai} Q_{ai} X_{ai} + \frac{1}{2\alpha} \sum_{ai} \frac{(X_{ai} - \sigma_{ai})^2}{\sigma_{ai}},

    the self-annealing energy with its Kullback-Leibler proximal term replaced by its second-order
    (chi-squared) expansion.  Its stationary point (eq. 39) is :math:`X = \sigma \odot f`,
    :math:`f = 1 + \alpha Q - \nu 1^T - 1 \eta^T`, with the multipliers solved exactly (eq. 40)
    rather than replaced by a normalisation as in relaxation labeling.  One-way (``"wta"``, rows):
    :math:`f_{ai} = 1 + \alpha (Q_{ai} - \bar q_a)`, :math:`\bar q_a = \sum_j \sigma_{aj} Q_{aj} / s_a`.
    Two-way: :math:`\nu_a = \sum_i \sigma_{ai} (\alpha Q_{ai} - \eta_i) / s_a` and
    :math:`\eta` solves the Laplacian system :math:`L \eta = h` with weights
    :math:`W_{ij} = \sum_a \sigma_{ai} \sigma_{aj} / s_a` and
    :math:`h_i = \alpha \sum_j \sum_a \sigma_{ai} \sigma_{aj} (Q_{ai} - Q_{aj}) / s_a`, written so that
    no difference of nearly equal numbers is divided by a small one (``_laplacian_solve``).  The
    row and column sums of X are those of :math:`\sigma` (1 when M is feasible).  Positivity is not
    enforced: ``f`` may have entries :math:`\le 0`, which the caller must check (the paper: "has to
    be checked at each step").
    """
    S = np.asarray(M, dtype=np.float64)
    Q = np.asarray(Q, dtype=np.float64)
    if constraint == "columns":
        return _chi2_factor(S.T, Q.T, alpha, "wta").T
    s = S.sum(axis=1)
    if constraint == "wta":
        return 1.0 + alpha * (Q - (S * Q).sum(axis=1, keepdims=True) / s[:, None])
    Sd = S / s[:, None]
    W = S.T @ Sd
    np.fill_diagonal(W, 0.0)
    K = (S * Q).T @ Sd
    eta = _laplacian_solve(W, alpha * (K - K.T).sum(axis=1))
    nu = (S * (alpha * Q - eta[None, :])).sum(axis=1) / s
    return 1.0 + alpha * Q - nu[:, None] - eta[None, :]


def _chi2_step(M, Q, alpha, constraint="doubly_stochastic"):
    """One chi-squared step: ``M * _chi2_factor(M, Q, alpha, constraint)`` (not normalised further)."""
    return np.asarray(M, dtype=np.float64) * _chi2_factor(M, Q, alpha, constraint)


def assignment_annealing(
    qfun, shape, *, constraint="doubly_stochastic", method="graduated", M0=None, options=None, n_threads=None
):
    r"""Anneal soft assignments M (shape ``(n, m)``) to maximise a benefit whose gradient is ``qfun(M)``.

    This is the engine behind :func:`linear_assignment`, :func:`quadratic_assignment` and
    :func:`quadratic_labeling` (Gold & Rangarajan [1]_, Rangarajan [2]_).  ``qfun(M)`` returns
    :math:`Q = \partial E / \partial M` for a benefit ``E`` (e.g. ``Q = C M`` for a quadratic benefit).

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
        two-way constraints; with ``constraint="wta"`` the canonical relaxation labeling); needs
        ``1 + alpha Q > 0`` (see ``positivity``).
    ``exponentiated_relaxation``
        ``M <- normalise(M * exp(alpha Q(M)))``, one step per iteration.
    ``relaxation_labeling_annihilation``
        relaxation labeling with self annihilation (Rangarajan [2]_ Fig. 6; our reading of the
        garbled text): ``M <- normalise((M * (1 + alpha Q(M)))**kappa)``, kappa as above; breaks ties
        that plain relaxation labeling keeps.
    ``chi_squared``
        the chi-squared multiplicative update (Rangarajan [2]_ eq. 40, reconstructed from its
        derivation, eqs. 36-39: the KL proximal term of self annealing replaced by its chi-squared
        expansion :math:`\sum (M - \sigma)^2 / (2\sigma)`): ``M <- sigma * (1 + alpha (Q - lambda))``
        with :math:`\sigma` the current M and the Lagrange multipliers :math:`\lambda` solved
        exactly so that the constraints hold (one-way: :math:`\lambda_a = \sum_j \sigma_{aj} Q_{aj}`;
        two-way: an accurate Laplacian solve over the columns, O(n^3) in numpy), where relaxation
        labeling normalises instead; one step per iteration.  The update does not keep M positive
        (see ``positivity``).

    Parameters
    ----------
    qfun : callable
        ``qfun(M) -> Q``, an (n, m) array of finite values, the gradient of the benefit at M.
    shape : (n, m)
        Shape of M.
    constraint : {"doubly_stochastic", "wta", "columns"}
        ``"doubly_stochastic"``: rows and columns of a square M sum to 1 (Sinkhorn); ``"wta"``: rows
        sum to 1 (softmax over labels); ``"columns"``: columns sum to 1 (the paper's pseudo-code for
        relaxation labeling on the QAP; "hard" then means every column has an entry
        ``> 1 - hard_tol``).
    method : str
        One of the methods above.
    M0 : array of shape (n, m), optional
        Positive start (uniform by default).
    options : dict, optional
        ``beta0`` (0.5), ``beta_max`` (10), ``beta_rate`` (1.075), ``betas`` (an explicit increasing
        schedule for ``graduated``, e.g. ``alpha * arange(1, k)``), ``inner_max_iter`` (30),
        ``inner_tol`` (1e-3), ``sinkhorn_max_iter`` (4), ``sinkhorn_tol`` (0), ``alpha`` (0.5),
        ``delta`` (-0.5), ``max_iter`` (300 outer steps of the methods without a schedule),
        ``hard_tol`` (1e-3: stop when every row has an entry ``> 1 - hard_tol``; 0 disables it);
        the paper's stopping rules (0 = off): ``perm_norm_tol`` (stop when the permutation norm
        ``sum M (1 - M) / n`` is below it), ``energy_tol`` (stop when the energy ``1/2 <M, Q(M)>``
        of a quadratic benefit changes by less than it between outer steps); ``positivity``
        (``"raise"``: a ``ValueError`` when ``relaxation_labeling*`` meets ``1 + alpha Q <= 0`` or
        ``chi_squared`` an entry ``<= 0``; ``"stop"``: end the run there with the last valid M and
        ``stopped="positivity"``, as the paper runs relaxation labeling); ``callback(M, info)``
        called after every outer step.
    n_threads : int or None
        Threads of the Sinkhorn kernel (None or -1: all available cores).

    Returns
    -------
    res : :class:`~scipy.optimize.OptimizeResult`
        ``M`` (soft assignments), ``log_M``, ``nit`` (outer steps), ``n_inner`` (Q evaluations),
        ``betas`` (graduated), ``hard``, ``method``, ``constraint`` and ``stopped`` (``"hard"``,
        ``"positivity"``, ``"perm_norm"``, ``"energy"``, ``"schedule"`` or ``"max_iter"``).

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

    The chi-squared update keeps every row and column sum at 1 exactly:

    >>> res = assignment_annealing(lambda M: benefit, (2, 2), method="chi_squared", options={"alpha": 0.2})
    >>> res.M.round(2), res.stopped
    (array([[1., 0.],
           [0., 1.]]), 'hard')
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
    (
        opts,
        callback,
        (beta0, beta_max, beta_rate, inner_max, inner_tol, sk_iter, sk_tol, alpha, delta, max_iter, hard_tol),
    ) = _engine_options(options)
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

    def project(logK, scale_hint=1.0, exact=False):
        """Normalise exp(logK) (log domain; ``exact``: Sinkhorn to 1e-14); returns log M."""
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
        P, al, be, _st = _core.sinkhorn_log(
            K,
            1.0,
            ones_n,
            ones_m,
            np.zeros(n) if a0 is None else a0,
            np.zeros(m) if b0 is None else b0,
            10000 if exact else sk_iter,
            1e-14 if exact else sk_tol,
            0,
            nt,
        )
        state["alpha"], state["beta"] = al, be
        # log of the kernel's plan (computed stably as u Kt v) where it is a normal number: K + al + be
        # cancels catastrophically when K is large (its rounding, not the plan's, decides the sums);
        # the log-domain sum only where the plan underflows
        tiny = np.finfo(np.float64).tiny
        with np.errstate(divide="ignore"):
            lP = np.log(np.maximum(P, tiny))
        return np.where(P > tiny, lP, np.minimum(K + al[:, None] + be[None, :], np.log(tiny)))

    if method == "chi_squared":  # the update keeps the row/column sums of its start: start feasible
        logM = project(logM, exact=True)

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
            return "perm_norm"
        if energy_tol > 0:
            E = 0.5 * float(np.sum(M * Q))
            done = last["E"] is not None and abs(E - last["E"]) < energy_tol
            last["E"] = E
            return "energy" if done else None
        return None

    n_inner = 0
    nit = 0
    betas = []
    stopped = "schedule" if method == "graduated" else "max_iter"
    stop_at_negative = opts["positivity"] == "stop"
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
                stopped = "hard"
                break
            reason = stop_rule(M, Q)
            if reason:
                stopped = reason
                break
    else:
        annihilate = method in ("self_annihilation", "relaxation_labeling_annihilation")
        kappa = 1.0 / (1.0 + alpha * delta) if annihilate else 1.0
        for _ in range(max_iter):
            M = np.exp(logM)
            if nit > 0 and is_hard(M):
                stopped = "hard"
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
            elif method == "chi_squared":
                Q = Q_of(M)
                n_inner += 1
                f = _chi2_factor(M, Q, alpha, constraint)
                if not (f > 0).all():
                    if stop_at_negative:
                        stopped = "positivity"
                        break
                    i, j = np.unravel_index(int(np.argmin(f)), f.shape)
                    raise ValueError(
                        f"chi_squared needs positive entries, but the update multiplies M[{i}, {j}] by "
                        f"{float(f[i, j])!r} with alpha={alpha!r}; use a smaller alpha or "
                        "options['positivity']='stop'"
                    )
                logM = logM + np.log(f)  # log domain: entries far below the float range stay positive
            else:  # relaxation_labeling (with self annihilation: the power kappa)
                Q = Q_of(M)
                n_inner += 1
                g = 1.0 + alpha * Q
                if not (g > 0).all():
                    if stop_at_negative:
                        stopped = "positivity"
                        break
                    i, j = np.unravel_index(int(np.argmin(g)), g.shape)
                    raise ValueError(
                        f"relaxation_labeling needs 1 + alpha*Q > 0, but 1 + alpha*Q[{i}, {j}]="
                        f"{float(g[i, j])!r} with alpha={alpha!r}; use a smaller alpha, shift the benefit "
                        "or options['positivity']='stop'"
                    )
                logM = project(kappa * (log_sigma + np.log(g)))
            nit += 1
            if callback is not None:
                callback(np.exp(logM), {"nit": nit})
            reason = stop_rule(M, Q)
            if reason:
                stopped = reason
                break
    M = np.exp(logM)
    return OptimizeResult(
        M=M,
        log_M=logM,
        nit=nit,
        n_inner=n_inner,
        betas=np.array(betas),
        hard=is_hard(M),
        method=method,
        constraint=constraint,
        stopped=stopped,
    )
