"""Which table rows a CPU tile reads per trajectory: hyperparameter grids at full speed.

A CPU tile is a run of trajectories advanced together by a vectorised loop. When every tile
holds one hyperparameter combination, its values are loop-invariant scalars, and per-step
terms such as 1 − β₁ᵗ or the schedule's η_t are computed once per tile and step. That is the
fast shape for many initial points per combination, and a slow one for a grid over one
initial point: a tile of one trajectory does not vectorise (measured 9× slower).

So tiles may span combinations. Some sweep dims become *lane dims*: the table rows that
depend on them (the *lane rows*) are read per trajectory, the others stay tile constants.
Trajectories are grouped by their combination's index along the other dims (the *tile
group*); a tile never straddles two groups. A trajectory's arithmetic is the same whichever
rows are lanes, so results do not depend on the batch's shape.

The base learning rate (schedule row 0) is always read per trajectory: it enters the step as
one product (η·(1/bc₁), see :mod:`simdyn.optimizers._pieces`), so reading it per trajectory
costs a load, and a grid over lr fills whole tiles with no other kernel. When that leaves the
tile groups smaller than :data:`GROUP_TARGET` (a sweep of landscape parameters or of other
hyperparameters over few initial points), whole tables become lanes too, cheapest first: the
other schedule parameters, the landscape's and the observers' (a load each), then the
optimizer's hyperparameters (their per-step terms are then computed per trajectory). That
makes at most four kernels per optimizer and landscape.

An optimizer whose update raises hyperparameters to the power t (``Optimizer.step_powers``:
the bias corrections 1 − βᵗ of Adam and its kin) pays a ``pow`` call per trajectory and step
for them as lanes, which costs more than small tiles do. Measured on Adam in 2-D, one initial
point × n learning rates × β₁ values (one thread, CPU time): with β₁ read per trajectory
3.7e7 trajectory-steps/s whatever n, with β₁ a tile constant 2.7e7 at n = 1, 3.9e7 at 2, 5.0e7
at 4, 2.0e8 at 16 and 3.7e8 at 256; RMSProp and momentum, without powers, run at 3.7e8 and
1.2e9 with their hyperparameters per trajectory. So such hyperparameters become lanes only when
the tile groups would otherwise hold one trajectory (:data:`POWER_GROUP_MIN`).
"""

from __future__ import annotations

import numpy as np

#: Trajectories a tile group should hold for its tiles to vectorise well (tiles are ≤ 2048).
GROUP_TARGET = 512

#: An optimizer with ``step_powers`` reads its hyperparameters per trajectory only when the tile
#: groups would otherwise be smaller than this (module docstring).
POWER_GROUP_MIN = 2

#: Lane kinds, cheapest first: the base learning rate (always), the other schedule, landscape
#: and observer parameters, the optimizer's other hyperparameters.
KINDS = ("lr", "params", "hypers")


def _kind(table: str, row: int, n_sched: int) -> str:
    """The lane kind of a table row (``n_sched``: schedule rows per coordinate group, the first
    of each being the group's base learning rate)."""
    if table == "Q" and row % n_sched == 0:
        return "lr"
    return "hypers" if table == "H" else "params"


def _dim_indices(shape: tuple[int, ...]):
    """Each combination's index along every sweep dim, and each dim's stride in the flattened
    C-order combination index."""
    n_combo = int(np.prod(shape, dtype=np.int64)) if shape else 1
    index = np.unravel_index(np.arange(n_combo), shape) if shape else ()
    strides = [int(np.prod(shape[k + 1:], dtype=np.int64)) for k in range(len(shape))]
    return n_combo, index, strides


def _depends(row: np.ndarray, index: np.ndarray, stride: int) -> bool:
    """Whether a per-combination row changes along a dim (``index``: each combination's index
    along it, ``stride``: the dim's stride in the flattened C-order combination index)."""
    base = np.arange(row.size) - index * stride
    return bool(np.any(row != row[base]))


def lane_layout(shape: tuple[int, ...], n_ic: int, tables: dict[str, np.ndarray], n_groups: int = 1,
                step_powers: bool = False):
    """``(lane_rows, tile_group)`` for a batch of ``n_ic`` initial points × the sweep ``shape``.

    ``tables`` maps "H", "Q", "P", "OQ" to their (rows, C) per-combination tables (H and Q
    with their rows for each of ``n_groups`` coordinate groups, group after group);
    ``step_powers``: the optimizer's (``Optimizer.step_powers``). Returns the
    rows read per trajectory, as ((table, row), …) with the real tables first, and the (C,)
    tile group of each combination (None when every combination is its own group).
    """
    n_combo, index, strides = _dim_indices(shape)
    rows = [(name, i) for name in ("H", "Q", "P", "OQ") for i in range(tables[name].shape[0])]
    n_sched = max(1, tables["Q"].shape[0] // n_groups)
    dim_kinds = [{_kind(*r, n_sched) for r in rows if _depends(tables[r[0]][r[1]], index[k], strides[k])}
                 for k in range(len(shape))]
    best = None  # (group size, kinds, lane dims): the fewest kinds reaching the target, else the largest groups
    for n_kinds in range(1, len(KINDS) + 1):
        kinds = set(KINDS[:n_kinds])
        if step_powers and "hypers" in kinds and best[0] >= POWER_GROUP_MIN:
            break
        lanes = [k for k in range(len(shape)) if dim_kinds[k] <= kinds]
        size = n_ic * int(np.prod([shape[k] for k in lanes], dtype=np.int64))
        if best is None or size > best[0]:
            best = (size, kinds, lanes)
        if size >= GROUP_TARGET:
            break
    _, kinds, lanes = best
    lane_rows = tuple(sorted((r for r in rows if _kind(*r, n_sched) in kinds), key=lambda r: (r[0] == "OQ", "HQP".find(r[0][0]), r[1])))
    others = [k for k in range(len(shape)) if k not in lanes]
    if not lanes:
        return lane_rows, None
    group = np.ravel_multi_index(tuple(index[k] for k in others), tuple(shape[k] for k in others)) if others \
        else np.zeros(n_combo, dtype=np.int64)
    return lane_rows, np.asarray(group, dtype=np.int64)


def representatives(shape: tuple[int, ...], tables: dict[str, np.ndarray]) -> np.ndarray | None:
    """(C,) the combination each combination copies: the same one with index 0 along every
    sweep dim that no row of ``tables`` depends on (a hyperparameter of another optimizer of
    the call), or None when every dim matters. A noise-free trajectory is then run once and
    repeated along those dims instead of being recomputed."""
    if not shape:
        return None
    n_combo, index, strides = _dim_indices(shape)
    rows = [table[i] for table in tables.values() for i in range(table.shape[0])]
    ignored = [k for k in range(len(shape)) if shape[k] > 1
               and not any(_depends(row, index[k], strides[k]) for row in rows)]
    if not ignored:
        return None
    combination = np.arange(n_combo, dtype=np.int64)
    for k in ignored:
        combination = combination - index[k] * strides[k]
    return combination
