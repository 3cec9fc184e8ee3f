"""Loss + gradient time of danneal's DDC and spectral clustering losses vs pure-PyTorch autograd.

Both sides are called through torch: ``danneal.torch.DDCLoss`` / ``SpectralClusteringLoss``
(forward + ``backward()``) against the same loss written in plain PyTorch operations (forward +
``backward()`` through autograd), on the same leaf tensors, in the same process.

The PyTorch DDC follows the reference implementation's formulation (DanielTrosten/mvc: n x n
distance matrix, ``torch.median``, ``A^T K A``, ``triu(A A^T)``); the PyTorch spectral loss is
written without n x n matrices (``tr(F^+ C F)`` with ``torch.linalg.pinv``).

Target (issue 6): no slower than PyTorch autograd at any batch size, >= 3x faster at batch >= 1000.

Thread counts: each row limits torch (``torch.set_num_threads``), the BLAS (threadpoolctl) and
danneal (``n_threads``) to the same number.

Usage: ``python benchmarks/bench_losses.py [--full] [--dtype float32|float64] [--threads 1,2]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import torch
from _common import header, median_time, table

EPS = 1e-9


def torch_ddc(A, H, rel_sigma=0.15):
    """DDC loss in plain PyTorch, formulas and clamps as in the reference code."""
    n, k = A.shape
    sq = (H * H).sum(1, keepdim=True)
    dist = torch.relu(sq - 2 * H @ H.T + sq.T)
    sigma2 = torch.clamp(rel_sigma * torch.median(dist).detach(), min=EPS)
    K = torch.exp(-dist / (2 * sigma2))

    def dcs(Q):
        N = Q.T @ K @ Q
        d = torch.diagonal(N)
        D = d[:, None] * d[None, :]
        N = torch.where(N < EPS, N.new_tensor(EPS), N)
        D = torch.where(D < EPS**2, D.new_tensor(EPS**2), D)
        return 2.0 / (k * (k - 1)) * torch.triu(N / torch.sqrt(D), 1).sum()

    eye = torch.eye(k, dtype=A.dtype)
    a2 = (A * A).sum(1, keepdim=True)
    M = torch.exp(-(a2 - 2 * A @ eye.T + 1))
    return dcs(A) + 2.0 / (n * (n - 1)) * torch.triu(A @ A.T, 1).sum() + dcs(M)


def torch_spectral(F, Y):
    """``c - tr(F F^+ C)`` in plain PyTorch without n x n matrices: tr(F^+ (C F))."""
    CF = Y @ torch.linalg.solve(Y.T @ Y, Y.T @ F)
    return Y.shape[1] - torch.trace(torch.linalg.pinv(F) @ CF)


def interleaved(fns, rounds):
    """(median, min) time of each of ``fns``, calling them in turn ``rounds`` times (one warm-up
    call each): on a shared, busy machine both sides then see the same load."""
    times = [[] for _ in fns]
    for f in fns:
        f()
    for _ in range(rounds):
        for i, f in enumerate(fns):
            times[i].append(median_time(f, repeat=1, warmup=0))
    return [(float(np.median(t)), float(np.min(t))) for t in times]


def _row(loss, nt, n, tt, td, err):
    target = 1.0 if n < 1000 else 3.0
    ratio = tt[0] / td[0]
    return {
        "loss": loss,
        "threads": nt,
        "batch": n,
        "torch autograd (ms)": 1e3 * tt[0],
        "danneal (ms)": 1e3 * td[0],
        "speed-up": ratio,
        "speed-up of minima": tt[1] / td[1],
        "max rel. grad diff": err,
        "target": f"≥{target:g}",
        "met": "yes" if ratio >= target else "NO",
    }


def run(sizes, dtype, args, rounds, n_threads):
    from danneal.torch import DDCLoss, SpectralClusteringLoss

    rows = []
    g = torch.Generator().manual_seed(0)
    ddc = DDCLoss(n_threads=n_threads)
    spec = SpectralClusteringLoss()
    for n in sizes:
        logits = torch.randn(n, args.k, generator=g, dtype=dtype)
        A = torch.softmax(logits, 1).requires_grad_(True)
        H = torch.randn(n, args.d, generator=g, dtype=dtype).requires_grad_(True)

        def run_torch():
            A.grad = H.grad = None
            torch_ddc(A, H).backward()

        def run_danneal():
            A.grad = H.grad = None
            ddc(A, H).backward()

        # same value and gradients before timing
        run_torch()
        ref = (A.grad.clone(), H.grad.clone())
        run_danneal()
        errA = float((A.grad - ref[0]).abs().max() / ref[0].abs().max())
        errH = float((H.grad - ref[1]).abs().max() / ref[1].abs().max())
        assert max(errA, errH) < (1e-3 if dtype == torch.float32 else 1e-8), (errA, errH)
        tt, td = interleaved([run_torch, run_danneal], rounds if n < 4000 else max(3, rounds // 2))
        rows.append(_row("DDC", n_threads, n, tt, td, max(errA, errH)))

        F = torch.randn(n, args.emb, generator=g, dtype=dtype).requires_grad_(True)
        y = torch.randint(0, args.k, (n,), generator=g)
        Y = torch.nn.functional.one_hot(y, args.k).to(dtype)

        def run_torch_s():
            F.grad = None
            torch_spectral(F, Y).backward()

        def run_danneal_s():
            F.grad = None
            spec(F, y).backward()

        run_torch_s()
        refF = F.grad.clone()
        run_danneal_s()
        errF = float((F.grad - refF).abs().max() / refF.abs().max())
        tt, td = interleaved([run_torch_s, run_danneal_s], rounds)
        rows.append(_row("spectral", n_threads, n, tt, td, errF))
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--full", action="store_true", help="more rounds and an extra batch size (8000)")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--k", type=int, default=10, help="clusters (DDC) / classes (spectral)")
    p.add_argument("--d", type=int, default=64, help="hidden-layer width (DDC)")
    p.add_argument("--emb", type=int, default=16, help="embedding dimension (spectral)")
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts (torch, BLAS and danneal)")
    args = p.parse_args(argv)

    dtype = getattr(torch, args.dtype)
    sizes = [100, 1000, 4000] + ([8000] if args.full else [])
    rounds = 11 if args.full else 7
    print(header("DDC and spectral clustering losses: loss + gradient vs PyTorch autograd"))
    print(
        f"dtype={args.dtype}, k={args.k}, DDC hidden d={args.d}, spectral embedding d={args.emb}, "
        f"torch {torch.__version__}; times: median of {rounds} interleaved rounds (fewer at 4000+); the target "
        f"is checked on the ratio of medians\n"
    )
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        threadpool_limits = None
    rows = []
    default_threads = torch.get_num_threads()
    for nt in [int(t) for t in args.threads.split(",")]:
        torch.set_num_threads(nt)
        if threadpool_limits is not None:
            with threadpool_limits(limits=nt, user_api="blas"):
                rows += run(sizes, dtype, args, rounds, nt)
        else:
            rows += run(sizes, dtype, args, rounds, nt)
    torch.set_num_threads(default_threads)
    print(table(rows))


if __name__ == "__main__":
    main()
