"""Box-counting dimension of the boundary of a label field on a regular grid.

The boundary is the set of grid cells (2 × 2 neighbouring grid points in the plane, 2^n in n
dims) whose corners do not all carry the same label: basin labels, ``trainable`` (0/1), or the
sign of a score (a cell where the score changes sign). The cells are tiled with boxes of side
ε = s cells (aligned at the grid's first cell; the boxes of the last row and column may reach past
the grid); N(ε) counts the boxes that hold at least one boundary cell, and the box-counting
dimension D is the slope of the least-squares line

    log N(ε) = −D log ε + c

over the box sides of the fit range (Falconer, *Fractal Geometry*, 3rd ed., 2014, §2.1, the
box-counting dimension with grid-aligned boxes, "equivalent definition" 2.1(iv)). ε is in grid
spacings, so D is the dimension of the boundary in the coordinates the grid is regular in (the
log of a log-spaced learning rate); a smooth change of coordinates leaves D unchanged.

On a computed grid the count saturates at both ends: below a few cells the boundary is a
staircase of pixels, and boxes comparable to the grid hold whole pieces of it. The default fit
range is therefore s = ``MIN_BOX``, 2·``MIN_BOX``, … up to 1/``MAX_BOX_FRACTION`` of the smallest
number of cells; a smooth curve gives D = 1, a filled region's edge 1, the Koch curve
log 4 / log 3 and a field whose every cell is a boundary cell 2 (tests/test_box_counting.py).
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr
from scipy import stats

from .boundaries import _label_name, _per_group, labels_and_dims

#: Smallest default box side (cells): smaller boxes resolve the pixel staircase, not the boundary.
MIN_BOX = 2
#: Largest default box side: this fraction of the smallest number of cells along a measured dim.
MAX_BOX_FRACTION = 1.0 / 16.0


def boundary_cells(grid: np.ndarray) -> np.ndarray:
    """True for each cell (2^n neighbouring grid points) whose corners hold more than one label;
    shape: one less than ``grid`` along every axis."""
    high, low = grid, grid
    for axis in range(grid.ndim):
        n = high.shape[axis]
        first = (slice(None),) * axis + (slice(0, n - 1),)
        second = (slice(None),) * axis + (slice(1, n),)
        high = np.maximum(high[first], high[second])
        low = np.minimum(low[first], low[second])
    return high != low


def box_count(cells: np.ndarray, box: int) -> int:
    """Number of the aligned boxes of ``box`` cells per side that hold a True cell (the boxes
    at the far edges are cut off by the grid and count like the others)."""
    counts = tuple(-(-n // box) for n in cells.shape)
    padded = np.zeros(tuple(c * box for c in counts), dtype=bool)
    padded[tuple(slice(0, n) for n in cells.shape)] = cells
    split = padded.reshape(tuple(x for c in counts for x in (c, box)))
    return int(np.count_nonzero(split.any(axis=tuple(range(1, 2 * cells.ndim, 2)))))


def default_boxes(cells_shape) -> np.ndarray:
    """Box sides (cells) of the default fit: powers of two from MIN_BOX to MAX_BOX_FRACTION ×
    the smallest number of cells (at least two sides)."""
    largest = max(2 * MIN_BOX, int(min(cells_shape) * MAX_BOX_FRACTION))
    return MIN_BOX * 2 ** np.arange(int(math.log2(largest / MIN_BOX)) + 1)


def box_counting_dimension(data, dims=None, by=None, boxes=None) -> xr.Dataset:
    """Box-counting dimension D of the boundary of a label field: log N(ε) = −D log ε + c.

    ``data`` and ``by`` choose the labels, ``dims`` the grid they are measured on
    (:func:`simdyn.analysis.boundaries.labels_and_dims`): a :func:`simdyn.basins` dataset
    (attractor labels over its initial grid), ``ds, dims=("lr_layer1", "lr_layer2"),
    by="trainable"``, ``ds, by="sign:trainability_score"``, or a DataArray (``by="sign"`` for the
    sign of its values). ``boxes``: the box sides of the fit, in cells (default
    :func:`default_boxes`: powers of two from 2 to 1/16 of the grid).

    Returns a Dataset with ``dimension`` (D), ``dimension_stderr`` (standard error of the fitted
    slope), ``fit_intercept`` (c: log N at ε = 1 cell), ``fit_box_min`` / ``fit_box_max`` (the fit
    range, cells) and the data over dim ``box``: ``box_count`` (N(ε)) and ``fit_used`` (the box
    sides with N > 0, those fitted); D is NaN when fewer than two sides have a boundary box.
    Other dims of the labels are kept: one fit per combination.
    """
    labels, dims = labels_and_dims(data, dims, by)
    cells_shape = tuple(labels.sizes[d] - 1 for d in dims)
    if min(cells_shape) < 1:
        raise ValueError(f"dims: need at least 2 grid points along each of {list(dims)}, got {cells_shape}")
    if boxes is None:
        boxes = default_boxes(cells_shape)
    else:
        boxes = np.unique(np.asarray(boxes, dtype=np.int64))
        if boxes.size < 2 or np.any(boxes < 1):
            raise ValueError(f"boxes: need at least two box sides >= 1 (cells), got {boxes!r}")

    def compute(grid):
        cells = boundary_cells(grid)
        counts = np.array([box_count(cells, int(b)) for b in boxes], dtype=np.int64)
        use = counts > 0
        if use.sum() < 2:
            return {"count": counts, "use": use, "dimension": math.nan, "stderr": math.nan, "intercept": math.nan,
                    "lo": 0, "hi": 0}
        fit = stats.linregress(np.log(boxes[use].astype(float)), np.log(counts[use].astype(float)))
        stderr = float(fit.stderr) if use.sum() > 2 else math.nan
        return {"count": counts, "use": use, "dimension": -float(fit.slope), "stderr": stderr,
                "intercept": float(fit.intercept), "lo": int(boxes[use].min()), "hi": int(boxes[use].max())}

    out, group_dims, coords = _per_group(labels, dims, compute)
    coords["box"] = ("box", boxes, {"long_name": "box side epsilon", "units": "grid cells"})
    ds = xr.Dataset(
        {
            "dimension": (group_dims, out["dimension"],
                          {"long_name": "box-counting dimension D of the boundary: log N = -D log eps + c"}),
            "dimension_stderr": (group_dims, out["stderr"], {"long_name": "standard error of the fitted slope"}),
            "fit_intercept": (group_dims, out["intercept"], {"long_name": "c: log N at eps = 1 cell"}),
            "fit_box_min": (group_dims, out["lo"], {"long_name": "smallest box side in the fit", "units": "grid cells"}),
            "fit_box_max": (group_dims, out["hi"], {"long_name": "largest box side in the fit", "units": "grid cells"}),
            "box_count": (group_dims + ("box",), out["count"],
                          {"long_name": "N(eps): boxes holding a boundary cell"}),
            "fit_used": (group_dims + ("box",), out["use"], {"long_name": "box sides used in the fit (N > 0)"}),
        },
        coords=coords,
    )
    ds.attrs.update({"method": "box counting, grid-aligned boxes (Falconer 2014, 2.1)", "grid_dims": " ".join(dims),
                     "phase_space_dimension": len(dims), "labels": _label_name(by)})
    return ds
