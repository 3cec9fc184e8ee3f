"""``danneal.show_config()``: what this installation runs with (version, instruction set, OpenMP,
threads), for bug reports and benchmark headers."""

from __future__ import annotations

import os
import platform
import sys

from . import _core


def config() -> dict:
    """The build and run-time configuration as a dict (the lines :func:`show_config` prints)."""
    import numpy as np

    from . import __version__
    from ._threads import available_cores

    return {
        "danneal": __version__,
        "isa": _core.isa(),
        "isas available": ", ".join(_core.isas_available()),
        "DANNEAL_ISA": os.environ.get("DANNEAL_ISA", "(not set)"),
        "openmp": bool(_core.openmp),
        "threads": available_cores(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": f"{platform.system()} {platform.machine()}",
    }


def show_config(file=None) -> None:
    """Print the version, the instruction set the vector kernels run with (``DANNEAL_ISA``
    overrides it, see docs/design.md), whether OpenMP is on and the default thread count
    (``n_threads=None``).

    One ``key: value`` line per entry: ``danneal`` (version), ``isa`` (the instruction set in
    use), ``isas available``, ``DANNEAL_ISA`` (the environment override, or ``(not set)``),
    ``openmp``, ``threads`` (the cores ``n_threads=None`` uses), ``python``, ``numpy`` and
    ``platform``.  Paste it into bug reports and benchmark headers.

    Parameters
    ----------
    file : text stream or None, default=None
        Where to print (an object with a ``write`` method, e.g. ``io.StringIO``); ``None``:
        ``sys.stdout``.

    Returns
    -------
    None
        The configuration is printed, not returned.

    Raises
    ------
    TypeError
        If ``file`` has no ``write`` method.

    Examples
    --------
    >>> import io
    >>> import danneal
    >>> buf = io.StringIO()
    >>> danneal.show_config(file=buf)
    >>> lines = buf.getvalue().splitlines()
    >>> [line.split(":")[0] for line in lines]  # doctest: +NORMALIZE_WHITESPACE
    ['danneal', 'isa', 'isas available', 'DANNEAL_ISA', 'openmp', 'threads', 'python', 'numpy',
     'platform']
    >>> lines[0] == f"danneal: {danneal.__version__}"
    True
    """
    if file is not None and not callable(getattr(file, "write", None)):
        raise TypeError(f"file={file!r} must be a text stream (an object with a write method) or None")
    out = file if file is not None else sys.stdout
    for key, value in config().items():
        print(f"{key}: {value}", file=out)
