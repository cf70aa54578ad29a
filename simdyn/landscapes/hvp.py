"""Hessian–vector products of array-form landscapes: the exact one when given, else differences.

One calling convention for every array-form landscape (:func:`hessian_vector_product`):

    function(w, p, data, t, u, out, s)        out ← ∇²L(w)·u

``s`` is a scratch row of ``scratch`` floats (≥ 1) that the caller provides (a CUDA device
function cannot allocate): a landscape's own ``hvp`` receives the landscape's scratch row in it,
the difference fallback also its two work vectors. The function is plain Python; compile it
with the engine's ``compile_scalar`` for the CPU or CUDA like any landscape function.

Central differences (:func:`hvp_by_differences`), for a landscape without ``hvp``:

    ∇²L(w)·u ≈ [∇L(w + h·u) − ∇L(w − h·u)] / (2h),     h = ε^{1/3} · max(1, ‖w‖) / ‖u‖

(ε the machine epsilon of the precision the function is compiled for). The truncation error is
h²/6 · ∇³L[u, u, u]-sized and the rounding error ε·‖∇L‖/h-sized; the step balances the two, so
the relative error is of order ε^{2/3} times the ratio of those derivatives to ∇²L·u: about
1e-10 in float64 and 1e-5 in float32 on a well-scaled landscape (tested: within 1e-7 relative in
float64 on the models, tests/test_hvp.py). It costs two gradients. u = 0 gives 0.
"""

from __future__ import annotations

import linecache
import math
from dataclasses import dataclass
from typing import Callable

#: ε^{1/3} of float64 and of float32 (the step's scale; :func:`hvp_by_differences`).
CBRT_EPS64 = 2.0 ** (-52 / 3)
CBRT_EPS32 = 2.0 ** (-23 / 3)


@dataclass(frozen=True)
class HessianVectorProduct:
    """``function(w, p, data, t, u, out, s)`` (module docstring), the length ``scratch`` of the
    row ``s`` it needs, and whether it is the landscape's exact product."""

    function: Callable
    scratch: int
    exact: bool


_DIFFERENCES = '''
def hvp_differences(w, p, data, t, u, out, s):
    """Central difference of the gradient along u (simdyn.landscapes.hvp)."""
    d = w.shape[0]
    norm_u = 0.0
    norm_w = 0.0
    for k in range(d):
        norm_u += u[k] * u[k]
        norm_w += w[k] * w[k]
    norm_u = math.sqrt(norm_u)
    norm_w = math.sqrt(norm_w)
    if norm_u == 0.0:
        for k in range(d):
            out[k] = 0.0
        return
    # 1 + 1e-10 rounds to 1 in float32 only: the cube root of the compiled precision's epsilon.
    scale = CBRT64 if 1.0 + 1e-10 != 1.0 else CBRT32
    h = scale * max(1.0, norm_w) / norm_u
    shifted = s[0:d]
    minus = s[d:2 * d]
    for k in range(d):
        shifted[k] = w[k] + h * u[k]
    grad(shifted, p, data, t, out{rest})
    for k in range(d):
        shifted[k] = w[k] - h * u[k]
    grad(shifted, p, data, t, minus{rest})
    for k in range(d):
        out[k] = (out[k] - minus[k]) / (2.0 * h)
'''

_EXACT = '''
def hvp_exact(w, p, data, t, u, out, s):
    """The landscape's own Hessian–vector product (simdyn.landscapes.hvp)."""
    landscape_hvp(w, p, data, t, u, out{rest})
'''


def _generated(name: str, template: str, landscape, callee: str, fn) -> Callable:
    """A plain function from ``template`` calling ``fn`` as the global ``callee`` (so that the
    engine's compiler compiles it for the same target), with its source in :mod:`linecache`."""
    rest = ", s[{}:]".format("2 * d" if name == "hvp_differences" else "0") if landscape.scratch else ""
    source = template.format(rest=rest)
    filename = f"<simdyn.landscapes.hvp {name} {landscape.name} {id(fn):x}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {"math": math, callee: fn, "CBRT64": CBRT_EPS64, "CBRT32": CBRT_EPS32, "__name__": __name__}
    exec(compile(source, filename, "exec"), namespace)
    function = namespace[name]
    function.__module__ = __name__
    return function


def hvp_by_differences(landscape) -> HessianVectorProduct:
    """The central-difference Hessian–vector product of an array-form ``landscape`` (module
    docstring: step, accuracy), built from its ``grad``; needs 2d + landscape.scratch floats."""
    _check(landscape)
    return _cached(landscape, "differences", landscape.grad, lambda: HessianVectorProduct(
        _generated("hvp_differences", _DIFFERENCES, landscape, "grad", landscape.grad),
        2 * landscape.dim + landscape.scratch, exact=False))


def hessian_vector_product(landscape) -> HessianVectorProduct:
    """The landscape's exact ``hvp`` when it has one, else :func:`hvp_by_differences`, in the
    calling convention of the module docstring."""
    _check(landscape)
    if landscape.hvp is None:
        return hvp_by_differences(landscape)
    return _cached(landscape, "exact", landscape.hvp, lambda: HessianVectorProduct(
        _generated("hvp_exact", _EXACT, landscape, "landscape_hvp", landscape.hvp),
        max(1, landscape.scratch), exact=True))


def _cached(landscape, kind: str, source_function, build) -> HessianVectorProduct:
    """One generated function per landscape, kind and source function (so it compiles once)."""
    cache = landscape.__dict__.setdefault("_simdyn_hvp", {})
    key = (kind, source_function, landscape.scratch)
    if key not in cache:
        cache[key] = build()
    return cache[key]


def _check(landscape) -> None:
    if getattr(landscape, "form", None) != "array":
        raise TypeError(f"hessian_vector_product: landscape must be an array-form sd.Landscape, got "
                        f"{getattr(landscape, 'name', type(landscape).__name__)!r}")
