"""quadratic_assignment (scipy conventions), the compiled QAP fixed point and 2-opt vs their twins, brute force."""

import itertools

import numpy as np
import pytest
from scipy.optimize import OptimizeResult

import danneal
from danneal import _core
from danneal.reference import qap_local_search as ref_local_search
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
    args = (
        A.astype(dtype),
        B.astype(dtype),
        E.astype(dtype),
        -0.02,
        0.3,
        2.0,
        M0.astype(dtype),
        max_inner,
        0.0,
        4,
        rng.normal(size=n),
        rng.normal(size=n),
    )
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


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (lambda: danneal.quadratic_assignment(np.ones((3, 2)), np.ones((3, 2))), ValueError, "A: must be square"),
        (lambda: danneal.quadratic_assignment(np.ones((3, 3)), np.ones((3, 2))), ValueError, "B: must be square"),
        (lambda: danneal.quadratic_assignment(np.ones((0, 0)), np.ones((0, 0))), ValueError, "A: empty"),
        (lambda: danneal.quadratic_assignment(np.full((2, 2), np.nan), np.ones((2, 2))), ValueError, "NaN"),
        (
            lambda: danneal.quadratic_assignment(np.ones((3, 3)), np.ones((3, 3)), method="faq"),
            ValueError,
            "method='faq'",
        ),
        (
            lambda: danneal.quadratic_assignment(np.ones((3, 3)), np.ones((3, 3)), options={"n_init": 0}),
            ValueError,
            "n_init=0",
        ),
        (
            lambda: danneal.quadratic_assignment(np.ones((3, 3)), np.ones((3, 3)), options={"P0": "x"}),
            ValueError,
            "P0='x'",
        ),
        (
            lambda: danneal.quadratic_assignment(np.ones((3, 3)), np.ones((3, 3)), options={"P0": np.ones((3, 3))}),
            ValueError,
            "doubly stochastic",
        ),
        (
            lambda: danneal.quadratic_assignment(np.ones((3, 3)), np.ones((3, 3)), options={"bogus": 1}),
            ValueError,
            "unknown option",
        ),
        (
            lambda: danneal.quadratic_assignment(np.ones((3, 3)), np.ones((3, 3)), options={"local_search": "3opt"}),
            ValueError,
            "local_search=",
        ),
        (
            lambda: danneal.quadratic_assignment(np.ones((3, 3)), np.ones((3, 3)), options={"partial_match": [[0, 3]]}),
            ValueError,
            r"partial_match\[0, 1\]=3",
        ),
        (
            lambda: danneal.quadratic_assignment(
                np.ones((3, 3)), np.ones((3, 3)), options={"partial_match": [[0, 1], [0, 2]]}
            ),
            ValueError,
            "partial_match: column 0",
        ),
        (
            lambda: danneal.quadratic_assignment(np.ones((3, 3)), np.ones((3, 3)), options={"n_kicks": -1}),
            ValueError,
            "n_kicks=-1",
        ),
        (
            lambda: _core.qap_local_search(
                np.ones((3, 3)), np.ones((3, 3)), np.zeros((1, 3), dtype=np.int64), None, False, 10, 0, 1, None, 1
            ),
            ValueError,
            "not a permutation",
        ),
        (
            lambda: _core.qap_local_search(
                np.ones((3, 3)), np.ones((3, 3)), np.zeros((1, 3), dtype=np.int64), None, False, 10, 0, 0, None, 1
            ),
            ValueError,
            "kick_size=0",
        ),
        (
            lambda: danneal.quadratic_assignment(
                np.ones((3, 3)), np.ones((3, 3)), options={"rng": 1, "random_state": 1}
            ),
            ValueError,
            "only one of",
        ),
        (
            lambda: _core.qap_fixed_point(
                np.ones((2, 2)),
                np.ones((2, 2)),
                None,
                -1.0,
                0.0,
                0.0,
                np.ones((2, 2)) / 2,
                1,
                0.0,
                1,
                np.zeros(2),
                np.zeros(2),
            ),
            ValueError,
            "beta=0",
        ),
    ],
)
def test_validation(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def is_local_optimum(A, B, p, movable=None, maximize=False):
    f = float(np.sum(A * B[np.ix_(p, p)]))
    idx = np.arange(len(p)) if movable is None else np.flatnonzero(movable)
    tol = 1e-9 * max(abs(f), 1.0)
    for r, s in itertools.combinations(idx, 2):
        q = p.copy()
        q[r], q[s] = q[s], q[r]
        g = float(np.sum(A * B[np.ix_(q, q)]))
        if (g > f + tol) if maximize else (g < f - tol):
            return False
    return True


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(3))
def test_local_search_matches_twin_and_is_local_optimum(dtype, seed):
    rng = np.random.default_rng(seed)
    n = 9
    A = rng.random((n, n)).astype(dtype)
    B = rng.random((n, n)).astype(dtype)
    if seed == 1:
        A, B = A + A.T, B + B.T
    P = np.array([rng.permutation(n) for _ in range(3)], dtype=np.int64)
    movable = rng.random(n) > 0.25
    seeds = rng.integers(0, 2**63, size=3, dtype=np.uint64)
    for maximize in (False, True):
        for kicks in (0, 6):
            p1, m1 = _core.qap_local_search(A, B, P, movable, maximize, 1000, kicks, 3, seeds, 1)
            p2, m2 = ref_local_search(A, B, P, movable, maximize, 1000, kicks, 3, seeds)
            np.testing.assert_array_equal(p1, p2)
            np.testing.assert_array_equal(m1, m2)
            p3, m3 = _core.qap_local_search(A, B, P, movable, maximize, 1000, kicks, 3, seeds, 2)
            np.testing.assert_array_equal(p1, p3)  # 1 vs 2 threads: identical
            np.testing.assert_array_equal(m1, m3)
            A64, B64 = A.astype(np.float64), B.astype(np.float64)
            for p, p0 in zip(p1, P):
                np.testing.assert_array_equal(p[~movable], p0[~movable])  # fixed positions stay put
                assert is_local_optimum(A64, B64, p, movable, maximize)


def test_local_search_kicks_improve_and_max_moves():
    rng = np.random.default_rng(5)
    n = 20
    A, B = rng.random((n, n)), rng.random((n, n))
    P = np.array([rng.permutation(n) for _ in range(4)], dtype=np.int64)
    f = lambda p: float(np.sum(A * B[np.ix_(p, p)]))
    p0, _ = _core.qap_local_search(A, B, P, None, False, 10**6, 0, 3, None, 1)
    p1, _ = _core.qap_local_search(A, B, P, None, False, 10**6, 50, 3, None, 1)
    assert all(f(b) <= f(a) + 1e-12 for a, b in zip(p0, p1))
    assert sum(f(b) < f(a) - 1e-9 for a, b in zip(p0, p1)) >= 1
    pz, mz = _core.qap_local_search(A, B, P, None, False, 0, 0, 3, None, 1)
    np.testing.assert_array_equal(pz, P)
    assert (mz == 0).all()


def test_quadratic_assignment_threads_identical_and_local_optimum():
    rng = np.random.default_rng(2)
    n = 14
    A, B = rng.random((n, n)), rng.random((n, n))
    r1 = danneal.quadratic_assignment(A, B, options={"n_init": 4, "rng": 1, "n_threads": 1})
    r2 = danneal.quadratic_assignment(A, B, options={"n_init": 4, "rng": 1, "n_threads": 2})
    np.testing.assert_array_equal(r1.col_ind, r2.col_ind)
    assert r1.fun == r2.fun and r1.restart == r2.restart
    assert is_local_optimum(A, B, r1.col_ind)
    rx = danneal.quadratic_assignment(A, B, options={"maximize": True, "rng": 0})
    assert is_local_optimum(A, B, rx.col_ind, maximize=True)
    for method in ("self_annealing", "exponentiated_relaxation"):
        r = danneal.quadratic_assignment(A, B, method=method, options={"n_init": 3, "rng": 0, "n_threads": 2})
        r1 = danneal.quadratic_assignment(A, B, method=method, options={"n_init": 3, "rng": 0, "n_threads": 1})
        np.testing.assert_array_equal(r.col_ind, r1.col_ind)
        assert is_local_optimum(A, B, r.col_ind)


def test_partial_match_honoured():
    rng = np.random.default_rng(4)
    n = 7
    for trial in range(3):
        A, B = random_instance(rng, n, symmetric=trial != 1)
        seeds = np.array([[0, 3], [4, 1]])
        free_a, free_b = [1, 2, 3, 5, 6], [0, 2, 4, 5, 6]
        best = None
        for q in itertools.permutations(free_b):
            p = np.empty(n, dtype=int)
            p[seeds[:, 0]] = seeds[:, 1]
            p[free_a] = q
            val = float(np.sum(A * B[np.ix_(p, p)]))
            best = val if best is None else min(best, val)
        for method in ("graduated", "self_annealing"):
            res = danneal.quadratic_assignment(
                A, B, method=method, options={"partial_match": seeds, "rng": 0, "n_init": 3}
            )
            np.testing.assert_array_equal(res.col_ind[seeds[:, 0]], seeds[:, 1])
            assert sorted(res.col_ind) == list(range(n))
            assert res.fun == pytest.approx(float(np.sum(A * B[np.ix_(res.col_ind, res.col_ind)])))
            assert res.fun == pytest.approx(best)  # 5 free nodes: restarts and kicks find the optimum
    # every node seeded: the seeds are the answer
    res = danneal.quadratic_assignment(A, B, options={"partial_match": np.c_[np.arange(n), np.arange(n)[::-1]]})
    np.testing.assert_array_equal(res.col_ind, np.arange(n)[::-1])


def test_unequal_sizes_padded():
    rng = np.random.default_rng(8)
    A, _ = random_instance(rng, 5)
    _, B = random_instance(rng, 7)
    f = lambda Ax, Bx, p: float(
        sum(Ax[i, j] * Bx[p[i], p[j]] for i in range(len(p)) for j in range(len(p)) if p[i] >= 0 and p[j] >= 0)
    )
    r = danneal.quadratic_assignment(A, B, options={"rng": 0})  # A smaller: every node of A matched
    assert r.col_ind.shape == (5,) and len(set(r.col_ind)) == 5 and r.col_ind.max() < 7
    assert r.fun == pytest.approx(f(A, B, r.col_ind))
    best = min(f(A, B, p) for p in itertools.permutations(range(7), 5))
    assert r.fun == pytest.approx(best)
    r2 = danneal.quadratic_assignment(B, A, options={"rng": 0})  # A larger: two nodes unmatched (-1)
    assert r2.col_ind.shape == (7,) and (r2.col_ind == -1).sum() == 2
    assert sorted(r2.col_ind[r2.col_ind >= 0]) == list(range(5))
    assert r2.fun == pytest.approx(f(B, A, r2.col_ind))
