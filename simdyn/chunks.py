"""Blocks of a batch: contiguous ranges of the flattened batch that are also rectangular.

The batch of one optimizer has shape (*sweep dims, *initial-set dims) and is flattened in C
order. A block fixes one index in each of the leading dims, takes a range in one dim k and the
whole of every dim after k: it is then a contiguous flat range ``[start, stop)`` (what a kernel
launch runs) *and* a rectangular slice of the dataset (what a dask chunk or a netCDF part
holds). :func:`plan_blocks` cuts a batch into such blocks of at most ``chunk_size`` trajectories
(at least one whole dim-k row when the trailing dims alone exceed it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Block:
    """Trajectories ``start ≤ g < stop`` of a batch; ``index`` is the matching tuple of slices."""

    start: int
    stop: int
    index: tuple

    @property
    def size(self) -> int:
        return self.stop - self.start

    def shape(self) -> tuple[int, ...]:
        return tuple(s.stop - s.start for s in self.index)


def plan_blocks(shape: tuple[int, ...], chunk_size: int | None) -> list[Block]:
    """Cut a batch of ``shape`` into contiguous rectangular blocks of ≤ ``chunk_size`` (C order)."""
    shape = tuple(int(n) for n in shape)
    total = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if not shape:
        return [Block(0, 1, ())]
    if chunk_size is None or chunk_size >= total:
        return [Block(0, total, tuple(slice(0, n) for n in shape))]
    # k: the first dim whose trailing dims fit in a chunk; m: how many of its rows per block
    trailing = [int(np.prod(shape[i + 1:], dtype=np.int64)) for i in range(len(shape))]
    k = next(i for i in range(len(shape)) if trailing[i] <= chunk_size)
    m = max(1, chunk_size // trailing[k])
    blocks = []
    for lead in np.ndindex(*shape[:k]):
        base = int(np.ravel_multi_index(lead, shape[:k])) * shape[k] * trailing[k] if k else 0
        for a in range(0, shape[k], m):
            b = min(shape[k], a + m)
            index = tuple(slice(i, i + 1) for i in lead) + (slice(a, b),) + tuple(slice(0, n) for n in shape[k + 1:])
            blocks.append(Block(base + a * trailing[k], base + b * trailing[k], index))
    return blocks
