"""danneal: deterministic annealing for clustering and matching, with C++/OpenMP kernels.

Families (see the README):

- pairwise clustering (Hofmann & Buhmann 1997): :class:`PairwiseAnnealing`, and the
  detan-compatible :mod:`danneal.detan` API (``AssignmentAnnealing``, ``assignment_iteration``, ...)
- central clustering (Rose 1998): :class:`CentralAnnealing`
- softassign and relatives: :func:`sinkhorn`, :func:`softassign`, :func:`quadratic_assignment`, ...
- ClAM (Saha et al. 2023): :class:`ClAM`
- deep clustering losses: :mod:`danneal.losses`
"""

# Importing danneal leaves os.environ alone.  On shared, oversubscribed machines set
# OMP_WAIT_POLICY=PASSIVE before starting Python (README, "Threads"): the OpenMP runtime reads it
# once, when it is loaded, and has no run-time setter for it.
from . import _core  # noqa: E402
from ._threads import resolve_n_threads  # noqa: E402
from . import schedules  # noqa: E402
from . import detan  # noqa: E402
from .detan import (  # noqa: E402
    AssignmentAnnealing,
    assignment_expectations,
    assignment_iteration,
    assignment_potential,
)
from .pairwise import PairwiseAnnealing  # noqa: E402
from .softassign import *  # noqa: E402,F401,F403
from .clam import *  # noqa: E402,F401,F403
from .central import *  # noqa: E402,F401,F403
from . import losses  # noqa: E402,F401

__version__ = "0.1.0"

#: True when the compiled kernels were built with OpenMP.
openmp = bool(_core.openmp)

from ._config import show_config  # noqa: E402

__all__ = [
    "AssignmentAnnealing",
    "assignment_expectations",
    "assignment_iteration",
    "assignment_potential",
    "PairwiseAnnealing",
    "openmp",
    "resolve_n_threads",
    "show_config",
]
from . import clam as _cl, central as _ce  # noqa: E402
# danneal.softassign is the function (issue 3); the module is reached through sys.modules.
_sa = __import__("sys").modules[__name__ + ".softassign"]

__all__ += list(_sa.__all__) + list(_cl.__all__) + list(_ce.__all__)
