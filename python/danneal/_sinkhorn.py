"""Softassign family, Sinkhorn part: log-stable Sinkhorn (entropic optimal transport), softassign, soft WTA.

The public names are re-exported by :mod:`danneal`; this private module is named differently from
the function :func:`danneal.softassign` so that ``danneal.softassign`` is only the function.

References
----------
.. [1] S. Gold and A. Rangarajan, "A graduated assignment algorithm for graph matching",
   IEEE TPAMI 18(4), 1996.
.. [3] M. Cuturi, "Sinkhorn distances: lightspeed computation of optimal transport", NeurIPS 2013.
.. [4] B. Schmitzer, "Stabilized sparse scaling algorithms for entropy regularized transport
   problems", SIAM J. Sci. Comput. 41(3), 2019.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from . import _core
from ._threads import resolve_n_threads
from ._validation import as_float_array, check_float, check_int

__all__ = ["sinkhorn", "sinkhorn_batch", "sinkhorn_unbalanced", "softassign", "softmax_wta"]

_NORMS = {"max": 0, "l2": 2}


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
    P, al, be, st = _core.sinkhorn_log(
        Cs,
        float(scale),
        np.ascontiguousarray(a[ri]),
        np.ascontiguousarray(b[ci]),
        a0,
        b0,
        int(max_iter),
        float(tol),
        norm,
        n_threads,
    )
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


def _eps_schedule(M, unit, eps_scaling):
    """Regularisations (in the units of M) of the ε-scaling stages before the requested ``unit``:
    from the spread of the finite costs down by ``eps_scaling`` per stage (empty: no scaling)."""
    if eps_scaling is None or eps_scaling is False:
        return []
    factor = 4.0 if eps_scaling is True else check_float(eps_scaling, "eps_scaling", low=1, low_inclusive=False)
    finite = M[np.isfinite(M)]
    spread = float(finite.max() - finite.min()) if finite.size else 0.0
    stages, r = [], spread
    while r > unit * factor and len(stages) < 200:
        stages.append(r)
        r /= factor
    return stages


def _sinkhorn_core(
    M, scale, unit, *, a, b, tol, max_iter, log, norm, init, dustbin, n_threads, warn, log_plan, who, eps_scaling=None
):
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
        raise ValueError(
            f"a, b: total mass {mass!r} overflows the {M.dtype} plan (max {float(fi.max)!r}); "
            "rescale the marginals or pass a float64 cost"
        )
    for name, x in (("a", a), ("b", b)):
        small = float(x[x > 0].min())
        if small < float(fi.tiny):
            raise ValueError(
                f"{name}: marginal {small!r} is below the smallest normal {M.dtype} "
                f"({float(fi.tiny)!r}), where the plan loses its relative precision; rescale the "
                "marginals or pass a float64 cost"
            )
    if alpha0 is not None:
        alpha0 = alpha0 - log_mass
    # ε-scaling: solve at larger regularisations first, each stage warm-starting the next one's
    # log-domain duals (alpha = f / reg: the potentials f are kept, alpha is rescaled)
    used, prev = 0, unit
    sign = 1.0 if scale > 0 else -1.0
    for r in _eps_schedule(M, unit, eps_scaling):
        if used >= max_iter:
            break
        if alpha0 is not None:
            alpha0, beta0 = alpha0 * (prev / r), beta0 * (prev / r)
        _, alpha0, beta0, st0 = _run_sinkhorn(
            M, sign / r, a / mass, b / mass, alpha0, beta0, max_iter - used, max(tol, 1e-3), code, nt
        )
        used += int(st0["iterations"])
        prev = r
    if used:
        alpha0, beta0 = alpha0 * (prev / unit), beta0 * (prev / unit)
    P, al, be, st = _run_sinkhorn(M, scale, a / mass, b / mass, alpha0, beta0, max_iter - used, tol, code, nt)
    st = dict(st, iterations=int(st["iterations"]) + used)
    with np.errstate(over="ignore"):
        P = (P * P.dtype.type(mass)) if mass != 1.0 else P
    al = al + log_mass
    if warn and not st["converged"] and tol > 0:
        warnings.warn(
            f"{who}: did not converge in max_iter={max_iter} iterations (marginal error "
            f"{float(st['error'])!r} >= tol={float(tol)!r}, relative to the total mass); increase max_iter or reg",
            ConvergenceWarning,
            stacklevel=3,
        )
    if log_plan:
        with np.errstate(invalid="ignore", over="ignore"):
            out = scale * M.astype(np.float64) + al[:, None] + be[None, :]
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
    info = {
        "f": unit * al,
        "g": unit * be,
        "log_u": al,
        "log_v": be,
        "n_iter": int(st["iterations"]),
        "err": float(st["error"]),
        "converged": bool(st["converged"]),
    }
    if dustbin is not None:
        info["plan_with_dustbin"] = out
        out = out[:n, :m]
    return out, info


# --------------------------------------------------------------------------------------------
# Sinkhorn and softassign
def sinkhorn(
    cost,
    a=None,
    b=None,
    reg=1e-1,
    *,
    tol=1e-9,
    max_iter=1000,
    log=False,
    norm="l2",
    init=None,
    dustbin=None,
    log_plan=False,
    warn=True,
    eps_scaling=None,
    n_threads=None,
):
    r"""Entropic optimal transport by log-stable Sinkhorn iterations.

    Solves (same problem and meaning as POT's ``ot.sinkhorn(a, b, M, reg)``)

    .. math::
        \min_{P \ge 0,\ P 1 = a,\ P^T 1 = b} \langle P, C\rangle + \mathrm{reg} \sum_{ij} P_{ij}(\log P_{ij} - 1)

    whose solution is
    :math:`P = \mathrm{diag}(e^{f/\mathrm{reg}})\, e^{-C/\mathrm{reg}}\, \mathrm{diag}(e^{g/\mathrm{reg}})`.

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
    eps_scaling : None, True or float > 1
        ε-scaling (deterministic annealing of the regulariser): solve first at ``reg`` = the spread of
        the costs, then at ``reg`` divided by ``eps_scaling`` (True: 4) per stage, each stage to a
        marginal error of ``max(tol, 1e-3)`` and warm-starting the next one's duals, and finally at
        the requested ``reg`` to ``tol``.  Far fewer iterations at small ``reg``.  ``max_iter`` and
        ``n_iter`` count the iterations of all stages.
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
    return _sinkhorn_core(
        C,
        -1.0 / reg,
        reg,
        a=a,
        b=b,
        tol=tol,
        max_iter=max_iter,
        log=log,
        norm=norm,
        init=init,
        dustbin=dustbin,
        n_threads=n_threads,
        warn=warn,
        log_plan=log_plan,
        who="sinkhorn",
        eps_scaling=eps_scaling,
    )


def softassign(
    benefit,
    beta,
    a=None,
    b=None,
    *,
    tol=1e-9,
    max_iter=1000,
    log=False,
    norm="max",
    init=None,
    dustbin=None,
    warn=True,
    n_threads=None,
):
    r"""Softassign: the matrix with marginals ``a``, ``b`` closest to :math:`\exp(\beta\,\mathrm{benefit})`.

    For a square benefit and default marginals the result is doubly stochastic; as
    :math:`\beta \to \infty` it tends to the permutation maximising :math:`\sum_i \mathrm{benefit}_{i\pi(i)}`
    (Gold & Rangarajan [1]_).  Same machinery as :func:`sinkhorn` with ``cost = -benefit`` and
    ``reg = 1/beta``; ``dustbin`` is a benefit here.  Rectangular inputs default to rows summing to 1
    and columns to ``n/m``.

    Parameters
    ----------
    benefit : array of shape (n, m), float32 or float64 (integers become float64)
        The benefit of each pair (larger is better).
    beta : float > 0
        Inverse temperature; ``reg = 1 / beta`` in :func:`sinkhorn`'s terms.
    a, b : arrays of shape (n,), (m,), optional
        Row and column sums (equal totals); default ones and ``n/m``.
    tol : float >= 0
        Marginal violation relative to the total mass at which to stop (as in :func:`sinkhorn`).
    max_iter : int >= 0
        Most Sinkhorn iterations.
    log : bool
        Also return :func:`sinkhorn`'s log dict, its duals in benefit units.
    norm : {"max", "l2"}
        Norm of the marginal violation.
    init : (f, g), optional
        Warm start from the duals of an earlier call.
    dustbin : float, optional
        Benefit of leaving a row or column unmatched (a dustbin row and column, as in
        :func:`sinkhorn`).
    warn : bool
        Emit a :class:`~sklearn.exceptions.ConvergenceWarning` when ``tol`` is not reached.
    n_threads : int or None
        Threads (None or -1: all available cores).

    Returns
    -------
    M : array of shape (n, m), dtype of ``benefit``
        The soft assignment (doubly stochastic for a square benefit and default marginals).
    log : dict, only if ``log=True``

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
    return _sinkhorn_core(
        Bm,
        beta,
        1.0 / beta,
        a=a,
        b=b,
        tol=tol,
        max_iter=max_iter,
        log=log,
        norm=norm,
        init=init,
        dustbin=dustbin,
        n_threads=n_threads,
        warn=warn,
        log_plan=False,
        who="softassign",
    )


def softmax_wta(benefit, beta, *, n_threads=None):
    r"""Soft winner-take-all: row softmax of :math:`\beta\,\mathrm{benefit}` (one-way constraint, rows sum to 1).

    Log domain (max-subtracted), so it never overflows; tends to the row argmax as :math:`\beta \to \infty`.
    The one-way constraint of winner-take-all and labeling problems (Rangarajan [1]_, Sec. 2).

    Parameters
    ----------
    benefit : array of shape (n, k), float32 or float64 (integers become float64)
    beta : float > 0
        Inverse temperature.
    n_threads : int or None
        Threads (None or -1: all available cores).

    Returns
    -------
    M : array of shape (n, k), dtype of ``benefit``
        :math:`M_{ai} = e^{\beta B_{ai}} / \sum_j e^{\beta B_{aj}}`; every row sums to 1.

    References
    ----------
    .. [1] A. Rangarajan, "Self-annealing and self-annihilation: unifying deterministic annealing
           and relaxation labeling", Pattern Recognition 33(4):635-649, 2000.

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
        H, T = H * Bm.dtype.type(2.0**-64), 2.0**-64 / beta
    P, _, _ = _core.softmax_rows(np.ascontiguousarray(H), T, resolve_n_threads(n_threads))
    return P


def _row_log_softmax(x):
    """``x - LSE(x)`` per row, as ``(x - max) - log s``: subtracting the max first keeps the rows
    normalised however large it is (``x - (max + log s)`` loses ``log s`` for a large max)."""
    y = x - x.max(axis=1, keepdims=True)
    return y - np.log(np.exp(y).sum(axis=1))[:, None]


def _batch_marginal(x, name, B, size):
    if x is None:
        return np.full((B, size), 1.0 / size)
    x = as_float_array(x, name, dtype=np.float64)
    if x.ndim == 1:
        x = np.broadcast_to(x, (B, x.shape[0]))
    if x.shape != (B, size):
        raise ValueError(f"{name}: expected shape ({size},) or ({B}, {size}), got {x.shape}")
    if not (x > 0).all():
        k, i = np.argwhere(~(x > 0))[0]
        raise ValueError(f"{name}: batched marginals must be > 0, got {name}[{k}, {i}]={float(x[k, i])!r}")
    return np.ascontiguousarray(x)


def sinkhorn_batch(
    cost, a=None, b=None, reg=1e-1, *, tol=1e-9, max_iter=1000, log=False, norm="l2", warn=True, n_threads=None
):
    r"""A stack of entropic OT problems (``cost`` of shape (B, n, m)) solved in one call.

    Each problem is :func:`sinkhorn`'s (same kernel, same stopping rule), solved on one thread; the
    problems are spread over ``n_threads`` threads, so a service answering many small requests pays
    one Python call.  A problem's result does not depend on the thread count.

    Parameters
    ----------
    cost : array of shape (B, n, m), float32 or float64 (integers become float64)
    a, b : arrays of shape (n,) or (B, n), (m,) or (B, m), optional
        Positive marginals (uniform, summing to 1, by default); each problem's ``a`` and ``b`` must
        have the same sum.
    reg : float > 0
        Entropic regularisation (the same for every problem).
    tol : float >= 0
        Per-problem stopping tolerance, as in :func:`sinkhorn`.
    max_iter : int >= 0
        Most iterations per problem.
    log : bool
        Also return a dict with ``f`` (B, n), ``g`` (B, m) (duals in the units of ``cost``),
        ``n_iter``, ``err``, ``converged`` (one per problem).
    norm : {"l2", "max"}
        Norm of the marginal violation.
    warn : bool
        Emit a :class:`~sklearn.exceptions.ConvergenceWarning` when a problem misses ``tol``.
    n_threads : int or None
        Threads (None or -1: all available cores).

    Returns
    -------
    P : array of shape (B, n, m), dtype of ``cost``
    log : dict, only if ``log=True``

    References
    ----------
    .. [1] M. Cuturi, "Sinkhorn distances: lightspeed computation of optimal transport", NeurIPS 2013.

    Examples
    --------
    >>> import numpy as np, danneal
    >>> costs = np.stack([[[0.0, 1.0], [1.0, 0.0]], [[1.0, 0.0], [0.0, 1.0]]])
    >>> P = danneal.sinkhorn_batch(costs, reg=0.1, n_threads=1)
    >>> P.shape, np.round(P[1], 4)
    ((2, 2, 2), array([[0. , 0.5],
           [0.5, 0. ]]))
    """
    C = as_float_array(cost, "cost", ndim=3)
    reg = check_float(reg, "reg", low=0, low_inclusive=False)
    tol = check_float(tol, "tol", low=0)
    max_iter = check_int(max_iter, "max_iter", low=0)
    code = _norm_code(norm)
    nt = resolve_n_threads(n_threads)
    B, n, m = C.shape
    if n == 0 or m == 0:
        raise ValueError(f"cost: empty problems of shape ({n}, {m})")
    A = _batch_marginal(a, "a", B, n)
    Bm = _batch_marginal(b, "b", B, m)
    ma, mb = A.sum(1), Bm.sum(1)
    bad = np.abs(ma - mb) > 1e-6 * np.maximum(ma, mb)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"a and b must have the same sum in every problem, got sum(a[{k}])={ma[k]!r} and sum(b[{k}])={mb[k]!r}"
        )
    P, al, be, its, errs, conv = _core.sinkhorn_batch(
        C, -1.0 / reg, A / ma[:, None], Bm / ma[:, None], max_iter, tol, code, nt
    )
    if not np.all(ma == 1.0):
        with np.errstate(over="ignore"):
            P = P * ma[:, None, None].astype(P.dtype)
        al = al + np.log(ma)[:, None]
    if warn and tol > 0 and not conv.all():
        k = int(np.flatnonzero(~conv)[0])
        warnings.warn(
            f"sinkhorn_batch: {int((~conv).sum())} of {B} problems did not converge in max_iter={max_iter} "
            f"iterations (problem {k}: marginal error {float(errs[k])!r} >= tol={float(tol)!r})",
            ConvergenceWarning,
            stacklevel=2,
        )
    if not log:
        return P
    return P, {"f": reg * al, "g": reg * be, "n_iter": its, "err": errs, "converged": conv}


def sinkhorn_unbalanced(
    cost,
    a=None,
    b=None,
    reg=1e-1,
    reg_m=1.0,
    *,
    tol=1e-9,
    max_iter=1000,
    log=False,
    init=None,
    reference="product",
    warn=True,
    n_threads=None,
):
    r"""Unbalanced entropic OT: marginals relaxed by KL penalties (POT's ``reg_m`` meaning), log domain.

    .. math::
        \min_{P \ge 0} \langle P, C\rangle + \mathrm{reg}\,\mathrm{KL}(P\,|\,R)
        + \mathrm{reg\_m}\,\mathrm{KL}(P 1\,|\,a) + \mathrm{reg\_m}\,\mathrm{KL}(P^T 1\,|\,b)

    with the reference measure :math:`R = a b^T` (``reference="product"``, POT's default ``c=None``)
    or :math:`R = 1` (``reference="uniform"``), as POT's
    ``ot.unbalanced.sinkhorn_unbalanced(a, b, M, reg, reg_m)``; solved (with :math:`C - \mathrm{reg}\log R`
    in place of C) by the
    log-domain iteration :math:`f_i \leftarrow \phi\,(\log a_i - \mathrm{LSE}_j(-C_{ij}/\mathrm{reg} + g_j))`
    (and the same for g) with :math:`\phi = \mathrm{reg\_m} / (\mathrm{reg\_m} + \mathrm{reg})`
    (``reg_m = inf``: balanced).  Finite at any ``reg``; ``a``, ``b`` need not have equal sums.
    Stops when the largest change of the log-domain duals in one iteration is below ``tol``.

    Parameters
    ----------
    cost : array of shape (n, m), float32 or float64 (integers become float64)
    a, b : arrays of shape (n,), (m,), optional
        Non-negative marginals (uniform, summing to 1, by default); their sums may differ.
    reg : float > 0
        Entropic regularisation.
    reg_m : float > 0 or inf
        Weight of the KL penalties on the marginals (``inf``: balanced OT).
    tol : float >= 0
        Stop when the largest change of the log-domain duals in one iteration is below it.
    max_iter : int >= 0
    log : bool
        Also return a dict with ``f``, ``g`` (duals in the units of ``cost``), ``log_u``, ``log_v``
        (f / reg, g / reg), ``n_iter``, ``err``, ``converged``.
    init : (f, g), optional
        Warm start from the duals of an earlier call.
    reference : {"product", "uniform"}
        The reference measure of the entropy: ``a b^T`` (POT's default) or 1.
    warn : bool
        Emit a :class:`~sklearn.exceptions.ConvergenceWarning` when ``tol`` is not reached.
    n_threads : int or None
        Threads (None or -1: all available cores).

    Returns
    -------
    P : array of shape (n, m), dtype of ``cost``
    log : dict, only if ``log=True``

    References
    ----------
    .. [1] L. Chizat, G. Peyré, B. Schmitzer, F.-X. Vialard, "Scaling algorithms for unbalanced
           optimal transport problems", Math. Comp. 87, 2018.

    Examples
    --------
    With a small ``reg_m`` the plan keeps less of the mass it would have to move far:

    >>> import numpy as np, danneal
    >>> C = np.array([[0.0, 4.0], [4.0, 0.0]])
    >>> P = danneal.sinkhorn_unbalanced(C, np.array([0.5, 0.5]), np.array([0.9, 0.1]), reg=0.1, reg_m=1.0,
    ...                                 n_threads=1)
    >>> bool(P.sum() < 1.0), bool(P[0, 1] < 1e-6)
    (True, True)
    """
    C = as_float_array(cost, "cost", ndim=2)
    n, m = C.shape
    reg = check_float(reg, "reg", low=0, low_inclusive=False)
    if not (isinstance(reg_m, numbers.Real) and not isinstance(reg_m, bool) and reg_m == np.inf):
        reg_m = check_float(reg_m, "reg_m", low=0, low_inclusive=False)
    tol = check_float(tol, "tol", low=0)
    max_iter = check_int(max_iter, "max_iter", low=0)
    nt = resolve_n_threads(n_threads)
    a = _marginal(a, "a", n, 1.0)
    b = _marginal(b, "b", m, 1.0)
    fi = 1.0 if reg_m == np.inf else reg_m / (reg_m + reg)
    if reference == "product":
        with np.errstate(divide="ignore"):
            lr = np.log(a)[:, None] + np.log(b)[None, :]
        C = np.where(np.isfinite(lr), C - reg * lr, C).astype(C.dtype)
    elif reference != "uniform":
        raise ValueError(f"reference={reference!r} must be 'product' or 'uniform'")
    alpha0, beta0 = _warm(init, n, m, 1.0 / reg)
    if alpha0 is None:
        alpha0, beta0 = np.zeros(n), np.zeros(m)
    P, al, be, st = _core.sinkhorn_unbalanced_log(
        C, -1.0 / reg, a, b, float(fi), np.ascontiguousarray(alpha0), np.ascontiguousarray(beta0), max_iter, tol, nt
    )
    if warn and tol > 0 and not st["converged"]:
        warnings.warn(
            f"sinkhorn_unbalanced: did not converge in max_iter={max_iter} iterations (dual change "
            f"{float(st['error'])!r} >= tol={float(tol)!r})",
            ConvergenceWarning,
            stacklevel=2,
        )
    if not log:
        return P
    return P, {
        "f": reg * al,
        "g": reg * be,
        "log_u": al,
        "log_v": be,
        "n_iter": int(st["iterations"]),
        "err": float(st["error"]),
        "converged": bool(st["converged"]),
    }
