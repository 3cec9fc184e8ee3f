"""danneal.sinkhorn vs POT (ot.sinkhorn, method 'sinkhorn' and 'sinkhorn_log').

Squared-Euclidean costs of random points in the unit square, scaled to max 1; uniform marginals.
Per-iteration times are differences between runs with k1 and k2 iterations (setup excluded); time to
a marginal error of 1e-6 uses each library's own criterion (POT: l2 column violation checked every
10 iterations; danneal: l2 row violation, available every iteration).  Same thread count for both
(BLAS threads limited with threadpoolctl).  Default: N = 1000 (seconds); --full adds N = 4000.

Targets (issue 3): per iteration >= 10x faster than POT sinkhorn_log and no slower than POT sinkhorn;
time to 1e-6 no slower than POT sinkhorn; every failure case converges without NaN.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from _common import header, median_time, table

import danneal


def cost(n, dtype, seed=0, shift=0.0):
    rng = np.random.default_rng(seed)
    X, Y = rng.random((n, 2)), rng.random((n, 2))
    C = ((X[:, None] - Y[None]) ** 2).sum(-1)
    return (C / C.max() + shift).astype(dtype)


def per_iter(fn, k1, k2, repeat):
    t1 = median_time(lambda: fn(k1), repeat=repeat, warmup=0)
    t2 = median_time(lambda: fn(k2), repeat=repeat, warmup=0)
    return max(t2 - t1, 1e-9) / (k2 - k1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="also N = 4000 (minutes)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    import ot
    from threadpoolctl import threadpool_limits

    nt = args.threads
    print(header("Sinkhorn: danneal vs POT " + ot.__version__))
    print(f"threads: {nt} (danneal n_threads, BLAS via threadpoolctl)\n")
    sizes = [1000, 4000] if args.full else [1000]
    rows_it, rows_conv, rows_fail = [], [], []
    with threadpool_limits(limits=nt), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for n in sizes:
            a = np.full(n, 1.0 / n)
            for dtype in (np.float64, np.float32):
                for reg in (1e-1, 1e-2, 1e-3):
                    C = cost(n, dtype)
                    ad, bd = a.astype(dtype), a.astype(dtype)
                    rep = 3

                    def pot(k, method="sinkhorn"):
                        return ot.sinkhorn(ad, bd, C, reg, method=method, numItermax=k, stopThr=0.0)

                    def dan(k):
                        return danneal.sinkhorn(C, reg=reg, tol=0.0, max_iter=k, n_threads=nt)

                    k1, k2 = 10, 60 if n <= 1000 else 30
                    t_pot = per_iter(pot, k1, k2, rep)
                    t_dan = per_iter(dan, k1, k2, rep)
                    t_log = per_iter(lambda k: pot(k, "sinkhorn_log"), 2, 4 if n > 1000 else 6, 1)
                    rows_it.append({"N": n, "dtype": np.dtype(dtype).name, "reg": reg,
                                    "POT sinkhorn ms/it": 1e3 * t_pot, "POT sinkhorn_log ms/it": 1e3 * t_log,
                                    "danneal ms/it": 1e3 * t_dan, "vs sinkhorn": t_pot / t_dan,
                                    "vs sinkhorn_log": t_log / t_dan,
                                    "danneal Gelem/s": n * n / t_dan / 1e9})
                    # time to marginal error 1e-6
                    cap = 20000 if n <= 1000 else 5000
                    t0 = time.perf_counter()
                    Pp, lp = ot.sinkhorn(ad, bd, C, reg, numItermax=cap, stopThr=1e-6, log=True)
                    tp = time.perf_counter() - t0
                    pot_ok = bool(np.isfinite(Pp).all() and lp["err"][-1] < 1e-6) if lp["err"] else False
                    t0 = time.perf_counter()
                    Pd, ld = danneal.sinkhorn(C, reg=reg, tol=1e-6, max_iter=cap, log=True, n_threads=nt)
                    td = time.perf_counter() - t0
                    rows_conv.append({"N": n, "dtype": np.dtype(dtype).name, "reg": reg,
                                      "POT s": tp, "POT iters": lp.get("niter", len(lp["err"]) * 10),
                                      "POT ok": pot_ok, "danneal s": td, "danneal iters": ld["n_iter"],
                                      "danneal ok": ld["converged"] and bool(np.isfinite(Pd).all()),
                                      "speedup": tp / td})
            # failure cases of POT
            for name, dtype, reg, shift in (("cost+1, reg=1e-3", np.float64, 1e-3, 1.0),
                                            ("float32, reg=1e-2", np.float32, 1e-2, 0.0)):
                C = cost(n, dtype, shift=shift)
                ad = a.astype(dtype)
                res = {"N": n, "case": name}
                for meth in ("sinkhorn", "sinkhorn_stabilized", "sinkhorn_log"):
                    try:
                        P = ot.sinkhorn(ad, ad, C, reg, method=meth, numItermax=20000, stopThr=1e-6)
                        res["POT " + meth] = "NaN" if not np.isfinite(P).all() else (
                            "zero plan" if not P.sum() > 0 else f"err {np.abs(P.sum(0) - ad).sum():.1e}")
                    except Exception as exc:  # noqa: BLE001
                        res["POT " + meth] = type(exc).__name__
                t0 = time.perf_counter()
                P, lg = danneal.sinkhorn(C, reg=reg, tol=1e-6, max_iter=20000, log=True, n_threads=nt)
                res["danneal"] = (f"{'converged' if lg['converged'] else 'NOT converged'}, "
                                  f"{lg['n_iter']} it, err {lg['err']:.1e}, finite={np.isfinite(P).all()}, "
                                  f"{time.perf_counter() - t0:.2f}s")
                rows_fail.append(res)
    print("## Time per iteration (median of 3, k-difference)\n")
    print(table(rows_it))
    print("## Time to marginal error 1e-6 (each library's own criterion)\n")
    print(table(rows_conv))
    print("## POT failure cases (max_iter 20000, tol 1e-6)\n")
    print(table(rows_fail))


if __name__ == "__main__":
    main()
