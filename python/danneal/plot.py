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


def phase_diagram(model, ax=None, *, per_sample=True, mark_splits=True, mark_k=True):
    """Distortion and number of clusters against temperature, with the phase transitions marked.

    The temperature axis is logarithmic, cooling left to right, with plain-number tick labels
    (``0.01``, ``2``, ``5e+04``) at 1, 2 and 5 times the powers of ten when the path spans fewer
    than four decades, at the powers of ten otherwise.

    Parameters
    ----------
    model : fitted :class:`danneal.CentralAnnealing`
    ax : matplotlib Axes or None
        Axes for the distortion (a twin axis on its right shows K).  ``None``: a new figure.
    per_sample : bool, default=True
        Divide the distortion by the total sample weight.
    mark_splits : bool, default=True
        Draw a vertical dotted line at every split temperature.
    mark_k : bool, default=True
        Shade the temperature range over which the chosen number of clusters (``n_clusters_``)
        was stable on the annealing path and label it ``K = ...`` (the range ``n_clusters="auto"``
        picks by).

    Returns
    -------
    (ax, ax_k) : the distortion axes and the twin axes with K.
    """
    hist = getattr(model, "history_", None)
    if hist is None:
        raise ValueError("phase_diagram needs a fitted CentralAnnealing (no history_ attribute)")
    plt = _pyplot()
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

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
    pos = T[T > 0]
    decades = np.log10(pos.max() / pos.min()) if len(pos) else 0.0
    ax.xaxis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0) if decades < 4 else (1.0,)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda t, _: f"{t:.3g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("temperature T (log scale)")
    ax.set_ylabel("distortion" + (" per sample" if per_sample else ""), color="C0")
    ax_k = ax.twinx()
    ax_k.step(T, hist["n_clusters"], where="post", color="C1", label="K")
    ax_k.set_ylabel("number of clusters K", color="C1")
    if mark_splits:
        for s in getattr(model, "splits_", []):
            ax.axvline(s["T"], color="0.6", linestyle=":", linewidth=0.8)
    if mark_k:
        k = getattr(model, "n_clusters_", None)
        entry = next((e for e in getattr(model, "path_", []) if e["n_clusters"] == k), None)
        if entry is not None:
            hi, lo = float(entry["T_start"]), float(entry["T_end"])
            if not lo < hi:  # met at one temperature only: a thin band around it
                hi, lo = hi * 1.02, lo / 1.02
            ax.axvspan(lo, hi, color="C2", alpha=0.15, label=f"K = {k}")
            ax.annotate(f"K = {k}", xy=(np.sqrt(hi * lo), 0.95), xycoords=("data", "axes fraction"),
                        ha="center", va="top", color="C2")
    ax.set_title("deterministic annealing phase diagram")
    return ax, ax_k
