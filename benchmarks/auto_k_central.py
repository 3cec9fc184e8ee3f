"""How often ``CentralAnnealing(n_clusters="auto")`` finds the reference number of clusters, and
what other criteria computed from the same annealing path would find (issue 15 §3).

One ``"auto"`` fit per set (``max_clusters`` = 20, sets with a reference K <= 20: iris, digits and
the clustering suite under ../shared/data/clustering; reference K = number of non-noise labels in
labels0).  From its path (``path_``: every K met, the temperature range over which it was stable,
its centroids) the script evaluates, with no per-set tuning:

* ``PS>=0.9``: the largest K whose prediction strength (Tibshirani and Walther 2005) over
  random half-splits of the rows is >= 0.9, else the K of the largest prediction strength -- what
  ``"auto"`` returns (``prediction_strength_`` of the fit: both halves annealed, the centroids of
  one half at K predict the other half's clustering at K); ``PS>=0.8``: the same at 0.8;
  ``PS>=0.9 or 2``: K = 2 when no K reaches 0.9; ``PS max``: the largest prediction strength;
  ``PS>=0.9&w``: the largest K with prediction strength >= 0.9 and a range wider than the
  Gaussian-cascade width (else ``finest>null``);
* ``finest>null``: the largest K stable over a range of log T wider than log(pi/(pi-2)) (the widest
  range the successive splits of one Gaussian cluster leave), else ``widest`` -- what ``"auto"``
  returned before the prediction strength;
* ``widest``: the K stable over the widest range of log T between two phase transitions (K = 1
  and the open-ended last range excluded) -- what ``"auto"`` returned before;
* ``widest-min``/``widest-max``: the smallest/largest K whose range is >= 0.5 x the widest;
* ``mass>=2%``: the widest range of the number of clusters holding >= 2 % of the weight each
  (ranges of path entries with the same such number added up: splits that only cut off small
  groups of outliers do not end a range);
* ``split/cov``: the range weighted by the split's critical temperature relative to the data's
  first one, ``log(T_start/T_end) x T_start / (2 lambda_max(C_x))`` (strong splits early);
* ``CH``: the Calinski-Harabasz index of the hard partitions of the path's centroids;
* ``elbow``: the K after which the distortion of the path's partitions falls least,
  ``(W_{K-1} - W_K) / (W_K - W_{K+1})`` largest;
* ``sil``/``sil-inner``: the K (>= 2) of the largest mean Silhouette of the nearest-centroid
  partition of the path's centroids (one candidate per K met; ``sil-inner`` leaves out the
  open-ended last entry), with the compiled exact Silhouette (on 20,000 rows at most);
* ``BIC``/``BIC-perK``: the K of the smallest BIC of the Gaussian mixture with the path's centroids
  as means, the masses and spherical variances (shared / one per cluster) of their partition;
* ``sil&w>step``/``sil&w>null``: the largest Silhouette among the Ks whose log-T range is wider than
  1.5 cooling steps / the Gaussian-cascade width (else ``widest``); ``sil x w``: the largest
  Silhouette x summed log-T range;
* ``finest>parent``: ``finest>null`` with the cascade width of the widest cluster of the previous
  path entry, ``log(1 / max(1 - 2/pi, l2/l1))`` (l1 >= l2 its top principal variances).

    python benchmarks/auto_k_central.py             # sets with <= 2,000 rows (about a minute)
    python benchmarks/auto_k_central.py --full      # every set
    python benchmarks/auto_k_central.py --full --splits 4   # 4 half-splits instead of 2
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import header, table
from quality_central import sets

import danneal._central as central
from danneal import CentralAnnealing


def path_stats(model, X):
    """(K, log-T width, T_start, hard distortion W, masses) per path entry, last entry included."""
    out = []
    for e in model.path_:
        C = e["cluster_centers"].astype(np.float64)
        d2 = np.full(len(X), np.inf)
        for c in C:
            d2 = np.minimum(d2, ((X - c) ** 2).sum(1))
        out.append(
            {
                "K": e["n_clusters"],
                "width": float(np.log(e["T_start"] / e["T_end"])),
                "T_start": float(e["T_start"]),
                "T_end": float(e["T_end"]),
                "W": float(d2.sum()),
                "masses": np.asarray(e["cluster_weights"]),
                "centers": C,
            }
        )
    return out


def widest(P, **_):
    inner = [e for e in P[:-1] if e["K"] >= 2]
    return max(inner, key=lambda e: e["width"])["K"] if inner else P[-1]["K"]


def finest_above_null(P, **_):
    inner = [e for e in P[:-1] if e["K"] >= 2]
    ks = [e["K"] for e in inner if e["width"] > np.log(np.pi / (np.pi - 2.0))]
    return max(ks) if ks else widest(P)


def widest_frac(P, largest, frac=0.5, **_):
    inner = [e for e in P[:-1] if e["K"] >= 2]
    if not inner:
        return P[-1]["K"]
    top = max(e["width"] for e in inner)
    ks = [e["K"] for e in inner if e["width"] >= frac * top]
    return max(ks) if largest else min(ks)


def big_mass(P, t=0.02, **_):
    acc = {}
    for e in P[:-1]:
        k = int((e["masses"] >= t).sum())
        if k >= 2:
            acc[k] = acc.get(k, 0.0) + e["width"]
    return max(acc, key=lambda k: (acc[k], -k)) if acc else P[-1]["K"]


def split_cov(P, Tc0, **_):
    inner = [e for e in P[:-1] if e["K"] >= 2]
    return max(inner, key=lambda e: e["width"] * e["T_start"] / Tc0)["K"] if inner else P[-1]["K"]


def calinski_harabasz(P, n, **_):
    tss = P[0]["W"]
    best, val = P[-1]["K"], -np.inf
    for e in P[1:]:
        k, W = e["K"], e["W"]
        if k < n and W > 0:
            v = (tss - W) / (k - 1) / (W / (n - k))
            if v > val:
                best, val = k, v
    return best


def elbow(P, **_):
    best, val = P[-1]["K"], -np.inf
    for i in range(1, len(P) - 1):
        a, b, c = P[i - 1]["W"], P[i]["W"], P[i + 1]["W"]
        if b - c > 0 and (a - b) / (b - c) > val:
            best, val = P[i]["K"], (a - b) / (b - c)
    return best


_SIL_MAX = 20000  # silhouettes on a fixed sample of this many rows beyond
_THREADS = [2]  # threads of the Silhouette kernel (--threads)


def _labels(X, C):
    """Nearest-centroid labels of the rows X, renumbered 0.. in order of first appearance."""
    xx = (X * X).sum(1)
    lab = np.argmin(xx[:, None] - 2.0 * X @ C.T + (C * C).sum(1)[None, :], axis=1)
    u, first, inv = np.unique(lab, return_index=True, return_inverse=True)
    return np.argsort(np.argsort(first))[inv.ravel()].astype(np.int64), len(u)


def _candidates(P, last):
    """Path entries with K >= 2, one per K (the first met), the open-ended last one if ``last``."""
    seen, out = set(), []
    for e in P if last else P[:-1]:
        if e["K"] >= 2 and e["K"] not in seen:
            seen.add(e["K"])
            out.append(e)
    return out


def silhouettes(P, X, last=True):
    """{K: mean Silhouette of the nearest-centroid partition of the path's centroids at K}."""
    from danneal import _core

    if len(X) > _SIL_MAX:
        X = X[np.sort(np.random.RandomState(0).choice(len(X), _SIL_MAX, replace=False))]
    cand = _candidates(P, last)
    if not cand:
        return {}
    labs = [_labels(X, e["centers"]) for e in cand]
    L = np.array([lab for lab, _ in labs])
    _, mean = _core.silhouette(np.ascontiguousarray(X), L, int(L.max()) + 1, None, _THREADS[0])
    return {e["K"]: (float(m) if nk >= 2 else -1.0) for e, (_, nk), m in zip(cand, labs, mean)}


def silhouette(P, X, last=True, **_):
    s = silhouettes(P, X, last)
    return max(s, key=lambda k: (s[k], -k)) if s else P[-1]["K"]


def _gmm_bic(X, C, per_cluster):
    """BIC of the Gaussian mixture with means C, masses and spherical variances (shared, or one per
    cluster) of the nearest-centroid partition (maximum-likelihood given that partition)."""
    n, d = X.shape
    D2 = np.maximum((X * X).sum(1)[:, None] - 2.0 * X @ C.T + (C * C).sum(1)[None, :], 0.0)
    lab = np.argmin(D2, axis=1)
    cnt = np.bincount(lab, minlength=len(C)).astype(np.float64)
    keep = cnt > 0
    D2, cnt, lab_d = D2[:, keep], cnt[keep], D2[np.arange(n), lab]
    k = len(cnt)
    if per_cluster:
        w = np.bincount(np.searchsorted(np.flatnonzero(keep), lab), weights=lab_d, minlength=k)
        var = np.maximum(w / (cnt * d), 1e-12 * lab_d.mean() + 1e-300)
        n_var = k
    else:
        var = np.full(k, max(lab_d.sum() / (n * d), 1e-300))
        n_var = 1
    logp = np.log(cnt / n) - 0.5 * d * np.log(2.0 * np.pi * var)
    A = logp[None, :] - 0.5 * D2 / var[None, :]
    m = A.max(1)
    ll = float((m + np.log(np.exp(A - m[:, None]).sum(1))).sum())
    return -2.0 * ll + (k * d + (k - 1) + n_var) * np.log(n)


def bic(P, X, per_cluster=False, **_):
    cand = _candidates(P, True)
    if not cand:
        return P[-1]["K"]
    return min(cand, key=lambda e: _gmm_bic(X, e["centers"], per_cluster))["K"]


_ONE_AND_HALF_STEPS = np.log(1 / 0.9) * 1.5  # 1.5 cooling steps of 0.9 in log T


def silhouette_wide(P, X, min_width=_ONE_AND_HALF_STEPS, **_):
    """Max Silhouette among the Ks whose log-T range is more than one cooling step."""
    s = silhouettes(P, X, last=False)
    w = {}
    for e in P[:-1]:
        if e["K"] >= 2:
            w[e["K"]] = max(w.get(e["K"], 0.0), e["width"])
    ok = {k: v for k, v in s.items() if w.get(k, 0.0) > min_width}
    return max(ok, key=lambda k: (ok[k], -k)) if ok else widest(P)


def silhouette_x_width(P, X, **_):
    """Max of Silhouette x log-T range (summed per K)."""
    s = silhouettes(P, X, last=False)
    w = {}
    for e in P[:-1]:
        if e["K"] >= 2:
            w[e["K"]] = w.get(e["K"], 0.0) + e["width"]
    return max(s, key=lambda k: (s[k] * w[k], -k)) if s else widest(P)


def finest_above_parent_null(P, X, **_):
    """``finest>null`` with the cascade width of the cluster that split: a Gaussian of principal
    variances l1 >= l2 splits again at most a factor 1 / max(1 - 2/pi, l2/l1) lower (the widest
    cluster of the previous entry's nearest-centroid partition taken as the one that split)."""
    ks = []
    for prev, e in zip(P[:-2], P[1:-1]):
        if e["K"] < 2:
            continue
        lab, _ = _labels(X, prev["centers"])
        l1 = l2 = 0.0
        for k in np.unique(lab):
            Z = X[lab == k]
            if len(Z) >= 3:
                ev = np.linalg.eigvalsh(np.atleast_2d(np.cov(Z.T, bias=True)))[::-1]
                if ev[0] > l1:
                    l1, l2 = float(ev[0]), float(ev[1]) if len(ev) > 1 else 0.0
        w0 = np.log(1.0 / max(1.0 - 2.0 / np.pi, l2 / l1)) if l1 > 0 else _NULL
        if e["width"] > w0 + 1e-9:
            ks.append(e["K"])
    return max(ks) if ks else widest(P)


def _ps_pick(ps, t, fallback):
    ok = {k: v for k, v in (ps or {}).items() if np.isfinite(v)}
    strong = [k for k, v in ok.items() if v >= t]
    if strong:
        return max(strong)
    if fallback == "two" or not ok:
        return 2
    return max(ok, key=lambda k: (ok[k], k))


def ps_and_width(P, ps, **_):
    inner = {e["K"]: e["width"] for e in P[:-1] if e["K"] >= 2}
    ks = [k for k, v in (ps or {}).items() if np.isfinite(v) and v >= 0.9 and inner.get(k, 0.0) > _NULL]
    return max(ks) if ks else finest_above_null(P)


CRITERIA = {
    "PS>=0.9": lambda P, ps, **k: _ps_pick(ps, 0.9, "max") if ps else finest_above_null(P),
    "PS>=0.8": lambda P, ps, **k: _ps_pick(ps, 0.8, "max") if ps else finest_above_null(P),
    "PS>=0.9 or 2": lambda P, ps, **k: _ps_pick(ps, 0.9, "two") if ps else finest_above_null(P),
    "PS max": lambda P, ps, **k: _ps_pick(ps, 2.0, "max") if ps else finest_above_null(P),
    "PS>=0.9&w": ps_and_width,
    "finest>null": finest_above_null,
    "widest": widest,
    "widest-min": lambda P, **k: widest_frac(P, False),
    "widest-max": lambda P, **k: widest_frac(P, True),
    "mass>=2%": big_mass,
    "split/cov": split_cov,
    "CH": calinski_harabasz,
    "elbow": elbow,
    "sil": silhouette,
    "sil-inner": lambda P, X, **k: silhouette(P, X, last=False),
    "BIC": bic,
    "BIC-perK": lambda P, X, **k: bic(P, X, per_cluster=True),
    "sil&w>step": silhouette_wide,
    "sil&w>null": lambda P, X, **k: silhouette_wide(P, X, _NULL),
    "sil x w": silhouette_x_width,
    "finest>parent": finest_above_parent_null,
}
_NULL = float(np.log(np.pi / (np.pi - 2.0)))  # the Gaussian-cascade width (``_NULL_WIDTH`` of the fit)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--full", action="store_true", help="every set (minutes)")
    ap.add_argument("--max-clusters", type=int, default=20)
    ap.add_argument("--cooling", type=float, default=0.9, help="cooling of the auto fits")
    ap.add_argument(
        "--splits", type=int, default=None, help="half-splits of the prediction strength (default: the fit's)"
    )
    ap.add_argument(
        "--cache",
        default=None,
        help="pickle of the fits' paths: read if it exists, else written (to compare criteria without refitting)",
    )
    args = ap.parse_args(argv)
    _THREADS[0] = args.threads
    if args.splits is not None:
        central._PS_SPLITS = args.splits
    cache = {}
    if args.cache and Path(args.cache).exists():
        with open(args.cache, "rb") as f:
            cache = pickle.load(f)
    print(header('CentralAnnealing(n_clusters="auto"): reference K found, per criterion on the annealing path'))
    rows, hits = [], dict.fromkeys(CRITERIA, 0)
    with threadpool_limits(args.threads):
        for battery, name, X, y in sets():
            X = np.asarray(X, dtype=np.float64)
            K = len(np.unique(y[y > 0]))
            if K > args.max_clusters or (not args.full and len(X) > 2000):
                continue
            key = f"{battery}/{name}"
            if key not in cache:
                t0 = time.perf_counter()
                m = CentralAnnealing(
                    "auto", max_clusters=args.max_clusters, cooling=args.cooling, n_threads=args.threads
                ).fit(X)
                t_auto = time.perf_counter() - t0
                # the same fit without the half-splits (the log-T width rule alone), timed in this process
                splits, central._PS_SPLITS = central._PS_SPLITS, 0
                try:
                    t0 = time.perf_counter()
                    CentralAnnealing(
                        "auto", max_clusters=args.max_clusters, cooling=args.cooling, n_threads=args.threads
                    ).fit(X)
                    t_width = time.perf_counter() - t0
                finally:
                    central._PS_SPLITS = splits
                cache[key] = (path_stats(m, X), m.n_clusters_, t_auto, m.prediction_strength_, t_width)
            P, auto_k, t, ps, t_width = (*cache[key], None, None)[:5]
            Tc0 = 2.0 * float(np.linalg.eigvalsh(np.atleast_2d(np.cov(X.T, bias=True)))[-1])
            row = {"set": key, "n": len(X), "reference K": K, "auto K": auto_k}
            for c, f in CRITERIA.items():
                k = f(P, n=len(X), Tc0=Tc0, X=X, ps=ps)
                hits[c] += k == K
                row[c] = k if k == K else f"{k} (miss)"
            row["auto s"] = t
            row["width-rule s"] = t_width
            row["x"] = t / t_width if t_width else None
            rows.append(row)
            print(f"  {battery}/{name}: K={K} auto={auto_k}", file=sys.stderr, flush=True)
    if args.cache:
        with open(args.cache, "wb") as f:
            pickle.dump(cache, f)
    print(table(rows))
    print("hits: " + ", ".join(f"{c} {hits[c]}/{len(rows)} = {100 * hits[c] / len(rows):.0f} %" for c in CRITERIA))
    ratio = [r["x"] for r in rows if r["x"] is not None]
    if ratio:
        print(f"auto fit / width-rule fit time: median {np.median(ratio):.2f}x, max {np.max(ratio):.2f}x")
    print(f"target >= 60 % (auto = PS>=0.9): {'met' if hits['PS>=0.9'] >= 0.6 * len(rows) else 'NOT met'}")


if __name__ == "__main__":
    main()
