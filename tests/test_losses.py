"""DDC and deep spectral clustering losses: kernels vs numpy twins, values, gradients, validation."""

import numpy as np
import pytest

from danneal import _core
from danneal.losses import ddc_loss, spectral_clustering_loss
from danneal.reference import losses as ref

RTOL = {np.float32: 1e-4, np.float64: 1e-10}


def _soft(rng, n, k, dtype=np.float64):
    L = rng.normal(size=(n, k)) * 1.5
    A = np.exp(L - L.max(1, keepdims=True))
    return (A / A.sum(1, keepdims=True)).astype(dtype)


# ---------------------------------------------------------------------------------------------
# kernels vs twins
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 2, 3, 8, 257, 600])
@pytest.mark.parametrize("sigma2", [0.0, 0.7])
def test_gaussian_kernel_matches_twin(rng, dtype, n, sigma2):
    H = rng.normal(size=(n, 5)).astype(dtype)
    G = H @ H.T
    K, s2 = _core.ddc_gaussian_kernel(G, 0.15, sigma2, 2)
    K_ref, s2_ref = ref.ddc_gaussian_kernel(G, 0.15, sigma2, 2)
    assert K.dtype == dtype and K.shape == (n, n)
    assert s2 == pytest.approx(s2_ref, rel=1e-15)  # the median is selected exactly
    np.testing.assert_allclose(K, K_ref, rtol=RTOL[dtype], atol=0)
    K1, s1 = _core.ddc_gaussian_kernel(G, 0.15, sigma2, 1)
    assert s1 == s2
    np.testing.assert_array_equal(K1, K)
    np.testing.assert_array_equal(np.diagonal(K), 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_median_with_ties_is_torch_lower_median(rng, dtype):
    # integer points: many equal distances; the rule is the lower median of all n^2 entries
    for n in (2, 3, 4, 5, 10, 33):
        H = rng.integers(0, 3, size=(n, 2)).astype(dtype)
        G = H @ H.T
        _, s2 = _core.ddc_gaussian_kernel(G, 1.0, 0.0, 2)
        D = ((H[:, None, :] - H[None, :, :]) ** 2).sum(-1)
        med = np.sort(D, axis=None)[(n * n - 1) // 2]
        assert s2 == max(float(med), 1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exp_accuracy_over_the_whole_range(dtype):
    # distances from 1e-8 to ~1e3 with sigma2 = 0.5: exp(-d) down to the subnormal range and 0
    h = np.sqrt(np.logspace(-8, 3.1, 2000)).astype(dtype)[:, None]
    H = np.vstack([np.zeros((1, 1), dtype), h])
    G = H @ H.T
    K, _ = _core.ddc_gaussian_kernel(G, 0.15, 0.5, 2)
    K_ref, _ = ref.ddc_gaussian_kernel(G, 0.15, 0.5)
    tiny = np.finfo(dtype).tiny
    normal = K_ref > tiny
    np.testing.assert_allclose(K[normal], K_ref[normal], rtol=4 * np.finfo(dtype).eps, atol=0)
    assert np.abs(K[~normal] - K_ref[~normal]).max(initial=0) <= 4 * tiny
    assert np.isfinite(K).all() and (K >= 0).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,m", [(1, 1), (5, 3), (300, 20), (513, 7)])
def test_hidden_weights_matches_twin(rng, dtype, n, m):
    K = rng.random((n, n)).astype(dtype)
    K = (K + K.T) / 2
    P = rng.normal(size=(n, m)).astype(dtype)
    B = rng.normal(size=(n, m)).astype(dtype)
    S, r = _core.ddc_hidden_weights(K, P, B, -0.37, 2)
    S_ref, r_ref = ref.ddc_hidden_weights(K, P, B, -0.37)
    assert S.dtype == dtype and r.dtype == np.float64
    scale = np.abs(S_ref).max()
    np.testing.assert_allclose(S, S_ref, rtol=RTOL[dtype], atol=RTOL[dtype] * scale)
    np.testing.assert_allclose(r, r_ref, rtol=RTOL[dtype], atol=RTOL[dtype] * np.abs(S_ref).sum(1).max())
    S1, r1 = _core.ddc_hidden_weights(K, P, B, -0.37, 1)
    np.testing.assert_array_equal(S1, S)
    np.testing.assert_array_equal(r1, r)


def test_kernel_bindings_are_strict(rng):
    G = rng.random((4, 4))
    with pytest.raises(TypeError, match="gram"):
        _core.ddc_gaussian_kernel(G.astype(np.int64), 0.15, 0.0, 1)
    with pytest.raises(ValueError, match="C-contiguous"):
        _core.ddc_gaussian_kernel(np.asfortranarray(G[:, :3].T @ G[:, :3].T.T), 0.15, 0.0, 1)
    with pytest.raises(ValueError, match="shape"):
        _core.ddc_gaussian_kernel(G[:3].copy(), 0.15, 0.0, 1)
    with pytest.raises(ValueError, match="n_threads"):
        _core.ddc_gaussian_kernel(G, 0.15, 0.0, 0)
    with pytest.raises(ValueError, match="rel_sigma"):
        _core.ddc_gaussian_kernel(G, 0.0, 0.0, 1)
    Gi = G.copy()
    Gi[1, 1] = np.inf
    with pytest.raises(ValueError, match="non-finite"):
        _core.ddc_gaussian_kernel(Gi, 0.15, 0.0, 1)
    with pytest.raises(ValueError, match="P"):
        _core.ddc_hidden_weights(G, G[:3].copy(), G, 1.0, 1)


# ---------------------------------------------------------------------------------------------
# DDC loss
# ---------------------------------------------------------------------------------------------


def test_uniform_assignments_give_reference_values(rng):
    # the reference code's normalisation: (1, 1/k, 1); with k = 4: (1, 0.25, 1)
    for n, k in [(6, 4), (50, 4), (20, 7)]:
        A = np.full((n, k), 1.0 / k)
        res = ddc_loss(A, H=rng.normal(size=(n, 3)))
        np.testing.assert_allclose(res.terms, [1.0, 1.0 / k, 1.0], rtol=1e-12)
        assert res.loss == pytest.approx(2 + 1.0 / k, rel=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ddc_terms_match_dense_reference(rng, dtype):
    n, k, d = 60, 5, 7
    A = _soft(rng, n, k, dtype)
    H = rng.normal(size=(n, d)).astype(dtype)
    res = ddc_loss(A, H=H)
    terms = ref.ddc_loss_dense(A.astype(np.float64), H.astype(np.float64))
    np.testing.assert_allclose(res.terms, terms, rtol=1e-4 if dtype == np.float32 else 1e-10)
    assert res.grad_A.dtype == dtype and res.grad_H.dtype == dtype
    assert res.loss == pytest.approx(terms.sum(), rel=1e-4 if dtype == np.float32 else 1e-10)
    w = (0.5, 2.0, 0.25)
    res_w = ddc_loss(A, H=H, weights=w)
    assert res_w.loss == pytest.approx(float(np.dot(w, terms)), rel=1e-4 if dtype == np.float32 else 1e-10)


def _fd_grad(f, X, h=1e-6):
    g = np.zeros_like(X)
    for idx in np.ndindex(X.shape):
        E = np.zeros_like(X)
        E[idx] = h
        g[idx] = (f(X + E) - f(X - E)) / (2 * h)
    return g


def _rel_err(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


@pytest.mark.parametrize("weights", [(1, 1, 1), (0.3, 2.0, 1.7), (0, 1, 0)])
def test_ddc_gradients_vs_finite_differences(rng, weights):
    n, k, d = 25, 4, 3
    A = _soft(rng, n, k)
    H = rng.normal(size=(n, d))
    res = ddc_loss(A, H=H, weights=weights)
    w = np.asarray(weights, dtype=float)
    s2 = res.sigma2
    # sigma2 is detached (a constant) in the gradient: hold it fixed in the differences
    gA = _fd_grad(lambda X: ref.ddc_loss_dense(X, H, sigma2=s2) @ w, A)
    gH = _fd_grad(lambda X: ref.ddc_loss_dense(A, X, sigma2=s2) @ w, H)
    assert _rel_err(res.grad_A, gA) < 1e-6
    if weights == (0, 1, 0):
        np.testing.assert_array_equal(res.grad_H, 0)
    else:
        assert _rel_err(res.grad_H, gH) < 1e-6


def test_ddc_with_given_kernel_and_sigma2(rng):
    n, k, d = 30, 3, 4
    A = _soft(rng, n, k)
    H = rng.normal(size=(n, d))
    res = ddc_loss(A, H=H, sigma2=0.8)
    assert res.sigma2 == 0.8
    K, _ = ref.ddc_gaussian_kernel(H @ H.T, 0.15, 0.8)
    res_k = ddc_loss(A, K=K)
    assert res_k.grad_H is None and res_k.sigma2 is None
    np.testing.assert_allclose(res_k.terms, res.terms, rtol=1e-12)
    np.testing.assert_allclose(res_k.grad_A, res.grad_A, rtol=1e-10, atol=1e-14)
    gA = _fd_grad(lambda X: ref.ddc_loss_dense(X, K=K).sum(), A)
    assert _rel_err(res_k.grad_A, gA) < 1e-6


def test_ddc_return_grad_false(rng):
    A = _soft(rng, 10, 3)
    res = ddc_loss(A, H=rng.normal(size=(10, 2)), return_grad=False)
    assert res.grad_A is None and res.grad_H is None and np.isfinite(res.loss)


def test_ddc_threads_identical(rng):
    A = _soft(rng, 700, 6, np.float32)  # three chunks of the C++ passes
    H = rng.normal(size=(700, 9)).astype(np.float32)
    r1 = ddc_loss(A, H=H, n_threads=1)
    r2 = ddc_loss(A, H=H, n_threads=2)
    assert r1.loss == r2.loss and r1.sigma2 == r2.sigma2
    np.testing.assert_array_equal(r1.grad_A, r2.grad_A)
    np.testing.assert_array_equal(r1.grad_H, r2.grad_H)


def test_ddc_clamps_never_nan(rng):
    n, k = 12, 4
    A = np.zeros((n, k))
    A[np.arange(n), rng.integers(0, 2, n)] = 1.0  # hard assignments, two clusters empty
    H = rng.normal(size=(n, 3)) * 1e3  # far apart: K ~ identity
    for kw in ({"H": H}, {"H": np.zeros((n, 3))}, {"K": np.eye(n)}):
        res = ddc_loss(A, **kw)
        assert np.isfinite(res.loss) and np.isfinite(res.terms).all()
        assert np.isfinite(res.grad_A).all()
        if res.grad_H is not None:
            assert np.isfinite(res.grad_H).all()


def test_ddc_input_handling(rng):
    n, k = 15, 3
    A = _soft(rng, n, k)
    H = rng.integers(-3, 4, size=(n, 4))  # integers -> float64
    A0, H0 = A.copy(), H.copy()
    res = ddc_loss(np.asfortranarray(A), H=H)
    np.testing.assert_array_equal(A, A0)
    np.testing.assert_array_equal(H, H0)
    assert res.grad_H.dtype == np.float64
    res2 = ddc_loss(A, H=H.astype(np.float64)[:, ::1])
    assert res2.loss == res.loss
    Hs = np.zeros((n, 8))
    Hs[:, ::2] = H
    res3 = ddc_loss(A[::1], H=Hs[:, ::2])  # non-contiguous view
    assert res3.loss == res.loss
    # mixed float32/float64: float64
    assert ddc_loss(A.astype(np.float32), H=H.astype(np.float64)).grad_A.dtype == np.float64
    r32 = ddc_loss(A.astype(np.float32), H=H.astype(np.float32))
    assert r32.grad_A.dtype == np.float32 and r32.grad_H.dtype == np.float32


def _ddc_bad_cases():
    rng = np.random.default_rng(0)
    A = _soft(rng, 6, 3)
    H = rng.normal(size=(6, 2))
    A_nan = A.copy()
    A_nan[1, 1] = np.nan
    A_neg = A.copy()
    A_neg[0] = [1.2, -0.2, 0.0]
    A_off = A * 1.1
    H_inf = H.copy()
    H_inf[2, 0] = np.inf
    Kn = np.ones((6, 6))
    Kn[0, 1] = 2
    return [
        (dict(A=A), ValueError, "exactly one of H"),
        (dict(A=A, H=H, K=np.eye(6)), ValueError, "exactly one of H"),
        (dict(A=A_nan, H=H), ValueError, "NaN"),
        (dict(A=A, H=H_inf), ValueError, "H: contains NaN"),
        (dict(A=A_neg, H=H), ValueError, ">= 0"),
        (dict(A=A_off, H=H), ValueError, "sum to 1"),
        (dict(A=A[:, :1] * 0 + 1, H=H), ValueError, "at least 2 clusters"),
        (dict(A=A[:1], H=H[:1]), ValueError, "at least 2 samples"),
        (dict(A=A[0], H=H), ValueError, "2-d"),
        (dict(A=A, H=H[:5]), ValueError, "H: expected 6 rows"),
        (dict(A=A, K=np.eye(5)), ValueError, r"K: expected shape \(6, 6\)"),
        (dict(A=A, K=Kn), ValueError, "symmetric"),
        (dict(A=A, K=np.eye(6), sigma2=1.0), ValueError, "sigma2"),
        (dict(A=A, H=H, sigma2=0.0), ValueError, "sigma2=0.0"),
        (dict(A=A, H=H, sigma2=-1.0), ValueError, "sigma2=-1.0"),
        (dict(A=A, H=H, rel_sigma=0), ValueError, "rel_sigma"),
        (dict(A=A, H=H, weights=(1, 1)), ValueError, "weights"),
        (dict(A=A, H=H, weights=(1, np.nan, 1)), ValueError, "weights"),
        (dict(A=A, H=H, weights=None), TypeError, "weights"),
        (dict(A=A, H=H, n_threads=0), ValueError, "n_threads=0"),
        (dict(A=A, H=H, return_grad="yes"), TypeError, "return_grad"),
        (dict(A=np.empty((0, 3)), H=H), ValueError, "empty"),
        (dict(A=A.astype(np.float32), H=(H * 1e20).astype(np.float32)), ValueError, "overflows float32"),
        (dict(A=A.astype(complex), H=H), TypeError, "complex"),
    ]


@pytest.mark.parametrize("kwargs,exc,match", _ddc_bad_cases())
def test_ddc_validation(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        ddc_loss(**kwargs)


def test_ddc_simplex_tol_none_accepts_unnormalised(rng):
    A = _soft(rng, 8, 3) * 1.5
    res = ddc_loss(A, H=rng.normal(size=(8, 2)), simplex_tol=None)
    assert np.isfinite(res.loss)


# ---------------------------------------------------------------------------------------------
# spectral clustering loss
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_spectral_value_matches_dense(rng, dtype):
    n, d, c = 50, 4, 3
    F = rng.normal(size=(n, d)).astype(dtype)
    y = rng.integers(0, c, n)
    res = spectral_clustering_loss(F, y)
    val = ref.spectral_clustering_loss_dense(F, np.eye(c)[y])
    assert res.loss == pytest.approx(val, rel=1e-4 if dtype == np.float32 else 1e-10)
    assert res.rank == d and res.grad_F.dtype == dtype
    # labels and the one-hot matrix give the same loss; arbitrary label values
    res2 = spectral_clustering_loss(F, np.eye(c)[y])
    assert res2.loss == pytest.approx(res.loss, rel=1e-5)
    res3 = spectral_clustering_loss(F, np.array(["a", "b", "c"])[y])
    assert res3.loss == pytest.approx(res.loss, rel=1e-12)


@pytest.mark.parametrize("Ykind", ["labels", "soft"])
def test_spectral_gradient_vs_finite_differences(rng, Ykind):
    n, d, c = 30, 4, 3
    F = rng.normal(size=(n, d))
    y = rng.integers(0, c, n)
    Y = np.eye(c)[y] if Ykind == "labels" else rng.random((n, c))
    res = spectral_clustering_loss(F, y if Ykind == "labels" else Y)
    g = _fd_grad(lambda X: ref.spectral_clustering_loss_dense(X, np.eye(c)[y] if Ykind == "labels" else Y), F)
    assert _rel_err(res.grad_F, g) < 1e-6


def test_spectral_floor_on_perfect_clusters(rng):
    n, c = 60, 3
    y = np.repeat(np.arange(c), n // c)
    centres = rng.normal(size=(c, 5))
    F = centres[y]  # rank c, column space = span of the class indicators
    res = spectral_clustering_loss(F, y)
    assert res.loss == pytest.approx(0.0, abs=1e-10)
    assert res.rank == c
    assert np.abs(res.grad_F).max() < 1e-10
    # d < c: floor c - d
    F2 = rng.normal(size=(c, 2))[y]
    assert spectral_clustering_loss(F2, y).loss == pytest.approx(1.0, abs=1e-10)
    # a random embedding is above the floor
    assert spectral_clustering_loss(rng.normal(size=(n, 3)), y).loss > 0.5


def test_spectral_rank_deficient_and_zero(rng):
    n = 20
    y = rng.integers(0, 2, n)
    res = spectral_clustering_loss(np.zeros((n, 3)), y)
    assert res.rank == 0 and res.loss == 2.0
    np.testing.assert_array_equal(res.grad_F, 0)
    F = rng.normal(size=(n, 1)) @ np.ones((1, 3))  # rank 1
    res = spectral_clustering_loss(F, y)
    assert res.rank == 1 and np.isfinite(res.grad_F).all()


def test_spectral_input_not_modified(rng):
    F = np.asfortranarray(rng.normal(size=(20, 3)))
    F0 = F.copy()
    spectral_clustering_loss(F, rng.integers(0, 2, 20))
    np.testing.assert_array_equal(F, F0)


def _spectral_bad_cases():
    rng = np.random.default_rng(1)
    F = rng.normal(size=(10, 3))
    y = rng.integers(0, 2, 10)
    Y = np.eye(3)[y]  # column 2 empty
    Fn = F.copy()
    Fn[0, 0] = np.nan
    return [
        (dict(F=F[:3], Y=y[:3]), ValueError, "must exceed the embedding dimension"),
        (dict(F=F, Y=Y), ValueError, "column 2 is empty"),
        (dict(F=F, Y=np.c_[Y[:, :2], Y[:, :1]]), ValueError, "linearly dependent"),
        (dict(F=Fn, Y=y), ValueError, "NaN"),
        (dict(F=F, Y=y[:9]), ValueError, "expected 10 labels"),
        (dict(F=F, Y=Y[:9]), ValueError, "expected 10 rows"),
        (dict(F=F, Y=y, cutoff=-1.0), ValueError, "cutoff"),
        (dict(F=F, Y=y, cutoff=1.0), ValueError, "cutoff"),
        (dict(F=F[0], Y=y), ValueError, "2-d"),
        (dict(F=F, Y=y, return_grad=None), TypeError, "return_grad"),
        (dict(F=F, Y=np.where(y == 0, np.nan, 1.0)), ValueError, "NaN"),
    ]


@pytest.mark.parametrize("kwargs,exc,match", _spectral_bad_cases())
def test_spectral_validation(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        spectral_clustering_loss(**kwargs)


def test_import_without_torch():
    import subprocess
    import sys

    # Importing danneal and danneal.losses must not import torch (an optional extra).  (Blocking
    # torch with sys.modules['torch'] = None is not usable here: SciPy's array-API helpers look
    # the name up in sys.modules and fail on the None.)
    code = "import sys, danneal, danneal.losses; assert 'torch' not in sys.modules, 'torch imported'"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]


@pytest.mark.parametrize("k", [2, 3, 10])
def test_cs_divergence_matches_twin(rng, k):
    A = rng.random((40, k))
    A[:, 0] = 0  # an empty cluster: clamped entries
    K = np.exp(-rng.random((40, 40)))
    K = (K + K.T) / 2
    N = A.T @ K @ A
    for want in (False, True):
        v, G = _core.ddc_cs_divergence(N, want)
        v_ref, G_ref = ref.ddc_cs_divergence(N, want)
        assert v == pytest.approx(v_ref, rel=1e-13)
        if want:
            np.testing.assert_allclose(G, G_ref, rtol=1e-12, atol=1e-300)
        else:
            assert G is None and G_ref is None
    with pytest.raises(ValueError, match="k >= 2"):
        _core.ddc_cs_divergence(N[:1, :1].copy(), True)
    with pytest.raises(TypeError, match="float64"):
        _core.ddc_cs_divergence(N.astype(np.float32), True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernels_in_place(rng, dtype):
    n = 300
    H = rng.normal(size=(n, 4)).astype(dtype)
    G = H @ H.T
    K, s2 = _core.ddc_gaussian_kernel(G, 0.15, 0.0, 2)
    G2 = G.copy()
    K2, s2b = _core.ddc_gaussian_kernel(G2, 0.15, 0.0, 2, out=G2)
    assert K2 is G2 and s2b == s2
    np.testing.assert_array_equal(K2, K)
    P = rng.normal(size=(n, 3)).astype(dtype)
    S, r = _core.ddc_hidden_weights(K, P, P, 0.5, 2)
    S2, r2 = _core.ddc_hidden_weights(K2, P, P, 0.5, 2, out=K2)
    assert S2 is K2
    np.testing.assert_array_equal(S2, S)
    np.testing.assert_array_equal(r2, r)
    with pytest.raises(ValueError, match="out"):
        _core.ddc_gaussian_kernel(G, 0.15, 0.0, 2, out=np.empty((n, n - 1), dtype))
    with pytest.raises(TypeError, match="out"):
        _core.ddc_hidden_weights(K, P, P, 0.5, 2, out=np.empty((n, n), np.int32))


def test_spectral_label_encodings_agree(rng):
    F = rng.normal(size=(40, 3))
    y = rng.integers(0, 4, 40) * 3 + 2  # sparse integer labels (fast path)
    ref_loss = spectral_clustering_loss(F, y.astype(float)).loss  # float labels: np.unique path
    for labels in (y, y.astype(np.uint8), y - 100, np.array([f"c{v}" for v in y])):
        res = spectral_clustering_loss(F, labels)
        assert res.loss == pytest.approx(ref_loss, rel=1e-12)


def test_docstring_examples():
    import doctest

    import danneal.losses

    res = doctest.testmod(danneal.losses)
    assert res.attempted > 0 and res.failed == 0


def test_blas_threads_restored_after_concurrent_calls(rng):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from concurrent.futures import ThreadPoolExecutor

    def blas_threads():
        return [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]

    before = blas_threads()
    A = _soft(rng, 200, 4)
    H = rng.normal(size=(200, 5))
    F = rng.normal(size=(200, 80))  # n d^2 >= 2^20: the BLAS limiter path
    y = rng.integers(0, 3, 200)
    with ThreadPoolExecutor(4) as ex:
        futs = [ex.submit(ddc_loss, A, H=H) for _ in range(8)]
        futs += [ex.submit(spectral_clustering_loss, F, y) for _ in range(8)]
        main = [ddc_loss(A, H=H).loss for _ in range(4)]  # the main thread at the same time
        vals = [f.result().loss for f in futs]
    assert len(set(vals[:8] + main)) == 1 and len(set(vals[8:])) == 1
    assert blas_threads() == before
