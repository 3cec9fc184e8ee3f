"""PairwiseAnnealing on dask arrays (feature-space metrics), on a real distributed.LocalCluster
(2 worker processes x 1 thread): equal to the in-memory fit without local search and split-merge,
lazy predict, a worker killed mid-fit, and the in-memory errors for bad input."""

import os
import signal

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_blobs

import danneal

da = pytest.importorskip("dask.array", reason="the dask extra is part of the test extra")
distributed = pytest.importorskip("distributed")

# the dask fit runs the annealing and the zero-temperature sweeps; the in-memory fit does the same
# with local_search=False and refine=False.  Few temperatures keep each fit a few hundred rounds.
PARAMS = dict(
    n_clusters=4, metric="sqeuclidean", cooling=0.5, tol=1e-3, random_state=0, local_search=False, refine=False
)


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=40
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


@pytest.fixture(scope="module")
def blobs():
    X, _ = make_blobs(900, centers=4, n_features=3, cluster_std=1.0, random_state=3)
    return X + 5.0


def rel(a, b):
    return float(np.abs(np.asarray(a) - np.asarray(b)).max() / max(np.abs(np.asarray(b)).max(), 1e-300))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("metric", ["sqeuclidean", "cosine"])
def test_dask_pairwise_equals_in_memory(client, blobs, dtype, metric):
    X = blobs.astype(dtype)
    mem = danneal.PairwiseAnnealing(**{**PARAMS, "metric": metric}).fit(X)
    dsk = danneal.PairwiseAnnealing(**{**PARAMS, "metric": metric}).fit(da.from_array(X, chunks=(250, -1)))
    # every sweep's statistics are summed per block, then in block order (in memory: chunk by
    # chunk in one sequence), so float64 agrees to about 1e-12 relative; float32 assignments are
    # rounded to float32 each sweep, so there the two paths agree to the float32 rounding
    tol = 1e-11 if dtype == np.float64 else 2e-4
    assert dsk.algorithm_ == "features" and dsk.n_iter_ == mem.n_iter_
    assert dsk.n_anneal_rows_ == mem.n_anneal_rows_ == X.shape[0]
    assert len(dsk.history_) == len(mem.history_)
    for a, b in zip(dsk.history_, mem.history_):
        assert a["n_iter"] == b["n_iter"] and a["converged"] == b["converged"]
        assert a["cost"] == pytest.approx(b["cost"], rel=tol)
        assert a["hardness"] == pytest.approx(b["hardness"], rel=tol, abs=tol)
    assert dsk.cost_ == pytest.approx(mem.cost_, rel=tol)
    assert rel(dsk.cluster_centers_, mem.cluster_centers_) < tol
    assert isinstance(dsk.labels_, da.Array) and isinstance(dsk.assignments_, da.Array)
    assert_array_equal(dsk.labels_.compute(), mem.labels_)
    assert np.abs(dsk.assignments_.compute().astype(np.float64) - mem.assignments_).max() < tol
    assert dsk.critical_temperature_ == pytest.approx(mem.critical_temperature_, rel=1e-12)


def test_dask_pairwise_chunking_does_not_change_the_answer(client, blobs):
    a = danneal.PairwiseAnnealing(**PARAMS).fit(da.from_array(blobs, chunks=(100, -1)))
    b = danneal.PairwiseAnnealing(**PARAMS).fit(da.from_array(blobs, chunks=(450, -1)))
    assert a.n_iter_ == b.n_iter_ and a.cost_ == pytest.approx(b.cost_, rel=1e-12)
    assert_array_equal(a.labels_.compute(), b.labels_.compute())


def test_dask_pairwise_predict_transform_proba_are_lazy(client, blobs):
    model = danneal.PairwiseAnnealing(**PARAMS).fit(da.from_array(blobs, chunks=(300, -1)))
    Xd = da.from_array(blobs, chunks=(200, -1))
    out = model.predict(Xd)
    assert isinstance(out, da.Array) and out.shape == (len(blobs),)
    assert_array_equal(out.compute(), model.predict(blobs))
    assert_array_equal(out.compute(), model.labels_.compute())
    for method, kw in (("transform", {}), ("predict_proba", {}), ("predict_proba", {"temperature": 0.5})):
        res = getattr(model, method)(Xd, **kw)
        assert isinstance(res, da.Array) and res.shape == (len(blobs), 4)
        assert_allclose(res.compute(), getattr(model, method)(blobs, **kw), rtol=1e-12, atol=1e-300)
    assert_allclose(model.predict_proba(Xd).sum(axis=1).compute(), 1.0, rtol=1e-12)


def test_dask_pairwise_worker_killed_mid_fit(client, blobs):
    """Nothing but the persisted input blocks lives on the workers (assignments are rebuilt from
    O(k d) statistics and row-indexed noise): a killed worker's blocks are recomputed from the
    source and the fit ends exactly as the undisturbed one."""
    Xd = da.from_array(blobs, chunks=(150, -1))
    ref = danneal.PairwiseAnnealing(**PARAMS).fit(Xd)
    calls = []

    def kill_one(rec):
        calls.append(rec["T"])
        if len(calls) == 3:
            victim = sorted(client.scheduler_info()["workers"])[0]
            pid = client.run(os.getpid, workers=[victim])[victim]
            os.kill(pid, signal.SIGKILL)
        return False

    before = set(client.scheduler_info()["workers"])
    model = danneal.PairwiseAnnealing(**PARAMS, callback=kill_one).fit(Xd)
    assert len(calls) > 3
    assert set(client.scheduler_info()["workers"]) != before
    assert model.n_iter_ == ref.n_iter_
    assert_array_equal(model.cluster_centers_, ref.cluster_centers_)
    assert_array_equal(model.labels_.compute(), ref.labels_.compute())


def test_dask_pairwise_bad_input(client, blobs):
    Xd = da.from_array(blobs, chunks=(300, -1))
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        danneal.PairwiseAnnealing(**PARAMS).fit(Xd[Xd[:, 0] > -np.inf])
    bad = blobs.copy()
    bad[500, 2] = np.inf
    with pytest.raises(ValueError, match="NaN or infinity"):
        danneal.PairwiseAnnealing(**PARAMS).fit(da.from_array(bad, chunks=(300, -1)))
    with pytest.raises(ValueError, match="metric='cityblock'"):
        danneal.PairwiseAnnealing(**{**PARAMS, "metric": "cityblock"}).fit(Xd)
    with pytest.raises(ValueError, match="potential='detan'"):
        danneal.PairwiseAnnealing(**{**PARAMS, "potential": "detan"}).fit(Xd)
    with pytest.raises(ValueError, match="n_clusters=901"):
        danneal.PairwiseAnnealing(**{**PARAMS, "n_clusters": 901}).fit(Xd)
    zero = blobs.copy()
    zero[3] = 0
    with pytest.raises(ValueError, match="all-zero row"):
        danneal.PairwiseAnnealing(**{**PARAMS, "metric": "cosine"}).fit(da.from_array(zero, chunks=(300, -1)))
    model = danneal.PairwiseAnnealing(**PARAMS).fit(blobs)
    with pytest.raises(ValueError, match="features"):
        model.predict(da.from_array(blobs[:, :2], chunks=(300, -1)))
