"""Sample weights for pairwise clustering (issue 17 §3): kernels vs numpy twins, threads, all-ones
weights, integer weights vs repeated rows, the potentials as the gradient of the weighted cost,
and PairwiseAnnealing.fit/score(sample_weight=...)."""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.metrics import adjusted_rand_score, pairwise_distances

from danneal import PairwiseAnnealing, _core
from danneal import reference as ref

DTYPES = [np.float64, np.float32]


def _tol(dtype):
    return dict(rtol=1e-10, atol=1e-10) if dtype == np.float64 else dict(rtol=2e-4, atol=2e-4)


def _data(n=40, k=3, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X[: n // 2] += 3.0
    D = pairwise_distances(X, metric="sqeuclidean")
    Q = rng.dirichlet(np.ones(k), n)
    w = rng.integers(1, 4, n).astype(np.float64)
    labels = rng.integers(0, k, n).astype(np.int64)
    return X, D, Q, w, labels


def _sparse(D, keep=0.6, seed=0):
    """A symmetric CSR pattern of D (about ``keep`` of the pairs known)."""
    n = D.shape[0]
    rng = np.random.default_rng(seed)
    mask = np.triu(rng.uniform(size=(n, n)) < keep, 1)
    mask = mask | mask.T
    W = sp.csr_matrix(np.where(mask, D + 1e-3, 0.0))
    W.sort_indices()
    return W.indptr.astype(np.int64), W.indices.astype(np.int64), W.data


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("form", [0, 1])
@pytest.mark.parametrize("max_iter", [1, 5])
def test_dense_kernels_match_twin(dtype, form, max_iter):
    X, D, Q, w, labels = _data()
    Dd, Qd = D.astype(dtype), Q.astype(dtype)
    for a, b in zip(_core.pairwise_dq(Dd, Qd, 1, sample_weight=w), ref.pairwise_dq(Dd, Qd, sample_weight=w)):
        assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), **_tol(dtype))
    assert_allclose(
        _core.pairwise_potential(Dd, Qd, form, 1, sample_weight=w),
        ref.pairwise_potential(Dd, Qd, form, sample_weight=w),
        **_tol(dtype),
    )
    Qa, sa, _ = _core.pairwise_fixed_point(Dd, Qd, 0.7, form, max_iter, 0.0, 1, sample_weight=w)
    Qb, sb, _ = ref.pairwise_fixed_point(Dd, Qd, 0.7, form, max_iter, 0.0, sample_weight=w)
    assert Qa.dtype == dtype
    assert_allclose(Qa, Qb, **_tol(dtype))
    assert_allclose(sa, sb, **_tol(dtype))
    la, ca, _ = _core.pairwise_local_search(Dd, labels, 3, 50, 1, sample_weight=w)
    lb, cb, _ = ref.pairwise_local_search(Dd, labels, 3, 50, sample_weight=w)
    assert_array_equal(la, lb)
    assert_allclose(ca, cb, **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("form", [0, 1])
@pytest.mark.parametrize("max_iter", [1, 5])
def test_feature_kernels_match_twin(dtype, form, max_iter):
    X, D, Q, w, labels = _data()
    Xd, Qd, mu = X.astype(dtype), Q.astype(dtype), X.mean(axis=0)
    for a, b in zip(
        _core.pairwise_features_dq(Xd, mu, Qd, 1, sample_weight=w),
        ref.pairwise_features_dq(Xd, mu, Qd, sample_weight=w),
    ):
        assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), **_tol(dtype))
    assert_allclose(
        _core.pairwise_features_potential(Xd, mu, Qd, form, 1, sample_weight=w),
        ref.pairwise_features_potential(Xd, mu, Qd, form, sample_weight=w),
        **_tol(dtype),
    )
    Qa, sa, _ = _core.pairwise_features_fixed_point(Xd, mu, Qd, 0.7, form, max_iter, 0.0, 1, sample_weight=w)
    Qb, sb, _ = ref.pairwise_features_fixed_point(Xd, mu, Qd, 0.7, form, max_iter, 0.0, sample_weight=w)
    assert_allclose(Qa, Qb, **_tol(dtype))
    assert_allclose(sa, sb, **_tol(dtype))
    la, ca, _ = _core.pairwise_features_local_search(Xd, mu, labels, 3, 50, 1, sample_weight=w)
    lb, cb, _ = ref.pairwise_features_local_search(Xd, mu, labels, 3, 50, sample_weight=w)
    assert_array_equal(la, lb)
    assert_allclose(ca, cb, **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode, fill", [(0, 0.0), (1, 2.5)])
def test_sparse_kernels_match_twin(dtype, mode, fill):
    X, D, Q, w, labels = _data()
    indptr, indices, data = _sparse(D)
    data = data.astype(dtype)
    Qd = Q.astype(dtype)
    for a, b in zip(
        _core.pairwise_sparse_dq(indptr, indices, data, Qd, 1, sample_weight=w),
        ref.pairwise_sparse_dq(indptr, indices, data, Qd, sample_weight=w),
    ):
        assert_allclose(a, b, **_tol(dtype))
    la, ca, _ = _core.pairwise_sparse_local_search(indptr, indices, data, labels, 3, mode, fill, 50, 1, sample_weight=w)
    lb, cb, _ = ref.pairwise_sparse_local_search(indptr, indices, data, labels, 3, mode, fill, 50, sample_weight=w)
    assert_array_equal(la, lb)
    assert_allclose(ca, cb, **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_one_and_two_threads_identical(dtype):
    # n spans several chunks of every kernel (kChunk = 256 rows, features_chunk = 256)
    X, D, Q, w, labels = _data(n=700, k=4, d=3, seed=1)
    w = w * np.random.default_rng(2).uniform(0.5, 1.5, w.size)  # not integers
    Dd, Qd, Xd, mu = D.astype(dtype), Q.astype(dtype), X.astype(dtype), X.mean(axis=0)
    indptr, indices, data = _sparse(D, keep=0.05)
    calls = [
        lambda t: _core.pairwise_dq(Dd, Qd, t, sample_weight=w),
        lambda t: _core.pairwise_fixed_point(Dd, Qd, 0.7, 1, 3, 0.0, t, sample_weight=w)[:2],
        lambda t: _core.pairwise_local_search(Dd, labels, 4, 5, t, sample_weight=w)[:2],
        lambda t: _core.pairwise_features_fixed_point(Xd, mu, Qd, 0.7, 0, 3, 0.0, t, sample_weight=w)[:2],
        lambda t: _core.pairwise_features_local_search(Xd, mu, labels, 4, 5, t, sample_weight=w)[:2],
        lambda t: _core.pairwise_sparse_dq(indptr, indices, data.astype(dtype), Qd, t, sample_weight=w),
        lambda t: _core.pairwise_sparse_local_search(
            indptr, indices, data.astype(dtype), labels, 4, 1, 1.0, 5, t, sample_weight=w
        )[:2],
    ]
    for call in calls:
        for a, b in zip(call(1), call(2)):
            assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", DTYPES)
def test_all_ones_weights_are_the_unweighted_kernels_bit_for_bit(dtype):
    X, D, Q, w, labels = _data(n=300, k=4, seed=3)
    ones = np.ones(len(X))
    Dd, Qd, Xd, mu = D.astype(dtype), Q.astype(dtype), X.astype(dtype), X.mean(axis=0)
    indptr, indices, data = _sparse(D, keep=0.1)
    calls = [
        lambda **kw: _core.pairwise_dq(Dd, Qd, 2, **kw),
        lambda **kw: _core.pairwise_fixed_point(Dd, Qd, 0.7, 0, 4, 0.0, 2, **kw)[:2],
        lambda **kw: _core.pairwise_local_search(Dd, labels, 4, 20, 2, **kw)[:2],
        lambda **kw: _core.pairwise_features_dq(Xd, mu, Qd, 2, **kw),
        lambda **kw: _core.pairwise_features_fixed_point(Xd, mu, Qd, 0.7, 1, 4, 0.0, 2, **kw)[:2],
        lambda **kw: _core.pairwise_features_local_search(Xd, mu, labels, 4, 20, 2, **kw)[:2],
        lambda **kw: _core.pairwise_sparse_dq(indptr, indices, data.astype(dtype), Qd, 2, **kw),
        lambda **kw: _core.pairwise_sparse_local_search(
            indptr, indices, data.astype(dtype), labels, 4, 0, 0.0, 20, 2, **kw
        )[:2],
    ]
    for call in calls:
        for a, b in zip(call(), call(sample_weight=ones)):
            assert_array_equal(a, b)


@pytest.mark.parametrize("form", [0, 1])
def test_integer_weights_equal_repeated_rows(form):
    X, D, Q, w, labels = _data(n=30, seed=4)
    rep = np.repeat(np.arange(len(X)), w.astype(int))
    # dense: the same assignments (per copy), cost, entropy and log-partitions after fixed sweeps
    Qa, sa, _ = _core.pairwise_fixed_point(D, Q, 0.8, form, 6, 0.0, 1, sample_weight=w)
    Qb, sb, _ = _core.pairwise_fixed_point(D[np.ix_(rep, rep)], Q[rep], 0.8, form, 6, 0.0, 1)
    assert_allclose(Qa[rep], Qb, rtol=1e-12, atol=1e-12)
    assert_allclose(sa[:3], sb[:3], rtol=1e-12)
    ha = _core.pairwise_potential(D, Q, form, 1, sample_weight=w)
    hb = _core.pairwise_potential(D[np.ix_(rep, rep)], Q[rep], form, 1)
    assert_allclose(ha[rep], hb, rtol=1e-12)
    # feature space
    mu = X.mean(axis=0)
    Qa, sa, _ = _core.pairwise_features_fixed_point(X, mu, Q, 0.8, form, 6, 0.0, 1, sample_weight=w)
    Qb, sb, _ = _core.pairwise_features_fixed_point(X[rep], mu, Q[rep], 0.8, form, 6, 0.0, 1)
    assert_allclose(Qa[rep], Qb, rtol=1e-12, atol=1e-12)
    assert_allclose(sa[:3], sb[:3], rtol=1e-12)
    # the hard cost of a partition, for every kernel that returns one
    _, ca, _ = _core.pairwise_local_search(D, labels, 3, 0, 1, sample_weight=w)
    _, cb, _ = _core.pairwise_local_search(D[np.ix_(rep, rep)], labels[rep], 3, 0, 1)
    _, cf, _ = _core.pairwise_features_local_search(X, mu, labels, 3, 0, 1, sample_weight=w)
    assert_allclose([ca, cf], [cb, cb], rtol=1e-12)


def test_sparse_integer_weights_equal_copies_whose_mutual_pairs_are_known():
    X, D, Q, w, labels = _data(n=25, seed=5)
    indptr, indices, data = _sparse(D, keep=0.5)
    W = sp.csr_matrix((data, indices, indptr), shape=D.shape).toarray()
    known = (W > 0) | np.eye(len(W), dtype=bool)
    rep = np.repeat(np.arange(len(X)), w.astype(int))
    Wr = sp.csr_matrix(np.where(known[np.ix_(rep, rep)], W[np.ix_(rep, rep)] + 0.0, 0.0))
    # copies of one object: their pair is known with dissimilarity 0 (an explicit stored zero)
    same = (rep[:, None] == rep[None, :]) & ~np.eye(len(rep), dtype=bool)
    Wr = sp.csr_matrix(Wr.toarray() + np.where(same, 1.0, 0.0))
    Wr.data[:] = np.where(same[Wr.nonzero()], 0.0, Wr.data)
    Wr.sort_indices()
    a = _core.pairwise_sparse_dq(indptr, indices, data, Q, 1, sample_weight=w)
    b = _core.pairwise_sparse_dq(Wr.indptr.astype(np.int64), Wr.indices.astype(np.int64), Wr.data, Q[rep], 1)
    assert_allclose(a[2], b[2], rtol=1e-12)
    assert_allclose(a[0][rep], b[0], rtol=1e-12, atol=1e-12)
    for mode, fill in ((0, 0.0), (1, 1.5)):
        _, ca, _ = _core.pairwise_sparse_local_search(
            indptr, indices, data, labels, 3, mode, fill, 0, 1, sample_weight=w
        )
        _, cb, _ = _core.pairwise_sparse_local_search(
            Wr.indptr.astype(np.int64), Wr.indices.astype(np.int64), Wr.data, labels[rep], 3, mode, fill, 0, 1
        )
        assert_allclose(ca, cb, rtol=1e-12)


def _weighted_cost(D, Q, w):
    Qw = w[:, None] * Q
    S = Qw.sum(axis=0)
    return float((np.einsum("iv,ij,jv->v", Qw, D, Qw) / (2.0 * S)).sum())


def test_potentials_are_the_gradient_of_the_weighted_cost():
    # dH/dq_iv = w_i h_iv with h_iv = (1/S_v) sum_j w_j q_jv D_ij - (1/(2 S_v^2)) sum_jl w_j w_l q_jv q_lv D_jl
    X, D, Q, w, _ = _data(n=12, seed=6)
    w = w * np.random.default_rng(7).uniform(0.2, 2.0, w.size)
    h = _core.pairwise_potential(D, Q, 1, 1, sample_weight=w)
    eps = 1e-6
    for i, v in [(0, 0), (3, 2), (7, 1), (11, 0)]:
        Qp, Qm = Q.copy(), Q.copy()
        Qp[i, v] += eps
        Qm[i, v] -= eps
        fd = (_weighted_cost(D, Qp, w) - _weighted_cost(D, Qm, w)) / (2 * eps)
        assert_allclose(fd, w[i] * h[i, v], rtol=1e-6)
    # and the kernels' cost statistic is that cost
    _, stats, _ = _core.pairwise_fixed_point(D, Q, 1.0, 1, 1, 0.0, 1, sample_weight=w)
    assert_allclose(stats[0], _weighted_cost(D, Q, w), rtol=1e-12)


def _blobs(seed=0):
    rng = np.random.default_rng(seed)
    X = np.concatenate([c + rng.normal(size=(25, 2)) for c in ([0, 0], [6, 0], [0, 6], [6, 6])])
    return X, rng.integers(1, 4, len(X)).astype(np.float64)


@pytest.mark.parametrize("metric", ["precomputed", "sqeuclidean", "cosine", "cityblock"])
def test_estimator_weights_equal_repeated_rows(metric):
    X, w = _blobs()
    X = X + 10.0 if metric == "cosine" else X
    rep = np.repeat(np.arange(len(X)), w.astype(int))
    if metric == "precomputed":
        data = pairwise_distances(X, metric="sqeuclidean")
        data_rep = data[np.ix_(rep, rep)]
    else:
        data, data_rep = X, X[rep]
    a = PairwiseAnnealing(4, metric=metric, random_state=0, n_threads=1).fit(data, sample_weight=w)
    b = PairwiseAnnealing(4, metric=metric, random_state=0, n_threads=1).fit(data_rep)
    assert_allclose(a.critical_temperature_, b.critical_temperature_, rtol=1e-8)
    assert_allclose(a.cost_, b.cost_, rtol=1e-10)
    assert adjusted_rand_score(a.labels_[rep], b.labels_) == 1.0  # well-separated blobs: the same partition
    if metric != "precomputed":
        assert_allclose(a.score(data, sample_weight=w), -a.cost_, rtol=1e-10)
        assert_allclose(a.score(data, sample_weight=w), b.score(data_rep), rtol=1e-10)
    else:
        assert_allclose(-a.score(data, sample_weight=w), a.cost_, rtol=1e-10)
    assert_array_equal(a.predict(data), a.labels_)
    assert (a.history_[0]["T"] == a.T0_) and a.history_[-1]["cost"] > 0


@pytest.mark.parametrize("metric", ["precomputed", "sqeuclidean"])
def test_estimator_all_ones_is_unweighted_and_scale_does_not_matter(metric):
    X, w = _blobs(1)
    data = pairwise_distances(X, metric="sqeuclidean") if metric == "precomputed" else X
    base = PairwiseAnnealing(4, metric=metric, random_state=0, n_threads=2).fit(data)
    ones = PairwiseAnnealing(4, metric=metric, random_state=0, n_threads=2).fit(data, sample_weight=np.ones(len(X)))
    assert_array_equal(ones.labels_, base.labels_)
    assert_array_equal(ones.assignments_, base.assignments_)
    assert ones.cost_ == base.cost_
    scaled = PairwiseAnnealing(4, metric=metric, random_state=0, n_threads=2).fit(data, sample_weight=1e200)
    assert_array_equal(scaled.labels_, base.labels_)
    assert_allclose(scaled.cost_, 1e200 * base.cost_, rtol=1e-10)
    assert_allclose(scaled.history_[-1]["cost"], 1e200 * base.history_[-1]["cost"], rtol=1e-8)
    tiny = PairwiseAnnealing(4, metric=metric, random_state=0, n_threads=2).fit(
        data, sample_weight=np.full(len(X), 1e-300)
    )
    assert_array_equal(tiny.labels_, base.labels_)


def test_zero_weights_are_clustered_but_do_not_count():
    X, w = _blobs(2)
    w[::5] = 0.0
    m = PairwiseAnnealing(4, metric="sqeuclidean", random_state=0, n_threads=1).fit(X, sample_weight=w)
    keep = w > 0
    ref_fit = PairwiseAnnealing(4, metric="sqeuclidean", random_state=0, n_threads=1).fit(
        X[keep], sample_weight=w[keep]
    )
    assert_allclose(m.cost_, ref_fit.cost_, rtol=1e-10)
    assert m.labels_.shape == (len(X),) and np.isfinite(m.assignments_).all()


def test_sparse_path_weights():
    X, w = _blobs(4)
    D = pairwise_distances(X, metric="sqeuclidean")
    full = sp.csr_matrix(D)  # every pair known: the sparse costs equal the dense cost
    for missing in ("max", "mean"):
        a = PairwiseAnnealing(4, metric="precomputed", missing=missing, random_state=0, n_threads=1).fit(
            full, sample_weight=w
        )
        b = PairwiseAnnealing(4, metric="precomputed", random_state=0, n_threads=1).fit(D, sample_weight=w)
        assert a.algorithm_ == "sparse"
        assert_allclose(a.cost_, b.cost_, rtol=1e-10)
        assert_allclose(a.critical_temperature_, b.critical_temperature_, rtol=1e-6)
        assert adjusted_rand_score(a.labels_, b.labels_) == 1.0
        # every pair known: the sparse potentials of new objects are the dense ones
        Dn = pairwise_distances(X[:30] + 0.01, X, metric="sqeuclidean")  # no zero (unstored) pair
        assert adjusted_rand_score(a.predict(sp.csr_matrix(Dn)), b.predict(Dn)) == 1.0
    knn = PairwiseAnnealing(4, metric="euclidean", n_neighbors=8, random_state=0, n_threads=1)
    ones = knn.fit(X, sample_weight=np.ones(len(X))).labels_.copy()
    assert_array_equal(
        ones, PairwiseAnnealing(4, metric="euclidean", n_neighbors=8, random_state=0, n_threads=1).fit(X).labels_
    )
    knn.fit(X, sample_weight=w)
    # the weighted optimum is at least as good, under the weights, as the unweighted partition
    # (the fit runs on weights of mean 1: cost_ is in the caller's weights)
    p = knn._problem_
    _, c_ones, _ = _core.pairwise_sparse_local_search(
        p.indptr, p.indices, p.data, ones.astype(np.int64), 4, p.mode, p.fill, 0, 1, sample_weight=p.weights
    )
    assert knn.cost_ <= c_ones * w.mean() * (1 + 1e-9)
    assert knn.predict(X[:10]).shape == (10,) and np.isfinite(knn.transform(X[:10])).all()


def test_paths_without_weights_raise_clear_errors():
    X, w = _blobs(3)
    with pytest.raises(ValueError, match=r"sample_weight.*metric='cityblock'.*precomputed"):
        PairwiseAnnealing(4, metric="cityblock", algorithm="tiles", n_threads=1).fit(X, sample_weight=w)


def test_dask_input_with_weights_raises():
    da = pytest.importorskip("dask.array")
    X, w = _blobs(5)
    with pytest.raises(ValueError, match="sample_weight.*dask"):
        PairwiseAnnealing(4, metric="sqeuclidean", n_threads=1).fit(da.from_array(X, chunks=50), sample_weight=w)
