"""Drop-in replacement for the small ``detan`` library (Jason Heeris, 2016), backed by the
compiled pairwise kernels.

Same names, arguments and semantics as ``detan.detan``; the differences are that nothing here
produces NaN (every softmax is taken in the log domain, and vanishing cluster masses are
guarded), bad input raises a clear error, and each call takes an optional ``n_threads``.

The potentials are detan's leave-one-out form (Hofmann & Buhmann 1997)::

    h[i, v] = ((D Q)[i, v] - c[v] / (2 S_-i[v])) / (S_-i[v] + 1),
    c = diag(Q.T D Q),  S_-i[v] = sum_j Q[j, v] - Q[i, v]

and the expectations are ``Q[i, v] = exp(-h[i, v]/T) / sum_w exp(-h[i, w]/T)``.

Example (detan's README)::

    import numpy as np
    from danneal.detan import AssignmentAnnealing, assignment_iteration
    annealer = AssignmentAnnealing(assignment_iteration(distances), initial_assignments, 0.73)
    for _ in range(20):
        for new in annealer:
            if np.abs(new - old).max() < 1e-6:
                break
            old = new
        annealer.cool()
"""

from __future__ import annotations

import numpy as np

from . import _core
from ._threads import resolve_n_threads
from ._validation import as_float_array, check_dissimilarity, check_float

__all__ = ["assignment_potential", "assignment_expectations", "assignment_iteration", "AssignmentAnnealing"]

_DETAN_FORM = 0
_TINY_MASS = 1e-150  # kTinyMass of csrc/danneal/pairwise.hpp: a cluster with less mass is empty


def _check_assignments(assignments, n: int, dtype) -> np.ndarray:
    Q = as_float_array(assignments, "assignments", ndim=2, dtype=dtype)
    if Q.shape[0] != n:
        raise ValueError(f"assignments: expected {n} rows (one per object), got shape {Q.shape}")
    if (Q < 0).any():
        raise ValueError("assignments: entries must be >= 0")
    if Q.size and not float(Q.max()) <= 1.0 + 1e-6:
        raise ValueError(
            f"assignments: entries are probabilities and must be <= 1, got a maximum of "
            f"{float(Q.max())!r}; each row must sum to 1"
        )
    if Q.size and not (Q.sum(axis=0, dtype=np.float64) >= _TINY_MASS).any():
        # every cluster empty: every potential is +inf and no softmax is defined (was NaN)
        raise ValueError(
            f"assignments: every column sums to less than {_TINY_MASS!r} (e.g. all zeros); "
            "each row must be a probability vector summing to 1"
        )
    return Q


def _check_range(D):
    """The potentials sum up to n^2 distances (c = diag(Q^T D Q)): refuse distances whose sums
    overflow instead of failing on non-finite potentials later."""
    n = D.shape[0]
    dmax = float(np.abs(D).max()) if D.size else 0.0
    if not dmax * n * n <= float(np.finfo(np.float64).max):
        raise ValueError(
            f"distances: values up to {dmax!r} with n={n} objects make the potentials overflow "
            f"float64 (n**2 * max must stay below {float(np.finfo(np.float64).max)!r}); rescale "
            "the distances (the assignments at T only depend on D/T)"
        )
    return D


def assignment_potential(assignments, distances, *, n_threads=None):
    """Assignment potentials (detan's ``ε*[i, λ]``) from the expectations and the distances.

    Parameters
    ----------
    assignments : array (n, k)
        Assignment expectations, rows summing to 1.
    distances : array (n, n)
        Symmetric dissimilarities with a zero diagonal.
    n_threads : int, optional
        Threads for the kernel (``None``: all available cores).

    Returns
    -------
    potentials : array (n, k), same dtype as ``distances``
        The leave-one-out potentials of Hofmann and Buhmann [1]_ (lower means closer).

    References
    ----------
    .. [1] T. Hofmann and J. M. Buhmann, "Pairwise data clustering by deterministic annealing",
           IEEE TPAMI 19(1):1-14, 1997.

    Examples
    --------
    >>> import numpy as np
    >>> from danneal.detan import assignment_potential
    >>> D = np.array([[0, 2.1, 0.1], [2.1, 0, 2.0], [0.1, 2.0, 0]])
    >>> Q = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    >>> assignment_potential(Q, D, n_threads=1).round(3)
    array([[-0.2  ,  0.474],
           [ 1.057, -0.409],
           [-0.058,  0.373]])
    """
    D = _check_range(check_dissimilarity(distances, "distances", min_samples=1))
    Q = _check_assignments(assignments, D.shape[0], D.dtype)
    return _core.pairwise_potential(D, Q, _DETAN_FORM, resolve_n_threads(n_threads))


def assignment_expectations(potentials, T, *, n_threads=None):
    """Assignment expectations ``softmax(-potentials / T)`` per row (log-domain, never NaN).

    Parameters
    ----------
    potentials : array (n, k)
        Potentials, e.g. from :func:`assignment_potential`.
    T : float > 0
        Temperature.
    n_threads : int, optional
        Threads for the kernel (``None``: all available cores).

    Returns
    -------
    assignments : array (n, k), same dtype as ``potentials``
        Rows sum to 1; the lowest potential gets the largest share, more so at lower ``T``.

    References
    ----------
    .. [1] T. Hofmann and J. M. Buhmann, "Pairwise data clustering by deterministic annealing",
           IEEE TPAMI 19(1):1-14, 1997.

    Examples
    --------
    The mean-field expectations of Hofmann and Buhmann [1]_:

    >>> from danneal.detan import assignment_expectations
    >>> assignment_expectations([[0.0, 1.0], [2.0, 0.0]], 0.5, n_threads=1).round(3)
    array([[0.881, 0.119],
           [0.018, 0.982]])
    """
    H = as_float_array(potentials, "potentials", ndim=2)
    T = check_float(T, "T", low=0, low_inclusive=False)
    P, _, status = _core.softmax_rows(H, T, resolve_n_threads(n_threads))
    return P


def assignment_iteration(distances, *, n_threads=None):
    """The fixed-point map ``(assignments, T) -> new assignments`` for ``distances``.

    ``distances`` is validated and converted once, here; each call of the returned closure is one
    synchronous sweep of the compiled kernel (one pass over the distances).

    Parameters
    ----------
    distances : array (n, n)
        Symmetric dissimilarities with a zero diagonal.
    n_threads : int, optional
        Threads for the kernel (``None``: all available cores).

    Returns
    -------
    step : callable ``(assignments, T) -> assignments``
        One fixed-point sweep of Hofmann and Buhmann's mean-field equations [1]_ at temperature
        ``T``.

    References
    ----------
    .. [1] T. Hofmann and J. M. Buhmann, "Pairwise data clustering by deterministic annealing",
           IEEE TPAMI 19(1):1-14, 1997.

    Examples
    --------
    >>> import numpy as np
    >>> from danneal.detan import assignment_iteration
    >>> D = np.array([[0, 2.1, 0.1], [2.1, 0, 2.0], [0.1, 2.0, 0]])
    >>> step = assignment_iteration(D, n_threads=1)
    >>> step(np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]), 0.1).round(3)
    array([[0.999, 0.001],
           [0.   , 1.   ],
           [0.987, 0.013]])
    """
    D = _check_range(check_dissimilarity(distances, "distances", min_samples=1))
    nt = resolve_n_threads(n_threads)

    def closure(assignments, T):
        Q = _check_assignments(assignments, D.shape[0], D.dtype)
        T = check_float(T, "T", low=0, low_inclusive=False)
        Qn, _, status = _core.pairwise_fixed_point(D, Q, T, _DETAN_FORM, 1, 0.0, nt)
        if status["numerical_error"]:
            raise ValueError(
                "distances: the potentials are not finite (the distances are too large to represent); rescale them"
            )
        return Qn

    return closure


class AssignmentAnnealing:
    """State of a deterministic annealing run, compatible with ``detan.AssignmentAnnealing``.

    Parameters
    ----------
    function : callable ``(assignments, temperature) -> assignments``
        The fixed-point map, usually :func:`assignment_iteration`.
    initial_assignments : array (n, k)
        Starting expectations (rows sum to 1).
    temperature_ratio : float in (0, 1)
        Factor applied to the temperature by :meth:`cool`.

    Attributes
    ----------
    temperature : float
        Starts at 1.
    ratio : float
        May be changed at any time; must stay in (0, 1).
    assignments : array
        The current expectations (read it, do not assign to it).

    See Also
    --------
    PairwiseAnnealing : the same annealing with an automatic schedule, as an estimator.

    References
    ----------
    .. [1] T. Hofmann and J. M. Buhmann, "Pairwise data clustering by deterministic annealing",
           IEEE TPAMI 19(1):1-14, 1997.

    Examples
    --------
    Objects 0 and 2 are close, object 1 is far from both (Hofmann and Buhmann [1]_):

    >>> import numpy as np
    >>> from danneal.detan import AssignmentAnnealing, assignment_iteration
    >>> D = np.array([[0, 2.1, 0.1], [2.1, 0, 2.0], [0.1, 2.0, 0]])
    >>> Q0 = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    >>> annealer = AssignmentAnnealing(assignment_iteration(D, n_threads=1), Q0, 0.5)
    >>> for _ in range(5):
    ...     for _ in range(20):
    ...         _ = next(annealer)
    ...     annealer.cool()
    >>> annealer.temperature
    0.03125
    >>> annealer.assignments.argmax(axis=1)
    array([0, 1, 0])
    """

    def __init__(self, function, initial_assignments, temperature_ratio):
        if not callable(function):
            raise TypeError(f"function={function!r} must be callable")
        check_float(temperature_ratio, "temperature_ratio", low=0, high=1, low_inclusive=False, high_inclusive=False)
        self.function = function
        self.assignments = initial_assignments
        self.temperature = 1
        self.ratio = temperature_ratio
        self._stash()

    def _stash(self):
        self._stashed = (self.temperature, self.assignments)

    def __iter__(self):
        return self

    def __next__(self):
        """One fixed-point step at the current temperature; returns the new assignments."""
        self.assignments = self.function(self.assignments, self.temperature)
        return self.assignments

    def cool(self):
        """Remember the current state, then lower the temperature by ``ratio``."""
        check_float(self.ratio, "ratio", low=0, high=1, low_inclusive=False, high_inclusive=False)
        self._stash()
        self.temperature *= self.ratio

    def reheat(self):
        """Restore the temperature and assignments from before the last :meth:`cool`."""
        self.temperature, self.assignments = self._stashed
