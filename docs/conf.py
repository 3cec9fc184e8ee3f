"""Sphinx configuration of the danneal documentation.

Build: ``pip install ".[docs]" && sphinx-build -W -b html docs docs/_build/html`` (warnings are
errors; .ci/run does this).  The user guide pages include the family pages ``docs/<family>.md``
up to their measurements, and the Performance page includes the measurements.
"""

import os
import subprocess
import sys
from pathlib import Path

import danneal

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

project = "danneal"
author = "The danneal developers"
copyright = "2026, the danneal developers"
release = version = danneal.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
]
try:  # the gallery runs the examples/ scripts and keeps their figures; without it, docs still build
    import sphinx_gallery  # noqa: F401

    extensions.append("sphinx_gallery.gen_gallery")
    HAVE_GALLERY = True
except ImportError:  # pragma: no cover
    HAVE_GALLERY = False

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
# the family pages are sources of the guide and Performance pages (included), not pages themselves
exclude_patterns = [
    "_build",
    "generated/*.examples",
    "central.md",
    "clam.md",
    "dask.md",
    "losses.md",
    "pairwise.md",
    "softassign.md",
    "Thumbs.db",
    ".DS_Store",
]
if not HAVE_GALLERY:
    exclude_patterns.append("auto_examples")

autosummary_generate = True
templates_path = ["_templates"]
autodoc_default_options = {"inherited-members": False}
autodoc_typehints = "none"  # the numpydoc Parameters sections say it
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

myst_enable_extensions = ["dollarmath", "substitution"]
myst_heading_anchors = 3


def _commit() -> str:
    try:
        return (
            subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10
            ).stdout.strip()
            or "unknown"
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"


myst_substitutions = {"commit": _commit(), "version": release}

intersphinx_mapping = {}  # no network where the docs are built: links to other projects are plain text

if HAVE_GALLERY:
    sphinx_gallery_conf = {
        "examples_dirs": str(ROOT / "examples"),
        "gallery_dirs": "auto_examples",
        "filename_pattern": r"/plot_",
        "download_all_examples": False,
        "remove_config_comments": True,
        "min_reported_time": 1e9,
        "show_memory": False,
        "reference_url": {"danneal": None},
        "matplotlib_animations": False,
        "within_subsection_order": "FileNameSortKey",
    }

html_theme = (
    "pydata_sphinx_theme"
    if "pydata_sphinx_theme" in sys.modules or __import__("importlib.util").util.find_spec("pydata_sphinx_theme")
    else "alabaster"
)
html_title = f"danneal {release}"
html_static_path = []
html_show_sourcelink = False
if html_theme == "pydata_sphinx_theme":
    html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
