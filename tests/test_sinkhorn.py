"""Log-domain Sinkhorn: kernel vs numpy twin, determinism, marginals, POT agreement, robustness, validation."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import danneal
from danneal import _core
from danneal.reference import softassign as ref

RTOL = {np.float32: 1e-4, np.float64: 1e-9}


def sq_cost(rng, n, m, shift=0.0):
    X, Y = rng.random((n, 2)), rng.random((m, 2))
    C = ((X[:, None] - Y[None]) ** 2).sum(-1)
    return C / C.max() + shift


def _call(fn, C, reg, a, b, max_iter, tol=0.0, norm=0, n_threads=1, alpha0=None, beta0=None):
    n, m = C.shape
    alpha0 = np.zeros(n) if alpha0 is None else alpha0
    beta0 = np.zeros(m) if beta0 is None else beta0
    return fn(C, -1.0 / reg, a, b, alpha0, beta0, max_iter, tol, norm, n_threads)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("max_iter", [0, 1, 5, 50])
@pytest.mark.parametrize("reg", [1e-1, 1e-3])
def test_kernel_matches_twin(rng, dtype, max_iter, reg):
    n, m = 70, 300  # m > one chunk of columns, n < one chunk of rows
    C = sq_cost(rng, n, m).astype(dtype)
    a = rng.random(n) + 0.5
    a /= a.sum()
    b = np.full(m, 1.0 / m)
    alpha0 = rng.normal(size=n)
    P, al, be, st = _call(_core.sinkhorn_log, C, reg, a, b, max_iter, alpha0=alpha0)
    P2, al2, be2, st2 = _call(ref.sinkhorn_log, C, reg, a, b, max_iter, alpha0=alpha0)
    assert P.dtype == dtype and al.dtype == np.float64
    assert st["iterations"] == st2["iterations"] == max_iter
    rtol = RTOL[dtype]
    np.testing.assert_allclose(P, P2, rtol=rtol, atol=rtol * float(P2.max()))
    # duals are defined up to a constant shift (alpha + c, beta - c)
    shift = np.median(al - al2)
    atol = 1e-3 if dtype == np.float32 else 1e-8
    np.testing.assert_allclose(al - shift, al2, atol=atol)
    np.testing.assert_allclose(be + shift, be2, atol=atol)
    np.testing.assert_allclose(st["error"], st2["error"], rtol=1e-3 if dtype == np.float32 else 1e-7, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("norm", [0, 2])
def test_kernel_stops_like_twin(rng, dtype, norm):
    C = sq_cost(rng, 60, 50).astype(dtype)
    a, b = np.full(60, 1 / 60), np.full(50, 1 / 50)
    out = _call(_core.sinkhorn_log, C, 0.05, a, b, 10000, tol=1e-7, norm=norm)
    out2 = _call(ref.sinkhorn_log, C, 0.05, a, b, 10000, tol=1e-7, norm=norm)
    assert out[3]["converged"] and out2[3]["converged"]
    assert out[3]["error"] < 1e-7
    assert abs(out[3]["iterations"] - out2[3]["iterations"]) <= (2 if dtype == np.float32 else 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reg", [1e-1, 1e-2, 1e-3])
def test_threads_bit_identical(rng, dtype, reg):
    C = sq_cost(rng, 600, 130, shift=1.0).astype(dtype)  # 3 row chunks
    a, b = np.full(600, 1 / 600), np.full(130, 1 / 130)
    r1 = _call(_core.sinkhorn_log, C, reg, a, b, 40, n_threads=1)
    r2 = _call(_core.sinkhorn_log, C, reg, a, b, 40, n_threads=2)
    for x, y in zip(r1[:3], r2[:3]):
        np.testing.assert_array_equal(x, y)
    assert r1[3] == r2[3]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_marginals_hold(rng, dtype):
    C = sq_cost(rng, 80, 60).astype(dtype)
    a = rng.random(80)
    a /= a.sum()
    b = rng.random(60)
    b /= b.sum()
    P, log = danneal.sinkhorn(C, a, b, reg=0.05, tol=1e-8, max_iter=5000, norm="max", log=True)
    assert P.dtype == dtype and log["converged"]
    tol = 1e-5 if dtype == np.float32 else 1e-8
    np.testing.assert_allclose(P.sum(1), a, atol=tol)
    np.testing.assert_allclose(P.sum(0), b, atol=tol)
    # the plan is the Gibbs form of the returned duals
    np.testing.assert_allclose(
        P,
        np.exp((log["f"][:, None] + log["g"][None, :] - C.astype(float)) / 0.05),
        rtol=1e-4 if dtype == np.float32 else 1e-8,
        atol=1e-12,
    )


@pytest.mark.parametrize("reg", [1e-1, 2e-2])
def test_matches_pot(rng, reg):
    ot = pytest.importorskip("ot")
    n, m = 50, 40
    C = sq_cost(rng, n, m)
    a = rng.random(n) + 0.1
    a /= a.sum()
    b = rng.random(m) + 0.1
    b /= b.sum()
    P_pot = ot.sinkhorn(a, b, C, reg, stopThr=1e-13, numItermax=100000)
    P = danneal.sinkhorn(C, a, b, reg=reg, tol=1e-13, max_iter=100000)
    np.testing.assert_allclose(P, P_pot, atol=1e-8, rtol=0)
    P_log = ot.bregman.sinkhorn_log(a, b, C, reg, stopThr=1e-13, numItermax=100000)
    np.testing.assert_allclose(P, P_log, atol=1e-8, rtol=0)


@pytest.mark.parametrize(
    "dtype,reg,shift",
    [
        (np.float64, 1e-3, 1.0),
        (np.float64, 1e-4, 1.0),
        (np.float32, 1e-2, 0.0),
        (np.float32, 1e-3, 1.0),
        (np.float64, 1e-6, 0.0),
    ],
)
def test_no_nan_at_any_reg(rng, dtype, reg, shift):
    # POT's sinkhorn fails (K underflows to 0) and sinkhorn_stabilized returns NaN on such cases
    C = sq_cost(rng, 120, 100, shift=shift).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        P, log = danneal.sinkhorn(C, reg=reg, tol=1e-6, max_iter=3000, log=True)
    assert np.isfinite(P).all() and np.isfinite(log["f"]).all() and np.isfinite(log["g"]).all()
    assert (P >= 0).all()
    np.testing.assert_allclose(P.sum(0), 1 / 100, rtol=1e-3)
    np.testing.assert_allclose(P.sum(), 1.0, rtol=1e-3)


def test_warm_start_and_log_plan(rng):
    C = sq_cost(rng, 40, 40)
    P1, log1 = danneal.sinkhorn(C, reg=0.01, tol=1e-10, max_iter=10000, log=True)
    P2, log2 = danneal.sinkhorn(C, reg=0.01, tol=1e-10, max_iter=10000, log=True, init=(log1["f"], log1["g"]))
    assert log2["n_iter"] <= 1
    np.testing.assert_allclose(P2, P1, atol=1e-12)
    LP = danneal.sinkhorn(C, reg=0.01, tol=1e-10, max_iter=10000, log_plan=True)
    np.testing.assert_allclose(np.exp(LP), P1, atol=1e-12)


def test_zero_mass_and_dustbin(rng):
    C = sq_cost(rng, 6, 5)
    a = np.array([0.2, 0.0, 0.3, 0.1, 0.2, 0.2])
    P, log = danneal.sinkhorn(C, a, reg=0.1, log=True)
    assert (P[1] == 0).all() and np.isneginf(log["f"][1])
    np.testing.assert_allclose(P.sum(1), a, atol=1e-9)
    # dustbin: a cheap dustbin leaves mass unmatched, an expensive one matches everything
    P_cheap = danneal.sinkhorn(C, reg=0.05, dustbin=-1.0, tol=1e-6, max_iter=20000, warn=False)
    P_dear = danneal.sinkhorn(C, reg=0.05, dustbin=10.0, tol=1e-6, max_iter=20000, warn=False)
    assert P_cheap.sum() < 0.05 and P_dear.sum() > 0.99
    assert P_cheap.shape == C.shape


def test_inputs_not_modified_and_conversions(rng):
    C = rng.integers(0, 5, size=(7, 9))
    C0 = C.copy()
    P = danneal.sinkhorn(C, reg=1.0)
    assert P.dtype == np.float64 and (C == C0).all()
    Cf = np.asfortranarray(sq_cost(rng, 7, 9).astype(np.float32))
    P32 = danneal.sinkhorn(Cf, reg=0.1)
    assert P32.dtype == np.float32
    np.testing.assert_allclose(P32, danneal.sinkhorn(np.ascontiguousarray(Cf), reg=0.1), rtol=0)


def test_convergence_warning(rng):
    C = sq_cost(rng, 30, 30)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        P, log = danneal.sinkhorn(C, reg=1e-3, max_iter=3, log=True)
    assert not log["converged"] and log["n_iter"] == 3 and np.isfinite(P).all()


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        ({"cost": np.ones((3, 3)), "reg": 0.0}, ValueError, "reg=0.0"),
        ({"cost": np.ones((3, 3)), "reg": -1.0}, ValueError, "reg=-1.0"),
        ({"cost": np.ones((3, 3)), "reg": np.nan}, ValueError, "reg=nan"),
        ({"cost": np.ones((0, 3))}, ValueError, "cost: empty"),
        ({"cost": np.ones(3)}, ValueError, "2-d"),
        ({"cost": np.array([[0.0, np.nan], [1.0, 0.0]])}, ValueError, "NaN or inf"),
        ({"cost": np.array([[0.0, np.inf], [1.0, 0.0]])}, ValueError, "NaN or inf"),
        ({"cost": np.ones((2, 2)), "a": [0.5, -0.5]}, ValueError, "a: marginals must be >= 0"),
        ({"cost": np.ones((2, 2)), "a": [0.0, 0.0]}, ValueError, "positive sum"),
        ({"cost": np.ones((2, 2)), "a": [0.5, 0.5], "b": [1.0, 1.0]}, ValueError, "same sum"),
        ({"cost": np.ones((2, 2)), "b": [1.0, 0.0, 0.0]}, ValueError, r"b: expected shape \(2,\)"),
        ({"cost": np.ones((2, 2)), "tol": -1.0}, ValueError, "tol=-1.0"),
        ({"cost": np.ones((2, 2)), "max_iter": -1}, ValueError, "max_iter=-1"),
        ({"cost": np.ones((2, 2)), "max_iter": 1.5}, TypeError, "max_iter=1.5"),
        ({"cost": np.ones((2, 2)), "norm": "l1"}, ValueError, "norm='l1'"),
        ({"cost": np.ones((2, 2)), "n_threads": 0}, ValueError, "n_threads=0"),
        ({"cost": np.ones((2, 2), dtype=complex)}, TypeError, "complex"),
    ],
)
def test_validation(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        danneal.sinkhorn(**kwargs)


def test_kernel_binding_checks():
    C = np.ones((2, 2))
    z = np.zeros(2)
    with pytest.raises(TypeError, match="C: unsupported dtype"):
        _core.sinkhorn_log(C.astype(np.int64), -1.0, z + 0.5, z + 0.5, z, z, 1, 0.0, 0, 1)
    with pytest.raises(ValueError, match="a must be positive"):
        _core.sinkhorn_log(C, -1.0, z, z + 0.5, z, z, 1, 0.0, 0, 1)
    with pytest.raises(ValueError, match="scale"):
        _core.sinkhorn_log(C, 0.0, z + 0.5, z + 0.5, z, z, 1, 0.0, 0, 1)
    with pytest.raises(ValueError, match=r"b: expected shape \(2\)"):
        _core.sinkhorn_log(C, -1.0, z + 0.5, np.ones(3), z, z, 1, 0.0, 0, 1)


# The vectorised exp of the Sinkhorn passes is simd::exp: tests/test_simd.py checks it against numpy.
