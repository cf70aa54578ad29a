"""Sets of initial conditions: arrays (dim ``traj``), grids (one dim per coordinate) and balls."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

COORD_LETTERS = ("x", "y", "z")


def coord_labels(dim: int) -> list[str]:
    """Labels of dimension ``coord``: x, y, z for d ≤ 3, w1 … wd beyond."""
    if dim <= 3:
        return list(COORD_LETTERS[:dim])
    return [f"w{k + 1}" for k in range(dim)]


@dataclass(frozen=True)
class InitialSet:
    """Initial points of shape (n, d) with the dataset dims/coords that index them."""

    points: np.ndarray  # (n, d), C order over `shape`
    dims: tuple[str, ...]
    coords: dict  # dim -> 1-D coordinate values
    shape: tuple[int, ...]
    description: str = "array"

    @property
    def dim(self) -> int:
        return self.points.shape[1]


class Grid(InitialSet):
    """A regular grid of initial points built by :func:`grid`."""


def grid(**axes) -> Grid:
    """A regular grid of initial points: ``sd.grid(x=(lo, hi, n), y=(lo, hi, n))``.

    Axis names are the coordinate labels (x, y, z for d ≤ 3; w1 … wd beyond), in order; each
    value is ``(lo, hi, n)`` (``numpy.linspace``) or an explicit 1-D array. The dataset gets one
    dim per axis, named after it with a ``0`` suffix (``x0``, ``y0``, ``z0``; ``w1_0``, ``w2_0``, …
    for d ≥ 4).
    """
    if not axes:
        raise ValueError("grid: give one axis per coordinate, e.g. grid(x=(-1, 1, 101), y=(-1, 1, 101))")
    labels = coord_labels(len(axes))
    if list(axes) != labels:
        raise ValueError(f"grid: axes must be named {labels} in this order for d = {len(axes)}, got {list(axes)}")
    values = []
    for name, spec in axes.items():
        try:
            if isinstance(spec, tuple) and len(spec) == 3:
                lo, hi, n = spec
                if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
                    raise ValueError(f"grid: {name}=(lo, hi, n) needs an integer n >= 1, got {n!r}")
                axis = np.linspace(float(lo), float(hi), int(n))
            else:
                axis = np.asarray(spec, dtype=float)
        except (TypeError, ValueError) as exc:
            if str(exc).startswith("grid:"):
                raise
            raise ValueError(f"grid: {name} must be (lo, hi, n) or a 1-D array of numbers, got {spec!r}") from None
        if axis.ndim != 1 or axis.size == 0:
            raise ValueError(f"grid: {name} must be (lo, hi, n) or a non-empty 1-D array")
        if not np.all(np.isfinite(axis)):
            raise ValueError(f"grid: {name} has non-finite values")
        values.append(axis)
    mesh = np.meshgrid(*values, indexing="ij")
    points = np.stack([m.ravel() for m in mesh], axis=1)
    dims = tuple(f"{name}0" if len(axes) <= 3 else f"{name}_0" for name in axes)
    return Grid(points, dims, dict(zip(dims, values)), tuple(len(v) for v in values), "grid")


def ball(center, radius: float, n: int, seed: int = 0) -> InitialSet:
    """``n`` points uniform in the Euclidean ball of ``radius`` around ``center`` (dim ``traj``)."""
    try:
        center = np.atleast_1d(np.asarray(center, dtype=float))
    except (TypeError, ValueError):
        raise ValueError(f"ball: center must be a finite 1-D point, got {center!r}") from None
    if center.ndim != 1 or not np.all(np.isfinite(center)):
        raise ValueError("ball: center must be a finite 1-D point")
    if isinstance(radius, (bool, np.bool_)) or not isinstance(radius, (int, float, np.integer, np.floating)) \
            or not (np.isfinite(radius) and radius > 0):
        raise ValueError(f"ball: radius must be > 0, got {radius!r}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"ball: n must be an integer >= 1, got {n!r}")
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"ball: seed must be an integer >= 0, got {seed!r}")
    rng = np.random.default_rng(seed)
    d = center.size
    direction = rng.standard_normal((n, d))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    r = radius * rng.random(n) ** (1.0 / d)
    points = center + direction * r[:, None]
    return InitialSet(points, ("traj",), {"traj": np.arange(n)}, (n,), f"ball(center={center.tolist()}, radius={radius}, seed={seed})")


def as_initial_set(x0, dim: int) -> InitialSet:
    """Validate ``x0`` (an (n, d) array, one d-point, a grid or a ball) against dimension ``dim``."""
    if isinstance(x0, InitialSet):
        if x0.dim != dim:
            raise ValueError(f"x0: the landscape has dimension {dim}, the initial set has {x0.dim}")
        return x0
    try:
        arr = np.asarray(x0, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"x0: expected an (n, {dim}) array, sd.grid(...) or sd.ball(...), got {type(x0).__name__}") from None
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1) if dim == 1 else arr.reshape(1, -1)
    if arr.ndim != 2 or arr.shape[1] != dim or arr.shape[0] == 0:
        raise ValueError(f"x0: expected shape (n, {dim}) for a {dim}-dimensional landscape, got {np.shape(x0)}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("x0: initial points must be finite")
    n = arr.shape[0]
    return InitialSet(np.ascontiguousarray(arr), ("traj",), {"traj": np.arange(n)}, (n,), "array")
