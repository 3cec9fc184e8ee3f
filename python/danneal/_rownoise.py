"""Random numbers indexed by row: the same rows get the same numbers however the rows are cut
into blocks (in memory, or the row blocks of a dask array on different workers).

A stream is Philox4x64 keyed by ``(key, stream)``; row ``i`` takes the outputs
``[i * kp, i * kp + k)`` with ``kp = k`` rounded up to a multiple of 4 (Philox makes 4 outputs per
counter step, so a block starting at row ``r`` is reached by advancing the counter ``r kp / 4``
steps, exactly).  Uniforms are ``[0, 1)`` doubles.
"""

from __future__ import annotations

import numpy as np

__all__ = ["draw_key", "row_uniform"]


def draw_key(rng) -> int:
    """A 62-bit key drawn from a ``RandomState`` (two 31-bit draws: portable across platforms)."""
    a, b = rng.randint(0, 2**31, size=2)
    return (int(a) << 31) | int(b)


def row_uniform(key: int, stream: int, row0: int, n: int, k: int) -> np.ndarray:
    """Uniform ``[0, 1)`` numbers of rows ``row0 .. row0 + n - 1`` of the stream, shape (n, k)."""
    kp = -(-k // 4) * 4
    bg = np.random.Philox(key=np.array([key, stream], dtype=np.uint64))
    bg.advance(row0 * kp // 4)
    return np.random.Generator(bg).random((n, kp))[:, :k]
