"""One callback convention across the estimators, scikit-learn's callback protocol
(``sklearn.callback``) and the ``verbose`` progress display (danneal/_callbacks.py)."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs

import danneal
from danneal._callbacks import HAVE_SKLEARN_CALLBACKS, FitMonitor, n_geometric_steps

X, Y = make_blobs(120, n_features=3, centers=3, cluster_std=0.6, random_state=0)

# these tests are about the callbacks, not convergence: ClAM's short runs (max_epochs=8, to keep
# the tests fast) end at the epoch cap and say so with a ConvergenceWarning, which is expected here
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def estimators(**kw):
    return [
        danneal.PairwiseAnnealing(3, metric="sqeuclidean", random_state=0, **kw),
        danneal.CentralAnnealing(3, random_state=0, **kw),
        danneal.ClAM(3, max_epochs=8, n_init=2, random_state=0, **kw),
    ]


@pytest.mark.parametrize("est", estimators(), ids=lambda e: type(e).__name__)
def test_callback_convention_same_for_every_estimator(est):
    seen = []
    est.set_params(callback=seen.append).fit(X)
    assert len(seen) >= 2
    for i, info in enumerate(seen):
        assert isinstance(info, dict)
        assert info["step"] == i  # numbered within the fit
        assert info["elapsed"] >= 0
        assert info["progress"] is None or 0.0 <= info["progress"] <= 1.0
    assert seen[-1]["elapsed"] >= seen[0]["elapsed"]


@pytest.mark.parametrize("est", estimators(), ids=lambda e: type(e).__name__)
def test_returning_true_stops_early_and_leaves_a_fitted_estimator(est):
    full = []
    est.set_params(callback=full.append).fit(X)
    calls = []

    def stop_at_second(info):
        calls.append(info["step"])
        return info["step"] == 1

    est.set_params(callback=stop_at_second).fit(X)
    assert calls == [0, 1] and len(full) > 2
    assert est.predict(X).shape == (len(X),)  # fitted all the same
    assert np.isfinite(est.score(X))


@pytest.mark.parametrize("est", estimators(), ids=lambda e: type(e).__name__)
def test_false_and_none_go_on(est):
    a, b = [], []
    est.set_params(callback=lambda info: a.append(info["step"]) or False).fit(X)
    est.set_params(callback=lambda info: b.append(info["step"])).fit(X)
    assert a == b and len(a) > 2


@pytest.mark.parametrize("est", estimators(verbose=1), ids=lambda e: type(e).__name__)
def test_verbose_covers_the_whole_fit_with_time_left(est, capsys):
    est.fit(X)
    err = capsys.readouterr().err
    name = type(est).__name__
    lines = [ln for ln in err.splitlines() if ln.startswith(f"[{name}]")]
    assert lines and "fit done in" in lines[-1]
    assert any("left" in ln for ln in lines)  # an estimate of the time left while it runs
    if name != "ClAM":
        assert "annealing" in lines[0] or "critical temperature" in lines[0]  # from the very start


def test_n_geometric_steps_is_an_upper_bound():
    assert n_geometric_steps(10.0, 1.0, 0.5) >= 4  # 10, 5, 2.5, 1.25
    assert n_geometric_steps("auto", "auto", 0.8, 1e-4) >= int(np.log(1e-4) / np.log(0.8)) + 1
    assert n_geometric_steps("auto", 1.0, 0.8) is None
    assert n_geometric_steps(1.0, 2.0, 0.8) is None


def test_fit_monitor_without_callbacks_is_silent(capsys):
    mon = FitMonitor(danneal.CentralAnnealing(2), X)
    mon.phase("annealing")
    assert mon.step({"T": 1.0}, progress=0.5) is False
    mon.finish()
    assert capsys.readouterr() == ("", "")


skl = pytest.mark.skipif(not HAVE_SKLEARN_CALLBACKS, reason="scikit-learn < 1.9 has no sklearn.callback")


class _Recorder:
    """A FitCallback that records the task tree and can ask to stop."""

    def __init__(self, stop_after=None):
        self.events, self.stop_after, self.setups, self.teardowns = [], stop_after, 0, 0
        self.fitted = []

    def setup(self, estimator, context):
        self.setups += 1

    def teardown(self, estimator, context):
        self.teardowns += 1

    def on_fit_task_begin(self, estimator, context, **kw):
        self.events.append(("begin", context.task_name, context.task_id))

    def on_fit_task_end(self, estimator, context, *, X=None, y=None, fitted_estimator=None):
        self.events.append(("end", context.task_name, context.task_id))
        if fitted_estimator is not None:
            self.fitted.append(fitted_estimator)
        n_steps = sum(1 for e in self.events if e[:2] == ("end", "step"))
        return self.stop_after is not None and context.task_name == "step" and n_steps >= self.stop_after


@skl
@pytest.mark.parametrize("est", estimators(), ids=lambda e: type(e).__name__)
def test_sklearn_callback_protocol(est):
    rec = _Recorder()
    est.set_callbacks(rec).fit(X, Y)
    assert rec.setups == 1 and rec.teardowns == 1
    ev = rec.events
    assert ev[0] == ("begin", "fit", 0) and ev[-1] == ("end", "fit", 0)
    steps = [e for e in ev if e[1] == "step"]
    assert len(steps) >= 4 and len(steps) % 2 == 0
    # every begin has its end, in order
    assert [e[0] for e in ev[1:-1]] == ["begin", "end"] * ((len(ev) - 2) // 2)
    assert rec.fitted  # at least the final model is offered to the callbacks
    assert rec.fitted[-1].predict(X).shape == (len(X),)


@skl
@pytest.mark.parametrize("est", estimators(), ids=lambda e: type(e).__name__)
def test_sklearn_callback_can_stop_early(est):
    rec = _Recorder(stop_after=2)
    est.set_callbacks(rec).fit(X)
    assert sum(1 for e in rec.events if e[:2] == ("end", "step")) == 2
    assert est.predict(X).shape == (len(X),)


@skl
def test_scoring_monitor_scores_every_temperature_of_central_annealing():
    from sklearn.callback import ScoringMonitor

    mon = ScoringMonitor(scoring="adjusted_rand_score")
    est = danneal.CentralAnnealing(3, random_state=0).set_callbacks(mon).fit(X, Y)
    data = mon.get_logs().data
    scores = [row["score"] if "score" in row else row.get("adjusted_rand_score") for row in data]
    assert len(data) == len(est.history_["T"]) + 2  # each temperature, the final pass, the fit
    assert all(s is not None and -1 <= s <= 1 for s in scores)
    assert scores[-1] == pytest.approx(1.0)  # three separated blobs


@skl
@pytest.mark.parametrize("metric", ["sqeuclidean", "precomputed", "cityblock"])
def test_scoring_monitor_scores_every_temperature_of_pairwise_annealing(metric):
    from sklearn.callback import ScoringMonitor
    from sklearn.metrics import pairwise_distances

    data = pairwise_distances(X, metric="sqeuclidean") if metric == "precomputed" else X
    mon = ScoringMonitor(scoring="adjusted_rand_score")
    est = danneal.PairwiseAnnealing(3, metric=metric, random_state=0).set_callbacks(mon).fit(data, Y)
    rows = mon.get_logs().data
    scores = [row["score"] if "score" in row else row.get("adjusted_rand_score") for row in rows]
    assert len(rows) == len(est.history_) + 2  # each temperature, the split-merge refinement, the fit
    assert all(s is not None and -1 <= s <= 1 for s in scores)
    steps = [sc for row, sc in zip(rows, scores) if row["task_name"] == "step"]
    fit = [sc for row, sc in zip(rows, scores) if row["task_name"] == "fit"]
    assert len(steps) == len(est.history_) and fit == [pytest.approx(1.0)]  # three separated blobs
    assert steps[0] < 0.9 and steps[-1] == pytest.approx(1.0)  # nearly uniform at T0, hard at the end


@skl
@pytest.mark.parametrize("est", estimators(), ids=lambda e: type(e).__name__)
def test_sklearn_progress_bar(est, capsys):
    pytest.importorskip("rich")
    from sklearn.callback import ProgressBar

    est.set_callbacks(ProgressBar()).fit(X)
    assert est.predict(X).shape == (len(X),)
    out = capsys.readouterr()
    assert type(est).__name__ in out.out + out.err
