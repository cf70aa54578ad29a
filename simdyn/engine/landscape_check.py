"""Check a landscape's functions before any kernel is built, with errors that name it.

On the engine's side: landscapes are plain scalar Python and know no compiler."""

from __future__ import annotations

import numbers
import re

import numba
import numpy as np
from numba.core.errors import NumbaError

from .compile import compile_scalar, python_function


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real)


def _check_tuple(land, label, value, where):
    if not isinstance(value, tuple) or len(value) != land.dim:
        raise TypeError(
            f"landscape {land.name!r}: {label} must return a tuple of {land.dim} floats, got {value!r} {where}"
        )
    for k, item in enumerate(value):
        if not _is_real(item):
            raise TypeError(
                f"landscape {land.name!r}: {label} must return a tuple of {land.dim} floats, got {value!r}: "
                f"element {k} is a {type(item).__name__} {where}"
            )


def _check_compiled_type(land, label, compiled) -> None:
    """The return type numba inferred over every branch: a tuple of numbers (grad, project) or a
    number (loss). A branch the Python call did not take can return something else."""
    for signature in compiled.nopython_signatures:
        kind = signature.return_type
        items = getattr(kind, "types", None) if label != "loss" else (kind,)
        if items is None or not all(isinstance(item, (numba.types.Number, numba.types.Boolean)) for item in items):
            want = f"a tuple of {land.dim} floats" if label != "loss" else "a float"
            raise TypeError(f"landscape {land.name!r}: {label} must return {want}; numba types it as {kind}")


def check_landscape_compiles(land, w0, p, dtype: str) -> None:
    """Call grad/loss/project once in Python, then (user landscapes) compile them for the CPU.

    A function that raises, returns the wrong shape or something other than real numbers (in
    Python at the first point, or on any branch as numba types it), or that numba cannot compile
    gets a TypeError naming the landscape (instead of a typing error from deep inside a kernel).
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
        elif not _is_real(value):
            raise TypeError(f"landscape {land.name!r}: loss must return a float, got {value!r} {where}")
    if _registered(land):
        return  # simdyn's own landscapes are known to compile (tests/test_landscapes.py)
    cast = np.dtype(dtype).type
    typed_w = tuple(cast(x) for x in w)
    typed_p = tuple(cast(x) for x in params)
    for label, fn, args in pieces:
        typed_args = (typed_w, typed_p, 1) if label != "project" else (typed_w, typed_p)
        compiled = compile_scalar(fn, "cpu", dtype)
        try:
            compiled(*typed_args)
        except NumbaError as exc:
            first = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip().splitlines()[:6]
            raise TypeError(
                f"landscape {land.name!r}: numba cannot compile {label}(): " + " ".join(first)
            ) from None
        _check_compiled_type(land, label, compiled)


def _registered(land) -> bool:
    from ..landscapes import LANDSCAPES

    return any(land is known for known in LANDSCAPES.values()) or (
        python_function(land.grad).__module__ or ""
    ).startswith("simdyn.landscapes")
