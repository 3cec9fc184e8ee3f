"""Central clustering (Rose 1998): kernels vs numpy twins, determinism, annealing properties,
the scikit-learn estimator and its validation."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.utils.estimator_checks import parametrize_with_checks

import danneal
from danneal import CentralAnnealing, _core
from danneal.reference import central as ref

RTOL = {np.float32: 2e-4, np.float64: 1e-9}


def _data(dtype, n=600, d=5, k=4, seed=0, weights=False):
    X, _ = make_blobs(n, n_features=d, centers=k, cluster_std=1.5, random_state=seed)
    X = (X - X.mean(0)).astype(dtype)
    rng = np.random.default_rng(seed)
    w = (0.5 + rng.random(n)).astype(dtype) if weights else None
    Y0 = np.ascontiguousarray(X[rng.choice(n, k, replace=False)])
    logp = np.full(k, -np.log(k))
    return X, w, Y0, logp


# ---------------------------------------------------------------- kernels vs twins
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("max_iter", [1, 5, 50])
@pytest.mark.parametrize("T", [0.0, 0.7, 20.0])
@pytest.mark.parametrize("weights", [False, True])
def test_fixed_point_matches_twin(dtype, max_iter, T, weights):
    X, w, Y0, logp = _data(dtype, weights=weights)
    Y, lp, mass, stats, st = _core.central_fixed_point(X, w, Y0, logp, T, max_iter, 0.0, 2)
    Yr, lpr, massr, statsr, str_ = ref.central_fixed_point(X, w, Y0, logp, T, max_iter, 0.0)
    assert st["iterations"] == str_["iterations"] == max_iter
    assert Y.dtype == dtype
    rtol = RTOL[dtype]
    scale = np.abs(X).max()
    np.testing.assert_allclose(Y, Yr, rtol=rtol, atol=rtol * scale)
    np.testing.assert_allclose(mass, massr, rtol=rtol, atol=rtol * len(X))
    np.testing.assert_allclose(lp, lpr, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(stats[:2], statsr[:2], rtol=rtol * 10)
    np.testing.assert_allclose(stats[3], statsr[3], rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(300, 1, 1), (257, 3, 9), (200, 64, 30), (130, 17, 100)])
def test_fixed_point_shapes(dtype, shape):
    n, d, k = shape
    rng = np.random.default_rng(1)
    X = rng.standard_normal((n, d)).astype(dtype)
    Y0 = np.ascontiguousarray(X[rng.choice(n, k, replace=False)])
    logp = np.log(rng.dirichlet(np.ones(k)))
    for T in (0.0, 0.5 * d):
        a = _core.central_fixed_point(X, None, Y0, logp, T, 3, 0.0, 1)
        b = ref.central_fixed_point(X, None, Y0, logp, T, 3, 0.0)
        rtol = RTOL[dtype] * (10 if dtype == np.float32 else 100)
        np.testing.assert_allclose(a[0], b[0], rtol=rtol, atol=rtol * 4)
        np.testing.assert_allclose(a[2], b[2], rtol=rtol, atol=rtol * n)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_threads_bit_identical(dtype):
    X, w, Y0, logp = _data(dtype, n=9000, d=7, k=6, weights=True)  # several 2048-row chunks
    for T in (0.0, 3.0):
        a = _core.central_fixed_point(X, w, Y0, logp, T, 5, 0.0, 1)
        b = _core.central_fixed_point(X, w, Y0, logp, T, 5, 0.0, 2)
        for x, y in zip(a[:4], b[:4]):
            np.testing.assert_array_equal(x, y)
    ca = _core.central_covariance(X, w, Y0, logp, 3.0, 1)
    cb = _core.central_covariance(X, w, Y0, logp, 3.0, 2)
    for x, y in zip(ca[:3], cb[:3]):
        np.testing.assert_array_equal(x, y)
    pa = _core.central_posteriors(X, Y0, logp, 3.0, 1)
    pb = _core.central_posteriors(X, Y0, logp, 3.0, 2)
    np.testing.assert_array_equal(pa[0], pb[0])
    np.testing.assert_array_equal(pa[1], pb[1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("T", [0.0, 1.0])
def test_posteriors_match_twin(dtype, T):
    X, _, Y0, logp = _data(dtype)
    P, lz, st = _core.central_posteriors(X, Y0, logp, T, 2)
    Pr, lzr, _ = ref.central_posteriors(X, Y0, logp, T)
    assert P.dtype == dtype and not st["numerical_error"]
    np.testing.assert_allclose(P, Pr, rtol=RTOL[dtype], atol=RTOL[dtype])
    np.testing.assert_allclose(lz, lzr, rtol=1e-6 if dtype == np.float32 else 1e-12, atol=1e-9)
    np.testing.assert_allclose(P.sum(1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_covariance_matches_twin(dtype):
    X, w, Y0, logp = _data(dtype, weights=True)
    cov, mass, mean, st = _core.central_covariance(X, w, Y0, logp, 5.0, 2)
    covr, massr, meanr, _ = ref.central_covariance(X, w, Y0, logp, 5.0)
    np.testing.assert_allclose(cov, covr, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(mass, massr, rtol=1e-6)
    np.testing.assert_allclose(mean, meanr, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(cov, np.transpose(cov, (0, 2, 1)))


def test_integer_weights_equal_repetition():
    X, _, Y0, logp = _data(np.float64, n=300)
    reps = np.random.default_rng(0).integers(0, 4, len(X))
    a = _core.central_fixed_point(X, reps.astype(np.float64), Y0, logp, 2.0, 10, 0.0, 1)
    b = _core.central_fixed_point(np.repeat(X, reps, axis=0), None, Y0, logp, 2.0, 10, 0.0, 1)
    np.testing.assert_allclose(a[0], b[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(a[2], b[2], rtol=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_low_temperature_never_nan(dtype):
    # huge logits at low T: the exp must flush, never produce NaN/inf or slow denormals
    X, w, Y0, logp = _data(dtype, n=500)
    X = X * dtype(100)
    Y0 = Y0 * dtype(100)
    for T in (1e-3, 1e-8, 1e-30):
        Y, lp, mass, stats, st = _core.central_fixed_point(X, w, Y0, logp, T, 5, 0.0, 2)
        assert np.isfinite(Y).all() and np.isfinite(mass).all() and np.isfinite(stats).all()
        assert not st["numerical_error"]
        np.testing.assert_allclose(mass.sum(), len(X), rtol=1e-4)


def test_duplicated_centroids_mass_constraint():
    # two identical copies sharing a cluster's mass behave as the single cluster (Rose 1998, §III.C)
    X, _, Y0, logp = _data(np.float64)
    Ydup = np.vstack([Y0, Y0[:1]])
    lpdup = np.append(logp, logp[0] - np.log(2))
    lpdup[0] -= np.log(2)
    a = _core.central_fixed_point(X, None, Y0, logp, 4.0, 20, 0.0, 1)
    b = _core.central_fixed_point(X, None, Ydup, lpdup, 4.0, 20, 0.0, 1)
    np.testing.assert_allclose(b[0][:-1], a[0], rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(b[0][-1], a[0][0], rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(b[2][0] + b[2][-1], a[2][0], rtol=1e-10)
    np.testing.assert_allclose(b[3][:2], a[3][:2], rtol=1e-10)


def test_kernel_validation():
    X, _, Y0, logp = _data(np.float64)
    with pytest.raises(TypeError, match="X"):
        _core.central_fixed_point(X.astype(np.int64), None, Y0, logp, 1.0, 1, 0.0, 1)
    with pytest.raises(ValueError, match="centers"):
        _core.central_fixed_point(X, None, Y0[:, :2].copy(), logp, 1.0, 1, 0.0, 1)
    with pytest.raises(ValueError, match="temperature"):
        _core.central_fixed_point(X, None, Y0, logp, -1.0, 1, 0.0, 1)
    with pytest.raises(ValueError, match="n_threads"):
        _core.central_fixed_point(X, None, Y0, logp, 1.0, 1, 0.0, 0)
    with pytest.raises(ValueError, match="sample_weight"):
        _core.central_fixed_point(X, np.ones(3), Y0, logp, 1.0, 1, 0.0, 1)
    with pytest.raises(ValueError, match="temperature"):
        _core.central_covariance(X, None, Y0, logp, 0.0, 1)


# ---------------------------------------------------------------- annealing properties
def _blobs(n=400, k=3, seed=0, std=0.6):
    X, y = make_blobs(n, n_features=2, centers=k, cluster_std=std, random_state=seed)
    return X, y


def test_first_split_within_one_cooling_step():
    X, _ = _blobs()
    cooling = 0.9
    m = CentralAnnealing(3, cooling=cooling, n_threads=1).fit(X)
    Tc0 = 2 * np.linalg.eigvalsh(np.cov(X.T, bias=True))[-1]
    T_split = m.splits_[0]["T"]
    assert cooling * Tc0 <= T_split < Tc0
    np.testing.assert_allclose(m.critical_temperatures_[0], Tc0, rtol=1e-8)
    # K = 1 above the critical temperature, 2 right after
    h = m.history_
    assert (h["n_clusters"][h["T"] > Tc0] == 1).all()
    assert h["n_clusters"][h["T"] == T_split][0] == 2


def test_zero_temperature_is_lloyd_fixed_point():
    X, _ = _blobs(k=4, seed=3)
    m = CentralAnnealing(4, n_threads=1).fit(X)
    assert m.converged_
    k = m.n_clusters_
    Y, _, _, _, _ = ref.central_fixed_point(X, None, m.cluster_centers_, np.full(k, -np.log(k)), 0.0, 1, 0.0)
    np.testing.assert_allclose(Y, m.cluster_centers_, rtol=1e-12, atol=1e-12)
    labels = np.argmin(((X[:, None] - m.cluster_centers_[None]) ** 2).sum(-1), axis=1)
    np.testing.assert_array_equal(labels, m.labels_)
    np.testing.assert_allclose(m.inertia_, ((X - m.cluster_centers_[labels]) ** 2).sum(), rtol=1e-10)


def test_quality_vs_kmeans():
    from sklearn.cluster import KMeans

    X, _ = make_blobs(1500, n_features=3, centers=6, cluster_std=1.0, random_state=7)
    m = CentralAnnealing(6, n_threads=2).fit(X)
    km = KMeans(6, n_init=10, random_state=0).fit(X)
    assert m.inertia_ <= km.inertia_ * 1.001
    plain = CentralAnnealing(6, swap_moves=False, n_threads=2).fit(X)
    assert plain.swaps_ == []
    assert m.inertia_ <= plain.inertia_ * (1 + 1e-12)  # on this data the moves help (not a theorem)


def test_split_merge_moves_recorded():
    # one wide and several tight groups: the annealing spends splits early, the moves fix it
    rng = np.random.default_rng(0)
    X = np.vstack(
        [
            rng.normal(0, 3, (300, 2)),
            rng.normal([20, 0], 0.3, (100, 2)),
            rng.normal([20, 3], 0.3, (100, 2)),
            rng.normal([23, 1.5], 0.3, (100, 2)),
        ]
    )
    m = CentralAnnealing(5, n_threads=1).fit(X)
    for s in m.swaps_:
        assert s["free_energy_gain"] > 0 and s["split"] not in s["merged"]
    plain = CentralAnnealing(5, swap_moves=False, n_threads=1).fit(X)
    assert m.inertia_ <= plain.inertia_ * (1 + 1e-9)


def _plain_step(X):
    """One plain fixed-point step as the fit's closure sees it: (Y, logp, stats, iterations)."""

    def step(Y, logp, T, max_iter, tol):
        Yn, lp, _, stats, st = _core.central_fixed_point(
            X, None, np.ascontiguousarray(Y), np.asarray(logp, float), float(T), int(max_iter), float(tol), 1
        )
        return Yn, lp, stats, st["iterations"]

    return step


def _free_energy(X, Y, logp, T):
    return float(
        _core.central_fixed_point(X, None, np.ascontiguousarray(Y), np.asarray(logp, float), float(T), 1, 0.0, 1)[3][1]
    )


@pytest.mark.parametrize("T", [0.3, 1.0, 3.0])
@pytest.mark.parametrize("passes", [3, 7, 30])
def test_squarem_never_worse_than_plain_fixed_point(T, passes):
    from danneal._central import _squarem

    X, _, Y0, logp = _data(np.float64, k=6, seed=4)
    X /= np.sqrt(X.var(0).sum())
    step = _plain_step(X)
    seen = []

    def recording(Y, logp, T, max_iter, tol):
        out = step(Y, logp, T, max_iter, tol)
        seen.append(float(out[2][1]))
        return out

    Ya, lpa, _, it_a = _squarem(recording, Y0, logp, T, passes, 0.0)
    Yp, lpp, _, it_p = step(Y0, logp, T, passes, 0.0)
    assert it_a == it_p == passes
    Fa, Fp, F0 = _free_energy(X, Ya, lpa, T), _free_energy(X, Yp, lpp, T), seen[0]
    assert Fa <= F0
    # the extrapolation is kept only when it does not raise the free energy: never above the plain
    # iteration with as many passes (a small tolerance for the last bits of the sums)
    assert Fa <= Fp + 1e-12 * abs(Fp)
    np.testing.assert_allclose(np.exp(lpa).sum(), 1.0, rtol=1e-12)


def test_squarem_fewer_passes_to_converge():
    from danneal._central import _squarem

    X = np.random.default_rng(0).standard_normal((3000, 4))
    X /= np.sqrt(X.var(0).sum())
    Y0 = X[:5].copy()
    logp = np.full(5, -np.log(5))
    step = _plain_step(X)
    Ya, lpa, _, it_a = _squarem(step, Y0, logp, 0.2, 500, 1e-7)
    Yp, lpp, _, it_p = step(Y0, logp, 0.2, 500, 1e-7)
    assert it_a < it_p
    Fp = _free_energy(X, Yp, lpp, 0.2)
    # both stop within tol of the same fixed point: equal free energies up to the last bits of the sums
    assert _free_energy(X, Ya, lpa, 0.2) <= Fp + 1e-10 * abs(Fp)


def test_squarem_free_energy_stall_stops_earlier():
    from danneal._central import _squarem

    X = np.random.default_rng(1).standard_normal((3000, 4))
    X /= np.sqrt(X.var(0).sum())
    Y0, logp = X[:6].copy(), np.full(6, -np.log(6))
    step = _plain_step(X)
    Yf, lpf, _, it_f = _squarem(step, Y0, logp, 0.1, 300, 1e-9, ftol=1e-6)
    Ys, lps, _, it_s = _squarem(step, Y0, logp, 0.1, 300, 1e-9)
    assert it_f < it_s
    F0 = _free_energy(X, Y0, logp, 0.1)
    assert _free_energy(X, Ys, lps, 0.1) <= _free_energy(X, Yf, lpf, 0.1) <= F0


def test_plain_schedule_without_adaptive_cooling():
    X, _ = _blobs(k=3, seed=2)
    m = CentralAnnealing(3, accelerate=False, adaptive_cooling=False, n_threads=1).fit(X)
    np.testing.assert_allclose(m.history_["T"][1:] / m.history_["T"][:-1], 0.9, rtol=1e-12)


def test_adaptive_cooling_stops_early_and_same_partition():
    X, _ = make_blobs(3000, n_features=3, centers=5, cluster_std=0.8, random_state=11)
    fast = CentralAnnealing(5, n_threads=1).fit(X)
    slow = CentralAnnealing(5, accelerate=False, adaptive_cooling=False, n_threads=1).fit(X)
    # once K is full and the fixed point settles at once, the stride doubles: far fewer temperatures
    assert len(fast.history_["T"]) < len(slow.history_["T"]) / 2
    assert fast.n_iter_ < slow.n_iter_
    steps = fast.history_["T"][1:] / fast.history_["T"][:-1]
    assert steps.min() < 0.9**4 and (steps < 1).all()
    assert fast.inertia_ <= slow.inertia_ * (1 + 1e-9)
    # the first split is still met within one cooling step below the first critical temperature
    Tc0 = fast.critical_temperatures_[0]
    assert 0.9 * Tc0 <= fast.splits_[0]["T"] < Tc0


def test_float32_and_float64_agree():
    X, _ = _blobs(k=3, seed=5)
    m64 = CentralAnnealing(3, n_threads=1).fit(X)
    m32 = CentralAnnealing(3, n_threads=1).fit(X.astype(np.float32))
    assert m32.cluster_centers_.dtype == np.float32
    np.testing.assert_array_equal(m32.labels_, m64.labels_)
    np.testing.assert_allclose(m32.cluster_centers_, m64.cluster_centers_, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(m32.critical_temperatures_[0], m64.critical_temperatures_[0], rtol=1e-4)


def test_threads_same_fit():
    X, _ = make_blobs(4200, n_features=3, centers=3, random_state=2)  # 3 chunks of 2048 rows
    a = CentralAnnealing(3, n_threads=1).fit(X)
    b = CentralAnnealing(3, n_threads=2).fit(X)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    np.testing.assert_array_equal(a.history_["free_energy"], b.history_["free_energy"])


def test_auto_finds_separated_clusters():
    X, _ = _blobs(n=600, k=3, seed=1, std=0.3)
    m = CentralAnnealing("auto", max_clusters=8, n_threads=1).fit(X)
    assert m.n_clusters_ == 3
    assert m.cluster_centers_.shape == (3, 2)
    assert len(np.unique(m.labels_)) == 3


def test_sample_weight_integer_equals_repetition_in_fit():
    X, _ = _blobs(n=200, k=3, seed=4)
    reps = np.random.default_rng(1).integers(1, 3, len(X))
    a = CentralAnnealing(3, n_threads=1).fit(X, sample_weight=reps)
    b = CentralAnnealing(3, n_threads=1).fit(np.repeat(X, reps, axis=0))
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(a.inertia_, b.inertia_, rtol=1e-8)


def test_attributes_and_methods():
    X, _ = _blobs()
    Xf = np.asfortranarray(X)
    X_copy = X.copy()
    seen = []
    m = CentralAnnealing(3, n_threads=1, callback=lambda info: seen.append(info["T"])).fit(Xf)
    np.testing.assert_array_equal(X, X_copy)
    assert len(seen) == len(m.history_["T"])
    assert set(m.history_) == {"T", "n_clusters", "free_energy", "distortion", "n_iter"}
    assert np.all(np.diff(m.history_["T"]) < 0)
    assert m.history_["n_iter"].sum() <= m.n_iter_
    np.testing.assert_allclose(m.cluster_weights_.sum(), 1.0)
    assert m.labels_.dtype == np.int64
    P = m.predict_proba(X)
    np.testing.assert_allclose(P.sum(1), 1.0, rtol=1e-10)
    np.testing.assert_array_equal(m.predict_proba(X, T=0).argmax(1), m.predict(X))
    P_hot = m.predict_proba(X, T=1e3 * m.critical_temperatures_[0])
    np.testing.assert_allclose(P_hot, np.broadcast_to(m.cluster_weights_, P_hot.shape), atol=0.05)
    np.testing.assert_allclose(
        m.transform(X).min(1) ** 2, ((X - m.cluster_centers_[m.labels_]) ** 2).sum(1), rtol=1e-8, atol=1e-8
    )
    ks = [p["n_clusters"] for p in m.path_]
    assert ks == sorted(ks) and ks[0] == 1 and ks[-1] == 3
    assert m.centers_at(2).shape == (2, 2)
    assert set(np.unique(m.partition_at(X, 2))) == {0, 1}
    with pytest.raises(ValueError, match="n_clusters=7"):
        m.centers_at(7)
    # integer input converts to float64
    mi = CentralAnnealing(2, n_threads=1).fit(np.round(X * 10).astype(np.int32))
    assert mi.cluster_centers_.dtype == np.float64
    # stopping early from the callback still leaves a fitted model
    ms = CentralAnnealing(3, n_threads=1, callback=lambda info: True).fit(X)
    assert len(ms.history_["T"]) == 1 and ms.cluster_centers_.shape == (3, 2)


def test_duplicate_points_fewer_distinct_than_clusters():
    X = np.repeat(np.array([[0.0, 0.0], [1.0, 1.0]]), 5, axis=0)
    m = CentralAnnealing(3, n_threads=1).fit(X)
    assert m.cluster_centers_.shape == (3, 2)
    assert np.isfinite(m.cluster_centers_).all()
    assert m.inertia_ == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(
    "params, fit_kw, err, match",
    [
        ({"n_clusters": 0}, {}, ValueError, "n_clusters=0"),
        ({"n_clusters": 50}, {}, ValueError, "n_clusters=50 must be <= n_samples=20"),
        ({"n_clusters": "many"}, {}, ValueError, "n_clusters='many'"),
        ({"n_clusters": 2.5}, {}, TypeError, "n_clusters=2.5"),
        ({"n_clusters": "auto", "max_clusters": 0}, {}, ValueError, "max_clusters=0"),
        ({"cooling": 1.0}, {}, ValueError, "cooling=1.0"),
        ({"cooling": 0}, {}, ValueError, "cooling=0"),
        ({"T_min": -1.0}, {}, ValueError, "T_min=-1.0"),
        ({"max_iter": 0}, {}, ValueError, "max_iter=0"),
        ({"tol": -1.0}, {}, ValueError, "tol=-1.0"),
        ({"perturbation": 0.0}, {}, ValueError, "perturbation=0.0"),
        ({"n_threads": 0}, {}, ValueError, "n_threads=0"),
        ({"callback": 3}, {}, TypeError, "callback=3"),
        ({"swap_moves": "yes"}, {}, TypeError, "swap_moves='yes'"),
        ({"accelerate": 1}, {}, TypeError, "accelerate=1"),
        ({"adaptive_cooling": None}, {}, TypeError, "adaptive_cooling=None"),
        ({"final_max_iter": 0}, {}, ValueError, "final_max_iter=0"),
        ({}, {"sample_weight": -np.ones(20)}, ValueError, "sample_weight"),
        ({}, {"sample_weight": np.ones(3)}, ValueError, "sample_weight"),
        ({}, {"sample_weight": np.zeros(20)}, ValueError, "sum to 0"),
        ({}, {"sample_weight": np.full(20, np.nan)}, ValueError, "NaN"),
    ],
)
def test_estimator_validation(params, fit_kw, err, match):
    X = np.random.default_rng(0).standard_normal((20, 2))
    params = {"n_clusters": 2, **params}
    with pytest.raises(err, match=match):
        CentralAnnealing(**params).fit(X, **fit_kw)


@pytest.mark.parametrize(
    "bad", [np.array([[np.nan, 1.0], [0.0, 1.0]]), np.array([[np.inf, 1.0], [0.0, 1.0]]), np.zeros((0, 2)), np.zeros(5)]
)
def test_bad_X(bad):
    with pytest.raises(ValueError):
        CentralAnnealing(1).fit(bad)


def test_predict_proba_validation():
    X, _ = _blobs(n=50)
    m = CentralAnnealing(2, n_threads=1).fit(X)
    with pytest.raises(ValueError, match="T=-1.0"):
        m.predict_proba(X, T=-1.0)
    with pytest.raises(ValueError):
        m.predict(X[:, :1])


def test_exported():
    assert "CentralAnnealing" in danneal.__all__
    assert danneal.CentralAnnealing is CentralAnnealing


@parametrize_with_checks([CentralAnnealing(n_clusters=3, cooling=0.7, n_threads=1)])
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.parametrize("factor", [1e-20, 1e20])
def test_scale_invariance_float32(factor):
    X, _ = _blobs(n=200, k=3, seed=6)
    ref_model = CentralAnnealing(3, n_threads=1).fit(X)
    m = CentralAnnealing(3, n_threads=1).fit((X * factor).astype(np.float32))
    assert np.isfinite(m.cluster_centers_).all()
    np.testing.assert_array_equal(m.labels_, ref_model.labels_)
    np.testing.assert_allclose(m.critical_temperatures_[0], ref_model.critical_temperatures_[0] * factor**2, rtol=1e-4)
    np.testing.assert_allclose(m.inertia_, ref_model.inertia_ * factor**2, rtol=1e-4)


def test_baseline_kernel_matches_twin():
    # the baseline translation unit, forced through DANNEAL_ISA=baseline in a child process
    import os
    import subprocess
    import sys

    code = """
import numpy as np
from danneal import _core
from danneal.reference import central as ref
rng = np.random.default_rng(0)
worst = {}
for dt in (np.float32, np.float64):
    X = rng.standard_normal((700, 5)).astype(dt)
    w = (0.5 + rng.random(700)).astype(dt)
    Y0 = np.ascontiguousarray(X[:7])
    lp = np.full(7, -np.log(7))
    err = 0.0
    for T in (0.0, 2.0):
        a = _core.central_fixed_point(X, w, Y0, lp, T, 5, 0.0, 2)
        b = ref.central_fixed_point(X, w, Y0, lp, T, 5, 0.0)
        err = max(err, float(np.abs(a[0] - b[0]).max()), float(np.abs(a[2] - b[2]).max() / 700))
    worst[np.dtype(dt).name] = err
print(_core.isa(), worst["float32"], worst["float64"])
"""
    env = dict(os.environ, DANNEAL_ISA="baseline")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    isa, e32, e64 = out.stdout.split()[-3:]
    assert isa == "baseline"
    assert float(e32) < 1e-4 and float(e64) < 1e-10


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("T", [0.0, 0.7])
@pytest.mark.parametrize("weights", [False, True])
def test_statistics_match_twin_and_threads(dtype, T, weights):
    """central_statistics (one block's sufficient statistics, used by the dask driver) against its
    numpy twin, and 1 vs 2 threads bit for bit (5000 rows: three 2048-row chunks)."""
    rng = np.random.default_rng(7)
    X = rng.standard_normal((5000, 7)).astype(dtype)
    Y = rng.standard_normal((5, 7)).astype(dtype)
    lp = np.log(np.full(5, 0.2))
    w = rng.random(5000).astype(dtype) if weights else None
    got = _core.central_statistics(X, w, Y, lp, T, 2)
    one = _core.central_statistics(X, w, Y, lp, T, 1)
    want = ref.central_statistics(X, w, Y, lp, T)
    rtol = 1e-4 if dtype == np.float32 else 1e-10
    for a, b, c in zip(got[:3], want[:3], one[:3]):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * 10)
    # the masses of a pass sum to the total weight, and the fixed point's one-iteration update is sums / masses
    # (float32 posteriors are rounded to float32 before they are added: ~1e-9 relative per row)
    np.testing.assert_allclose(got[1].sum(), got[2][2], rtol=1e-6 if dtype == np.float32 else 1e-10)
    Yn, _, mass, _, _ = _core.central_fixed_point(X, w, Y, lp, T, 1, 0.0, 2)
    np.testing.assert_array_equal(mass, got[1])
    np.testing.assert_allclose(
        Yn, (got[0] / got[1][:, None]).astype(dtype), rtol=1e-6 if dtype == np.float32 else 1e-14
    )


# -- issue 15: final polish, annealing on a sample, frozen stop ------------------------------------
def _atom():
    from pathlib import Path

    return np.loadtxt(Path(__file__).parent / "data" / "fcps_atom.data.gz", ndmin=2)


def test_polish_recovers_kmeans_optimum_on_atom():
    from sklearn.cluster import KMeans

    X = _atom()
    km = KMeans(2, n_init=10, random_state=0).fit(X).inertia_
    plain = CentralAnnealing(2, n_polish=0, n_threads=1).fit(X)
    assert plain.polish_["trials"] == 0
    assert plain.inertia_ > 1.001 * km  # the annealing path alone ends 0.26 % above (measured)
    m = CentralAnnealing(2, n_threads=1).fit(X)
    assert m.inertia_ <= 1.001 * km
    assert m.polish_["accepted"] >= 1 and m.polish_["sample_size"] == len(X)
    np.testing.assert_allclose(m.polish_["gain"], 1.0 - m.inertia_ / plain.inertia_, rtol=1e-6)
    # the labels are the nearest-centroid partition of the polished centroids
    np.testing.assert_array_equal(m.labels_, m.predict(X))


def test_polish_never_raises_inertia_and_is_deterministic():
    X, _ = make_blobs(1200, n_features=2, centers=7, cluster_std=1.5, random_state=3)
    base = CentralAnnealing(7, n_polish=0, n_threads=1).fit(X)
    a = CentralAnnealing(7, n_threads=1).fit(X)
    b = CentralAnnealing(7, n_threads=2).fit(X)
    assert a.inertia_ <= base.inertia_ * (1 + 1e-12)
    assert a.polish_["trials"] == 24
    # random_state=None: a fixed seed for the polish, so that the fit stays deterministic
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)


def test_anneal_rows_sample_then_all_rows():
    X, _ = make_blobs(3000, n_features=3, centers=4, cluster_std=0.7, random_state=8)
    full = CentralAnnealing(4, anneal_rows=None, n_threads=1).fit(X)
    sub = CentralAnnealing(4, anneal_rows=500, n_threads=1).fit(X)
    assert full.n_anneal_rows_ == 3000 and sub.n_anneal_rows_ == 500
    assert sub.n_iter_ > 0 and sub.labels_.shape == (3000,)
    # separated groups: the same partition of all rows after the final Lloyd pass on all rows
    np.testing.assert_allclose(sub.inertia_, full.inertia_, rtol=1e-9)
    # the history is reported in units of the whole data set (the sample's weight scaled up); at the
    # first temperature (one cluster) the distortion is the total sum of squares, estimated from 500 rows
    tss = ((X - X.mean(0)) ** 2).sum()
    np.testing.assert_allclose(sub.history_["distortion"][0], tss, rtol=0.1)
    # "auto" uses all rows below 16,384 rows
    assert CentralAnnealing(4, n_threads=1).fit(X).n_anneal_rows_ == 3000
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(X))
    ws = CentralAnnealing(4, anneal_rows=400, n_threads=1).fit(X, sample_weight=w)
    assert np.isfinite(ws.inertia_) and ws.n_anneal_rows_ == 400


def test_frozen_assignments_stop_the_annealing():
    X, _ = make_blobs(2000, n_features=4, centers=5, cluster_std=0.5, random_state=1)
    m = CentralAnnealing(5, n_threads=1).fit(X)
    plain = CentralAnnealing(5, adaptive_cooling=False, accelerate=False, n_threads=1).fit(X)
    # the last two temperatures have the same distortion: the fit stopped there, well above T_min
    D = m.history_["distortion"]
    assert abs(D[-1] - D[-2]) <= 1e-9 * D[-1]
    assert m.temperature_ > 1e-6 * m.critical_temperatures_[0]
    assert m.inertia_ <= plain.inertia_ * (1 + 1e-9)


# -- issue 15 §4: partial_fit ---------------------------------------------------------------------
def _match_error(A, B):
    """Largest distance between the centroids of A and their closest centroids in B."""
    D = ((A[:, None, :] - B[None]) ** 2).sum(-1)
    return float(np.sqrt(D.min(1)).max())


@pytest.mark.parametrize("T", [None, 0.5])
def test_partial_fit_approaches_batch_fit_on_stationary_data(T):
    X, _ = make_blobs(8000, n_features=3, centers=4, cluster_std=1.2, random_state=4)
    rng = np.random.default_rng(0)
    X = X[rng.permutation(len(X))]
    batch = CentralAnnealing(4, n_threads=1).fit(X)
    online = CentralAnnealing(4, n_threads=1)
    errors = []
    for b in range(20):
        online.partial_fit(X[b * 400 : (b + 1) * 400], T=T)
        errors.append(_match_error(online.cluster_centers_, batch.cluster_centers_))
    assert online.n_batches_ == 20 and online.labels_.shape == (400,)
    # the first batch (400 rows) lands near the batch fit; the stream of 20 batches closer still
    assert errors[-1] < errors[0] and errors[-1] < 0.1
    np.testing.assert_allclose(online.cluster_weights_.sum(), 1.0)
    assert -online.score(X) <= 1.01 * -batch.score(X)


def test_partial_fit_weights_and_temperature():
    X, _ = make_blobs(1200, n_features=2, centers=3, random_state=5)
    m = CentralAnnealing(3, n_threads=1).partial_fit(X[:600])
    # integer weights count like repeated rows
    a = CentralAnnealing(3, n_threads=1).partial_fit(X[:600])
    a.partial_fit(X[600:700], sample_weight=np.full(100, 2.0))
    b = CentralAnnealing(3, n_threads=1).partial_fit(X[:600])
    b.partial_fit(np.vstack([X[600:700], X[600:700]]))
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=1e-10, atol=1e-10)
    m.partial_fit(X[600:], T=2.0)
    assert m.temperature_ == 2.0 and m.n_batches_ == 2
    # a new fit starts the running sums again
    m.fit(X)
    m.partial_fit(X[:10])
    assert m.n_batches_ == 1
    with pytest.raises(ValueError, match="features"):
        m.partial_fit(X[:, :1])


def test_samples_of_zero_weight_rows_only():
    # 20,000 rows of which 10 carry weight: the annealing sample and the polish sample (16,384 rows)
    # may hold none of them; the fit falls back to all rows / skips the polish, never fails
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20_000, 2))
    w = np.zeros(len(X))
    w[:10] = 1.0
    X[:5] += 10.0
    m = CentralAnnealing(2, anneal_rows=100, n_threads=1).fit(X, sample_weight=w)
    assert np.isfinite(m.cluster_centers_).all() and m.n_clusters_ == 2
    assert m.n_anneal_rows_ in (100, 20_000)


def test_public_module_reexports_the_private_implementation():
    # issue 16 §2: the implementation lives in danneal._central; danneal.central stays the public module
    import danneal
    import danneal._central
    import danneal.central

    assert danneal.central.CentralAnnealing is danneal.CentralAnnealing is danneal._central.CentralAnnealing
    assert danneal.central.__all__ == ["CentralAnnealing"]


def test_choose_k_prefers_the_finest_range_wider_than_a_gaussian_cascade():
    from danneal._central import _NULL_WIDTH, _choose_k

    def path(ks_widths):
        T, out = 100.0, []
        for k, w in ks_widths:
            out.append({"n_clusters": k, "T_start": T, "T_end": T * np.exp(-w)})
            T *= np.exp(-w)
        return out

    assert _NULL_WIDTH == pytest.approx(np.log(np.pi / (np.pi - 2)))
    # K = 2 widest, but K = 4 also wider than the null width: the finer structure is kept
    assert _choose_k(path([(1, 0.2), (2, 1.5), (4, 1.1), (6, 0.3), (8, 0.0)])) == 4
    # no range wider than the null width: the widest (K = 1 and the last range excluded)
    assert _choose_k(path([(1, 3.0), (2, 0.5), (3, 0.9), (5, 0.2), (7, 5.0)])) == 3
    assert _choose_k(path([(1, 3.0)])) == 1


@pytest.mark.parametrize("k", [3, 5])
def test_auto_k_by_prediction_strength_on_separated_blobs(k):
    X, _ = _blobs(n=500, k=k, seed=3, std=0.3)
    m = CentralAnnealing("auto", max_clusters=10, n_threads=1).fit(X)
    assert m.n_clusters_ == k
    assert m.prediction_strength_[k] >= 0.9  # both halves reproduce the k blobs
    # every finer K on the path is not reproducible (or not met by half of the half-fits)
    assert all(not v >= 0.9 for K, v in m.prediction_strength_.items() if K > k)
    assert set(m.prediction_strength_) == {e["n_clusters"] for e in m.path_ if e["n_clusters"] >= 2}


def test_auto_k_deterministic_and_thread_independent():
    X, _ = _blobs(n=300, k=4, seed=5, std=1.0)
    a = CentralAnnealing("auto", max_clusters=8, random_state=7, n_threads=1).fit(X)
    b = CentralAnnealing("auto", max_clusters=8, random_state=7, n_threads=2).fit(X)
    c = CentralAnnealing("auto", max_clusters=8, random_state=7, n_threads=1).fit(X)
    assert a.n_clusters_ == b.n_clusters_ == c.n_clusters_
    np.testing.assert_equal(a.prediction_strength_, b.prediction_strength_)  # nan == nan here
    np.testing.assert_equal(a.prediction_strength_, c.prediction_strength_)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)


@pytest.mark.parametrize(
    "X, max_clusters",
    [
        (_blobs(n=300, k=5, seed=1, std=0.3)[0], 2),
        (_blobs(n=300, k=5, seed=1, std=0.3)[0], 1),
        (np.random.default_rng(0).uniform(size=(200, 2)), 20),
        (np.random.default_rng(1).standard_normal((3, 2)), None),
        (np.array([[0.0, 0.0], [1.0, 1.0]]), None),
        (np.repeat(np.array([[0.0, 0.0], [5.0, 5.0], [9.0, 0.0]]), 20, axis=0), None),
        (np.zeros((10, 2)), None),
    ],
)
def test_auto_k_within_bounds(X, max_clusters):
    m = CentralAnnealing("auto", max_clusters=max_clusters, n_threads=1).fit(X)
    bound = min(20, len(X)) if max_clusters is None else max_clusters
    assert 1 <= m.n_clusters_ <= bound
    assert m.cluster_centers_.shape == (m.n_clusters_, 2)
    assert np.all(np.isfinite(m.cluster_centers_))
    if m.prediction_strength_ is not None:
        assert all(np.isnan(v) or 0.0 <= v <= 1.0 for v in m.prediction_strength_.values())


def test_auto_k_weighted_prediction_strength_equals_repetition():
    X, _ = _blobs(n=200, k=3, seed=4, std=0.4)
    reps = np.random.default_rng(2).integers(1, 3, len(X))
    a = CentralAnnealing("auto", max_clusters=6, n_threads=1).fit(X, sample_weight=reps)
    assert a.n_clusters_ == 3
    assert a.prediction_strength_[3] >= 0.9


def test_prediction_strength_of_partitions():
    from danneal._central import _strength

    X = np.array([[0.0], [0.1], [0.2], [5.0], [5.1], [5.2]])
    C2 = np.array([[0.1], [5.1]])
    assert _strength(X, None, C2, C2, 1) == 1.0
    # the other centroids cut the cluster {5.0, 5.1, 5.2} into {5.0, 5.1} and {5.2}: 2 of its 6
    # ordered pairs stay together (the cluster {0, 0.1, 0.2} keeps all of its pairs)
    assert _strength(X, None, C2, np.array([[0.1], [5.05], [5.3]]), 1) == pytest.approx(2 / 6)
    # weighted pairs of distinct rows (w_i w_j): unit weights are no weights, only their ratios matter
    C3 = np.array([[0.1], [5.05], [5.3]])
    assert _strength(X, np.ones(6), C2, C3, 1) == _strength(X, None, C2, C3, 1)
    w = np.array([1.0, 1.0, 1.0, 2.0, 1.0, 1.0])
    # cluster {5.0 (weight 2), 5.1, 5.2}: sum_{i != j} w_i w_j = 4^2 - (4 + 1 + 1) = 10, of which the
    # ordered pairs (5.0, 5.1) and (5.1, 5.0), which stay together, weigh 2 x 2 = 4
    assert _strength(X, w, C2, C3, 1) == pytest.approx(4 / 10)
    assert _strength(X, 3.0 * w, C2, C3, 1) == pytest.approx(4 / 10)


def test_choose_k_stable():
    from danneal._central import _choose_k_stable

    path = [{"n_clusters": k, "T_start": 2.0**-i, "T_end": 2.0 ** -(i + 1)} for i, k in enumerate([1, 2, 3, 5, 8])]
    nan = float("nan")
    # the largest reproducible K, even below a less reproducible one
    assert _choose_k_stable(path, {2: 1.0, 3: 0.5, 5: 0.95, 8: nan}) == 5
    # none reproducible: the most reproducible (the larger K on ties)
    assert _choose_k_stable(path, {2: 0.6, 3: 0.8, 5: 0.8, 8: 0.1}) == 5
    # no K met by half of the half-fits: the log-T range rule
    from danneal._central import _choose_k

    assert _choose_k_stable(path, {2: nan, 3: nan, 5: nan, 8: nan}) == _choose_k(path)


def test_auto_k_stopped_by_a_callback_skips_the_half_fits():
    X, _ = _blobs(n=300, k=3, seed=1, std=0.3)
    seen = []

    def stop_after_splits(info):
        seen.append(info["n_clusters"])
        return info["n_clusters"] >= 4  # stop once the path went past K = 3

    m = CentralAnnealing("auto", max_clusters=10, n_threads=1, callback=stop_after_splits).fit(X)
    assert m.prediction_strength_ is None  # the callback's stop is honoured: no half-fits
    assert len(seen) == len(m.history_["T"])  # and they never called it
    assert 1 <= m.n_clusters_ <= max(e["n_clusters"] for e in m.path_)
