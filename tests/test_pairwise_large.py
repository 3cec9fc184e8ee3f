"""Pairwise clustering without a stored n x n matrix (issue 11 §2, §3): sparse dissimilarities
(only stored pairs known) and dissimilarities formed in tiles from X; soft memberships
(predict_proba, transform)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score, pairwise_distances

from danneal import PairwiseAnnealing, _core
from danneal import _pairwise_large as large
from danneal import reference as ref

DTYPES = [np.float64, np.float32]
TILE_METRICS = [
    (0, 2.0, "cityblock"),
    (1, 2.0, "euclidean"),
    (2, 2.0, "chebyshev"),
    (3, 3.0, "minkowski"),
    (4, 2.0, "sqeuclidean"),
]


def _data(n=200, d=4, seed=0, k=4, std=1.0):
    X, y = make_blobs(n, centers=k, n_features=d, cluster_std=std, random_state=seed)
    return X, y


def _soft(n, k, dtype, seed=1):
    return np.random.default_rng(seed).dirichlet(np.ones(k), n).astype(dtype)


def _knn(X, m=8, metric="euclidean"):
    return large.check_sparse_dissimilarity(large.knn_graph(X, m, metric))


# ---- sparse kernels -------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_sparse_dq_matches_twin_and_threads_agree(dtype):
    X, _ = _data(300)
    ip, ix, data = _knn(X.astype(dtype))
    Q = _soft(300, 5, dtype)
    got = _core.pairwise_sparse_dq(ip, ix, data, Q, 1)
    got2 = _core.pairwise_sparse_dq(ip, ix, data, Q, 2)
    want = ref.pairwise_sparse_dq(ip, ix, data, Q)
    for a, b, w in zip(got, got2, want):
        assert_array_equal(a, b)
        assert_allclose(a, w, rtol=1e-12, atol=1e-12 * np.abs(w).max())


def _sparse_cost(prob, Q):
    _, _, (P, M, S) = ref.pairwise_sparse_dq(prob.indptr, prob.indices, prob.data, Q)
    return float(ref.sparse_cost(prob.mode, prob.fill, P, M, S).sum())


@pytest.mark.parametrize("mode", [large.SPARSE_MEAN, large.SPARSE_FILL])
def test_sparse_potentials_are_the_gradient_of_the_cost(mode):
    """Finite differences of the documented cost (docs/pairwise.md) against the potentials."""
    X, _ = _data(60, seed=3)
    ip, ix, data = _knn(X, 6)
    prob = large._SparseProblem(ip, ix, data, 1, mode, float(data.max()) * 1.3)
    Q = _soft(60, 3, np.float64, seed=4)
    h, cost = prob.potentials(Q)
    assert_allclose(cost, _sparse_cost(prob, Q), rtol=1e-12)
    eps = 1e-6
    rng = np.random.default_rng(5)
    for i, v in zip(rng.integers(0, 60, 12), rng.integers(0, 3, 12)):
        Qp, Qm = Q.copy(), Q.copy()
        Qp[i, v] += eps
        Qm[i, v] -= eps
        fd = (_sparse_cost(prob, Qp) - _sparse_cost(prob, Qm)) / (2 * eps)
        # central differences: error O(eps^2 H''') plus rounding O(1e-16 H / eps)
        assert_allclose(h[i, v], fd, rtol=1e-6, atol=1e-6 * abs(cost))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", [large.SPARSE_MEAN, large.SPARSE_FILL])
def test_complete_graph_reproduces_the_dense_potentials_and_fixed_point(dtype, mode):
    X, _ = _data(80, seed=2)
    D = pairwise_distances(X, metric="cityblock").astype(dtype)
    ip, ix, data = large.check_sparse_dissimilarity(sp.csr_matrix(D))
    prob = large._SparseProblem(ip, ix, data, 1, mode, 7.0)  # fill is irrelevant: no pair is unknown
    Q = _soft(80, 4, dtype)
    h, cost = prob.potentials(Q)
    assert_allclose(h, ref.pairwise_potential(D.astype(np.float64), Q.astype(np.float64), 1), rtol=1e-10)
    Qs, stats, _ = prob.fixed_point(Q, 3.0, 1, 5, 0.0)
    Qd, statd, _ = _core.pairwise_fixed_point(D, Q, 3.0, 1, 5, 0.0, 1)
    tol = 1e-10 if dtype == np.float64 else 2e-5  # float32 products: rounding of D @ Q in float32 on the dense side
    assert_allclose(Qs, Qd, rtol=tol, atol=tol)
    assert_allclose(stats[:3], statd[:3], rtol=tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", [large.SPARSE_MEAN, large.SPARSE_FILL])
def test_sparse_local_search_matches_twin(dtype, mode):
    X, _ = _data(120, seed=6)
    ip, ix, data = _knn(X.astype(dtype), 7)
    labels = np.random.default_rng(0).integers(0, 4, 120).astype(np.int64)
    fill = float(data.max())
    got = _core.pairwise_sparse_local_search(ip, ix, data, labels, 4, mode, fill, 4, 2)
    want = ref.pairwise_sparse_local_search(ip, ix, data, labels, 4, mode, fill, 4)
    assert_array_equal(got[0], want[0])
    assert_allclose(got[1], want[1], rtol=1e-10)
    assert got[1] <= _sparse_cost(large._SparseProblem(ip, ix, data, 1, mode, fill), np.eye(4)[labels]) + 1e-9


def test_symmetrisation_is_the_union_with_mean_values():
    A = sp.coo_matrix(
        (np.array([1.0, 3.0, 0.0, 5.0, 2.0]), (np.array([0, 1, 2, 1, 3]), np.array([1, 0, 3, 1, 0]))), shape=(4, 4)
    )
    ip, ix, data = large.check_sparse_dissimilarity(A.tocsr())
    W = sp.csr_matrix((data, ix, ip), shape=(4, 4)).toarray()
    P = sp.csr_matrix((np.ones_like(data), ix, ip), shape=(4, 4)).toarray()
    assert_array_equal(P, P.T)
    assert W[0, 1] == W[1, 0] == 2.0  # stored both ways: the mean
    assert P[2, 3] == 1 and W[2, 3] == 0.0  # an explicit zero is a known pair
    assert W[0, 3] == W[3, 0] == 2.0  # stored once
    assert P[1, 1] == 0  # the diagonal is dropped (always known, 0)


@pytest.mark.parametrize(
    "bad, msg",
    [
        (sp.csr_matrix(np.ones((3, 4))), "square"),
        (sp.csr_matrix(-np.ones((3, 3))), ">= 0"),
        (sp.csr_matrix(np.array([[0, np.nan], [1, 0]])), "NaN"),
    ],
)
def test_sparse_input_errors_name_x(bad, msg):
    with pytest.raises(ValueError, match=msg):
        PairwiseAnnealing(2).fit(bad)


# ---- sparse estimator ---------------------------------------------------------------------


def test_complete_sparse_graph_fit_equals_dense_fit():
    X, _ = _data(150, seed=7)
    D = pairwise_distances(X, metric="cityblock")
    a = PairwiseAnnealing(4, random_state=0, n_threads=1).fit(D)
    b = PairwiseAnnealing(4, random_state=0, n_threads=1).fit(sp.csr_matrix(D))
    assert b.algorithm_ == "sparse"
    assert_array_equal(a.labels_, b.labels_)
    assert_allclose(a.cost_, b.cost_, rtol=1e-10)
    assert_array_equal(a.predict(D[:10]), b.predict(D[:10]))


def test_knn_fit_separates_blobs_and_threads_agree():
    X, y = _data(400, d=3, seed=1, k=4, std=0.5)
    m1 = PairwiseAnnealing(4, metric="euclidean", n_neighbors=10, random_state=0, n_threads=1).fit(X)
    m2 = PairwiseAnnealing(4, metric="euclidean", n_neighbors=10, random_state=0, n_threads=2).fit(X)
    assert m1.algorithm_ == "sparse"
    assert_array_equal(m1.labels_, m2.labels_)
    assert_array_equal(m1.assignments_, m2.assignments_)
    assert adjusted_rand_score(y, m1.labels_) > 0.95
    # predict on the training points: their n_neighbors nearest training points are the known pairs
    assert np.mean(m1.predict(X) == m1.labels_) > 0.95


def test_knn_float32_fit():
    X, y = _data(300, d=3, seed=9, k=3)
    m = PairwiseAnnealing(3, metric="cosine", n_neighbors=8, random_state=0).fit(X.astype(np.float32))
    assert m.assignments_.dtype == np.float32 and np.isfinite(m.cost_)
    assert m.labels_.min() >= 0 and m.labels_.max() < 3


def test_approximate_neighbours_if_available():
    pytest.importorskip("pynndescent")
    X, y = _data(300, d=3, seed=10, k=3)
    G_exact = large.knn_graph(X, 6, "euclidean")
    G_apx = large.knn_graph(X, 6, "euclidean", method="approximate")
    assert G_apx.shape == G_exact.shape and G_apx.nnz == G_exact.nnz
    assert (G_apx.multiply(G_exact) != 0).sum() / G_exact.nnz > 0.9  # nearly all exact neighbours found
    assert np.all(G_apx.indices != np.repeat(np.arange(300), 6))  # no self pairs


def test_sparse_parameter_errors():
    X, _ = _data(50)
    with pytest.raises(ValueError, match="n_neighbors"):
        PairwiseAnnealing(2, n_neighbors=5).fit(pairwise_distances(X))
    with pytest.raises(ValueError, match="potential"):
        PairwiseAnnealing(2, metric="euclidean", n_neighbors=5, potential="detan").fit(X)
    with pytest.raises(ValueError, match="neighbors"):
        PairwiseAnnealing(2, metric="euclidean", n_neighbors=5, neighbors="x").fit(X)
    with pytest.raises(ValueError, match="missing"):
        PairwiseAnnealing(2, metric="euclidean", n_neighbors=5, missing=-1.0).fit(X)


# ---- tiles ----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("metric, p, name", TILE_METRICS)
def test_tiles_dq_matches_twin_and_threads_agree(dtype, metric, p, name):
    X, _ = _data(600, d=5)  # more than one tile of columns and one chunk of rows
    X = X.astype(dtype)
    Q = _soft(600, 3, dtype)
    got = _core.pairwise_tiles_dq(X, metric, p, Q, 1)
    got2 = _core.pairwise_tiles_dq(X, metric, p, Q, 2)
    want = ref.pairwise_tiles_dq(X, metric, p, Q)
    tol = 1e-12 if dtype == np.float64 else 1e-5  # float32: distances accumulate in float32
    for a, b, w in zip(got, got2, want):
        assert_array_equal(a, b)
        assert_allclose(a, w, rtol=tol)
    D = np.empty((600, 600), dtype=np.float32)
    _core.pairwise_tiles_matrix(X, metric, p, D, 2)
    sk = pairwise_distances(X.astype(np.float64), metric=name, **({"p": p} if name == "minkowski" else {}))
    assert_allclose(D, sk, rtol=1e-5, atol=1e-5 * sk.max())


@pytest.mark.parametrize("dtype", DTYPES)
def test_tiles_local_search_matches_twin(dtype):
    X, _ = _data(150, seed=11)
    X = X.astype(dtype)
    labels = np.random.default_rng(1).integers(0, 3, 150).astype(np.int64)
    got = _core.pairwise_tiles_local_search(X, 0, 2.0, labels, 3, 10, 2)
    want = ref.pairwise_tiles_local_search(X, 0, 2.0, labels, 3, 10)
    assert_array_equal(got[0], want[0])
    assert_allclose(got[1], want[1], rtol=1e-10 if dtype == np.float64 else 1e-5)


@pytest.mark.parametrize("dtype", DTYPES)
def test_tiles_fixed_point_matches_dense_after_fixed_sweeps(dtype):
    X, _ = _data(200, seed=12)
    X = X.astype(dtype)
    D = pairwise_distances(X.astype(np.float64), metric="cityblock").astype(dtype)
    prob = large._TilesProblem(X, 0, 2.0, 1)
    Q = _soft(200, 4, dtype)
    for form in (0, 1):
        Qt, st, _ = prob.fixed_point(Q, 2.0, form, 6, 0.0)
        Qd, sd, _ = _core.pairwise_fixed_point(D, Q, 2.0, form, 6, 0.0, 1)
        tol = 1e-10 if dtype == np.float64 else 2e-4  # float32: D and D @ Q rounded differently on the two paths
        assert_allclose(Qt, Qd, rtol=tol, atol=tol)
        assert_allclose(st[:3], sd[:3], rtol=tol)


def test_tiles_fit_equals_dense_fit_and_memory_budget_chooses_the_path():
    X, y = _data(300, d=3, seed=13, k=4)
    dense = PairwiseAnnealing(4, metric="cityblock", algorithm="dense", random_state=0, n_threads=1).fit(X)
    tiles = PairwiseAnnealing(4, metric="cityblock", algorithm="tiles", random_state=0, n_threads=1).fit(X)
    tiles2 = PairwiseAnnealing(4, metric="cityblock", algorithm="tiles", random_state=0, n_threads=2).fit(X)
    assert tiles.algorithm_ == "tiles"
    assert_array_equal(dense.labels_, tiles.labels_)
    assert_allclose(dense.cost_, tiles.cost_, rtol=1e-10)
    assert_array_equal(tiles.labels_, tiles2.labels_)
    assert_array_equal(tiles.assignments_, tiles2.assignments_)
    assert_array_equal(dense.predict(X[:20]), tiles.predict(X[:20]))
    f32 = PairwiseAnnealing(4, metric="cityblock", memory_budget=300 * 300 * 6, random_state=0).fit(X)
    assert f32.algorithm_ == "dense-float32"
    auto = PairwiseAnnealing(4, metric="cityblock", memory_budget=1000, random_state=0).fit(X)
    assert auto.algorithm_ == "tiles"
    assert adjusted_rand_score(y, auto.labels_) > 0.9


def test_tiles_anneal_a_sample_then_finish_on_all_rows():
    """anneal_rows on the tiles path: the sample annealed (its D dense), every object extended by its
    potentials under the sample's partition, then zero-temperature sweeps and the local search on
    all objects: on separated data the dense fit's partition, thread independent."""
    X, y = _data(500, d=3, seed=16, k=4)
    dense = PairwiseAnnealing(4, metric="cityblock", algorithm="dense", random_state=0, n_threads=1).fit(X)
    a = PairwiseAnnealing(4, metric="cityblock", algorithm="tiles", anneal_rows=120, random_state=0, n_threads=1).fit(X)
    b = PairwiseAnnealing(4, metric="cityblock", algorithm="tiles", anneal_rows=120, random_state=0, n_threads=2).fit(X)
    assert a.n_anneal_rows_ == 120 and dense.n_anneal_rows_ == 500
    assert_array_equal(a.labels_, b.labels_)
    assert_array_equal(a.assignments_, b.assignments_)
    assert a.assignments_.shape == (500, 4)
    assert_allclose(a.assignments_.sum(axis=1), 1.0, rtol=1e-12)
    assert adjusted_rand_score(dense.labels_, a.labels_) == 1.0
    assert_allclose(a.cost_, dense.cost_, rtol=1e-10)


def test_tiles_errors():
    X, _ = _data(50)
    with pytest.raises(ValueError, match="algorithm='tiles'"):
        PairwiseAnnealing(2, metric="sqeuclidean", algorithm="tiles").fit(X)
    with pytest.raises(ValueError, match="p"):
        PairwiseAnnealing(2, metric="minkowski", metric_params={"p": 0.5}, algorithm="tiles").fit(X)
    with pytest.raises(ValueError, match="memory_budget"):
        PairwiseAnnealing(2, metric="cityblock", memory_budget=-1).fit(X)


# ---- soft memberships -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["precomputed", "sqeuclidean", "cityblock", "knn"])
def test_predict_proba_and_transform(kind):
    X, y = _data(120, d=3, seed=14, k=3)
    if kind == "precomputed":
        m = PairwiseAnnealing(3, random_state=0).fit(pairwise_distances(X))
        Xn = pairwise_distances(X[:15], X)
    elif kind == "knn":
        m = PairwiseAnnealing(3, metric="euclidean", n_neighbors=8, random_state=0).fit(X)
        Xn = X[:15]
    else:
        m = PairwiseAnnealing(3, metric=kind, random_state=0).fit(X)
        Xn = X[:15]
    H = m.transform(Xn)
    P = m.predict_proba(Xn)
    assert H.shape == P.shape == (15, 3)
    assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)
    assert_array_equal(np.argmin(H, axis=1), m.predict(Xn))
    assert_array_equal(np.argmax(P, axis=1), m.predict(Xn))
    hot = m.predict_proba(Xn, temperature=1e-12 * float(np.abs(H).max()))
    assert_array_equal(hot, np.eye(3)[m.predict(Xn)])
    warm = m.predict_proba(Xn, temperature=1e6 * float(np.abs(H).max()))
    assert_allclose(warm, 1 / 3, rtol=1e-5)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="temperature"):
            m.predict_proba(Xn, temperature=bad)
    with pytest.raises(TypeError, match="temperature"):
        m.predict_proba(Xn, temperature="x")


@pytest.mark.parametrize("dtype", DTYPES)
def test_tiles_dq_cols_matches_twin_and_incremental_products_match_full(dtype):
    X, _ = _data(700, d=3, seed=15)
    X = X.astype(dtype)
    cols = np.array([5, 0, 699, 300, 301], dtype=np.int64)
    W = np.random.default_rng(2).standard_normal((5, 3))
    got = _core.pairwise_tiles_dq_cols(X, 0, 2.0, cols, W, 1)
    assert_array_equal(got, _core.pairwise_tiles_dq_cols(X, 0, 2.0, cols, W, 2))
    want = ref.pairwise_tiles_dq_cols(X, 0, 2.0, cols, W)
    # float32: distances accumulate in float32 (relative 1e-7 each); sums of terms of both signs
    assert_allclose(got, want, rtol=1e-12 if dtype == np.float64 else 1e-5, atol=1e-6 * np.abs(want).max())
    prob = large._TilesProblem(X, 0, 2.0, 1)
    Q = np.eye(3, dtype=dtype)[np.random.default_rng(3).integers(0, 3, 700)]
    prob.cached_dq(Q)
    Q2 = Q.copy()
    Q2[[3, 7, 650]] = np.eye(3, dtype=dtype)[[2, 0, 1]]
    inc = prob.cached_dq(Q2)
    assert prob.n_incremental == 1
    assert_allclose(inc, prob.dq(Q2)[0], rtol=1e-12, atol=1e-9 * np.abs(inc).max())
