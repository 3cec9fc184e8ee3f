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


def test_phase_diagram_marks_chosen_k_and_readable_ticks():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from danneal.plot import phase_diagram

    X, _ = make_blobs(300, centers=4, cluster_std=0.4, random_state=2)
    m = CentralAnnealing("auto", max_clusters=6, n_threads=1).fit(X)
    ax, _ = phase_diagram(m)
    ax.figure.canvas.draw()
    entry = next(e for e in m.path_ if e["n_clusters"] == m.n_clusters_)
    bands = [p for p in ax.patches if p.get_label() == f"K = {m.n_clusters_}"]
    assert len(bands) == 1
    band = bands[0]  # a Rectangle (matplotlib >= 3.9) or a Polygon (older)
    xs = (
        np.array([band.get_x(), band.get_x() + band.get_width()])
        if hasattr(band, "get_width")
        else np.asarray(band.get_xy())[:, 0]
    )
    np.testing.assert_allclose([xs.min(), xs.max()], sorted([entry["T_end"], entry["T_start"]]), rtol=0.03)
    assert any(t.get_text() == f"K = {m.n_clusters_}" for t in ax.texts)
    # tick labels are plain numbers (no mathtext), at least two of them in the visible range
    lo, hi = sorted(ax.get_xlim())
    labels = [t.get_text() for t in ax.get_xticklabels() if lo <= t.get_position()[0] <= hi and t.get_text()]
    assert len(labels) >= 2
    for text in labels:
        float(text)  # parses as a number
    plt.close("all")


def test_clam_basins_draws():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from danneal import ClAM
    from danneal.plot import clam_basins

    X, _ = make_blobs(90, centers=3, cluster_std=0.6, random_state=0)
    m = ClAM(3, random_state=0, n_threads=1).fit(X)
    ax = clam_basins(m, X, resolution=40)
    assert ax.basins_.shape == ax.voronoi_.shape == (40, 40)
    assert len(ax.collections) >= 3  # basins, Voronoi boundaries, points and prototypes
    assert set(np.unique(ax.basins_)) <= set(range(3))
    # sharp softmax: the basins are the Voronoi cells; soft (small beta): they differ somewhere
    sharp = clam_basins(m, X, resolution=40, beta=1e4, ax=plt.figure().gca())
    np.testing.assert_array_equal(sharp.basins_, sharp.voronoi_)
    soft = clam_basins(m, X, resolution=40, beta=1e-3, n_steps=50, ax=plt.figure().gca())
    assert (soft.basins_ != soft.voronoi_).any()
    plt.close("all")
    with pytest.raises(ValueError, match="2-D data"):
        clam_basins(ClAM(2, random_state=0, n_threads=1).fit(np.c_[X, X[:, :1]]), X)
