"""Compiled pairwise kernels vs their numpy twins (danneal.reference), and thread determinism."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from danneal import _core
from danneal import reference as ref

RTOL = {np.float32: 2e-4, np.float64: 1e-9}


def sqeuclidean(X):
    sq = (X**2).sum(1)
    D = np.maximum(sq[:, None] + sq[None, :] - 2 * X @ X.T, 0)
    np.fill_diagonal(D, 0)
    return 0.5 * (D + D.T)


def problem(n, k, dtype, seed=0, d=3):
    rng = np.random.default_rng(seed)
    X = np.concatenate([rng.standard_normal((n // 2, d)), rng.standard_normal((n - n // 2, d)) + 3])
    D = sqeuclidean(X)
    Q = rng.random((n, k)) + 0.1
    Q /= Q.sum(1, keepdims=True)
    return np.ascontiguousarray(D, dtype=dtype), np.ascontiguousarray(Q, dtype=dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,k", [(1, 1), (2, 2), (7, 3), (300, 8), (517, 5), (600, 13)])
def test_dq_matches_twin(dtype, n, k):
    D, Q = problem(max(n, 1), k, dtype)
    DQ, c, S = _core.pairwise_dq(D, Q, 2)
    DQr, cr, Sr = ref.pairwise_dq(D, Q)
    assert DQ.dtype == dtype
    assert_allclose(DQ, DQr, rtol=RTOL[dtype], atol=RTOL[dtype] * np.abs(DQr).max())
    assert_allclose(c, cr, rtol=RTOL[dtype])
    assert_allclose(S, Sr, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("form", [0, 1])
def test_potential_matches_twin(dtype, form):
    D, Q = problem(257, 4, dtype)
    H = _core.pairwise_potential(D, Q, form, 2)
    Hr = ref.pairwise_potential(D, Q, form)
    assert H.dtype == dtype
    assert_allclose(H, Hr, rtol=RTOL[dtype], atol=RTOL[dtype] * np.abs(Hr).max())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_rows_matches_twin(dtype, rng):
    H = (rng.standard_normal((300, 7)) * 50).astype(dtype)
    for T in (1e-3, 1.0, 1e3):
        P, lz, st = _core.softmax_rows(H, T, 2)
        Pr, lzr, _ = ref.softmax_rows(H, T)
        assert_allclose(P, Pr, rtol=RTOL[dtype], atol=1e-30)
        assert_allclose(lz, lzr, rtol=RTOL[dtype])
        assert np.isfinite(P).all() and not st["numerical_error"]
        assert_allclose(P.sum(1), 1, rtol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("form", [0, 1])
@pytest.mark.parametrize("sweeps", [1, 5, 50])
def test_fixed_point_matches_twin(dtype, form, sweeps):
    D, Q = problem(300, 8, dtype)
    T = 2.0  # well below the critical temperature of two separated blobs, so the sweeps do work
    Qk, sk, stk = _core.pairwise_fixed_point(D, Q, T, form, sweeps, 0.0, 2)
    Qr, sr, str_ = ref.pairwise_fixed_point(D, Q, T, form, sweeps, 0.0)
    assert stk["iterations"] == str_["iterations"] == sweeps
    tol = RTOL[dtype] * (10 if sweeps == 50 and dtype == np.float32 else 1)
    assert_allclose(Qk, Qr, rtol=tol, atol=tol)
    assert_allclose(sk[:3], sr[:3], rtol=tol)
    assert_allclose(Qk.sum(1), 1, rtol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_zero_temperature_is_hard_and_matches_twin(dtype):
    D, Q = problem(200, 4, dtype)
    Qk, sk, _ = _core.pairwise_fixed_point(D, Q, 0.0, 1, 3, 0.0, 2)
    Qr, sr, _ = ref.pairwise_fixed_point(D, Q, 0.0, 1, 3, 0.0)
    assert set(np.unique(Qk)) <= {0, 1}
    assert_array_equal(Qk, Qr)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("form", [0, 1])
def test_one_and_two_threads_give_identical_bits(dtype, form):
    D, Q = problem(1100, 6, dtype)  # several chunks of 256 rows
    a = _core.pairwise_fixed_point(D, Q, 1.5, form, 7, 0.0, 1)
    b = _core.pairwise_fixed_point(D, Q, 1.5, form, 7, 0.0, 2)
    assert_array_equal(a[0], b[0])
    assert_array_equal(a[1], b[1])
    c1 = _core.pairwise_dq(D, Q, 1)
    c2 = _core.pairwise_dq(D, Q, 2)
    for x, y in zip(c1, c2):
        assert_array_equal(x, y)


def test_empty_cluster_attracts_nobody_and_no_nan():
    D, Q = problem(50, 3, np.float64)
    Q[:, 2] = 0.0  # an empty cluster
    Q /= Q.sum(1, keepdims=True)
    for form in (0, 1):
        for T in (0.0, 1e-12, 1.0):
            Qk, s, st = _core.pairwise_fixed_point(D, Q, T, form, 5, 0.0, 2)
            assert np.isfinite(Qk).all() and np.isfinite(s).all()
            assert not st["numerical_error"]
            assert (Qk[:, 2] == 0).all()
            Qr, _, _ = ref.pairwise_fixed_point(D, Q, T, form, 5, 0.0)
            assert_allclose(Qk, Qr, rtol=1e-9, atol=1e-12)


def test_tolerance_stops_early_and_reports_convergence():
    D, Q = problem(100, 2, np.float64)
    _, _, st = _core.pairwise_fixed_point(D, Q, 0.5, 1, 1000, 1e-8, 1)
    assert st["converged"] and st["iterations"] < 1000 and st["error"] < 1e-8


def test_kernel_rejects_bad_arrays():
    D, Q = problem(10, 2, np.float64)
    with pytest.raises(TypeError, match="dtype"):
        _core.pairwise_fixed_point(D.astype(np.float32), Q, 1.0, 1, 1, 0.0, 1)
    with pytest.raises(ValueError, match="C-contiguous"):
        _core.pairwise_fixed_point(np.asfortranarray(D + np.eye(10)), Q, 1.0, 1, 1, 0.0, 1)
    with pytest.raises(ValueError, match="shape"):
        _core.pairwise_fixed_point(D, Q[:5], 1.0, 1, 1, 0.0, 1)
    with pytest.raises(ValueError, match="n_threads"):
        _core.pairwise_fixed_point(D, Q, 1.0, 1, 1, 0.0, 0)
    with pytest.raises(ValueError, match="temperature"):
        _core.pairwise_fixed_point(D, Q, -1.0, 1, 1, 0.0, 1)
    with pytest.raises(ValueError, match="form"):
        _core.pairwise_fixed_point(D, Q, 1.0, 7, 1, 0.0, 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stream_sum(dtype, rng):
    X = rng.random((1000, 37)).astype(dtype)
    a = _core.stream_sum(X, 1)
    assert a == _core.stream_sum(X, 2)
    assert a == pytest.approx(ref.stream_sum(X), rel=1e-12)
