"""
How many clusters do the data support?
======================================

:class:`danneal.CentralAnnealing` with ``n_clusters="auto"`` starts with one cluster at a high
temperature; each time the temperature falls below a cluster's critical temperature
``2 * lambda_max(C)`` (its largest posterior variance) the cluster splits.  The number of clusters
that stays stable over the widest range of temperatures is the one chosen.  On the wine data (13
standardised features, 3 cultivars) it is 3.
"""

import matplotlib.pyplot as plt
from sklearn.datasets import load_wine
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import StandardScaler

import danneal
from danneal.plot import phase_diagram

X, y = load_wine(return_X_y=True)
X = StandardScaler().fit_transform(X)
model = danneal.CentralAnnealing(n_clusters="auto", random_state=0, n_threads=1).fit(X)
print(f"chosen K = {model.n_clusters_}, ARI against the cultivars = {adjusted_rand_score(y, model.labels_):.3f}")
for entry in model.path_[:5]:
    print(f"K = {entry['n_clusters']} from T = {entry['T_start']:.3g} down to T = {entry['T_end']:.3g}")

ax, _ = phase_diagram(model)
ax.set_title("wine: distortion and number of clusters as the temperature falls")
plt.show()
