"""Reference twins for the losses kernels."""

__all__: list = []
