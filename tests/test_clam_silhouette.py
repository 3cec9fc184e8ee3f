"""The compiled Silhouette (csrc/danneal/silhouette.hpp) against its numpy twin and scikit-learn."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import silhouette_samples, silhouette_score

from danneal import _core
from danneal._clam import _SilhouetteScorer
from danneal.reference import silhouette as silhouette_ref

TOL = {np.float32: 2e-5, np.float64: 1e-11}  # float32: distances formed in float32


def _data(rng, n, d, dt):
    return np.ascontiguousarray(rng.standard_normal((n, d)), dtype=dt)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True])
def test_kernel_matches_twin(rng, dt, weighted):
    X = _data(rng, 97, 5, dt)
    labels = np.stack([rng.integers(0, 4, 97), np.arange(97) % 3, (X[:, 0] > 0).astype(np.int64)])
    labels[1, 5] = 3  # a singleton cluster
    w = None
    if weighted:
        w = rng.random(97).astype(dt)
        w[:7] = 0  # points of weight 0: no mass, no share of the mean
    s, mean = _core.silhouette(X, labels, 4, w, 1)
    s_ref, mean_ref = silhouette_ref(X, labels, 4, w, 1)
    assert s.shape == (3, 97) and mean.shape == (3,)
    np.testing.assert_allclose(s, s_ref, rtol=TOL[dt], atol=TOL[dt])
    np.testing.assert_allclose(mean, mean_ref, rtol=TOL[dt], atol=TOL[dt])
    assert s[1, 5] == 0.0  # alone in its cluster


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_kernel_matches_sklearn(rng, dt):
    X = _data(rng, 300, 3, dt)
    labels = np.stack([rng.integers(0, 5, 300), np.argmin(np.abs(X[:, :1] - [[-1, 0, 1]]), axis=1)])
    s, mean = _core.silhouette(X, labels, 5, None, 2)
    for lab, sl, m in zip(labels, s, mean):
        X64 = X.astype(np.float64)
        np.testing.assert_allclose(sl, silhouette_samples(X64, lab), rtol=TOL[dt], atol=TOL[dt])
        assert m == pytest.approx(silhouette_score(X64, lab), abs=TOL[dt])


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_threads_bit_identical(rng, dt):
    # more columns than one tile (512), a ragged tail;
    # 12 atoms, whose runs of sorted columns cross tile boundaries
    X = _data(rng, 1203, 3, dt)
    labels = np.stack([rng.integers(0, 6, 1203), np.arange(1203) % 2])
    w = (0.5 + rng.random(1203)).astype(dt)
    a = _core.silhouette(X, labels, 6, w, 1)
    b = _core.silhouette(X, labels, 6, w, 2)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_allclose(a[1], silhouette_ref(X, labels, 6, w)[1], rtol=TOL[dt], atol=TOL[dt])


def test_duplicates_ties_and_one_cluster():
    X = np.zeros((6, 2))
    X[3:] = 1.0
    s, mean = _core.silhouette(X, np.array([[0, 0, 0, 1, 1, 1], [0, 0, 0, 0, 0, 0]]), 2, None, 1)
    np.testing.assert_array_equal(s[0], np.ones(6))  # a = 0, b = sqrt(2)
    np.testing.assert_array_equal(s[1], np.zeros(6))  # no other cluster: 0, never NaN
    assert np.isfinite(mean).all()
    # every weight 0: mean 0, never NaN
    assert _core.silhouette(X, np.array([[0, 0, 0, 1, 1, 1]]), 2, np.zeros(6), 1)[1][0] == 0.0


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda X, L: _core.silhouette(X, L + 5, 2, None, 1), ValueError, "n_clusters=2"),
        (lambda X, L: _core.silhouette(X, L - 1, 2, None, 1), ValueError, "labels must lie"),
        (lambda X, L: _core.silhouette(X, L[:, :5], 2, None, 1), ValueError, "labels: expected shape"),
        (lambda X, L: _core.silhouette(X, L[0], 2, None, 1), ValueError, "labels: expected a 2-d"),
        (lambda X, L: _core.silhouette(X, L.astype(np.int32), 2, None, 1), TypeError, "labels: expected dtype"),
        (
            lambda X, L: _core.silhouette(X.astype(np.float32), L, 2, np.ones(8), 1),
            TypeError,
            "sample_weight: expected dtype",
        ),
        (lambda X, L: _core.silhouette(X.astype(np.int64), L, 2, None, 1), TypeError, "X"),
        (lambda X, L: _core.silhouette(X, L, 0, None, 1), ValueError, "n_clusters=0"),
        (lambda X, L: _core.silhouette(X, L, 2, None, 0), ValueError, "n_threads=0"),
        (lambda X, L: _core.silhouette(X, L, 2, -np.ones(8), 1), ValueError, "sample weights"),
        (lambda X, L: _core.silhouette(X, L, 2, np.full(8, np.nan), 1), ValueError, "sample weights"),
        (lambda X, L: _core.silhouette(X, L, 2, np.ones(3), 1), ValueError, "sample_weight: expected shape"),
        (lambda X, L: _core.silhouette(X[:0], L[:, :0], 2, None, 1), ValueError, "X: empty"),
    ],
)
def test_bad_input(call, exc, match):
    X = np.arange(16.0).reshape(8, 2)
    L = np.array([[0, 0, 0, 0, 1, 1, 1, 1]], dtype=np.int64)
    X0, L0 = X.copy(), L.copy()
    with pytest.raises(exc, match=match):
        call(X, L)
    np.testing.assert_array_equal(X, X0)  # caller arrays untouched
    np.testing.assert_array_equal(L, L0)


def test_scorer_exact_and_sampled(rng):
    Z = rng.standard_normal((700, 4))
    labs = [rng.integers(0, 3, 700), (Z[:, 0] > 0).astype(int), np.zeros(700, int)]
    exact = _SilhouetteScorer(Z).scores(labs)
    assert exact[:2] == pytest.approx([silhouette_score(Z, lab) for lab in labs[:2]], abs=1e-12)
    assert exact[2] == -1.0  # one cluster: scikit-learn raises, the selection ranks it last
    sampled = _SilhouetteScorer(Z, max_n=300, seed=0)
    idx = sampled.idx
    assert idx.size == 300
    assert sampled(labs[0]) == pytest.approx(silhouette_score(Z[idx], labs[0][idx]), abs=1e-12)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_labellings_scored_together_and_alone(rng, dt):
    # the labellings passed together are reduced to their common refinement (the atoms: here the
    # 5 clusters of `base`, split where `other` differs, on the second tile only), whose runs of
    # sorted columns span tiles of 512 columns: a labelling scored with others must give what it
    # gives alone, up to rounding (its cluster sums are grouped by the atoms of all the labellings
    # passed together, so their order of addition, not their terms, differs)
    X = _data(rng, 1300, 2, dt)
    base = rng.integers(0, 5, 1300)
    other = base.copy()
    other[700:705] = (other[700:705] + 1) % 5
    labels = np.stack([base, other, base, (base + 1) % 5])
    s, mean = _core.silhouette(X, labels, 5, None, 2)
    for lab, sl, m in zip(labels, s, mean):
        s1, m1 = _core.silhouette(X, lab[None, :], 5, None, 1)
        np.testing.assert_allclose(sl, s1[0], rtol=0, atol=1e-13)
        assert m == pytest.approx(m1[0], abs=1e-14)
    np.testing.assert_array_equal(s[0], s[2])  # the same labelling twice: the same sums
    np.testing.assert_allclose(mean, silhouette_ref(X, labels, 5)[1], rtol=TOL[dt], atol=TOL[dt])


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_many_atoms_one_per_point(rng, dt):
    # labellings that disagree on most points leave more than n / 4 atoms: the kernel then treats
    # every point as its own atom; same results as the twin, bit-identical for 1 and 2 threads
    X = _data(rng, 700, 3, dt)
    labels = np.stack([rng.integers(0, 7, 700) for _ in range(3)])
    w = (0.5 + rng.random(700)).astype(dt)
    a = _core.silhouette(X, labels, 7, w, 1)
    b = _core.silhouette(X, labels, 7, w, 2)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    s_ref, mean_ref = silhouette_ref(X, labels, 7, w)
    np.testing.assert_allclose(a[0], s_ref, rtol=TOL[dt], atol=TOL[dt])
    np.testing.assert_allclose(a[1], mean_ref, rtol=TOL[dt], atol=TOL[dt])


# Invariant: every silhouette lies in [-1, 1] and is finite, and the kernel equals its twin, over
# extreme scales, ties (duplicated points, all points equal) and clusters of one point.
@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(2, 25),
    k=st.integers(1, 4),
    scale=st.sampled_from([1e-150, 1e-30, 1.0, 1e30, 1e150]),
    dup=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_silhouette_bounded_and_equal_to_twin_property(n, k, scale, dup, seed):
    r = np.random.default_rng(seed)
    X = r.integers(-2, 3, size=(n, 2)).astype(np.float64) * scale  # integer grid: many ties
    if dup:
        X[n // 2 :] = X[0]  # half the points coincide
    labels = r.integers(0, k, size=(1, n)).astype(np.int64)
    s, mean = _core.silhouette(np.ascontiguousarray(X), labels, k, None, 2)
    s_ref, mean_ref = silhouette_ref(X, labels, k, None, 1)
    assert np.isfinite(s).all() and np.isfinite(mean).all()
    assert (np.abs(s) <= 1.0 + 1e-12).all() and abs(float(mean[0])) <= 1.0 + 1e-12
    np.testing.assert_allclose(s, s_ref, rtol=1e-9, atol=1e-12)
