"""Reference twins (plain numpy, written for clarity) of the ClAM kernels in ``danneal._core``.

Same names and argument order as the compiled kernels; see ``csrc/danneal/clam.hpp`` for the
formulas.  ``n_threads`` is accepted and ignored.
"""

from __future__ import annotations

import numpy as np

__all__ = ["clam_forward", "clam_backward", "clam_predict", "clam_train", "Xoshiro256"]

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
    """BPTT: ``G = dL/dV[-1]`` to ``(dR, deta, dX0)`` (csrc/danneal/clam.hpp)."""
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


def clam_train(X, mask_values, R0, eta0, c, alpha, n_steps, spherical, weighted, batch_size, n_mask, max_epochs,
               learning_rate, seed, n_threads=1, callback=None, plateau_tol=1e-3, plateau_window=10, patience=5,
               decay=0.8, min_lr=1e-6, c_start=0.0, anneal_epochs=0):
    """Twin of the compiled training loop; returns ``(R_best, eta_best, loss_curve, lr, status)``.

    With ``c_start > 0`` and ``anneal_epochs > 0`` epoch ``e < anneal_epochs`` runs at
    ``c_start * (c / c_start) ** (e / anneal_epochs)``; only later epochs (at ``c``) count for the
    best loss and the plateau decay."""
    dt = X.dtype
    n, d = X.shape
    k = R0.shape[0]
    B = min(batch_size, n)
    R = R0.astype(dt).copy()
    eta = np.zeros(k, dt) if eta0 is None else eta0.astype(dt).copy()
    mR, vR = np.zeros_like(R), np.zeros_like(R)
    mE, vE = np.zeros_like(eta), np.zeros_like(eta)
    b1, b2, eps = 0.9, 0.999, 1e-8
    perm = list(range(n))
    idx = list(range(d))
    rng = Xoshiro256(seed)
    lr = learning_rate
    best = np.inf
    R_best, eta_best = R.copy(), eta.copy()
    prev_mean = None
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
        losses = []
        for start in range(0, n, B):
            rows = perm[start:start + B]
            Bb = len(rows)
            x = X[rows]
            x0 = x.copy()
            m = np.zeros_like(x)
            for b in range(Bb):
                for i in range(n_mask):
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
            V, P = clam_forward(x0, m, rho, eta if weighted else None, c_ep, alpha, n_steps, spherical)
            r = m * (x - V[-1])
            losses.append(float((r.astype(np.float64) * (x - V[-1])).sum()) / (Bb * d))
            G = (-2.0 / (Bb * d)) * r
            dR, deta, _ = clam_backward(V, P, m, rho, G.astype(dt), c_ep, alpha, spherical)
            g = dR.astype(np.float64)
            if spherical:
                rh = rho.astype(np.float64)
                g = (g - (g * rh).sum(1, keepdims=True) * rh) / rn
            t_adam += 1
            bc1 = 1 - b1 ** t_adam
            bc2 = 1 - b2 ** t_adam
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
            if callback is not None and callback(epoch, loss, lr) is False:
                break
            continue
        if loss < best:
            best = loss
            R_best, eta_best = R.copy(), eta.copy()
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
        go_on = True if callback is None else callback(epoch, loss, lr) is not False
        if lr < min_lr:
            status["converged"] = True
            break
        if not go_on:
            break
    if np.isfinite(best) or n_anneal == 0:
        status["error"] = best
    if not weighted:
        eta_best = np.zeros(k, dt) if eta0 is None else eta0.astype(dt).copy()
    return R_best, eta_best, np.array(curve), lr, status
