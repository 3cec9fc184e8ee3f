"""ClAM, clustering with associative memories (Saha et al., ICML 2023): the public names.

The estimator is :class:`danneal.ClAM` (``docs/clam.md``); its implementation lives in the private
module ``danneal._clam``.
"""

from ._clam import ClAM

__all__ = ["ClAM"]
