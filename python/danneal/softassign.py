"""Softassign family: log-domain Sinkhorn, softassign, graduated assignment, self annealing, relaxation labeling.

References
----------
.. [1] S. Gold and A. Rangarajan, "A graduated assignment algorithm for graph matching",
   IEEE TPAMI 18(4), 1996.
.. [2] A. Rangarajan, "Self annealing and self annihilation: unifying deterministic annealing and
   relaxation labeling", Pattern Recognition 33, 2000.
.. [3] M. Cuturi, "Sinkhorn distances: lightspeed computation of optimal transport", NeurIPS 2013.
.. [4] B. Schmitzer, "Stabilized sparse scaling algorithms for entropy regularized transport
   problems", SIAM J. Sci. Comput. 41(3), 2019.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from scipy.optimize import OptimizeResult, linear_sum_assignment
from sklearn.exceptions import ConvergenceWarning

from . import _core
from ._threads import resolve_n_threads
from ._validation import as_float_array, check_float, check_int

__all__ = [
    "sinkhorn",
    "softassign",
    "softmax_wta",
    "linear_assignment",
    "assignment_annealing",
    "quadratic_assignment",
    "quadratic_labeling",
]

_NORMS = {"max": 0, "l2": 2}
METHODS = ("graduated", "self_annealing", "self_annihilation", "relaxation_labeling", "exponentiated_relaxation")


# --------------------------------------------------------------------------------------------
# validation helpers
def _marginal(x, name, size, default_total):
    if x is None:
        return np.full(size, default_total / size)
    x = as_float_array(x, name, ndim=1, dtype=np.float64)
    if x.shape[0] != size:
        raise ValueError(f"{name}: expected shape ({size},), got {x.shape}")
    if (x < 0).any():
        i = int(np.flatnonzero(x < 0)[0])
        raise ValueError(f"{name}: marginals must be >= 0, got {name}[{i}]={float(x[i])!r}")
    if not x.sum() > 0:
        raise ValueError(f"{name}: marginals must have a positive sum, got sum={float(x.sum())!r}")
    return x


def _check_sums(a, b):
    sa, sb = float(a.sum()), float(b.sum())
    if abs(sa - sb) > 1e-6 * max(sa, sb):
        raise ValueError(f"a and b must have the same sum, got sum(a)={sa!r} and sum(b)={sb!r}")


def _norm_code(norm):
    if norm not in _NORMS:
        raise ValueError(f"norm={norm!r} must be one of {sorted(_NORMS)}")
    return _NORMS[norm]


def _run_sinkhorn(C, scale, a, b, alpha0, beta0, max_iter, tol, norm, n_threads):
    """Kernel call on the positive-mass rows/columns; zero-mass rows/columns get a zero plan."""
    n, m = C.shape
    ri, ci = np.flatnonzero(a > 0), np.flatnonzero(b > 0)
    full = ri.size == n and ci.size == m
    Cs = C if full else np.ascontiguousarray(C[np.ix_(ri, ci)])
    a0 = np.zeros(ri.size) if alpha0 is None else np.ascontiguousarray(alpha0[ri], dtype=np.float64)
    b0 = np.zeros(ci.size) if beta0 is None else np.ascontiguousarray(beta0[ci], dtype=np.float64)
    P, al, be, st = _core.sinkhorn_log(Cs, float(scale), np.ascontiguousarray(a[ri]), np.ascontiguousarray(b[ci]),
                                       a0, b0, int(max_iter), float(tol), norm, n_threads)
    if full:
        return P, al, be, st
    Pf = np.zeros((n, m), dtype=C.dtype)
    Pf[np.ix_(ri, ci)] = P
    alf = np.full(n, -np.inf)
    bef = np.full(m, -np.inf)
    alf[ri], bef[ci] = al, be
    return Pf, alf, bef, st


def _with_dustbin(M, a, b, value, sign):
    """Append a dustbin row and column with constant entry ``value`` (in the units of M)."""
    n, m = M.shape
    out = np.empty((n + 1, m + 1), dtype=M.dtype)
    out[:n, :m] = M
    out[n, :] = value
    out[:, m] = value
    a2 = np.append(a, b.sum())
    b2 = np.append(b, a.sum())
    return out, a2, b2


def _warm(init, n, m, scale):
    if init is None:
        return None, None
    if not (isinstance(init, (tuple, list)) and len(init) == 2):
        raise TypeError("init must be a pair (f, g) of dual potentials, as returned in log['f'], log['g']")
    f = as_float_array(init[0], "init[0]", ndim=1, dtype=np.float64)
    g = as_float_array(init[1], "init[1]", ndim=1, dtype=np.float64)
    if f.shape[0] != n or g.shape[0] != m:
        raise ValueError(f"init: expected duals of shapes ({n},) and ({m},), got {f.shape} and {g.shape}")
    return f * scale, g * scale


def _sinkhorn_core(M, scale, unit, a, b, tol, max_iter, log, norm, init, dustbin, n_threads, warn, log_plan,
                   who):
    n, m = M.shape
    a = _marginal(a, "a", n, 1.0)
    b = _marginal(b, "b", m, 1.0 if a is None else float(a.sum()))
    _check_sums(a, b)
    tol = check_float(tol, "tol", low=0)
    max_iter = check_int(max_iter, "max_iter", low=0)
    code = _norm_code(norm)
    nt = resolve_n_threads(n_threads)
    if dustbin is not None:
        dustbin = check_float(dustbin, "dustbin")
        M, a, b = _with_dustbin(M, a, b, dustbin, 1)
        if init is not None:
            raise ValueError("init cannot be combined with dustbin")
    # duals are reported in the units of M: f = unit * alpha, with alpha the log-domain dual
    alpha0, beta0 = _warm(init, M.shape[0], M.shape[1], 1.0 / unit)
    # The kernel solves the problem for the marginals divided by their total mass, so that tol (an
    # absolute bound on the kernel's marginal error) is relative to the mass: a tiny total mass no
    # longer lets any plan pass.  P scales with the mass; the mass goes into the row duals.
    mass = float(a.sum())
    log_mass = float(np.log(mass))
    fi = np.finfo(M.dtype)
    if not mass <= float(fi.max):
        raise ValueError(f"a, b: total mass {mass:.3g} overflows the {M.dtype} plan (max {float(fi.max):.3g}); "
                         "rescale the marginals or pass a float64 cost")
    for name, x in (("a", a), ("b", b)):
        small = float(x[x > 0].min())
        if small < float(fi.tiny):
            raise ValueError(f"{name}: marginal {small:.3g} is below the smallest normal {M.dtype} "
                             f"({float(fi.tiny):.3g}), where the plan loses its relative precision; rescale the "
                             "marginals or pass a float64 cost")
    if alpha0 is not None:
        alpha0 = alpha0 - log_mass
    P, al, be, st = _run_sinkhorn(M, scale, a / mass, b / mass, alpha0, beta0, max_iter, tol, code, nt)
    with np.errstate(over="ignore"):
        P = (P * P.dtype.type(mass)) if mass != 1.0 else P
    al = al + log_mass
    if warn and not st["converged"] and tol > 0:
        warnings.warn(f"{who}: did not converge in max_iter={max_iter} iterations (marginal error "
                      f"{st['error']:.3g} >= tol={tol:g}, relative to the total mass); increase max_iter or reg",
                      ConvergenceWarning, stacklevel=3)
    if log_plan:
        with np.errstate(invalid="ignore", over="ignore"):
            out = (scale * M.astype(np.float64) + al[:, None] + be[None, :])
        out = np.where(np.isnan(out), -np.inf, out)
        # where the plan is a normal number take its log: it was computed stably (u Kt v), while
        # scale*M + al + be cancels catastrophically when scale*M is large
        tiny = np.finfo(P.dtype).tiny
        with np.errstate(divide="ignore"):
            out = np.where(P > tiny, np.log(np.maximum(P, tiny).astype(np.float64)), out).astype(M.dtype)
    else:
        out = P
    if dustbin is not None and not log:
        out = out[:n, :m]
    if not log:
        return out
    info = {"f": unit * al, "g": unit * be, "log_u": al, "log_v": be, "n_iter": int(st["iterations"]),
            "err": float(st["error"]), "converged": bool(st["converged"])}
    if dustbin is not None:
        info["plan_with_dustbin"] = out
        out = out[:n, :m]
    return out, info


# --------------------------------------------------------------------------------------------
# Sinkhorn and softassign
def sinkhorn(cost, a=None, b=None, reg=1e-1, *, tol=1e-9, max_iter=1000, log=False, norm="l2", init=None,
             dustbin=None, log_plan=False, warn=True, n_threads=None):
    r"""Entropic optimal transport by log-stable Sinkhorn iterations.

    Solves (same problem and meaning as POT's ``ot.sinkhorn(a, b, M, reg)``)

    .. math::
        \min_{P \ge 0,\ P 1 = a,\ P^T 1 = b} \langle P, C\rangle + \mathrm{reg} \sum_{ij} P_{ij}(\log P_{ij} - 1)

    whose solution is :math:`P = \mathrm{diag}(e^{f/\mathrm{reg}})\, e^{-C/\mathrm{reg}}\, \mathrm{diag}(e^{g/\mathrm{reg}})`.

    Each iteration costs one streaming pass over an n x m array without exponentials (stabilised
    scaling, [4]_); the scalings are absorbed into the log-domain duals, with exact log-sum-exp
    updates, whenever they leave a safe range, so the plan is finite at any ``reg`` and in float32.

    Parameters
    ----------
    cost : array of shape (n, m), float32 or float64 (integers become float64)
    a, b : arrays of shape (n,), (m,), optional
        Non-negative marginals with equal positive sums; uniform (summing to 1) by default.
    reg : float > 0
        Entropic regularisation.
    tol : float >= 0
        Stop when the marginal violation of the plan, relative to the total mass, is below ``tol``:
        ``||P 1 - a|| < tol * sum(a)`` (``tol=0``: run ``max_iter`` iterations).  As in POT, the
        violation of the marginal not enforced last (here the rows; the columns are then exact) in
        the ``norm`` given; unlike POT the bound scales with the marginals, so that it means the
        same for a total mass of 1e-13 as for 1.
    max_iter : int >= 0
    log : bool
        Also return a dict with the duals ``f``, ``g`` (``log_u = f/reg``, ``log_v = g/reg``),
        ``n_iter``, ``err`` (the marginal violation relative to the total mass, as ``tol``) and
        ``converged``.  Zero-mass rows/columns have ``-inf`` duals.
    norm : {"l2", "max"}
        Norm of the marginal violation ("l2" as in POT).
    init : (f, g), optional
        Warm start from the duals of an earlier call (e.g. at a larger ``reg``: ε-scaling).
    dustbin : float, optional
        Partial matching: add a dustbin row and column with this cost and masses ``sum(b)`` and
        ``sum(a)``; mass sent there is unmatched.  The returned plan is the n x m part
        (``log["plan_with_dustbin"]`` holds the full one).
    log_plan : bool
        Return ``log(P)`` (``-inf`` where the plan is zero) instead of ``P``.
    warn : bool
        Emit a :class:`~sklearn.exceptions.ConvergenceWarning` when ``tol`` is not reached.
    n_threads : int or None
        Threads (None or -1: all available cores).

    Returns
    -------
    P : array of shape (n, m), dtype of ``cost``
    log : dict, only if ``log=True``

    Examples
    --------
    >>> import numpy as np, danneal
    >>> P = danneal.sinkhorn(np.array([[0.0, 1.0], [1.0, 0.0]]), reg=0.1)
    >>> np.round(P, 4)
    array([[0.5, 0. ],
           [0. , 0.5]])

    References
    ----------
    .. [4] B. Schmitzer, "Stabilized sparse scaling algorithms for entropy regularized transport
           problems", SIAM J. Sci. Comput. 41(3), 2019.
    """
    C = as_float_array(cost, "cost", ndim=2)
    reg = check_float(reg, "reg", low=0, low_inclusive=False)
    return _sinkhorn_core(C, -1.0 / reg, reg, a, b, tol, max_iter, log, norm, init, dustbin, n_threads, warn,
                          log_plan, "sinkhorn")


def softassign(benefit, beta, a=None, b=None, *, tol=1e-9, max_iter=1000, log=False, norm="max", init=None,
               dustbin=None, warn=True, n_threads=None):
    r"""Softassign: the matrix with marginals ``a``, ``b`` closest to :math:`\exp(\beta\,\mathrm{benefit})`.

    For a square benefit and default marginals the result is doubly stochastic; as
    :math:`\beta \to \infty` it tends to the permutation maximising :math:`\sum_i \mathrm{benefit}_{i\pi(i)}`
    (Gold & Rangarajan [1]_).  Same machinery as :func:`sinkhorn` with ``cost = -benefit`` and
    ``reg = 1/beta``; ``dustbin`` is a benefit here.  Rectangular inputs default to rows summing to 1
    and columns to ``n/m``.

    Returns the plan (and, with ``log=True``, a dict whose duals are in benefit units).

    References
    ----------
    .. [1] S. Gold and A. Rangarajan, "A graduated assignment algorithm for graph matching",
           IEEE TPAMI 18(4):377-388, 1996.

    Examples
    --------
    >>> import numpy as np
    >>> from danneal import softassign
    >>> softassign(np.array([[3.0, 1.0], [1.0, 2.0]]), beta=2.0, n_threads=1).round(3)
    array([[0.953, 0.047],
           [0.047, 0.953]])
    """
    Bm = as_float_array(benefit, "benefit", ndim=2)
    beta = check_float(beta, "beta", low=0, low_inclusive=False)
    n, m = Bm.shape
    if a is None and b is None:
        a, b = np.ones(n), np.full(m, n / m)
    return _sinkhorn_core(Bm, beta, 1.0 / beta, a, b, tol, max_iter, log, norm, init, dustbin, n_threads, warn,
                          False, "softassign")


def softmax_wta(benefit, beta, *, n_threads=None):
    r"""Soft winner-take-all: row softmax of :math:`\beta\,\mathrm{benefit}` (one-way constraint, rows sum to 1).

    Log domain (max-subtracted), so it never overflows; tends to the row argmax as :math:`\beta \to \infty`.

    Examples
    --------
    >>> import numpy as np
    >>> from danneal import softmax_wta
    >>> softmax_wta(np.array([[3.0, 1.0], [1.0, 2.0]]), beta=1.0, n_threads=1).round(3)
    array([[0.881, 0.119],
           [0.269, 0.731]])
    """
    Bm = as_float_array(benefit, "benefit", ndim=2)
    beta = check_float(beta, "beta", low=0, low_inclusive=False)
    H, T = -Bm, 1.0 / beta
    if not np.isfinite(T):  # beta < ~5.6e-309: softmax(beta B) = softmax(-(2^-64 B) / (2^-64 / beta))
        H, T = H * Bm.dtype.type(2.0 ** -64), 2.0 ** -64 / beta
    P, _, _ = _core.softmax_rows(np.ascontiguousarray(H), T, resolve_n_threads(n_threads))
    return P


def _row_log_softmax(x):
    """``x - LSE(x)`` per row, as ``(x - max) - log s``: subtracting the max first keeps the rows
    normalised however large it is (``x - (max + log s)`` loses ``log s`` for a large max)."""
    y = x - x.max(axis=1, keepdims=True)
    return y - np.log(np.exp(y).sum(axis=1))[:, None]


# --------------------------------------------------------------------------------------------
# the generic annealer: one-way (WTA) or two-way (doubly stochastic) constraints
_DEFAULTS = {
    "beta0": 0.5, "beta_max": 10.0, "beta_rate": 1.075, "inner_max_iter": 30, "inner_tol": 1e-3,
    "sinkhorn_max_iter": 4, "sinkhorn_tol": 0.0, "alpha": 0.5, "delta": -0.5, "max_iter": 300,
    "hard_tol": 1e-3, "betas": None,
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
    if constraint not in ("doubly_stochastic", "wta"):
        raise ValueError(f"constraint={constraint!r} must be 'doubly_stochastic' or 'wta'")
    if method not in METHODS:
        raise ValueError(f"method={method!r} must be one of {METHODS}")
    if not callable(qfun):
        raise TypeError("qfun must be callable: qfun(M) -> Q of the same shape as M")
    n, m = _check_shape(shape)
    if constraint == "doubly_stochastic" and n != m:
        raise ValueError(f"shape={tuple(shape)} must be square for constraint='doubly_stochastic'")
    opts, callback, (beta0, beta_max, beta_rate, inner_max, inner_tol, sk_iter, sk_tol, alpha, delta, max_iter,
                     hard_tol) = _engine_options(options)
    if method == "self_annihilation" and not (-1.0 / alpha < delta < 0):
        raise ValueError(f"delta={delta} must satisfy -1/alpha={-1.0 / alpha:g} < delta < 0 for self_annihilation")
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
        return bool((M.max(axis=1) > 1 - hard_tol).all())

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
    else:
        kappa = 1.0 / (1.0 + alpha * delta) if method == "self_annihilation" else 1.0
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
            else:  # relaxation_labeling
                Q = Q_of(M)
                n_inner += 1
                g = 1.0 + alpha * Q
                if not (g > 0).all():
                    i, j = np.unravel_index(int(np.argmin(g)), g.shape)
                    raise ValueError(f"relaxation_labeling needs 1 + alpha*Q > 0, but 1 + alpha*Q[{i}, {j}]="
                                     f"{g[i, j]:.6g} with alpha={alpha}; use a smaller alpha or shift the benefit")
                logM = project(log_sigma + np.log(g))
            nit += 1
            if callback is not None:
                callback(np.exp(logM), {"nit": nit})
    M = np.exp(logM)
    return OptimizeResult(M=M, log_M=logM, nit=nit, n_inner=n_inner, betas=np.array(betas), hard=is_hard(M),
                          method=method, constraint=constraint)


# --------------------------------------------------------------------------------------------
# linear assignment
def linear_assignment(cost, *, maximize=False, method="graduated", options=None, return_plan=False, n_threads=None):
    r"""Optimal linear assignment, with the annealed softassign plan on request.

    The assignment returned is always optimal: it is computed by
    :func:`scipy.optimize.linear_sum_assignment` (a shortest augmenting path method) on ``cost``
    itself, so square and rectangular costs, ties and forbidden pairs (``+inf`` when minimising,
    ``-inf`` when maximising) behave exactly as in scipy.  An earlier version read the permutation
    off the annealed plan instead, which is not optimal when the annealing stops before the plan
    is hard (it returned assignments up to 30 % worse on random 200 x 200 costs).

    With ``return_plan=True`` the soft plan :math:`M(\beta) = \mathrm{softassign}(-\mathrm{cost}/s, \beta)`
    (``s`` = the spread of the finite costs, so the schedule is scale free; square finite costs
    only) is annealed with ``method`` (see :func:`assignment_annealing`; default schedule
    ``beta0=1``, ``beta_rate=1.5``, ``beta_max=1e4``, one fixed point per β since Q does not depend
    on M) and returned as a third value.

    Returns ``(row_ind, col_ind)`` like :func:`scipy.optimize.linear_sum_assignment` (plus the soft
    plan if ``return_plan``).

    Examples
    --------
    >>> import numpy as np
    >>> from danneal import linear_assignment
    >>> cost = np.array([[4.0, 1.0, 3.0], [2.0, 0.0, 5.0], [3.0, 2.0, 2.0]])
    >>> row, col = linear_assignment(cost)
    >>> col, float(cost[row, col].sum())
    (array([1, 0, 2]), 5.0)
    """
    forbidden = -np.inf if maximize else np.inf
    C = as_float_array(cost, "cost", ndim=2, dtype=np.float64, finite=False)
    if np.isnan(C).any():
        raise ValueError("cost: contains NaN")
    bad = np.isinf(C) & (C != forbidden)
    if bad.any():
        raise ValueError(f"cost: contains {-forbidden} (only {forbidden} marks a forbidden pair when "
                         f"maximize={maximize})")
    n, m = C.shape
    try:
        row, col = linear_sum_assignment(C, maximize=bool(maximize))
    except ValueError as exc:  # scipy: "cost matrix is infeasible"
        raise ValueError(f"cost: no complete assignment avoids the forbidden ({forbidden}) pairs ({exc})") from None
    if not return_plan:
        return row, col
    if n != m or np.isinf(C).any():
        raise ValueError(f"return_plan=True needs a square, finite cost, got shape {C.shape}")
    spread = float(C.max() - C.min())
    s = spread if spread > 0 else 1.0
    Q = (C if maximize else -C) / s
    opts = {"beta0": 1.0, "beta_rate": 1.5, "beta_max": 1e4, "inner_max_iter": 1, "sinkhorn_max_iter": 1000,
            "sinkhorn_tol": 1e-9}
    opts.update(options or {})
    res = assignment_annealing(lambda M: Q, (n, m), method=method, options=opts, n_threads=n_threads)
    return row, col, res.M


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
