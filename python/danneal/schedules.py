"""Temperature schedules shared by every annealing family (docs/design.md, "Layers").

Python owns the schedule; the compiled kernels run the fixed point at one temperature.
"""

from __future__ import annotations

import numpy as np

from ._validation import check_float

__all__ = ["GeometricSchedule", "LinearSchedule", "power_iteration_max_eig"]


class GeometricSchedule:
    """``T_{t+1} = ratio * T_t`` from ``T0`` down to (not below) ``T_min``.

    Iterating yields the temperatures; ``len()`` is the number of steps.
    """

    def __init__(self, T0: float, ratio: float, T_min: float = 0.0):
        self.T0 = check_float(T0, "T0", low=0, low_inclusive=False)
        self.ratio = check_float(ratio, "ratio", low=0, high=1, low_inclusive=False, high_inclusive=False)
        self.T_min = check_float(T_min, "T_min", low=0)
        if self.T_min <= 0:
            raise ValueError(f"T_min={T_min} must be > 0 for a finite geometric schedule")

    def __iter__(self):
        T = self.T0
        while T >= self.T_min:
            yield T
            T *= self.ratio

    def __len__(self) -> int:
        if self.T0 < self.T_min:
            return 0
        return int(np.floor(np.log(self.T_min / self.T0) / np.log(self.ratio) + 1e-12)) + 1


class LinearSchedule:
    """``n_steps`` temperatures evenly spaced from ``T0`` to ``T_min`` (both included)."""

    def __init__(self, T0: float, T_min: float, n_steps: int):
        self.T0 = check_float(T0, "T0", low=0, low_inclusive=False)
        self.T_min = check_float(T_min, "T_min", low=0, low_inclusive=False)
        self.n_steps = int(n_steps)
        if self.n_steps < 1:
            raise ValueError(f"n_steps={n_steps} must be >= 1")

    def __iter__(self):
        yield from np.linspace(self.T0, self.T_min, self.n_steps)

    def __len__(self) -> int:
        return self.n_steps


def power_iteration_max_eig(matvec, n: int, *, n_iter: int = 100, tol: float = 1e-6, seed: int = 0) -> float:
    """Largest eigenvalue of a symmetric positive semi-definite operator given by ``matvec``."""
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(n)
    v /= np.linalg.norm(v)
    lam = 0.0
    for _ in range(n_iter):
        w = matvec(v)
        new = float(v @ w)
        nw = np.linalg.norm(w)
        if nw == 0:
            return 0.0
        v = w / nw
        if abs(new - lam) <= tol * max(abs(new), 1e-300):
            return max(new, 0.0)
        lam = new
    return max(lam, 0.0)
