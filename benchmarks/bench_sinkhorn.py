"""danneal.sinkhorn vs POT (ot.sinkhorn, method 'sinkhorn' and 'sinkhorn_log').

Squared-Euclidean costs of random points in the unit square, scaled to max 1; uniform marginals.
Per-iteration times are differences between runs with k1 and k2 iterations (setup excluded); time to
a marginal error of 1e-6 uses each library's own criterion (POT: l2 column violation checked every
10 iterations; danneal: l2 row violation, available every iteration).  Same thread count for both
(BLAS threads limited with threadpoolctl).  Default: N = 1000 (seconds); --full adds N = 4000.

Targets (issue 3): per iteration >= 10x faster than POT sinkhorn_log and no slower than POT sinkhorn;
time to 1e-6 no slower than POT sinkhorn; every failure case converges without NaN.

Issue 14 §3 sections: ε-scaling (danneal.sinkhorn(eps_scaling=True)) against the plain iteration and
POT's sinkhorn / sinkhorn_epsilon_scaling at reg 1e-3 and 1e-4 (iterations and time to 1e-6; N = 500,
--full 1000), and batched problems: B = 256 problems of 64 x 64 in one danneal.sinkhorn_batch call
against a Python loop over ot.sinkhorn and POT's batched solver ot.solve_batch.
``--only`` picks sections (iter, conv, fail, eps, batch).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from _common import header, table

import danneal


def cost(n, dtype, seed=0, shift=0.0):
    rng = np.random.default_rng(seed)
    X, Y = rng.random((n, 2)), rng.random((n, 2))
    C = ((X[:, None] - Y[None]) ** 2).sum(-1)
    return (C / C.max() + shift).astype(dtype)


def _t(fn, k):
    t0 = time.perf_counter()
    fn(k)
    return time.perf_counter() - t0


def per_iter(fns, k1, k2, repeat):
    """Per-iteration time of each fn(k): (median time at k2 - median time at k1) / (k2 - k1), interleaved."""
    t1 = [[] for _ in fns]
    t2 = [[] for _ in fns]
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            t1[i].append(_t(fn, k1))
            t2[i].append(_t(fn, k2))
    return [max(np.median(b) - np.median(a), 1e-9) / (k2 - k1) for a, b in zip(t1, t2)]


def pot_fails(ad, C, reg, method="sinkhorn", k=20):
    """True when POT stops on numerical errors or returns a non-finite / zero plan."""
    import ot

    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        P = ot.sinkhorn(ad, ad, C, reg, method=method, numItermax=k, stopThr=0.0)
    msgs = " ".join(str(x.message) for x in w)
    return (not np.isfinite(P).all()) or not P.sum() > 0 or "Numerical errors" in msgs


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="also N = 4000 (minutes)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sizes", default=None, help="comma-separated N values (overrides the default/--full sizes)")
    ap.add_argument("--regs", default="1e-1,1e-2,1e-3", help="comma-separated regularisations")
    ap.add_argument("--only", default="iter,conv,fail,eps,batch", help="sections to run")
    ap.add_argument("--repeat", type=int, default=3, help="time-to-1e-6 runs per library (median reported)")
    args = ap.parse_args()
    only = set(args.only.split(","))
    import ot
    from threadpoolctl import threadpool_limits

    nt = args.threads
    print(header("Sinkhorn: danneal vs POT " + ot.__version__))
    print(f"threads: {nt} (danneal n_threads, BLAS via threadpoolctl)\n")
    sizes = [1000, 4000] if args.full else [1000]
    if args.sizes:
        sizes = [int(x) for x in args.sizes.split(",")]
    regs = [float(x) for x in args.regs.split(",")]
    rows_it, rows_conv, rows_fail = [], [], []
    with threadpool_limits(limits=nt), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for n in sizes if only & {"iter", "conv", "fail"} else ():
            a = np.full(n, 1.0 / n)
            for dtype in (np.float64, np.float32):
                for reg in regs:
                    C = cost(n, dtype)
                    ad, bd = a.astype(dtype), a.astype(dtype)

                    def pot(k, method="sinkhorn"):
                        return ot.sinkhorn(ad, bd, C, reg, method=method, numItermax=k, stopThr=0.0)

                    def dan(k):
                        return danneal.sinkhorn(C, reg=reg, tol=0.0, max_iter=k, n_threads=nt)

                    k1, k2 = (10, 310) if n <= 1000 else (10, 70)
                    failed = pot_fails(ad, C, reg)
                    if "iter" in only:
                        t_pot, t_dan = per_iter([pot, dan], k1, k2, 3)
                        (t_log,) = per_iter([lambda k: pot(k, "sinkhorn_log")], 2, 4 if n > 1000 else 6, 2)
                        rows_it.append(
                            {
                                "N": n,
                                "dtype": np.dtype(dtype).name,
                                "reg": reg,
                                "POT sinkhorn ms/it": "fails" if failed else 1e3 * t_pot,
                                "POT sinkhorn_log ms/it": 1e3 * t_log,
                                "danneal ms/it": 1e3 * t_dan,
                                "vs sinkhorn": "-" if failed else t_pot / t_dan,
                                "vs sinkhorn_log": t_log / t_dan,
                                "danneal GB/s": n * n * np.dtype(dtype).itemsize / t_dan / 1e9,
                            }
                        )
                    if "conv" not in only:
                        continue
                    # time to marginal error 1e-6
                    cap = 20000 if n <= 1000 else 5000
                    tps, tds = [], []
                    for _ in range(args.repeat):  # interleaved; the medians are reported
                        t0 = time.perf_counter()
                        Pp, lp = ot.sinkhorn(ad, bd, C, reg, numItermax=cap, stopThr=1e-6, log=True)
                        tps.append(time.perf_counter() - t0)
                        t0 = time.perf_counter()
                        Pd, ld = danneal.sinkhorn(C, reg=reg, tol=1e-6, max_iter=cap, log=True, n_threads=nt)
                        tds.append(time.perf_counter() - t0)
                    tp, td = float(np.median(tps)), float(np.median(tds))
                    pot_ok = bool(np.isfinite(Pp).all() and lp["err"][-1] < 1e-6) if lp["err"] else False
                    rows_conv.append(
                        {
                            "N": n,
                            "dtype": np.dtype(dtype).name,
                            "reg": reg,
                            "POT s": tp,
                            "POT iters": lp.get("niter", len(lp["err"]) * 10),
                            "POT ok": pot_ok,
                            "danneal s": td,
                            "danneal iters": ld["n_iter"],
                            "danneal ok": ld["converged"] and bool(np.isfinite(Pd).all()),
                            "speedup": tp / td,
                        }
                    )
            # failure cases of POT (N <= 1000 only: POT's log-domain solvers take minutes beyond)
            for name, dtype, reg, shift in (
                ()
                if n > 1000 or "fail" not in only
                else (("cost+1, reg=1e-3", np.float64, 1e-3, 1.0), ("float32, reg=1e-2", np.float32, 1e-2, 0.0))
            ):
                C = cost(n, dtype, shift=shift)
                ad = a.astype(dtype)
                res = {"N": n, "case": name}
                for meth in ("sinkhorn", "sinkhorn_stabilized", "sinkhorn_log"):
                    try:
                        P = ot.sinkhorn(ad, ad, C, reg, method=meth, numItermax=20000, stopThr=1e-6)
                        res["POT " + meth] = (
                            "NaN"
                            if not np.isfinite(P).all()
                            else ("zero plan" if not P.sum() > 0 else f"err {np.abs(P.sum(0) - ad).sum():.1e}")
                        )
                    except Exception as exc:
                        res["POT " + meth] = type(exc).__name__
                t0 = time.perf_counter()
                P, lg = danneal.sinkhorn(C, reg=reg, tol=1e-6, max_iter=20000, log=True, n_threads=nt)
                res["danneal"] = (
                    f"{'converged' if lg['converged'] else 'NOT converged'}, "
                    f"{lg['n_iter']} it, err {lg['err']:.1e}, finite={np.isfinite(P).all()}, "
                    f"{time.perf_counter() - t0:.2f}s"
                )
                rows_fail.append(res)
        rows_eps = eps_section(ot, 1000 if args.full else 500, nt) if "eps" in only else []
        rows_batch = batch_section(ot, nt, args.full) if "batch" in only else []
    for title, rows in (
        ("Time per iteration (k-difference of medians of 3 interleaved runs)", rows_it),
        ("Time to marginal error 1e-6 (own criteria; median of --repeat runs)", rows_conv),
        ("POT failure cases (max_iter 20000, tol 1e-6)", rows_fail),
        ("ε-scaling: iterations and time to marginal error 1e-6 (float64)", rows_eps),
        ("Batched: B = 256 problems of 64 x 64, reg 1e-2, to 1e-6 (float64)", rows_batch),
    ):
        if rows:
            print(f"## {title}\n")
            print(table(rows))


def eps_section(ot, n, nt):
    """danneal plain vs eps_scaling vs POT sinkhorn / sinkhorn_epsilon_scaling, to 1e-6."""
    rows = []
    C = cost(n, np.float64)
    a = np.full(n, 1.0 / n)
    cap = 20000
    for reg in (1e-3, 1e-4):
        row = {"N": n, "reg": reg}
        for label, eps in (("danneal plain", None), ("danneal eps_scaling", True)):
            t0 = time.perf_counter()
            P, lg = danneal.sinkhorn(C, reg=reg, tol=1e-6, max_iter=cap, log=True, eps_scaling=eps, n_threads=nt)
            row[f"{label} s"] = time.perf_counter() - t0
            row[f"{label} it"] = (
                lg["n_iter"] if lg["converged"] and np.isfinite(P).all() else f"{lg['n_iter']} (not conv.)"
            )
        for label, meth, kw in (
            ("POT sinkhorn", "sinkhorn", {}),
            ("POT eps_scaling", "sinkhorn_epsilon_scaling", {"numInnerItermax": 100}),
        ):
            t0 = time.perf_counter()
            P, lg = ot.sinkhorn(
                a,
                a,
                C,
                reg,
                method=meth,
                numItermax=cap if meth == "sinkhorn" else cap // 100,
                stopThr=1e-6,
                log=True,
                **kw,
            )
            dt = time.perf_counter() - t0
            # POT's own criterion: l2 violation of the column marginals (rows are exact after its last update)
            err = float(np.linalg.norm(P.sum(0) - a)) if np.isfinite(P).all() and P.sum() > 0 else float("nan")
            row[f"{label} s"] = dt
            its = lg.get("niter", lg.get("n_iter", "?"))
            row[f"{label} it"] = (
                "fails (NaN/zero plan)" if not np.isfinite(err) else (its if err < 1.5e-6 else f"{its} (err {err:.0e})")
            )
        row["eps vs plain (time)"] = row["danneal plain s"] / row["danneal eps_scaling s"]
        rows.append(row)
    return rows


def batch_section(ot, nt, full):
    """B = 256 problems of 64 x 64 in one call vs a Python loop over ot.sinkhorn and ot.solve_batch
    (POT's log-domain variants, about a minute each, with --full only)."""
    B, n, reg = 256, 64, 1e-2
    C = np.stack([cost(n, np.float64, seed=s) for s in range(B)])
    a = np.full(n, 1.0 / n)
    rows = []

    def err_of(P):
        return float(np.abs(P.sum(1) - a).max() + np.abs(P.sum(2) - a).max())

    t0 = time.perf_counter()
    P = danneal.sinkhorn_batch(C, reg=reg, tol=1e-6, max_iter=10000, n_threads=nt)
    t_dan = time.perf_counter() - t0
    rows.append({"solver": f"danneal.sinkhorn_batch (n_threads={nt})", "s": t_dan, "max marginal err": err_of(P)})
    t0 = time.perf_counter()
    P1 = danneal.sinkhorn_batch(C, reg=reg, tol=1e-6, max_iter=10000, n_threads=1)
    rows.append(
        {
            "solver": "danneal.sinkhorn_batch (n_threads=1)",
            "s": time.perf_counter() - t0,
            "max marginal err": err_of(P1),
        }
    )
    t0 = time.perf_counter()
    P = np.stack([ot.sinkhorn(a, a, C[k], reg, stopThr=1e-6, numItermax=10000) for k in range(B)])
    rows.append({"solver": "loop over ot.sinkhorn", "s": time.perf_counter() - t0, "max marginal err": err_of(P)})
    if full:
        t0 = time.perf_counter()
        P = np.stack(
            [ot.sinkhorn(a, a, C[k], reg, method="sinkhorn_log", stopThr=1e-6, numItermax=10000) for k in range(B)]
        )
        rows.append(
            {
                "solver": "loop over ot.sinkhorn (sinkhorn_log)",
                "s": time.perf_counter() - t0,
                "max marginal err": err_of(P),
            }
        )
    if hasattr(ot, "solve_batch"):
        for meth in ("sinkhorn", "log_sinkhorn") if full else ("sinkhorn",):
            t0 = time.perf_counter()
            res = ot.solve_batch(C, reg=reg, max_iter=10000, tol=1e-6, method=meth)
            P = np.asarray(res.plan)
            rows.append(
                {
                    "solver": f"ot.solve_batch ({meth})",
                    "s": time.perf_counter() - t0,
                    "max marginal err": err_of(P) if np.isfinite(P).all() else float("nan"),
                }
            )
    for r in rows:
        r["vs danneal"] = r["s"] / t_dan
    return rows


if __name__ == "__main__":
    main()
