"""Deep clustering losses with closed-form gradients (DDC, deep spectral clustering)."""

__all__: list = []
