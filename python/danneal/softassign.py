"""Softassign family: log-domain Sinkhorn, softassign, graduated assignment, self annealing, relaxation labeling."""

__all__: list = []
