"""The Examples sections of every public module run as doctests (their output is checked)."""

import doctest
import importlib
import pkgutil
import sys

import numpy as np
import pytest

import danneal

OPTIONAL = {"danneal.torch": "torch", "danneal._dask": "dask", "danneal.plot": "matplotlib"}


def public_modules():
    names = ["danneal"]
    for info in pkgutil.walk_packages(danneal.__path__, "danneal."):
        if any(part.startswith("_") for part in info.name.split(".")[1:]) or info.name == "danneal.__main__":
            continue
        names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("name", public_modules())
def test_module_doctests(name):
    if name in OPTIONAL:
        pytest.importorskip(OPTIONAL[name])
    # a name that is both a module and a function (danneal.softassign) is reached through sys.modules
    module = sys.modules.get(name) or importlib.import_module(name)
    if not hasattr(module, "__file__"):
        module = importlib.import_module(name)
    with np.printoptions(legacy="1.25"):  # repr of numpy scalars as plain numbers in the examples
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {name}"


def test_every_estimator_has_a_running_example():
    found = {}
    finder = doctest.DocTestFinder(recurse=False)
    for name in ("PairwiseAnnealing", "CentralAnnealing", "ClAM"):
        tests = finder.find(getattr(danneal, name))
        found[name] = sum(len(t.examples) for t in tests)
    assert all(n > 0 for n in found.values()), found


@pytest.mark.parametrize("name", sorted(n for n in danneal.__all__ if callable(getattr(danneal, n))))
def test_public_name_doctests(name):
    # the public names may live in private modules (danneal._threads, ...): run their examples too
    obj = getattr(danneal, name)
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(obj, name, globs={}):
        runner.run(test)
    assert runner.failures == 0, f"{runner.failures} doctest(s) failed in danneal.{name}"
