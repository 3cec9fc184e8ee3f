"""The danneal command line."""

import os
import re
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


def test_demo_runs_as_console_script(tmp_path):
    # the entry point declared in pyproject.toml; --quick: the same claims on smaller problems
    fig = tmp_path / "demo.png"
    r = subprocess.run(
        [sys.executable, "-m", "danneal.cli", "demo", "--quick", "-o", str(fig)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "SKBUILD_EDITABLE_VERBOSE": "0"},
    )
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for needle in (
        "CentralAnnealing, one run",
        "KMeans(n_init=1), best of 3 seeds",
        "AgglomerativeClustering(average)",
        "danneal.sinkhorn: plan mass 1.000000",
        'CentralAnnealing(n_clusters="auto")',
        "ARI",
        "claims",
    ):
        assert needle in out, needle
    claims = out[out.index("claims") :].splitlines()[1:]
    assert len(claims) >= 4 and all("ratio" in c or "ARI" in c or "mass" in c for c in claims)
    assert not re.search(r"\bnan\b", out) and "NaN: False" in out  # no NaN among the numbers (Python prints nan)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "matplotlib is not installed" in out and not fig.exists()
    else:
        assert fig.stat().st_size > 0 and str(fig) in out


def test_demo_without_optional_packages(tmp_path, monkeypatch, capsys):
    # only the runtime dependencies (numpy, scikit-learn): the figure and the POT line are skipped
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "ot", None)
    fig = tmp_path / "demo.png"
    assert main(["demo", "--quick", "--threads", "1", "-o", str(fig)]) == 0
    out = capsys.readouterr().out
    assert "matplotlib is not installed" in out and "POT is not installed" in out
    assert not fig.exists()
    assert "chosen K=" in out


def test_demo_figure_path_is_checked_first(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert main(["demo", "--quick", "-o", str(tmp_path / "missing" / "demo.png")]) == 2
    assert "does not exist" in capsys.readouterr().err


# ---- errors: one line on stderr, a documented exit status, never a traceback (issue 10, section 4)
# an editable development install (rebuild on import) would print its cmake log; silence it
ENV = {**os.environ, "SKBUILD_EDITABLE_VERBOSE": "0"}


def _danneal(args, **kw):
    return subprocess.run(
        [sys.executable, "-m", "danneal.cli", *args], capture_output=True, text=True, timeout=300, env=ENV, **kw
    )


def _in_process(argv, capsys):
    try:
        status = main(argv)
    except SystemExit as exc:  # argparse
        status = exc.code
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(argv, status, captured.out, captured.err)


def _one_line_error(r, status, *needles):
    assert r.returncode == status, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("danneal"), lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


@pytest.fixture
def blobs_npy(tmp_path):
    X, _ = make_blobs(40, centers=2, cluster_std=0.5, random_state=0)
    f = tmp_path / "x.npy"
    np.save(f, X)
    return f


def _bad_file(tmp_path, kind):
    if kind == "malformed_csv":
        f = tmp_path / "bad.csv"
        f.write_text("1,2,3\n4,five,6\n")
    elif kind == "ragged_csv":
        f = tmp_path / "ragged.csv"
        f.write_text("1,2,3\n4,5\n")
    elif kind == "empty_csv":
        f = tmp_path / "empty.csv"
        f.write_text("")
    elif kind == "corrupt_npy":
        f = tmp_path / "corrupt.npy"
        f.write_bytes(b"\x93NUMPY\x01\x00garbage")
    elif kind == "pickled_npy":
        f = tmp_path / "objects.npy"
        np.save(f, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    elif kind == "directory":
        f = tmp_path / "adir.csv"
        f.mkdir()
    elif kind == "missing":
        f = tmp_path / "missing.npy"
    elif kind == "wrong_suffix":
        f = tmp_path / "x.json"
        f.write_text("[]")
    elif kind == "nan":
        f = tmp_path / "nan.csv"
        f.write_text("1,2\nnan,3\n4,5\n")
    return f


@pytest.mark.parametrize(
    "kind, needle",
    [
        ("malformed_csv", "five"),
        ("ragged_csv", "ragged.csv"),
        ("empty_csv", "empty.csv"),
        ("corrupt_npy", "not a valid .npy"),
        ("pickled_npy", "objects.npy"),
        ("directory", "is a directory"),
        ("missing", "does not exist"),
        ("wrong_suffix", "expected a .npy"),
        ("nan", "NaN"),
    ],
)
def test_cli_bad_file_is_one_line_and_status_2(tmp_path, kind, needle, capsys):
    # in process (main() is what the console script runs); the process boundary is tested below
    _one_line_error(_in_process(["cluster", str(_bad_file(tmp_path, kind)), "-k", "2"], capsys), 2, needle)


def test_cli_bad_file_in_a_subprocess(tmp_path):
    r = _danneal(["cluster", str(_bad_file(tmp_path, "malformed_csv")), "-k", "2"])
    _one_line_error(r, 2, "bad.csv", "five")


def test_cli_unwritable_output_is_refused_before_the_fit(tmp_path, blobs_npy):
    # --progress prints a line per temperature: none may appear, the check comes first
    r = _danneal(["cluster", str(blobs_npy), "-k", "2", "--progress", "-o", str(tmp_path / "no" / "dir" / "l.csv")])
    _one_line_error(r, 2, "does not exist")
    r = _danneal(["cluster", str(blobs_npy), "-k", "2", "--progress", "-o", str(tmp_path)])
    _one_line_error(r, 2, "is a directory")


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--threads", "0"], "--threads"),
        (["--threads", "-3"], "--threads"),
        (["--threads", "two"], "--threads"),
        (["-k", "0"], "-k"),
        (["--seed", "-1"], "--seed"),
        (["-k", "5"], "n_clusters=5"),
    ],
)
def test_cli_bad_options_are_one_line_and_status_2(tmp_path, args, needle, capsys):
    f = tmp_path / "x.csv"
    np.savetxt(f, np.arange(8.0).reshape(4, 2), delimiter=",")
    _one_line_error(
        _in_process(["cluster", str(f), *(["-k", "2"] if "-k" not in args else []), *args], capsys), 2, needle
    )


def test_cli_threads_0_in_a_subprocess(blobs_npy):
    _one_line_error(_danneal(["cluster", str(blobs_npy), "-k", "2", "--threads", "0"]), 2, "--threads", ">= 1")


def test_cli_closed_stdout(blobs_npy):
    # `danneal cluster ... | head -0`: the reader is gone before the labels are written
    p = subprocess.Popen(
        [sys.executable, "-m", "danneal.cli", "cluster", str(blobs_npy), "-k", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    p.stdout.close()
    err = p.stderr.read()
    p.stderr.close()
    assert p.wait(timeout=300) == 1, err
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert err.strip().splitlines() == ["danneal: error: standard output was closed before the labels were written"]


def test_cli_no_stdout_at_all(blobs_npy):
    # stdout closed outright (`danneal ... >&-`): refused before the fit
    r = subprocess.run(
        [sys.executable, "-m", "danneal.cli", "cluster", str(blobs_npy), "-k", "2"],
        stderr=subprocess.PIPE,
        text=True,
        timeout=300,
        env=ENV,
        preexec_fn=lambda: os.close(1),
    )
    assert r.returncode == 2, r.stderr
    assert "standard output is closed" in r.stderr and "Traceback" not in r.stderr


def test_cli_help_documents_exit_status(capsys):
    for argv in (["--help"], ["cluster", "--help"]):
        with pytest.raises(SystemExit):
            main(argv)
        out = capsys.readouterr().out
        assert "exit status" in out and "130" in out and "usage or input error" in out


def test_version_and_python_m(tmp_path):
    import danneal

    r = subprocess.run(
        [sys.executable, "-m", "danneal", "--version"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "SKBUILD_EDITABLE_VERBOSE": "0"},
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"danneal {danneal.__version__}"


@pytest.mark.parametrize("method", ["pairwise", "central", "clam"])
def test_cluster_every_method(tmp_path, method):
    X, y = make_blobs(90, centers=3, cluster_std=0.5, random_state=0)
    f = tmp_path / "x.csv"
    np.savetxt(f, X, delimiter=",")
    out = tmp_path / "labels.txt"
    assert main(["cluster", str(f), "-k", "3", "--method", method, "-o", str(out), "--threads", "1"]) == 0
    assert adjusted_rand_score(y, np.loadtxt(out, dtype=int)) > 0.9


def test_cluster_central_auto(tmp_path, capsys):
    X, y = make_blobs(120, centers=3, cluster_std=0.4, random_state=2)
    f = tmp_path / "x.npy"
    np.save(f, X)
    assert main(["cluster", str(f), "-k", "auto", "--method", "central", "--progress"]) == 0
    cap = capsys.readouterr()
    labels = np.array(cap.out.split(), dtype=int)
    assert adjusted_rand_score(y, labels) == 1.0
    assert "T=" in cap.err and "K=" in cap.err  # --progress: one line per temperature


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--method", "central", "--precomputed"], "--precomputed needs --method pairwise"),
        (["--method", "clam", "--metric", "cityblock"], "--metric needs --method pairwise"),
        (["--method", "pairwise", "-k", "auto"], "-k auto needs --method central"),
    ],
)
def test_cluster_option_conflicts(tmp_path, capsys, argv, needle):
    f = tmp_path / "x.npy"
    np.save(f, np.random.default_rng(0).normal(size=(20, 2)))
    args = ["cluster", str(f)] + (argv if "-k" in argv else argv + ["-k", "2"])
    assert main(args) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    "name, content, needle",
    [
        ("ragged.csv", "1,2,3\n4,5\n", "is not a numeric table"),
        ("words.csv", "a,b\nc,d\n", "is not a numeric table"),
        ("empty.csv", "", "is not a numeric table"),
        ("nan.csv", "1,2\nnan,3\n4,5\n", "NaN"),
        ("bad.npy", b"\x93NUMPY garbage", "is not a valid .npy file"),
        ("x.json", "[1, 2]", "expected a .npy or .csv"),
    ],
)
def test_cluster_malformed_files(tmp_path, capsys, name, content, needle):
    f = tmp_path / name
    f.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert main(["cluster", str(f), "-k", "2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("danneal: error:") and needle in err and "Traceback" not in err, err


@pytest.mark.parametrize(
    "array, needle",
    [
        (np.zeros((2, 3, 4)), "3-D array"),
        (np.arange(6.0), "1-D array"),
        (np.array([["a", "b"], ["c", "d"]]), "expected numbers"),
    ],
)
def test_cluster_wrong_shape_or_type(tmp_path, capsys, array, needle):
    f = tmp_path / "x.npy"
    np.save(f, array)
    assert main(["cluster", str(f), "-k", "2"]) == 2
    assert needle in capsys.readouterr().err
