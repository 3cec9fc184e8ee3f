"""Cost of sample weights in the pairwise kernels: the same sweeps with ``sample_weight=None``,
all ones and random weights (one process, interleaved), and a weighted fit vs the fit on repeated
rows (integer weights: the same partition on fewer objects).

    python benchmarks/bench_pairwise_weights.py          # seconds
    python benchmarks/bench_pairwise_weights.py --full   # larger problems
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import header, median_time, table

from danneal import PairwiseAnnealing, _core


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    nt = args.threads
    n_dense, n_feat, repeat = (6000, 200000, 7) if args.full else (2000, 40000, 5)
    print(header(f"pairwise sample_weight overhead ({nt} thread(s))"))
    rng = np.random.default_rng(0)
    k, d = 8, 16
    rows = []
    for dtype in (np.float32, np.float64):
        X = rng.normal(size=(n_dense, d)).astype(dtype)
        D = ((X[:, None, :].astype(np.float64) - X[None, :, :]) ** 2).sum(-1).astype(dtype)
        Q = rng.dirichlet(np.ones(k), n_dense).astype(dtype)
        Xf = rng.normal(size=(n_feat, d)).astype(dtype)
        Qf = rng.dirichlet(np.ones(k), n_feat).astype(dtype)
        mu = Xf.mean(axis=0, dtype=np.float64)
        for name, call, n in (
            (
                f"dense fixed point {n_dense}x{k} (3 sweeps)",
                lambda D=D, Q=Q, **kw: _core.pairwise_fixed_point(D, Q, 1.0, 1, 3, 0.0, nt, **kw),
                n_dense,
            ),
            (
                f"features fixed point {n_feat}x{d} k={k} (3 sweeps)",
                lambda Xf=Xf, mu=mu, Qf=Qf, **kw: _core.pairwise_features_fixed_point(
                    Xf, mu, Qf, 1.0, 1, 3, 0.0, nt, **kw
                ),
                n_feat,
            ),
        ):
            ones, rand = np.ones(n), rng.uniform(0.5, 2.0, n)
            t = {lab: [] for lab in ("none", "ones", "random")}
            for _ in range(2):  # interleaved
                t["none"].append(median_time(lambda c=call: c(), repeat=repeat))
                t["ones"].append(median_time(lambda c=call, w=ones: c(sample_weight=w), repeat=repeat))
                t["random"].append(median_time(lambda c=call, w=rand: c(sample_weight=w), repeat=repeat))
            m = {lab: min(v) * 1e3 for lab, v in t.items()}
            rows.append(
                {
                    "kernel": f"{name} {np.dtype(dtype).name}",
                    "None ms": m["none"],
                    "ones ms": m["ones"],
                    "random ms": m["random"],
                    "random/None": m["random"] / m["none"],
                }
            )
    print(table(rows))
    # a weighted fit vs the fit on repeated rows
    Xb = np.concatenate([c + rng.normal(size=(300, 2)) for c in rng.uniform(-8, 8, (6, 2))])
    w = rng.integers(1, 5, len(Xb)).astype(np.float64)
    Xr = np.repeat(Xb, w.astype(int), axis=0)
    fits = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, fit in (
            (
                "weighted",
                lambda: PairwiseAnnealing(6, metric="sqeuclidean", random_state=0, n_threads=nt).fit(
                    Xb, sample_weight=w
                ),
            ),
            ("repeated rows", lambda: PairwiseAnnealing(6, metric="sqeuclidean", random_state=0, n_threads=nt).fit(Xr)),
        ):
            model = fit()
            fits.append(
                {
                    "fit (sqeuclidean, k=6)": f"{name} n={len(Xb) if name == 'weighted' else len(Xr)}",
                    "cost": model.cost_,
                    "seconds": median_time(fit, repeat=3),
                }
            )
    fits[1]["time ratio"] = fits[1]["seconds"] / fits[0]["seconds"]
    print(table(fits, ["fit (sqeuclidean, k=6)", "cost", "seconds", "time ratio"]))


if __name__ == "__main__":
    main()
