"""Central clustering by deterministic annealing (Rose 1998)."""

__all__: list = []
