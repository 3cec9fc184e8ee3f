"""Optional plotting helpers (matplotlib is an optional extra: ``pip install danneal[plot]``)."""

from __future__ import annotations

import numpy as np

__all__ = ["phase_diagram"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("danneal.plot needs matplotlib: pip install 'danneal[plot]'") from exc
    return plt


def phase_diagram(model, ax=None, *, per_sample=True, mark_splits=True):
    """Distortion and number of clusters against temperature, with the phase transitions marked.

    Parameters
    ----------
    model : fitted :class:`danneal.CentralAnnealing`
    ax : matplotlib Axes or None
        Axes for the distortion (a twin axis on its right shows K).  ``None``: a new figure.
    per_sample : bool, default=True
        Divide the distortion by the total sample weight.
    mark_splits : bool, default=True
        Draw a vertical dotted line at every split temperature.

    Returns
    -------
    ax, ax_k : matplotlib Axes
        The distortion axes and the twin axes with K.

    References
    ----------
    .. [1] K. Rose, "Deterministic annealing for clustering, compression, classification,
           regression, and related optimization problems", Proc. IEEE 86(11):2210-2239, 1998
           (the phase transitions at the critical temperatures, Sec. III).

    Examples
    --------
    The phase transitions of Rose's annealing [1]_ on two well separated groups:

    >>> import numpy as np
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from danneal import CentralAnnealing
    >>> from danneal.plot import phase_diagram
    >>> X = np.r_[np.zeros((10, 2)), np.full((10, 2), 4.0)] + np.linspace(0, 0.1, 20)[:, None]
    >>> model = CentralAnnealing(n_clusters=2, n_threads=1).fit(X)
    >>> ax, ax_k = phase_diagram(model)
    >>> ax.get_xlabel(), ax_k.get_ylabel()
    ('temperature T', 'number of clusters K')
    """
    hist = getattr(model, "history_", None)
    if hist is None:
        raise ValueError("phase_diagram needs a fitted CentralAnnealing (no history_ attribute)")
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    T = np.asarray(hist["T"], dtype=float)
    D = np.asarray(hist["distortion"], dtype=float)
    if per_sample and len(model.labels_):
        w = getattr(model, "_total_weight", None) or float(len(model.labels_))
        D = D / w
    ax.plot(T, D, color="C0", marker=".", label="distortion")
    ax.set_xscale("log")
    ax.invert_xaxis()  # cooling goes left to right
    ax.set_xlabel("temperature T")
    ax.set_ylabel("distortion" + (" per sample" if per_sample else ""), color="C0")
    ax_k = ax.twinx()
    ax_k.step(T, hist["n_clusters"], where="post", color="C1", label="K")
    ax_k.set_ylabel("number of clusters K", color="C1")
    if mark_splits:
        for s in getattr(model, "splits_", []):
            ax.axvline(s["T"], color="0.6", linestyle=":", linewidth=0.8)
    ax.set_title("deterministic annealing phase diagram")
    return ax, ax_k
