"""PyTorch modules backed by the danneal kernels (optional extra ``danneal[torch]``).

:class:`DDCLoss` and :class:`SpectralClusteringLoss` are ``torch.nn.Module`` s whose forward pass
calls :func:`danneal.losses.ddc_loss` / :func:`danneal.losses.spectral_clustering_loss` on the
tensors' memory (zero-copy for contiguous float32/float64 CPU tensors) and whose backward pass
returns the closed-form gradients computed alongside the value, through a
``torch.autograd.Function``; no autograd graph is built through the n x n matrices.

:class:`Sinkhorn` gives the entropic optimal-transport value of a cost matrix with its exact gradient
(the optimal plan, by the envelope theorem), computed by the log-stable compiled Sinkhorn.
:class:`ClAMRecursion` wraps the compiled ClAM recursion (forward and backpropagation through all
steps) the same way, so the associative-memory update can sit inside a larger network.

Only CPU tensors are supported (tensors on another device raise ``ValueError``).

This module imports torch; ``import danneal`` does not.
"""

from __future__ import annotations

import numpy as np
import torch

from . import _core
from . import losses as _losses
from ._threads import resolve_n_threads
from ._validation import as_float_array, check_float, check_int

__all__ = [
    "DDCLoss",
    "SpectralClusteringLoss",
    "ClAMRecursion",
    "Sinkhorn",
    "ddc_loss",
    "spectral_clustering_loss",
    "clam_recursion",
    "sinkhorn_loss",
]


def _as_numpy(t: torch.Tensor, name: str) -> np.ndarray:
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(t).__name__}")
    if t.device.type != "cpu":
        raise ValueError(f"{name}: only CPU tensors are supported, got device={t.device}")
    if t.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"{name}: expected dtype float32 or float64, got {t.dtype}")
    t = t.detach()
    if t.is_conj() or t.is_neg():
        t = t.resolve_conj().resolve_neg()
    return t.contiguous().numpy()  # shares memory when already contiguous; never written to


def _as_tensor(a, like: torch.Tensor) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a)).to(dtype=like.dtype)


class _DDCFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, A, H, sigma2, weights, rel_sigma, simplex_tol, n_threads, info):
        need_A, need_H = bool(ctx.needs_input_grad[0]), bool(ctx.needs_input_grad[1])
        res = _losses._ddc_loss(
            _as_numpy(A, "A"),
            _as_numpy(H, "H"),
            None,
            sigma2,
            weights,
            grad_A=need_A,
            grad_H=need_H,
            rel_sigma=rel_sigma,
            simplex_tol=simplex_tol,
            n_threads=n_threads,
        )
        if info is not None:
            info["terms"] = res.terms
            info["sigma2"] = res.sigma2
        empty = torch.empty(0, dtype=A.dtype)
        ctx.save_for_backward(
            _as_tensor(res.grad_A, A) if need_A else empty, _as_tensor(res.grad_H, H) if need_H else empty
        )
        return torch.tensor(res.loss, dtype=A.dtype)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g):
        gA, gH = ctx.saved_tensors
        return (
            g * gA if ctx.needs_input_grad[0] else None,
            g * gH if ctx.needs_input_grad[1] else None,
            None,
            None,
            None,
            None,
            None,
            None,
        )


class _SpectralFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, F, Y, cutoff):
        need_grad = bool(ctx.needs_input_grad[0])
        res = _losses.spectral_clustering_loss(_as_numpy(F, "F"), Y, cutoff=cutoff, return_grad=need_grad)
        if need_grad:
            ctx.save_for_backward(_as_tensor(res.grad_F, F))
        return torch.tensor(res.loss, dtype=F.dtype)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g):
        (gF,) = ctx.saved_tensors
        return g * gF, None, None


def _targets_numpy(Y):
    if isinstance(Y, torch.Tensor):
        if Y.device.type != "cpu":
            raise ValueError(f"Y: only CPU tensors are supported, got device={Y.device}")
        return Y.detach().contiguous().numpy()
    return Y


def ddc_loss(A, H, sigma2=None, weights=(1, 1, 1), *, rel_sigma=0.15, simplex_tol=1e-3, n_threads=None):
    """Functional form of :class:`DDCLoss`: the DDC loss [1]_ of ``(A, H)`` as a differentiable scalar.

    The value is that of :func:`danneal.losses.ddc_loss`; the backward pass returns its
    closed-form gradients with respect to ``A`` and ``H`` (no autograd graph through the n x n
    kernel).  The bandwidth is treated as a constant.

    Parameters
    ----------
    A : torch.Tensor (n, k), float32 or float64, CPU
        Soft cluster assignments (softmax output), rows summing to 1.
    H : torch.Tensor (n, d), same dtype, CPU
        Hidden layer the Gaussian kernel is built from.
    sigma2 : float, optional
        Fixed kernel bandwidth (default: 0.15 times the median squared distance of the batch).
    weights : 3 floats, default=(1, 1, 1)
        Weights of the three terms.
    rel_sigma : float, default=0.15
        Factor of the median rule.
    simplex_tol : float or None, default=1e-3
        Tolerance of the row-sum check on ``A`` (None: no check).
    n_threads : int, optional
        Threads of the C++ passes (``None``: all cores); the result does not depend on it.

    Returns
    -------
    torch.Tensor
        The loss, a 0-d tensor of the dtype of ``A``.

    References
    ----------
    .. [1] M. Kampffmeyer, S. Løkse, F. M. Bianchi, L. Livi, A.-B. Salberg and R. Jenssen,
           "Deep divergence-based approach to clustering", Neural Networks 113:91-101, 2019.

    Examples
    --------
    >>> import torch
    >>> from danneal.torch import ddc_loss
    >>> A = torch.full((6, 4), 0.25, dtype=torch.float64, requires_grad=True)
    >>> H = torch.arange(12.0, dtype=torch.float64).reshape(6, 2)
    >>> loss = ddc_loss(A, H)
    >>> round(loss.item(), 6)
    2.25
    >>> loss.backward()
    >>> A.grad.shape
    torch.Size([6, 4])
    """
    return _DDCFunction.apply(A, H, sigma2, tuple(weights), rel_sigma, simplex_tol, n_threads, None)


def spectral_clustering_loss(F, Y, cutoff=None):
    """Functional form of :class:`SpectralClusteringLoss`: ``c - tr(F F^+ C)`` [1]_ as a
    differentiable scalar.

    The value and the closed-form gradient are those of
    :func:`danneal.losses.spectral_clustering_loss` (no n x n matrix is formed).

    Parameters
    ----------
    F : torch.Tensor (n, d), float32 or float64, CPU
        Embeddings of a batch, ``n > d``.
    Y : array or torch.Tensor, (n,) labels or (n, c) target matrix
        Class labels or an indicator / soft target matrix (no gradient flows into it).
    cutoff : float, optional
        Relative cutoff on the singular values of ``F`` for the pseudo-inverse (default:
        ``max(n, d) * eps``, as ``numpy.linalg.pinv``).

    Returns
    -------
    torch.Tensor
        The loss, a 0-d tensor of the dtype of ``F``.

    References
    ----------
    .. [1] M. T. Law, R. Urtasun and R. S. Zemel, "Deep spectral clustering learning", ICML 2017,
           PMLR 70:1985-1994.

    Examples
    --------
    >>> import torch
    >>> from danneal.torch import spectral_clustering_loss
    >>> y = torch.tensor([0, 0, 0, 1, 1, 1])
    >>> F = torch.tensor([[1., 0.], [1., .1], [1., -.1], [0., 1.], [.1, 1.], [.2, 1.]],
    ...                  dtype=torch.float64, requires_grad=True)
    >>> loss = spectral_clustering_loss(F, y)
    >>> round(loss.item(), 4)  # nearly clustered embeddings: a small loss
    0.0133
    >>> loss.backward()
    >>> F.grad.shape
    torch.Size([6, 2])
    """
    return _SpectralFunction.apply(F, _targets_numpy(Y), cutoff)


class DDCLoss(torch.nn.Module):
    """DDC loss (Kampffmeyer et al. 2019) of soft assignments ``A`` and hidden layer ``H``.

    ``loss = DDCLoss()(A, H)``, ``A`` (n x k) the softmax output of the clustering head and ``H``
    (n x d) the hidden layer the Gaussian kernel is built from; see
    :func:`danneal.losses.ddc_loss` for the formula and conventions (0.15-median bandwidth,
    detached; clamps of the reference code).  The gradients with respect to ``A`` and ``H`` are
    the closed-form ones.  After each call, ``last_terms`` holds the three unweighted terms and
    ``last_sigma2`` the bandwidth used.

    Parameters
    ----------
    sigma2 : float, optional
        Fixed kernel bandwidth (default: the median rule per batch).
    weights : 3 floats
        Weights of the three terms.
    rel_sigma : float
        Factor of the median rule.
    simplex_tol : float or None
        Tolerance of the row-sum check on ``A`` (None: no check).
    n_threads : int, optional
        Threads of the C++ passes.

    Attributes
    ----------
    last_terms : ndarray of shape (3,) or None
        The unweighted terms ``(d_cs(A), orthogonality, d_cs(M))`` of the last call.
    last_sigma2 : float or None
        The kernel bandwidth used in the last call.

    References
    ----------
    .. [1] M. Kampffmeyer, S. Løkse, F. M. Bianchi, L. Livi, A.-B. Salberg and R. Jenssen,
           "Deep divergence-based approach to clustering", Neural Networks 113:91-101, 2019.

    Examples
    --------
    >>> import torch
    >>> from danneal.torch import DDCLoss
    >>> logits = torch.tensor([[4., 0.], [3., 0.], [0., 4.], [0., 3.]], dtype=torch.float64,
    ...                       requires_grad=True)
    >>> H = torch.tensor([[0., 0.], [.1, 0.], [3., 3.], [3., 3.1]], dtype=torch.float64,
    ...                  requires_grad=True)
    >>> criterion = DDCLoss()
    >>> loss = criterion(torch.softmax(logits, dim=1), H)
    >>> loss.backward()
    >>> logits.grad.shape, H.grad.shape
    (torch.Size([4, 2]), torch.Size([4, 2]))
    >>> criterion.last_terms.round(4)
    array([0.0671, 0.3543, 0.3017])
    """

    def __init__(self, sigma2=None, weights=(1, 1, 1), rel_sigma=0.15, simplex_tol=1e-3, n_threads=None):
        super().__init__()
        self.sigma2 = sigma2
        self.weights = tuple(weights)
        self.rel_sigma = rel_sigma
        self.simplex_tol = simplex_tol
        self.n_threads = n_threads
        self.last_terms = None
        self.last_sigma2 = None

    def forward(self, A: torch.Tensor, H: torch.Tensor) -> torch.Tensor:
        info: dict = {}
        out = _DDCFunction.apply(
            A, H, self.sigma2, self.weights, self.rel_sigma, self.simplex_tol, self.n_threads, info
        )
        self.last_terms = info.get("terms")
        self.last_sigma2 = info.get("sigma2")
        return out

    def extra_repr(self) -> str:
        return f"sigma2={self.sigma2}, weights={self.weights}, rel_sigma={self.rel_sigma}"


class SpectralClusteringLoss(torch.nn.Module):
    """Supervised deep spectral clustering loss (Law, Urtasun & Zemel 2017).

    ``loss = SpectralClusteringLoss()(F, Y)`` with ``F`` (n x d, n > d) the embeddings of a batch
    and ``Y`` its labels (n,) or an (n x c) target matrix; the value is ``c - tr(F F^+ C)`` (floor 0
    on perfectly clustered embeddings with d >= c) and the gradient the closed form of
    :func:`danneal.losses.spectral_clustering_loss` (no n x n matrix is formed).

    Parameters
    ----------
    cutoff : float, optional
        Relative cutoff on the singular values of ``F`` for the pseudo-inverse (default:
        ``max(n, d) * eps``, as ``numpy.linalg.pinv``).

    References
    ----------
    .. [1] M. T. Law, R. Urtasun and R. S. Zemel, "Deep spectral clustering learning", ICML 2017,
           PMLR 70:1985-1994.

    Examples
    --------
    Embeddings that do not yet separate the two classes have a positive loss; its gradient
    flows back into the embeddings.

    >>> import torch
    >>> from danneal.torch import SpectralClusteringLoss
    >>> y = torch.tensor([0, 0, 0, 1, 1, 1])
    >>> F = torch.tensor([[1., 0.], [0., 1.], [1., 1.], [1., 0.], [0., 1.], [1., 2.]],
    ...                  dtype=torch.float64, requires_grad=True)
    >>> loss = SpectralClusteringLoss()(F, y)
    >>> round(loss.item(), 4)
    1.1579
    >>> loss.backward()
    >>> F.grad.shape
    torch.Size([6, 2])
    """

    def __init__(self, cutoff=None):
        super().__init__()
        self.cutoff = cutoff

    def forward(self, F: torch.Tensor, Y) -> torch.Tensor:
        return _SpectralFunction.apply(F, _targets_numpy(Y), self.cutoff)

    def extra_repr(self) -> str:
        return f"cutoff={self.cutoff}"


class _ClAMFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, X0, R, eta, mask, c, alpha, n_steps, spherical, n_threads):
        x = as_float_array(_as_numpy(X0, "X"), "X", ndim=2)
        dt = x.dtype
        r = as_float_array(_as_numpy(R, "prototypes"), "prototypes", ndim=2, dtype=dt)
        if r.shape[1] != x.shape[1]:
            raise ValueError(
                f"prototypes: expected shape (k, {x.shape[1]}) (as many columns as X, shape {x.shape}), got {r.shape}"
            )
        e = None if eta is None else as_float_array(_as_numpy(eta, "log_weights"), "log_weights", ndim=1, dtype=dt)
        if e is not None and e.shape != (r.shape[0],):
            raise ValueError(f"log_weights: expected shape ({r.shape[0]},) (one per prototype), got {e.shape}")
        m = None if mask is None else as_float_array(_as_numpy(mask, "mask"), "mask", ndim=2, dtype=dt)
        if m is not None and m.shape != x.shape:
            raise ValueError(f"mask: expected shape {x.shape} (as X), got {m.shape}")
        if m is not None and not ((m >= 0) & (m <= 1)).all():
            i, j = np.argwhere(~((m >= 0) & (m <= 1)))[0]
            raise ValueError(f"mask: entries must be in [0, 1], got mask[{i}, {j}]={float(m[i, j])!r}")
        for name, arr in (("X", x), ("prototypes", r), ("log_weights", e), ("mask", m)):
            if arr is not None and not np.isfinite(arr).all():
                bad = np.unravel_index(int(np.flatnonzero(~np.isfinite(arr))[0]), arr.shape)
                raise ValueError(
                    f"{name}: contains NaN or inf (first at index {tuple(int(i) for i in bad)}); "
                    "the recursion needs finite inputs"
                )
        nt = resolve_n_threads(n_threads)
        V, P = _core.clam_forward(x, m, r, e, float(c), float(alpha), int(n_steps), bool(spherical), nt)
        ctx.state = (V, P, m, r, float(c), float(alpha), bool(spherical), nt, eta is not None)
        return torch.from_numpy(np.ascontiguousarray(V[-1]))

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, G):
        V, P, m, r, c, alpha, spherical, nt, has_eta = ctx.state
        g = np.ascontiguousarray(G.detach().numpy(), dtype=V.dtype)
        dR, deta, dX0 = _core.clam_backward(V, P, m, r, g, c, alpha, spherical, nt)
        return (
            torch.from_numpy(dX0) if ctx.needs_input_grad[0] else None,
            torch.from_numpy(dR) if ctx.needs_input_grad[1] else None,
            torch.from_numpy(deta) if has_eta and ctx.needs_input_grad[2] else None,
            None,
            None,
            None,
            None,
            None,
            None,
        )


def clam_recursion(
    X,
    prototypes,
    log_weights=None,
    mask=None,
    *,
    beta=1.0,
    exponent="beta/2",
    n_steps=10,
    step_size=0.1,
    spherical=False,
    n_threads=None,
):
    """Functional form of :class:`ClAMRecursion`: the states after ``n_steps`` steps of the ClAM
    recursion [1]_, differentiable in ``X``, ``prototypes`` and ``log_weights``.

    Parameters
    ----------
    X : torch.Tensor (B, d), float32 or float64, CPU
        Initial states.
    prototypes : torch.Tensor (k, d)
        The memories (cluster prototypes).
    log_weights : torch.Tensor (k,), optional
        Log prior weights added inside the softmax (default: none).
    mask : torch.Tensor (B, d) with entries in [0, 1], optional
        Multiplies the update (1: the coordinate moves; 0: it is held fixed); no gradient.
    beta : float, default=1.0
        Inverse temperature, ``> 0``.
    exponent : {"beta/2", "beta"}, default="beta/2"
        The softmax scale ``c``: ``beta / 2`` or ``beta``.
    n_steps : int, default=10
        Steps of the recursion, ``>= 1``.
    step_size : float, default=0.1
        Step size of each update, ``> 0``.
    spherical : bool, default=False
        Project the states onto the unit sphere after each step.
    n_threads : int, optional
        Threads of the compiled kernel (``None``: all cores).

    Returns
    -------
    torch.Tensor (B, d)
        The states after ``n_steps`` steps.

    References
    ----------
    .. [1] B. Saha, D. Krotov, M. J. Zaki and P. Ram, "End-to-end differentiable clustering with
           associative memories", ICML 2023, PMLR 202.

    Examples
    --------
    A state between two prototypes moves to the nearer one:

    >>> import torch
    >>> from danneal.torch import clam_recursion
    >>> R = torch.tensor([[0., 0.], [4., 0.]], dtype=torch.float64, requires_grad=True)
    >>> X = torch.tensor([[1., 0.]], dtype=torch.float64, requires_grad=True)
    >>> V = clam_recursion(X, R, beta=2.0, n_steps=20, step_size=0.5)
    >>> V.detach().round(decimals=3)
    tensor([[0., 0.]], dtype=torch.float64)
    >>> V.sum().backward()
    >>> X.grad.shape, R.grad.shape
    (torch.Size([1, 2]), torch.Size([2, 2]))
    """
    if exponent not in ("beta", "beta/2"):
        raise ValueError(f"exponent={exponent!r} must be 'beta' or 'beta/2'")
    beta = check_float(beta, "beta", low=0, low_inclusive=False)
    n_steps = check_int(n_steps, "n_steps", low=1)
    step_size = check_float(step_size, "step_size", low=0, low_inclusive=False)
    c = beta if exponent == "beta" else 0.5 * beta
    return _ClAMFunction.apply(X, prototypes, log_weights, mask, c, step_size, n_steps, bool(spherical), n_threads)


class ClAMRecursion(torch.nn.Module):
    """The ClAM associative-memory recursion (Saha et al. 2023) as a differentiable module.

    ``forward(X, prototypes, log_weights=None, mask=None)`` runs ``n_steps`` steps of
    ``v <- v + step_size * m * (softmax(-c |prototypes - v|^2 + log_weights) @ prototypes - v)``
    (``c = beta`` or ``beta/2``, log-domain softmax) on the compiled kernel and returns the final
    states; the backward pass is the compiled backpropagation through all steps, giving gradients
    for ``X``, ``prototypes`` and ``log_weights``.  See :func:`clam_recursion` for the
    arguments of ``forward``.

    Parameters
    ----------
    n_steps : int, default=10
        Steps of the recursion.
    step_size : float, default=0.1
        Step size of each update.
    beta : float, default=1.0
        Inverse temperature.
    exponent : {"beta/2", "beta"}, default="beta/2"
        The softmax scale ``c``: ``beta / 2`` or ``beta``.
    spherical : bool, default=False
        Project the states onto the unit sphere after each step.
    n_threads : int, optional
        Threads of the compiled kernel (``None``: all cores).

    References
    ----------
    .. [1] B. Saha, D. Krotov, M. J. Zaki and P. Ram, "End-to-end differentiable clustering with
           associative memories", ICML 2023, PMLR 202.

    Examples
    --------
    >>> import torch
    >>> from danneal.torch import ClAMRecursion
    >>> R = torch.tensor([[0., 0.], [4., 0.]], dtype=torch.float64, requires_grad=True)
    >>> X = torch.tensor([[1., 0.], [3.5, 0.5]], dtype=torch.float64)
    >>> layer = ClAMRecursion(n_steps=20, step_size=0.5, beta=2.0)
    >>> V = layer(X, R)
    >>> V.detach().round(decimals=3)
    tensor([[0., 0.],
            [4., 0.]], dtype=torch.float64)
    >>> ((V - X) ** 2).sum().backward()
    >>> R.grad.shape
    torch.Size([2, 2])
    """

    def __init__(self, n_steps=10, step_size=0.1, beta=1.0, exponent="beta/2", spherical=False, n_threads=None):
        super().__init__()
        self.n_steps = n_steps
        self.step_size = step_size
        self.beta = beta
        self.exponent = exponent
        self.spherical = spherical
        self.n_threads = n_threads

    def forward(self, X, prototypes, log_weights=None, mask=None):
        return clam_recursion(
            X,
            prototypes,
            log_weights,
            mask,
            beta=self.beta,
            exponent=self.exponent,
            n_steps=self.n_steps,
            step_size=self.step_size,
            spherical=self.spherical,
            n_threads=self.n_threads,
        )


class _SinkhornFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, C, a, b, reg, tol, max_iter, n_threads):
        from ._sinkhorn import sinkhorn as _sinkhorn

        c = _as_numpy(C, "cost")
        logP = _sinkhorn(c, a, b, reg=reg, tol=tol, max_iter=max_iter, log_plan=True, n_threads=n_threads)
        logP = np.asarray(logP, dtype=np.float64)
        P = np.exp(logP)
        with np.errstate(invalid="ignore"):
            ent = np.where(P > 0, P * (logP - 1.0), 0.0)
        value = float((P * c.astype(np.float64)).sum() + reg * ent.sum())
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(torch.from_numpy(P.astype(c.dtype)))
        return torch.tensor(value, dtype=C.dtype)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g):
        (P,) = ctx.saved_tensors
        return g * P, None, None, None, None, None, None


def sinkhorn_loss(cost, a=None, b=None, *, reg=0.1, tol=1e-9, max_iter=10000, n_threads=None):
    """Functional form of :class:`Sinkhorn`: ``min_P <P, C> + reg sum P (log P - 1)`` over plans
    with marginals ``a``, ``b`` (uniform by default), differentiable in ``cost``.

    The value is that of the entropic optimal-transport problem [1]_ solved by the log-stable
    compiled Sinkhorn [2]_ (:func:`danneal.sinkhorn`); its gradient with respect to ``cost`` is
    the optimal plan (exact at convergence).

    Parameters
    ----------
    cost : torch.Tensor (n, m), float32 or float64, CPU
        Cost matrix.
    a : array or torch.Tensor (n,), optional
        Source marginal (default: uniform); treated as a constant.
    b : array or torch.Tensor (m,), optional
        Target marginal (default: uniform); treated as a constant.
    reg : float, default=0.1
        Entropic regularisation, ``> 0``.
    tol : float, default=1e-9
        Stopping tolerance on the marginals (keep it small: the gradient is exact at
        convergence).
    max_iter : int, default=10000
        Maximum number of Sinkhorn iterations.
    n_threads : int, optional
        Threads of the compiled kernel (``None``: all cores).

    Returns
    -------
    torch.Tensor
        The entropic transport value, a 0-d tensor of the dtype of ``cost``.

    References
    ----------
    .. [1] M. Cuturi, "Sinkhorn distances: lightspeed computation of optimal transport", NeurIPS
           2013.
    .. [2] B. Schmitzer, "Stabilized sparse scaling algorithms for entropy regularized transport
           problems", SIAM J. Sci. Comput. 41(3), 2019 (the log-domain iteration).

    Examples
    --------
    >>> import torch
    >>> from danneal.torch import sinkhorn_loss
    >>> C = torch.tensor([[0., 1.], [1., 0.]], dtype=torch.float64, requires_grad=True)
    >>> W = sinkhorn_loss(C, reg=0.1)
    >>> round(W.item(), 4)
    -0.1693
    >>> W.backward()
    >>> C.grad.round(decimals=4)  # the optimal plan
    tensor([[0.5000, 0.0000],
            [0.0000, 0.5000]], dtype=torch.float64)
    """
    if isinstance(a, torch.Tensor):
        a = _as_numpy(a, "a")
    if isinstance(b, torch.Tensor):
        b = _as_numpy(b, "b")
    reg = check_float(reg, "reg", low=0, low_inclusive=False)
    tol = check_float(tol, "tol", low=0)
    max_iter = check_int(max_iter, "max_iter", low=0)
    return _SinkhornFunction.apply(cost, a, b, reg, tol, max_iter, n_threads)


class Sinkhorn(torch.nn.Module):
    """Entropic optimal transport value as a differentiable loss of the cost matrix.

    ``forward(cost, a=None, b=None)`` returns ``W = <P*, C> + reg sum P* (log P* - 1)`` for the
    optimal plan ``P*`` of :func:`danneal.sinkhorn` (same problem as POT's ``ot.sinkhorn``), and
    its gradient with respect to ``cost`` is ``P*`` (envelope theorem: exact at convergence, so
    keep ``tol`` small).  The marginals are treated as constants.  See :func:`sinkhorn_loss`.

    Parameters
    ----------
    reg : float, default=0.1
        Entropic regularisation, ``> 0``.
    tol : float, default=1e-9
        Stopping tolerance on the marginals.
    max_iter : int, default=10000
        Maximum number of Sinkhorn iterations.
    n_threads : int, optional
        Threads of the compiled kernel (``None``: all cores).

    References
    ----------
    .. [1] M. Cuturi, "Sinkhorn distances: lightspeed computation of optimal transport", NeurIPS
           2013.
    .. [2] B. Schmitzer, "Stabilized sparse scaling algorithms for entropy regularized transport
           problems", SIAM J. Sci. Comput. 41(3), 2019 (the log-domain iteration).

    Examples
    --------
    Transporting uniform mass between two pairs of points on a line, with the squared distance
    as cost: the gradient with respect to the cost is the (nearly diagonal) optimal plan, so each
    target point is pulled towards the source point it is matched with (the gradient of the
    unregularised transport cost would be ``(0.1, 0.2)``).

    >>> import torch
    >>> from danneal.torch import Sinkhorn
    >>> x = torch.tensor([[0.], [1.]], dtype=torch.float64)
    >>> y = torch.tensor([[0.1], [1.2]], dtype=torch.float64, requires_grad=True)
    >>> W = Sinkhorn(reg=0.2)(torch.cdist(x, y) ** 2)
    >>> round(W.item(), 4)
    -0.3144
    >>> W.backward()
    >>> y.grad.round(decimals=3)
    tensor([[0.0960],
            [0.2040]], dtype=torch.float64)
    """

    def __init__(self, reg=0.1, tol=1e-9, max_iter=10000, n_threads=None):
        super().__init__()
        self.reg = reg
        self.tol = tol
        self.max_iter = max_iter
        self.n_threads = n_threads

    def forward(self, cost, a=None, b=None):
        return sinkhorn_loss(cost, a, b, reg=self.reg, tol=self.tol, max_iter=self.max_iter, n_threads=self.n_threads)
