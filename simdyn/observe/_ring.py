"""Ring-buffer arithmetic shared by the buffered observers (plain scalar Python, compiled)."""

import math

import numpy as np


def ring_row(t, length):
    """t mod length for t ≥ 0, without an integer division.

    An integer ``%`` in the kernel's inner loop keeps a division-by-zero branch that LLVM cannot
    hoist or predicate, and the loop stops vectorising (measured: 6× slower for a two-store
    observer). The floating-point form is branch-free, loop-invariant across trajectories and
    exact for t < 2⁵³.
    """
    return t - length * int(math.floor(float(t) / float(length)))


def unroll(buffer, t_end: int) -> np.ndarray:
    """The ring ``buffer`` (length, d, N) written up to step ``t_end`` in time order: (N, length, d)
    holding w_{t_end−length+1} … w_{t_end}, NaN for steps before 0."""
    length = buffer.shape[0]
    steps = np.arange(t_end - length + 1, t_end + 1)
    values = np.moveaxis(buffer[steps % length], 2, 0)
    values[:, steps < 0, :] = np.nan
    return values
