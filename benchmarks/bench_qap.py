"""QAP at equal wall time: danneal.quadratic_assignment vs scipy's FAQ best-of-R (issue 14 §2).

For every instance danneal runs once with its defaults (graduated annealing, Hungarian rounding,
swap local search with kicks; n_threads=1) and is timed; FAQ is then run R times (the barycenter start, then
randomized starts): FAQ runs until it has used danneal's time (R: the number of its runs, so FAQ
gets up to one run more than danneal's time); FAQ's best of R is compared.
Sets: QAPLIB (gap to the best-known value, %), random uniform A, B (n = 30, 50) and structured
instances (distances of random points in the unit square x sparse random integer flows).
Targets: lower mean gap on QAPLIB; lower objective on >= 70 % of the random and structured instances.
Default: a QAPLIB subset and 5 seeds per random set (about a minute); --full: every QAPLIB instance
in the data directory and 20 seeds per set (many minutes).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time

import numpy as np
from _common import SHARED_DATA, header, table
from scipy.optimize import quadratic_assignment as scipy_qap

import danneal

DATA = SHARED_DATA / "qaplib"
SUBSET = [
    "chr12a",
    "chr20a",
    "els19",
    "esc32a",
    "had20",
    "kra30a",
    "lipa30a",
    "nug20",
    "nug30",
    "rou20",
    "scr20",
    "ste36a",
    "tai20a",
    "tai35b",
    "tho30",
    "wil50",
]


def load(name):
    tok = (DATA / f"{name}.dat").read_text().split()
    n = int(tok[0])
    v = np.array(tok[1 : 1 + 2 * n * n], dtype=float)
    return v[: n * n].reshape(n, n), v[n * n :].reshape(n, n)


def gap(f, best):
    return 100.0 * (f - best) / best if best else 100.0 * f


def uniform(n, seed):
    rng = np.random.default_rng(seed)
    return rng.random((n, n)), rng.random((n, n))


def structured(n, seed, density=0.2):
    rng = np.random.default_rng(seed)
    X = rng.random((n, 2))
    D = np.sqrt(((X[:, None] - X[None]) ** 2).sum(-1))
    F = rng.integers(1, 10, size=(n, n)) * (rng.random((n, n)) < density)
    F = np.triu(F, 1)
    return (F + F.T).astype(float), D


def equal_time(A, B, opts, seed):
    """(danneal fun, danneal s, FAQ best-of-R fun, FAQ s, R)."""
    t0 = time.perf_counter()
    r = danneal.quadratic_assignment(A, B, options=dict(opts, rng=seed, n_threads=1))
    td = time.perf_counter() - t0
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    fs = [scipy_qap(A, B, method="faq").fun]
    while time.perf_counter() - t0 < td:  # FAQ runs until it has used danneal's time (R: the runs made)
        fs.append(scipy_qap(A, B, method="faq", options={"P0": "randomized", "rng": rng}).fun)
    tf = time.perf_counter() - t0
    return (-r.fun, td, -max(fs), tf, len(fs)) if opts.get("maximize") else (r.fun, td, min(fs), tf, len(fs))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="all QAPLIB instances, 20 seeds per random set (many minutes)")
    ap.add_argument("--options", default="{}", help="JSON options for danneal.quadratic_assignment")
    ap.add_argument(
        "--instances", default=None, help="comma-separated QAPLIB names (overrides the subset); 'none' skips QAPLIB"
    )
    ap.add_argument("--seeds", type=int, default=None, help="seeds per random set (default 5, --full 20)")
    ap.add_argument("--sizes", default="30,50")
    args = ap.parse_args()
    opts = json.loads(args.options)
    n_seeds = args.seeds if args.seeds is not None else (20 if args.full else 5)
    best_known = {r["name"]: float(r["best_known"]) for r in csv.DictReader(open(DATA / "qaplib_best_known.csv"))}
    if args.instances == "none":
        names = []
    elif args.instances:
        names = args.instances.split(",")
    elif args.full:
        names = sorted(p.stem for p in DATA.glob("*.dat"))
    else:
        names = SUBSET
    names = [x for x in names if x in best_known and (DATA / f"{x}.dat").exists()]
    print(header("QAP at equal wall time: danneal.quadratic_assignment vs scipy FAQ best-of-R"))
    print(f"danneal options {opts} (n_threads=1); QAPLIB instances: {len(names)}; random seeds per set: {n_seeds}\n")
    summary = []
    if names:
        rows = []
        for name in names:
            A, B = load(name)
            bk = best_known[name]
            fd, td, ff, tf, R = equal_time(A, B, opts, 0)
            rows.append(
                {
                    "instance": name,
                    "n": A.shape[0],
                    "danneal gap%": gap(fd, bk),
                    "FAQ best-of-R gap%": gap(ff, bk),
                    "R": R,
                    "danneal s": td,
                    "FAQ s": tf,
                }
            )
            print(
                f"{name}: danneal {gap(fd, bk):.3f}% {td:.2f}s, FAQ x{R} {gap(ff, bk):.3f}% {tf:.2f}s", file=sys.stderr
            )
        print("## QAPLIB: gap to the best-known value (%)\n")
        print(table(rows))
        gd = np.array([r["danneal gap%"] for r in rows])
        gf = np.array([r["FAQ best-of-R gap%"] for r in rows])
        summary.append(
            {
                "set": f"QAPLIB ({len(rows)})",
                "danneal mean gap %": float(gd.mean()),
                "FAQ mean gap %": float(gf.mean()),
                "danneal better": f"{int((gd < gf - 1e-9).sum())}/{len(gd)}",
                "ties": int((np.abs(gd - gf) <= 1e-9).sum()),
                "danneal s": sum(r["danneal s"] for r in rows),
                "FAQ s": sum(r["FAQ s"] for r in rows),
                "target": "lower mean gap: " + str(bool(gd.mean() < gf.mean())),
            }
        )
    for label, gen in (("uniform", uniform), ("structured", structured)):
        for n in map(int, args.sizes.split(",")) if n_seeds > 0 else ():
            wins, td_all, tf_all, rel = 0, 0.0, 0.0, []
            for seed in range(n_seeds):
                A, B = gen(n, 1000 + seed)
                fd, td, ff, tf, R = equal_time(A, B, opts, seed)
                wins += fd < ff - 1e-9 * abs(ff)
                td_all += td
                tf_all += tf
                rel.append(100.0 * (fd - ff) / abs(ff))
            frac = wins / n_seeds
            summary.append(
                {
                    "set": f"{label} n={n} ({n_seeds})",
                    "danneal mean gap %": float(np.mean(rel)),
                    "FAQ mean gap %": 0.0,
                    "danneal better": f"{wins}/{n_seeds}",
                    "ties": "",
                    "danneal s": td_all,
                    "FAQ s": tf_all,
                    "target": f"win >= 70%: {frac >= 0.7}",
                }
            )
            print(f"{label} n={n}: wins {wins}/{n_seeds}", file=sys.stderr)
    print("## Summary (random sets: 'mean gap' = danneal's objective relative to FAQ best-of-R, %)\n")
    print(table(summary))


if __name__ == "__main__":
    main()
