"""Basin boundaries: where they are, whether they are fractal.

Input: the ``attractor`` labels of :func:`simdyn.basins` on a grid of initial points, or any
label field on any regular grid of a Dataset: ``trainable`` (0/1) over two learning rates, the
sign of a score (``by="sign:trainability_score"``), labels over ``lr`` × ``beta1``
(:func:`labels_and_dims` says how ``by`` and ``dims`` choose them). Every label counts as a
basin, ``diverged`` (−1) and ``unresolved`` (−2) included, as in Attractors.jl. Dims other than
the measured ones (``optimizer``, further sweeps) are kept: each combination gets its own numbers.
Boxes are cut in grid spacings, so a log-spaced sweep is measured in the log of its values.

``by="name"`` measures the boundaries between the basins of named critical points instead (a
fixed point and the cycles around the same minimum count as one basin).

* :func:`boundary_mask`: a grid point is on the boundary when one of its 2·D nearest grid
  neighbours (±1 along each grid axis) has another label.
* :func:`uncertainty_exponent` (Grebogi, McDonald, Ott & Yorke, "Final state sensitivity: an
  obstruction to predictability", Phys. Lett. A 99, 413, 1983). A box of side ε is *uncertain*
  when the initial points it holds do not all reach the same attractor; the fraction of
  uncertain boxes scales as f(ε) ∝ ε^α. α is the least-squares slope of log f against log ε,
  and the box-counting dimension of the boundary is D − α (D the number of grid dims): α = 1 for
  a smooth boundary in the plane, α → 0 for riddled basins. As in Attractors.jl's
  ``uncertainty_exponent`` the boxes are cut from the computed grid (side ε = m grid spacings,
  m + 1 points across), but *every* position of the box is probed (a sliding window), not only
  the boxes of one aligned tiling: an aligned tiling misses a boundary that runs along its box
  edges (a straight boundary between two grid columns is never inside an aligned box whose
  side divides its position), while the sliding count equals the fraction of ε-uncertain
  initial points of Grebogi et al. exactly (the point at the box's lower corner is uncertain).
* :func:`basin_entropy` (Daza, Wagemakers, Georgeot, Guéry-Odelin & Sanjuán, "Basin entropy: a
  new tool to analyze uncertainty in dynamical systems", Sci. Rep. 6, 31416, 2016): the grid is
  tiled with boxes of ``box`` × … points (the remainder is dropped, as Attractors.jl's
  ``basin_entropy``); a box holding labels with proportions p_i has the Gibbs entropy
  S = −Σ p_i log p_i. S_b is the mean of S over all boxes, S_bb over the boxes that hold more than
  one label (the boundary boxes). S_bb > log 2 is Daza et al.'s sufficient condition for a
  fractal boundary (``fractal_log2``).
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr
from scipy import ndimage

#: Default largest uncertainty box (grid spacings): this fraction of the smallest grid size.
MAX_BOX_FRACTION = 1.0 / 20.0
#: Default number of box sizes in the uncertainty fit (geometric between 1 and the largest).
N_BOXES = 12
#: Default side of the basin-entropy boxes (grid points), Daza et al.'s and Attractors.jl's.
ENTROPY_BOX = 20


def boundary_mask(labels: np.ndarray, axes) -> np.ndarray:
    """True where a nearest neighbour along one of the grid ``axes`` has another label."""
    labels = np.asarray(labels)
    mask = np.zeros(labels.shape, dtype=bool)
    for axis in axes:
        n = labels.shape[axis]
        if n < 2:
            continue
        lo = [slice(None)] * labels.ndim
        hi = [slice(None)] * labels.ndim
        lo[axis], hi[axis] = slice(0, n - 1), slice(1, n)
        differ = labels[tuple(lo)] != labels[tuple(hi)]
        mask[tuple(lo)] |= differ
        mask[tuple(hi)] |= differ
    return mask


def by_name(ds: xr.Dataset) -> xr.DataArray:
    """The ``attractor`` labels with the attractors that share an ``attractor_name`` (a fixed
    point and the cycles around the same minimum, say) merged into one label; unnamed attractors,
    −1 and −2 are kept apart."""
    names = [str(n) or f"#{a}" for a, n in enumerate(ds["attractor_name"].values)]
    lut = np.array([list(dict.fromkeys(names)).index(n) for n in names] or [0], dtype=np.int64)
    labels = ds["attractor"]
    return labels.copy(data=np.where(labels.values >= 0, lut[np.maximum(labels.values, 0)], labels.values))


#: ``by`` prefix that labels the points by the sign of a score variable (see :func:`sign_labels`).
SIGN_PREFIX = "sign:"
#: Label of the points whose score is NaN in :func:`sign_labels` (−1, 0 and +1 are the signs).
NAN_SIGN = 2


def sign_labels(score: xr.DataArray) -> xr.DataArray:
    """The sign of a score as integer labels: −1, 0, +1, and ``NAN_SIGN`` (2) where it is NaN.

    A boundary between the labels is a sign change of the score (a NaN region is a region of
    its own: its edge is a boundary too)."""
    values = np.asarray(score.values, dtype=float)
    labels = np.where(np.isnan(values), NAN_SIGN, np.sign(np.nan_to_num(values))).astype(np.int8)
    return score.copy(data=labels).rename(f"sign({score.name})" if score.name is not None else None)


def _field(data, by):
    """The DataArray ``by`` selects in ``data`` (see :func:`labels_and_dims`) and whether it is a
    basins dataset's attractor labels."""
    if by is not None and not isinstance(by, str):
        raise TypeError(f"by must be None or a string, got {type(by).__name__}")
    if isinstance(data, xr.Dataset):
        by = "attractor" if by is None else by
        if by == "name":
            if "attractor_name" not in data or "attractor" not in data:
                raise ValueError("by='name' needs a dataset from sd.basins (variables 'attractor', 'attractor_name')")
            return by_name(data), True
        name = by[len(SIGN_PREFIX):] if by.startswith(SIGN_PREFIX) else by
        if name not in data.data_vars:
            raise ValueError(f"by={by!r}: the dataset has no variable {name!r}; its variables: {sorted(data.data_vars)}"
                             + ("" if by != "attractor" else " (expected a dataset from sd.basins)"))
        field = data[name]
        return (sign_labels(field), False) if by.startswith(SIGN_PREFIX) else (field, by == "attractor")
    if isinstance(data, xr.DataArray):
        field = data
    elif isinstance(data, (np.ndarray, list, tuple)):
        field = xr.DataArray(np.asarray(data))
    else:
        raise TypeError(f"data must be an xarray Dataset or DataArray or a numpy array, got {type(data).__name__}")
    if by in (None, "attractor"):
        return field, False
    if by == "sign":
        return sign_labels(field), False
    raise ValueError(f"by={by!r}: for a DataArray, by must be None (its values are the labels) or 'sign' (the sign "
                     "of its values); variable names and 'name' select from a Dataset")


def labels_and_dims(data, dims=None, by=None) -> tuple[xr.DataArray, tuple]:
    """The integer labels a boundary measure uses and the dims it measures along.

    ``data``: a Dataset, a DataArray or a numpy array. ``by`` picks the labels:

    * Dataset: ``None`` or ``"attractor"`` (the labels of :func:`simdyn.basins`), ``"name"``
      (attractors named after the same critical point merged, :func:`by_name`), the name of any
      integer or boolean variable (``"trainable"``, ``"status"``), or ``"sign:<variable>"``: the
      sign of a float variable (``"sign:trainability_score"``, :func:`sign_labels`);
    * DataArray or array: ``None`` (its values are the labels; integers or booleans) or
      ``"sign"`` (the sign of its values).

    ``dims``: the two (or any number of) dims to measure along, spatial or not (``("lr_layer1",
    "lr_layer2")``, ``("lr", "beta1")``). Default: for the ``attractor`` labels of a basins
    dataset the dims of its initial grid, else every dim of the labels. The other dims are kept:
    each of their combinations is measured on its own.
    """
    labels, basins_labels = _field(data, by)
    if dims is None and basins_labels and "basin_fraction" in data:
        dims = tuple(d for d in labels.dims if d not in data["basin_fraction"].dims)
    if dims is None:
        dims = labels.dims
    if isinstance(dims, str):
        dims = (dims,)
    dims = tuple(dims)
    missing = [d for d in dims if d not in labels.dims]
    if missing or not dims:
        raise ValueError(f"dims: grid dims {list(dims)} not found in the labels' dims {list(labels.dims)}")
    if len(set(dims)) != len(dims):
        raise ValueError(f"dims: each dim once, got {list(dims)}")
    if labels.dtype.kind not in "iub":
        hint = f" (use by='sign:{by}' for the sign of a score)" if isinstance(data, xr.Dataset) else \
            " (use by='sign' for the sign of a score)"
        raise TypeError(f"labels must be integers or booleans, got dtype {labels.dtype}{hint}")
    return labels, dims


def _label_name(by) -> str:
    return "attractor" if by is None else str(by)


def _per_group(labels: xr.DataArray, dims, compute):
    """Apply ``compute(grid_array)`` (returning a dict of arrays/scalars) to every combination
    of the non-grid dims; stack the results with those dims leading."""
    group_dims = tuple(d for d in labels.dims if d not in dims)
    values = labels.transpose(*group_dims, *dims).values
    group_shape = values.shape[: len(group_dims)]
    results = [compute(grid) for grid in values.reshape((-1,) + values.shape[len(group_dims):])]
    out = {}
    for key in results[0]:
        stacked = np.stack([np.asarray(r[key]) for r in results])
        out[key] = stacked.reshape(group_shape + stacked.shape[1:])
    coords = {d: labels[d].values for d in group_dims if d in labels.coords}
    return out, group_dims, coords


def uncertain_fraction(grid: np.ndarray, box: int) -> float:
    """Fraction of the positions of a box of side ``box`` grid spacings (box + 1 points per axis)
    inside ``grid`` whose points hold more than one label."""
    size = box + 1
    if any(n < size for n in grid.shape):
        return math.nan
    high = ndimage.maximum_filter(grid, size=size, mode="nearest")
    low = ndimage.minimum_filter(grid, size=size, mode="nearest")
    # the filter is centred: the box with lower corner i sits at i + size // 2
    inner = tuple(slice(size // 2, n - (size - 1 - size // 2)) for n in grid.shape)
    return float(np.mean(high[inner] != low[inner]))


def default_boxes(shape) -> np.ndarray:
    """Box sides (grid spacings) for the fit: about N_BOXES geometric steps from 1 to
    MAX_BOX_FRACTION × the smallest grid size (at least 2 sides)."""
    largest = max(2, int(min(shape) * MAX_BOX_FRACTION))
    return np.unique(np.round(np.geomspace(1, largest, N_BOXES)).astype(np.int64))


def _fit(boxes: np.ndarray, fraction: np.ndarray):
    """Least-squares slope, intercept and slope standard error of log f on log ε (0 < f < 1)."""
    use = (fraction > 0) & (fraction < 1) & np.isfinite(fraction)
    if use.sum() < 2:
        return math.nan, math.nan, math.nan, use
    x, y = np.log(boxes[use].astype(float)), np.log(fraction[use])
    (slope, intercept), residual, *_ = np.polyfit(x, y, 1, full=True)
    n = int(use.sum())
    stderr = math.sqrt(float(residual[0]) / (n - 2) / np.sum((x - x.mean()) ** 2)) if n > 2 and residual.size else 0.0
    return float(slope), float(intercept), stderr, use


def uncertainty_exponent(data, boxes=None, dims=None, by: str | None = None) -> xr.Dataset:
    """Uncertainty exponent α (Grebogi et al. 1983) and boundary dimension D − α of the basins.

    ``data``: a :func:`simdyn.basins` dataset (or an integer label DataArray / array whose grid
    dims are ``dims``, all of them by default). ``boxes``: box sides in grid spacings (default
    :func:`default_boxes`). ``by="name"`` merges the attractors named after the same critical
    point (the boundaries between minima, not between the cycles around one). Returns a Dataset
    with ``alpha``, ``alpha_stderr``,
    ``boundary_dimension``, ``fit_intercept`` (log f = intercept + α log ε, ε in grid spacings)
    and the fit data ``uncertain_fraction`` and ``fit_used`` over dim ``box`` (with coordinate
    ``epsilon``: the box side in the units of the first grid dim, when it has coordinates).
    """
    labels, dims = labels_and_dims(data, dims, by)
    shape = tuple(labels.sizes[d] for d in dims)
    boxes = default_boxes(shape) if boxes is None else np.unique(np.asarray(boxes, dtype=np.int64))
    if boxes.size < 2 or np.any(boxes < 1):
        raise ValueError(f"boxes: need at least two box sides >= 1 (grid spacings), got {boxes!r}")

    def compute(grid):
        fraction = np.array([uncertain_fraction(grid, int(b)) for b in boxes])
        alpha, intercept, stderr, use = _fit(boxes, fraction)
        return {"fraction": fraction, "alpha": alpha, "intercept": intercept, "stderr": stderr, "use": use}

    out, group_dims, coords = _per_group(labels, dims, compute)
    coords["box"] = boxes
    first = dims[0]
    if first in labels.coords and labels.sizes[first] > 1:
        spacing = float(np.abs(np.diff(labels[first].values)).mean())
        coords["epsilon"] = ("box", boxes * spacing, {"long_name": f"box side in units of {first}"})
    ds = xr.Dataset(
        {
            "alpha": (group_dims, out["alpha"], {"long_name": "uncertainty exponent: f(eps) ~ eps^alpha"}),
            "alpha_stderr": (group_dims, out["stderr"], {"long_name": "standard error of the fitted slope"}),
            "boundary_dimension": (group_dims, len(dims) - out["alpha"],
                                   {"long_name": "box-counting dimension of the basin boundary, D - alpha"}),
            "fit_intercept": (group_dims, out["intercept"], {"long_name": "log f at eps = 1 grid spacing"}),
            "uncertain_fraction": (group_dims + ("box",), out["fraction"],
                                   {"long_name": "fraction of eps-uncertain boxes (sliding, all positions)"}),
            "fit_used": (group_dims + ("box",), out["use"], {"long_name": "box sides used in the fit (0 < f < 1)"}),
        },
        coords=coords,
    )
    ds.attrs.update({"method": "Grebogi et al. 1983, sliding boxes", "grid_dims": " ".join(dims),
                     "phase_space_dimension": len(dims), "labels": _label_name(by)})
    return ds


def box_entropies(grid: np.ndarray, box: int) -> tuple[np.ndarray, np.ndarray]:
    """Gibbs entropy and number of labels of every box of an aligned tiling (side ``box`` points;
    the remainder of each axis is dropped)."""
    counts = tuple(n // box for n in grid.shape)
    if any(c == 0 for c in counts):
        raise ValueError(f"box={box}: larger than the grid {grid.shape}")
    cropped = grid[tuple(slice(0, c * box) for c in counts)]
    split = cropped.reshape(tuple(x for c in counts for x in (c, box)))
    d = grid.ndim
    rows = np.sort(split.transpose(tuple(range(0, 2 * d, 2)) + tuple(range(1, 2 * d, 2))).reshape(-1, box ** d), axis=1)
    n_boxes, width = rows.shape
    starts = np.ones(rows.shape, dtype=bool)
    starts[:, 1:] = rows[:, 1:] != rows[:, :-1]
    run_box = np.nonzero(starts)[0]  # the box of each run of equal labels, in order
    run_start = np.flatnonzero(starts.ravel())
    run_length = np.diff(np.append(run_start, rows.size))
    p = run_length / width
    entropy = np.bincount(run_box, weights=-p * np.log(p), minlength=n_boxes)
    return entropy, np.bincount(run_box, minlength=n_boxes)


def basin_entropy(data, box: int = ENTROPY_BOX, dims=None, by: str | None = None) -> xr.Dataset:
    """Basin entropy S_b and boundary basin entropy S_bb (Daza et al. 2016).

    ``data``, ``dims`` and ``by`` as for :func:`uncertainty_exponent`; ``box``: side of the boxes in grid points
    (default 20). Returns a Dataset with ``basin_entropy`` (S_b), ``boundary_basin_entropy``
    (S_bb; NaN without boundary boxes), ``n_boxes``, ``n_boundary_boxes`` and ``fractal_log2``
    (S_bb > log 2: a fractal boundary by Daza et al.'s sufficient criterion; False says nothing).
    """
    if isinstance(box, bool) or not isinstance(box, (int, np.integer)) or box < 1:
        raise ValueError(f"box must be an integer >= 1 (grid points per side), got {box!r}")
    labels, dims = labels_and_dims(data, dims, by)

    def compute(grid):
        entropy, n_labels = box_entropies(grid, int(box))
        boundary = n_labels > 1
        s_bb = float(entropy[boundary].mean()) if boundary.any() else math.nan
        return {"sb": float(entropy.mean()), "sbb": s_bb, "n": entropy.size, "nb": int(boundary.sum())}

    out, group_dims, coords = _per_group(labels, dims, compute)
    ds = xr.Dataset(
        {
            "basin_entropy": (group_dims, out["sb"], {"long_name": "S_b: mean Gibbs entropy of the boxes"}),
            "boundary_basin_entropy": (group_dims, out["sbb"],
                                       {"long_name": "S_bb: mean Gibbs entropy of the boxes with > 1 label"}),
            "n_boxes": (group_dims, out["n"]),
            "n_boundary_boxes": (group_dims, out["nb"]),
            "fractal_log2": (group_dims, out["sbb"] > math.log(2.0),
                             {"long_name": "S_bb > log 2 (sufficient for a fractal boundary, Daza et al. 2016)"}),
        },
        coords=coords,
    )
    ds.attrs.update({"box": int(box), "grid_dims": " ".join(dims), "method": "Daza et al. 2016", "labels": _label_name(by)})
    return ds
