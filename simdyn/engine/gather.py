"""Put a tiled launch's columns back in batch order.

A launch whose tiles group trajectories by a hyperparameter (a β₁ sweep, whose powers βᵗ must
be tile constants, :mod:`simdyn.engine.tiling`) runs its trajectories in another order than the
batch's, so every result array is gathered afterwards: ``out[..., j] = a[..., inverse[j]]``.

NumPy's ``a[..., inverse]`` takes 8 ms for 4 rows of 2¹⁸ float64 columns (one core), ``np.take``
3 ms; the loop below, compiled by numba and split over the threads, 1.4 ms (measured on a 512 ×
512 (lr, β₁) Adam grid, whose columns are the grid transposed). On that grid the gathers were
13 % of the launch's time (14 ms of 93 ms, 2 threads), so they are written here rather than left
to NumPy.
"""

from __future__ import annotations

import numba
import numpy as np

#: Columns per parallel chunk: enough to amortise a chunk's start, and every row of a chunk's
#: columns is done before the next chunk (the rows of one column share the reads of ``inverse``).
_CHUNK = 8192


@numba.njit(parallel=True, cache=True)
def _gather_rows(a, inverse, out):  # pragma: no cover - compiled
    """out[r, j] = a[r, inverse[j]] for every row r of the 2-D arrays ``a`` and ``out``."""
    n = inverse.size
    for c in numba.prange((n + _CHUNK - 1) // _CHUNK):
        lo = c * _CHUNK
        hi = min(n, lo + _CHUNK)
        for r in range(a.shape[0]):
            for j in range(lo, hi):
                out[r, j] = a[r, inverse[j]]


@numba.njit(parallel=True, cache=True)
def _invert(order, inverse):  # pragma: no cover - compiled
    """inverse[order[j]] = j: the column that holds each batch position."""
    for j in numba.prange(order.size):
        inverse[order[j]] = j


def inverse_permutation(order: np.ndarray) -> np.ndarray:
    """The permutation ``inverse`` with ``inverse[order[j]] = j`` (``order`` a permutation of 0 … n − 1)."""
    order = np.ascontiguousarray(order, dtype=np.int64)
    inverse = np.empty_like(order)
    _invert(order, inverse)
    return inverse


def gather_columns(a: np.ndarray, inverse: np.ndarray) -> np.ndarray:
    """A new C-contiguous array ``out`` with ``out[..., j] = a[..., inverse[j]]``.

    ``a`` may hold more columns than ``inverse`` (a launch's padding). A C-contiguous ``a`` goes
    through the compiled loop; any other layout through ``np.take``.
    """
    n = inverse.size
    if a.shape[-1] < n:  # the compiled loop does not check its reads
        raise ValueError(f"gather_columns: {a.shape[-1]} columns, fewer than the {n} gathered")
    out = np.empty(a.shape[:-1] + (n,), dtype=a.dtype)
    if out.size == 0:
        return out
    if a.flags.c_contiguous and a.dtype.kind in "fiu" and a.dtype.isnative:
        _gather_rows(a.reshape(-1, a.shape[-1]), inverse, out.reshape(-1, n))
    else:
        np.take(a, inverse, axis=-1, out=out)
    return out
