"""Pairwise clustering by deterministic annealing (Hofmann & Buhmann 1997): the public names.

The estimator is :class:`danneal.PairwiseAnnealing` (``docs/pairwise.md``); the annealer object
:class:`PairwiseAnnealer` steps one annealing by hand, and :func:`critical_temperature` gives the
temperature of the first phase transition.  The implementation lives in the private modules
``danneal._pairwise`` (problems, annealing, estimator), ``danneal._pairwise_split`` (split-merge),
``danneal._pairwise_large`` (sparse and tiled problems) and ``danneal._pairwise_weights``.
"""

from ._pairwise import PairwiseAnnealer, PairwiseAnnealing, critical_temperature

__all__ = ["PairwiseAnnealing", "PairwiseAnnealer", "critical_temperature"]
