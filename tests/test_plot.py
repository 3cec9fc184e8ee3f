"""danneal.plot (matplotlib is an optional extra)."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from danneal import CentralAnnealing


def test_phase_diagram():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from danneal.plot import phase_diagram

    X, _ = make_blobs(200, centers=3, cluster_std=0.5, random_state=0)
    m = CentralAnnealing(3, n_threads=1).fit(X)
    ax, ax_k = phase_diagram(m)
    line = ax.get_lines()[0]
    np.testing.assert_allclose(line.get_xdata(), m.history_["T"])
    np.testing.assert_allclose(line.get_ydata(), m.history_["distortion"] / len(X))
    assert ax.get_xscale() == "log"
    assert len(ax.get_lines()) == 1 + len(m.splits_)  # one dotted line per split
    assert ax_k.get_lines()[0].get_ydata().max() == 3
    plt.close("all")


def test_phase_diagram_needs_fitted_model():
    pytest.importorskip("matplotlib")
    from danneal.plot import phase_diagram

    with pytest.raises(ValueError, match="fitted"):
        phase_diagram(CentralAnnealing(2))
