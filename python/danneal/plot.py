"""Optional plotting helpers (matplotlib is an optional extra: ``pip install danneal[plot]``)."""

from __future__ import annotations

import numpy as np

__all__ = ["phase_diagram", "clam_basins"]


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
    ('temperature T (log scale)', 'number of clusters K')
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
            ax.annotate(
                f"K = {k}",
                xy=(np.sqrt(hi * lo), 0.95),
                xycoords=("data", "axes fraction"),
                ha="center",
                va="top",
                color="C2",
            )
    ax.set_title("deterministic annealing phase diagram")
    return ax, ax_k


def clam_basins(model, X, ax=None, *, resolution=200, margin=0.1, beta=None, n_steps=None, show_points=True):
    """Attractor basins of a fitted ClAM against the Voronoi cells of the same prototypes, on 2-D
    data (the ClAM paper's figures 11-12).

    A grid over the data's bounding box is labelled by the recursion (``model.predict``: the
    nearest prototype after ``n_steps`` unmasked steps), drawn as coloured regions; the dashed
    lines are the boundaries of the Voronoi cells (nearest prototype without the recursion, in the
    model's standardised space);
    black dots are the prototypes.  The two coincide as beta grows.

    Parameters
    ----------
    model : fitted :class:`danneal.ClAM` on 2 features
    X : array (n_samples, 2)
        Data: sets the plotted region and is drawn as small dots (``show_points``).
    ax : matplotlib Axes or None
        ``None``: a new figure.
    resolution : int, default=200
        Grid points per axis.
    margin : float, default=0.1
        Fraction of the data range added on every side.
    beta : float or None
        Draw the basins at this ``beta`` instead of the fitted one (the paper's figure varies it).
    n_steps : int or None
        Steps of the recursion (default: the fitted ``n_steps``).
    show_points : bool, default=True
        Draw the data ``X`` as small grey dots.

    Returns
    -------
    ax : matplotlib Axes
        The Axes drawn on; ``ax.basins_`` (resolution x resolution labels of the basins) and
        ``ax.voronoi_`` (labels of the Voronoi cells) hold the two partitions of the grid.

    References
    ----------
    .. [1] B. Saha, D. Krotov, M. J. Zaki and P. Ram, "End-to-end differentiable clustering with
           associative memories", ICML 2023, PMLR 202 (figures 11-12: basins against Voronoi
           cells as beta varies).

    Examples
    --------
    Two well separated groups: at a large ``beta`` the basins of the recursion [1]_ agree with
    the Voronoi cells almost everywhere on the grid.

    >>> import numpy as np
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from danneal import ClAM
    >>> from danneal.plot import clam_basins
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(0, 0.3, (20, 2)), rng.normal(3, 0.3, (20, 2))]
    >>> model = ClAM(n_clusters=2, random_state=0, n_threads=1).fit(X)
    >>> ax = clam_basins(model, X, resolution=40, beta=50.0)
    >>> ax.basins_.shape, ax.voronoi_.shape
    ((40, 40), (40, 40))
    >>> sorted(np.unique(ax.basins_).tolist())
    [0, 1]
    >>> bool((ax.basins_ == ax.voronoi_).mean() > 0.95)
    True
    """
    from sklearn.utils.validation import check_is_fitted

    from ._validation import as_float_array, check_int

    check_is_fitted(model, "cluster_centers_")
    X = as_float_array(X, "X", ndim=2, dtype=np.float64)
    if X.shape[1] != 2 or model.n_features_in_ != 2:
        raise ValueError(
            f"clam_basins needs 2-D data and a model fitted on 2 features, got X with {X.shape[1]} "
            f"and a model with {model.n_features_in_}"
        )
    resolution = check_int(resolution, "resolution", low=2, high=4000)
    plt = _pyplot()
    lo, hi = X.min(axis=0), X.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    lo, hi = lo - margin * span, hi + margin * span
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    G = np.c_[gx.ravel(), gy.ravel()]
    from . import _core
    from ._threads import resolve_n_threads

    Z = model._to_internal(G.astype(model._R.dtype))
    c = model._c_fit if beta is None else model._c(float(beta))
    steps = model._n_steps if n_steps is None else check_int(n_steps, "n_steps", low=0)
    eta = None if model._eta is None else model._eta.astype(Z.dtype)
    basins = _core.clam_predict(
        Z,
        model._R.astype(Z.dtype),
        eta,
        c,
        model._alpha,
        steps,
        bool(model.spherical),
        resolve_n_threads(model.n_threads),
    )[0].reshape(gx.shape)
    centres = np.asarray(model.cluster_centers_, dtype=np.float64)
    # Voronoi cells in the model's own space (standardised; on the sphere when spherical)
    R = model._R.astype(np.float64)
    voronoi = ((Z.astype(np.float64)[:, None, :] - R[None, :, :]) ** 2).sum(-1).argmin(axis=1).reshape(gx.shape)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    k = centres.shape[0]
    ax.pcolormesh(
        gx,
        gy,
        basins,
        cmap="tab20" if k > 10 else "tab10",
        vmin=0,
        vmax=(20 if k > 10 else 10) - 1,
        alpha=0.45,
        shading="auto",
    )
    ax.contour(gx, gy, voronoi, levels=np.arange(k) + 0.5, colors="k", linestyles="dashed", linewidths=0.8)
    if show_points:
        ax.scatter(X[:, 0], X[:, 1], s=4, c="0.3")
    ax.scatter(centres[:, 0], centres[:, 1], s=40, c="k", marker="o")
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_title("ClAM basins (colours) vs Voronoi cells (dashed)")
    ax.basins_ = basins
    ax.voronoi_ = voronoi
    return ax
