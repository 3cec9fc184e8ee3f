"""POT-compatible entry points: ``from danneal import ot`` in place of ``import ot`` for Sinkhorn.

Same signatures, argument meanings and log keys as POT's (https://pythonot.github.io)
``ot.sinkhorn``/``ot.sinkhorn2``/``ot.unbalanced.sinkhorn_unbalanced`` for numpy inputs, computed
by danneal's log-stable kernels (:func:`danneal.sinkhorn`, :func:`danneal.sinkhorn_unbalanced`).
Differences: ``stopThr`` bounds the l2 marginal violation relative to the total mass (the same as
POT's absolute bound for marginals summing to 1), checked every iteration; ``log["err"]`` holds the
final violation only; 2-d ``b`` (several targets) is not supported.
"""

from __future__ import annotations

import numpy as np

from ._sinkhorn import sinkhorn as _sinkhorn
from ._sinkhorn import sinkhorn_unbalanced as _sinkhorn_unbalanced
from ._validation import as_float_array, check_float

__all__ = ["sinkhorn", "sinkhorn2", "sinkhorn_unbalanced"]

_METHODS = ("sinkhorn", "sinkhorn_log", "sinkhorn_stabilized", "sinkhorn_epsilon_scaling")


def _marg(x, size):
    if x is None or (hasattr(x, "__len__") and len(x) == 0):
        return None
    x = np.asarray(x)
    if x.ndim == 2:
        raise ValueError(f"a, b: 2-d marginals (several targets) are not supported, got shape {x.shape}")
    return x


def _pot_log(info, reg):
    log_u, log_v = info["f"] / reg, info["g"] / reg
    with np.errstate(over="ignore"):
        u, v = np.exp(log_u), np.exp(log_v)
    # the keys of POT's sinkhorn_knopp / sinkhorn_log and, for method="sinkhorn_stabilized", its
    # absorbed potentials alpha, beta (= f, g here: everything is absorbed) and warmstart
    return {
        "u": u,
        "v": v,
        "log_u": log_u,
        "log_v": log_v,
        "err": [info["err"]],
        "niter": info["n_iter"],
        "n_iter": info["n_iter"],
        "logu": log_u,
        "logv": log_v,
        "alpha": info["f"],
        "beta": info["g"],
        "warmstart": (info["f"], info["g"]),
    }


def sinkhorn(
    a,
    b,
    M,
    reg,
    method="sinkhorn",
    numItermax=1000,
    stopThr=1e-9,
    verbose=False,
    log=False,
    warn=True,
    warmstart=None,
    eps_scaling=None,
    n_threads=None,
    **kwargs,
):
    r"""Entropic OT plan, as POT's ``ot.sinkhorn(a, b, M, reg)``.

    ``a``, ``b``: marginals (empty list or None: uniform); ``M``: cost (n, m); ``reg`` > 0.
    ``method``: one of "sinkhorn", "sinkhorn_log", "sinkhorn_stabilized" (all the same log-stable
    kernel here) or "sinkhorn_epsilon_scaling" (ε-scaling, as ``eps_scaling=True``).
    Computed by :func:`danneal.sinkhorn` (Cuturi [1]_; the interface of POT [2]_).  Extra POT keyword
    arguments (``tau``, ``print_period``, ...) are accepted and ignored.

    Parameters
    ----------
    a, b : arrays of shape (n,), (m,), or None / empty list
        Marginals (uniform by default); 2-d ``b`` is not supported.
    M : array of shape (n, m)
        The cost.
    reg : float > 0
        Entropic regularisation.
    method : {"sinkhorn", "sinkhorn_log", "sinkhorn_stabilized", "sinkhorn_epsilon_scaling"}
        The first three run the same log-stable kernel; the last uses ε-scaling
        (``eps_scaling=True``).
    numItermax : int
        Most iterations.
    stopThr : float
        Stop when the l2 marginal violation, relative to the total mass, is below it.
    verbose : bool
        Print the iterations and the final error.
    log : bool
        Also return POT's log dict (``u``, ``v``, ``log_u``, ``log_v``, ``err``, ``niter``; and
        ``alpha``, ``beta``, ``logu``, ``logv``, ``n_iter``, ``warmstart`` as POT's
        ``sinkhorn_stabilized``).
    warn : bool
        Emit a :class:`~sklearn.exceptions.ConvergenceWarning` when ``stopThr`` is not reached.
    warmstart : (log_u, log_v), optional
        As POT's.
    eps_scaling : None, True or float > 1
        As :func:`danneal.sinkhorn`'s.
    n_threads : int or None
        Threads (None or -1: all available cores).

    Returns
    -------
    P : array of shape (n, m)
    log : dict, only if ``log=True``

    References
    ----------
    .. [1] M. Cuturi, "Sinkhorn distances: lightspeed computation of optimal transport", NeurIPS 2013.
    .. [2] R. Flamary et al., "POT: Python Optimal Transport", JMLR 22(78), 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from danneal import ot
    >>> P, log = ot.sinkhorn([0.5, 0.5], [0.5, 0.5], np.array([[0.0, 1.0], [1.0, 0.0]]), 0.1, log=True,
    ...                      n_threads=1)
    >>> np.round(P, 4), sorted(log)[:4]
    (array([[0.5, 0. ],
           [0. , 0.5]]), ['alpha', 'beta', 'err', 'log_u'])
    """
    if method not in _METHODS:
        raise ValueError(f"method={method!r} must be one of {_METHODS}")
    reg = check_float(reg, "reg", low=0, low_inclusive=False)
    M = as_float_array(M, "M", ndim=2)
    init = None
    if warmstart is not None:
        if not (isinstance(warmstart, (tuple, list)) and len(warmstart) == 2):
            raise TypeError("warmstart must be a pair (log_u, log_v)")
        init = (reg * np.asarray(warmstart[0], dtype=np.float64), reg * np.asarray(warmstart[1], dtype=np.float64))
    if method == "sinkhorn_epsilon_scaling" and eps_scaling is None:
        eps_scaling = True
    P, info = _sinkhorn(
        M,
        _marg(a, M.shape[0]),
        _marg(b, M.shape[1]),
        reg,
        tol=stopThr,
        max_iter=numItermax,
        log=True,
        norm="l2",
        init=init,
        warn=warn,
        eps_scaling=eps_scaling,
        n_threads=n_threads,
    )
    if verbose:
        print(f"danneal.ot.sinkhorn: {info['n_iter']} iterations, marginal error {info['err']:.3e}")
    return (P, _pot_log(info, reg)) if log else P


def sinkhorn2(
    a,
    b,
    M,
    reg,
    method="sinkhorn",
    numItermax=1000,
    stopThr=1e-9,
    verbose=False,
    log=False,
    warn=True,
    warmstart=None,
    eps_scaling=None,
    n_threads=None,
    **kwargs,
):
    """Entropic OT loss ``<P, M>`` of :func:`sinkhorn`'s plan, as POT's ``ot.sinkhorn2``.

    Parameters
    ----------
    a, b, M, reg, method, numItermax, stopThr, verbose, log, warn, warmstart, eps_scaling, n_threads
        As :func:`sinkhorn`.

    Returns
    -------
    loss : float
        ``<P, M>`` (without the entropy term, as POT's).
    log : dict, only if ``log=True``

    References
    ----------
    .. [1] M. Cuturi, "Sinkhorn distances: lightspeed computation of optimal transport", NeurIPS 2013.
    .. [2] R. Flamary et al., "POT: Python Optimal Transport", JMLR 22(78), 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from danneal import ot
    >>> round(ot.sinkhorn2([0.5, 0.5], [0.5, 0.5], np.array([[0.0, 1.0], [1.0, 0.0]]), 0.1, n_threads=1), 6)
    4.5e-05
    """
    P, lg = sinkhorn(a, b, M, reg, method, numItermax, stopThr, verbose, True, warn, warmstart, eps_scaling, n_threads)
    loss = float(np.sum(P.astype(np.float64) * np.asarray(M, dtype=np.float64)))
    return (loss, lg) if log else loss


def sinkhorn_unbalanced(
    a,
    b,
    M,
    reg,
    reg_m,
    method="sinkhorn",
    reg_type="kl",
    c=None,
    warmstart=None,
    numItermax=1000,
    stopThr=1e-6,
    verbose=False,
    log=False,
    n_threads=None,
    **kwargs,
):
    r"""Unbalanced entropic OT plan (KL-relaxed marginals), as POT's ``ot.unbalanced.sinkhorn_unbalanced``.

    Only ``reg_type="kl"`` with POT's default reference measure ``c=None`` (``a b^T``) and a scalar
    ``reg_m`` are supported.  ``stopThr`` bounds the largest change of the log-domain duals per
    iteration (POT: a relative change of the scalings).  Computed by
    :func:`danneal.sinkhorn_unbalanced` (Chizat et al. [1]_).

    Parameters
    ----------
    a, b : arrays of shape (n,), (m,), or None / empty list
        Marginals (uniform by default); their sums may differ.
    M : array of shape (n, m)
        The cost.
    reg : float > 0
        Entropic regularisation.
    reg_m : float > 0 or inf
        Weight of the KL penalties on the marginals.
    method, reg_type, c, warmstart
        POT's; only ``reg_type="kl"``, ``c=None`` and ``warmstart=None`` are supported.
    numItermax : int
        Most iterations.
    stopThr : float
        Stop when the largest change of the log-domain duals is below it.
    verbose : bool
        Print the iterations and the final error.
    log : bool
        Also return POT's keys ``logu``, ``logv``, ``err``, ``niter`` (plus ``u``, ``v``).
    n_threads : int or None
        Threads (None or -1: all available cores).

    Returns
    -------
    P : array of shape (n, m)
    log : dict, only if ``log=True``

    References
    ----------
    .. [1] L. Chizat, G. Peyré, B. Schmitzer, F.-X. Vialard, "Scaling algorithms for unbalanced
           optimal transport problems", Math. Comp. 87, 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from danneal import ot
    >>> P = ot.sinkhorn_unbalanced([0.5, 0.5], [0.9, 0.1], np.array([[0.0, 4.0], [4.0, 0.0]]), 0.1, 1.0,
    ...                            n_threads=1)
    >>> P.shape, bool(P.sum() < 1.0)
    ((2, 2), True)
    """
    if reg_type != "kl":
        raise ValueError(f"reg_type={reg_type!r}: only 'kl' is supported")
    if c is not None:
        raise ValueError("c: only the default (None) reference measure is supported")
    if warmstart is not None:
        raise ValueError("warmstart is not supported by danneal.ot.sinkhorn_unbalanced")
    M = as_float_array(M, "M", ndim=2)
    P, info = _sinkhorn_unbalanced(
        M,
        _marg(a, M.shape[0]),
        _marg(b, M.shape[1]),
        reg,
        reg_m,
        tol=stopThr,
        max_iter=numItermax,
        log=True,
        n_threads=n_threads,
    )
    if verbose:
        print(f"danneal.ot.sinkhorn_unbalanced: {info['n_iter']} iterations, error {info['err']:.3e}")
    if not log:
        return P
    return P, _pot_log(info, reg)
