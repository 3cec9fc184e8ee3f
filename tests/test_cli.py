"""The danneal command line."""

import subprocess
import sys

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score, pairwise_distances

from danneal.cli import main


def test_help_mentions_both_commands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "demo" in out and "cluster" in out


def test_cluster_features_npy_writes_labels(tmp_path):
    X, y = make_blobs(90, centers=3, cluster_std=0.5, random_state=0)
    f = tmp_path / "x.npy"
    np.save(f, X)
    out = tmp_path / "labels.csv"
    assert main(["cluster", str(f), "-k", "3", "-o", str(out)]) == 0
    labels = np.loadtxt(out, dtype=int)
    assert labels.shape == (90,)
    assert adjusted_rand_score(y, labels) == 1.0


def test_cluster_precomputed_csv(tmp_path):
    X, y = make_blobs(60, centers=2, cluster_std=0.5, random_state=1)
    D = pairwise_distances(X)
    f = tmp_path / "d.csv"
    np.savetxt(f, D, delimiter=",")
    out = tmp_path / "labels.txt"
    assert main(["cluster", str(f), "-k", "2", "--precomputed", "-o", str(out)]) == 0
    assert adjusted_rand_score(y, np.loadtxt(out, dtype=int)) == 1.0


def test_cluster_bad_input_is_a_clear_error(tmp_path, capsys):
    f = tmp_path / "bad.csv"
    np.savetxt(f, np.ones((3, 4)), delimiter=",")
    assert main(["cluster", str(f), "-k", "2", "--precomputed"]) == 2
    assert "square" in capsys.readouterr().err
    assert main(["cluster", str(f), "-k", "5"]) == 2
    assert "n_clusters=5" in capsys.readouterr().err


def test_demo_runs_as_console_script():
    # the entry point declared in pyproject.toml
    r = subprocess.run([sys.executable, "-m", "danneal.cli", "demo"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "PairwiseAnnealing" in r.stdout and "KMeans(n_init=10)" in r.stdout and "ARI" in r.stdout
