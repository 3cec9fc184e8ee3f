"""Central clustering by mass-constrained deterministic annealing (Rose 1998): the public names.

The estimator is :class:`danneal.CentralAnnealing` (``docs/central.md``); its implementation, the
annealer that owns a fit's state, lives in the private module ``danneal._central``.
"""

from ._central import CentralAnnealing

__all__ = ["CentralAnnealing"]
