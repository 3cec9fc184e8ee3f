"""What a user installs: one version number, the license, the citation, declared dependencies,
the type information (py.typed, the _core stub)."""

import ast
import re
import sys
from importlib.metadata import requires, version
from pathlib import Path

import pytest

import danneal
from danneal import _core

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "python" / "danneal"
try:
    import tomllib
except ImportError:  # Python < 3.11
    tomllib = pytest.importorskip("tomli")


def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_one_version_number():
    from danneal._version import __version__

    assert danneal.__version__ == __version__ == version("danneal")
    proj = pyproject()["project"]
    assert "version" not in proj and "version" in proj["dynamic"]  # read from _version.py at build time
    cff = (ROOT / "CITATION.cff").read_text()
    assert re.search(rf"^version: {re.escape(__version__)}$", cff, re.M), "CITATION.cff version"
    assert f"## [{__version__}]" in (ROOT / "CHANGELOG.md").read_text()


def test_license_file_matches_pyproject():
    assert pyproject()["project"]["license"] == {"text": "BSD-3-Clause"}
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("BSD 3-Clause License") and "Neither the name of the copyright holder" in text
    assert re.search(r"^license: BSD-3-Clause$", (ROOT / "CITATION.cff").read_text(), re.M)


def test_citation_lists_the_papers():
    cff = (ROOT / "CITATION.cff").read_text()
    for author in ("Hofmann", "Rose", "Gold", "Rangarajan", "Saha", "Kampffmeyer", "Law"):
        assert f"family-names: {author}" in cff, author


OPTIONAL_MODULES = {"torch.py": "torch", "_dask.py": "dask", "plot.py": "plot", "cli.py": None}
STDLIB = set(sys.stdlib_module_names)


def _module_level_imports(path):
    """Third-party packages a module imports when it is imported (not inside functions)."""
    tree = ast.parse(path.read_text())
    names = set()
    for node in tree.body:
        stmts = [node]
        if isinstance(node, ast.Try):
            continue  # optional imports guarded by try/except
        for st in stmts:
            if isinstance(st, ast.Import):
                names.update(a.name.split(".")[0] for a in st.names)
            elif isinstance(st, ast.ImportFrom) and st.level == 0 and st.module:
                names.add(st.module.split(".")[0])
    return {n for n in names if n not in STDLIB and n != "danneal"}


def test_runtime_imports_are_declared_dependencies():
    declared = {
        re.split(r"[<>=!~\[ ;]", r)[0].lower().replace("-", "_") for r in requires("danneal") if "extra ==" not in r
    }
    dist_of = {"sklearn": "scikit_learn"}
    for path in sorted(PKG.glob("*.py")):
        if path.name in OPTIONAL_MODULES:
            continue
        for mod in _module_level_imports(path):
            assert dist_of.get(mod, mod) in declared, f"{path.name} imports {mod}, not a declared dependency"
    assert {"numpy", "scikit_learn", "scipy", "threadpoolctl"} <= declared


def test_py_typed_and_core_stub():
    assert (PKG / "py.typed").exists()
    stub = ast.parse((PKG / "_core.pyi").read_text())
    in_stub = {n.name for n in stub.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    in_stub |= {n.target.id for n in stub.body if isinstance(n, ast.AnnAssign)}
    in_module = {n for n in dir(_core) if not n.startswith("__")}
    assert in_stub == in_module, (
        "python/danneal/_core.pyi is out of date: run python tools/gen_core_stub.py; "
        f"missing {sorted(in_module - in_stub)}, extra {sorted(in_stub - in_module)}"
    )


def test_public_api_is_annotated():
    import inspect

    for name in ("PairwiseAnnealing", "CentralAnnealing", "ClAM"):
        cls = getattr(danneal, name)
        for meth in ("fit", "predict", "score"):  # the methods every estimator has
            sig = inspect.signature(getattr(cls, meth))
            assert sig.return_annotation is not inspect.Signature.empty, f"{name}.{meth}"


GUIDE_NEEDLES = ("GUIDE" + " §", "shared/" + "GUIDE")  # spelt apart so that this file does not match


def test_comments_cite_files_that_ship():
    # the design guide outside the repository is not shipped: cite docs/design.md or a family page
    offenders = []
    for folder in ("python", "csrc", "src", "tests", "docs", "benchmarks"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".py", ".hpp", ".cpp", ".inc", ".md", ".rst") and "_build" not in path.parts:
                text = path.read_text(errors="replace")
                if any(needle in text for needle in GUIDE_NEEDLES):
                    offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, f"cite docs/design.md or docs/<family>.md instead of the GUIDE: {offenders}"
