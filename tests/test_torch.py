"""danneal.torch: DDCLoss / SpectralClusteringLoss modules (skipped without torch)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import danneal.torch as dtorch  # noqa: E402
from danneal.losses import ddc_loss, spectral_clustering_loss  # noqa: E402
from danneal.torch import DDCLoss, SpectralClusteringLoss  # noqa: E402

EPS = 1e-9


def torch_ddc_terms(A, H, rel_sigma=0.15, sigma2=None):
    """The DDC terms in plain PyTorch (reference conventions: n x n distances, torch.median,
    clamps), written from the formulas; autograd gives the gradient to compare with."""
    n, k = A.shape
    sq = (H * H).sum(1, keepdim=True)
    dist = torch.relu(sq - 2 * H @ H.T + sq.T)
    if sigma2 is None:
        sigma2 = torch.clamp(rel_sigma * torch.median(dist).detach(), min=EPS)
    K = torch.exp(-dist / (2 * sigma2))

    def dcs(Q):
        N = Q.T @ K @ Q
        d = torch.diagonal(N)
        D = d[:, None] * d[None, :]
        N = torch.where(N < EPS, N.new_tensor(EPS), N)
        D = torch.where(D < EPS**2, D.new_tensor(EPS**2), D)
        return 2.0 / (k * (k - 1)) * torch.triu(N / torch.sqrt(D), 1).sum()

    M = torch.exp(-((A[:, None, :] - torch.eye(k, dtype=A.dtype)[None]) ** 2).sum(-1))
    return torch.stack([dcs(A), 2.0 / (n * (n - 1)) * torch.triu(A @ A.T, 1).sum(), dcs(M)])


def _inputs(n=14, k=3, d=3, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, k, generator=g, dtype=dtype, requires_grad=True)
    H = torch.randn(n, d, generator=g, dtype=dtype, requires_grad=True)
    return logits, H


def test_ddc_gradcheck_fixed_sigma():
    logits, H = _inputs()
    loss = DDCLoss(sigma2=0.9, weights=(1.0, 0.5, 2.0))
    assert torch.autograd.gradcheck(lambda L, H: loss(torch.softmax(L, 1), H), (logits, H))


def test_ddc_gradcheck_median_bandwidth_wrt_assignments():
    # with the median rule sigma2 depends on H (detached by design), so only A is checked here
    logits, H = _inputs(seed=1)
    loss = DDCLoss()
    Hd = H.detach()
    assert torch.autograd.gradcheck(lambda L: loss(torch.softmax(L, 1), Hd), (logits,))
    assert loss.last_sigma2 > 0 and loss.last_terms.shape == (3,)


def test_ddc_matches_pytorch_autograd():
    for dtype, tol in [(torch.float64, 1e-9), (torch.float32, 2e-4)]:
        logits, H = _inputs(n=40, k=5, d=6, dtype=dtype, seed=2)
        A = torch.softmax(logits, 1).detach().requires_grad_(True)
        Hl = H.detach().clone().requires_grad_(True)
        ref = torch_ddc_terms(A, Hl)
        ref.sum().backward()
        gA_ref, gH_ref = A.grad.clone(), Hl.grad.clone()
        A.grad = Hl.grad = None
        m = DDCLoss()
        out = m(A, Hl)
        out.backward()
        assert out.dtype == dtype and out.shape == ()
        np.testing.assert_allclose(m.last_terms, ref.detach().numpy(), rtol=tol)
        torch.testing.assert_close(A.grad, gA_ref, rtol=tol, atol=tol * gA_ref.abs().max().item())
        torch.testing.assert_close(Hl.grad, gH_ref, rtol=tol, atol=tol * gH_ref.abs().max().item())


def test_ddc_only_A_requires_grad_and_grad_scaling():
    logits, H = _inputs(seed=3)
    A = torch.softmax(logits, 1).detach().requires_grad_(True)
    Hd = H.detach()
    out = 3.0 * DDCLoss()(A, Hd)
    out.backward()
    res = ddc_loss(A.detach().numpy(), H=Hd.numpy())
    np.testing.assert_allclose(A.grad.numpy(), 3.0 * res.grad_A, rtol=1e-12)
    with torch.no_grad():
        v = DDCLoss()(A, Hd)
    assert v.item() == pytest.approx(res.loss, rel=1e-14)


def test_zero_copy_and_inputs_untouched():
    logits, H = _inputs(seed=4)
    A = torch.softmax(logits, 1).detach()
    arr = dtorch._as_numpy(A, "A")
    assert arr.ctypes.data == A.data_ptr()  # no copy for contiguous CPU tensors
    A0, H0 = A.clone(), H.detach().clone()
    DDCLoss()(A, H).backward()
    assert torch.equal(A, A0) and torch.equal(H.detach(), H0)
    # non-contiguous input is accepted (copied)
    At = torch.softmax(torch.randn(3, 14, dtype=torch.float64), 0).T
    assert not At.is_contiguous()
    assert torch.isfinite(DDCLoss()(At, H.detach()))


def test_module_errors():
    logits, H = _inputs()
    A = torch.softmax(logits, 1)
    with pytest.raises(TypeError, match="float32 or float64"):
        DDCLoss()(A.to(torch.float16), H)
    with pytest.raises(TypeError, match="torch.Tensor"):
        DDCLoss()(A.detach().numpy(), H)
    with pytest.raises(ValueError, match="sum to 1"):
        DDCLoss()(A * 2, H)
    with pytest.raises(ValueError, match="must exceed"):
        SpectralClusteringLoss()(torch.randn(3, 4, dtype=torch.float64), torch.tensor([0, 1, 0]))


def test_spectral_gradcheck_labels_and_matrix():
    g = torch.Generator().manual_seed(5)
    F = torch.randn(30, 4, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.randint(0, 3, (30,), generator=g)
    loss = SpectralClusteringLoss()
    assert torch.autograd.gradcheck(lambda F: loss(F, y), (F,))
    Y = torch.rand(30, 3, generator=g, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda F: loss(F, Y), (F,))
    out = loss(F, y)
    assert out.item() == pytest.approx(spectral_clustering_loss(F.detach().numpy(), y.numpy()).loss, rel=1e-14)


def test_spectral_matches_pytorch_autograd():
    g = torch.Generator().manual_seed(6)
    F = torch.randn(50, 5, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.randint(0, 4, (50,), generator=g)
    Y = torch.nn.functional.one_hot(y, 4).to(torch.float64)
    ref = Y.shape[1] - torch.trace(torch.linalg.pinv(F) @ (Y @ torch.linalg.solve(Y.T @ Y, Y.T @ F)))
    ref.backward()
    g_ref = F.grad.clone()
    F.grad = None
    out = dtorch.spectral_clustering_loss(F, y)
    out.backward()
    assert out.item() == pytest.approx(ref.item(), rel=1e-10)
    torch.testing.assert_close(F.grad, g_ref, rtol=1e-8, atol=1e-10)


def test_training_step_reduces_ddc_loss():
    torch.manual_seed(0)
    X = torch.cat([torch.randn(30, 2) + 4, torch.randn(30, 2) - 4, torch.randn(30, 2) + torch.tensor([4.0, -4.0])])
    hidden = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU())
    head = torch.nn.Linear(16, 3)
    opt = torch.optim.Adam([*hidden.parameters(), *head.parameters()], lr=1e-2)
    loss_fn = DDCLoss()
    losses = []
    for _ in range(30):
        opt.zero_grad()
        h = hidden(X)
        out = loss_fn(torch.softmax(head(h), 1), h)
        out.backward()
        opt.step()
        losses.append(out.item())
    assert np.isfinite(losses).all()
    assert losses[-1] < losses[0]


def test_ddc_only_H_requires_grad():
    logits, H = _inputs(seed=7)
    A = torch.softmax(logits, 1).detach()
    DDCLoss(sigma2=0.5)(A, H).backward()
    res = ddc_loss(A.numpy(), H=H.detach().numpy(), sigma2=0.5)
    np.testing.assert_allclose(H.grad.numpy(), res.grad_H, rtol=1e-12, atol=1e-15)


def test_clam_recursion_gradcheck_and_matches_twin():
    torch = pytest.importorskip("torch")
    from danneal import reference as ref
    from danneal.torch import ClAMRecursion

    g = torch.Generator().manual_seed(0)
    X = torch.randn(5, 3, dtype=torch.float64, generator=g, requires_grad=True)
    R = torch.randn(4, 3, dtype=torch.float64, generator=g, requires_grad=True)
    eta = (0.1 * torch.randn(4, dtype=torch.float64, generator=g)).requires_grad_(True)
    mask = (torch.rand(5, 3, generator=g) > 0.3).to(torch.float64)
    mod = ClAMRecursion(n_steps=4, step_size=0.3, beta=2.0)
    out = mod(X, R, eta, mask)
    V, _ = ref.clam_forward(
        X.detach().numpy(), mask.numpy(), R.detach().numpy(), eta.detach().numpy(), 1.0, 0.3, 4, False
    )
    np.testing.assert_allclose(out.detach().numpy(), V[-1], rtol=1e-12, atol=1e-12)
    assert torch.autograd.gradcheck(lambda x, r, e: mod(x, r, e, mask), (X, R, eta), eps=1e-6, atol=1e-7)
    assert torch.autograd.gradcheck(lambda x, r: mod(x, r), (X, R), eps=1e-6, atol=1e-7)


def test_clam_recursion_bad_input():
    torch = pytest.importorskip("torch")
    from danneal.torch import ClAMRecursion, clam_recursion

    X = torch.zeros(3, 2)
    with pytest.raises(ValueError, match="prototypes"):
        ClAMRecursion()(X, torch.zeros(2, 5))
    with pytest.raises(ValueError, match="beta"):
        clam_recursion(X, torch.zeros(2, 2), beta=0.0)


def test_sinkhorn_loss_value_and_gradcheck():
    torch = pytest.importorskip("torch")
    from danneal.torch import Sinkhorn

    ot = pytest.importorskip("ot")
    g = torch.Generator().manual_seed(0)
    C = torch.rand(4, 3, dtype=torch.float64, generator=g, requires_grad=True)
    a = np.array([0.1, 0.2, 0.3, 0.4])
    b = np.array([0.5, 0.25, 0.25])
    mod = Sinkhorn(reg=0.5, tol=1e-13)
    W = mod(C, a, b)
    P = ot.sinkhorn(a, b, C.detach().numpy(), 0.5, stopThr=1e-14, numItermax=100000)
    expected = (P * C.detach().numpy()).sum() + 0.5 * (P * (np.log(P) - 1)).sum()
    assert W.item() == pytest.approx(expected, rel=1e-10)
    W.backward()
    np.testing.assert_allclose(C.grad.numpy(), P, rtol=1e-8, atol=1e-12)
    assert torch.autograd.gradcheck(lambda c: mod(c, a, b), (C,), eps=1e-6, atol=1e-7)
