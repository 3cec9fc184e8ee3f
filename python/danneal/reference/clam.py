"""Reference twins (plain numpy, written for clarity) of the ClAM kernels in ``danneal._core``.

Same names and argument order as the compiled kernels; see ``csrc/danneal/clam.hpp`` and docs/guide/clam.md
§2.4 for the formulas.  ``n_threads`` is accepted and ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["clam_forward", "clam_backward", "clam_predict", "clam_train", "TrainParams", "Xoshiro256", "silhouette"]

_M64 = (1 << 64) - 1


def _softmax(S):
    S = S - S.max(axis=-1, keepdims=True)
    E = np.exp(S)
    return E / E.sum(axis=-1, keepdims=True)


def _step(v, mask, R, eta, c, alpha, spherical):
    D = ((v[:, None, :] - R[None, :, :]) ** 2).sum(-1)
    S = -c * D + (0.0 if eta is None else eta[None, :])
    P = _softmax(S.astype(np.float64)).astype(v.dtype)
    PR = P @ R
    m = 1 if mask is None else mask
    u = v + v.dtype.type(alpha) * m * (PR - v)
    if spherical:
        nrm = np.linalg.norm(u, axis=1, keepdims=True)
        u = np.where(nrm > 0, u / np.where(nrm > 0, nrm, 1), u)
    return u.astype(v.dtype), P, PR


def clam_forward(X0, mask, R, eta, c, alpha, n_steps, spherical, n_threads=1):
    """States ``V`` (n_steps + 1, B, d) and softmax weights ``P`` (n_steps, B, k)."""
    V = [np.array(X0)]
    Ps = []
    for _ in range(n_steps):
        v, P, _ = _step(V[-1], mask, R, eta, c, alpha, spherical)
        V.append(v)
        Ps.append(P)
    B, k = X0.shape[0], R.shape[0]
    P = np.stack(Ps) if Ps else np.zeros((0, B, k), X0.dtype)
    return np.stack(V), P


def clam_backward(V, P, mask, R, G, c, alpha, spherical, n_threads=1):
    """BPTT: ``G = dL/dV[-1]`` to ``(dR, deta, dX0)`` (docs/guide/clam.md)."""
    n_steps = V.shape[0] - 1
    m = 1 if mask is None else mask
    G = np.array(G, dtype=np.float64)
    R64 = R.astype(np.float64)
    dR = np.zeros_like(R64)
    deta = np.zeros(R.shape[0])
    for t in range(n_steps - 1, -1, -1):
        v = V[t].astype(np.float64)
        Pt = P[t].astype(np.float64)
        PR = Pt @ R64
        if spherical:
            u = v + alpha * m * (PR - v)
            nrm = np.linalg.norm(u, axis=1, keepdims=True)
            vn = V[t + 1].astype(np.float64)
            G = np.where(nrm > 0, (G - (G * vn).sum(1, keepdims=True) * vn) / np.where(nrm > 0, nrm, 1), G)
        W = alpha * m * G
        E = Pt * (W @ R64.T - (W * PR).sum(1, keepdims=True))
        dR += Pt.T @ W - 2 * c * (E.sum(0)[:, None] * R64 - E.T @ v)
        deta += E.sum(0)
        G = G - W + 2 * c * E @ R64
    dt = V.dtype
    return dR.astype(dt), deta.astype(dt), G.astype(dt)


def clam_predict(X, R, eta, c, alpha, n_steps, spherical, n_threads=1):
    """``n_steps`` unmasked steps, then ``(labels, squared distances, final states)``."""
    v = np.array(X)
    for _ in range(n_steps):
        v, _, _ = _step(v, None, R, eta, c, alpha, spherical)
    D = ((v[:, None, :] - R[None, :, :]) ** 2).sum(-1)
    return np.argmin(D, axis=1).astype(np.int64), D.astype(X.dtype), v


class Xoshiro256:
    """xoshiro256** seeded through splitmix64: the generator of the compiled training loop."""

    def __init__(self, seed):
        x = int(seed) & _M64
        self.s = []
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & _M64
            z = x
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
            self.s.append(z ^ (z >> 31))

    @staticmethod
    def _rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & _M64

    def next(self):
        s = self.s
        r = (self._rotl((s[1] * 5) & _M64, 7) * 9) & _M64
        t = (s[1] << 17) & _M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = self._rotl(s[3], 45)
        return r

    def below(self, n):
        return (self.next() * int(n)) >> 64


@dataclass
class TrainParams:
    """Twin of ``danneal._core.ClamTrainParams`` (csrc/danneal/clam.hpp ``TrainParams``): same
    fields, same defaults.  ``clam_train`` takes either."""

    c: float = 0.5
    alpha: float = 0.1
    n_steps: int = 10
    spherical: bool = False
    weighted: bool = False
    batch_size: int = 8
    n_mask: int = 1
    max_epochs: int = 100
    learning_rate: float = 0.01
    beta1: float = 0.9
    beta2: float = 0.999
    adam_eps: float = 1e-8
    plateau_window: int = 10
    patience: int = 5
    plateau_tol: float = 1e-3
    decay: float = 0.8
    min_lr: float = 1e-6
    c_start: float = 0.0
    anneal_epochs: int = 0
    seed: int = 0
    mask_mode: int = 0
    mask_share_every: int = 0
    n_iter_no_change: int = 0
    tol: float = 0.0
    epoch_rows: int = 0


def clam_train(X, sample_weight, mask_values, R0, eta0, params, n_threads=1, callback=None):
    """Twin of the compiled training loop; returns ``(R_best, eta_best, loss_curve, lr, status)``.

    ``params``: a ``TrainParams`` or ``danneal._core.ClamTrainParams``.  With ``c_start > 0`` and
    ``anneal_epochs > 0`` epoch ``e < anneal_epochs`` runs at ``c_start * (c / c_start) ** (e /
    anneal_epochs)``; only later epochs (at ``c``) count for the best loss, the plateau decay and
    the early stop.  ``callback(epoch, loss, lr, R)`` returning False stops."""
    p = params
    c, alpha, n_steps, spherical, weighted = p.c, p.alpha, p.n_steps, p.spherical, p.weighted
    batch_size, n_mask, max_epochs, learning_rate = p.batch_size, p.n_mask, p.max_epochs, p.learning_rate
    plateau_tol, plateau_window, patience, decay, min_lr = (
        p.plateau_tol,
        p.plateau_window,
        p.patience,
        p.decay,
        p.min_lr,
    )
    c_start, anneal_epochs, seed = p.c_start, p.anneal_epochs, p.seed
    b1, b2, eps = p.beta1, p.beta2, p.adam_eps
    dt = X.dtype
    n, d = X.shape
    k = R0.shape[0]
    B = min(batch_size, n)
    R = R0.astype(dt).copy()
    eta = np.zeros(k, dt) if eta0 is None else eta0.astype(dt).copy()
    use_eta = weighted or eta0 is not None
    sw = None if sample_weight is None else np.asarray(sample_weight, dt)
    mR, vR = np.zeros_like(R), np.zeros_like(R)
    mE, vE = np.zeros_like(eta), np.zeros_like(eta)
    perm = list(range(n))
    idx = list(range(d))
    rng = Xoshiro256(seed)
    lr = learning_rate
    best = np.inf
    R_best, eta_best = R.copy(), eta.copy()
    prev_mean = None
    best_sig = np.inf
    no_change = 0
    stall = 0
    t_adam = 0
    curve = []
    status = {"converged": False, "numerical_error": False, "iterations": 0, "error": 0.0}

    def adam(w, m, v, g):
        mi = b1 * m.astype(np.float64) + (1 - b1) * g
        vi = b2 * v.astype(np.float64) + (1 - b2) * g * g
        m[...] = mi
        v[...] = vi
        w[...] = w.astype(np.float64) - lr * (mi / bc1) / (np.sqrt(vi / bc2) + eps)

    n_anneal = anneal_epochs if (c_start > 0 and anneal_epochs > 0) else 0
    for epoch in range(max_epochs):
        annealing = epoch < n_anneal
        c_ep = c_start * (c / c_start) ** (epoch / n_anneal) if annealing else c
        for i in range(n - 1, 0, -1):
            j = rng.below(i + 1)
            perm[i], perm[j] = perm[j], perm[i]
        share = p.mask_share_every > 0 and (epoch + 1) % p.mask_share_every == 0
        losses = []
        n_epoch = min(n, p.epoch_rows) if p.epoch_rows > 0 else n  # a prefix of the shuffle
        for start in range(0, n_epoch, B):
            rows = perm[start : min(start + B, n_epoch)]
            Bb = len(rows)
            x = X[rows]
            x0 = x.copy()
            m = np.zeros_like(x)
            for b in range(Bb):
                if p.mask_mode == 2:  # no mask: every coordinate evolves from the data point
                    m[b] = 1
                    continue
                if share and b > 0:  # the batch's first row drew the shared mask
                    m[b] = m[0]
                    x0[b] = np.where(m[0] != 0, mask_values, x[b])
                    continue
                for i in range(n_mask):
                    if p.mask_mode == 1:  # with replacement
                        j = rng.below(d)
                        m[b, j] = 1
                        x0[b, j] = mask_values[j]
                    else:
                        j = i + rng.below(d - i)
                        idx[i], idx[j] = idx[j], idx[i]
                        m[b, idx[i]] = 1
                        x0[b, idx[i]] = mask_values[idx[i]]
            if spherical:
                rn = np.linalg.norm(R.astype(np.float64), axis=1, keepdims=True)
                rn = np.where(rn > 0, rn, 1.0)
                rho = (R / rn).astype(dt)
            else:
                rho = R
            V, P = clam_forward(x0, m, rho, eta if use_eta else None, c_ep, alpha, n_steps, spherical)
            r = m * (x - V[-1])
            wb = np.ones(Bb, dt) if sw is None else sw[rows]
            rl = (r * (x - V[-1])).sum(1)  # per row, in the working precision like the kernel
            losses.append(float((wb.astype(np.float64) * rl.astype(np.float64)).sum()) / (Bb * d))
            G = (dt.type(-2.0 / (Bb * d)) * wb)[:, None] * r
            dR, deta, _ = clam_backward(V, P, m, rho, G.astype(dt), c_ep, alpha, spherical)
            g = dR.astype(np.float64)
            if spherical:
                rh = rho.astype(np.float64)
                g = (g - (g * rh).sum(1, keepdims=True) * rh) / rn
            t_adam += 1
            bc1 = 1 - b1**t_adam
            bc2 = 1 - b2**t_adam
            adam(R, mR, vR, g)
            if weighted:
                adam(eta, mE, vE, deta.astype(np.float64))
        loss = float(np.mean(losses))
        curve.append(loss)
        status["iterations"] = epoch + 1
        if not np.isfinite(loss):
            status["numerical_error"] = True
            break
        if annealing:  # the latest prototypes stand until an epoch at the final c
            R_best, eta_best = R.copy(), eta.copy()
            status["error"] = loss
            if callback is not None and callback(epoch, loss, lr, R.copy()) is False:
                break
            continue
        if loss < best:
            best = loss
            R_best, eta_best = R.copy(), eta.copy()
        if not np.isfinite(best_sig) or best_sig - loss > p.tol * abs(best_sig):
            best_sig = loss
            no_change = 0
        else:
            no_change += 1
        if epoch + 1 - n_anneal >= plateau_window:
            mean = float(np.mean(curve[-plateau_window:]))
            if prev_mean is not None:
                if prev_mean - mean < plateau_tol * abs(prev_mean):
                    stall += 1
                    if stall >= patience:
                        lr *= decay
                        stall = 0
                else:
                    stall = 0
            prev_mean = mean
        go_on = True if callback is None else callback(epoch, loss, lr, R.copy()) is not False
        if lr < min_lr or (p.n_iter_no_change > 0 and no_change >= p.n_iter_no_change):
            status["converged"] = True
            break
        if not go_on:
            break
    if np.isfinite(best) or n_anneal == 0:
        status["error"] = best
    if not weighted:
        eta_best = np.zeros(k, dt) if eta0 is None else eta0.astype(dt).copy()
    return R_best, eta_best, np.array(curve), lr, status


def silhouette(X, labels, n_clusters, sample_weight=None, n_threads=1):
    """Silhouettes of ``L`` labellings (rows of ``labels``, values in ``[0, n_clusters)``) of the
    points ``X`` (csrc/danneal/silhouette.hpp): ``(s (L, n), mean (L,))``, float64.  With weights
    w: a = sum_{j in own cluster} w_j d_ij / (W_own - w_i), b = the smallest sum_{j in c} w_j d_ij / W_c
    over the other clusters of positive weight, s = (b - a) / max(a, b) (0 for a point alone in its
    cluster, with no other cluster, or a = b = 0); mean = sum w_i s_i / sum w_i."""
    X = np.asarray(X, dtype=np.float64)
    labels = np.atleast_2d(np.asarray(labels, dtype=np.int64))
    n, k = X.shape[0], int(n_clusters)
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    D = np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(-1))
    s = np.zeros(labels.shape)
    for row, lab in enumerate(labels):
        M = np.zeros((n, k))
        M[np.arange(n), lab] = w
        Wc = M.sum(axis=0)
        S = D @ M
        for i in range(n):
            c = lab[i]
            own = Wc[c] - w[i]
            if not own > 1e-12 * Wc[c]:
                continue
            a = S[i, c] / own
            others = [S[i, j] / Wc[j] for j in range(k) if j != c and Wc[j] > 0]
            if not others:
                continue
            b = min(others)
            if max(a, b) > 0:
                s[row, i] = (b - a) / max(a, b)
    mean = s @ w / w.sum() if w.sum() > 0 else np.zeros(len(labels))
    return s, mean
