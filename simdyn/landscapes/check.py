"""Check a landscape's functions before any kernel is built, with errors that name it."""

from __future__ import annotations

import re

import numpy as np
from numba.core.errors import NumbaError

from ..engine.compile import compile_scalar, python_function


def _check_tuple(land, label, value, where):
    if not isinstance(value, tuple) or len(value) != land.dim:
        raise TypeError(
            f"landscape {land.name!r}: {label} must return a tuple of {land.dim} floats, got {value!r} {where}"
        )


def check_landscape_compiles(land, w0, p, dtype: str) -> None:
    """Call grad/loss/project once in Python, then (user landscapes) compile them for the CPU.

    A function that raises, returns the wrong shape or that numba cannot compile gets a
    TypeError naming the landscape (instead of a typing error from deep inside a kernel).
    """
    if getattr(land, "form", "tuple") == "array":
        from ..engine.array_check import check_array_landscape

        return check_array_landscape(land, w0, p, dtype, registered=_registered(land))
    w = tuple(float(x) for x in w0)
    params = tuple(float(x) for x in p)
    where = f"at w = {w}, p = {params}, t = 1"
    pieces = [("grad", land.grad, (w, params, 1)), ("loss", land.loss, (w, params, 1))]
    if land.project is not None:
        pieces.append(("project", land.project, (w, params)))
    for label, fn, args in pieces:
        try:
            value = python_function(fn)(*args)
        except Exception as exc:
            raise TypeError(f"landscape {land.name!r}: {label} raised {type(exc).__name__}: {exc} {where}") from exc
        if label in ("grad", "project"):
            _check_tuple(land, label, value, where)
        elif not np.isscalar(value):
            raise TypeError(f"landscape {land.name!r}: loss must return a float, got {value!r} {where}")
    if _registered(land):
        return  # simdyn's own landscapes are known to compile (tests/test_landscapes.py)
    cast = np.dtype(dtype).type
    typed_w = tuple(cast(x) for x in w)
    typed_p = tuple(cast(x) for x in params)
    for label, fn, args in pieces:
        typed_args = (typed_w, typed_p, 1) if label != "project" else (typed_w, typed_p)
        try:
            compile_scalar(fn, "cpu", dtype)(*typed_args)
        except NumbaError as exc:
            first = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip().splitlines()[:6]
            raise TypeError(
                f"landscape {land.name!r}: numba cannot compile {label}(): " + " ".join(first)
            ) from None


def _registered(land) -> bool:
    from . import LANDSCAPES

    return any(land is known for known in LANDSCAPES.values()) or (
        python_function(land.grad).__module__ or ""
    ).startswith("simdyn.landscapes")
