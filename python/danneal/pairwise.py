"""Pairwise clustering estimator."""

class PairwiseAnnealing:
    pass
