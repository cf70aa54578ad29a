"""Attractor mapping: from each trajectory's last cycle to a key of the attractor it reached.

Steps 1–3 and 7 of the basins algorithm (:mod:`simdyn.studies.basins`), as Attractors.jl keeps
its ``mapping/``: a verdict per trajectory at the last step (diverged, unresolved, or a cycle of
period p), a phase-invariant signature of the cycle (its canonical point and its mean), and keys
that quantise the signatures on cells of side tol/KEY_CELLS, each with a representative
trajectory and cycle; trajectories without a period that stay in a small box are kept for the
assignment of step 7 once the attractors are known. Which keys are one attractor is the
matcher's job (:mod:`simdyn.analysis.attractors.matching`).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import cKDTree

from ...status import STATUS

#: Label of an initial point whose trajectory diverged or became non-finite.
DIVERGED = -1
#: Label of an initial point whose trajectory found no period ≤ max_period within the horizon
#: and is not confined around exactly one attractor.
UNRESOLVED = -2
#: Quantisation cells of the signatures have side tol / KEY_CELLS.
KEY_CELLS = 4
_GOLDEN = (1.0 + math.sqrt(5.0)) / 2.0


def canonical_direction(dim: int) -> np.ndarray:
    """u_k = frac((k + 1)·φ): a fixed direction with no rational relation between its coordinates,
    so two distinct points of a cycle essentially never tie in their projection on it."""
    return np.array([((k + 1) * _GOLDEN) % 1.0 for k in range(dim)])


def aligned_cycles(orbit: np.ndarray, p: int, direction) -> np.ndarray:
    """The last p states of each orbit (``orbit``: (m, L, d), time order, the last row w_T),
    rotated to start at the canonical point, the one with the smallest projection on
    ``direction``: (m, p, d). The same set of points in the same cyclic order whatever the
    phase at which the orbit was entered."""
    points = orbit[:, -p:, :]
    start = np.argmin(points @ np.asarray(direction, dtype=float), axis=1)
    order = (start[:, None] + np.arange(p)[None, :]) % p
    return np.take_along_axis(points, order[:, :, None], axis=1)


class KeyTable:
    """The quantised signatures met so far, each with its representative trajectory and cycle and
    the number of trajectories that fell in it."""

    def __init__(self, cell: float):
        self.cell = cell
        self.index: dict = {}
        self.count: list[int] = []
        self.period: list[int] = []
        self.signature: list[np.ndarray] = []
        self.owner: list[tuple[int, int]] = []  # (launch_index, global trajectory index) of the representative
        self.cycle: list[np.ndarray] = []

    def __len__(self) -> int:
        return len(self.period)

    def add(self, launch_index: int, start: int, rows: np.ndarray, period: int, signature, cycles) -> np.ndarray:
        """Key index of each of a block's trajectories of period ``period``.

        ``rows``: their block-local indices (increasing), ``start``: the block's first global
        index; ``signature`` (m, 2d) and ``cycles`` (m, period, d) are given for those rows."""
        cells = np.floor(signature / self.cell).astype(np.int64)
        keys = np.concatenate([np.full((len(rows), 1), period, dtype=np.int64), cells], axis=1)
        unique, first_at, inverse, counts = np.unique(keys, axis=0, return_index=True, return_inverse=True,
                                                      return_counts=True)
        found = np.empty(len(unique), dtype=np.int64)
        for u, (key, at) in enumerate(zip(map(tuple, unique.tolist()), first_at)):
            owner = (launch_index, start + int(rows[at]))
            k = self.index.get(key)
            if k is None:
                k = self.index[key] = len(self.period)
                self.count.append(0)
                self.period.append(int(key[0]))
                self.signature.append(None)
                self.owner.append(owner)
                self.cycle.append(None)
            self.count[k] += int(counts[u])
            if owner > self.owner[k]:
                found[u] = k
                continue
            self.owner[k] = owner
            self.signature[k] = signature[at].copy()
            self.cycle[k] = cycles[at].copy()
            found[u] = k
        return found[inverse.ravel()]


class Confined:
    """Trajectories without a period whose last max_period states stay in a small box: their
    positions in the flattened label array and their boxes, block after block."""

    def __init__(self, dim: int):
        self.position: list[np.ndarray] = []
        self.low: list[np.ndarray] = []
        self.high: list[np.ndarray] = []
        self.dim = dim

    def add(self, position, low, high):
        self.position.append(np.asarray(position, dtype=np.int64))
        self.low.append(low)
        self.high.append(high)

    def assign(self, cycles: list[np.ndarray], present: np.ndarray, group_size: int, tol: float,
               reach: float) -> tuple[np.ndarray, np.ndarray]:
        """(positions, attractor) of the trajectories whose box, widened by ``tol``, holds every
        point of an attractor's cycle (``cycles``) that periodic trajectories of the same group
        reached (``present``: (groups, attractors) bool; group = position // ``group_size``). When
        the box holds several, the one of smallest period is taken if it is the only one of that
        period (a fixed point inside a burst also holds the snapshots of the burst that happened
        to look periodic); otherwise the trajectory stays unresolved. ``reach`` bounds the boxes'
        span."""
        if not self.position:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        position = np.concatenate(self.position)
        group = position // group_size
        low = np.concatenate(self.low).reshape(-1, self.dim) - tol
        high = np.concatenate(self.high).reshape(-1, self.dim) + tol
        best = np.full(len(position), np.iinfo(np.int64).max)
        owner = np.full(len(position), -1, dtype=np.int64)
        ties = np.zeros(len(position), dtype=np.int64)
        if len(position) and cycles:
            tree = cKDTree((low + high) / 2.0)
            for a, cycle in enumerate(cycles):
                near = np.asarray(tree.query_ball_point(cycle[0], reach / 2.0 + tol, p=np.inf), dtype=np.int64)
                inside = present[group[near], a]
                for point in cycle:
                    inside &= np.all((low[near] <= point) & (point <= high[near]), axis=1)
                hit = near[inside]
                better = len(cycle) < best[hit]
                same = len(cycle) == best[hit]
                ties[hit[same]] += 1
                best[hit[better]], owner[hit[better]], ties[hit[better]] = len(cycle), a, 1
        alone = ties == 1
        return position[alone], owner[alone]


def map_block(table: KeyTable, confined: Confined, launch_index: int, start: int, position: int, status, period, orbit,
              center, direction, near_tol: float) -> np.ndarray:
    """Steps 1–3 and the boxes of step 7 for one block of trajectories: the key index of each
    (or ``DIVERGED`` / ``UNRESOLVED``), the keys entered in ``table``, the small boxes of those
    without a period in ``confined``.

    ``status``, ``period`` (N,), ``orbit`` (N, max_period, d) (NaN before step 0 on a short
    horizon), ``center`` (N, d): the period detector's outputs for the block, whose first
    trajectory has global index ``start`` in optimizer launch ``launch_index`` and position ``position`` in the
    flattened label array.
    """
    frozen = (status == STATUS["diverged"]) | (status == STATUS["nonfinite"])
    keys = np.where(frozen, DIVERGED, UNRESOLVED).astype(np.int64)
    for p in np.unique(period[(period >= 1) & ~frozen]):
        rows = np.flatnonzero((period == p) & ~frozen)
        cycles = aligned_cycles(orbit[rows], int(p), direction)
        signature = np.concatenate([cycles[:, 0, :], center[rows]], axis=1)
        keys[rows] = table.add(launch_index, start, rows, int(p), signature, cycles)
    rows = np.flatnonzero((period == 0) & ~frozen)
    states = orbit[rows]
    gaps = bool(np.isnan(states[:, 0]).any())  # a horizon shorter than the orbit: NaN first
    low = np.nanmin(states, axis=1) if gaps else states.min(axis=1)
    high = np.nanmax(states, axis=1) if gaps else states.max(axis=1)
    small = np.all(high - low <= near_tol, axis=1)
    confined.add(position + rows[small], low[small], high[small])
    return keys
