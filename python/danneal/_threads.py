"""Thread-count policy shared by every kernel call (docs/design.md §4, "Threads").

``n_threads=None`` (or ``-1``) follows the OpenMP runtime and the machine, read at every call:

- ``omp_get_max_threads()`` of the calling thread (``OMP_NUM_THREADS`` as read when danneal was
  imported, and ``threadpoolctl.threadpool_limits``, which changes it at run time);
- the CPU affinity mask (``taskset``, ``os.sched_setaffinity``);
- the cgroup CPU quota (containers: ``docker --cpus``), rounded up.

Forked children: GNU OpenMP hangs in a child of ``fork()`` when the parent had already started its
thread pool.  danneal records whether it started one (``_core.openmp_pool_started()``, inherited by
the child); only then does a child run single-threaded, and an explicit ``n_threads > 1`` there
gives a ``RuntimeWarning`` instead of being replaced silently.  A child of a parent that never ran a
parallel kernel uses the threads it asks for.  Use the ``spawn`` or ``forkserver`` start methods to
get several threads in worker processes.
"""

from __future__ import annotations

import math
import numbers
import os
import threading
import warnings

from . import _core

_IN_FORKED_CHILD = False

#: Largest explicit ``n_threads``: far more threads than any machine has cores, small enough that
#: the OpenMP runtime can create them (beyond the process limits GNU OpenMP aborts the process).
MAX_THREADS = max(4096, 4 * (os.cpu_count() or 1))


def _after_fork_in_child() -> None:
    global _IN_FORKED_CHILD
    _IN_FORKED_CHILD = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _cgroup_cpu_limit():
    """CPUs allowed by the cgroup CPU quota (v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``), or None."""
    rel = "/"
    for line in (_read("/proc/self/cgroup") or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3 and parts[0] == "0":
            rel = parts[2] or "/"
    candidates = []
    for path in {os.path.join("/sys/fs/cgroup", rel.lstrip("/")), "/sys/fs/cgroup"}:
        v2 = _read(os.path.join(path, "cpu.max"))
        if v2:
            candidates.append(v2.split())
    for base in ("/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"):
        q, p = _read(os.path.join(base, "cpu.cfs_quota_us")), _read(os.path.join(base, "cpu.cfs_period_us"))
        if q and p:
            candidates.append([q, p])
    limits = []
    for fields in candidates:
        try:
            quota, period = int(fields[0]), int(fields[1])
        except (ValueError, IndexError):  # "max" (no quota) or malformed
            continue
        if quota > 0 and period > 0:
            limits.append(max(1, math.ceil(quota / period)))
    return min(limits) if limits else None


_CGROUP_LIMIT = _cgroup_cpu_limit()


def available_cores() -> int:
    """Threads ``n_threads=None`` uses: min(omp_get_max_threads(), affinity mask, cgroup quota).

    ``omp_get_max_threads()`` is that of the calling thread: ``threadpoolctl.threadpool_limits``
    and ``OMP_NUM_THREADS`` (as read when danneal was imported) act through it.
    """
    if hasattr(os, "process_cpu_count"):  # Python >= 3.13: affinity (and -X cpu_count)
        n = os.process_cpu_count() or 1
    else:
        try:
            n = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):  # pragma: no cover - non-Linux
            n = os.cpu_count() or 1
    if _core.openmp:
        n = min(n, int(_core.max_threads()))
    if _CGROUP_LIMIT is not None:
        n = min(n, _CGROUP_LIMIT)
    return max(1, n)


def resolve_n_threads(n_threads) -> int:
    """Turn the public ``n_threads`` argument into a positive thread count.

    ``None`` or ``-1`` mean all available cores (``available_cores()``: the OpenMP default
    thread count, which ``threadpoolctl.threadpool_limits`` changes, limited by the CPU affinity
    and the cgroup CPU quota); ``0`` and other negatives are errors, as are counts above
    ``MAX_THREADS``.

    Parameters
    ----------
    n_threads : int or None
        The ``n_threads`` argument of any danneal function or estimator.

    Returns
    -------
    int
        The number of threads the kernels will use (1 in a ``fork()``-ed child of a process
        that started OpenMP threads).

    Examples
    --------
    >>> from danneal import resolve_n_threads
    >>> resolve_n_threads(2)
    2
    >>> resolve_n_threads(None) >= 1
    True
    >>> resolve_n_threads(0)
    Traceback (most recent call last):
    ...
    ValueError: n_threads=0 must be >= 1, or -1/None for all cores
    """
    if n_threads is None:
        explicit, n = False, available_cores()
    elif isinstance(n_threads, bool) or not isinstance(n_threads, numbers.Integral):
        raise TypeError(f"n_threads={n_threads!r} must be an int or None")
    elif n_threads == -1:
        explicit, n = False, available_cores()
    elif n_threads < 1:
        raise ValueError(f"n_threads={n_threads} must be >= 1, or -1/None for all cores")
    elif n_threads > MAX_THREADS:
        raise ValueError(f"n_threads={n_threads} exceeds the limit of {MAX_THREADS} threads")
    else:
        explicit, n = True, int(n_threads)
    if n > 1 and _IN_FORKED_CHILD and _core.openmp_pool_started():
        if explicit:
            warnings.warn(
                f"n_threads={n} runs on 1 thread in this fork()ed child: the parent process had "
                "started OpenMP threads, and GNU OpenMP hangs after fork() then.  Use the 'spawn' or "
                "'forkserver' start method for multi-threaded workers.",
                RuntimeWarning,
                stacklevel=3,
            )
        return 1
    return n


def map_interruptible(fn, items, workers):
    """``fn`` over ``items`` on ``workers`` threads; yields the results in order.

    If the consumer stops early (KeyboardInterrupt, another exception, or closing the generator),
    pending items are cancelled and the compiled kernels running on the worker threads are asked
    to return (they raise KeyboardInterrupt there), so that the pool shuts down at once.
    """
    from concurrent.futures import ThreadPoolExecutor

    lock = threading.Lock()
    running = set()
    stopping = [False]

    def run(item):
        ident = threading.get_ident()
        with lock:
            if stopping[0]:
                raise KeyboardInterrupt("the pool was stopped")
            running.add(ident)
        try:
            return fn(item)
        finally:
            with lock:
                running.discard(ident)

    ex = ThreadPoolExecutor(max_workers=workers)
    futures = [ex.submit(run, item) for item in items]
    try:
        for f in futures:
            yield f.result()
    except BaseException:
        with lock:
            stopping[0] = True
            idents = list(running)
        for f in futures:
            f.cancel()
        for ident in idents:
            _core._request_thread_stop(ident, True)
        try:
            ex.shutdown(wait=True, cancel_futures=True)
        finally:
            for ident in idents:
                _core._request_thread_stop(ident, False)
        raise
    ex.shutdown(wait=True)
