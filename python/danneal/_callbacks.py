"""One callback convention for every estimator, scikit-learn's callback protocol, and the
``verbose`` progress display.

The convention (the same for :class:`~danneal.PairwiseAnnealing`,
:class:`~danneal.CentralAnnealing` and :class:`~danneal.ClAM`)::

    def callback(info: dict) -> bool | None: ...

is called once per step of a fit (a temperature of the annealing, an epoch of a ClAM run) with a
dict describing the step that just finished.  Every dict has ``"step"`` (0, 1, ... within the
fit), ``"elapsed"`` (seconds since the fit started) and ``"progress"`` (an estimate of the
fraction of the annealing or training done, in [0, 1], or None) besides the estimator's own
keys.  Returning ``True`` stops early: the estimator finishes as its docstring says (e.g. the
zero-temperature pass still runs) and is fitted.  Any other return value (``None``, ``False``) goes on.

scikit-learn >= 1.9 callbacks (``est.set_callbacks(ProgressBar())``, ``ScoringMonitor``) see a fit
as a root task ``"fit"`` whose subtasks are the same steps, followed by one ``"finish"`` subtask
(refinement, final pass); a callback whose ``on_fit_task_end`` returns ``True`` stops early in the
same way.  Those callbacks receive ``X`` and, when ``fit`` was given one, ``y`` (e.g. true labels
for ``ScoringMonitor(scoring="adjusted_rand_score")``), and a ``fitted_estimator`` that predicts
with the state of that step where the estimator can build one cheaply.

``verbose >= 1`` prints one line per phase of the fit (set-up such as the critical temperature,
the annealing, the finish) and per step, each with the time elapsed and an estimate of the time
left, on standard error.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any, Callable, Optional

try:  # scikit-learn >= 1.9
    from sklearn.callback import CallbackSupportMixin as _SkCallbackSupport
    from sklearn.callback import with_callbacks

    HAVE_SKLEARN_CALLBACKS = True
except ImportError:  # pragma: no cover - older scikit-learn: the estimators work without them
    HAVE_SKLEARN_CALLBACKS = False

    class _SkCallbackSupport:  # type: ignore[no-redef]
        pass

    def with_callbacks(method):  # type: ignore[no-redef]
        return method


Callback = Callable[[dict], Optional[bool]]

__all__ = ["CallbackSupport", "FitMonitor", "with_callbacks", "n_geometric_steps", "HAVE_SKLEARN_CALLBACKS"]


class CallbackSupport(_SkCallbackSupport):
    """``set_callbacks`` of scikit-learn's callback protocol (scikit-learn >= 1.9; a no-op base
    on older versions)."""


def n_geometric_steps(T0: Any, T_min: Any, cooling: float, default_ratio: Optional[float] = None) -> Optional[int]:
    """An upper bound on the temperatures of a geometric schedule ``T0 * cooling**i >= T_min``
    (``"auto"`` values: ``T_min = default_ratio * T0``); None when it cannot be known before the fit."""
    try:
        if isinstance(T_min, str) or T_min is None:
            ratio = default_ratio
        elif isinstance(T0, str) or T0 is None:
            return None
        else:
            ratio = float(T_min) / float(T0)
        if not (ratio is not None and 0 < ratio < 1 and 0 < cooling < 1):
            return None
        return int(math.floor(math.log(ratio) / math.log(cooling))) + 2
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None


def _fmt_seconds(s: float) -> str:
    if s < 60:
        return f"{s:.1f}s"
    m, s = divmod(int(round(s)), 60)
    return f"{m}m{s:02d}s" if m < 60 else f"{m // 60}h{m % 60:02d}m"


class FitMonitor:
    """Everything that watches one fit: the user's ``callback``, scikit-learn callbacks and the
    ``verbose`` display.  The estimators call :meth:`phase`, :meth:`step` (which says whether to
    stop) and :meth:`finish`; nothing else about callbacks lives in the estimators.

    Parameters
    ----------
    estimator : estimator
        The estimator being fitted (its class name prefixes the verbose lines).
    X, y : array-like or None
        The training data (passed on to scikit-learn callbacks).
    callback : callable or None
        The user's ``callback(info) -> bool | None``.
    verbose : int
        0: silent; >= 1: progress lines on standard error.
    max_steps : int or None
        An upper bound on the number of steps (for progress bars), or None if unknown.
    step_verbosity : int
        The ``verbose`` level from which every step gets a line (phases and notes from 1).
    file : file-like, optional
        Where verbose lines go (default ``sys.stderr`` at the time of each line).
    """

    def __init__(
        self,
        estimator: Any,
        X: Any = None,
        y: Any = None,
        *,
        callback: Optional[Callback] = None,
        verbose: int = 0,
        max_steps: Optional[int] = None,
        step_verbosity: int = 1,
        file: Any = None,
    ):
        self.name = type(estimator).__name__
        self.estimator = estimator
        self.X, self.y = X, y
        self.callback = callback
        self.verbose = int(verbose or 0)
        self.step_verbosity = step_verbosity
        self.file = file
        self.t0 = time.perf_counter()
        self.n_steps = 0
        self.max_steps = max_steps
        self._phase = None
        self._phase_t0 = self.t0
        self._ctx = None
        self._phase_ctx = None
        self._finished = False
        if (
            HAVE_SKLEARN_CALLBACKS
            and getattr(estimator, "_skl_callbacks", None)
            and hasattr(estimator, "_init_callback_context")
        ):
            # one subtask per step plus the phases after them (refinement, final pass; at most a
            # few); the bound only sizes the progress bar, extra steps get no subtask
            n_sub = None if max_steps is None else int(max_steps) + 3
            self._ctx = estimator._init_callback_context(max_subtasks=n_sub)
            self._ctx.call_on_fit_task_begin(estimator=estimator, X=X, y=y)

    # ---- output --------------------------------------------------------------------------------
    def _print(self, text: str) -> None:
        print(f"[{self.name}] {text}", file=self.file if self.file is not None else sys.stderr, flush=True)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def phase(self, name: str, detail: str = "") -> None:
        """Announce a phase of the fit (printed at ``verbose >= 1``), e.g. ``"critical temperature"``.
        A phase that starts after the first step (a refinement, a final pass) is also a subtask for
        scikit-learn callbacks, ended by the next phase or :meth:`finish`."""
        now = time.perf_counter()
        self._end_phase_task()
        if self.verbose and self._phase is not None:
            self._print(f"{self._phase} done in {_fmt_seconds(now - self._phase_t0)}")
        self._phase, self._phase_t0 = name, now
        if self.n_steps:
            self._phase_ctx = self._subtask(name)
        if self.verbose:
            self._print(f"{name}{' (' + detail + ')' if detail else ''}... elapsed {_fmt_seconds(self.elapsed)}")

    def _end_phase_task(self, reconstruction: Any = None) -> None:
        ctx, self._phase_ctx = self._phase_ctx, None
        if ctx is not None:
            ctx.call_on_fit_task_end(
                estimator=self.estimator, X=self.X, y=self.y, reconstruction_attributes=reconstruction
            )

    # ---- steps ---------------------------------------------------------------------------------
    def _subtask(self, name: str):
        if self._ctx is None:
            return None
        if self._ctx.max_subtasks is not None and len(self._ctx._children_map) >= self._ctx.max_subtasks:
            return None  # more steps than the bound said: no more progress-bar subtasks
        ctx = self._ctx.subcontext(task_name=name)
        ctx.call_on_fit_task_begin(estimator=self.estimator, X=self.X, y=self.y)
        return ctx

    def step(self, info: dict, *, progress: Optional[float] = None, line: str = "", reconstruction: Any = None) -> bool:
        """One step finished: show it, tell the callbacks; returns True to stop early.

        ``info`` is the estimator's record (copied before the user sees it); ``progress`` the
        estimated fraction of the fit done; ``line`` the estimator's own summary for the verbose
        line; ``reconstruction`` a dict (or a callable returning one) of fitted attributes that
        make a copy of the estimator predict with this step's state (scikit-learn callbacks).
        """
        elapsed = self.elapsed
        if progress is None and self.max_steps:
            progress = (self.n_steps + 1) / self.max_steps
        progress = None if progress is None else min(max(float(progress), 0.0), 1.0)
        record = dict(info)
        record.update(step=self.n_steps, elapsed=elapsed, progress=progress)
        self.n_steps += 1
        if self.verbose >= self.step_verbosity:
            self._line(f"step {record['step']}", progress, line)
        stop = False
        ctx = self._subtask("step")
        if ctx is not None:
            stop |= bool(
                ctx.call_on_fit_task_end(
                    estimator=self.estimator, X=self.X, y=self.y, reconstruction_attributes=reconstruction
                )
            )
        if self.callback is not None:
            stop |= self.callback(record) is True
        if stop and self.verbose:
            self._print(f"stopped early by a callback after step {record['step']}")
        return stop

    def _line(self, head: str, progress: Optional[float], line: str) -> None:
        eta = ""
        if progress:
            # the time left if the rest goes at the pace of the phase so far (progress is measured
            # against the longest the phase can take, so this is an upper bound)
            spent = time.perf_counter() - self._phase_t0
            left = _fmt_seconds(spent * (1.0 - progress) / progress)
            eta = f", at most ~{left} left in {self._phase}" if progress < 1 and self._phase else ""
        parts = ([head] if head else []) + ([] if progress is None else [f"{100.0 * progress:.0f}%"])
        parts += ([line] if line else []) + [f"elapsed {_fmt_seconds(self.elapsed)}{eta}"]
        self._print(" ".join(parts))

    def note(self, line: str, progress: Optional[float] = None) -> None:
        """A progress line that is not a step (e.g. a ClAM run finished), at ``verbose >= 1``."""
        if self.verbose:
            self._line("", progress, line)

    def finish(self, reconstruction: Any = None) -> None:
        """The fit is done (call once, with the estimator fitted): closes the scikit-learn tasks."""
        if self._finished:
            return
        self._finished = True
        reconstruction = {} if reconstruction is None else reconstruction
        self._end_phase_task(reconstruction)
        if self._ctx is not None:
            self._ctx.call_on_fit_task_end(
                estimator=self.estimator, X=self.X, y=self.y, reconstruction_attributes=reconstruction
            )
        if self.verbose:
            if self._phase is not None:
                self._print(f"{self._phase} done in {_fmt_seconds(time.perf_counter() - self._phase_t0)}")
            steps = f" ({self.n_steps} steps)" if self.n_steps else ""
            self._print(f"fit done in {_fmt_seconds(self.elapsed)}{steps}")
