"""Deep divergence-based clustering (DDC) with ``danneal.torch.DDCLoss``: a small MLP on
scikit-learn's digits and on three Gaussian blobs, against k-means.

Model (after Kampffmeyer et al. 2019, the DDC clustering module): MLP encoder
``d -> 256 -> 64`` (ReLU, batch norm) whose output is the hidden layer ``H`` of the loss, then a
linear head + softmax giving the soft assignments ``A``; trained with Adam on mini-batches with the
DDC loss only (no labels).  Metrics: accuracy after Hungarian matching of clusters to classes
(``scipy.optimize.linear_sum_assignment``) and NMI, both on the argmax of ``A`` over all points;
k-means (scikit-learn, ``n_init=10``) on the same standardised inputs is the baseline.  The loss
curves go to ``benchmarks/out/ddc_digits.png``.

Usage: ``python benchmarks/ddc_digits.py [--full]`` (default: 1 seed, ~seconds; --full: 5 seeds).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from _common import header, plot_lines, table


def hungarian_accuracy(y, pred):
    from scipy.optimize import linear_sum_assignment

    k = max(y.max(), pred.max()) + 1
    C = np.zeros((k, k), dtype=np.int64)
    np.add.at(C, (pred, y), 1)
    r, c = linear_sum_assignment(-C)
    return C[r, c].sum() / len(y)


def datasets(seed=0):
    from sklearn.datasets import load_digits, make_blobs
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    out = {"digits": (StandardScaler().fit_transform(X), y, 10)}
    Xb, yb = make_blobs(n_samples=1500, centers=3, n_features=2, cluster_std=1.0, random_state=seed)
    out["3 blobs"] = (StandardScaler().fit_transform(Xb), yb, 3)
    return out


def train_ddc(X, k, *, seed, epochs, batch=256, lr=1e-3, torch_threads=1):
    import torch

    from danneal.torch import DDCLoss

    torch.manual_seed(seed)
    # a small MLP: torch's own threads only add overhead (and contention on a busy machine); the
    # DDC loss uses danneal's threads (n_threads=None: all cores)
    torch.set_num_threads(torch_threads)
    Xt = torch.tensor(X, dtype=torch.float32)
    d = X.shape[1]
    encoder = torch.nn.Sequential(
        torch.nn.Linear(d, 256),
        torch.nn.ReLU(),
        torch.nn.BatchNorm1d(256),
        torch.nn.Linear(256, 64),
        torch.nn.ReLU(),
        torch.nn.BatchNorm1d(64),
    )
    head = torch.nn.Linear(64, k)
    params = [*encoder.parameters(), *head.parameters()]
    opt = torch.optim.Adam(params, lr=lr)
    loss_fn = DDCLoss()
    g = torch.Generator().manual_seed(seed)
    curve = []
    for _ in range(epochs):
        encoder.train()
        perm = torch.randperm(len(Xt), generator=g)
        tot = 0.0
        nb = 0
        for i in range(0, len(Xt), batch):
            idx = perm[i : i + batch]
            if len(idx) < 2 * k:
                continue
            opt.zero_grad()
            h = encoder(Xt[idx])
            A = torch.softmax(head(h), 1)
            loss = loss_fn(A, h)
            loss.backward()
            opt.step()
            tot += loss.item()
            nb += 1
        curve.append(tot / max(nb, 1))
    encoder.eval()
    with torch.no_grad():
        pred = head(encoder(Xt)).argmax(1).numpy()
    return pred, curve


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--full", action="store_true", help="5 seeds instead of 1")
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default 40, --full 100)")
    args = p.parse_args(argv)
    from sklearn.cluster import KMeans
    from sklearn.metrics import normalized_mutual_info_score as nmi

    seeds = range(5) if args.full else range(1)
    epochs = args.epochs or (100 if args.full else 40)
    print(header("DDC (danneal.torch.DDCLoss) vs k-means: digits and three blobs"))
    print(
        f"MLP d-256-64 (ReLU, batch norm) + linear/softmax head, Adam lr 1e-3, batch 256, {epochs} epochs, "
        f"seeds {list(seeds)}; mean ± std over seeds\n"
    )
    rows = []
    curves = {}
    for name, (X, y, k) in datasets().items():
        res = {"DDC (danneal)": [], "k-means": []}
        t_ddc = []
        for s in seeds:
            t0 = time.perf_counter()
            pred, curve = train_ddc(X, k, seed=s, epochs=epochs)
            t_ddc.append(time.perf_counter() - t0)
            curves.setdefault(name, curve)
            res["DDC (danneal)"].append((hungarian_accuracy(y, pred), nmi(y, pred)))
            km = KMeans(n_clusters=k, n_init=10, random_state=s).fit(X)
            res["k-means"].append((hungarian_accuracy(y, km.labels_), nmi(y, km.labels_)))
        for method, vals in res.items():
            v = np.array(vals)
            rows.append(
                {
                    "data": name,
                    "n": len(y),
                    "k": k,
                    "method": method,
                    "ACC": f"{v[:, 0].mean():.3f} ± {v[:, 0].std():.3f}",
                    "NMI": f"{v[:, 1].mean():.3f} ± {v[:, 1].std():.3f}",
                    "train time (s)": f"{np.mean(t_ddc):.1f}" if method.startswith("DDC") else "",
                }
            )
    print(table(rows))
    plot_lines(
        {name: (np.arange(1, len(c) + 1), c) for name, c in curves.items()},
        name="ddc_digits",
        xlabel="epoch",
        ylabel="DDC loss (mean over batches)",
    )


if __name__ == "__main__":
    main()
