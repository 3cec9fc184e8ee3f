"""ClAM kernels and estimator (docs/guide/clam.md)."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import silhouette_score
from sklearn.utils.estimator_checks import parametrize_with_checks

import danneal
from danneal import ClAM, _core
from danneal.reference import clam as ref

RTOL = {np.float32: 1e-4, np.float64: 1e-9}
ATOL = {np.float32: 1e-5, np.float64: 1e-12}


def _problem(rng, dtype, B=37, d=6, k=4, p_mask=0.4):
    X = rng.normal(size=(B, d)).astype(dtype)
    R = rng.normal(size=(k, d)).astype(dtype)
    eta = rng.normal(size=k).astype(dtype)
    m = (rng.random((B, d)) < p_mask).astype(dtype)
    return X, R, eta, m


# ---- kernels vs numpy twins -------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("spherical", [False, True])
@pytest.mark.parametrize("n_steps", [1, 5, 50])
def test_forward_backward_match_twin(rng, dtype, spherical, n_steps):
    X, R, eta, m = _problem(rng, dtype)
    V, P = _core.clam_forward(X, m, R, eta, 0.7, 0.1, n_steps, spherical, 2)
    V2, P2 = ref.clam_forward(X, m, R, eta, 0.7, 0.1, n_steps, spherical, 1)
    assert V.dtype == dtype and P.dtype == dtype
    np.testing.assert_allclose(V, V2, rtol=RTOL[dtype], atol=ATOL[dtype])
    np.testing.assert_allclose(P, P2, rtol=RTOL[dtype], atol=ATOL[dtype])
    G = rng.normal(size=X.shape).astype(dtype)
    out = _core.clam_backward(V, P, m, R, G, 0.7, 0.1, spherical, 2)
    out2 = ref.clam_backward(V, P, m, R, G, 0.7, 0.1, spherical, 1)
    for a, b in zip(out, out2):
        assert a.dtype == dtype
        scale = np.abs(b).max()
        np.testing.assert_allclose(a / scale, b / scale, rtol=0, atol=10 * RTOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_predict_matches_twin(rng, dtype):
    X, R, eta, _ = _problem(rng, dtype, B=300)
    lab, D, V = _core.clam_predict(X, R, eta, 0.5, 0.1, 10, False, 2)
    lab2, D2, V2 = ref.clam_predict(X, R, eta, 0.5, 0.1, 10, False, 1)
    np.testing.assert_allclose(V, V2, rtol=RTOL[dtype], atol=ATOL[dtype])
    np.testing.assert_allclose(D, D2, rtol=RTOL[dtype], atol=ATOL[dtype])
    gap = np.sort(D2, axis=1)
    clear = (gap[:, 1] - gap[:, 0]) > 1e-3
    np.testing.assert_array_equal(lab[clear], lab2[clear])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("spherical,weighted", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("epochs", [1, 5])
def test_train_matches_twin(rng, dtype, spherical, weighted, epochs):
    n, d, k = 45, 5, 3
    X = rng.normal(size=(n, d)).astype(dtype)
    R0 = rng.normal(size=(k, d)).astype(dtype)
    eta0 = np.zeros(k, dtype)
    args = (X, X.mean(0), R0, eta0, 0.5, 0.1, 5, spherical, weighted, 8, 2, epochs, 0.05, 123)
    R, eta, curve, lr, st = _core.clam_train(*args, 2, None, 1e-3, 2, 1, 0.5, 1e-6)
    R2, eta2, curve2, lr2, st2 = ref.clam_train(*args, 1, None, 1e-3, 2, 1, 0.5, 1e-6)
    np.testing.assert_allclose(R, R2, rtol=RTOL[dtype], atol=10 * ATOL[dtype])
    np.testing.assert_allclose(eta, eta2, rtol=RTOL[dtype], atol=10 * ATOL[dtype])
    np.testing.assert_allclose(curve, curve2, rtol=RTOL[dtype])
    assert lr == lr2 and st["iterations"] == st2["iterations"] == epochs



@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("epochs", [3, 8])
def test_train_annealed_matches_twin(rng, dtype, epochs):
    # beta ramps up over 4 epochs: with 3 epochs training ends inside the ramp (the latest
    # prototypes are returned), with 8 the best loss and the plateau decay see epochs 4..7 only
    n, d, k = 40, 4, 3
    X = rng.normal(size=(n, d)).astype(dtype)
    R0 = rng.normal(size=(k, d)).astype(dtype)
    args = (X, X.mean(0), R0, None, 0.8, 0.1, 5, False, False, 8, 1, epochs, 0.05, 321)
    kw = dict(c_start=0.008, anneal_epochs=4)
    R, eta, curve, lr, st = _core.clam_train(*args, 2, None, 1e-3, 2, 1, 0.5, 1e-6, **kw)
    R2, eta2, curve2, lr2, st2 = ref.clam_train(*args, 1, None, 1e-3, 2, 1, 0.5, 1e-6, **kw)
    np.testing.assert_allclose(R, R2, rtol=RTOL[dtype], atol=10 * ATOL[dtype])
    np.testing.assert_allclose(curve, curve2, rtol=RTOL[dtype])
    assert lr == lr2 and st["iterations"] == st2["iterations"] == epochs
    np.testing.assert_allclose(st["error"], st2["error"], rtol=RTOL[dtype])
    if epochs == 3:
        assert lr == 0.05  # no decay during the ramp
        assert st["error"] == pytest.approx(curve[-1], rel=1e-12)
    else:
        assert lr < 0.05  # patience 1, decay 0.5 after the ramp
        assert st["error"] == pytest.approx(curve[4:].min(), rel=1e-12)
    # the ramp changes the result, and c_start = 0 switches it off
    plain = _core.clam_train(*args, 1, None, 1e-3, 2, 1, 0.5, 1e-6)
    off = _core.clam_train(*args, 1, None, 1e-3, 2, 1, 0.5, 1e-6, c_start=0.0, anneal_epochs=4)
    np.testing.assert_array_equal(plain[0], off[0])
    assert not np.array_equal(plain[2], curve)


def test_train_annealed_threads_bit_identical(rng):
    X = rng.normal(size=(200, 6)).astype(np.float32)
    args = (X, X.mean(0), X[:4].copy(), None, 0.5, 0.1, 6, False, False, 64, 2, 4, 0.02, 9)
    a = _core.clam_train(*args, 1, c_start=0.01, anneal_epochs=3)
    b = _core.clam_train(*args, 2, c_start=0.01, anneal_epochs=3)
    for u, v in zip(a[:3], b[:3]):
        np.testing.assert_array_equal(u, v)


def test_estimator_anneal_grid():
    X, _ = make_blobs(150, n_features=4, centers=3, random_state=4)
    m = ClAM(3, beta=2.0, anneal=[1.0, 0.01], n_init=2, max_epochs=6, random_state=0, n_threads=2).fit(X)
    assert [r["anneal"] for r in m.search_results_] == [1.0, 1.0, 0.01, 0.01]
    assert all("silhouette" in r for r in m.search_results_)  # a grid selects by Silhouette
    assert m.best_params_["anneal"] in (1.0, 0.01)
    one = ClAM(3, beta=2.0, anneal=0.01, anneal_epochs=2, max_epochs=6, random_state=0).fit(X)
    assert one.n_iter_ == 6 and np.isfinite(one.loss_curve_).all()
    with pytest.raises(ValueError, match="anneal"):
        ClAM(3, anneal=0.0).fit(X)
    with pytest.raises(ValueError, match="anneal"):
        ClAM(3, anneal=1.5).fit(X)
    with pytest.raises(ValueError, match="anneal_epochs"):
        ClAM(3, anneal_epochs=0).fit(X)


def test_estimator_step_size_grid():
    X, _ = make_blobs(150, n_features=4, centers=3, random_state=6)
    m = ClAM(3, beta=2.0, step_size=[0.1, 1.0], n_init=2, max_epochs=6, random_state=0).fit(X)
    assert [r["step_size"] for r in m.search_results_] == [0.1, 0.1, 1.0, 1.0]
    best = max(m.search_results_, key=lambda r: r["silhouette"])
    assert m.best_params_["step_size"] == best["step_size"]
    # predict uses the kept run's step size: it reproduces the training labels
    np.testing.assert_array_equal(m.predict(X), m.labels_)
    single = ClAM(3, beta=2.0, step_size=1.0, max_epochs=6, random_state=0).fit(X)
    assert np.isfinite(single.transform(X)).all()
    with pytest.raises(ValueError, match="step_size"):
        ClAM(3, step_size=[0.5, 1.5]).fit(X)

# ---- determinism across thread counts ---------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_threads_bit_identical(rng, dtype):
    n, d, k = 300, 7, 5
    X = rng.normal(size=(n, d)).astype(dtype)
    R0 = X[:k].copy()
    args = (X, X.mean(0), R0, np.zeros(k, dtype), 0.5, 0.1, 10, False, True, 64, 2, 3, 0.02, 7)
    a = _core.clam_train(*args, 1)
    b = _core.clam_train(*args, 2)
    for u, v in zip(a[:3], b[:3]):
        np.testing.assert_array_equal(u, v)
    Xb, R, eta, m = _problem(rng, dtype, B=100)
    f1 = _core.clam_forward(Xb, m, R, eta, 0.6, 0.1, 7, False, 1)
    f2 = _core.clam_forward(Xb, m, R, eta, 0.6, 0.1, 7, False, 2)
    for u, v in zip(f1, f2):
        np.testing.assert_array_equal(u, v)
    G = rng.normal(size=Xb.shape).astype(dtype)
    b1 = _core.clam_backward(*f1, m, R, G, 0.6, 0.1, False, 1)
    b2 = _core.clam_backward(*f1, m, R, G, 0.6, 0.1, False, 2)
    for u, v in zip(b1, b2):
        np.testing.assert_array_equal(u, v)
    p1 = _core.clam_predict(Xb, R, eta, 0.6, 0.1, 7, False, 1)
    p2 = _core.clam_predict(Xb, R, eta, 0.6, 0.1, 7, False, 2)
    for u, v in zip(p1, p2):
        np.testing.assert_array_equal(u, v)


def test_estimator_threads_bit_identical():
    X, _ = make_blobs(200, n_features=5, centers=4, random_state=0)
    a = ClAM(4, random_state=3, max_epochs=5, batch_size=32, weighted=True, n_threads=1).fit(X)
    b = ClAM(4, random_state=3, max_epochs=5, batch_size=32, weighted=True, n_threads=2).fit(X)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    np.testing.assert_array_equal(a.weights_, b.weights_)
    np.testing.assert_array_equal(a.loss_curve_, b.loss_curve_)
    np.testing.assert_array_equal(a.labels_, b.labels_)



def test_parallel_restarts_match_sequential():
    # batch 8 fills one 16-row chunk, so with 2 threads the restarts run two at a time
    from danneal.clam import _split_threads

    assert _split_threads(2, 6, 8) == (2, 1)
    assert _split_threads(2, 6, 256) == (1, 2)
    assert _split_threads(4, 1, 8) == (1, 4)
    X, _ = make_blobs(120, n_features=4, centers=3, random_state=1)
    kw = dict(beta=[0.5, 2.0], mask_prob=[0.1, 0.3], n_init=2, max_epochs=4, random_state=5)
    a = ClAM(3, n_threads=1, **kw).fit(X)
    b = ClAM(3, n_threads=2, **kw).fit(X)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert a.search_results_ == b.search_results_
    assert len(a.search_results_) == 8

# ---- gradients by central finite differences ----------------------------------------------------
@pytest.mark.parametrize("spherical", [False, True])
def test_backward_finite_differences(rng, spherical):
    B, d, k, T = 9, 5, 3, 6
    X, R, eta, m = _problem(rng, np.float64, B=B, d=d, k=k)
    target = rng.normal(size=(B, d))
    c, alpha = 0.7, 0.3

    def loss(X_, R_, eta_):
        V, _ = _core.clam_forward(X_, m, R_, eta_, c, alpha, T, spherical, 1)
        return ((V[-1] - target) ** 2).sum() / (B * d)

    V, P = _core.clam_forward(X, m, R, eta, c, alpha, T, spherical, 1)
    G = 2 * (V[-1] - target) / (B * d)
    dR, deta, dX = _core.clam_backward(V, P, m, R, G, c, alpha, spherical, 1)
    h = 1e-5
    for which, arr, ana in ((0, X, dX), (1, R, dR), (2, eta, deta)):
        num = np.zeros_like(arr)
        for i in np.ndindex(arr.shape):
            args_p, args_m = [X, R, eta], [X, R, eta]
            a = arr.copy()
            a[i] += h
            args_p[which] = a
            b = arr.copy()
            b[i] -= h
            args_m[which] = b
            num[i] = (loss(*args_p) - loss(*args_m)) / (2 * h)
        rel = np.abs(ana - num).max() / np.abs(num).max()
        assert rel < 1e-6, (which, rel)


# ---- properties of the recursion ------------------------------------------------------------------
def _energy(V, R, eta, c):
    S = -c * ((V[:, None, :] - R[None]) ** 2).sum(-1) + eta
    mx = S.max(1)
    return -(mx + np.log(np.exp(S - mx[:, None]).sum(1))) / c


def test_energy_non_increasing(rng):
    X, R, eta, _ = _problem(rng, np.float64, B=50, d=4, k=5)
    c = 0.8
    V, _ = _core.clam_forward(X, None, R, eta, c, 0.05, 40, False, 1)
    E = np.array([_energy(v, R, eta, c) for v in V])
    assert (np.diff(E, axis=0) <= 1e-12).all()
    assert (E[-1] < E[0]).all()


def test_prototypes_are_fixed_points(rng):
    R = np.array([[0.0, 0, 0], [5, 0, 0], [0, 5, 0], [0, 0, 5]])
    V, P = _core.clam_forward(R.copy(), None, R, None, 2.0, 0.1, 20, False, 1)
    np.testing.assert_allclose(V[-1], R, atol=1e-12)
    np.testing.assert_array_equal(np.argmax(P[-1], 1), np.arange(4))


def test_no_nan_high_dimension():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 16000)).astype(np.float32)
    model = ClAM(3, max_epochs=2, batch_size=8, random_state=0).fit(X)
    assert np.isfinite(model.cluster_centers_).all()
    assert np.isfinite(model.loss_curve_).all()
    assert np.isfinite(model.transform(X)).all()


# ---- estimator ---------------------------------------------------------------------------------------
def test_blobs_recovered():
    from sklearn.metrics import adjusted_rand_score
    X, y = make_blobs(300, n_features=4, centers=3, cluster_std=0.8, random_state=1)
    model = ClAM(3, random_state=0, max_epochs=30, n_init=2).fit(X)
    assert adjusted_rand_score(y, model.labels_) > 0.95
    np.testing.assert_array_equal(model.predict(X), model.labels_)
    assert model.transform(X).shape == (300, 3)
    assert model.cluster_centers_.shape == (3, 4)
    assert model.n_iter_ == len(model.loss_curve_) <= 30


def test_grid_search_by_silhouette():
    X, _ = make_blobs(120, n_features=3, centers=3, random_state=2)
    model = ClAM(3, beta=[0.5, 2.0], mask_prob=[0.3, 0.6], n_init=2, max_epochs=10, random_state=0).fit(X)
    assert len(model.search_results_) == 8
    best = max(model.search_results_, key=lambda r: r["silhouette"])
    assert model.best_params_ == {"beta": best["beta"], "mask_prob": best["mask_prob"], "anneal": 1.0,
                                  "step_size": 0.1}
    assert all(r["n_clusters"] <= 3 for r in model.search_results_)


def test_min_clusters_excludes_degenerate_runs():
    X, _ = make_blobs(120, n_features=3, centers=2, random_state=2)
    # 6 prototypes on 2 blobs: runs may leave prototypes empty.  By default the kept run uses as
    # many clusters as any run does; min_clusters=1 keeps the best Silhouette whatever it uses.
    free = ClAM(6, beta=[0.05, 0.5], n_init=3, max_epochs=5, init="gaussian", random_state=0, min_clusters=1).fit(X)
    strict = ClAM(6, beta=[0.05, 0.5], n_init=3, max_epochs=5, init="gaussian", random_state=0).fit(X)
    found = [r["n_clusters"] for r in strict.search_results_]
    assert [r["n_clusters"] for r in free.search_results_] == found
    assert len(set(found)) > 1  # the case this test is about
    assert np.unique(strict.labels_).size == max(found)
    assert np.unique(free.labels_).size < max(found)  # Silhouette picks the fewer, larger clusters
    best_sil = max(r["silhouette"] for r in free.search_results_)
    assert silhouette_score(free._to_internal(X), free.labels_) == pytest.approx(best_sil, rel=1e-6)


@pytest.mark.parametrize("kw", [dict(spherical=True), dict(weighted=True), dict(mask_value="min"),
                                dict(exponent="beta", init="k-means++"), dict(init="gaussian", standardize=False)])
def test_variants_run(kw):
    X, _ = make_blobs(80, n_features=4, centers=3, random_state=0)
    model = ClAM(3, max_epochs=5, random_state=0, **kw).fit(X)
    assert np.isfinite(model.cluster_centers_).all()
    if kw.get("weighted"):
        assert model.weights_.shape == (3,) and np.isclose(model.weights_.sum(), 1)


def test_float32_preserved_and_input_untouched():
    X, _ = make_blobs(60, n_features=3, centers=2, random_state=0)
    X = np.asfortranarray(X.astype(np.float32))
    X0 = X.copy()
    model = ClAM(2, max_epochs=3, random_state=0).fit(X)
    np.testing.assert_array_equal(X, X0)
    assert model.cluster_centers_.dtype == np.float32
    assert model.transform(X).dtype == np.float32


def test_callback_stops_and_reports():
    X, _ = make_blobs(60, n_features=3, centers=2, random_state=0)
    seen = []

    def cb(info):  # the convention of every estimator: returning True stops early
        seen.append((info["epoch"], info["loss"], info["learning_rate"], info["run"]))
        return info["epoch"] >= 2

    model = ClAM(2, max_epochs=50, n_init=3, random_state=0, callback=cb).fit(X)
    assert [s[0] for s in seen] == [0, 1, 2] and {s[3] for s in seen} == {0}  # the other runs are skipped
    assert model.n_iter_ == 3
    np.testing.assert_allclose(model.loss_curve_, [s[1] for s in seen])


def test_callback_exception_propagates():
    X, _ = make_blobs(30, n_features=2, centers=2, random_state=0)

    def cb(info):
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        ClAM(2, max_epochs=5, callback=cb).fit(X)


BAD = [
    (dict(n_clusters=0), ValueError, "n_clusters=0"),
    (dict(n_clusters=50), ValueError, "n_clusters=50 must be <= n_samples=20"),
    (dict(beta=-1.0), ValueError, "beta=-1.0"),
    (dict(beta=[]), ValueError, "beta"),
    (dict(beta="x"), TypeError, "beta='x'"),
    (dict(mask_prob=0.0), ValueError, "mask_prob=0.0"),
    (dict(mask_prob=1.5), ValueError, "mask_prob=1.5"),
    (dict(n_steps=0), ValueError, "n_steps=0"),
    (dict(step_size=0.0), ValueError, "step_size=0.0"),
    (dict(step_size=float("nan")), ValueError, "step_size=nan"),
    (dict(exponent="beta/3"), ValueError, "exponent='beta/3'"),
    (dict(mask_value="median"), ValueError, "mask_value='median'"),
    (dict(batch_size=0), ValueError, "batch_size=0"),
    (dict(learning_rate=0.0), ValueError, "learning_rate=0.0"),
    (dict(max_epochs=0), ValueError, "max_epochs=0"),
    (dict(n_init=0), ValueError, "n_init=0"),
    (dict(init="kmeans"), ValueError, "init='kmeans'"),
    (dict(init=np.zeros((2, 2))), ValueError, "init: expected shape"),
    (dict(weighted="yes"), TypeError, "weighted='yes'"),
    (dict(selection="best"), ValueError, "selection='best'"),
    (dict(callback=3), TypeError, "callback=3"),
    (dict(min_clusters=4), ValueError, "min_clusters=4 must be <= 3"),
    (dict(n_threads=0), ValueError, "n_threads=0"),
]


@pytest.mark.parametrize("kw,exc,msg", BAD)
def test_invalid_parameters(kw, exc, msg):
    X = np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises(exc, match=msg.replace("(", r"\(").replace("[", r"\[")):
        ClAM(**{"n_clusters": 3, "max_epochs": 2, **kw}).fit(X)


@pytest.mark.parametrize("X,msg", [(np.array([[0.0, np.nan], [1, 2]]), "NaN"),
                                   (np.array([[0.0, np.inf], [1, 2]]), "X: contains NaN or inf"),
                                   (np.zeros((0, 3)), "X: got 0 sample"),
                                   (np.zeros(5), r"X: expected a 2-d array of shape \(n_samples, n_features\), got "
                                                 r"shape \(5,\)")])
def test_invalid_data(X, msg):
    with pytest.raises(ValueError, match=msg):
        ClAM(1, max_epochs=2).fit(X)


def test_kernel_argument_errors(rng):
    X, R, eta, m = _problem(rng, np.float64)
    with pytest.raises(ValueError, match="R: expected shape"):
        _core.clam_forward(X, m, R[:, :3].copy(), eta, 0.5, 0.1, 3, False, 1)
    with pytest.raises(TypeError, match="dtype"):
        _core.clam_forward(X, m, R.astype(np.float32), eta, 0.5, 0.1, 3, False, 1)
    with pytest.raises(ValueError, match="n_mask=9"):
        _core.clam_train(X, X.mean(0), R, None, 0.5, 0.1, 3, False, False, 8, 9, 2, 0.01, 0, 1)
    train = (X, X.mean(0), R, None, 0.5, 0.1, 3, False, False, 8, 2, 2, 0.01, 0, 1)
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="c_start="):
            _core.clam_train(*train, c_start=bad, anneal_epochs=2)
    with pytest.raises(ValueError, match="anneal_epochs=-1"):
        _core.clam_train(*train, c_start=0.01, anneal_epochs=-1)
    with pytest.raises(ValueError, match="n_threads=0"):
        _core.clam_predict(X, R, eta, 0.5, 0.1, 3, False, 0)


def test_exported():
    assert "ClAM" in danneal.__all__ and danneal.ClAM is ClAM


@parametrize_with_checks([ClAM(n_clusters=3, max_epochs=10, batch_size=16, random_state=0)])
def test_sklearn_compatible(estimator, check):
    check(estimator)
