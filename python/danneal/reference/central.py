"""Reference twins for the central kernels."""

__all__: list = []
