"""One message style (issue 16 §2): numbers in error and warning messages are written as Python's
``repr`` writes them (the shortest form that reads back exactly: ``tol=-1e-20``), never with a
fixed precision (``tol=-0.000000``, ``T=1e-05`` cut to ``0``).  Python messages use ``{x!r}`` (or
plain ``{x}`` of a float, the same), the bindings ``num()`` of ``src/format.hpp``."""

import ast
import pathlib
import re

import numpy as np
import pytest

from danneal import _core

ROOT = pathlib.Path(__file__).resolve().parents[1]
PKG = ROOT / "python" / "danneal"


def _message_calls(tree):
    """The ``raise X(...)`` and ``warnings.warn(...)`` calls of a module."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            yield node.exc
        elif isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            if name == "warn":
                yield node


def _literal(node):
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else ""


def test_python_messages_format_numbers_with_repr():
    """In a raised or warned message: no fixed-point format (``:.2f``, ``%f``) anywhere, and no
    format at all on a value shown as ``name=value`` (``name = value``); measured magnitudes in
    prose ("about {x:.3g} GiB") may keep significant digits."""
    bad = []
    for path in sorted(PKG.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for call in _message_calls(tree):
            for node in ast.walk(call):
                if isinstance(node, ast.JoinedStr):
                    prev = ""
                    for part in node.values:
                        if isinstance(part, ast.FormattedValue) and part.format_spec is not None:
                            spec = "".join(_literal(v) for v in part.format_spec.values)
                            if spec[-1:] in "fF" or prev.rstrip().endswith("="):
                                bad.append(f"{path.relative_to(ROOT)}:{part.lineno}: {prev[-20:]}{{...:{spec}}}")
                        prev = _literal(part)
                if re.search(r"%[-+ 0-9.]*[fF]", _literal(node)):
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: printf-style fixed-point number")
    assert not bad, "fixed-precision numbers in error/warning messages (use {x!r}):\n" + "\n".join(bad)


def test_binding_messages_format_doubles_with_num():
    """``std::to_string`` of a double writes six fixed decimals; the bindings use ``num()``."""
    bad = []
    for path in sorted((ROOT / "src").glob("*.cpp")):
        text = path.read_text()
        doubles = set(re.findall(r"\bdouble\s+(\w+)\s*[,)=;]", text))
        for m in re.finditer(r"std::to_string\(\s*([\w.]+)\s*\)", text):
            if m.group(1).split(".")[-1] in doubles:
                bad.append(f"{path.relative_to(ROOT)}:{text[: m.start()].count(chr(10)) + 1}: {m.group(0)}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize(
    "value, shown",
    [(-1e-20, "-1e-20"), (-0.1, "-0.1"), (-1.0000000000000002, "-1.0000000000000002"), (float("nan"), "nan")],
)
def test_representative_messages(value, shown):
    X = np.zeros((3, 2))
    Q = np.full((3, 2), 0.5)
    center = np.zeros(2)
    with pytest.raises(ValueError, match=re.escape(f"tol={shown} ")):
        _core.pairwise_features_fixed_point(X, center, Q, 1.0, 1, 5, value, 1)
    with pytest.raises(ValueError, match=re.escape(f"temperature={shown} ")):
        _core.pairwise_features_fixed_point(X, center, Q, value, 1, 5, 0.0, 1)
    D = np.zeros((3, 3))
    with pytest.raises(ValueError, match=re.escape(f"tol={shown} ")):
        _core.pairwise_fixed_point(D, Q, 1.0, 1, 5, value, 1)
    from danneal._validation import check_float

    if np.isfinite(value):
        with pytest.raises(ValueError, match=re.escape(f"tol={shown} must be >= 0")):
            check_float(value, "tol", low=0)


def test_estimator_messages_show_the_value():
    from danneal import CentralAnnealing, PairwiseAnnealing

    X = np.random.default_rng(0).normal(size=(10, 2))
    for est in (PairwiseAnnealing(2, metric="sqeuclidean", tol=-1e-20), CentralAnnealing(2, tol=-1e-20)):
        with pytest.raises(ValueError, match=re.escape("-1e-20")):
            est.fit(X)
