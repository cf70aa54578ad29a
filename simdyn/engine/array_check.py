"""Check an array-form landscape's functions before any kernel is built, with errors naming it.

Each function is first called in plain Python on the first initial point (a wrong data shape, a
wrong signature or an exception is reported with the landscape's name, before any compilation),
then, for a user landscape, compiled for the CPU and called once, so that a function numba
cannot compile is reported by name too. A landscape with ``scratch`` floats gets a NaN-filled
scratch row last (a function must write its working memory before reading it).
"""

from __future__ import annotations

import re

import numpy as np
from numba.core.errors import NumbaError

from .compile import compile_scalar, python_function


def check_array_landscape(land, w0, p, dtype: str, registered: bool = False) -> None:
    """Raise TypeError/ValueError naming ``land`` when its functions fail on ``w0``, ``p``."""
    dt = np.dtype(dtype)
    params = tuple(float(x) for x in p)
    where = f"at the first initial point, p = {params}, t = 1"

    def calls(cast, data):
        w = np.ascontiguousarray(w0, dtype=cast)
        g = np.full(land.dim, np.nan, dtype=cast)  # a sentinel: grad must write every entry
        row = (np.full(land.scratch, np.nan, dtype=cast),) if land.scratch else ()  # the scratch row, if any
        yield "grad", land.grad, (w, params, data, 1, g, *row), g
        yield "loss", land.loss, (w, params, data, 1, *row), None
        if land.tile_grad is not None:
            tile = np.ascontiguousarray(np.stack([w, w]))
            out = np.zeros_like(tile)
            yield "tile_grad", land.tile_grad, (tile, params, data, 1, out), (out, g.copy())

    data = tuple(np.asarray(a, dtype=np.float64) for a in land.data_arrays)
    for label, fn, args, out in calls(np.float64, data):
        try:
            value = python_function(fn)(*args)
        except Exception as exc:
            raise TypeError(f"landscape {land.name!r}: {label} raised {type(exc).__name__}: {exc} {where} "
                            f"(data shapes: {[a.shape for a in data]})") from exc
        if label == "grad" and np.any(np.isnan(out)):
            missing = np.flatnonzero(np.isnan(out))
            raise ValueError(f"landscape {land.name!r}: grad left g[{missing[0]}] … g[{missing[-1]}] ({missing.size} of "
                             f"{land.dim}) unwritten or NaN {where}; check the data shapes "
                             f"{ {k: v.shape for k, v in land.data.items()} } against dim = {land.dim}")
        if label == "loss" and not isinstance(value, (float, int, np.floating, np.integer)):
            raise TypeError(f"landscape {land.name!r}: loss must return a float, got {value!r} {where}")
        if label == "tile_grad":
            rows, single = out
            if not np.allclose(rows, single[None, :], rtol=1e-12, atol=1e-300, equal_nan=True):
                raise ValueError(f"landscape {land.name!r}: tile_grad differs from grad {where}")
    if registered:
        return
    typed = tuple(np.asarray(a, dtype=dt) for a in land.data_arrays)
    typed_p = tuple(dt.type(x) for x in params)
    for label, fn, args, _ in calls(dt, typed):
        args = (args[0], typed_p) + args[2:]
        try:
            compile_scalar(fn, "cpu", dtype)(*args)
        except NumbaError as exc:
            first = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip().splitlines()[:6]
            raise TypeError(f"landscape {land.name!r}: numba cannot compile {label}(): " + " ".join(first)) from None
