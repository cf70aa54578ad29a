"""The landscape description the engine compiles.

A landscape is a loss and its gradient written once as plain scalar Python on tuples:

    grad(w, p, t) -> d-tuple      loss(w, p, t) -> float

``w`` is a tuple of d floats, ``p`` the tuple of parameter values in the order of ``params``
(an array-valued parameter contributes its entries, flattened in C order), ``t`` the 1-based
step (time-dependent, online landscapes such as ``reddi`` use it; others ignore it). An optional
``project(w, p) -> d-tuple`` is applied after every step (projected gradient methods).
The engine compiles these with ``numba.njit`` and ``numba.cuda.jit(device=True)``.

Above a handful of coordinates a landscape is written on arrays instead (``form="array"``):

    grad(w, p, data, t, g)        loss(w, p, data, t) -> float

``w`` is the (d,) contiguous point (read only), ``g`` the (d,) array the gradient is written into,
``data`` the tuple of the landscape's data arrays in the order of ``data=``. Nothing in the
compiled kernel grows with d. Plain loops compile for both targets; NumPy calls that numba
supports (``X @ w``) compile for the CPU. An optional ``tile_grad(W, p, data, t, G)`` is a faster
CPU form over a tile of trajectories (W, G of shape (n, d)); it must equal ``grad`` row by row.
Optional companions, each equal to what ``grad``/``loss`` give:

    value_grad(w, p, data, t, g) -> float          loss and gradient in one pass
    tile_value_grad(W, p, data, t, G, L)            the same over a tile (L: (n,) losses)
    hvp(w, p, data, t, u, out)                      Hessian–vector product ∇²L(w)·u into out

A landscape that needs working memory per trajectory declares ``scratch`` floats: every
single-trajectory function (``grad``, ``loss``, ``value_grad``, ``hvp``) then takes one more
argument last, ``s``, the trajectory's (scratch,) row (CUDA device functions cannot allocate).
``groups`` names slices of the coordinates (covering each once), so hyperparameters can be set
per group: ``hyper={"lr": {"layer1": 1e-2, "layer2": 1e-3}}``.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

CRITICAL_KINDS = ("minimum", "saddle", "maximum")
FORMS = ("tuple", "array")


def _arity(fn) -> int | None:
    """Number of positional parameters of a Python function (None if it cannot be read)."""
    try:
        params = inspect.signature(getattr(fn, "py_func", fn)).parameters.values()
    except (TypeError, ValueError):
        return None
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


def _check_data(name: str, form: str, data) -> dict:
    """The data arrays as C-contiguous float64 arrays, in order."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise TypeError(f"Landscape {name!r}: data must be a dict of name -> array, got {type(data).__name__}")
    out = {}
    for key, value in data.items():
        if not isinstance(key, str):
            raise TypeError(f"Landscape {name!r}: data names must be strings, got {key!r}")
        try:
            arr = np.ascontiguousarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"Landscape {name!r}: data[{key!r}] must be an array of numbers") from None
        if arr.ndim == 0 or arr.size == 0:
            raise ValueError(f"Landscape {name!r}: data[{key!r}] must be a non-empty array, got shape {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"Landscape {name!r}: data[{key!r}] must be finite")
        out[key] = arr
    return out


def _check_groups(name: str, dim: int, groups) -> dict:
    """Named coordinate slices, checked to cover 0 … dim − 1 exactly once."""
    if groups is None:
        return {}
    if not isinstance(groups, dict) or not groups:
        raise TypeError(f"Landscape {name!r}: groups must be a non-empty dict of name -> slice")
    spans = []
    for key, value in groups.items():
        if not isinstance(key, str) or not key.isidentifier():
            raise ValueError(f"Landscape {name!r}: group names must be identifiers, got {key!r}")
        if isinstance(value, range):
            value = slice(value.start, value.stop, value.step)
        if not isinstance(value, slice) or value.step not in (None, 1):
            raise TypeError(f"groups: {key!r} must be a slice(lo, hi) of coordinates, got {value!r}")
        lo, hi, _ = value.indices(dim)
        if value.start is None or value.stop is None or hi <= lo or value.stop > dim or value.start < 0:
            raise ValueError(f"groups: {key!r} = {value!r} is not a non-empty slice inside 0 … {dim}")
        spans.append((lo, hi, key))
    spans.sort()
    at = 0
    for lo, hi, key in spans:
        if lo < at:
            raise ValueError(f"groups: {key!r} overlaps another group (coordinates {lo} … {at - 1})")
        if lo > at:
            raise ValueError(f"groups: coordinates {at} … {lo - 1} belong to no group")
        at = hi
    if at != dim:
        raise ValueError(f"groups: coordinates {at} … {dim - 1} belong to no group")
    return {key: slice(*groups[key].indices(dim)[:2]) if isinstance(groups[key], slice)
            else slice(groups[key].start, groups[key].stop) for key in groups}


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
    form : "tuple" or "array"
        The functions' form (module docstring). Default "tuple".
    data : dict of arrays, optional (array form)
        Data every trajectory shares, passed to the functions as a tuple in this order.
    groups : dict of slices, optional
        Named coordinate groups, each a ``slice(lo, hi)`` (step 1), covering 0 … d − 1 once.
    tile_grad : callable ``(W, p, data, t, G)``, optional (array form)
        A faster CPU gradient over a tile of trajectories, equal to ``grad`` row by row.
    value_grad : callable ``(w, p, data, t, g) -> float``, optional (array form)
        Writes the gradient into g and returns the loss, in one pass.
    tile_value_grad : callable ``(W, p, data, t, G, L)``, optional (array form)
        ``value_grad`` over a tile: gradients into the rows of G, losses into L.
    hvp : callable ``(w, p, data, t, u, out)``, optional (array form)
        Writes the Hessian–vector product ∇²L(w)·u into out.
    scratch : int, optional (array form)
        Floats of working memory per trajectory; the single-trajectory functions then take the
        trajectory's scratch row as one more, last, argument. Default 0.
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
        *,
        form: str = "tuple",
        data: dict | None = None,
        groups: dict | None = None,
        tile_grad: Callable | None = None,
        value_grad: Callable | None = None,
        tile_value_grad: Callable | None = None,
        hvp: Callable | None = None,
        scratch: int = 0,
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
        if form not in FORMS:
            raise ValueError(f"Landscape {name!r}: form must be one of {FORMS}, got {form!r}")
        self.form = form
        self.data = _check_data(name, form, data)
        self.groups = _check_groups(name, self.dim, groups)
        if isinstance(scratch, bool) or not isinstance(scratch, (int, np.integer)) or scratch < 0:
            raise ValueError(f"Landscape {name!r}: scratch must be an integer >= 0, got {scratch!r}")
        if scratch and form != "array":
            raise ValueError(f"Landscape {name!r}: scratch is for array-form landscapes (form='array')")
        self.scratch = int(scratch)
        optional = (("tile_grad", tile_grad), ("value_grad", value_grad),
                    ("tile_value_grad", tile_value_grad), ("hvp", hvp))
        for label, fn in optional:
            if fn is not None and (form != "array" or not callable(fn)):
                raise TypeError(f"Landscape {name!r}: {label} must be a callable of an array-form landscape")
        self.tile_grad = tile_grad
        self.value_grad = value_grad
        self.tile_value_grad = tile_value_grad
        self.hvp = hvp
        if form == "array":
            if project is not None:
                raise ValueError(f"Landscape {name!r}: project is not supported for array-form landscapes")
            s = 1 if self.scratch else 0
            for label, fn, arity, args in (
                ("grad", grad, 5 + s, "(w, p, data, t, g" + ", s" * s + ")"),
                ("loss", loss, 4 + s, "(w, p, data, t" + ", s" * s + ")"),
                ("value_grad", value_grad, 5 + s, "(w, p, data, t, g" + ", s" * s + ")"),
                ("hvp", hvp, 6 + s, "(w, p, data, t, u, out" + ", s" * s + ")"),
                ("tile_grad", tile_grad, 5, "(W, p, data, t, G)"),
                ("tile_value_grad", tile_value_grad, 6, "(W, p, data, t, G, L)"),
            ):
                if fn is not None and _arity(fn) not in (arity, None):
                    raise TypeError(f"Landscape {name!r}: an array-form {label} takes {args}, "
                                    f"got {_arity(fn)} parameters")
        elif data:
            raise ValueError(f"Landscape {name!r}: data is for array-form landscapes (form='array')")

    @property
    def data_arrays(self) -> tuple:
        """The data arrays in the order the functions receive them."""
        return tuple(self.data.values())

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

