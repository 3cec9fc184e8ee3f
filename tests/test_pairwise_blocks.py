"""Row-block kernels of the feature-space pairwise fixed point (the dask driver's sweep, issue 12):
against their numpy twins, against the whole-problem fixed point, and 1 vs 2 threads."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from danneal import _core
from danneal import reference as ref


def problem(n, k, dtype, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = np.ascontiguousarray(rng.standard_normal((n, d)) + np.arange(n)[:, None] % 3 * 4.0 + 10.0, dtype=dtype)
    Q = rng.random((n, k)) + 0.05
    Q = np.ascontiguousarray(Q / Q.sum(1, keepdims=True), dtype=dtype)
    return X, X.astype(np.float64).mean(0), Q


def blocks(n, sizes):
    b = np.cumsum([0] + list(sizes))
    assert b[-1] == n
    return list(zip(b[:-1], b[1:]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_block_stats_match_twin_and_add_up(dtype):
    X, mu, Q = problem(700, 4, dtype)
    tot = _core.pairwise_features_block_stats(X, mu, Q, 2)
    assert tot.shape == (3 * 4 + 2 * 4,) and tot.dtype == np.float64
    assert_allclose(tot, ref.pairwise_features_block_stats(X, mu, Q), rtol=1e-12, atol=1e-9)
    parts = sum(_core.pairwise_features_block_stats(X[a:b], mu, Q[a:b], 1) for a, b in blocks(700, [300, 1, 399]))
    assert_allclose(parts, tot, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("form", [0, 1])
@pytest.mark.parametrize("T", [0.0, 0.8, 25.0])
def test_block_sweeps_reproduce_the_fixed_point(dtype, form, T):
    """Sweeps over row blocks, statistics added in block order, give the compiled fixed point's
    assignments (1e-12 relative in float64: only the order of the sums differs) and its twin's."""
    n, k = 600, 3
    X, mu, Q0 = problem(n, k, dtype)
    parts = blocks(n, [250, 100, 250])
    Q = Q0.copy()
    total = sum(_core.pairwise_features_block_stats(X[a:b], mu, Q[a:b], 1) for a, b in parts)
    for _ in range(5):
        new, outs = [], []
        for a, b in parts:
            q, out = _core.pairwise_features_block_sweep(X[a:b], mu, np.ascontiguousarray(Q[a:b]), total, T, form, 2)
            qr, outr = ref.pairwise_features_block_sweep(X[a:b], mu, np.ascontiguousarray(Q[a:b]), total, T, form)
            assert q.dtype == dtype
            assert np.abs(q.astype(np.float64) - qr).max() < (1e-4 if dtype == np.float32 else 1e-12)
            new.append(q)
            outs.append(out)
        Q = np.concatenate(new)
        total = sum(o[:-4] for o in outs)
        assert_allclose(total, _core.pairwise_features_block_stats(X, mu, Q, 1), rtol=1e-10, atol=1e-8)
    Qf, stats, st = _core.pairwise_features_fixed_point(X, mu, Q0, T, form, 5, 0.0, 2)
    tol = 1e-3 if dtype == np.float32 else 1e-11
    assert np.abs(Q.astype(np.float64) - Qf).max() < tol
    ent = sum(o[-4] for o in outs)
    assert_allclose(ent, stats[1], rtol=1e-9, atol=1e-9)
    assert max(o[-2] for o in outs) == pytest.approx(stats[3], rel=1e-6, abs=1e-12 if dtype == np.float64 else 1e-5)
    assert all(o[-1] == 0 for o in outs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_block_kernels_one_and_two_threads_identical(dtype):
    X, mu, Q = problem(70000, 5, dtype)
    a = _core.pairwise_features_block_stats(X, mu, Q, 1)
    b = _core.pairwise_features_block_stats(X, mu, Q, 2)
    assert_array_equal(a, b)
    qa, oa = _core.pairwise_features_block_sweep(X, mu, Q, a, 1.3, 1, 1)
    qb, ob = _core.pairwise_features_block_sweep(X, mu, Q, a, 1.3, 1, 2)
    assert_array_equal(qa, qb)
    assert_array_equal(oa, ob)


def test_block_sweep_rejects_bad_input():
    X, mu, Q = problem(20, 2, np.float64)
    total = _core.pairwise_features_block_stats(X, mu, Q, 1)
    with pytest.raises(ValueError, match="total"):
        _core.pairwise_features_block_sweep(X, mu, Q, total[:-1], 1.0, 1, 1)
    with pytest.raises(ValueError, match="temperature"):
        _core.pairwise_features_block_sweep(X, mu, Q, total, -1.0, 1, 1)
    with pytest.raises(ValueError, match="form"):
        _core.pairwise_features_block_sweep(X, mu, Q, total, 1.0, 5, 1)
    with pytest.raises((ValueError, TypeError), match="assignments"):
        _core.pairwise_features_block_sweep(X, mu, Q[:5], total, 1.0, 1, 1)
