"""Deep spectral clustering learning (Law, Urtasun & Zemel, ICML 2017) on the first author's toy
setup, with ``danneal.torch.SpectralClusteringLoss``.

Data: 3 classes in 3-D, each the union of 3 Gaussian sub-clusters (9 well separated sub-clusters
with random centres, so that classes are not convex and k-means on the raw points mixes them).  Model: MLP
3 -> 30 -> 30 -> 3 (ReLU), Adam (lr 1e-2), mini-batches of 150 (> d = 3) with their labels, trained on the
supervised loss ``c - tr(F F^+ C)`` (floor 0).  Test: embed held-out points, thin SVD of the
embedding, row-normalise U, k-means with 3 clusters; NMI against the classes, compared with
k-means on the raw held-out points.  Loss curve in ``benchmarks/out/dscl_toy.png``.

Usage: ``python benchmarks/dscl_toy.py [--full]`` (default 1 seed, --full 5 seeds).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from _common import header, plot_lines, table


def make_toy(n_per_sub, rng, centres=None, std=0.2, min_dist=1.5):
    """3 classes x 3 Gaussian sub-clusters in 3-D: centres uniform in [-2, 2]^3, at least
    ``min_dist`` apart (rejection sampling; 7.5 std, so the classes are separable and the floor 0
    of the loss is reachable), isotropic noise ``std``."""
    if centres is None:
        centres = []
        while len(centres) < 9:
            c = rng.uniform(-2, 2, size=3)
            if all(np.linalg.norm(c - o) >= min_dist for o in centres):
                centres.append(c)
        centres = np.array(centres)
    X = np.concatenate([c + std * rng.normal(size=(n_per_sub, 3)) for c in centres])
    sub = np.repeat(np.arange(9), n_per_sub)
    y = sub % 3  # class of sub-cluster j is j mod 3
    return X, y, centres


def spectral_embedding_labels(F, k, seed):
    from sklearn.cluster import KMeans

    U, _, _ = np.linalg.svd(F, full_matrices=False)
    U = U / np.maximum(np.linalg.norm(U, axis=1, keepdims=True), 1e-12)
    return KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(U)


def run(seed, epochs, batch=150, lr=1e-2):
    import torch
    from sklearn.cluster import KMeans
    from sklearn.metrics import normalized_mutual_info_score as nmi

    from danneal.torch import SpectralClusteringLoss

    rng = np.random.default_rng(seed)
    Xtr, ytr, centres = make_toy(200, rng)
    Xte, yte, _ = make_toy(200, rng, centres)
    torch.manual_seed(seed)
    torch.set_num_threads(1)  # a 3-30-30-3 MLP: threads only add overhead
    net = torch.nn.Sequential(
        torch.nn.Linear(3, 30), torch.nn.ReLU(), torch.nn.Linear(30, 30), torch.nn.ReLU(), torch.nn.Linear(30, 3)
    ).double()
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    loss_fn = SpectralClusteringLoss()
    X = torch.tensor(Xtr)
    y = torch.tensor(ytr)
    g = torch.Generator().manual_seed(seed)
    curve = []
    t0 = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(len(X), generator=g)
        tot, nb = 0.0, 0
        for i in range(0, len(X) - batch + 1, batch):
            idx = perm[i : i + batch]
            opt.zero_grad()
            loss = loss_fn(net(X[idx]), y[idx])
            loss.backward()
            opt.step()
            tot += loss.item()
            nb += 1
        curve.append(tot / nb)
    t_train = time.perf_counter() - t0
    with torch.no_grad():
        Fte = net(torch.tensor(Xte)).numpy()
        full_loss = loss_fn(torch.tensor(Fte), torch.tensor(yte)).item()
    pred = spectral_embedding_labels(Fte, 3, seed)
    raw = KMeans(n_clusters=3, n_init=10, random_state=seed).fit_predict(Xte)
    return {
        "nmi": nmi(yte, pred),
        "nmi_raw": nmi(yte, raw),
        "loss_first": curve[0],
        "loss_last": curve[-1],
        "test_loss": full_loss,
        "time": t_train,
    }, curve


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--full", action="store_true", help="5 seeds instead of 1")
    p.add_argument("--epochs", type=int, default=60)
    args = p.parse_args(argv)
    seeds = range(5) if args.full else range(1)
    print(header("Deep spectral clustering (SpectralClusteringLoss) on the 3 x 3 Gaussian toy problem"))
    print(
        f"MLP 3-30-30-3 (ReLU, float64), Adam lr 1e-2, batch 150, {args.epochs} epochs, 1800 train / 1800 "
        f"held-out points; floor of the monitored loss: 0\n"
    )
    rows = []
    curves = []
    for s in seeds:
        r, curve = run(s, args.epochs)
        curves.append(curve)
        rows.append(
            {
                "seed": s,
                "loss epoch 1": r["loss_first"],
                f"loss epoch {args.epochs}": r["loss_last"],
                "held-out loss": r["test_loss"],
                "NMI (SVD + row-norm + k-means)": r["nmi"],
                "NMI k-means raw": r["nmi_raw"],
                "train time (s)": r["time"],
            }
        )
    print(table(rows))
    plot_lines(
        {f"seed {s}": (np.arange(1, len(c) + 1), np.maximum(c, 1e-16)) for s, c in zip(seeds, curves)},
        name="dscl_toy",
        xlabel="epoch",
        ylabel="k - tr(F F+ C) (mean over batches)",
        logy=True,
    )


if __name__ == "__main__":
    main()
