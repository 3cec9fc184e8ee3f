"""Row-indexed noise (danneal._rownoise) and the soft memberships of predict_proba: properties
over arbitrary blockings, extreme scales, ties and duplicates."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from danneal._pairwise import _perturb_rows, _soft_memberships
from danneal._rownoise import row_uniform


@settings(max_examples=60, deadline=None)
@given(
    key=st.integers(0, 2**62 - 1),
    stream=st.integers(0, 1000),
    n=st.integers(1, 60),
    k=st.integers(1, 9),
    cuts=st.lists(st.integers(0, 60), max_size=5),
)
def test_same_rows_same_numbers_for_any_blocking(key, stream, n, k, cuts):
    whole = row_uniform(key, stream, 0, n, k)
    bounds = sorted({0, n, *[c for c in cuts if c < n]})
    parts = np.concatenate([row_uniform(key, stream, a, b - a, k) for a, b in zip(bounds[:-1], bounds[1:])])
    assert np.array_equal(whole, parts)
    assert (whole >= 0).all() and (whole < 1).all()


@settings(max_examples=150, deadline=None)
@given(
    key=st.integers(0, 2**62 - 1),
    n=st.integers(1, 40),
    k=st.integers(1, 9),
    eps=st.sampled_from([0.0, 1e-300, 1e-3, 1.0, 100.0, 300.0 / np.sqrt(3.0), 1e3, 1e300]),
    hot=st.integers(0, 8),
    cut=st.integers(0, 40),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_perturbed_rows_are_distributions_for_any_blocking(key, n, k, eps, hot, cut, dtype):
    # duplicated rows, one-hot rows (zeros) and ties; any perturbation size (the log-domain path
    # beyond eps sqrt 3 = 300)
    Q = np.full((n, k), 1.0 / k, dtype=dtype)
    Q[::2] = 0.0
    Q[::2, hot % k] = 1.0
    P = _perturb_rows(Q, key, 3, 0, eps)
    assert P.dtype == np.float64 and P.shape == Q.shape
    assert np.isfinite(P).all() and (P >= 0).all()
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)
    assert (P[Q == 0] == 0).all()  # a zero assignment stays zero (multiplicative noise)
    c = min(cut, n)
    parts = np.concatenate([_perturb_rows(Q[:c], key, 3, 0, eps), _perturb_rows(Q[c:], key, 3, c, eps)])
    assert np.array_equal(P, parts)


@settings(max_examples=200, deadline=None)
@given(
    h=st.lists(st.floats(0, 1e300, allow_nan=False) | st.just(np.inf), min_size=1, max_size=6),
    rows=st.integers(1, 4),
    T=st.floats(1e-300, 1e300),
)
def test_soft_memberships_rows_sum_to_one(h, rows, T):
    H = np.array([h] * rows)  # duplicated rows; ties and +inf (empty clusters) included
    if not np.isfinite(H).any(axis=1).all():
        H[:, 0] = 0.0
    P = _soft_memberships(H, T)
    assert np.isfinite(P).all() and (P >= 0).all()
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)
    assert (P[:, np.isinf(H[0])] == 0).all()
    assert np.array_equal(P[0], P[-1])
