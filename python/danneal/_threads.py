"""Thread-count policy shared by every kernel call (GUIDE §1, "Threads" and "Shared machines")."""

from __future__ import annotations

import os
import numbers

_IN_FORKED_CHILD = False


def _after_fork_in_child() -> None:
    # GNU OpenMP is not fork-safe: a child that enters a parallel region after the parent has
    # started OpenMP threads can hang.  Children therefore run every kernel on one thread.
    global _IN_FORKED_CHILD
    _IN_FORKED_CHILD = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def available_cores() -> int:
    """Cores this process may use: ``OMP_NUM_THREADS`` if set, else the CPU affinity mask."""
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def resolve_n_threads(n_threads) -> int:
    """Turn the public ``n_threads`` argument into a positive thread count.

    ``None`` or ``-1`` mean all available cores; ``0`` and other negatives are errors.
    """
    if n_threads is None:
        n = available_cores()
    elif isinstance(n_threads, bool) or not isinstance(n_threads, numbers.Integral):
        raise TypeError(f"n_threads={n_threads!r} must be an int or None")
    elif n_threads == -1:
        n = available_cores()
    elif n_threads < 1:
        raise ValueError(f"n_threads={n_threads} must be >= 1, or -1/None for all cores")
    else:
        n = int(n_threads)
    return 1 if _IN_FORKED_CHILD else n
