"""
Clustering under the L1 distance
================================

k-means minimises squared Euclidean distances only.  :class:`danneal.PairwiseAnnealing` minimises
the pairwise clustering cost ``sum_c sum_{i,j in c} D_ij / (2 n_c)`` for any dissimilarity, here
the L1 (cityblock) distance on the standardised breast-cancer data, and is compared with
average-linkage agglomerative clustering on the same matrix.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.cluster import AgglomerativeClustering
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import adjusted_rand_score, pairwise_distances
from sklearn.preprocessing import StandardScaler

import danneal

X, y = load_breast_cancer(return_X_y=True)
X = StandardScaler().fit_transform(X)
D = pairwise_distances(X, metric="cityblock")


def cost(labels):
    return sum(D[np.ix_(labels == c, labels == c)].sum() / (2.0 * (labels == c).sum()) for c in np.unique(labels))


pa = danneal.PairwiseAnnealing(2, metric="precomputed", random_state=0, n_threads=1).fit(D)
ag = AgglomerativeClustering(2, metric="precomputed", linkage="average").fit(D)
for name, labels in (("PairwiseAnnealing", pa.labels_), ("AgglomerativeClustering", ag.labels_)):
    print(f"{name:<24} cost {cost(labels):10.1f}  ARI {adjusted_rand_score(y, labels):.3f}")

T = [rec["T"] for rec in pa.history_]
fig, ax = plt.subplots(figsize=(5, 3.5))
ax.semilogx(T, [rec["cost"] for rec in pa.history_], marker="o")
ax.invert_xaxis()
ax.set_xlabel("temperature T")
ax.set_ylabel("pairwise cost of the soft assignments")
ax.set_title("PairwiseAnnealing: cost as T falls")
plt.show()
