"""Time per pairwise sweep: danneal's compiled kernel vs its numpy twin and a detan-style loop.

One sweep = potentials from D @ Q, softmax at temperature T, cost terms (one pass over D).
Prints the achieved read bandwidth on D and the machine's read bandwidth measured in the
same run (a parallel streaming sum over D with the same thread count).

    python benchmarks/bench_pairwise.py          # N = 4000 (seconds)
    python benchmarks/bench_pairwise.py --full   # N = 4000 and 16000 (the issue's targets)

Targets (issue 2) at N = 16000, K = 8, float64, 2 threads: >= 5x faster than the numpy twin,
>= 75 % of the measured read bandwidth; float32 >= 1.7x faster than float64.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import header, median_time, table

from danneal import _core
from danneal import reference as ref


def detan_style_sweep(D, Q, T):
    """detan's potential + expectations, written as detan does (two passes over D)."""
    n, k = Q.shape
    mdm = (Q.T @ D) @ Q
    sum_m1 = Q.sum(0)[None, :] - Q
    h = (D @ Q - (1 / (2 * sum_m1)) * np.diag(mdm)[None, :]) / (sum_m1 + 1)
    e = np.exp(-h / T)
    return e / e.sum(1, keepdims=True)


def make_D(n, rng):
    X = rng.standard_normal((n, 8))
    sq = (X**2).sum(1)
    D = sq[:, None] + sq[None, :]
    D -= 2 * (X @ X.T)
    np.maximum(D, 0, out=D)
    np.fill_diagonal(D, 0)
    return D


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help="also N = 16000 (2 GB of float64)")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    sizes = [4000, 16000] if args.full else [4000]
    K, T = 8, 1.0
    rng = np.random.default_rng(0)
    print(header("pairwise sweep: danneal kernel vs numpy twin vs detan-style numpy"))
    rows = []
    for n in sizes:
        D64 = make_D(n, rng)
        Q64 = rng.random((n, K))
        Q64 /= Q64.sum(1, keepdims=True)
        for dtype in (np.float64, np.float32):
            D = D64 if dtype == np.float64 else D64.astype(np.float32)
            Q = Q64.astype(dtype)
            gb = D.nbytes / 1e9
            t_twin = median_time(lambda: ref.pairwise_fixed_point(D, Q, T, 1, 1, 0.0), repeat=args.repeat)
            t_detan = (
                median_time(lambda: detan_style_sweep(D, Q, T), repeat=args.repeat)
                if dtype == np.float64
                else float("nan")
            )
            for nt in (1, 2):
                t_bw = median_time(lambda: _core.stream_sum(D, nt), repeat=args.repeat)
                t_k = median_time(lambda: _core.pairwise_fixed_point(D, Q, T, 1, 1, 0.0, nt), repeat=args.repeat)
                rows.append(
                    {
                        "N": n,
                        "dtype": np.dtype(dtype).name,
                        "threads": nt,
                        "danneal [ms]": 1e3 * t_k,
                        "numpy twin [ms]": 1e3 * t_twin,
                        "detan-style [ms]": 1e3 * t_detan,
                        "twin / danneal": t_twin / t_k,
                        "detan / danneal": t_detan / t_k,
                        "GB/s on D": gb / t_k,
                        "read GB/s": gb / t_bw,
                        "% of read": 100 * t_bw / t_k,
                    }
                )
            D = None  # free the float32 copy before the next dtype
    print(table(rows))
    # float32 vs float64 speed-up of the kernel
    for n in sizes:
        for nt in (1, 2):
            r64 = next(r for r in rows if r["N"] == n and r["dtype"] == "float64" and r["threads"] == nt)
            r32 = next(r for r in rows if r["N"] == n and r["dtype"] == "float32" and r["threads"] == nt)
            print(
                f"N={n} threads={nt}: float32 is {r64['danneal [ms]'] / r32['danneal [ms]']:.2f}x faster than float64"
            )
    print("(numpy twin and detan-style use numpy/OpenBLAS with its own default thread count)")


if __name__ == "__main__":
    main()
