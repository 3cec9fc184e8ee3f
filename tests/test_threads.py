"""Thread-count policy, fork safety and OpenMP reporting."""

import multiprocessing as mp
import os
import subprocess
import sys
import textwrap
import threading
import time
import warnings

import numpy as np
import pytest

import danneal
from danneal import _core
from danneal._threads import MAX_THREADS, available_cores, map_interruptible, resolve_n_threads


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
    with pytest.raises(ValueError, match=f"n_threads=2147483648 exceeds the limit of {MAX_THREADS}"):
        resolve_n_threads(2**31)
    assert resolve_n_threads(MAX_THREADS) == MAX_THREADS


def test_available_cores_follows_the_runtime_and_affinity():
    n = available_cores()
    assert n <= len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else n >= 1
    if danneal.openmp:
        assert n <= _core.max_threads()


def _run(code, **env):
    full = dict(os.environ)
    full.pop("OMP_NUM_THREADS", None)
    full.pop("OMP_WAIT_POLICY", None)
    full.update(env)
    r = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=full, capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout.strip().splitlines()[-1]


def test_omp_num_threads_is_respected():
    out = _run(
        """
        import danneal
        from danneal import _core
        omp = _core.max_threads() if danneal.openmp else 1
        print(danneal.resolve_n_threads(None), danneal.resolve_n_threads(2), omp)
    """,
        OMP_NUM_THREADS="1",
    )
    assert out == "1 2 1"


def test_import_leaves_os_environ_unchanged():
    out = _run("""
        import os
        before = dict(os.environ)
        import danneal
        print(dict(os.environ) == before, "OMP_WAIT_POLICY" in os.environ)
    """)
    assert out == "True False"


@pytest.mark.skipif(not danneal.openmp, reason="needs OpenMP")
def test_threadpool_limits_is_honoured():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    before = resolve_n_threads(None)
    with threadpoolctl.threadpool_limits(1):
        assert _core.max_threads() == 1
        assert resolve_n_threads(None) == 1
        assert resolve_n_threads(-1) == 1
        assert resolve_n_threads(2) == 2  # an explicit count is the caller's choice
    with threadpoolctl.threadpool_limits(2):
        assert resolve_n_threads(None) == min(2, before)
    assert resolve_n_threads(None) == before


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: danneal.sinkhorn(np.ones((3, 3)), max_iter=2**63), "max_iter=9223372036854775808 exceeds"),
        (lambda: danneal.sinkhorn(np.ones((3, 3)), n_threads=2**31), "n_threads=2147483648 exceeds"),
        (lambda: danneal.ClAM(2, n_threads=2**31).fit(np.eye(4)), "n_threads=2147483648 exceeds"),
        (lambda: danneal.ClAM(2, n_steps=2**64).fit(np.eye(4)), "n_steps=18446744073709551616 exceeds"),
        (lambda: danneal.ClAM(2, n_init=2**31).fit(np.eye(4)), "n_init=2147483648 must be <= 1000000"),
        (lambda: danneal.ClAM(2, batch_size=10**30).fit(np.eye(4)), "batch_size=10+ exceeds"),
        (
            lambda: danneal.PairwiseAnnealing(2, n_threads=2**31).fit(np.ones((4, 4)) - np.eye(4)),
            "n_threads=2147483648 exceeds",
        ),
        (
            lambda: danneal.PairwiseAnnealing(2, max_iter=2**63).fit(np.ones((4, 4)) - np.eye(4)),
            "max_iter.* range \\[1, 9223372036854775807\\]. Got 9223372036854775808",
        ),
        (
            lambda: danneal.quadratic_assignment(np.eye(3), np.eye(3), options={"n_threads": 2**31}),
            "n_threads=2147483648 exceeds",
        ),
        (lambda: danneal.CentralAnnealing(2, max_iter=2**63).fit(np.eye(4)), "max_iter=9223372036854775808 exceeds"),
        (lambda: danneal.CentralAnnealing(2, n_threads=2**31).fit(np.eye(4)), "n_threads=2147483648 exceeds"),
    ],
)
def test_integers_beyond_the_kernels_limits_are_value_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_steps": 10**12}, "n_steps=1000000000000 needs .* GB, more than this machine"),
        ({"max_epochs": 10**12}, "max_epochs=1000000000000 needs .* GB, more than this machine"),
    ],
)
def test_impossible_allocations_are_memory_errors(kwargs, match):
    with pytest.raises(MemoryError, match=match):
        danneal.ClAM(2, random_state=0, **kwargs).fit(np.eye(4))
    X = np.zeros((2, 3))
    if "n_steps" in kwargs:
        with pytest.raises(MemoryError, match="n_steps=1000000000000"):
            _core.clam_forward(X, None, np.eye(3)[:2], None, 1.0, 0.1, 10**12, False, 1)


def test_a_stopped_pool_stops_its_workers_kernels():
    # map_interruptible: when the consumer stops, the kernels running on the workers return and
    # raise KeyboardInterrupt there, so that closing the pool does not wait for them to finish
    C = np.random.default_rng(0).random((200, 200))
    ones = np.ones(200)
    stopped = []
    started = threading.Event()

    def job(i):
        if i == 0:
            return 0
        started.set()
        try:
            _core.sinkhorn_log(C, -1e3, ones, ones, np.zeros(200), np.zeros(200), 10**9, 0.0, 2, 1)
        except KeyboardInterrupt:
            stopped.append(i)
            raise
        return i

    gen = map_interruptible(job, [0, 1, 2], 2)
    assert next(gen) == 0
    assert started.wait(60)
    time.sleep(0.2)  # let the worker enter the kernel
    gen.close()
    assert stopped and set(stopped) <= {1, 2}


def _child(q):
    D = np.abs(np.subtract.outer(np.arange(600.0), np.arange(600.0)))
    Q = np.full((600, 3), 1 / 3)
    Q[:, 0] += 0.01
    Q /= Q.sum(1, keepdims=True)
    out, _, _ = _core.pairwise_fixed_point(D, Q, 10.0, 1, 3, 0.0, resolve_n_threads(None))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        explicit = resolve_n_threads(2)
    q.put((float(out.sum()), resolve_n_threads(None), explicit, [str(x.message) for x in w]))


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
    total, nt, explicit, warned = q.get(timeout=5)
    assert total == pytest.approx(600.0)
    assert nt == 1  # the parent had started OpenMP threads: the child runs single-threaded
    assert explicit == 1 and len(warned) == 1 and "n_threads=2 runs on 1 thread" in warned[0]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_of_a_parent_without_openmp_threads_keeps_its_threads():
    # a fresh process that never ran a parallel kernel: its forked child may use several threads
    out = _run("""
        import os, numpy as np, danneal
        from danneal import _core
        assert not _core.openmp_pool_started()
        pid = os.fork()
        if pid == 0:
            D = np.abs(np.subtract.outer(np.arange(600.0), np.arange(600.0)))
            Q = np.full((600, 3), 1 / 3)
            n = danneal.resolve_n_threads(2)
            out, _, _ = _core.pairwise_fixed_point(D, Q, 10.0, 1, 3, 0.0, n)
            os._exit(0 if n == 2 and abs(out.sum() - 600) < 1e-9 else 3)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status))
    """)
    assert out == "0"
