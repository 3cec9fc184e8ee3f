"""The scikit-learn surface (issue 17, section 3): ``score`` and ``get_feature_names_out``."""

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import pairwise_distances
from sklearn.model_selection import GridSearchCV

from danneal import CentralAnnealing, ClAM, PairwiseAnnealing


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(120, centers=3, cluster_std=0.6, random_state=0)
    return X, y


def _within_ss(X, labels):
    return sum(((X[labels == v] - X[labels == v].mean(0)) ** 2).sum() for v in np.unique(labels))


def test_central_score_is_minus_kmeans_inertia(blobs):
    X, _ = blobs
    m = CentralAnnealing(3, random_state=0, n_threads=1).fit(X)
    d2 = ((X[:, None, :] - m.cluster_centers_[None]) ** 2).sum(-1).min(1)
    np.testing.assert_allclose(m.score(X), -d2.sum(), rtol=1e-12)
    km = KMeans(3, n_init=1, random_state=0).fit(X)
    km.cluster_centers_ = m.cluster_centers_.copy()  # same centroids: the same score as KMeans.score
    np.testing.assert_allclose(m.score(X), km.score(X), rtol=1e-10)
    w = np.arange(len(X), dtype=float)
    np.testing.assert_allclose(m.score(X, sample_weight=w), -(w * d2).sum(), rtol=1e-12)
    assert m.score(X.astype(np.float32)) < 0


@pytest.mark.parametrize("metric", ["sqeuclidean", "cosine", "cityblock"])
def test_pairwise_score_is_minus_the_pairwise_cost(blobs, metric):
    X, _ = blobs
    X = X + 20.0  # keep every row away from the origin (cosine)
    m = PairwiseAnnealing(3, metric=metric, random_state=0, n_threads=1).fit(X)
    labels = m.predict(X)
    D = pairwise_distances(X, metric=metric)
    expected = sum(D[np.ix_(labels == v, labels == v)].sum() / (2 * (labels == v).sum()) for v in np.unique(labels))
    np.testing.assert_allclose(m.score(X), -expected, rtol=1e-9)
    if np.array_equal(labels, m.labels_):
        np.testing.assert_allclose(m.score(X), -m.cost_, rtol=1e-9)
    if metric == "sqeuclidean":
        np.testing.assert_allclose(m.score(X), -_within_ss(X, labels), rtol=1e-9)


def test_pairwise_score_precomputed_is_the_cost_on_the_training_matrix(blobs):
    X, _ = blobs
    D = pairwise_distances(X, metric="cityblock")
    m = PairwiseAnnealing(3, random_state=0, n_threads=1).fit(D)
    assert np.array_equal(m.predict(D), m.labels_)
    np.testing.assert_allclose(m.score(D), -m.cost_, rtol=1e-9)
    # new objects: dissimilarities to the training objects; a far-away object scores worse
    far = pairwise_distances(X[:5] + 50.0, X, metric="cityblock")
    near = pairwise_distances(X[:5] + 0.01, X, metric="cityblock")
    assert m.score(far) < m.score(near) < 0


def test_clam_score_is_minus_squared_transform(blobs):
    X, _ = blobs
    m = ClAM(3, random_state=0, n_threads=1).fit(X)
    Z = m._to_internal(X).astype(np.float64)  # the k-means cost of ClAM's partition
    np.testing.assert_allclose(m.score(X), -((Z - m._R[m.predict(X)]) ** 2).sum(), rtol=1e-9)
    assert m.score(X) <= 0


@pytest.mark.parametrize(
    "make",
    [
        lambda: CentralAnnealing(random_state=0, n_threads=1),
        lambda: PairwiseAnnealing(metric="sqeuclidean", random_state=0, n_threads=1),
        lambda: ClAM(random_state=0, n_threads=1),
    ],
)
def test_grid_search_without_a_scorer(blobs, make):
    X, _ = blobs
    # the within-cluster cost falls as K grows, so the highest score is the largest K: what
    # matters is that GridSearchCV calls ``score`` (no scorer given) and ranks the candidates
    gs = GridSearchCV(make(), {"n_clusters": [1, 3]}, cv=3).fit(X)
    assert gs.best_params_ == {"n_clusters": 3}
    scores = gs.cv_results_["mean_test_score"]
    assert np.isfinite(scores).all() and (scores < 0).all() and scores[1] > scores[0]


@pytest.mark.parametrize("cls", [CentralAnnealing, ClAM])
def test_get_feature_names_out(blobs, cls):
    X, _ = blobs
    m = cls(3, random_state=0, n_threads=1).fit(X)
    k = m.transform(X[:2]).shape[1]
    names = m.get_feature_names_out()
    assert list(names) == [f"{cls.__name__.lower()}{i}" for i in range(k)]


@pytest.mark.parametrize("cls", [CentralAnnealing, ClAM])
def test_set_output_pandas(blobs, cls):
    pd = pytest.importorskip("pandas")  # in the test extra (pyproject.toml)
    X, _ = blobs
    df = pd.DataFrame(X, columns=["a", "b"])
    m = cls(3, random_state=0, n_threads=1).set_output(transform="pandas").fit(df)
    out = m.transform(df)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(m.get_feature_names_out())
    assert out.shape == (len(X), len(out.columns))
    np.testing.assert_array_equal(out.to_numpy(), m.set_output(transform="default").transform(df))


def test_grid_search_precomputed(blobs):
    # GridSearchCV splits a precomputed matrix as D[test][:, train] (the pairwise tag): exactly the
    # dissimilarities to the training objects that ``score`` expects
    X, _ = blobs
    D = pairwise_distances(X, metric="cityblock")
    gs = GridSearchCV(PairwiseAnnealing(random_state=0, n_threads=1), {"n_clusters": [1, 3]}, cv=3).fit(D)
    assert gs.best_params_ == {"n_clusters": 3}
    assert np.isfinite(gs.cv_results_["mean_test_score"]).all()


@pytest.mark.parametrize("cls", [CentralAnnealing, ClAM])
def test_score_of_a_dask_array_equals_in_memory(blobs, cls):
    da = pytest.importorskip("dask.array", reason="the dask extra is part of the test extra")
    X, _ = blobs
    m = cls(3, random_state=0, n_threads=1).fit(X)
    s = m.score(da.from_array(X, chunks=50))
    assert isinstance(s, float)
    # the dask path squares transform's distances (the in-memory one sums squares directly)
    np.testing.assert_allclose(s, m.score(X), rtol=1e-12)
