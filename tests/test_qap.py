"""quadratic_assignment (scipy conventions), the compiled QAP fixed point and 2-opt vs their twins, brute force."""

import itertools

import numpy as np
import pytest
from scipy.optimize import OptimizeResult

import danneal
from danneal import _core
from danneal.reference import softassign as ref

METHODS = ["graduated", "self_annealing", "self_annihilation", "relaxation_labeling", "exponentiated_relaxation"]


def brute_force(A, B, maximize=False):
    n = len(A)
    vals = [(float(np.sum(A * B[np.ix_(p, p)])), p) for p in map(list, itertools.permutations(range(n)))]
    return (max if maximize else min)(vals, key=lambda t: t[0])


def random_instance(rng, n, symmetric=True):
    A = rng.integers(0, 10, size=(n, n)).astype(float)
    B = rng.integers(0, 10, size=(n, n)).astype(float)
    if symmetric:
        A, B = A + A.T, B + B.T
    np.fill_diagonal(A, 0)
    np.fill_diagonal(B, 0)
    return A, B


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("max_inner", [1, 5, 50])
def test_fixed_point_kernel_matches_twin(rng, dtype, max_inner):
    n = 9
    A, B = random_instance(rng, n, symmetric=False)
    E = 0.1 * rng.standard_normal((n, n))
    M0 = np.full((n, n), 1.0 / n) + 0.01 * rng.random((n, n))
    args = (A.astype(dtype), B.astype(dtype), E.astype(dtype), -0.02, 0.3, 2.0, M0.astype(dtype), max_inner, 0.0, 4,
            rng.normal(size=n), rng.normal(size=n))
    M, al, be, st = _core.qap_fixed_point(*args)
    M2, al2, be2, st2 = ref.qap_fixed_point(*args)
    assert M.dtype == dtype and st["iterations"] == st2["iterations"] == max_inner
    rtol = 1e-4 if dtype == np.float32 else 1e-9
    np.testing.assert_allclose(M, M2, rtol=rtol, atol=rtol * 1e-3)
    np.testing.assert_allclose(M.sum(0), 1, atol=1e-6 if dtype == np.float64 else 1e-4)


@pytest.mark.parametrize("seed", range(4))
def test_2opt_matches_twin(seed):
    rng = np.random.default_rng(seed)
    A, B = random_instance(rng, 8, symmetric=seed % 2 == 0)
    p0 = rng.permutation(8).astype(np.int64)
    for maximize in (False, True):
        p, k = _core.qap_2opt(A, B, p0, maximize, 1000)
        p2, k2 = ref.qap_2opt(A, B, p0, maximize, 1000)
        np.testing.assert_array_equal(p, p2)
        assert k == k2
    f0 = np.sum(A * B[np.ix_(p0, p0)])
    p, _ = _core.qap_2opt(A, B, p0, False, 1000)
    assert np.sum(A * B[np.ix_(p, p)]) <= f0
    with pytest.raises(ValueError, match="not a permutation"):
        _core.qap_2opt(A, B, np.zeros(8, dtype=np.int64), False, 10)


@pytest.mark.parametrize("method", METHODS)
def test_brute_force_small(method):
    rng = np.random.default_rng(7)
    hits = 0
    for trial in range(4):
        A, B = random_instance(rng, 7, symmetric=trial % 2 == 0)
        fbest, _ = brute_force(A, B)
        res = danneal.quadratic_assignment(A, B, method=method)
        assert isinstance(res, OptimizeResult)
        assert sorted(res.col_ind) == list(range(7))
        assert res.fun == pytest.approx(np.sum(A * B[np.ix_(res.col_ind, res.col_ind)]))
        assert res.fun >= fbest - 1e-9
        assert res.fun <= res.fun_before_local_search + 1e-9
        hits += res.fun <= fbest * (1 + 0.05)
    assert hits >= 2, method  # within 5 % of the optimum on most instances


def test_restarts_reach_optimum_and_maximize():
    rng = np.random.default_rng(3)
    for _ in range(3):
        A, B = random_instance(rng, 7)
        fmin, _ = brute_force(A, B)
        fmax, _ = brute_force(A, B, maximize=True)
        res = danneal.quadratic_assignment(A, B, options={"n_init": 10, "rng": 0})
        assert res.fun == pytest.approx(fmin)
        resx = danneal.quadratic_assignment(A, B, options={"n_init": 10, "rng": 0, "maximize": True})
        assert fmax >= resx.fun >= 0.98 * fmax


def test_reproducible_and_options(rng):
    A, B = random_instance(rng, 10)
    r1 = danneal.quadratic_assignment(A, B, options={"n_init": 3, "rng": 5})
    r2 = danneal.quadratic_assignment(A, B, options={"n_init": 3, "random_state": 5})
    np.testing.assert_array_equal(r1.col_ind, r2.col_ind)
    r3 = danneal.quadratic_assignment(A, B, options={"P0": np.full((10, 10), 0.1), "local_search": None})
    assert r3.fun == r3.fun_before_local_search
    r4 = danneal.quadratic_assignment(A, B, options={"fast": False})
    assert sorted(r4.col_ind) == list(range(10))
    # integer input and caller arrays untouched
    Ai, Bi = A.astype(int), B.astype(int)
    A0 = Ai.copy()
    danneal.quadratic_assignment(Ai, Bi)
    np.testing.assert_array_equal(Ai, A0)


def test_graduated_fast_path_matches_engine_on_hard_instances():
    # both paths implement the same annealing; they agree on the final permutation for a planted instance
    rng = np.random.default_rng(11)
    n = 12
    A, _ = random_instance(rng, n)
    p = rng.permutation(n)
    B = np.zeros_like(A)
    B[np.ix_(p, p)] = A  # B[p(i), p(j)] = A[i, j]: maximising trace(A^T P B P^T) recovers p
    r_fast = danneal.quadratic_assignment(A, B, options={"maximize": True})
    r_slow = danneal.quadratic_assignment(A, B, options={"maximize": True, "fast": False})
    fbest = float(np.sum(A * A))
    assert r_fast.fun == pytest.approx(fbest) and r_slow.fun == pytest.approx(fbest)


@pytest.mark.parametrize("call,exc,match", [
    (lambda: danneal.quadratic_assignment(np.ones((3, 3)), np.ones((4, 4))), ValueError, "same shape"),
    (lambda: danneal.quadratic_assignment(np.ones((3, 2)), np.ones((3, 2))), ValueError, "A: must be square"),
    (lambda: danneal.quadratic_assignment(np.ones((3, 3)), np.ones((3, 2))), ValueError, "B: must be square"),
    (lambda: danneal.quadratic_assignment(np.ones((0, 0)), np.ones((0, 0))), ValueError, "A: empty"),
    (lambda: danneal.quadratic_assignment(np.full((2, 2), np.nan), np.ones((2, 2))), ValueError, "NaN"),
    (lambda: danneal.quadratic_assignment(np.ones((3, 3)), np.ones((3, 3)), method="faq"), ValueError, "method='faq'"),
    (lambda: danneal.quadratic_assignment(np.ones((3, 3)), np.ones((3, 3)), options={"n_init": 0}), ValueError,
     "n_init=0"),
    (lambda: danneal.quadratic_assignment(np.ones((3, 3)), np.ones((3, 3)), options={"P0": "x"}), ValueError, "P0='x'"),
    (lambda: danneal.quadratic_assignment(np.ones((3, 3)), np.ones((3, 3)), options={"P0": np.ones((3, 3))}),
     ValueError, "doubly stochastic"),
    (lambda: danneal.quadratic_assignment(np.ones((3, 3)), np.ones((3, 3)), options={"bogus": 1}), ValueError,
     "unknown option"),
    (lambda: danneal.quadratic_assignment(np.ones((3, 3)), np.ones((3, 3)), options={"local_search": "3opt"}),
     ValueError, "local_search="),
    (lambda: danneal.quadratic_assignment(np.ones((3, 3)), np.ones((3, 3)), options={"partial_match": [[0, 1]]}),
     ValueError, "partial_match"),
    (lambda: danneal.quadratic_assignment(np.ones((3, 3)), np.ones((3, 3)), options={"rng": 1, "random_state": 1}),
     ValueError, "only one of"),
    (lambda: _core.qap_fixed_point(np.ones((2, 2)), np.ones((2, 2)), None, -1.0, 0.0, 0.0, np.ones((2, 2)) / 2, 1, 0.0, 1,
                                   np.zeros(2), np.zeros(2)), ValueError, "beta=0"),
])
def test_validation(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
