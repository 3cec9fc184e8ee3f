"""The version of danneal: the one place it is written.

``pyproject.toml`` reads it from here (scikit-build-core's regex metadata provider), and
``danneal.__version__``, ``danneal --version`` and the docs import it; ``CITATION.cff`` is checked
against it by ``tests/test_packaging.py``.
"""

__version__ = "0.1.0"
