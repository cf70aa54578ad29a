"""The landscape description the engine compiles.

A landscape is a loss and its gradient written once as plain scalar Python on tuples:

    grad(w, p, t) -> d-tuple      loss(w, p, t) -> float

``w`` is a tuple of d floats, ``p`` the tuple of parameter values in the order of ``params``
(an array-valued parameter contributes its entries, flattened in C order), ``t`` the 1-based
step (time-dependent, online landscapes such as ``reddi`` use it; others ignore it). An optional
``project(w, p) -> d-tuple`` is applied after every step (projected gradient methods).
The engine compiles these with ``numba.njit`` and ``numba.cuda.jit(device=True)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

CRITICAL_KINDS = ("minimum", "saddle", "maximum")


@dataclass(frozen=True)
class CriticalPoint:
    """A known critical point: ``kind`` in CRITICAL_KINDS, its location and a short name."""

    kind: str
    location: tuple
    name: str = ""

    def __post_init__(self):
        if self.kind not in CRITICAL_KINDS:
            raise ValueError(f"CriticalPoint.kind must be one of {CRITICAL_KINDS}, got {self.kind!r}")
        object.__setattr__(self, "location", tuple(float(x) for x in self.location))


class Landscape:
    """A loss landscape: ``sd.Landscape(name, dim, grad, loss, params=None, ...)``.

    Parameters
    ----------
    name : str
        Identifier used in datasets and error messages.
    dim : int
        Number of coordinates d ≥ 1.
    grad, loss : callables ``(w, p, t)``
        Pure scalar functions on a d-tuple (see the module docstring). Either plain Python or
        ``numba.njit`` functions; they must be compilable by numba in nopython mode.
    params : dict, optional
        Parameter names and default values, in the order ``p`` receives them. Scalars may be
        swept (``simulate(params={"a": [...]})``); array values are fixed.
    project : callable ``(w, p) -> d-tuple``, optional
        Projection applied after each step (e.g. onto a feasible box).
    critical_points : list of CriticalPoint, or callable ``params -> list``, optional
        Known minima/saddles/maxima, used to label attractors.
    formula : str
        Human-readable formula, stored in dataset attributes.
    """

    def __init__(
        self,
        name: str,
        dim: int,
        grad: Callable,
        loss: Callable,
        params: dict | None = None,
        project: Callable | None = None,
        critical_points: Sequence[CriticalPoint] | Callable | None = None,
        formula: str = "",
        doc: str = "",
    ):
        if not isinstance(name, str) or not name:
            raise TypeError("Landscape: name must be a non-empty string")
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
            raise ValueError(f"Landscape {name!r}: dim must be an integer >= 1, got {dim!r}")
        for label, fn in (("grad", grad), ("loss", loss)):
            if not callable(fn):
                raise TypeError(f"Landscape {name!r}: {label} must be callable")
        if project is not None and not callable(project):
            raise TypeError(f"Landscape {name!r}: project must be callable or None")
        self.name = name
        self.dim = int(dim)
        self.grad = grad
        self.loss = loss
        self.params = dict(params or {})
        for key in self.params:
            if not isinstance(key, str) or not key.isidentifier():
                raise ValueError(f"Landscape {name!r}: parameter names must be identifiers, got {key!r}")
        self.project = project
        self._critical_points = critical_points
        self.formula = formula
        self.doc = doc

    def critical_points(self, params: dict | None = None) -> list[CriticalPoint]:
        """Known critical points for the given parameter values (defaults where missing)."""
        values = {**self.params, **(params or {})}
        points = self._critical_points
        if points is None:
            return []
        if callable(points):
            return list(points(values))
        return list(points)

    def minima(self, params: dict | None = None) -> list[CriticalPoint]:
        return [cp for cp in self.critical_points(params) if cp.kind == "minimum"]

    def flat_params(self, values: dict) -> tuple:
        """The ``p`` tuple for the given parameter values (arrays flattened in C order)."""
        flat = []
        for key in self.params:
            value = np.asarray(values.get(key, self.params[key]), dtype=float)
            flat.extend(float(x) for x in value.ravel())
        return tuple(flat)

    def unflat_params(self, flat) -> dict:
        """The parameter values of a flat ``p`` tuple (inverse of :meth:`flat_params`)."""
        out, at = {}, 0
        for key, default in self.params.items():
            shape = np.shape(default)
            size = int(np.prod(shape, dtype=int))
            value = np.asarray(flat[at:at + size], dtype=float).reshape(shape)
            out[key] = float(value) if value.ndim == 0 else value
            at += size
        return out

    def __repr__(self) -> str:
        return f"Landscape({self.name!r}, dim={self.dim}, params={self.params})"

