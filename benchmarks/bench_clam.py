"""ClAM training time per epoch: danneal's C++ loop vs a PyTorch (CPU, autograd) implementation of
the identical algorithm, written here.

Same data (standardised), same initial prototypes, same hyper-parameters (beta/2 exponent, 10
steps of size 0.1, 10 % of the coordinates masked with the feature mean, Adam with torch's
defaults, plateau decay of the learning rate, best-loss prototypes).  Shuffles and masks come
from each side's own generator, so the final losses agree up to training noise: the table shows
both, and the spread of torch's final loss over seeds as the noise level.

Target (issue 4): >= 20x faster than PyTorch at batch 8 and >= 3x at batch 256.

Run: ``python benchmarks/bench_clam.py`` (about a minute); ``--full`` adds float64 and more epochs.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import header, table
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler

import danneal
from danneal import _core

C, ALPHA, STEPS, MASK_PROB, LR = 1.0, 0.1, 10, 0.1, 0.01  # beta = 2, exponent beta/2


def load(name):
    if name == "zoo-sized":
        path = Path(__file__).resolve().parents[2] / "shared" / "data" / "clam" / "zoo.csv"
        if path.exists():
            a = np.loadtxt(path, delimiter=",")
            return a[:, :-1], 7
        rng = np.random.default_rng(0)
        return (rng.random((101, 16)) < 0.4).astype(float), 7
    X, _ = load_digits(return_X_y=True)
    return X, 10


def danneal_train(X, R0, batch, epochs, seed, n_threads):
    d = X.shape[1]
    n_mask = max(1, int(np.floor(MASK_PROB * d + 0.5)))
    params = _core.ClamTrainParams(
        c=C, alpha=ALPHA, n_steps=STEPS, batch_size=batch, n_mask=n_mask, max_epochs=epochs, learning_rate=LR, seed=seed
    )
    out = _core.clam_train(X, None, X.mean(0), R0, None, params, n_threads)
    return out[2]


def torch_train(torch, X, R0, batch, epochs, seed):
    """The same training loop in PyTorch (autograd BPTT, torch.optim.Adam)."""
    gen = torch.Generator().manual_seed(seed)
    Xt = torch.from_numpy(X)
    n, d = Xt.shape
    n_mask = max(1, int(np.floor(MASK_PROB * d + 0.5)))
    mv = Xt.mean(0)
    R = torch.nn.Parameter(torch.from_numpy(R0.copy()))
    opt = torch.optim.Adam([R], lr=LR)
    lr = LR
    curve, best, prev_mean, stall = [], np.inf, None, 0
    for epoch in range(epochs):
        perm = torch.randperm(n, generator=gen)
        losses = []
        for s in range(0, n, batch):
            x = Xt[perm[s : s + batch]]
            cols = torch.rand(x.shape, generator=gen).argsort(dim=1)[:, :n_mask]
            m = torch.zeros_like(x).scatter_(1, cols, 1.0)
            v = torch.where(m > 0, mv.expand_as(x), x)
            for _ in range(STEPS):
                D = (v * v).sum(1, keepdim=True) - 2 * v @ R.T + (R * R).sum(1)
                P = torch.softmax(-C * D, dim=1)
                v = v + ALPHA * m * (P @ R - v)
            loss = (m * (x - v) ** 2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        el = float(np.mean(losses))
        curve.append(el)
        if el < best:
            best = el
        if epoch + 1 >= 10:  # plateau decay, as in the C++ loop
            mean = float(np.mean(curve[-10:]))
            if prev_mean is not None:
                stall = stall + 1 if prev_mean - mean < 1e-3 * abs(prev_mean) else 0
                if stall >= 5:
                    lr *= 0.8
                    stall = 0
                    for g in opt.param_groups:
                        g["lr"] = lr
            prev_mean = mean
    return np.array(curve)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true")
    args = ap.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("torch is not installed: nothing to compare against")
        return
    n_threads = danneal.resolve_n_threads(None)
    print(header("ClAM training: danneal (C++) vs PyTorch autograd, time per epoch"))
    print(
        f"threads: danneal {n_threads}, torch the faster of 1 and {n_threads}; torch {torch.__version__}; "
        f"beta=2 (c=1), T={STEPS}, alpha={ALPHA}, "
        f"mask_prob={MASK_PROB}, lr={LR}\n"
    )
    dtypes = [np.float32, np.float64] if args.full else [np.float32]
    rows = []
    for name in ("zoo-sized", "digits-sized"):
        X0, k = load(name)
        for dt in dtypes:
            X = np.ascontiguousarray(StandardScaler().fit_transform(X0), dtype=dt)
            R0 = np.ascontiguousarray(X[np.random.default_rng(0).choice(len(X), k, replace=False)])
            for batch in (8, 256):
                n_batches = -(-len(X) // batch)
                # enough epochs for a stable time, few enough for a quick default run
                ep_t = max(2, min(30, int(200 / n_batches))) * (3 if args.full else 1)
                ep_d = ep_t * 10
                # torch at its faster thread count (1 or all): small ops often run faster on one
                tt, torch_nt = np.inf, 1
                for nt in sorted({1, n_threads}):
                    torch.set_num_threads(nt)
                    t0 = time.perf_counter()
                    curve_t = torch_train(torch, X, R0, batch, ep_t, 0)
                    t_nt = (time.perf_counter() - t0) / ep_t
                    if t_nt < tt:
                        tt, torch_nt = t_nt, nt
                torch.set_num_threads(torch_nt)
                _ = danneal_train(X, R0, batch, 2, 0, n_threads)  # warm-up
                t0 = time.perf_counter()
                danneal_train(X, R0, batch, ep_d, 0, n_threads)
                td = (time.perf_counter() - t0) / ep_d
                # final losses after the same number of epochs, over 3 seeds each
                lt = [torch_train(torch, X, R0, batch, ep_t, s)[-1] for s in (1, 2)] + [curve_t[-1]]
                ld = [danneal_train(X, R0, batch, ep_t, s, n_threads)[-1] for s in (0, 1, 2)]
                rows.append(
                    {
                        "data": f"{name} {X.shape[0]}x{X.shape[1]} k={k}",
                        "dtype": np.dtype(dt).name,
                        "batch": batch,
                        "torch threads": torch_nt,
                        "torch ms/epoch": 1e3 * tt,
                        "danneal ms/epoch": 1e3 * td,
                        "speed-up": tt / td,
                        "target": "20x" if batch == 8 else "3x",
                        "met": "yes" if tt / td >= (20 if batch == 8 else 3) else "NO",
                        "loss torch (3 seeds)": f"{np.mean(lt):.4f}±{np.std(lt):.4f}",
                        "loss danneal (3 seeds)": f"{np.mean(ld):.4f}±{np.std(ld):.4f}",
                        "epochs": ep_t,
                    }
                )
                print(table(rows[-1:]), flush=True)
    print("## summary\n")
    print(table(rows))


if __name__ == "__main__":
    main()
