"""Annealing fits on dask arrays, on a real distributed.LocalCluster (2 worker processes x 1 thread).

The dask driver keeps the schedule on the client and runs one graph per sweep over the persisted
row blocks; these tests check that it gives the in-memory answer, stays lazy where dask-ml does,
survives a worker killed in the middle of a fit, and rejects bad input with the in-memory errors.
"""

import os
import signal

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_blobs

import danneal

da = pytest.importorskip("dask.array", reason="the dask extra is part of the test extra")
distributed = pytest.importorskip("distributed")

# few temperatures, so that each fit is a few hundred sweeps (each sweep one graph)
PARAMS = dict(n_clusters=4, cooling=0.6, random_state=0, tol=1e-4, final_max_iter=50)


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
    X, _ = make_blobs(1200, centers=4, n_features=3, cluster_std=1.0, random_state=3)
    return X


def _fit_both(X, chunks, **kw):
    mem = danneal.CentralAnnealing(**{**PARAMS, **kw}).fit(X)
    dsk = danneal.CentralAnnealing(**{**PARAMS, **kw}).fit(da.from_array(X, chunks=(chunks, -1)))
    return mem, dsk


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dask_fit_equals_in_memory_fit(client, blobs, dtype):
    X = blobs.astype(dtype)
    mem, dsk = _fit_both(X, 300)
    # per-block totals are added in block order (not chunk by chunk as in memory): 1e-12 relative
    # in float64; float32 centroids are rounded to float32 after each update, so the paths agree
    # to the float32 rounding of one update
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    assert dsk.n_iter_ == mem.n_iter_
    assert_allclose(dsk.cluster_centers_, mem.cluster_centers_, rtol=rtol, atol=rtol)
    assert dsk.cluster_centers_.dtype == dtype
    assert_allclose(dsk.inertia_, mem.inertia_, rtol=1e-10 if dtype == np.float64 else 1e-5)
    # float32: right after a split the fixed point stops after 12 passes, before it converges, so
    # the float32 rounding of block-order vs chunk-order sums is not contracted away there (4e-5
    # measured at one temperature; 2e-7 when every fixed point converges)
    assert_allclose(
        dsk.history_["free_energy"], mem.history_["free_energy"], rtol=1e-9 if dtype == np.float64 else 1e-4
    )
    assert isinstance(dsk.labels_, da.Array)
    assert_array_equal(dsk.labels_.compute(), mem.labels_)
    assert_allclose(dsk.cluster_weights_, mem.cluster_weights_, rtol=1e-12)


def test_dask_sample_weight(client, blobs):
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(blobs))
    mem = danneal.CentralAnnealing(**PARAMS).fit(blobs, sample_weight=w)
    dsk = danneal.CentralAnnealing(**PARAMS).fit(
        da.from_array(blobs, chunks=(400, -1)), sample_weight=da.from_array(w, chunks=400)
    )
    assert_allclose(dsk.cluster_centers_, mem.cluster_centers_, rtol=1e-12, atol=1e-12)
    assert_allclose(dsk.inertia_, mem.inertia_, rtol=1e-10)


def test_predict_transform_are_lazy(client, blobs):
    Xd = da.from_array(blobs, chunks=(250, -1))
    model = danneal.CentralAnnealing(**PARAMS).fit(blobs)
    for method, shape in (
        ("predict", (len(blobs),)),
        ("predict_proba", (len(blobs), 4)),
        ("transform", (len(blobs), 4)),
    ):
        out = getattr(model, method)(Xd)
        assert isinstance(out, da.Array) and out.shape == shape
        assert_allclose(out.compute(), getattr(model, method)(blobs), rtol=1e-12, atol=1e-12)


def test_clam_predict_transform_on_dask(client, blobs):
    model = danneal.ClAM(3, random_state=0).fit(blobs[:300])
    Xd = da.from_array(blobs, chunks=(250, -1))
    lab = model.predict(Xd)
    dist = model.transform(Xd)
    assert isinstance(lab, da.Array) and isinstance(dist, da.Array)
    assert_array_equal(lab.compute(), model.predict(blobs))
    assert_allclose(dist.compute(), model.transform(blobs), rtol=1e-12)


def test_worker_killed_mid_fit(client, blobs):
    """A worker dies at the third temperature: its persisted blocks are recomputed from their
    source, and the fit ends exactly as the undisturbed one (the blocks and the order in which
    their statistics are added do not change)."""
    Xd = da.from_array(blobs, chunks=(200, -1))
    ref = danneal.CentralAnnealing(**PARAMS).fit(Xd)
    calls = []

    def kill_one(info):
        calls.append(info["T"])
        if len(calls) == 3:
            victim = sorted(client.scheduler_info()["workers"])[0]
            pid = client.run(os.getpid, workers=[victim])[victim]
            os.kill(pid, signal.SIGKILL)
        return False

    before = set(client.scheduler_info()["workers"])
    model = danneal.CentralAnnealing(**PARAMS, callback=kill_one).fit(Xd)
    assert len(calls) > 3
    assert set(client.scheduler_info()["workers"]) != before  # the victim is gone (a new one replaced it)
    assert_array_equal(model.cluster_centers_, ref.cluster_centers_)
    assert model.n_iter_ == ref.n_iter_
    assert_array_equal(model.labels_.compute(), ref.labels_.compute())


def test_bad_dask_input(client, blobs):
    Xd = da.from_array(blobs, chunks=(300, -1))
    unknown = Xd[Xd[:, 0] > -np.inf]
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        danneal.CentralAnnealing(**PARAMS).fit(unknown)
    bad = blobs.copy()
    bad[700, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        danneal.CentralAnnealing(**PARAMS).fit(da.from_array(bad, chunks=(300, -1)))
    with pytest.raises(ValueError, match="2-d"):
        danneal.CentralAnnealing(**PARAMS).fit(da.from_array(blobs[:, 0], chunks=300))
    with pytest.raises(TypeError, match="complex"):
        danneal.CentralAnnealing(**PARAMS).fit(da.from_array(blobs.astype(complex), chunks=(300, -1)))
    model = danneal.CentralAnnealing(**PARAMS).fit(blobs)
    with pytest.raises(ValueError, match="features"):
        model.predict(da.from_array(blobs[:, :2], chunks=(300, -1)))
    with pytest.raises(ValueError, match="sample_weight"):
        danneal.CentralAnnealing(**PARAMS).fit(Xd, sample_weight=-np.ones(len(blobs)))


def test_local_scheduler_without_client():
    """Without a distributed client the same driver runs on dask's local scheduler (in a fresh
    process, so that this module's client is not picked up)."""
    import subprocess
    import sys

    code = (
        "import numpy as np, dask.array as da, danneal\n"
        "from sklearn.datasets import make_blobs\n"
        "X, _ = make_blobs(600, centers=3, n_features=2, random_state=1)\n"
        "p = dict(n_clusters=3, cooling=0.6, random_state=0, tol=1e-4, final_max_iter=50)\n"
        "a = danneal.CentralAnnealing(**p).fit(X)\n"
        "b = danneal.CentralAnnealing(**p).fit(da.from_array(X, chunks=(200, -1)))\n"
        "assert np.allclose(a.cluster_centers_, b.cluster_centers_, rtol=1e-12, atol=1e-12)\n"
        "assert (a.labels_ == b.labels_.compute()).all() and a.n_iter_ == b.n_iter_\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("ok")


def test_dask_fit_anneals_on_the_same_sample(client, blobs):
    """With ``anneal_rows`` below n the annealing runs on a uniform sample: the dask fit fetches the
    same rows (the same draw) to the client, anneals there, and runs the final Lloyd pass and the
    polish on all blocks, so it still equals the in-memory fit."""
    p = {**PARAMS, "anneal_rows": 500}
    mem = danneal.CentralAnnealing(**p).fit(blobs)
    dsk = danneal.CentralAnnealing(**p).fit(da.from_array(blobs, chunks=(300, -1)))
    assert mem.n_anneal_rows_ == dsk.n_anneal_rows_ == 500
    assert dsk.n_iter_ == mem.n_iter_ and dsk.polish_ == mem.polish_
    assert_allclose(dsk.cluster_centers_, mem.cluster_centers_, rtol=1e-12, atol=1e-12)
    assert_allclose(dsk.inertia_, mem.inertia_, rtol=1e-10)
    assert_array_equal(dsk.labels_.compute(), mem.labels_)


def test_dask_auto_k_equals_in_memory(client, blobs):
    """``n_clusters="auto"``: the half-splits of the prediction strength are drawn from the same rows
    (fetched to the client) as in memory, so the dask fit keeps the same K."""
    p = {**PARAMS, "n_clusters": "auto", "max_clusters": 6}
    mem = danneal.CentralAnnealing(**p).fit(blobs)
    dsk = danneal.CentralAnnealing(**p).fit(da.from_array(blobs, chunks=(300, -1)))
    assert dsk.n_clusters_ == mem.n_clusters_ == 4
    assert set(dsk.prediction_strength_) == set(mem.prediction_strength_)
    # the centred rows agree to the rounding of the per-block sums (1e-12 relative): the same partitions
    assert_allclose(
        [dsk.prediction_strength_[k] for k in sorted(mem.prediction_strength_)],
        [mem.prediction_strength_[k] for k in sorted(mem.prediction_strength_)],
        rtol=1e-9,
    )
