"""ClAM kernels and estimator (docs/guide/clam.md)."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.utils.estimator_checks import parametrize_with_checks

import danneal
from danneal import ClAM, _core
from danneal.reference import clam as ref

# fits with a few epochs on purpose stop at max_epochs: the ConvergenceWarning is tested on its own
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

RTOL = {np.float32: 1e-4, np.float64: 1e-9}
ATOL = {np.float32: 1e-5, np.float64: 1e-12}


def _problem(rng, dtype, B=37, d=6, k=4, p_mask=0.4):
    X = rng.normal(size=(B, d)).astype(dtype)
    R = rng.normal(size=(k, d)).astype(dtype)
    eta = rng.normal(size=k).astype(dtype)
    m = (rng.random((B, d)) < p_mask).astype(dtype)
    return X, R, eta, m


def _train(
    mod,
    X,
    mv,
    R0,
    eta0,
    c,
    alpha,
    n_steps,
    spherical,
    weighted,
    batch_size,
    n_mask,
    max_epochs,
    learning_rate,
    seed,
    n_threads,
    callback=None,
    plateau_tol=1e-3,
    plateau_window=10,
    patience=5,
    decay=0.8,
    min_lr=1e-6,
    sample_weight=None,
    **kw,
):
    """clam_train (kernel or twin) with the hyper-parameters as a ClamTrainParams."""
    p = _core.ClamTrainParams(
        c=c,
        alpha=alpha,
        n_steps=n_steps,
        spherical=spherical,
        weighted=weighted,
        batch_size=batch_size,
        n_mask=n_mask,
        max_epochs=max_epochs,
        learning_rate=learning_rate,
        seed=seed,
        plateau_tol=plateau_tol,
        plateau_window=plateau_window,
        patience=patience,
        decay=decay,
        min_lr=min_lr,
        **kw,
    )
    return mod.clam_train(X, sample_weight, mv, R0, eta0, p, n_threads, callback)


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
    R, eta, curve, lr, st = _train(_core, *args, 2, None, 1e-3, 2, 1, 0.5, 1e-6)
    R2, eta2, curve2, lr2, st2 = _train(ref, *args, 1, None, 1e-3, 2, 1, 0.5, 1e-6)
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
    R, eta, curve, lr, st = _train(_core, *args, 2, None, 1e-3, 2, 1, 0.5, 1e-6, **kw)
    R2, eta2, curve2, lr2, st2 = _train(ref, *args, 1, None, 1e-3, 2, 1, 0.5, 1e-6, **kw)
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
    plain = _train(_core, *args, 1, None, 1e-3, 2, 1, 0.5, 1e-6)
    off = _train(_core, *args, 1, None, 1e-3, 2, 1, 0.5, 1e-6, c_start=0.0, anneal_epochs=4)
    np.testing.assert_array_equal(plain[0], off[0])
    assert not np.array_equal(plain[2], curve)


def test_train_annealed_threads_bit_identical(rng):
    X = rng.normal(size=(200, 6)).astype(np.float32)
    args = (X, X.mean(0), X[:4].copy(), None, 0.5, 0.1, 6, False, False, 64, 2, 4, 0.02, 9)
    a = _train(_core, *args, 1, c_start=0.01, anneal_epochs=3)
    b = _train(_core, *args, 2, c_start=0.01, anneal_epochs=3)
    for u, v in zip(a[:3], b[:3]):
        np.testing.assert_array_equal(u, v)


def test_estimator_anneal_grid():
    X, _ = make_blobs(150, n_features=4, centers=3, random_state=4)
    m = ClAM(
        3, beta=2.0, anneal=[1.0, 0.01], n_init=2, max_epochs=6, init="k-means++", random_state=0, n_threads=2
    ).fit(X)
    assert [r["anneal"] for r in m.search_results_] == [1.0, 1.0, 0.01, 0.01]
    assert all("silhouette" in r for r in m.search_results_)  # a grid selects by Silhouette
    assert m.best_params_["anneal"] in (1.0, 0.01)
    one = ClAM(
        3,
        beta=2.0,
        anneal=0.01,
        anneal_epochs=2,
        max_epochs=6,
        random_state=0,
        init="k-means++",
        n_init=1,
        n_iter_no_change=0,
    ).fit(X)
    assert one.n_iter_ == 6 and np.isfinite(one.loss_curve_).all()
    with pytest.raises(ValueError, match="anneal"):
        ClAM(3, anneal=0.0).fit(X)
    with pytest.raises(ValueError, match="anneal"):
        ClAM(3, anneal=1.5).fit(X)
    with pytest.raises(ValueError, match="anneal_epochs"):
        ClAM(3, anneal_epochs=0).fit(X)


def test_estimator_step_size_grid():
    X, _ = make_blobs(150, n_features=4, centers=3, random_state=6)
    m = ClAM(3, beta=2.0, step_size=[0.1, 1.0], n_init=2, max_epochs=6, random_state=0, init="k-means++").fit(X)
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
    a = _train(_core, *args, 1)
    b = _train(_core, *args, 2)
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
    from danneal._clam import _split_threads

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
    # 2 k-means starts x 4 configurations, each competing untrained (0 epochs) and trained
    assert len(a.search_results_) == 16
    assert [r["epochs"] == 0 for r in a.search_results_] == [True] * 8 + [False] * 8


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
    model = ClAM(
        3,
        beta=[0.5, 2.0],
        mask_prob=[0.3, 0.6],
        n_init=2,
        max_epochs=10,
        random_state=0,
        init="k-means++",
        step_size=0.1,
    ).fit(X)
    assert len(model.search_results_) == 8
    best = max(model.search_results_, key=lambda r: r["silhouette"])
    assert {k: model.best_params_[k] for k in ("beta", "mask_prob", "anneal", "step_size")} == {
        "beta": best["beta"],
        "mask_prob": best["mask_prob"],
        "anneal": 1.0,
        "step_size": 0.1,
    }
    assert all(r["n_clusters"] <= 3 for r in model.search_results_)


def test_min_clusters_excludes_degenerate_runs():
    X, _ = make_blobs(120, n_features=3, centers=2, random_state=2)
    # 6 prototypes on 2 blobs: runs may leave prototypes empty.  By default the kept run uses as
    # many clusters as any run does; min_clusters=1 keeps the best Silhouette whatever it uses.
    kw = dict(
        beta=[0.05, 0.5],
        n_init=3,
        max_epochs=5,
        init="gaussian",
        step_size=0.1,
        n_steps=10,
        learning_rate=0.03,
        mask_prob=0.1,
        random_state=0,
    )  # the previous defaults
    free = ClAM(6, min_clusters=1, **kw).fit(X)
    strict = ClAM(6, **kw).fit(X)
    found = [r["n_clusters"] for r in strict.search_results_]
    assert [r["n_clusters"] for r in free.search_results_] == found
    assert len(set(found)) > 1  # the case this test is about
    assert np.unique(strict.labels_).size == max(found)
    assert np.unique(free.labels_).size < max(found)  # Silhouette picks the fewer, larger clusters
    best_sil = max(r["silhouette"] for r in free.search_results_)
    assert silhouette_score(free._to_internal(X), free.labels_) == pytest.approx(best_sil, rel=1e-6)


@pytest.mark.parametrize(
    "kw",
    [
        dict(spherical=True),
        dict(weighted=True),
        dict(mask_value="min"),
        dict(exponent="beta", init="k-means++"),
        dict(init="gaussian", standardize=False),
    ],
)
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

    def cb(info):
        seen.append(info)
        return info["epoch"] >= 2

    model = ClAM(
        2, max_epochs=50, random_state=0, callback=cb, init="k-means++", n_init=1, beta=1.0, n_iter_no_change=0
    ).fit(X)
    assert [s["epoch"] for s in seen] == [0, 1, 2]
    assert model.n_iter_ == 3
    np.testing.assert_allclose(model.loss_curve_, [s["loss"] for s in seen])
    # the callback receives the prototypes of every epoch (input space): they move
    assert all(s["cluster_centers"].shape == (2, 3) for s in seen)
    assert not np.allclose(seen[0]["cluster_centers"], seen[2]["cluster_centers"])
    assert seen[0]["params"]["beta"] == 1.0 and seen[0]["run"] == 0


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
    (dict(beta="x"), ValueError, "beta='x'"),
    (dict(mask_prob=-0.1), ValueError, "mask_prob=-0.1"),
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
    (dict(kmeans_n_init=0), ValueError, "kmeans_n_init=0"),
    (dict(lr_decay=0.0), ValueError, "lr_decay=0.0"),
    (dict(lr_decay=1.5), ValueError, "lr_decay=1.5"),
    (dict(lr_patience=0), ValueError, "lr_patience=0"),
    (dict(min_learning_rate=-1.0), ValueError, "min_learning_rate=-1.0"),
    (dict(tol=-1.0), ValueError, "tol=-1.0"),
    (dict(n_iter_no_change=-1), ValueError, "n_iter_no_change=-1"),
    (dict(epoch_rows=0), ValueError, "epoch_rows=0"),
    (dict(mask_replace=1), TypeError, "mask_replace=1"),
    (dict(mask_share_every=-1), ValueError, "mask_share_every=-1"),
    (dict(weights=[1.0, 2.0]), ValueError, "weights: expected shape"),
    (dict(weights=[1.0, 0.0, 2.0]), ValueError, "weights: must be > 0, got weights[1]=0.0"),
    (dict(weights=[1.0, np.nan, 2.0]), ValueError, "weights"),
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


@pytest.mark.parametrize(
    "X,msg",
    [
        (np.array([[0.0, np.nan], [1, 2]]), "NaN"),
        (np.array([[0.0, np.inf], [1, 2]]), "X: contains NaN or inf"),
        (np.zeros((0, 3)), "X: got 0 sample"),
        (
            np.zeros(5),
            r"X: expected a 2-d array of shape \(n_samples, n_features\), got "
            r"shape \(5,\)",
        ),
    ],
)
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
        _train(_core, X, X.mean(0), R, None, 0.5, 0.1, 3, False, False, 8, 9, 2, 0.01, 0, 1)
    train = (X, X.mean(0), R, None, 0.5, 0.1, 3, False, False, 8, 2, 2, 0.01, 0, 1)
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="c_start="):
            _train(_core, *train, c_start=bad, anneal_epochs=2)
    with pytest.raises(ValueError, match="anneal_epochs=-1"):
        _train(_core, *train, c_start=0.01, anneal_epochs=-1)
    with pytest.raises(ValueError, match="n_threads=0"):
        _core.clam_predict(X, R, eta, 0.5, 0.1, 3, False, 0)


def test_exported():
    assert "ClAM" in danneal.__all__ and danneal.ClAM is ClAM


@parametrize_with_checks(
    [ClAM(n_clusters=3, max_epochs=10, batch_size=16, random_state=0)],
    expected_failed_checks=lambda est: {
        "check_sample_weight_equivalence_on_dense_data": (
            "shuffled mini-batches: integer weights equal repeated rows only in expectation"
        )
    },
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


# ---- issue 13: mask options, sample weights, fixed log-weights, early stop ----------------------
TRAIN_VARIANTS = [
    dict(mask_mode=1),
    dict(mask_mode=2),
    dict(mask_share_every=2),
    dict(mask_mode=1, mask_share_every=1),
    dict(weights=True),
    dict(fixed_eta=True),
    dict(n_iter_no_change=1, tol=0.5),
    dict(epoch_rows=20),  # 20 of the 45 rows per epoch: batches of 8, 8 and 4
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("variant", TRAIN_VARIANTS, ids=lambda v: "-".join(f"{k}={v[k]}" for k in v))
def test_train_variants_match_twin(rng, dtype, variant):
    n, d, k = 45, 5, 3
    variant = dict(variant)
    X = rng.normal(size=(n, d)).astype(dtype)
    R0 = rng.normal(size=(k, d)).astype(dtype)
    sw = rng.uniform(0, 2, size=n).astype(dtype) if variant.pop("weights", False) else None
    eta0 = rng.normal(size=k).astype(dtype) if variant.pop("fixed_eta", False) else None
    args = (X, X.mean(0), R0, eta0, 0.5, 0.3, 5, False, False, 8, 2, 6, 0.05, 123)
    R, eta, curve, lr, st = _train(_core, *args, 2, None, 1e-3, 2, 1, 0.5, 1e-6, sample_weight=sw, **variant)
    R2, eta2, curve2, lr2, st2 = _train(ref, *args, 1, None, 1e-3, 2, 1, 0.5, 1e-6, sample_weight=sw, **variant)
    np.testing.assert_allclose(R, R2, rtol=RTOL[dtype], atol=10 * ATOL[dtype])
    np.testing.assert_allclose(curve, curve2, rtol=RTOL[dtype])
    assert lr == lr2 and st["iterations"] == st2["iterations"] and st["converged"] == st2["converged"]
    if eta0 is not None:  # fixed log-weights: used, returned unchanged
        np.testing.assert_array_equal(eta, eta0)
        plain = _train(_core, X, X.mean(0), R0, None, *args[4:], 1, None, 1e-3, 2, 1, 0.5, 1e-6, **variant)
        assert not np.allclose(plain[2], curve)
    if "n_iter_no_change" in variant:  # tol=0.5: no epoch improves by half, stop after 1 + 1 epochs
        assert st["converged"] and st["iterations"] == 2
    # 1 vs 2 threads bit-identical
    a = _train(_core, *args, 1, None, 1e-3, 2, 1, 0.5, 1e-6, sample_weight=sw, **variant)
    for u, v in zip(a[:3], (R, eta, curve)):
        np.testing.assert_array_equal(u, v)


def test_epoch_rows(rng):
    # epoch_rows >= n: every row in every epoch, bit-identical to epoch_rows=0; fewer: each epoch
    # sees a prefix of its shuffle (other rows, other losses), and ClAM passes it through
    X = rng.normal(size=(60, 3))
    args = (X, X.mean(0), X[:3].copy(), None, 0.5, 1.0, 3, False, False, 8, 1, 4, 0.05, 5, 1)
    full = _train(_core, *args)
    for rows in (60, 1000):
        same = _train(_core, *args, epoch_rows=rows)
        for u, v in zip(full[:3], same[:3]):
            np.testing.assert_array_equal(u, v)
    part = _train(_core, *args, epoch_rows=24)
    assert part[2].shape == full[2].shape and not np.array_equal(part[2], full[2])
    a = ClAM(3, epoch_rows=24, max_epochs=4, n_iter_no_change=0, random_state=0, n_threads=1).fit(X)
    b = ClAM(3, epoch_rows=None, max_epochs=4, n_iter_no_change=0, random_state=0, n_threads=1).fit(X)
    assert all(r["epochs"] in (0, 4) for r in a.search_results_)
    losses = [r["loss"] for r in a.search_results_ if r["epochs"]]
    assert losses != [r["loss"] for r in b.search_results_ if r["epochs"]]


def test_train_threads_bit_identical_large_batch(rng):
    # batch 64 = 4 chunks: the gradient partials of the chunks are summed in chunk order
    X = rng.normal(size=(300, 7))
    sw = rng.uniform(0, 3, size=300)
    kw = dict(mask_mode=1, mask_share_every=2, sample_weight=sw, n_iter_no_change=2, tol=1e-3)
    args = (X, X.mean(0), X[:5].copy(), rng.normal(size=5), 0.5, 1.0, 4, False, True, 64, 2, 6, 0.02, 7)
    a = _train(_core, *args, 1, **kw)
    b = _train(_core, *args, 2, **kw)
    for u, v in zip(a[:3], b[:3]):
        np.testing.assert_array_equal(u, v)


def test_no_mask_trains_every_coordinate(rng):
    # mask_mode 2 (the paper's no-mask ablation): the loss covers all coordinates of the unmasked
    # point, so it equals the mean squared distance of the points to their final states
    X = rng.normal(size=(32, 3))
    R0 = X[:2].copy()
    R, _, curve, _, _ = _train(
        _core, X, X.mean(0), R0, None, 0.5, 1.0, 3, False, False, 32, 1, 1, 1e-9, 0, 1, mask_mode=2
    )
    V, _ = ref.clam_forward(X, None, R0, None, 0.5, 1.0, 3, False)
    assert curve[0] == pytest.approx(((X - V[-1]) ** 2).mean(), rel=1e-12)


def test_sample_weight_mask_values_differ(rng):
    # the same training with weights 1 is the unweighted training, to rounding
    X = rng.normal(size=(40, 4))
    args = (X, X.mean(0), X[:3].copy(), None, 0.5, 0.5, 4, False, False, 8, 1, 3, 0.05, 3, 1)
    a = _train(_core, *args)
    b = _train(_core, *args, sample_weight=np.ones(40))
    for u, v in zip(a[:3], b[:3]):
        np.testing.assert_array_equal(u, v)
    c = _train(_core, *args, sample_weight=np.r_[np.ones(20), np.zeros(20)])
    assert not np.allclose(a[0], c[0])


def test_train_params_struct():
    p = _core.ClamTrainParams(c=0.3, n_steps=7, mask_mode=1)
    assert (p.c, p.n_steps, p.mask_mode, p.alpha) == (0.3, 7, 1, 0.1)
    p.tol = 0.5
    assert p.tol == 0.5
    with pytest.raises(TypeError, match="unknown field foo"):
        _core.ClamTrainParams(foo=1)
    X = np.zeros((5, 2))
    for kw, msg in [
        (dict(mask_mode=3), "mask_mode=3"),
        (dict(tol=-1.0), "tol=-1"),
        (dict(n_iter_no_change=-1), "n_iter_no_change=-1"),
        (dict(epoch_rows=-1), "epoch_rows=-1"),
        (dict(mask_share_every=-2), "mask_share_every=-2"),
        (dict(decay=0.0), "decay=0"),
        (dict(beta1=1.0), "beta1=1"),
        (dict(adam_eps=0.0), "adam_eps=0"),
    ]:
        with pytest.raises(ValueError, match=msg):
            _core.clam_train(X, None, X[0], X[:2].copy(), None, _core.ClamTrainParams(**kw), 1)
    with pytest.raises(ValueError, match="sample_weight: expected shape"):
        _core.clam_train(X, np.ones(4), X[0], X[:2].copy(), None, _core.ClamTrainParams(), 1)
    # the twin's dataclass has the same fields and defaults
    twin = ref.TrainParams()
    for name in twin.__dataclass_fields__:
        assert getattr(_core.ClamTrainParams(), name) == getattr(twin, name), name


# ---- issue 13: the estimator's defaults, early stop, memberships -------------------------------------------
def test_default_fit_uses_all_clusters_and_beats_kmeans_start():
    from sklearn.cluster import KMeans

    X, _ = make_blobs(240, n_features=5, centers=4, cluster_std=1.5, random_state=3)
    model = ClAM(4, random_state=0, n_threads=2).fit(X)
    Z = model._to_internal(X)
    assert np.unique(model.labels_).size == 4
    s = silhouette_score(Z, model.labels_)
    km = KMeans(4, n_init=10, random_state=0).fit(Z)
    assert s >= silhouette_score(Z, km.labels_) - 1e-12
    # the kept run is the candidate with the best Silhouette among those using all clusters
    best = max(r["silhouette"] for r in model.search_results_ if r["n_clusters"] == 4)
    assert s == pytest.approx(best, abs=1e-12)  # the exact Silhouette (float64 data: float64 distances)
    trained = [r for r in model.search_results_ if r["epochs"] > 0]
    assert len(trained) == 4 and all(r["epochs"] < model.max_epochs for r in trained)  # early stops
    # identical for any thread count
    other = ClAM(4, random_state=0, n_threads=1).fit(X)
    np.testing.assert_array_equal(other.cluster_centers_, model.cluster_centers_)


def test_early_stop_and_convergence_warning():
    X, _ = make_blobs(120, n_features=3, centers=3, random_state=0)
    m = ClAM(3, random_state=0, init="k-means++", n_init=1, beta=2.0).fit(X)
    assert m.converged_ and m.n_iter_ < 50 and len(m.loss_curve_) == m.n_iter_
    with pytest.warns(ConvergenceWarning, match="max_epochs=2"):
        ClAM(3, random_state=0, init="k-means++", n_init=1, beta=2.0, max_epochs=2).fit(X)


def test_silhouette_scorer_matches_sklearn(rng):
    from danneal._clam import _SilhouetteScorer

    Z = rng.normal(size=(150, 4))
    sc = _SilhouetteScorer(Z)
    for k in (2, 3, 7):
        labels = rng.integers(0, k, size=150)
        labels[:k] = np.arange(k)
        assert sc(labels) == pytest.approx(silhouette_score(Z, labels), abs=1e-12)
    assert sc(np.zeros(150, int)) == -1.0
    # the same partition under other cluster numbers is one partition (scored once)
    lab = rng.integers(0, 3, size=150)
    assert sc.scores([lab, (lab + 1) % 3]) == [sc(lab)] * 2 and len(sc.cache) == 5
    # weight 0 leaves a point out; the weighted score of the others is their plain score
    w = np.r_[np.zeros(30), np.ones(120)]
    labels = np.arange(150) % 3
    assert _SilhouetteScorer(Z, sample_weight=w)(labels) == pytest.approx(
        silhouette_score(Z[30:], labels[30:]), abs=1e-12
    )


def test_selection_is_exact_beyond_the_old_sample_size():
    # 2500 points: the selection used a 2000-point sample before; now the kept partition's
    # Silhouette is the exact one, and it is the best among the candidates using all clusters
    X, _ = make_blobs(2500, n_features=2, centers=5, cluster_std=2.0, random_state=1)
    model = ClAM(5, random_state=0, max_epochs=3, kmeans_n_init=3).fit(X)
    Z = model._to_internal(X)
    s = silhouette_score(Z, model.labels_)
    assert s == pytest.approx(max(r["silhouette"] for r in model.search_results_ if r["n_clusters"] == 5), abs=1e-12)


def test_predict_proba_and_entropy():
    X, _ = make_blobs(100, n_features=3, centers=3, random_state=0)
    m = ClAM(3, random_state=0).fit(X)
    P = m.predict_proba(X)
    assert P.shape == (100, 3) and P.dtype == np.float64
    np.testing.assert_allclose(P.sum(1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(P.argmax(1), m.predict(X))  # no log-weights: the nearest is the likeliest
    H = m.membership_entropy(X)
    assert H.shape == (100,) and (H >= 0).all() and (H <= np.log(3) + 1e-12).all()
    P0 = m.predict_proba(X, n_steps=0)  # at the data points (the paper's eq. 13)
    assert m.membership_entropy(X, n_steps=0).mean() >= H.mean() - 1e-12  # the recursion sharpens
    assert not np.allclose(P0, P)
    assert m.predict_proba(X.astype(np.float32)).dtype == np.float64  # the model's dtype (fitted on float64)


def test_fixed_weights_and_sample_weight():
    X, y = make_blobs(120, n_features=2, centers=[[0, 0], [5, 5], [0, 5]], cluster_std=0.5, random_state=0)
    m = ClAM(3, weights=[1.0, 2.0, 1.0], random_state=0).fit(X)
    np.testing.assert_allclose(m.weights_, [0.25, 0.5, 0.25], rtol=1e-12)  # fixed: not learned
    P = m.predict_proba(X)
    np.testing.assert_allclose(P.sum(1), 1.0)
    learned = ClAM(3, weights=[1.0, 2.0, 1.0], weighted=True, random_state=0).fit(X)
    assert learned.weights_.shape == (3,)
    # far outliers with weight 0 are ignored by the standardisation, the starts and the loss
    Xo = np.r_[X, np.full((6, 2), 60.0)]
    w = np.r_[np.ones(120), np.zeros(6)]
    mo = ClAM(3, random_state=0).fit(Xo, sample_weight=w)
    from sklearn.metrics import adjusted_rand_score

    assert adjusted_rand_score(y, mo.labels_[:120]) == 1.0  # no prototype spent on the outliers
    ones = ClAM(3, random_state=0).fit(X, sample_weight=np.ones(120))
    none = ClAM(3, random_state=0).fit(X)
    np.testing.assert_array_equal(ones.labels_, none.labels_)


@pytest.mark.parametrize(
    "kw",
    [
        dict(mask_prob=0.0),
        dict(mask_replace=True),
        dict(mask_share_every=2),
        dict(lr_decay=0.5, lr_patience=1, min_learning_rate=1e-3),
        dict(selection="loss", n_init=1, kmeans_n_init=3),
        dict(n_init=3, kmeans_n_init=2),
    ],
)
def test_mask_and_schedule_options_run(kw):
    X, _ = make_blobs(90, n_features=4, centers=3, random_state=1)
    m = ClAM(3, random_state=0, **kw).fit(X)
    assert np.unique(m.labels_).size == 3 and np.isfinite(m.cluster_centers_).all()


def test_scoring_monitor_scores_every_epoch():
    # issue 17: scikit-learn's callback protocol sees every epoch of every run, with an estimator
    # that predicts with that epoch's prototypes
    skc = pytest.importorskip("sklearn.callback")
    X, y = make_blobs(150, n_features=3, centers=3, random_state=0)
    mon = skc.ScoringMonitor(scoring="adjusted_rand_score")
    seen = []
    model = ClAM(3, random_state=0, max_epochs=6, n_init=2).set_callbacks(mon)
    model.set_params(callback=seen.append).fit(X, y)
    data = mon.get_logs().data
    scores = [row["score"] if "score" in row else row.get("adjusted_rand_score") for row in data]
    n_epochs = sum(r["epochs"] for r in model.search_results_)
    assert len(seen) == n_epochs > 0
    assert len(data) == n_epochs + 1  # every epoch of every run, and the fit
    assert all(s is not None and -1 <= s <= 1 for s in scores)
    assert scores[-1] == pytest.approx(adjusted_rand_score(y, model.labels_))


def test_auto_mask_prob_drops_the_mask_on_two_features():
    X2, _ = make_blobs(120, n_features=2, centers=3, random_state=0)
    X5, _ = make_blobs(120, n_features=5, centers=3, random_state=0)
    m2 = ClAM(3, random_state=0, max_epochs=3).fit(X2)
    m5 = ClAM(3, random_state=0, max_epochs=3).fit(X5)
    assert {r["mask_prob"] for r in m2.search_results_} == {0.0}  # round(0.2 * 2) = 0: no mask
    assert {r["mask_prob"] for r in m5.search_results_} == {0.2}
    # an explicit value keeps the old rule (at least one masked coordinate)
    assert {r["mask_prob"] for r in ClAM(3, mask_prob=0.2, random_state=0, max_epochs=3).fit(X2).search_results_} == {
        0.2
    }
