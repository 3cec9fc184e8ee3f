"""Ctrl-C reaches long kernel calls (issue 10 §3): a subprocess starts a long call, gets SIGINT, and
must raise KeyboardInterrupt promptly.

The kernels look for a pending signal every ~20 ms of work (danneal::should_stop); the bound below
is deliberately generous so that a loaded CI machine does not make the test flaky.  It is a
correctness bound (the call stops at all instead of running for minutes), not a timing assertion.
"""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name != "posix", reason="needs POSIX signals")

# Each snippet runs one call that would take minutes without an interruption.
CASES = {
    "sinkhorn": """
        rng = np.random.default_rng(0)
        C = rng.random((300, 300))
        call = lambda: danneal.sinkhorn(C, reg=1e-3, tol=0.0, max_iter=10**9, warn=False)
    """,
    "ClAM.fit": """
        rng = np.random.default_rng(0)
        X = rng.normal(size=(2000, 8))
        call = lambda: danneal.ClAM(4, max_epochs=10**6, n_iter_no_change=0, random_state=0).fit(X)
    """,
    "ClAM.fit n_init=4": """
        rng = np.random.default_rng(0)
        X = rng.normal(size=(2000, 8))
        est = danneal.ClAM(4, max_epochs=10**6, n_iter_no_change=0, n_init=4, random_state=0, n_threads=4)
        call = lambda: est.fit(X)
    """,
    "PairwiseAnnealing": """
        rng = np.random.default_rng(0)
        P = rng.normal(size=(1500, 3))
        D = ((P[:, None, :] - P[None, :, :]) ** 2).sum(-1)
        call = lambda: danneal.PairwiseAnnealing(4, cooling=0.9999, max_iter=10**6, tol=0.0,
                                                 random_state=0).fit(D)
    """,
    "PairwiseAnnealing features": """
        rng = np.random.default_rng(0)
        X = rng.normal(size=(20000, 4))
        call = lambda: danneal.PairwiseAnnealing(4, metric="sqeuclidean", cooling=0.9999, max_iter=10**6,
                                                 tol=0.0, random_state=0).fit(X)
    """,
    "CentralAnnealing": """
        rng = np.random.default_rng(0)
        X = rng.normal(size=(20000, 4))
        call = lambda: danneal.CentralAnnealing(8, cooling=0.9999, max_iter=10**6, tol=0.0,
                                                random_state=0).fit(X)
    """,
    "quadratic_assignment": """
        rng = np.random.default_rng(0)
        A = rng.random((60, 60))
        B = rng.random((60, 60))
        call = lambda: danneal.quadratic_assignment(
            A, B, options={"beta_rate": 1.0001, "inner_max_iter": 10**6, "inner_tol": 0.0})
    """,
}

CHILD = """
import sys, time
import numpy as np
import danneal
{setup}
print("START", flush=True)
t0 = time.monotonic()
try:
    call()
except KeyboardInterrupt:
    print("INTERRUPTED", flush=True)
    sys.exit(0)
print("FINISHED", time.monotonic() - t0, flush=True)
sys.exit(1)
"""

# Seconds between SIGINT and the child's report of KeyboardInterrupt.  The kernels react in about
# 20-50 ms on an idle machine (see the report of issue 10); 5 s only guards against a loaded runner.
BOUND = 5.0


def run_and_interrupt(setup, delay=1.0):
    """Start the child, send SIGINT `delay` s after it started the call; (reply line, latency s)."""
    code = CHILD.format(setup=textwrap.dedent(setup))
    env = dict(os.environ, OMP_NUM_THREADS="2")
    p = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        for line in p.stdout:  # an editable install may print build messages first
            if line.strip() == "START":
                break
        else:
            pytest.fail(f"the child did not start: {p.communicate()}")
        time.sleep(delay)
        assert p.poll() is None, "the call finished before it could be interrupted"
        t0 = time.monotonic()
        p.send_signal(signal.SIGINT)
        reply = []
        reader = threading.Thread(target=lambda: reply.append((p.stdout.readline(), time.monotonic())))
        reader.start()
        reader.join(BOUND + 55)
        if not reply:
            p.kill()
            reader.join()
            pytest.fail(f"no reaction to SIGINT within {BOUND + 55} s")
        line, t1 = reply[0]
        out, err = p.communicate(timeout=60)
        return (line + out).strip(), err, p.returncode, t1 - t0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


@pytest.mark.parametrize("case", list(CASES))
def test_ctrl_c_raises_keyboard_interrupt(case):
    out, err, rc, latency = run_and_interrupt(CASES[case])
    assert out == "INTERRUPTED", (out, err)
    assert rc == 0, err
    assert latency < BOUND, f"{case}: KeyboardInterrupt {latency:.2f} s after SIGINT"


HANDLER_CHILD = """
import signal, sys
import numpy as np
import danneal
calls = []
def handler(signum, frame):
    calls.append(signum)
    if {raise_custom}:
        raise LookupError("raised by the handler")
signal.signal(signal.SIGINT, handler)
rng = np.random.default_rng(0)
C = rng.random((300, 300))
# reg=1e-3 never meets tol=0 exactly, so all n_iter iterations run (about 2 s on an idle core, more
# when loaded): long enough to be running when the signal comes 0.2 s after START (at reg=1e-2 the
# marginal error reaches exactly 0 and the call stops early; 6000 iterations took only 0.2 s idle)
n_iter = 60000
ref = danneal.sinkhorn(C, reg=1e-3, tol=0.0, max_iter=n_iter, warn=False)
print("START", flush=True)
try:
    out = danneal.sinkhorn(C, reg=1e-3, tol=0.0, max_iter=n_iter, warn=False)
except LookupError as exc:
    print("RAISED", exc, len(calls), flush=True)
    sys.exit(0)
print("DONE", len(calls), bool(np.array_equal(out, ref)), flush=True)
"""


@pytest.mark.parametrize("raise_custom", [False, True])
def test_signal_handlers_run_and_their_exception_is_kept(raise_custom):
    # a handler that returns lets the kernel finish with the exact result; a handler's own
    # exception (not KeyboardInterrupt) is the one raised
    code = HANDLER_CHILD.format(raise_custom=raise_custom)
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in p.stdout:
            if line.strip() == "START":
                break
        time.sleep(0.2)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=600)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    if raise_custom:
        assert out.strip() == "RAISED raised by the handler 1", (out, err)
    else:
        assert out.strip() == "DONE 1 True", (out, err)
