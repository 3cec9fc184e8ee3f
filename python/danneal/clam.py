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
from sklearn.metrics import silhouette_score
from sklearn.utils.validation import check_is_fitted

from . import _core
from ._callbacks import CallbackSupport, FitMonitor, with_callbacks
from ._dask import is_dask, map_rows
from ._threads import map_interruptible, resolve_n_threads
from ._validation import (as_float_array, check_float, check_int, check_n_clusters, check_random_state,
                          validate_X)

__all__ = ["ClAM"]

_EXPONENTS = ("beta", "beta/2")
_MASK_VALUES = ("mean", "min", "max", "zero")
_INITS = ("k-means++", "random", "gaussian")
_SELECTIONS = ("auto", "loss", "silhouette")


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

    Parameters
    ----------
    n_clusters : int, default=8
        Number of prototypes (memories).
    beta : float or sequence of floats, default=1.0
        Inverse temperature of the softmax over prototypes.  The softmax argument is
        ``-c ||rho - v||^2`` with ``c = beta`` or ``beta / 2`` (``exponent``); on standardised data
        squared distances grow like the dimension ``d``, so the softmax is sharper in higher
        dimension at the same ``beta``: a gap of ``g * d`` between the two nearest prototypes
        gives odds ``exp(c g d)``.  The paper's values (about 1 to 2.4 with ``exponent="beta/2"``
        on d = 16 ... 1024) work on standardised data; lower ``beta`` roughly like ``1/d`` for
        softer assignments.  A sequence makes a grid (see ``selection``).
    n_steps : int, default=10
        Steps of the recursion (the reference code uses ``1 / step_size``).
    step_size : float or sequence of floats in (0, 1], default=0.1
        ``alpha`` in the update (the paper's 0.1).  With ``step_size=1`` each step sets the evolving
        coordinates to the softmax-weighted mean of the prototypes, and ``n_steps`` steps iterate
        that map towards its fixed point; it often gives better-separated partitions (see
        docs/clam.md).  A sequence makes a grid.
    exponent : {"beta", "beta/2"}, default="beta/2"
        ``c = beta`` or ``c = beta / 2`` (the reference code uses ``beta / 2``).
    mask_prob : float or sequence of floats, default=0.1
        Fraction of the coordinates of each training point that are masked (replaced by
        ``mask_value``) and must be restored by the recursion; ``max(1, round(mask_prob * d))``
        coordinates per point.  A sequence makes a grid.
    anneal : float or sequence of floats in (0, 1], default=1.0
        Annealing of ``beta`` during training (deterministic annealing): ``beta`` starts at
        ``anneal * beta`` and rises geometrically to ``beta`` over the first ``anneal_epochs``
        epochs; only epochs at the final ``beta`` count for the kept (best-loss) prototypes and
        the learning-rate decay.  1 trains at constant ``beta``.  At a low ``beta`` every prototype
        receives gradient from every point, which keeps one prototype from becoming a hub that
        captures much of the data in high dimension (e.g. Yale, d = 1024; see docs/clam.md).  A
        sequence makes a grid.
    anneal_epochs : int, optional
        Length of the ramp in epochs (default ``max_epochs // 2``).  When it is not shorter than
        ``max_epochs``, the prototypes of the last epoch are kept.
    mask_value : {"mean", "min", "max", "zero"}, default="mean"
        Value given to masked coordinates: the feature's mean, minimum, maximum, or 0.
    batch_size : int, default=8
        Mini-batch size (the paper uses 8).
    learning_rate : float, default=0.03
        Initial Adam learning rate.  Multiplied by 0.8 each time the 10-epoch moving average of
        the epoch loss improved by less than 0.1 % in 5 consecutive epochs; training stops when
        it falls below 1e-6 or after ``max_epochs``.
    max_epochs : int, default=100
        Maximal number of passes over the data.
    n_init : int, default=1
        Training runs (restarts) per configuration; the best one is kept (``selection``).
    init : {"k-means++", "random", "gaussian"} or array (n_clusters, n_features), default="k-means++"
        Initial prototypes: k-means++ seeding, random data points, the reference code's
        N(0.1, 0.1^2) draws (in the standardised space), or given centres (input space).
    weighted : bool, default=False
        Learn per-prototype log-weights ``eta`` (the weighted ClAM variant); ``weights_`` holds
        ``softmax(eta)``.
    spherical : bool, default=False
        Cosine-similarity variant (paper §3.5): data, states and prototypes are normalised to
        the unit sphere (after standardisation) and the state is renormalised after each step.
    standardize : bool, default=True
        Centre and scale every feature to unit variance before training (as in the paper).
        Prototypes are trained in that space; ``cluster_centers_`` is mapped back.
    selection : {"auto", "loss", "silhouette"}, default="auto"
        How the kept run is chosen among the ``n_init`` runs of every configuration: the lowest
        training loss, or the highest Silhouette score of the training labels (the paper's model
        selection).  ``"auto"``: Silhouette when ``beta``, ``mask_prob``, ``anneal`` or ``step_size`` make
        a grid of more than one configuration (losses at different mask fractions are not comparable), else
        the loss.
    min_clusters : int, optional
        Runs whose training labels use at least this many clusters (default: ``n_clusters``, all
        of them) are preferred by the selection; when no run reaches it, runs that use more
        clusters are preferred.  Silhouette favours runs in which some prototypes attract no
        point (fewer, larger clusters); ``min_clusters=1`` lets such runs win, as in the
        paper's model selection.
    callback : callable, optional
        ``callback(info)`` after every epoch (GIL held; the runs then train one after the other)
        with a dict ``run``, ``epoch``, ``loss``, ``learning_rate``, ``beta``, ``mask_prob`` (and
        ``step``, ``elapsed``, ``progress``); returning ``True`` ends the current run and skips the
        remaining ones (the best run so far is kept).  The convention of every danneal estimator.
    random_state : int, RandomState or None, default=None
        Seeds the initialisation, shuffling and masks (results are reproducible and independent
        of ``n_threads``).
    n_threads : int, optional
        Threads for the kernels (``None`` or -1: all available cores).  A run parallelises over
        chunks of 16 batch rows; when a run has fewer chunks than threads (small batches), the
        restarts of the search train concurrently instead.  Results do not depend on it.
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
        ``softmax(eta)``, only when ``weighted=True``.
    loss_curve_ : ndarray
        Epoch losses of the kept run.
    n_iter_ : int
        Epochs run by the kept run.
    converged_ : bool
        Whether the kept run stopped on its learning-rate floor (a plateau) before
        ``max_epochs``.
    best_params_ : dict
        ``beta``, ``mask_prob``, ``anneal`` and ``step_size`` of the kept run.
    search_results_ : list of dict
        One entry per run: beta, mask_prob, anneal, step_size, run, loss, silhouette (when computed), epochs,
        n_clusters (clusters used by its training labels).
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

    def __init__(self, n_clusters=8, *, beta=1.0, n_steps=10, step_size=0.1, exponent="beta/2", mask_prob=0.1,
                 anneal=1.0, anneal_epochs=None, mask_value="mean", batch_size=8, learning_rate=0.03,
                 max_epochs=100, n_init=1, init="k-means++", weighted=False, spherical=False, standardize=True,
                 selection="auto", min_clusters=None,
                 callback=None, random_state=None, n_threads=None, verbose=0):
        self.n_clusters = n_clusters
        self.beta = beta
        self.n_steps = n_steps
        self.step_size = step_size
        self.exponent = exponent
        self.mask_prob = mask_prob
        self.anneal = anneal
        self.anneal_epochs = anneal_epochs
        self.mask_value = mask_value
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.max_epochs = max_epochs
        self.n_init = n_init
        self.init = init
        self.weighted = weighted
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
        p["betas"] = _as_grid(self.beta, "beta", 0.0)
        p["mask_probs"] = _as_grid(self.mask_prob, "mask_prob", 0.0, 1.0, low_inclusive=False)
        p["anneals"] = _as_grid(self.anneal, "anneal", 0.0, 1.0, low_inclusive=False)
        p["n_steps"] = check_int(self.n_steps, "n_steps", low=1)
        p["alphas"] = _as_grid(self.step_size, "step_size", 0.0, 1.0, low_inclusive=False)
        if self.exponent not in _EXPONENTS:
            raise ValueError(f"exponent={self.exponent!r} must be one of {_EXPONENTS}")
        if self.mask_value not in _MASK_VALUES:
            raise ValueError(f"mask_value={self.mask_value!r} must be one of {_MASK_VALUES}")
        p["batch_size"] = check_int(self.batch_size, "batch_size", low=1)
        p["lr"] = check_float(self.learning_rate, "learning_rate", low=0.0, low_inclusive=False)
        p["max_epochs"] = check_int(self.max_epochs, "max_epochs", low=1)
        p["anneal_epochs"] = (p["max_epochs"] // 2 if self.anneal_epochs is None
                              else check_int(self.anneal_epochs, "anneal_epochs", low=1))
        p["n_init"] = check_int(self.n_init, "n_init", low=1, high=10**6)  # every run's start is drawn up front
        for name in ("weighted", "spherical", "standardize"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"{name}={getattr(self, name)!r} must be a bool")
        if self.selection not in _SELECTIONS:
            raise ValueError(f"selection={self.selection!r} must be one of {_SELECTIONS}")
        if self.callback is not None and not callable(self.callback):
            raise TypeError(f"callback={self.callback!r} must be callable or None")
        p["verbose"] = check_int(self.verbose, "verbose", low=0)
        p["min_clusters"] = p["k"] if self.min_clusters is None else check_int(self.min_clusters, "min_clusters", low=1,
                                                                           high=p["k"])
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

    def _initial(self, Z, k, p, rs):
        dt = Z.dtype
        if "init_array" in p:
            R0 = (p["init_array"] - self.mean_) / self.scale_
        elif self.init == "k-means++":
            R0, _ = kmeans_plusplus(Z.astype(np.float64), k, random_state=rs.randint(2**31 - 1))
        elif self.init == "random":
            R0 = Z[rs.choice(Z.shape[0], k, replace=False)].astype(np.float64)
        else:  # gaussian, as in the reference code
            R0 = rs.normal(0.1, 0.1, size=(k, Z.shape[1]))
        R0 = np.array(R0, dtype=np.float64)
        if self.spherical:
            nrm = np.linalg.norm(R0, axis=1, keepdims=True)
            R0 = R0 / np.where(nrm > 0, nrm, 1.0)
        return np.ascontiguousarray(R0, dtype=dt)

    def _prototypes(self, R):
        """Prototypes as used by the recursion (unit norm when spherical)."""
        if self.spherical:
            nrm = np.linalg.norm(R.astype(np.float64), axis=1, keepdims=True)
            R = (R / np.where(nrm > 0, nrm, 1.0)).astype(R.dtype)
        return np.ascontiguousarray(R)

    # ---- fitting ------------------------------------------------------------------------------
    @with_callbacks
    def fit(self, X: ArrayLike, y: Any = None) -> ClAM:
        """Train the prototypes on ``X`` (n_samples, n_features)."""
        X = validate_X(self, X, dtype=[np.float64, np.float32])
        n, d = X.shape
        p = self._check_params(n, d)
        k = p["k"]
        dt = np.dtype(X.dtype.type)
        if self.standardize:
            self.mean_, scale = _column_moments(X)
            self.scale_ = np.where(scale > 0, scale, 1.0)
        else:
            self.mean_ = np.zeros(d)
            self.scale_ = np.ones(d)
        Z = self._to_internal(X)
        _check_distance_range(Z, "X")
        if self.mask_value == "mean":
            mv = Z.mean(axis=0, dtype=np.float64)
        elif self.mask_value == "min":
            mv = Z.min(axis=0)
        elif self.mask_value == "max":
            mv = Z.max(axis=0)
        else:
            mv = np.zeros(d)
        mv = np.ascontiguousarray(mv, dtype=dt)
        configs = list(itertools.product(p["betas"], p["mask_probs"], p["anneals"], p["alphas"]))
        selection = self.selection
        if selection == "auto":
            selection = "silhouette" if len(configs) > 1 else "loss"
        rs = check_random_state(self.random_state)
        nt = p["n_threads"]
        eta0 = np.zeros(k, dt) if self.weighted else None
        # every run's initial prototypes and seed are drawn up front, in a fixed order, so the
        # results do not depend on how the runs are spread over threads
        jobs = []
        for beta, mask_prob, anneal, alpha in configs:
            n_mask = max(1, min(d, int(np.floor(mask_prob * d + 0.5))))
            for run in range(p["n_init"]):
                R0 = self._initial(Z, k, p, rs)
                seed = int(rs.randint(0, 2**63 - 1, dtype=np.int64))
                jobs.append((beta, mask_prob, anneal, alpha, n_mask, run, R0, seed))
        workers, inner = _split_threads(nt, len(jobs), p["batch_size"])
        mon = FitMonitor(self, X, y, callback=self.callback, verbose=p["verbose"], step_verbosity=2,
                         max_steps=len(jobs) * p["max_epochs"])
        watched = self.callback is not None or p["verbose"] >= 2 or getattr(self, "_skl_callbacks", None)
        if watched:
            workers, inner = 1, nt  # callbacks and per-epoch lines stay in order
        mon.phase("training", f"{len(jobs)} run(s) of at most {p['max_epochs']} epochs, {workers} at a time")
        job_index = {id(job): i for i, job in enumerate(jobs)}
        stopped = []  # a callback asked to stop: the current run ends, the remaining runs are skipped

        def train(job):
            beta, mask_prob, anneal, alpha, n_mask, run, R0, seed = job
            c = self._c(beta)
            cb = self._make_callback(p["verbose"], beta, mask_prob, run, mon, job_index[id(job)], len(jobs),
                                     p["max_epochs"], stopped) if watched else None
            R, eta, curve, lr, status = _core.clam_train(
                Z, mv, R0, eta0, c, alpha, p["n_steps"], bool(self.spherical), bool(self.weighted),
                p["batch_size"], n_mask, p["max_epochs"], p["lr"], seed, inner, cb,
                c_start=c * anneal if anneal < 1 else 0.0, anneal_epochs=p["anneal_epochs"])
            Rp = self._prototypes(R)
            labels, _, _ = _core.clam_predict(Z, Rp, eta if self.weighted else None, c, alpha,
                                              p["n_steps"], bool(self.spherical), inner)
            sil = _silhouette(Z, labels) if selection == "silhouette" else None
            return R, eta, curve, status, labels, sil

        def outputs():  # in job order; each run's arrays are dropped unless it becomes the best
            if workers > 1:  # Ctrl-C or an error stops the other runs too
                yield from map_interruptible(train, jobs, workers)
            else:
                for job in jobs:
                    if stopped and results:
                        break
                    yield train(job)

        results = []
        best = None
        runs = outputs()
        try:
            for job, (R, eta, curve, status, labels, sil) in zip(jobs, runs):
                beta, mask_prob, anneal, alpha, _, run, _, _ = job
                loss = float(status["error"])
                n_found = int(np.unique(labels).size)
                rec = {"beta": beta, "mask_prob": mask_prob, "anneal": anneal, "step_size": alpha, "run": run,
                       "loss": loss,
                       "epochs": int(status["iterations"]), "n_clusters": n_found,
                       "numerical_error": bool(status["numerical_error"])}
                if selection == "silhouette":
                    rec["silhouette"] = sil
                    score = -sil
                else:
                    score = loss
                if not np.isfinite(score):
                    score = np.inf
                results.append(rec)
                mon.note(f"run beta={beta:g} mask_prob={mask_prob:g} anneal={anneal:g} step_size={alpha:g} "
                         f"#{run}: loss={loss:.6g} epochs={rec['epochs']}"
                         + (f" silhouette={rec['silhouette']:.4f}" if "silhouette" in rec else ""),
                         progress=len(results) / len(jobs))
                key = (-min(n_found, p["min_clusters"]), score)
                if best is None or key < best[0]:
                    best = (key, R, eta, curve, status, labels, beta, mask_prob, anneal, alpha)
        finally:
            runs.close()  # stops the pool's other runs at once if the loop body raised
        _, R, eta, curve, status, labels, beta, mask_prob, anneal, alpha = best
        if status["numerical_error"]:
            warnings.warn(f"ClAM: the training loss became non-finite after {int(status['iterations'])} epochs; "
                          "kept the prototypes of the best finite epoch. Lower learning_rate or beta.",
                          ConvergenceWarning, stacklevel=2)
        self._R = self._prototypes(R)
        self._eta = np.ascontiguousarray(eta, dtype=dt) if self.weighted else None
        self._c_fit = self._c(beta)
        self._alpha = alpha
        self._n_steps = p["n_steps"]
        self.cluster_centers_ = (self._R.astype(np.float64) * self.scale_ + self.mean_).astype(dt)
        if self.weighted:
            e = eta.astype(np.float64)
            w = np.exp(e - e.max())
            self.weights_ = (w / w.sum()).astype(dt)
        self.labels_ = labels
        self.loss_curve_ = np.asarray(curve)
        self.n_iter_ = int(status["iterations"])
        self.converged_ = bool(status["converged"])
        self.best_params_ = {"beta": beta, "mask_prob": mask_prob, "anneal": anneal, "step_size": alpha}
        self.search_results_ = results
        mon.finish()
        return self

    def _make_callback(self, verbose, beta, mask_prob, run, mon, job, n_jobs, max_epochs, stopped):
        """The per-epoch hook of one run: the verbose line, then the callbacks (danneal/_callbacks.py);
        returns False to the training loop to end the run."""

        def cb(epoch, loss, lr):
            info = {"run": job, "epoch": epoch, "loss": loss, "learning_rate": lr, "beta": beta,
                    "mask_prob": mask_prob}
            if mon.step(info, progress=(job * max_epochs + epoch + 1) / (n_jobs * max_epochs),
                        line=f"beta={beta:g} mask_prob={mask_prob:g} #{run} epoch {epoch + 1}: loss={loss:.6g} "
                             f"lr={lr:.3g}"):
                stopped.append(job)
                return False
            return True

        return cb

    # ---- inference ----------------------------------------------------------------------------
    def _run(self, X):
        check_is_fitted(self, "cluster_centers_")
        X = validate_X(self, X, reset=False, dtype=[np.float64, np.float32])
        Z = self._to_internal(X)
        _check_distance_range(Z, "X", "X is far outside the range of the training data")
        R = self._R.astype(Z.dtype)
        eta = None if self._eta is None else self._eta.astype(Z.dtype)
        return _core.clam_predict(Z, R, eta, self._c_fit, self._alpha, self._n_steps, bool(self.spherical),
                                  resolve_n_threads(self.n_threads))

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Nearest prototype of each point after ``n_steps`` unmasked steps of the recursion (a lazy
        dask array for dask input)."""
        if is_dask(X):
            check_is_fitted(self, "cluster_centers_")
            return map_rows(self.predict, X, self.n_features_in_, dtype=np.int64)
        return self._run(X)[0]

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
        """Minus the sum of squared distances from the final states of the recursion to the nearest
        prototype, in ClAM's internal space (standardised and, if ``spherical``, normalised: the
        space of ``transform``), higher is better, so that ``GridSearchCV`` works without a scorer.
        Scores of models fitted with different ``standardize``/``spherical`` are not comparable."""
        if is_dask(X):
            check_is_fitted(self, "cluster_centers_")
            d2 = self.transform(X).astype(np.float64) ** 2
            return -float(d2.min(axis=1).sum().compute())
        d2 = np.maximum(self._run(X)[1].astype(np.float64), 0)
        return -float(d2.min(axis=1).sum())

    @property
    def _n_features_out(self):
        """Number of columns of ``transform`` (for ``get_feature_names_out``)."""
        return self.cluster_centers_.shape[0]


def _column_moments(X):
    """Column means and standard deviations (float64) at any finite scale: each column is first
    divided by a power of two near its largest magnitude (exact), so that neither the sums nor the
    squares overflow (|X| ~ 1e300) or underflow (|X| ~ 1e-300); for ordinary data the results are
    bit-identical to ``X.mean(0)``, ``X.std(0)``."""
    Xd = np.asarray(X, dtype=np.float64)
    amax = np.abs(Xd).max(axis=0)
    with np.errstate(divide="ignore"):
        c = np.where(amax > 0, np.exp2(np.floor(np.log2(np.where(amax > 0, amax, 1.0)))), 1.0)
    Y = Xd / c
    return Y.mean(axis=0) * c, Y.std(axis=0) * c


def _check_distance_range(Z, name, hint="use standardize=True or rescale X"):
    """The kernels form squared distances in Z's dtype: refuse data whose squared distances
    overflow (possible only with ``standardize=False``) instead of returning NaN."""
    if Z.size == 0:
        return
    amax = float(np.abs(Z).max())
    limit = float(np.sqrt(np.finfo(Z.dtype).max / (4.0 * Z.shape[1])))
    if not amax <= limit:
        raise ValueError(f"{name}: values up to {amax:.3g} (after standardisation) make squared distances overflow "
                         f"{Z.dtype} (limit {limit:.3g} for {Z.shape[1]} features); {hint}")


def _split_threads(n_threads, n_runs, batch_size):
    """(concurrent runs, threads per run).  A run parallelises over chunks of 16 batch rows, so
    small batches (the paper's 8) leave threads idle; independent restarts fill them instead."""
    chunks = -(-batch_size // 16)
    workers = max(1, min(n_runs, n_threads // chunks))
    return workers, max(1, n_threads // workers)


def _silhouette(Z, labels):
    n_labels = np.unique(labels).size
    if n_labels < 2 or n_labels > Z.shape[0] - 1:
        return -1.0
    kw = {}
    if Z.shape[0] > 5000:
        kw = {"sample_size": 5000, "random_state": 0}
    return float(silhouette_score(Z, labels, **kw))
