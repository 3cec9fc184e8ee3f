"""Feature-space pairwise clustering (squared Euclidean D never formed, issue 11 §1): kernels vs
their numpy twins, vs the dense kernels on the formed D, thread determinism, and the estimator's
feature path against its dense path."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.metrics import adjusted_rand_score, pairwise_distances

import danneal._pairwise as pw
from danneal import PairwiseAnnealing, _core
from danneal import reference as ref
from danneal._pairwise_split import split_merge

RTOL = {np.float32: 2e-4, np.float64: 1e-10}


def problem(n, k, dtype, d=4, seed=0, offset=5.0):
    rng = np.random.default_rng(seed)
    X = np.concatenate([rng.standard_normal((n // 2, d)), rng.standard_normal((n - n // 2, d)) + 3]) + offset
    Q = rng.random((n, k)) + 0.1
    Q /= Q.sum(1, keepdims=True)
    X = np.ascontiguousarray(X, dtype=dtype)
    D = np.ascontiguousarray(pairwise_distances(X.astype(np.float64), metric="sqeuclidean"), dtype=dtype)
    np.fill_diagonal(D, 0)
    return X, X.astype(np.float64).mean(0), D, np.ascontiguousarray(Q, dtype=dtype)


def rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,k", [(1, 1), (2, 2), (7, 3), (300, 8), (600, 5)])
def test_features_dq_matches_twin_and_dense(dtype, n, k):
    X, mu, D, Q = problem(n, k, dtype)
    DQ, c, S = _core.pairwise_features_dq(X, mu, Q, 2)
    DQr, cr, Sr = ref.pairwise_features_dq(X, mu, Q)
    assert DQ.dtype == dtype
    assert rel(DQ, DQr) < RTOL[dtype] and rel(c, cr) < RTOL[dtype]
    assert_allclose(S, Sr, rtol=1e-12)
    DQd, cd, Sd = _core.pairwise_dq(D, Q, 1)  # the dense kernel on the formed matrix
    assert rel(DQ, DQd) < RTOL[dtype] and rel(c, cd) < RTOL[dtype]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("form", [0, 1])
def test_features_potential_matches_twin_and_dense(dtype, form):
    X, mu, D, Q = problem(257, 4, dtype)
    H = _core.pairwise_features_potential(X, mu, Q, form, 2)
    assert H.dtype == dtype
    assert rel(H, ref.pairwise_features_potential(X, mu, Q, form)) < RTOL[dtype]
    assert rel(H, _core.pairwise_potential(D, Q, form, 1)) < RTOL[dtype]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("form", [0, 1])
@pytest.mark.parametrize("T", [0.0, 0.7, 20.0])
def test_features_fixed_point_matches_twin_and_dense_after_fixed_sweeps(dtype, form, T):
    X, mu, D, Q0 = problem(300, 3, dtype)
    Q, stats, st = _core.pairwise_features_fixed_point(X, mu, Q0, T, form, 6, 0.0, 2)
    Qr, statsr, str_ = ref.pairwise_features_fixed_point(X, mu, Q0, T, form, 6, 0.0)
    Qd, statsd, std_ = _core.pairwise_fixed_point(D, Q0, T, form, 6, 0.0, 1)
    assert Q.dtype == dtype and st["iterations"] == str_["iterations"] == std_["iterations"] == 6
    if dtype == np.float64:
        # exact algebra: the dense kernel's potentials agree to 1e-10 relative after the sweeps
        assert rel(Q, Qr) < 1e-10 and rel(Q, Qd) < 1e-10
        assert (
            rel(_core.pairwise_features_potential(X, mu, Q, form, 1), _core.pairwise_potential(D, Qd, form, 1)) < 1e-10
        )
        assert_allclose(stats, statsr, rtol=1e-9, atol=1e-9)
        assert_allclose(stats, statsd, rtol=1e-9, atol=1e-9)
    else:
        # float32 D rounds each dissimilarity; six contracting sweeps stay within 1e-3
        assert np.abs(Q.astype(np.float64) - Qd).max() < 1e-3
        assert np.abs(Q.astype(np.float64) - Qr).max() < 1e-3
        assert_allclose(stats[0], statsd[0], rtol=1e-4)
    assert np.isfinite(Q).all() and not st["numerical_error"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("T", [0.0, 0.7, 20.0])
@pytest.mark.parametrize("sweeps", [2, 3, 7, 40])
def test_features_accelerated_fixed_point_matches_twin_and_threads(dtype, T, sweeps):
    # SQUAREM every third sweep (gradient potentials, T > 0): the kernel equals its twin after a
    # fixed number of sweeps, 1 and 2 threads give identical bits, and the fixed point it reaches
    # is the plain one's (converged to 1e-9, the same cost)
    X, mu, _, Q0 = problem(300, 3, dtype)
    w = np.random.default_rng(2).uniform(0.5, 2.0, 300)
    for sw in (None, w):
        a = _core.pairwise_features_fixed_point(X, mu, Q0, T, 1, sweeps, 0.0, 2, sample_weight=sw, accelerate=True)
        b = _core.pairwise_features_fixed_point(X, mu, Q0, T, 1, sweeps, 0.0, 1, sample_weight=sw, accelerate=True)
        r = ref.pairwise_features_fixed_point(X, mu, Q0, T, 1, sweeps, 0.0, sample_weight=sw, accelerate=True)
        assert_array_equal(a[0], b[0])
        assert_array_equal(a[1], b[1])
        assert a[2]["iterations"] == r[2]["iterations"] == sweeps
        # (an extrapolation step a multiplies the rounding differences of kernel and twin by up to
        # a^2: float64 agrees to ~1e-9 after 40 sweeps, not to the 1e-10 of the plain sweeps)
        assert rel(a[0], r[0]) < (1e-8 if dtype == np.float64 else RTOL[dtype]) and np.isfinite(a[0]).all()
        # (float32: the largest change compares float32 assignments, whose ulp near 1/3 is 3e-8)
        assert_allclose(
            a[1], r[1], rtol=1e-6 if dtype == np.float32 else 1e-9, atol=1e-7 if dtype == np.float32 else 1e-9
        )
    if dtype == np.float64 and T > 0:
        p = _core.pairwise_features_fixed_point(X, mu, Q0, T, 1, 5000, 1e-10, 1)
        q = _core.pairwise_features_fixed_point(X, mu, Q0, T, 1, 5000, 1e-10, 1, accelerate=True)
        assert p[2]["converged"] and q[2]["converged"]
        assert q[2]["iterations"] <= p[2]["iterations"]
        # both stop when one sweep moves an assignment by < 1e-10; with the contraction rate rho of
        # the map the distance left is up to 1e-10 / (1 - rho), large just above T_c (T = 20 here)
        assert np.abs(p[0] - q[0]).max() < 1e-6
        assert q[1][0] == pytest.approx(p[1][0], rel=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("form", [0, 1])
def test_features_one_and_two_threads_give_identical_bits(dtype, form):
    # 70000 rows: more than one chunk of the large-n chunking too
    for n in (900, 70000):
        X, mu, _, Q0 = (
            problem(n, 4, dtype)
            if n < 5000
            else (lambda r: (r[0], r[0].astype(np.float64).mean(0), None, r[1]))(_big(n, 4, dtype))
        )
        a = _core.pairwise_features_fixed_point(X, mu, Q0, 1.5, form, 3, 0.0, 1)
        b = _core.pairwise_features_fixed_point(X, mu, Q0, 1.5, form, 3, 0.0, 2)
        assert_array_equal(a[0], b[0])
        assert_array_equal(a[1], b[1])
        lab = np.ascontiguousarray(np.argmax(Q0, axis=1), dtype=np.int64)
        la = _core.pairwise_features_local_search(X, mu, lab, 4, 3, 1)
        lb = _core.pairwise_features_local_search(X, mu, lab, 4, 3, 2)
        assert_array_equal(la[0], lb[0])
        assert la[1] == lb[1]


def _big(n, k, dtype):
    rng = np.random.default_rng(1)
    X = np.ascontiguousarray(rng.standard_normal((n, 3)) + 2.0, dtype=dtype)
    Q = rng.random((n, k)) + 0.1
    return X, np.ascontiguousarray(Q / Q.sum(1, keepdims=True), dtype=dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_features_local_search_matches_twin_and_dense(dtype, rng):
    X, mu, D, _ = problem(240, 5, dtype)
    lab = rng.integers(0, 5, 240).astype(np.int64)
    lab_in = lab.copy()
    l1, c1, s1 = _core.pairwise_features_local_search(X, mu, lab, 5, 100, 2)
    lr, cr, sr = ref.pairwise_features_local_search(X, mu, lab, 5, 100)
    ld, cd, sd = _core.pairwise_local_search(np.ascontiguousarray(D, dtype=np.float64), lab, 5, 100, 1)
    assert_array_equal(lab, lab_in)  # input untouched
    assert_array_equal(l1, lr)
    assert_array_equal(l1, ld)
    assert c1 == pytest.approx(cr, rel=1e-6 if dtype == np.float32 else 1e-12)
    assert c1 == pytest.approx(cd, rel=1e-6 if dtype == np.float32 else 1e-12)
    assert s1["converged"] and s1["iterations"] == sr["iterations"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("spread", [0.6, 3.0])
def test_features_local_search_pruned_equals_twin(dtype, spread):
    # near-converged labels on overlapping blobs: most rows are skipped by the bounds of the
    # compiled search, the rest move; the moves must be exactly those of the plain sequential twin
    rng = np.random.default_rng(7)
    n, k = 3000, 6
    C = rng.standard_normal((k, 4)) * 3.0
    X = np.ascontiguousarray(C[rng.integers(0, k, n)] + spread * rng.standard_normal((n, 4)), dtype=dtype)
    mu = X.astype(np.float64).mean(0)
    lab = np.argmin(((X[:, None, :] - C[None]) ** 2).sum(-1), axis=1).astype(np.int64)
    flip = rng.random(n) < 0.05
    lab[flip] = rng.integers(0, k, flip.sum())
    lab[:2] = k - 1  # a tiny cluster: two members only
    lab[lab == k - 1] = 0
    lab[:2] = k - 1
    for passes in (1, 100):
        for nt in (1, 2):
            l1, c1, s1 = _core.pairwise_features_local_search(X, mu, lab, k, passes, nt)
            lr, cr, sr = ref.pairwise_features_local_search(X, mu, lab, k, passes)
            assert_array_equal(l1, lr)
            assert c1 == pytest.approx(cr, rel=1e-6 if dtype == np.float32 else 1e-12)
            assert s1["iterations"] == sr["iterations"] and s1["error"] == sr["error"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_features_zero_temperature_statistics_exact(dtype):
    # the zero-temperature sweep accumulates the statistics of its one-hot rows in O(d); the cost
    # it reports for them must be bit-identical to the one from the general accumulation
    X, Q0 = _big(5000, 5, dtype)
    mu = X.astype(np.float64).mean(0)
    Q1, _, _ = _core.pairwise_features_fixed_point(X, mu, Q0, 0.0, 1, 1, 0.0, 2)
    _, s2, _ = _core.pairwise_features_fixed_point(X, mu, Q0, 0.0, 1, 2, 0.0, 2)
    _, s1, _ = _core.pairwise_features_fixed_point(X, mu, Q1, 0.0, 1, 1, 0.0, 2)
    assert s2[0] == s1[0]


@settings(max_examples=80, deadline=None)
@given(
    scale=st.sampled_from([1e-150, 1e-5, 1.0, 1e5, 1e150]),
    T=st.sampled_from([4e-309, 1e-300, 1e-5, 1.0, 1e300]),
    form=st.sampled_from([0, 1]),
    dtype=st.sampled_from([np.float32, np.float64]),
    dup=st.booleans(),
    empty=st.booleans(),
    seed=st.integers(0, 2**16),
    accelerate=st.booleans(),
)
def test_features_fixed_point_rows_are_distributions_at_any_scale(scale, T, form, dtype, dup, empty, seed, accelerate):
    # invariant: after any sweeps the rows are probability vectors (finite, >= 0, sum 1) and the
    # statistics are finite, at every temperature (the sweep shifts by the row's smallest potential
    # before dividing by T: at T = 1e-300 with potentials ~1e10, -h/T alone overflows on every
    # cluster) and every scale; duplicated rows, an empty cluster; equal to the numpy twin
    if dtype == np.float32 and scale > 1e30:
        scale = 1e5  # float32 cannot hold the points
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((40, 3)) * scale
    if dup:
        X[20:] = X[:20]
    X = X.astype(dtype)
    mu = X.astype(np.float64).mean(axis=0)
    Q = rng.random((40, 4))
    if empty:
        Q[:, 3] = 0.0
    Q = (Q / Q.sum(axis=1, keepdims=True)).astype(dtype)
    # (4 sweeps: with accelerate the fourth starts from an extrapolation)
    Qn, stats, status = _core.pairwise_features_fixed_point(X, mu, Q, T, form, 4, 0.0, 1, accelerate=accelerate)
    Qr, _, _ = ref.pairwise_features_fixed_point(X, mu, Q, T, form, 4, 0.0, accelerate=accelerate)
    assert np.isfinite(Qn).all() and (Qn >= 0).all() and np.isfinite(stats).all()
    assert not status["numerical_error"]
    np.testing.assert_allclose(Qn.astype(np.float64).sum(axis=1), 1.0, rtol=1e-5 if dtype == np.float32 else 1e-12)
    assert np.abs(Qn.astype(np.float64) - Qr.astype(np.float64)).max() < (1e-3 if dtype == np.float32 else 1e-8)
    if empty:
        assert (Qn[:, 3] == 0).all()


def test_features_empty_cluster_attracts_nobody_and_no_nan():
    X, mu, D, Q = problem(50, 3, np.float64)
    Q[:, 2] = 0
    Q /= Q.sum(1, keepdims=True)
    for T in (0.0, 1.0):
        Qn, stats, st = _core.pairwise_features_fixed_point(X, mu, Q, T, 1, 3, 0.0, 1)
        assert np.isfinite(Qn).all() and np.isfinite(stats).all() and not st["numerical_error"]
        assert (Qn[:, 2] == 0).all()
    H = _core.pairwise_features_potential(X, mu, Q, 0, 1)
    assert np.isinf(H[:, 2]).all() and np.isfinite(H[:, :2]).all()


def test_features_kernel_rejects_bad_arrays():
    X, mu, _, Q = problem(20, 2, np.float64)
    with pytest.raises(ValueError, match="center"):
        _core.pairwise_features_fixed_point(X, mu[:2], Q, 1.0, 1, 2, 0.0, 1)
    with pytest.raises(TypeError, match="assignments"):
        _core.pairwise_features_fixed_point(X, mu, Q.astype(np.float32), 1.0, 1, 2, 0.0, 1)
    with pytest.raises(ValueError, match="assignments"):
        _core.pairwise_features_dq(X, mu, Q[:10], 1)
    with pytest.raises(ValueError, match="form=3"):
        _core.pairwise_features_potential(X, mu, Q, 3, 1)
    with pytest.raises(ValueError, match="temperature"):
        _core.pairwise_features_fixed_point(X, mu, Q, -1.0, 1, 2, 0.0, 1)
    with pytest.raises(ValueError, match="labels"):
        _core.pairwise_features_local_search(X, mu, np.full(20, 5, dtype=np.int64), 2, 2, 1)
    with pytest.raises(ValueError, match="n_threads"):
        _core.pairwise_features_dq(X, mu, Q, 0)


# ---- the estimator ---------------------------------------------------------------------------


def blobs(n, k, d=3, seed=0, std=0.3):
    rng = np.random.default_rng(seed)
    centers = rng.uniform(-10, 10, (k, d))
    y = np.arange(n) % k
    return centers[y] + std * rng.standard_normal((n, d)), y


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("metric", ["sqeuclidean", "cosine"])
def test_feature_and_dense_fits_agree(dtype, metric):
    X, y = blobs(240, 4, seed=3)
    X = (X + 20.0).astype(dtype) if metric == "cosine" else X.astype(dtype)
    X_in = X.copy()
    # the same sweeps as the dense path: no SQUAREM extrapolation (the dense path has none)
    f = PairwiseAnnealing(4, metric=metric, random_state=0, accelerate=False).fit(X)
    d = PairwiseAnnealing(4, metric=metric, algorithm="dense", random_state=0).fit(X)
    a = PairwiseAnnealing(4, metric=metric, random_state=0).fit(X)
    assert_array_equal(X, X_in)
    # accelerated (the default): another path to the same partition and cost (cluster order may differ)
    assert adjusted_rand_score(a.labels_, d.labels_) == 1.0
    assert a.cost_ == pytest.approx(d.cost_, rel=1e-9 if dtype == np.float64 else 1e-4)
    assert f.algorithm_ == "features" and d.algorithm_ == "dense"
    assert f.assignments_.dtype == dtype
    assert_array_equal(f.labels_, d.labels_)
    # float32 cosine D = 1 - cos rounds near 0 (cancellation): the dense cost is the inexact one
    rtol = 1e-9 if dtype == np.float64 else (1e-4 if metric == "cosine" else 1e-5)
    assert f.cost_ == pytest.approx(d.cost_, rel=rtol)
    assert f.critical_temperature_ == pytest.approx(d.critical_temperature_, rel=1e-2)
    Xn = X[::7] + 0.01
    assert_array_equal(f.predict(Xn), d.predict(Xn))
    assert_array_equal(f.predict(X), f.labels_)


def test_feature_path_cost_is_kmeans_inertia_and_threads_agree(monkeypatch):
    # small problems run on one thread (pw._ROWS_PER_THREAD): lower it so that 2 threads really run
    monkeypatch.setattr(pw, "_ROWS_PER_THREAD", 16)
    X, _ = blobs(400, 5, d=4, seed=1, std=2.0)
    a = PairwiseAnnealing(5, metric="sqeuclidean", random_state=0, n_threads=1).fit(X)
    b = PairwiseAnnealing(5, metric="sqeuclidean", random_state=0, n_threads=2).fit(X)
    assert_array_equal(a.labels_, b.labels_)
    assert a.cost_ == b.cost_
    inertia = sum(((X[a.labels_ == v] - X[a.labels_ == v].mean(0)) ** 2).sum() for v in range(5))
    assert a.cost_ == pytest.approx(inertia, rel=1e-10)
    assert_allclose(a.cluster_centers_, [X[a.labels_ == v].mean(0) for v in range(5)], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_annealing_a_sample_then_finishing_on_all_rows(dtype, monkeypatch):
    """anneal_rows: the annealing and split-merge on a sample, then nearest centroid, Lloyd and the
    local search on all rows; the same cost as annealing all rows on well-separated data, thread
    independent, assignments_ for every row."""
    monkeypatch.setattr(pw, "_ROWS_PER_THREAD", 64)
    X, y = blobs(1500, 5, d=4, seed=4, std=1.0)
    X = X.astype(dtype)
    full = PairwiseAnnealing(5, metric="sqeuclidean", random_state=0, anneal_rows=None).fit(X)
    a = PairwiseAnnealing(5, metric="sqeuclidean", random_state=0, anneal_rows=300, n_threads=1).fit(X)
    b = PairwiseAnnealing(5, metric="sqeuclidean", random_state=0, anneal_rows=300, n_threads=2).fit(X)
    assert full.n_anneal_rows_ == 1500 and a.n_anneal_rows_ == 300
    assert_array_equal(a.labels_, b.labels_)
    assert_array_equal(a.assignments_, b.assignments_)
    assert a.cost_ == b.cost_
    assert a.cost_ == pytest.approx(full.cost_, rel=1e-9 if dtype == np.float64 else 1e-5)
    inertia = sum(
        ((X[a.labels_ == v].astype(np.float64) - X[a.labels_ == v].mean(0, dtype=np.float64)) ** 2).sum()
        for v in range(5)
    )
    assert a.cost_ == pytest.approx(inertia, rel=1e-9 if dtype == np.float64 else 1e-5)
    assert a.assignments_.shape == (1500, 5) and a.assignments_.dtype == dtype
    assert_allclose(a.assignments_.sum(axis=1), 1.0, rtol=1e-5)
    assert_array_equal(np.argmax(a.assignments_, axis=1), a.labels_)
    assert_array_equal(a.predict(X), a.labels_)
    # "auto" keeps every row of a small problem, and the dense path ignores anneal_rows
    assert PairwiseAnnealing(5, metric="sqeuclidean", random_state=0).fit(X[:300]).n_anneal_rows_ == 300
    assert (
        PairwiseAnnealing(5, metric="sqeuclidean", algorithm="dense", anneal_rows=50, random_state=0)
        .fit(X[:300])
        .n_anneal_rows_
        == 300
    )


def test_algorithm_choice_and_errors():
    X, _ = blobs(60, 3)
    assert PairwiseAnnealing(3, metric="cityblock", random_state=0).fit(X).algorithm_ == "dense"
    with pytest.raises(ValueError, match="algorithm='features' needs metric="):
        PairwiseAnnealing(3, metric="cityblock", algorithm="features").fit(X)
    Xz = X.copy()
    Xz[0] = 0
    # cosine with an all-zero row is not a distance of normalised rows: auto falls back to dense
    assert PairwiseAnnealing(3, metric="cosine", random_state=0).fit(Xz).algorithm_ == "dense"
    with pytest.raises(ValueError, match="all-zero row"):
        PairwiseAnnealing(3, metric="cosine", algorithm="features").fit(Xz)
    with pytest.raises(ValueError, match="algorithm"):
        PairwiseAnnealing(3, metric="sqeuclidean", algorithm="nope").fit(X)


def test_dense_memory_check_names_the_way_out(monkeypatch):
    X, _ = blobs(60, 3)
    monkeypatch.setattr(pw, "_available_memory", lambda: 1000)
    with pytest.raises(MemoryError, match=r"60 x 60.*metric='sqeuclidean'.*tiles.*memory_budget.*n_neighbors.*float32"):
        PairwiseAnnealing(3, metric="cityblock", algorithm="dense").fit(X)
    with pytest.raises(MemoryError, match=r"60 x 60"):
        PairwiseAnnealing(3, metric="correlation").fit(X)
    # cityblock forms D in tiles when it does not fit
    assert PairwiseAnnealing(3, metric="cityblock", random_state=0).fit(X).algorithm_ == "tiles"
    with pytest.raises(MemoryError, match="metric='sqeuclidean'"):
        PairwiseAnnealing(3, metric="sqeuclidean", algorithm="dense").fit(X)
    # the feature path never forms the matrix
    assert PairwiseAnnealing(3, metric="sqeuclidean", random_state=0).fit(X).algorithm_ == "features"


def test_early_stop_cuts_temperatures_and_keeps_cost():
    X, _ = blobs(300, 6, d=2, seed=4, std=1.5)
    full = PairwiseAnnealing(6, metric="sqeuclidean", patience=0, random_state=0).fit(X)
    early = PairwiseAnnealing(6, metric="sqeuclidean", patience=3, random_state=0).fit(X)
    assert len(early.history_) <= len(full.history_)
    assert early.cost_ <= full.cost_ * (1 + 1e-9)
    assert any(h.get("early_stop") for h in early.history_) or early.history_[-1]["hardness"] >= 1 - 1e-3
    with pytest.raises(ValueError, match="patience"):
        PairwiseAnnealing(6, metric="sqeuclidean", patience=-1).fit(X)


def test_feature_split_merge_repairs_a_wrong_split():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.uniform([0, 0], [1, 3], (100, 2)), rng.uniform([1.6, 0], [2.6, 3], (100, 2))])
    prob = pw._FeatureProblem(X, 1)
    wrong = np.ascontiguousarray(X[:, 1] > 1.5, dtype=np.int64)
    wrong, cost, _ = prob.local_search(wrong, 2, 100)
    params = pw._AnnealParams(
        cooling=0.9,
        potential="gradient",
        max_iter=100,
        tol=1e-4,
        perturbation=1e-3,
        hard_tol=1e-3,
        local_search=True,
        nt=1,
    )
    with warnings.catch_warnings():
        labels, new_cost, moves = split_merge(prob, wrong, 2, cost, params=params, rng=np.random.RandomState(0))
    assert moves >= 1 and new_cost < cost
    truth = (X[:, 0] > 1.3).astype(np.int64)
    assert len(set(zip(labels, truth))) == 2
