"""ClAM: clustering with associative memories (Saha, Krotov, Zaki, Ram, ICML 2023).

The prototypes ``rho_mu`` (the cluster centres) are the memories of a dense associative memory.
A point ``v`` evolves for ``n_steps`` steps of

.. math::

    P = \\operatorname{softmax}_\\mu\\bigl(-c\\,\\lVert\\rho_\\mu - v\\rVert^2 + \\eta_\\mu\\bigr),\\qquad
    v \\leftarrow v + \\alpha\\, m \\odot (P\\,R - v)

towards its attractor, and the prototypes are trained end to end (backpropagation through the
recursion, Adam) so that the recursion fills in randomly masked coordinates ``m`` of the data:
the loss is the mean of ``m (x - v^T)^2`` over a batch.  A point's cluster is the prototype
nearest to its final state.  The whole training loop runs in C++ (``danneal._core.clam_train``).

References
----------
1. B. Saha, D. Krotov, M. J. Zaki, P. Ram.  End-to-end differentiable clustering with
   associative memories.  ICML 2023.  Reference code: github.com/bsaha205/clam.
"""

from __future__ import annotations

import itertools
import numbers
import warnings
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, ClusterMixin, TransformerMixin
from sklearn.cluster import kmeans_plusplus
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from . import _core
from ._callbacks import CallbackSupport, FitMonitor, with_callbacks
from ._dask import is_dask, map_rows
from ._threads import map_interruptible, resolve_n_threads
from ._validation import as_float_array, check_float, check_int, check_n_clusters, check_random_state, validate_X
from .central import CentralAnnealing

__all__ = ["ClAM"]

_EXPONENTS = ("beta", "beta/2")
_MASK_VALUES = ("mean", "min", "max", "zero")
_INITS = ("k-means", "k-means++", "random", "gaussian")
# beta="auto": c = softness / s2 (s2: mean squared distance of the points to the start's nearest
# prototype); measured in docs/clam.md ("Defaults")
_AUTO_SOFTNESS = (8.0, 32.0)
_SELECTIONS = ("auto", "loss", "silhouette")
_AUTO_MASK_PROB = 0.2


def _as_grid(value, name, low, high=None, low_inclusive=True):
    """A float or a non-empty sequence of floats -> list of validated floats."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name}={value!r} must be a real number or a sequence of them")
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        values = [value]
    else:
        try:
            values = list(value)
        except TypeError:
            raise TypeError(f"{name}={value!r} must be a real number or a sequence of them") from None
        if not values:
            raise ValueError(f"{name}={value!r}: empty sequence")
    return [check_float(v, name, low=low, high=high, low_inclusive=low_inclusive) for v in values]


class ClAM(CallbackSupport, ClassNamePrefixFeaturesOutMixin, TransformerMixin, ClusterMixin, BaseEstimator):
    """Clustering with associative memories (ClAM, Saha et al. 2023 [1]_), trained end to end in C++.

    With the default arguments, ``fit`` runs a small built-in search (docs/clam.md, "Defaults"):
    ``kmeans_n_init`` k-means runs (k-means++ seeding and Lloyd iterations) give candidate
    starting prototypes; the ``n_init`` starts with the highest Silhouette train one ClAM run per
    ``beta`` of the automatic grid (two runs each, concurrently, each stopping on a loss plateau);
    the kept partition is the one with the highest Silhouette among the runs that use all
    ``n_clusters`` clusters, the starts themselves (0 epochs) competing too.  The paper's protocol
    is ``init="gaussian"``, a ``beta`` grid, ``step_size=0.1``, ``n_steps=10`` and
    ``min_clusters=1`` (see ``benchmarks/quality_clam.py``).

    Parameters
    ----------
    n_clusters : int, default=8
        Number of prototypes (memories).
    beta : "auto", float or sequence of floats, default="auto"
        Inverse temperature of the softmax over prototypes, whose argument is ``-c ||rho - v||^2``
        with ``c = beta`` or ``beta / 2`` (``exponent``).  ``"auto"``: two runs per start, with
        ``c = 8 / s2`` and ``c = 32 / s2``, where ``s2`` is the mean squared distance of the
        training points to the nearest prototype of the start (scale-free: the same softness on
        any data).  A sequence makes a grid (see ``selection``).
    n_steps : int, default=5
        Steps of the recursion.
    step_size : float or sequence of floats in (0, 1], default=1.0
        ``alpha`` in the update (the paper uses 0.1 with 10 steps).  With ``step_size=1`` each
        step sets the evolving coordinates to the softmax-weighted mean of the prototypes.
    exponent : {"beta", "beta/2"}, default="beta/2"
        ``c = beta`` or ``c = beta / 2`` (the reference code uses ``beta / 2``).
    mask_prob : "auto", float or sequence of floats in [0, 1], default="auto"
        Fraction of the coordinates of each training point that are masked (replaced by
        ``mask_value``) and must be restored by the recursion; ``max(1, round(mask_prob * d))``
        coordinates per point.  ``0``: the paper's no-mask ablation (the unmasked point evolves in
        every coordinate and the loss covers all of them).  ``"auto"``: 0.2, or 0 (no mask) where
        ``round(0.2 * d)`` is 0, i.e. on data with one or two features.  A sequence makes a grid.
    mask_value : {"mean", "min", "max", "zero"}, default="mean"
        Value given to masked coordinates: the feature's mean, minimum, maximum, or 0.
    mask_replace : bool, default=False
        Draw the masked coordinates with replacement (the reference code; fewer distinct
        coordinates when draws repeat) instead of ``round(mask_prob * d)`` distinct ones.
    mask_share_every : int, default=0
        When > 0, in every ``mask_share_every``-th epoch all points of a batch share one mask (the
        reference code's ``dim_change_cycle``).
    anneal : float or sequence of floats in (0, 1], default=1.0
        Annealing of ``beta`` during training: ``beta`` starts at ``anneal * beta`` and rises
        geometrically to ``beta`` over the first ``anneal_epochs`` epochs; only epochs at the final
        ``beta`` count for the kept prototypes, the learning-rate decay and the early stop.
    anneal_epochs : int, optional
        Length of the ramp in epochs (default ``max_epochs // 2``).
    batch_size : int, default=8
        Mini-batch size (the paper uses 8).
    learning_rate : float, default=0.01
        Initial Adam learning rate.
    lr_decay : float in (0, 1], default=0.8
        Factor applied to the learning rate on a plateau: when the 10-epoch moving average of the
        epoch loss improved by less than 0.1 % in ``lr_patience`` consecutive epochs.
    lr_patience : int, default=5
        Stalled epochs before a decay.
    min_learning_rate : float, default=1e-6
        Training stops (converged) once the learning rate falls below it.
    max_epochs : int, default=50
        Maximal number of passes over the data per run; a ``ConvergenceWarning`` says when the
        kept run reached it.
    tol : float, default=1e-3
        Early stop: a run stops (converged) after ``n_iter_no_change`` epochs in a row without an
        epoch loss below ``(1 - tol)`` times the last such improvement.
    n_iter_no_change : int, default=3
        See ``tol``; 0 disables the early stop.
    epoch_rows : int or None, default=2048
        Rows per epoch: each epoch trains on a fresh random sample of ``min(n_samples,
        epoch_rows)`` rows (the first rows of its shuffle), so that the cost of an epoch, and of
        the early stop's epochs, does not grow with the data beyond it.  ``None``: every row in
        every epoch (the paper).
    n_init : int, default=2
        With ``init="k-means"``: the number of best k-means starts (by Silhouette) that are
        trained.  Otherwise: training runs (restarts) per configuration.
    kmeans_n_init : int, default=10
        Candidate k-means runs with ``init="k-means"``.
    init : {"k-means", "k-means++", "random", "gaussian"} or array (n_clusters, n_features), default="k-means"
        Initial prototypes: centres of k-means runs (see ``n_init``), k-means++ seeding, random
        data points, the reference code's N(0.1, 0.1^2) draws (in the standardised space), or
        given centres (input space).
    weighted : bool, default=False
        Learn per-prototype log-weights ``eta`` (the weighted ClAM variant); ``weights_`` holds
        ``softmax(eta)``.
    weights : array (n_clusters,), optional
        Positive prototype weights given by the user (the paper's weighted energy with
        user-specified weights): ``eta = log(weights)``, fixed during training, or the starting
        point when ``weighted=True``.
    spherical : bool, default=False
        Cosine-similarity variant (paper §3.5).
    standardize : bool, default=True
        Centre and scale every feature to unit variance before training (as in the paper).
    selection : {"auto", "loss", "silhouette"}, default="auto"
        How the kept run is chosen: the lowest training loss, or the highest Silhouette score of
        the training labels.  ``"auto"``: Silhouette when there is more than one run, else the
        loss.
    min_clusters : int, optional
        Runs whose training labels use at least this many clusters (default: ``n_clusters``) are
        preferred by the selection.  ``min_clusters=1`` lets runs that leave prototypes unused win
        (the paper's model selection).
    callback : callable, optional
        ``callback(info)`` after every epoch of every run (GIL held), with ``info`` a dict:
        ``epoch``, ``loss``, ``learning_rate``, ``cluster_centers`` (the current prototypes, input
        space), ``run`` and ``params`` (the run's ``beta``, ``mask_prob``, ``anneal``,
        ``step_size``).  Returning True stops the current run.
    random_state : int, RandomState or None, default=None
        Seeds the initialisation, shuffling and masks (results are independent of ``n_threads``).
    n_threads : int, optional
        Threads for the kernels (``None`` or -1: all available cores).  Runs train concurrently
        when a run has fewer chunks of 16 batch rows than threads.
    verbose : int, default=0
        Progress on standard error with the time elapsed and an upper estimate of the time left;
        1: one line per run; 2: one line per epoch.

    Attributes
    ----------
    cluster_centers_ : ndarray (n_clusters, n_features)
        Prototypes in the input space.
    labels_ : ndarray (n_samples,)
        Cluster of every training point (nearest prototype after the recursion).
    weights_ : ndarray (n_clusters,)
        ``softmax(eta)``, when ``weighted=True`` or ``weights`` is given.
    loss_curve_ : ndarray
        Epoch losses of the kept run (empty when the kept run is an untrained start).
    n_iter_ : int
        Epochs run by the kept run.
    converged_ : bool
        Whether the kept run stopped on a loss plateau (or its learning-rate floor) before
        ``max_epochs``.
    best_params_ : dict
        ``beta``, ``mask_prob``, ``anneal``, ``step_size`` of the kept run, its ``start`` and
        ``epochs``.
    search_results_ : list of dict
        One entry per candidate: beta, mask_prob, anneal, step_size, run, loss, silhouette (when
        computed), epochs (0 for an untrained k-means start), n_clusters (clusters used).
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from danneal import ClAM
    >>> X = np.r_[np.random.default_rng(0).normal(0, .3, (20, 2)), np.random.default_rng(1).normal(3, .3, (20, 2))]
    >>> ClAM(n_clusters=2, random_state=0).fit(X).labels_.shape
    (40,)

    References
    ----------
    .. [1] B. Saha, D. Krotov, M. J. Zaki and P. Ram, "End-to-end differentiable clustering with
           associative memories", ICML 2023, PMLR 202.
    """

    def __init__(
        self,
        n_clusters=8,
        *,
        beta="auto",
        n_steps=5,
        step_size=1.0,
        exponent="beta/2",
        mask_prob="auto",
        mask_value="mean",
        mask_replace=False,
        mask_share_every=0,
        anneal=1.0,
        anneal_epochs=None,
        batch_size=8,
        learning_rate=0.01,
        lr_decay=0.8,
        lr_patience=5,
        min_learning_rate=1e-6,
        max_epochs=50,
        tol=1e-3,
        n_iter_no_change=3,
        epoch_rows=2048,
        n_init=2,
        kmeans_n_init=10,
        init="k-means",
        weighted=False,
        weights=None,
        spherical=False,
        standardize=True,
        selection="auto",
        min_clusters=None,
        callback=None,
        random_state=None,
        n_threads=None,
        verbose=0,
    ):
        self.n_clusters = n_clusters
        self.beta = beta
        self.n_steps = n_steps
        self.step_size = step_size
        self.exponent = exponent
        self.mask_prob = mask_prob
        self.mask_value = mask_value
        self.mask_replace = mask_replace
        self.mask_share_every = mask_share_every
        self.anneal = anneal
        self.anneal_epochs = anneal_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.lr_decay = lr_decay
        self.lr_patience = lr_patience
        self.min_learning_rate = min_learning_rate
        self.max_epochs = max_epochs
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.epoch_rows = epoch_rows
        self.n_init = n_init
        self.kmeans_n_init = kmeans_n_init
        self.init = init
        self.weighted = weighted
        self.weights = weights
        self.spherical = spherical
        self.standardize = standardize
        self.selection = selection
        self.min_clusters = min_clusters
        self.callback = callback
        self.random_state = random_state
        self.n_threads = n_threads
        self.verbose = verbose

    # ---- parameters ---------------------------------------------------------------------------
    def _check_params(self, n_samples, n_features):
        p = {}
        p["k"] = check_n_clusters(self.n_clusters, n_samples)
        if isinstance(self.beta, str):
            if self.beta != "auto":
                raise ValueError(f"beta={self.beta!r} must be 'auto', a real number or a sequence of them")
            p["betas"] = [None]
        else:
            p["betas"] = _as_grid(self.beta, "beta", 0.0)
        if isinstance(self.mask_prob, str) and self.mask_prob == "auto":
            # 0.2, or no mask where 0.2 of the coordinates rounds to none (d <= 2): masking one of
            # two coordinates leaves a regression of one on the other to learn, which pulls the
            # prototypes off the cluster centres (docs/clam.md, "Where training helps")
            p["mask_probs"] = [_AUTO_MASK_PROB if np.floor(_AUTO_MASK_PROB * n_features + 0.5) >= 1 else 0.0]
        else:
            p["mask_probs"] = _as_grid(self.mask_prob, "mask_prob", 0.0, 1.0)
        p["anneals"] = _as_grid(self.anneal, "anneal", 0.0, 1.0, low_inclusive=False)
        p["n_steps"] = check_int(self.n_steps, "n_steps", low=1)
        p["alphas"] = _as_grid(self.step_size, "step_size", 0.0, 1.0, low_inclusive=False)
        if self.exponent not in _EXPONENTS:
            raise ValueError(f"exponent={self.exponent!r} must be one of {_EXPONENTS}")
        if self.mask_value not in _MASK_VALUES:
            raise ValueError(f"mask_value={self.mask_value!r} must be one of {_MASK_VALUES}")
        p["mask_share_every"] = check_int(self.mask_share_every, "mask_share_every", low=0)
        p["batch_size"] = check_int(self.batch_size, "batch_size", low=1)
        p["lr"] = check_float(self.learning_rate, "learning_rate", low=0.0, low_inclusive=False)
        p["lr_decay"] = check_float(self.lr_decay, "lr_decay", low=0.0, high=1.0, low_inclusive=False)
        p["lr_patience"] = check_int(self.lr_patience, "lr_patience", low=1)
        p["min_lr"] = check_float(self.min_learning_rate, "min_learning_rate", low=0.0)
        p["max_epochs"] = check_int(self.max_epochs, "max_epochs", low=1)
        p["tol"] = check_float(self.tol, "tol", low=0.0)
        p["n_iter_no_change"] = check_int(self.n_iter_no_change, "n_iter_no_change", low=0)
        p["epoch_rows"] = 0 if self.epoch_rows is None else check_int(self.epoch_rows, "epoch_rows", low=1)
        p["anneal_epochs"] = (
            p["max_epochs"] // 2
            if self.anneal_epochs is None
            else check_int(self.anneal_epochs, "anneal_epochs", low=1)
        )
        p["n_init"] = check_int(self.n_init, "n_init", low=1, high=10**6)  # every run's start is drawn up front
        p["kmeans_n_init"] = check_int(self.kmeans_n_init, "kmeans_n_init", low=1, high=10**6)
        for name in ("weighted", "spherical", "standardize", "mask_replace"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"{name}={getattr(self, name)!r} must be a bool")
        if self.selection not in _SELECTIONS:
            raise ValueError(f"selection={self.selection!r} must be one of {_SELECTIONS}")
        if self.callback is not None and not callable(self.callback):
            raise TypeError(f"callback={self.callback!r} must be callable or None")
        p["verbose"] = check_int(self.verbose, "verbose", low=0)
        p["min_clusters"] = (
            p["k"] if self.min_clusters is None else check_int(self.min_clusters, "min_clusters", low=1, high=p["k"])
        )
        if self.weights is not None:
            w = as_float_array(self.weights, "weights", ndim=1, dtype=np.float64)
            if w.shape != (p["k"],):
                raise ValueError(f"weights: expected shape ({p['k']},), got {w.shape}")
            if not (w > 0).all():
                i = int(np.flatnonzero(~(w > 0))[0])
                raise ValueError(f"weights: must be > 0, got weights[{i}]={float(w[i])!r}")
            p["eta0"] = np.log(w / w.sum())
        if isinstance(self.init, str):
            if self.init not in _INITS:
                raise ValueError(f"init={self.init!r} must be one of {_INITS} or an array")
        else:
            init = as_float_array(self.init, "init", ndim=2)
            if init.shape != (p["k"], n_features):
                raise ValueError(f"init: expected shape ({p['k']}, {n_features}), got {init.shape}")
            p["init_array"] = init
        p["n_threads"] = resolve_n_threads(self.n_threads)
        return p

    # ---- data space ---------------------------------------------------------------------------
    def _to_internal(self, X):
        # canonical dtype object: the compiled kernels compare dtype objects by identity, and arrays
        # derived from memmaps can carry an equal but distinct one
        dt = np.dtype(X.dtype.type)
        Z = (X - self.mean_) / self.scale_
        if self.spherical:
            nrm = np.linalg.norm(Z, axis=1, keepdims=True)
            Z = Z / np.where(nrm > 0, nrm, 1.0)
        return np.ascontiguousarray(Z, dtype=dt)

    def _c(self, beta):
        return beta if self.exponent == "beta" else beta / 2.0

    def _beta(self, c):
        return c if self.exponent == "beta" else 2.0 * c

    def _initial(self, Z, k, p, rs, sw):
        dt = Z.dtype
        if "init_array" in p:
            R0 = (p["init_array"] - self.mean_) / self.scale_
        elif self.init == "k-means++":
            R0, _ = kmeans_plusplus(
                Z.astype(np.float64),
                k,
                random_state=rs.randint(2**31 - 1),
                sample_weight=None if sw is None else sw.astype(np.float64),
            )
        elif self.init == "random":
            R0 = Z[rs.choice(Z.shape[0], k, replace=False)].astype(np.float64)
        else:  # gaussian, as in the reference code
            R0 = rs.normal(0.1, 0.1, size=(k, Z.shape[1]))
        return self._start(R0, dt)

    def _start(self, R0, dt):
        R0 = np.array(R0, dtype=np.float64)
        if self.spherical:
            nrm = np.linalg.norm(R0, axis=1, keepdims=True)
            R0 = R0 / np.where(nrm > 0, nrm, 1.0)
        return np.ascontiguousarray(R0, dtype=dt)

    def _kmeans_starts(self, Z, k, p, rs, sw, scorer):
        """``kmeans_n_init`` single k-means runs; the ``n_init`` best by Silhouette (distinct
        partitions first), as (R0, silhouette)."""
        Z64 = Z.astype(np.float64)
        seeds = [int(rs.randint(2**31 - 1)) for _ in range(p["kmeans_n_init"])]
        runs = []
        tol = 1e-4 * float(np.mean(np.var(Z64, axis=0)))  # scikit-learn's KMeans tolerance
        z2 = np.einsum("ij,ij->i", Z64, Z64)
        fits = [_lloyd(Z64, _kmeans_pp(Z64, z2, k, np.random.RandomState(seed), sw), sw, tol) for seed in seeds]
        runs = list(zip(scorer.scores([labels for _, labels in fits]), [C for C, _ in fits]))
        order = sorted(range(len(runs)), key=lambda i: -runs[i][0])
        picked, seen = [], set()
        for i in order:  # one start per distinct Silhouette value (identical partitions) first
            key = round(runs[i][0], 12)
            if key not in seen:
                picked.append(i)
                seen.add(key)
        picked += [i for i in order if i not in picked]
        return [(self._start(runs[i][1], Z.dtype), runs[i][0]) for i in picked[: p["n_init"]]]

    def _prototypes(self, R):
        """Prototypes as used by the recursion (unit norm when spherical)."""
        if self.spherical:
            nrm = np.linalg.norm(R.astype(np.float64), axis=1, keepdims=True)
            R = (R / np.where(nrm > 0, nrm, 1.0)).astype(R.dtype)
        return np.ascontiguousarray(R)

    # ---- fitting ------------------------------------------------------------------------------
    @with_callbacks
    def fit(self, X: ArrayLike, y: Any = None, sample_weight: ArrayLike | None = None) -> ClAM:
        """Train the prototypes on ``X`` (n_samples, n_features).

        ``sample_weight`` (n_samples,), optional: non-negative weights of the points in the
        standardisation, the k-means starts, the training loss (each point's masked
        reconstruction error, weights scaled to mean 1) and the mask values; the Silhouette of
        the selection is unweighted."""
        # the numpy work of the search (k-means starts, Silhouettes) is many small products: BLAS
        # threads only cost there (tens of times slower on a loaded machine)
        with threadpool_limits(limits=1, user_api="blas"):
            return self._fit(X, y, sample_weight)

    def _fit(self, X, y, sample_weight):
        X = validate_X(self, X, dtype=[np.float64, np.float32])
        n, d = X.shape
        p = self._check_params(n, d)
        k = p["k"]
        dt = np.dtype(X.dtype.type)
        sw = CentralAnnealing._check_sample_weight(sample_weight, n, np.float64)
        if sw is not None:
            sw = sw * (n / sw.sum(dtype=np.float64))
        if self.standardize:
            self.mean_, scale = _column_moments(X, sw)
            self.scale_ = np.where(scale > 0, scale, 1.0)
        else:
            self.mean_ = np.zeros(d)
            self.scale_ = np.ones(d)
        Z = self._to_internal(X)
        _check_distance_range(Z, "X")
        if self.mask_value == "mean":
            mv = np.average(Z.astype(np.float64), axis=0, weights=sw)
        elif self.mask_value == "min":
            mv = Z.min(axis=0)
        elif self.mask_value == "max":
            mv = Z.max(axis=0)
        else:
            mv = np.zeros(d)
        mv = np.ascontiguousarray(mv, dtype=dt)
        sw_dt = None if sw is None else np.ascontiguousarray(sw, dtype=dt)
        configs = list(itertools.product(p["betas"], p["mask_probs"], p["anneals"], p["alphas"]))
        rs = check_random_state(self.random_state)
        kmeans_init = isinstance(self.init, str) and self.init == "k-means"
        n_candidates = len(configs) * p["n_init"] + (1 if kmeans_init else 0)
        selection = self.selection
        if selection == "auto":
            selection = "silhouette" if n_candidates > 1 else "loss"
        nt = p["n_threads"]
        scorer = (
            _SilhouetteScorer(Z, sample_weight=sw, n_threads=nt) if (selection == "silhouette" or kmeans_init) else None
        )
        eta0 = p.get("eta0")
        if eta0 is not None:
            eta0 = np.ascontiguousarray(eta0, dtype=dt)
        elif self.weighted:
            eta0 = np.zeros(k, dt)
        use_eta = eta0 is not None
        # every run's initial prototypes and seed are drawn up front, in a fixed order, so the
        # results do not depend on how the runs are spread over threads
        if kmeans_init:
            starts = self._kmeans_starts(Z, k, p, rs, sw, scorer)
        else:
            starts = None
        jobs = []
        for beta, mask_prob, anneal, alpha in configs:
            n_mask = 0 if mask_prob == 0 else max(1, min(d, int(np.floor(mask_prob * d + 0.5))))
            for run in range(len(starts) if kmeans_init else p["n_init"]):  # n_init <= kmeans_n_init starts
                R0 = starts[run][0] if kmeans_init else self._initial(Z, k, p, rs, sw)
                seed = int(rs.randint(0, 2**63 - 1, dtype=np.int64))
                c = self._c(beta) if beta is not None else None
                jobs.append((beta, c, mask_prob, anneal, alpha, n_mask, run, R0, seed))
        if p["betas"] == [None]:  # beta="auto": one job per softness for every start
            auto = []
            for _beta, _, mask_prob, anneal, alpha, n_mask, run, R0, seed in jobs:
                s2 = _mean_min_sqdist(Z, R0, sw)
                for j, soft in enumerate(_AUTO_SOFTNESS):
                    c = soft / s2
                    auto.append((self._beta(c), c, mask_prob, anneal, alpha, n_mask, run, R0, seed + j))
            jobs = auto
        if self.selection == "auto" and selection != "silhouette" and len(jobs) > 1:  # beta="auto": 2 runs
            selection = "silhouette"
            scorer = _SilhouetteScorer(Z, sample_weight=sw, n_threads=nt)
        workers, inner = _split_threads(nt, len(jobs), p["batch_size"])
        mon = FitMonitor(
            self,
            X,
            y,
            callback=self.callback,
            verbose=p["verbose"],
            step_verbosity=2,
            max_steps=len(jobs) * p["max_epochs"],
        )
        watched = self.callback is not None or p["verbose"] >= 2 or getattr(self, "_skl_callbacks", None)
        if watched:
            workers, inner = 1, nt  # callbacks and per-epoch lines stay in order
        mon.phase("training", f"{len(jobs)} run(s) of at most {p['max_epochs']} epochs, {workers} at a time")
        job_index = {id(job): i for i, job in enumerate(jobs)}
        stopped = []  # a callback asked to stop: the current run ends, the remaining runs are skipped

        def params(c, alpha, n_mask, anneal, seed):
            return _core.ClamTrainParams(
                c=c,
                alpha=alpha,
                n_steps=p["n_steps"],
                spherical=bool(self.spherical),
                weighted=bool(self.weighted),
                batch_size=p["batch_size"],
                n_mask=max(n_mask, 1),
                max_epochs=p["max_epochs"],
                learning_rate=p["lr"],
                patience=p["lr_patience"],
                decay=p["lr_decay"],
                min_lr=p["min_lr"],
                c_start=c * anneal if anneal < 1 else 0.0,
                anneal_epochs=p["anneal_epochs"],
                seed=seed,
                mask_mode=2 if n_mask == 0 else (1 if self.mask_replace else 0),
                mask_share_every=p["mask_share_every"],
                n_iter_no_change=p["n_iter_no_change"],
                tol=p["tol"],
                epoch_rows=p["epoch_rows"],
            )

        def labels_of(R, eta, c, alpha):
            return _core.clam_predict(
                Z, self._prototypes(R), eta if use_eta else None, c, alpha, p["n_steps"], bool(self.spherical), inner
            )[0]

        def train(job):
            beta, c, mask_prob, anneal, alpha, n_mask, run, R0, seed = job
            cb = (
                self._make_callback(
                    mon,
                    beta=beta,
                    mask_prob=mask_prob,
                    anneal=anneal,
                    alpha=alpha,
                    run=run,
                    job=job_index[id(job)],
                    n_jobs=len(jobs),
                    max_epochs=p["max_epochs"],
                    stopped=stopped,
                    c=c,
                    eta=eta0 if use_eta else None,
                    n_steps=p["n_steps"],
                )
                if watched
                else None
            )
            R, eta, curve, lr, status = _core.clam_train(
                Z, sw_dt, mv, R0, eta0, params(c, alpha, n_mask, anneal, seed), inner, cb
            )
            return R, eta, curve, status, labels_of(R, eta, c, alpha)

        def outputs():  # in job order; each run's arrays are dropped unless it becomes the best
            if workers > 1:  # Ctrl-C or an error stops the other runs too
                yield from map_interruptible(train, jobs, workers)
            else:
                for job in jobs:
                    if stopped and cands:
                        break
                    yield train(job)

        results = []
        best = None
        cands = []  # (job, R, eta, curve, status, labels, epochs), scored together at the end

        def consider(job, R, eta, curve, status, labels, sil, epochs):
            nonlocal best
            beta, c, mask_prob, anneal, alpha, _, run, _, _ = job
            loss = None if epochs == 0 else float(status["error"])
            n_found = int(np.unique(labels).size)
            rec = {
                "beta": beta,
                "mask_prob": mask_prob,
                "anneal": anneal,
                "step_size": alpha,
                "run": run,
                "loss": loss,
                "epochs": epochs,
                "n_clusters": n_found,
                "numerical_error": bool(status["numerical_error"]),
            }
            if selection == "silhouette":
                rec["silhouette"] = sil
                score = -sil
            else:
                score = np.inf if loss is None else loss
            if not np.isfinite(score):
                score = np.inf
            results.append(rec)
            key = (-min(n_found, p["min_clusters"]), score, epochs == 0)  # ties: a trained run
            if best is None or key < best[0]:
                best = (key, R, eta, curve, status, labels, job, epochs)

        if kmeans_init:  # the k-means starts compete, with 0 epochs, under every configuration
            for job in jobs:
                beta, c, mask_prob, anneal, alpha, _, run, R0, _ = job
                e0 = eta0 if use_eta else np.zeros(k, dt)
                labels = labels_of(R0, e0, c, alpha)
                st0 = {"error": np.nan, "iterations": 0, "converged": True, "numerical_error": False}
                cands.append((job, R0, e0, np.zeros(0), st0, labels, 0))
        runs = outputs()
        try:
            for i, (job, (R, eta, curve, status, labels)) in enumerate(zip(jobs, runs)):
                epochs = int(status["iterations"])
                cands.append((job, R, eta, curve, status, labels, epochs))
                beta, _, mask_prob, anneal, alpha, _, run, _, _ = job
                mon.note(
                    f"run beta={beta:g} mask_prob={mask_prob:g} anneal={anneal:g} step_size={alpha:g} "
                    f"#{run}: loss={float(status['error']):.6g} epochs={epochs}",
                    progress=min(1.0, (i + 1) / len(jobs)),
                )
        finally:
            runs.close()  # stops the pool's other runs at once if the loop body raised
        # every candidate's Silhouette in one pass over the pairwise distances
        sils = scorer.scores([cand[5] for cand in cands]) if selection == "silhouette" else [None] * len(cands)
        for (job, R, eta, curve, status, labels, epochs), sil in zip(cands, sils):
            consider(job, R, eta, curve, status, labels, sil, epochs)
        _, R, eta, curve, status, labels, job, epochs = best
        beta, c, mask_prob, anneal, alpha, _, run, _, _ = job
        if status["numerical_error"]:
            warnings.warn(
                f"ClAM: the training loss became non-finite after {int(status['iterations'])} epochs; "
                "kept the prototypes of the best finite epoch. Lower learning_rate or beta.",
                ConvergenceWarning,
                stacklevel=2,
            )
        elif epochs >= p["max_epochs"] and not status["converged"]:
            warnings.warn(
                f"ClAM: the kept run reached max_epochs={p['max_epochs']} before its loss reached a "
                f"plateau (tol={p['tol']!r}, n_iter_no_change={p['n_iter_no_change']}); raise max_epochs "
                "or tol.",
                ConvergenceWarning,
                stacklevel=2,
            )
        self._R = self._prototypes(R)
        self._eta = np.ascontiguousarray(eta, dtype=dt) if use_eta else None
        self._c_fit = c
        self._alpha = alpha
        self._n_steps = p["n_steps"]
        self.cluster_centers_ = (self._R.astype(np.float64) * self.scale_ + self.mean_).astype(dt)
        if use_eta:
            e = eta.astype(np.float64)
            w = np.exp(e - e.max())
            self.weights_ = (w / w.sum()).astype(dt)
        self.labels_ = labels
        self.loss_curve_ = np.asarray(curve)
        self.n_iter_ = int(epochs)
        self.converged_ = bool(status["converged"])
        self.best_params_ = {
            "beta": beta,
            "mask_prob": mask_prob,
            "anneal": anneal,
            "step_size": alpha,
            "start": run,
            "epochs": int(epochs),
        }
        self.search_results_ = results
        mon.finish()
        return self

    def _make_callback(
        self, mon, *, beta, mask_prob, anneal, alpha, run, job, n_jobs, max_epochs, stopped, c, eta, n_steps
    ):
        """The per-epoch hook of one run: the verbose line, then the callbacks (danneal/_callbacks.py:
        ``info`` with ``epoch``, ``loss``, ``learning_rate``, ``cluster_centers`` (the current
        prototypes, input space), ``run``, ``params``); returns False to the training loop to end
        the run (and the remaining runs are skipped).  scikit-learn callbacks (``ScoringMonitor``)
        get, for every epoch, a copy of the estimator that predicts with that epoch's prototypes
        (and the run's starting log-weights ``eta``: learned ones are not passed per epoch)."""
        params = {"beta": beta, "mask_prob": mask_prob, "anneal": anneal, "step_size": alpha}

        def cb(epoch, loss, lr, R):
            R = self._prototypes(R)
            centers = R.astype(np.float64) * self.scale_ + self.mean_
            info = {
                "epoch": int(epoch),
                "loss": float(loss),
                "learning_rate": float(lr),
                "cluster_centers": centers,
                "run": run,
                "params": dict(params),
            }

            def reconstruction():
                return {
                    "cluster_centers_": centers.astype(R.dtype),
                    "_R": R,
                    "_eta": eta,
                    "_c_fit": c,
                    "_alpha": alpha,
                    "_n_steps": n_steps,
                }

            if mon.step(
                info,
                progress=(job * max_epochs + epoch + 1) / (n_jobs * max_epochs),
                line=f"beta={beta:g} mask_prob={mask_prob:g} #{run} epoch {epoch + 1}: loss={loss:.6g} lr={lr:.3g}",
                reconstruction=reconstruction,
            ):
                stopped.append(job)
                return False
            return True

        return cb

    # ---- inference ----------------------------------------------------------------------------
    def _run(self, X, n_steps=None):
        check_is_fitted(self, "cluster_centers_")
        X = validate_X(self, X, reset=False, dtype=[np.float64, np.float32])
        Z = self._to_internal(X)
        _check_distance_range(Z, "X", "X is far outside the range of the training data")
        R = self._R.astype(Z.dtype)
        eta = None if self._eta is None else self._eta.astype(Z.dtype)
        steps = self._n_steps if n_steps is None else n_steps
        return _core.clam_predict(
            Z, R, eta, self._c_fit, self._alpha, steps, bool(self.spherical), resolve_n_threads(self.n_threads)
        )

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Nearest prototype of each point after ``n_steps`` unmasked steps of the recursion (a lazy
        dask array for dask input)."""
        if is_dask(X):
            check_is_fitted(self, "cluster_centers_")
            return map_rows(self.predict, X, self.n_features_in_, dtype=np.int64)
        return self._run(X)[0]

    def predict_proba(self, X, n_steps=None):
        """Soft memberships (n_samples, n_clusters): the softmax ``P`` of the recursion,
        ``softmax_mu(-c ||rho_mu - v||^2 + eta_mu)``, at the final state ``v`` after ``n_steps``
        unmasked steps (default: the fitted ``n_steps``; ``n_steps=0``: at the data point itself,
        the paper's eq. 13).  Rows sum to 1; with log-weights the largest entry can differ from
        ``predict``, which takes the nearest prototype."""
        if n_steps is not None:
            n_steps = check_int(n_steps, "n_steps", low=0)
        D = self._run(X, n_steps)[1].astype(np.float64)
        S = -self._c_fit * D
        if self._eta is not None:
            S = S + self._eta.astype(np.float64)
        S -= S.max(axis=1, keepdims=True)
        P = np.exp(S)
        P /= P.sum(axis=1, keepdims=True)
        return P.astype(D.dtype if self._R.dtype == np.float64 else self._R.dtype)

    def membership_entropy(self, X, n_steps=None):
        """Entropy ``-sum_mu P_mu log P_mu`` (nats) of every row of :meth:`predict_proba`: 0 for a
        point assigned to one prototype, ``log(n_clusters)`` for a uniform membership (the paper's
        appendix B.7 histograms use ``n_steps=0``)."""
        P = self.predict_proba(X, n_steps).astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            H = -np.where(P > 0, P * np.log(P), 0.0).sum(axis=1)
        return np.maximum(H, 0.0)

    def transform(self, X: ArrayLike) -> np.ndarray:
        """Euclidean distances (n_samples, n_clusters) from the final states of the recursion to the
        prototypes, in the standardised (and, if spherical, normalised) space (a lazy dask array for
        dask input)."""
        if is_dask(X):
            check_is_fitted(self, "cluster_centers_")
            return map_rows(self.transform, X, self.n_features_in_, n_out=len(self.cluster_centers_), dtype=X.dtype)
        return np.sqrt(np.maximum(self._run(X)[1], 0))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    # -- scikit-learn surface (issue 17) ---------------------------------------------------------
    def score(self, X: ArrayLike, y: Any = None) -> float:
        """Minus the sum of squared distances from every point to the prototype of its cluster
        (``predict``), in ClAM's internal space (standardised and, if ``spherical``, normalised):
        the k-means cost of ClAM's partition, higher is better, so that ``GridSearchCV`` works
        without a scorer.  (Not the distances of the final states, as ``transform``: with
        ``step_size=1`` the recursion carries every point onto a prototype, and those distances
        vanish for any model.)  Scores of models fitted with different ``standardize``/``spherical``
        are not comparable."""
        if is_dask(X):
            check_is_fitted(self, "cluster_centers_")
            return -float(map_rows(self._point_costs, X, self.n_features_in_, dtype=np.float64).sum().compute())
        return -float(self._point_costs(X).sum())

    def _point_costs(self, X):
        """Squared distance (float64) of every point to the prototype of its cluster, internal space."""
        labels = self._run(X)[0]
        X = validate_X(self, X, reset=False, dtype=[np.float64, np.float32])
        Z = self._to_internal(X).astype(np.float64)
        return ((Z - self._R.astype(np.float64)[labels]) ** 2).sum(axis=1)

    @property
    def _n_features_out(self):
        """Number of columns of ``transform`` (for ``get_feature_names_out``)."""
        return self.cluster_centers_.shape[0]


def _column_moments(X, sample_weight=None):
    """Column means and standard deviations (float64, weighted when ``sample_weight`` is given) at
    any finite scale: each column is first divided by a power of two near its largest magnitude
    (exact), so that neither the sums nor the squares overflow (|X| ~ 1e300) or underflow
    (|X| ~ 1e-300); for ordinary data the unweighted results are bit-identical to ``X.mean(0)``,
    ``X.std(0)``."""
    Xd = np.asarray(X, dtype=np.float64)
    amax = np.abs(Xd).max(axis=0)
    with np.errstate(divide="ignore"):
        c = np.where(amax > 0, np.exp2(np.floor(np.log2(np.where(amax > 0, amax, 1.0)))), 1.0)
    Y = Xd / c
    if sample_weight is None:
        return Y.mean(axis=0) * c, Y.std(axis=0) * c
    m = np.average(Y, axis=0, weights=sample_weight)
    v = np.average((Y - m) ** 2, axis=0, weights=sample_weight)
    return m * c, np.sqrt(v) * c


def _kmeans_pp(Z, z2, k, rs, sample_weight):
    """Greedy k-means++ seeding (2 + log k candidates per centre, the one that lowers the
    potential most), float64."""
    n = Z.shape[0]
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    trials = 2 + int(np.log(k))
    first = rs.choice(n, p=w / w.sum())
    C = [Z[first]]
    closest = np.maximum(z2 - 2.0 * (Z @ Z[first]) + z2[first], 0)
    for _ in range(1, k):
        pot = w * closest
        total = pot.sum()
        if not total > 0:
            cand = rs.choice(n, trials)
        else:
            cand = np.minimum(np.searchsorted(np.cumsum(pot), rs.random_sample(trials) * total), n - 1)
        Dc = np.maximum(z2[cand][:, None] - 2.0 * (Z[cand] @ Z.T) + z2[None, :], 0)
        Dc = np.minimum(Dc, closest[None, :])
        best = int(np.argmin(Dc @ w))
        closest = Dc[best]
        C.append(Z[cand[best]])
    return np.array(C)


def _lloyd(Z, C, sample_weight, tol, max_iter=300):
    """Lloyd iterations from centres C (float64) until the squared centre shift is <= tol; an
    empty cluster takes the point farthest from its centre.  Returns (centres, labels)."""
    n, k = Z.shape[0], C.shape[0]
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    z2 = np.einsum("ij,ij->i", Z, Z)
    rows = np.arange(n)
    for _ in range(max_iter):
        D = z2[:, None] - 2.0 * (Z @ C.T) + np.einsum("ij,ij->i", C, C)[None, :]
        labels = D.argmin(axis=1)
        M = np.zeros((n, k))
        M[rows, labels] = w
        mass = M.sum(axis=0)
        Cn = (M.T @ Z) / np.where(mass > 0, mass, 1.0)[:, None]
        for j in np.flatnonzero(mass <= 0):  # empty cluster: the worst-fitted point
            far = int(np.argmax(D[rows, labels]))
            Cn[j] = Z[far]
            D[far, labels[far]] = -np.inf
        shift = float(((Cn - C) ** 2).sum())
        C = Cn
        if shift <= tol:
            break
    D = z2[:, None] - 2.0 * (Z @ C.T) + np.einsum("ij,ij->i", C, C)[None, :]
    return C, D.argmin(axis=1)


def _mean_min_sqdist(Z, R, sample_weight=None):
    """Mean (weighted) squared distance of the rows of Z to their nearest row of R (> 0)."""
    Z, R = Z.astype(np.float64), R.astype(np.float64)
    D = np.maximum(np.einsum("ij,ij->i", Z, Z)[:, None] - 2.0 * (Z @ R.T) + np.einsum("ij,ij->i", R, R)[None, :], 0)
    s2 = float(np.average(D.min(axis=1), weights=sample_weight))
    return s2 if s2 > 0 else 1.0


# Selection by the exact Silhouette up to this many points (of positive weight); beyond, on a fixed
# sample of this size (as silhouette_score(sample_size=)).  One pass of the compiled kernel costs
# O(n^2 d) for all candidates together (docs/clam.md, "Selection").
_SIL_EXACT_MAX = 20000


class _SilhouetteScorer:
    """Mean Silhouette of many labelings of the same points with the compiled kernel
    (``_core.silhouette``, csrc/danneal/silhouette.hpp): exact for up to ``max_n`` points, on a
    fixed sample of ``max_n`` points beyond.  Equal to ``sklearn.metrics.silhouette_score``
    (tested); -1 for a labeling with fewer than 2 or more than n - 1 clusters (where scikit-learn
    raises).  With sample weights, the points of weight 0 are left out and the mean distances and
    the mean silhouette are weighted.  ``scores(list)`` scores the labelings not seen before in one
    pass over the pairwise distances."""

    def __init__(self, Z, max_n=_SIL_EXACT_MAX, seed=0, sample_weight=None, n_threads=1):
        n = Z.shape[0]
        self.idx = None
        self.w = None
        if sample_weight is not None:
            self.idx = np.flatnonzero(np.asarray(sample_weight) > 0)
            self.w = np.asarray(sample_weight, dtype=np.float64)[self.idx]
            n = self.idx.size
        if n > max_n:
            pick = np.sort(np.random.RandomState(seed).choice(n, max_n, replace=False))
            self.idx = pick if self.idx is None else self.idx[pick]
            self.w = None if self.w is None else self.w[pick]
        self.Z = np.ascontiguousarray(Z if self.idx is None else Z[self.idx])
        if self.w is not None:
            self.w = np.ascontiguousarray(self.w, dtype=self.Z.dtype)
        self.n_threads = n_threads
        self.cache = {}

    def __call__(self, labels):
        return self.scores([labels])[0]

    def scores(self, labelings):
        keyed = []
        todo = {}
        for labels in labelings:
            labels = np.asarray(labels)
            if self.idx is not None:
                labels = labels[self.idx]
            # canonical numbering (clusters in order of first appearance): the same partition
            # under other cluster numbers (k-means restarts, trained runs) is scored once
            u, first, inv = np.unique(labels, return_index=True, return_inverse=True)
            canon = np.argsort(np.argsort(first))[inv.ravel()].astype(np.int64)
            key = canon.tobytes()
            keyed.append(key)
            if key not in self.cache and key not in todo:
                todo[key] = (len(u), canon)
        lab, keys = [], []
        n = self.Z.shape[0]
        for key, (n_used, canon) in todo.items():
            if n_used < 2 or n_used > n - 1:
                self.cache[key] = -1.0
            else:
                lab.append(canon)
                keys.append(key)
        if lab:
            k = max(int(v.max()) + 1 for v in lab)
            _, means = _core.silhouette(self.Z, np.ascontiguousarray(np.stack(lab)), k, self.w, self.n_threads)
            for key, m in zip(keys, means):
                self.cache[key] = float(m)
        return [self.cache[key] for key in keyed]


def _check_distance_range(Z, name, hint="use standardize=True or rescale X"):
    """The kernels form squared distances in Z's dtype: refuse data whose squared distances
    overflow (possible only with ``standardize=False``) instead of returning NaN."""
    if Z.size == 0:
        return
    amax = float(np.abs(Z).max())
    limit = float(np.sqrt(np.finfo(Z.dtype).max / (4.0 * Z.shape[1])))
    if not amax <= limit:
        raise ValueError(
            f"{name}: values up to {amax!r} (after standardisation) make squared distances overflow "
            f"{Z.dtype} (limit {limit!r} for {Z.shape[1]} features); {hint}"
        )


def _split_threads(n_threads, n_runs, batch_size):
    """(concurrent runs, threads per run).  A run parallelises over chunks of 16 batch rows, so
    small batches (the paper's 8) leave threads idle; independent restarts fill them instead."""
    chunks = -(-batch_size // 16)
    workers = max(1, min(n_runs, n_threads // chunks))
    return workers, max(1, n_threads // workers)
