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
from . import detan  # noqa: E402
from .detan import (  # noqa: E402
    AssignmentAnnealing,
    assignment_expectations,
    assignment_iteration,
    assignment_potential,
)
from .pairwise import PairwiseAnnealing  # noqa: E402
from ._sinkhorn import *  # noqa: E402,F401,F403
from ._softassign_engine import *  # noqa: E402,F401,F403
from ._linear import *  # noqa: E402,F401,F403
from ._qap import *  # noqa: E402,F401,F403
from .clam import *  # noqa: E402,F401,F403
from .central import *  # noqa: E402,F401,F403
from . import losses  # noqa: E402,F401
from . import ot  # noqa: E402,F401

from ._version import __version__  # noqa: E402  (the one place the version is written)

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
# The softassign family lives in private modules (_sinkhorn, _softassign_engine, _linear, _qap), so
# that danneal.softassign is only the function (there is no danneal.softassign module to shadow).
from . import _sinkhorn as _sk, _softassign_engine as _se, _linear as _li, _qap as _qa  # noqa: E402

__all__ += (list(_sk.__all__) + list(_se.__all__) + list(_li.__all__) + list(_qa.__all__) + list(_cl.__all__)
            + list(_ce.__all__))
