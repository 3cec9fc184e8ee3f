"""Regression tests for the numerical failures of issue 10 (sections 1 and 2): softmax rows that
lost their normalisation at large beta / low T, and NaN (or LinAlgError) at extreme finite scales.
Each test failed before the fix."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning

import danneal
from danneal import _core, reference
from danneal.detan import AssignmentAnnealing, assignment_expectations, assignment_iteration


def _blobs(rng, n=20):
    return np.r_[rng.normal(size=(n, 2)), rng.normal(size=(n, 2)) + 6, rng.normal(size=(n, 2)) - 6]


def _row_sums_one(P, ulps=8):
    P = np.asarray(P)
    eps = np.finfo(P.dtype).eps
    assert np.isfinite(P).all()
    assert (P >= 0).all()
    assert_allclose(P.astype(np.float64).sum(axis=1), 1.0, rtol=0, atol=ulps * eps * P.shape[1])


# ---------------------------------------------------------------------------------------------
# section 1: softmax normalisation
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_wta_tied_row_at_huge_beta(dtype):
    P = danneal.softmax_wta(np.array([[1.0, 1.0]], dtype=dtype), 1e16)
    assert P.dtype == dtype
    assert_array_equal(P, [[0.5, 0.5]])  # was [[1, 1]]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_wta_large_logits_sum_to_one(dtype):
    P = danneal.softmax_wta(np.array([[1e5, 1e5]], dtype=dtype), 1e6)
    _row_sums_one(P, ulps=1)  # was 1.0000014
    assert_array_equal(P, [[0.5, 0.5]])


def test_softmax_wta_beta_so_large_that_benefit_times_beta_overflows():
    # beta * benefit overflows: the winner still gets everything (was the uniform row)
    assert_array_equal(danneal.softmax_wta([[1.0, 2.0], [3.0, -1.0]], 1e308), [[0.0, 1.0], [1.0, 0.0]])


def test_detan_expectations_tied_row_at_tiny_temperature():
    assert_array_equal(assignment_expectations([[1.0, 1.0]], 1e-17), [[0.5, 0.5]])  # summed to 2


@pytest.mark.parametrize("T", [1e-300, 1e-17, 1e-3, 1.0, 1e300])
def test_softmax_rows_kernel_and_twin_normalised(rng, T):
    H = rng.normal(size=(50, 4)) * 1e6
    H[::5, 1] = H[::5, 0]  # ties
    P, logZ, st = _core.softmax_rows(H, T, 1)
    Pr, logZr, _ = reference.softmax_rows(H, T)
    _row_sums_one(P)
    _row_sums_one(Pr)
    assert_allclose(P, Pr, rtol=1e-12, atol=1e-300)
    assert not st["numerical_error"]


def test_central_predict_proba_far_points_sum_to_one(rng):
    X = _blobs(rng)
    m = danneal.CentralAnnealing(3, random_state=0).fit(X)
    P = m.predict_proba(X * 1e30)  # rows summed to 2 or 3
    _row_sums_one(P)
    P = m.predict_proba(X, T=1e-300)
    _row_sums_one(P)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_central_posteriors_kernel_tied_far_point(dtype):
    Y = np.array([[-1.0, 0.0], [1.0, 0.0]], dtype=dtype)
    X = np.array([[0.0, 1e15], [0.0, -3e15]], dtype=dtype)  # equidistant, at a huge distance
    P, logZ, st = _core.central_posteriors(X, Y, np.log([0.5, 0.5]), 1e-3, 1)
    assert_array_equal(P, [[0.5, 0.5], [0.5, 0.5]])
    assert not st["numerical_error"]
    assert np.isfinite(logZ).all()


def test_assignment_annealing_from_tied_assignments_keeps_rows_normalised(rng):
    X = _blobs(rng, 10)
    D = ((X[:, None] - X[None]) ** 2).sum(-1)
    ann = AssignmentAnnealing(assignment_iteration(D), np.full((len(X), 2), 0.5), 0.1)
    for _ in range(25):  # down to T = 1e-24
        next(ann)
        ann.cool()
    _row_sums_one(ann.assignments)  # rows were [1, 1]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pairwise_fixed_point_kernel_and_twin_normalised_at_tiny_T(rng, dtype):
    X = _blobs(rng, 10)
    D = ((X[:, None] - X[None]) ** 2).sum(-1).astype(dtype)
    Q0 = np.full((len(X), 3), 1.0 / 3, dtype=dtype)
    for T in (1e-20, 1e-300):
        Q, stats, st = _core.pairwise_fixed_point(D, Q0, T, 0, 3, 0.0, 1)
        Qr, statsr, _ = reference.pairwise_fixed_point(D, Q0, T, 0, 3, 0.0)
        _row_sums_one(Q)
        _row_sums_one(Qr)
        assert_allclose(Q, Qr, atol=1e-6 if dtype == np.float32 else 1e-12)
        assert np.isfinite(stats).all()


def test_assignment_annealing_wta_huge_tied_benefit():
    Q = np.full((3, 2), 1e17)
    res = danneal.assignment_annealing(lambda M: Q, Q.shape, constraint="wta", method="graduated")
    _row_sums_one(res.M)  # rows were [1, 1]
    assert_allclose(res.M, 0.5)


def test_assignment_annealing_doubly_stochastic_huge_benefit(rng):
    Q = rng.random((5, 5)) * 1e14
    res = danneal.assignment_annealing(
        lambda M: Q, Q.shape, method="graduated", options={"sinkhorn_max_iter": 50, "betas": [1e-10, 1e-8]}
    )
    # guard for the log of the plan (now taken from the kernel's plan, not rebuilt as beta Q + alpha + beta)
    assert_allclose(res.M.sum(axis=0), 1.0, atol=1e-6)
    assert_allclose(res.M.sum(axis=1), 1.0, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# section 2: NaN at extreme finite scales
def test_clam_fit_huge_and_tiny_data_is_scale_invariant(rng):
    X = _blobs(rng)
    ref = danneal.ClAM(3, random_state=0).fit(X)
    for s in (1e300, 1e-300):
        m = danneal.ClAM(3, random_state=0).fit(X * s)  # centers were NaN at 1e300
        assert np.isfinite(m.cluster_centers_).all()
        assert_array_equal(m.labels_, ref.labels_)
        assert_allclose(m.cluster_centers_ / s, ref.cluster_centers_, rtol=1e-12, atol=1e-12)


def test_clam_overflowing_squared_distances_are_refused(rng):
    X = _blobs(rng)
    with pytest.raises(ValueError, match="X: values up to .* overflow"):
        danneal.ClAM(3, standardize=False).fit(X * 1e300)
    m = danneal.ClAM(3, random_state=0).fit(X)
    with pytest.raises(ValueError, match="X: values up to"):
        m.predict(X * 1e300)


def test_central_fit_huge_data_raises_value_error_naming_x(rng):
    X = _blobs(rng)
    with pytest.raises(ValueError, match="X: the data's total variance"):  # was LinAlgError / NaN
        danneal.CentralAnnealing(3, random_state=0).fit(X * 1e300)


@pytest.mark.parametrize("s", [1e150, 1e-150, 1e-12, 1e12])
def test_central_fit_is_scale_covariant(rng, s):
    X = _blobs(rng)
    ref = danneal.CentralAnnealing(3, random_state=0).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = danneal.CentralAnnealing(3, random_state=0).fit(X * s)
    assert_array_equal(m.labels_, ref.labels_)
    assert_allclose(m.cluster_centers_ / s, ref.cluster_centers_, rtol=1e-9, atol=1e-9)
    assert_allclose(m.temperature_ / s**2, ref.temperature_, rtol=1e-9)
    assert_allclose(m.inertia_ / s**2, ref.inertia_, rtol=1e-9)


def test_central_predict_refuses_overflowing_distances(rng):
    X = _blobs(rng)
    m = danneal.CentralAnnealing(3, random_state=0).fit(X)
    with pytest.raises(ValueError, match="X: squared distances to the centroids overflow"):
        m.predict(X * 1e300)  # was label 0 for every row
    with pytest.raises(ValueError, match="X: squared distances"):
        m.predict_proba(X * 1e300)


@pytest.mark.parametrize("perturbation", [5.0, 1e300, 1e308])
def test_pairwise_huge_perturbation_is_finite(rng, perturbation):
    X = _blobs(rng, 10)
    D = ((X[:, None] - X[None]) ** 2).sum(-1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # overflow / invalid value in the perturbation
        # random one-hot assignments after every step need not converge: not what is tested here
        warnings.simplefilter("ignore", ConvergenceWarning)
        m = danneal.PairwiseAnnealing(3, perturbation=perturbation, random_state=0).fit(D)
    assert np.isfinite(m.assignments_).all()
    assert np.isfinite(m.cost_)
    assert set(np.unique(m.labels_)) <= {0, 1, 2}


def test_assignment_iteration_all_zero_assignments_raise(rng):
    X = _blobs(rng, 5)
    D = ((X[:, None] - X[None]) ** 2).sum(-1)
    with pytest.raises(ValueError, match="assignments: every column sums to less than"):
        assignment_iteration(D)(np.zeros((len(X), 2)), 1.0)  # returned NaN


def test_torch_clam_recursion_nan_input_raises():
    torch = pytest.importorskip("torch")
    from danneal.torch import ClAMRecursion

    X = torch.randn(5, 3, dtype=torch.float64)
    R = torch.randn(2, 3, dtype=torch.float64)
    X[1, 2] = float("nan")
    with pytest.raises(ValueError, match=r"X: contains NaN or inf \(first at index \(1, 2\)\)"):
        ClAMRecursion()(X, R)  # returned NaN
    R[0, 0] = float("inf")
    with pytest.raises(ValueError, match="prototypes: contains NaN or inf"):
        ClAMRecursion()(torch.zeros(5, 3, dtype=torch.float64), R)


@pytest.mark.parametrize("mass", [2.5e-13, 1.0, 1e13, 1e-300, 1e300])
def test_sinkhorn_tol_is_relative_to_the_mass(rng, mass):
    C = rng.random((6, 5))
    a = rng.random(6)
    a *= mass / a.sum()
    b = rng.random(5)
    b *= a.sum() / b.sum()
    P, log = danneal.sinkhorn(C, a, b, reg=0.05, tol=1e-9, norm="max", log=True)
    assert log["converged"]
    # the row sums were off by 1.9x at a total mass of 2.5e-13
    assert np.abs(P.sum(axis=1) - a).max() <= 1e-9 * a.sum()
    assert_allclose(P.sum(axis=0), b, rtol=1e-12)
    # the duals still describe the plan
    L = -C / 0.05 + log["log_u"][:, None] + log["log_v"][None, :]
    assert_allclose(np.exp(L), P, rtol=1e-9)


def test_spectral_loss_huge_embeddings_no_overflow(rng):
    F = rng.normal(size=(30, 3))
    y = np.arange(30) % 3
    ref = danneal.losses.spectral_clustering_loss(F, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # overflow in F^T F
        res = danneal.losses.spectral_clustering_loss(F * 1e300, y)
    assert_allclose(res.loss, ref.loss, rtol=1e-9, atol=1e-12)
    assert_allclose(res.grad_F * 1e300, ref.grad_F, rtol=1e-7, atol=1e-12)


def test_sinkhorn_float32_plan_out_of_range_mass_raises(rng):
    C = rng.random((3, 3)).astype(np.float32)
    with pytest.raises(ValueError, match="total mass .* overflows the float32 plan"):
        danneal.sinkhorn(C, np.full(3, 1e39), np.full(3, 1e39))  # was an inf plan
    with pytest.raises(ValueError, match="a: marginal .* below the smallest normal float32"):
        danneal.sinkhorn(C, np.full(3, 1e-42), np.full(3, 1e-42))
    P = danneal.sinkhorn(C.astype(np.float64), np.full(3, 1e-42), np.full(3, 1e-42))
    assert_allclose(P.sum(axis=1), 1e-42, rtol=1e-8)


def test_softmax_wta_subnormal_beta_and_overflowing_spread():
    # 1/beta overflowed to inf, and inf/inf gave NaN
    B = np.array([[1.7976931348623157e308, -9.97920155e291]])
    P = danneal.softmax_wta(B, 2.2250738585e-313)
    _row_sums_one(P)
    assert P[0, 0] > P[0, 1]
    # spread beyond DBL_MAX at a huge temperature: kernel and twin agree
    H = np.array([[-1.7e308, 1.7e308, 0.0]])
    P, _, _ = _core.softmax_rows(H, 1e306, 1)
    Pr, _, _ = reference.softmax_rows(H, 1e306)
    _row_sums_one(P)
    assert_allclose(P, Pr, rtol=1e-12)
    assert_allclose(P, np.exp([[170.0, -170.0, 0]]) / np.exp([170.0, -170.0, 0]).sum(), rtol=1e-9)


@pytest.mark.parametrize("s", [1e-300, 3.0, 1e300])
def test_central_sample_weight_scale_invariance(rng, s):
    X = _blobs(rng)
    w = rng.random(len(X)) + 0.5
    ref = danneal.CentralAnnealing(3, random_state=0).fit(X, sample_weight=w)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # subnormal weight sums met "non-finite values" in every pass
        m = danneal.CentralAnnealing(3, random_state=0).fit(X, sample_weight=w * s)
    assert_array_equal(m.labels_, ref.labels_)
    assert_allclose(m.cluster_centers_, ref.cluster_centers_, rtol=1e-12, atol=1e-12)
    assert_allclose(m.inertia_ / s, ref.inertia_, rtol=1e-12)
    assert_allclose(np.asarray(m.history_["distortion"]) / s, ref.history_["distortion"], rtol=1e-9)


def test_central_sample_weight_total_overflow_raises(rng):
    X = _blobs(rng)
    with pytest.raises(ValueError, match="sample_weight: the total weight inf is too large"):
        danneal.CentralAnnealing(3).fit(X, sample_weight=np.full(len(X), 1e308))  # centers were NaN


def test_detan_distances_whose_potentials_overflow_raise_value_error(rng):
    X = _blobs(rng, 4)
    D = ((X[:, None] - X[None]) ** 2).sum(-1)
    D /= D.max()
    Q = rng.dirichlet(np.ones(2), size=len(X))
    with pytest.raises(ValueError, match="distances: values up to .* make the potentials overflow"):
        assignment_iteration(D * 1e307)  # FloatingPointError on the first call before
    with pytest.raises(ValueError, match="distances: values up to"):
        danneal.assignment_potential(Q, D * 1.7e308)
    Qn = assignment_iteration(D * 1e300)(Q, 1e300)  # in range: finite
    _row_sums_one(Qn)
