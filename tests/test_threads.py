"""Thread-count policy, fork safety and OpenMP reporting."""

import multiprocessing as mp
import os
import warnings

import numpy as np
import pytest

import danneal
from danneal import _core
from danneal._threads import available_cores, resolve_n_threads


def test_openmp_flag_is_reported():
    assert isinstance(danneal.openmp, bool)
    assert _core.max_threads() >= 1


def test_resolve_n_threads():
    assert resolve_n_threads(None) == available_cores() >= 1
    assert resolve_n_threads(-1) == available_cores()
    assert resolve_n_threads(3) == 3
    with pytest.raises(ValueError, match="n_threads=0"):
        resolve_n_threads(0)
    with pytest.raises(ValueError, match="n_threads=-2"):
        resolve_n_threads(-2)
    with pytest.raises(TypeError, match="n_threads"):
        resolve_n_threads(1.5)


def test_omp_num_threads_is_respected(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert resolve_n_threads(None) == 1


def _child(q):
    D = np.abs(np.subtract.outer(np.arange(600.0), np.arange(600.0)))
    Q = np.full((600, 3), 1 / 3)
    Q[:, 0] += 0.01
    Q /= Q.sum(1, keepdims=True)
    out, _, _ = _core.pairwise_fixed_point(D, Q, 10.0, 1, 3, 0.0, resolve_n_threads(None))
    q.put((float(out.sum()), resolve_n_threads(None)))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_kernels_work_in_a_forked_child_after_parallel_use():
    D = np.abs(np.subtract.outer(np.arange(600.0), np.arange(600.0)))
    Q = np.full((600, 3), 1 / 3)
    _core.pairwise_fixed_point(D, Q, 10.0, 1, 3, 0.0, 2)  # start the OpenMP pool in the parent
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(q,))
    with warnings.catch_warnings():
        # Python >= 3.12 warns that fork() in a multi-threaded process may deadlock: that is
        # exactly the situation under test.
        warnings.simplefilter("ignore", DeprecationWarning)
        p.start()
    p.join(60)
    assert not p.is_alive(), "forked child hung in OpenMP"
    total, nt = q.get(timeout=5)
    assert total == pytest.approx(600.0)
    assert nt == 1  # forked children run single-threaded
