"""QAPLIB (n <= 64): danneal.quadratic_assignment methods vs scipy.optimize.quadratic_assignment (FAQ).

For every instance: gap to the best-known value (percent) and wall time of FAQ with its default
(barycenter) start, FAQ best of 20 random starts, and each danneal method.  The danneal methods
are softassign annealing + Hungarian clean-up + 2-opt (see danneal.quadratic_assignment).
Default: a subset of 24 instances (about a minute); --full: all instances in the data directory.

Target (issue 3): the best danneal method's mean gap <= FAQ best-of-20 mean gap at no more total
wall time, and a lower gap than FAQ's default start on >= 80 % of the instances.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time

import numpy as np
from scipy.optimize import quadratic_assignment as scipy_qap

from _common import SHARED_DATA, header, table

import danneal

DATA = SHARED_DATA / "qaplib"
SUBSET = ["bur26a", "chr12a", "chr15b", "chr20a", "chr25a", "els19", "esc16a", "esc32a", "had16", "had20",
          "kra30a", "lipa30a", "nug12", "nug20", "nug30", "rou15", "rou20", "scr15", "scr20", "ste36a",
          "tai20a", "tai35b", "tho30", "wil50"]


def load(name):
    tok = (DATA / f"{name}.dat").read_text().split()
    n = int(tok[0])
    v = np.array(tok[1:1 + 2 * n * n], dtype=float)
    return v[: n * n].reshape(n, n), v[n * n:].reshape(n, n)


def gap(f, best):
    return 100.0 * (f - best) / best if best else 100.0 * f


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="all instances (minutes)")
    ap.add_argument("--methods", default="graduated,self_annealing,self_annihilation,relaxation_labeling,"
                                          "exponentiated_relaxation")
    ap.add_argument("--options", default="{}", help="JSON options for every danneal method")
    ap.add_argument("--best", default="graduated", help="danneal method for the summary line")
    ap.add_argument("--best-options", default='{"n_init": 10}', help="JSON options of the 'best' configuration")
    ap.add_argument("--instances", default=None, help="comma-separated names (overrides the subset)")
    args = ap.parse_args()
    best_known = {r["name"]: float(r["best_known"]) for r in csv.DictReader(open(DATA / "qaplib_best_known.csv"))}
    if args.instances:
        names = args.instances.split(",")
    elif args.full:
        names = sorted(p.stem for p in DATA.glob("*.dat"))
    else:
        names = SUBSET
    names = [x for x in names if x in best_known and (DATA / f"{x}.dat").exists()]
    methods = [m for m in args.methods.split(",") if m]
    opts = json.loads(args.options)
    best_opts = json.loads(args.best_options)
    print(header("QAPLIB: danneal softassign methods vs scipy FAQ"))
    print(f"instances: {len(names)}; danneal options {opts}; best configuration: {args.best} {best_opts}\n")
    rows = []
    keys = ["faq", "faq20"] + methods + ["best"]
    tot = {k: [0.0, []] for k in keys}  # time, gaps
    for name in names:
        A, B = load(name)
        bk = best_known[name]
        row = {"instance": name, "n": A.shape[0]}
        t0 = time.perf_counter()
        r = scipy_qap(A, B, method="faq")
        t = time.perf_counter() - t0
        res = {"faq": (gap(r.fun, bk), t)}
        t0 = time.perf_counter()
        rng = np.random.default_rng(0)
        f20 = min(scipy_qap(A, B, method="faq", options={"P0": "randomized", "rng": rng}).fun for _ in range(20))
        res["faq20"] = (gap(f20, bk), time.perf_counter() - t0)
        for m in methods:
            t0 = time.perf_counter()
            r = danneal.quadratic_assignment(A, B, method=m, options=dict(opts, rng=0))
            res[m] = (gap(r.fun, bk), time.perf_counter() - t0)
        t0 = time.perf_counter()
        r = danneal.quadratic_assignment(A, B, method=args.best, options=dict(best_opts, rng=0))
        res["best"] = (gap(r.fun, bk), time.perf_counter() - t0)
        for k, (g, t) in res.items():
            row[f"{k} gap%"] = g
            row[f"{k} s"] = t
            tot[k][0] += t
            tot[k][1].append(g)
        rows.append(row)
        print(f"{name}: " + ", ".join(f"{k} {g:.2f}%/{t:.3f}s" for k, (g, t) in res.items()), file=sys.stderr)
    cols = ["instance", "n"] + [f"{k} gap%" for k in keys]
    print("## Gap to best known (%)\n")
    print(table(rows, cols))
    print("## Wall time (s)\n")
    print(table(rows, ["instance", "n"] + [f"{k} s" for k in keys]))
    faq = np.array(tot["faq"][1])
    summ = []
    for k in keys:
        g = np.array(tot[k][1])
        summ.append({"method": k if k != "best" else f"{args.best} {json.dumps(best_opts)}",
                     "mean gap %": float(g.mean()), "median gap %": float(np.median(g)),
                     "total s": tot[k][0], "better than faq": f"{int((g < faq - 1e-9).sum())}/{len(g)}",
                     "better or equal": f"{int((g <= faq + 1e-9).sum())}/{len(g)}"})
    print("## Summary\n")
    print(table(summ))
    g_best, g20 = np.mean(tot["best"][1]), np.mean(tot["faq20"][1])
    frac = float(np.mean(np.array(tot["best"][1]) < faq - 1e-9))
    print(f"target: best mean gap {g_best:.3f}% <= FAQ best-of-20 {g20:.3f}%: {g_best <= g20}; "
          f"time {tot['best'][0]:.2f}s <= {tot['faq20'][0]:.2f}s: {tot['best'][0] <= tot['faq20'][0]}; "
          f"strictly better than FAQ default on {100 * frac:.0f}% (>= 80%: {frac >= 0.8})")


if __name__ == "__main__":
    main()
