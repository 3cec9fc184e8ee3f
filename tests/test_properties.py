"""Hypothesis properties (issue 10 §5): softmax rows sum to 1 for any finite input and any T > 0,
Sinkhorn marginals are met relative to tol at extreme scales, and both clustering estimators give
finite, valid, self-consistent and scale-invariant answers on data with duplicates, k = n and
scales 1e-12 ... 1e12.  The whole file runs in well under 20 s."""

import warnings

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.exceptions import ConvergenceWarning

import danneal
from danneal import _core
from danneal.detan import assignment_expectations

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# derandomized: the estimators compare two fits, which a rare near-tie could split differently
FEW = settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
DTYPES = st.sampled_from([np.float32, np.float64])


def _finite_floats(dtype):
    return st.floats(allow_nan=False, allow_infinity=False, width=np.dtype(dtype).itemsize * 8)


@st.composite
def _matrices(draw, min_rows=1, max_rows=6, min_cols=1, max_cols=6):
    dtype = draw(DTYPES)
    shape = draw(
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=6).filter(
            lambda s: min_rows <= s[0] <= max_rows and min_cols <= s[1] <= max_cols
        )
    )
    return draw(hnp.arrays(dtype, shape, elements=_finite_floats(dtype)))


# any T > 0 (or beta > 0) a float64 can hold, from the smallest subnormal to the largest finite
_POSITIVE = st.floats(min_value=5e-324, max_value=1.7976931348623157e308, allow_nan=False, allow_infinity=False)


def assert_rows_sum_to_one(P, ulps=4):
    P = np.asarray(P)
    assert np.isfinite(P).all()
    assert (P >= 0).all()
    eps = float(np.finfo(P.dtype).eps)
    err = np.abs(P.astype(np.float64).sum(axis=-1) - 1.0)
    # each entry is rounded once to the output dtype (<= 1/2 ulp of itself), the sum of k
    # double-precision quotients adds ~k double ulps: a few output ulps in all
    assert err.max(initial=0.0) <= ulps * eps, err.max()


# ---------------------------------------------------------------------------------------------
# softmax rows
@SETTINGS
@given(B=_matrices(), beta=_POSITIVE)
def test_softmax_wta_rows_sum_to_one(B, beta):
    P = danneal.softmax_wta(B, beta)
    assert P.dtype == B.dtype and P.shape == B.shape
    assert_rows_sum_to_one(P)
    # the row maximum always gets the largest weight
    rows = np.arange(B.shape[0])
    assert (P[rows, np.argmax(B, axis=1)] == P.max(axis=1)).all()


@SETTINGS
@given(H=_matrices(), T=_POSITIVE)
def test_detan_expectations_rows_sum_to_one(H, T):
    assert_rows_sum_to_one(assignment_expectations(H, T))


@SETTINGS
@given(H=_matrices(), T=_POSITIVE)
def test_softmax_rows_kernel_1_vs_2_threads(H, T):
    P1, z1, s1 = _core.softmax_rows(H, T, 1)
    P2, z2, s2 = _core.softmax_rows(H, T, 2)
    assert_rows_sum_to_one(P1)
    np.testing.assert_array_equal(P1, P2)
    np.testing.assert_array_equal(z1, z2)
    assert not s1["numerical_error"]


@st.composite
def _dissimilarities(draw, max_n=8):
    dtype = draw(DTYPES)
    n = draw(st.integers(1, max_n))
    pts = draw(hnp.arrays(np.float64, (n, 2), elements=st.integers(-3, 3).map(float)))  # duplicates likely
    scale = draw(st.sampled_from([1e-12, 1e-6, 1.0, 1e6, 1e12]))
    D = (((pts[:, None] - pts[None]) ** 2).sum(-1) * scale).astype(dtype)
    return D


@SETTINGS
@given(D=_dissimilarities(), k=st.integers(1, 4), T=_POSITIVE, form=st.sampled_from([0, 1]), seed=st.integers(0, 99))
def test_pairwise_fixed_point_rows_sum_to_one(D, k, T, form, seed):
    Q0 = np.random.default_rng(seed).dirichlet(np.ones(k), size=D.shape[0]).astype(D.dtype)
    Q, stats, status = _core.pairwise_fixed_point(D, Q0, T, form, 3, 0.0, 1)
    assert not status["numerical_error"]
    assert_rows_sum_to_one(Q)
    Q2, stats2, _ = _core.pairwise_fixed_point(D, Q0, T, form, 3, 0.0, 2)
    np.testing.assert_array_equal(Q, Q2)
    np.testing.assert_array_equal(stats, stats2)


_FITTED = {}


def _central_model():
    if "central" not in _FITTED:
        rng = np.random.default_rng(0)
        X = np.r_[rng.normal(size=(15, 2)), rng.normal(size=(15, 2)) + 5, rng.normal(size=(15, 2)) - 5]
        _FITTED["central"] = danneal.CentralAnnealing(3, random_state=0).fit(X)
    return _FITTED["central"]


@SETTINGS
@given(
    dtype=DTYPES,
    scale=st.sampled_from([1e-12, 1.0, 1e12, 1e30, 1e100]),
    T=st.floats(min_value=1e-300, max_value=1e300),
    seed=st.integers(0, 99),
)
def test_central_predict_proba_rows_sum_to_one(dtype, scale, T, seed):
    m = _central_model()
    assume(dtype == np.float64 or scale <= 1e30)
    X = (np.random.default_rng(seed).normal(size=(7, 2)) * scale).astype(dtype)
    P = m.predict_proba(X, T=T)
    assert P.dtype == dtype
    assert_rows_sum_to_one(P)


@SETTINGS
@given(dtype=DTYPES, scale=st.sampled_from([1e-6, 1.0, 1e3, 1e8]), c=st.floats(1e-3, 1e6), seed=st.integers(0, 99))
def test_clam_kernel_weights_sum_to_one(dtype, scale, c, seed):
    rng = np.random.default_rng(seed)
    X = (rng.normal(size=(6, 3)) * scale).astype(dtype)
    R = (rng.normal(size=(4, 3)) * scale).astype(dtype)
    R[1] = R[0]  # tied prototypes
    V, P = _core.clam_forward(X, None, R, None, c, 0.5, 3, False, 1)
    assert np.isfinite(V).all()
    assert_rows_sum_to_one(P)


# ---------------------------------------------------------------------------------------------
# Sinkhorn marginals, relative to tol, over extreme scales
@SETTINGS
@given(
    dtype=DTYPES,
    n=st.integers(1, 6),
    m=st.integers(1, 6),
    log_mass=st.integers(-290, 290),
    cost_scale=st.sampled_from([1e-12, 1e-3, 1.0, 1e3, 1e12]),
    rel_reg=st.floats(0.05, 10.0),
    seed=st.integers(0, 99),
)
def test_sinkhorn_marginals_relative_to_tol(dtype, n, m, log_mass, cost_scale, rel_reg, seed):
    rng = np.random.default_rng(seed)
    C = (rng.random((n, m)) * cost_scale).astype(dtype)
    if dtype == np.float32:  # the plan has the cost's dtype: the marginals must be normal float32 numbers
        log_mass = log_mass * 30 // 290
    mass = 10.0**log_mass
    a = rng.random(n) + 0.1
    a *= mass / a.sum()
    b = rng.random(m) + 0.1
    b *= a.sum() / b.sum()
    tol = 1e-4 if dtype == np.float32 else 1e-9
    P, log = danneal.sinkhorn(C, a, b, reg=rel_reg * cost_scale, tol=tol, norm="max", max_iter=100000, log=True)
    assert log["converged"]
    assert P.dtype == dtype
    Pd = P.astype(np.float64)
    assert np.isfinite(Pd).all() and (Pd >= 0).all()
    # rows: the stopping rule, relative to the total mass; columns: exact up to rounding of P to dtype
    assert np.abs(Pd.sum(axis=1) - a).max() <= tol * a.sum()
    colerr = 1e-5 if dtype == np.float32 else 1e-12
    assert np.abs(Pd.sum(axis=0) - b).max() <= colerr * b.sum()


# ---------------------------------------------------------------------------------------------
# clustering estimators: duplicates, k = n, scales 1e-12 ... 1e12
@st.composite
def _points(draw, max_n=10):
    n = draw(st.integers(2, max_n))
    pts = draw(hnp.arrays(np.float64, (n, 2), elements=st.integers(-4, 4).map(float)))
    k = draw(st.one_of(st.just(n), st.integers(1, n)))
    e = draw(st.integers(-40, 40))  # power-of-two scales 2^-40 ... 2^40 (about 1e-12 ... 1e12)
    e10 = draw(st.integers(-12, 12))  # and decimal ones, 1e-12 ... 1e12
    return pts, k, e, e10


def _central_cost(X, labels, centers):
    return float(((X - centers[labels]) ** 2).sum())


def _same_partition(a, b):
    pairs = set(zip(a.tolist(), b.tolist()))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def _fit_quiet(est, X):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # overflow / invalid value anywhere: a failure
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X)


@FEW
@given(data=_points(), dtype=DTYPES)
def test_central_annealing_properties(data, dtype):
    pts, k, e, e10 = data
    s, s10 = 2.0**e, 10.0**e10
    m1 = _fit_quiet(danneal.CentralAnnealing(k, random_state=0), pts.astype(dtype))
    ms = _fit_quiet(danneal.CentralAnnealing(k, random_state=0), (pts * s).astype(dtype))
    m10 = _fit_quiet(danneal.CentralAnnealing(k, random_state=0), (pts * s10).astype(dtype))
    for m, X, sc in ((m1, pts, 1.0), (ms, pts * s, s), (m10, (pts * s10).astype(dtype).astype(np.float64), s10)):
        C = m.cluster_centers_.astype(np.float64)
        assert np.isfinite(C).all() and np.isfinite(m.inertia_) and np.isfinite(m.temperature_)
        assert m.labels_.shape == (len(X),)
        assert ((m.labels_ >= 0) & (m.labels_ < m.n_clusters_)).all()
        # labels are the nearest centroids, and inertia_ is their cost
        d2 = ((X[:, None, :] - C[None]) ** 2).sum(-1)
        assert np.allclose(d2[np.arange(len(X)), m.labels_], d2.min(axis=1), rtol=1e-5, atol=1e-12 * sc * sc)
        rtol = 1e-5 if dtype == np.float32 else 1e-9
        assert np.isclose(m.inertia_, _central_cost(X, m.labels_, C), rtol=rtol, atol=1e-9 * sc * sc + 1e-300)
    # scale covariance (X -> s X, T -> s^2 T): a power-of-two scale gives the same partition
    assert _same_partition(m1.labels_, ms.labels_)
    np.testing.assert_allclose(ms.cluster_centers_.astype(np.float64) / s, m1.cluster_centers_, rtol=1e-5, atol=1e-6)
    # a decimal scale rounds the data: the same cost up to the scale (a near-tie may flip a label)
    assert np.isclose(m10.inertia_ / s10**2, m1.inertia_, rtol=1e-4, atol=1e-9)


@FEW
@given(data=_points(), dtype=DTYPES)
def test_pairwise_annealing_properties(data, dtype):
    pts, k, e, e10 = data
    s, s10 = 2.0**e, 10.0**e10
    D = ((pts[:, None] - pts[None]) ** 2).sum(-1)
    m1 = _fit_quiet(danneal.PairwiseAnnealing(k, random_state=0, max_iter=50), D.astype(dtype))
    ms = _fit_quiet(danneal.PairwiseAnnealing(k, random_state=0, max_iter=50), (D * s).astype(dtype))
    m10 = _fit_quiet(danneal.PairwiseAnnealing(k, random_state=0, max_iter=50), (D * s10).astype(dtype))
    for m, Dm, sc in ((m1, D, 1.0), (ms, D * s, s), (m10, (D * s10).astype(dtype).astype(np.float64), s10)):
        assert np.isfinite(m.cost_) and np.isfinite(m.assignments_).all()
        assert m.labels_.shape == (len(D),)
        assert ((m.labels_ >= 0) & (m.labels_ < k)).all()
        # cost_ = sum over clusters of (sum of the cluster's dissimilarities) / (2 * its size)
        cost = sum(
            Dm[np.ix_(m.labels_ == v, m.labels_ == v)].sum() / (2.0 * (m.labels_ == v).sum())
            for v in np.unique(m.labels_)
        )
        rtol = 1e-5 if dtype == np.float32 else 1e-9
        assert np.isclose(m.cost_, cost, rtol=rtol, atol=1e-12 * sc)
    # scale covariance (D -> s D, T -> s T): the same cost up to the scale
    assert np.isclose(ms.cost_ / s, m1.cost_, rtol=1e-5 if dtype == np.float32 else 1e-9, atol=1e-12)
    assert np.isclose(m10.cost_ / s10, m1.cost_, rtol=1e-4, atol=1e-9)
