"""Row-indexed noise (danneal._rownoise) and the soft memberships of predict_proba: properties
over arbitrary blockings, extreme scales, ties and duplicates."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from danneal._pairwise import _soft_memberships
from danneal._rownoise import row_normal, row_uniform


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
    z = row_normal(key, stream, 0, n, k)
    assert np.isfinite(z).all()


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
