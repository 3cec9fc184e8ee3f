"""ClAM: clustering with associative memories (Saha et al. 2023)."""

__all__: list = []
