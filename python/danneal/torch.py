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
    """Functional form of :class:`DDCLoss`: the DDC loss of ``(A, H)`` as a differentiable scalar."""
    return _DDCFunction.apply(A, H, sigma2, tuple(weights), rel_sigma, simplex_tol, n_threads, None)


def spectral_clustering_loss(F, Y, cutoff=None):
    """Functional form of :class:`SpectralClusteringLoss`."""
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
    """Functional form of :class:`ClAMRecursion`: the states after ``n_steps`` steps (B, d)."""
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
    for ``X``, ``prototypes`` and ``log_weights``.
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
    with marginals ``a``, ``b`` (uniform by default), differentiable in ``cost``."""
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
    keep ``tol`` small).  The marginals are treated as constants.
    """

    def __init__(self, reg=0.1, tol=1e-9, max_iter=10000, n_threads=None):
        super().__init__()
        self.reg = reg
        self.tol = tol
        self.max_iter = max_iter
        self.n_threads = n_threads

    def forward(self, cost, a=None, b=None):
        return sinkhorn_loss(cost, a, b, reg=self.reg, tol=self.tol, max_iter=self.max_iter, n_threads=self.n_threads)
