"""Reference twins for the clam kernels."""

__all__: list = []
