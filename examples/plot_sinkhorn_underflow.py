"""
Sinkhorn where ``exp(-cost / reg)`` underflows
===============================================

With costs in [8, 9] and ``reg = 0.01`` every entry of the Gibbs kernel ``exp(-cost / reg)`` is
below ``exp(-800)``, zero in float64.  A Sinkhorn written with that kernel returns a zero plan
or NaN; :func:`danneal.sinkhorn` works in the log domain and returns the same plan as for the
costs shifted to [0, 1] (a constant offset does not change the optimal plan).
"""

import matplotlib.pyplot as plt
import numpy as np

import danneal

rng = np.random.default_rng(0)
n = 60
xs, xt = rng.normal(size=(n, 2)), rng.normal(size=(n, 2)) + 1.0
M = ((xs[:, None, :] - xt[None, :, :]) ** 2).sum(-1)
M = M / M.max() + 8.0
a = np.full(n, 1.0 / n)

print("largest kernel entry exp(-min(M) / reg):", np.exp(-M.min() / 0.01))
P = danneal.sinkhorn(M, a, a, 0.01, n_threads=1)
P0 = danneal.sinkhorn(M - 8.0, a, a, 0.01, n_threads=1)
print(
    f"plan mass {P.sum():.6f}, marginal error {np.abs(P.sum(1) - a).sum() + np.abs(P.sum(0) - a).sum():.2g}, "
    f"max |P - P(shifted costs)| = {np.abs(P - P0).max():.2g}"
)

fig, ax = plt.subplots(figsize=(5, 4))
ax.imshow(P, cmap="viridis")
ax.set_title("transport plan at reg = 0.01 (costs in [8, 9])")
ax.set_xlabel("target")
ax.set_ylabel("source")
plt.show()
