"""ε-scaling, batched and unbalanced Sinkhorn, and the POT-compatible danneal.ot entry points (issue 14 §3)."""

import warnings

import numpy as np
import pytest

import danneal
from danneal import _core
from danneal.reference import sinkhorn_batch as ref_batch
from danneal.reference import sinkhorn_unbalanced_log as ref_unbalanced

ot = pytest.importorskip("ot")


def sq_cost(rng, n, m, dtype=np.float64):
    X, Y = rng.random((n, 2)), rng.random((m, 2))
    C = ((X[:, None] - Y[None]) ** 2).sum(-1)
    return (C / C.max()).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_matches_twin_single_calls_and_threads(rng, dtype):
    B, n, m = 5, 7, 9
    C = np.stack([sq_cost(rng, n, m, dtype) for _ in range(B)])
    a = rng.uniform(0.5, 1.5, size=(B, n))
    a /= a.sum(1, keepdims=True)
    b = np.full((B, m), 1.0 / m)
    args = (C, -1.0 / 0.05, a, b, 25, 0.0, 2)
    out1 = _core.sinkhorn_batch(*args, 1)
    out2 = _core.sinkhorn_batch(*args, 2)
    for x, y in zip(out1, out2):
        np.testing.assert_array_equal(x, y)  # 1 vs 2 threads: identical bits
    tw = ref_batch(*args)
    rtol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(out1[0], tw[0], rtol=rtol, atol=rtol * 1e-3)
    np.testing.assert_array_equal(out1[3], tw[3])
    # the public function equals one sinkhorn call per problem
    P, lg = danneal.sinkhorn_batch(C, a, b, reg=0.05, tol=1e-9, log=True, n_threads=2)
    for k in range(B):
        Pk = danneal.sinkhorn(C[k], a[k], b[k], reg=0.05, tol=1e-9, n_threads=1)
        np.testing.assert_array_equal(P[k], Pk)
    assert P.dtype == dtype and lg["converged"].all()
    np.testing.assert_allclose(P.sum(2), a, atol=1e-5 if dtype == np.float32 else 1e-9)


def test_batch_vs_pot_and_tiny_reg(rng):
    C = np.stack([sq_cost(rng, 6, 6) for _ in range(4)])
    P = danneal.sinkhorn_batch(C, reg=0.1, tol=1e-12, max_iter=10000)
    for k in range(4):
        Po = ot.sinkhorn(np.full(6, 1 / 6), np.full(6, 1 / 6), C[k], 0.1, stopThr=1e-13, numItermax=10000)
        np.testing.assert_allclose(P[k], Po, atol=1e-9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_iter is reached at reg 1e-5; only finiteness is checked here
        for dtype in (np.float32, np.float64):
            Pt = danneal.sinkhorn_batch(C.astype(dtype), reg=1e-5, max_iter=50)
            assert np.isfinite(Pt).all() and (Pt >= 0).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unbalanced_matches_twin_and_threads(rng, dtype):
    n, m = 300, 270  # more than one row chunk and column block
    C = sq_cost(rng, n, m, dtype)
    a, b = rng.uniform(0.1, 1, n), rng.uniform(0.1, 1, m)
    a[3] = 0.0
    args = (C, -1.0 / 0.05, a, b, 0.7, np.zeros(n), np.zeros(m), 20, 0.0)
    out1 = _core.sinkhorn_unbalanced_log(*args, 1)
    out2 = _core.sinkhorn_unbalanced_log(*args, 2)
    for x, y in zip(out1[:3], out2[:3]):
        np.testing.assert_array_equal(x, y)
    tw = ref_unbalanced(*args)
    rtol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(out1[0], tw[0], rtol=rtol, atol=rtol * 1e-6)
    np.testing.assert_allclose(out1[1][a > 0], tw[1][a > 0], rtol=rtol, atol=rtol)
    assert out1[0].dtype == dtype and (out1[0][3] == 0).all()


@pytest.mark.parametrize("reg,reg_m", [(0.1, 1.0), (0.05, 10.0), (0.5, 0.1)])
def test_unbalanced_vs_pot(rng, reg, reg_m):
    C = sq_cost(rng, 8, 11)
    a, b = rng.uniform(0.1, 1, 8), rng.uniform(0.1, 1, 11)
    P, lg = danneal.sinkhorn_unbalanced(C, a, b, reg=reg, reg_m=reg_m, tol=1e-13, max_iter=100000, log=True)
    Po = ot.unbalanced.sinkhorn_unbalanced(a, b, C, reg, reg_m, stopThr=1e-15, numItermax=100000)
    np.testing.assert_allclose(P, Po, atol=1e-10)
    Pd, lgd = danneal.ot.sinkhorn_unbalanced(a, b, C, reg, reg_m, stopThr=1e-13, numItermax=100000, log=True)
    np.testing.assert_array_equal(Pd, P)
    assert {"logu", "logv", "err", "niter"} <= set(lgd)
    # reg_m = inf: the balanced problem (equal masses)
    a2 = a / a.sum()
    b2 = b / b.sum()
    Pb = danneal.sinkhorn_unbalanced(C, a2, b2, reg=reg, reg_m=np.inf, tol=1e-14, max_iter=100000, reference="uniform")
    np.testing.assert_allclose(Pb, danneal.sinkhorn(C, a2, b2, reg=reg, tol=1e-13, max_iter=100000), atol=1e-10)


def test_unbalanced_tiny_reg_finite(rng):
    C = sq_cost(rng, 20, 20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # not converged at reg 1e-5 in 30 iterations; finiteness is the point
        for dtype in (np.float32, np.float64):
            P = danneal.sinkhorn_unbalanced(C.astype(dtype), reg=1e-5, reg_m=1.0, max_iter=30)
            assert np.isfinite(P).all() and (P >= 0).all()


def test_eps_scaling_same_plan_fewer_iterations(rng):
    C = sq_cost(rng, 60, 60)
    P0, l0 = danneal.sinkhorn(C, reg=2e-3, tol=1e-8, max_iter=200000, log=True)
    P1, l1 = danneal.sinkhorn(C, reg=2e-3, tol=1e-8, max_iter=200000, log=True, eps_scaling=True)
    assert l1["converged"] and l1["n_iter"] < l0["n_iter"]
    np.testing.assert_allclose(P1, P0, atol=1e-7)
    np.testing.assert_allclose(P1.sum(0), 1 / 60, atol=1e-12)
    P2 = danneal.sinkhorn(C, reg=2e-3, tol=1e-8, max_iter=200000, eps_scaling=8.0, n_threads=2)
    np.testing.assert_allclose(P2, P0, atol=1e-7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a budget smaller than the schedule: finite, a warning
        P3 = danneal.sinkhorn(C.astype(np.float32), reg=1e-6, max_iter=40, eps_scaling=True)
    assert np.isfinite(P3).all()
    with pytest.raises(ValueError, match="eps_scaling=1.0"):
        danneal.sinkhorn(C, reg=0.1, eps_scaling=1.0)


def test_pot_compatible_sinkhorn(rng):
    C = sq_cost(rng, 12, 9)
    a, b = rng.uniform(0.2, 1, 12), rng.uniform(0.2, 1, 9)
    a, b = a / a.sum(), b / b.sum()
    for method in ("sinkhorn", "sinkhorn_log", "sinkhorn_stabilized"):
        P, lg = danneal.ot.sinkhorn(a, b, C, 0.05, method=method, stopThr=1e-12, numItermax=10000, log=True)
        Po, lgo = ot.sinkhorn(a, b, C, 0.05, method=method, stopThr=1e-12, numItermax=10000, log=True)
        np.testing.assert_allclose(P, Po, atol=1e-9)
        assert set(lgo) <= set(lg)
        np.testing.assert_allclose(lg["u"][:, None] * np.exp(-C / 0.05) * lg["v"][None, :], P, atol=1e-12)
    Pe = danneal.ot.sinkhorn(a, b, C, 0.05, method="sinkhorn_epsilon_scaling", stopThr=1e-12, numItermax=10000)
    np.testing.assert_allclose(Pe, P, atol=1e-9)
    Pu = danneal.ot.sinkhorn([], [], C, 0.05, stopThr=1e-12)
    np.testing.assert_allclose(Pu, ot.sinkhorn([], [], C, 0.05, stopThr=1e-12), atol=1e-9)
    # warm start from POT's log duals: converges at once
    _, lw = danneal.ot.sinkhorn(a, b, C, 0.05, stopThr=1e-9, log=True, warmstart=(lg["log_u"], lg["log_v"]))
    assert lw["niter"] <= 2
    loss = danneal.ot.sinkhorn2(a, b, C, 0.05, stopThr=1e-12)
    assert loss == pytest.approx(float(ot.sinkhorn2(a, b, C, 0.05, stopThr=1e-12)), rel=1e-8)
    with pytest.raises(ValueError, match="method='greenkhorn'"):
        danneal.ot.sinkhorn(a, b, C, 0.05, method="greenkhorn")
    with pytest.raises(ValueError, match="2-d marginals"):
        danneal.ot.sinkhorn(a, np.ones((9, 2)), C, 0.05)
