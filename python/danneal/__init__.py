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
from . import (
    _core,
    detan,
    losses,
    ot,
)
from ._linear import *
from ._qap import *
from ._sinkhorn import *
from ._softassign_engine import *
from ._threads import resolve_n_threads
from ._version import __version__
from .central import *
from .clam import *
from .detan import (
    AssignmentAnnealing,
    assignment_expectations,
    assignment_iteration,
    assignment_potential,
)
from .pairwise import PairwiseAnnealing

#: True when the compiled kernels were built with OpenMP.
openmp = bool(_core.openmp)

from ._config import show_config

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
from . import _linear as _li
from . import _qap as _qa

# The softassign family lives in private modules (_sinkhorn, _softassign_engine, _linear, _qap), so
# that danneal.softassign is only the function (there is no danneal.softassign module to shadow).
from . import _sinkhorn as _sk
from . import _softassign_engine as _se
from . import central as _ce
from . import clam as _cl

__all__ += (
    list(_sk.__all__)
    + list(_se.__all__)
    + list(_li.__all__)
    + list(_qa.__all__)
    + list(_cl.__all__)
    + list(_ce.__all__)
)
