"""Reference twins for the softassign kernels."""

__all__: list = []
