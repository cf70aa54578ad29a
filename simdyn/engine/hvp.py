"""The Hessian–vector product the engine compiles for an array-form landscape.

:func:`array_hvp` is the one accessor observers use (e.g. a sharpness observer's power
iteration): the landscape's exact ``hvp`` when it declares one, else central differences of its
gradient, always as ``function(w, p, data, t, u, out, s)`` with a scratch row of ``scratch``
floats (:mod:`simdyn.landscapes.hvp` states the step and the accuracy of the fallback).
"""

from __future__ import annotations

from ..landscapes.hvp import HessianVectorProduct, hessian_vector_product


def array_hvp(landscape) -> HessianVectorProduct:
    """``HessianVectorProduct(function, scratch, exact)`` of an array-form ``landscape``:
    ``function(w, p, data, t, u, out, s)`` writes ∇²L(w)·u into out, ``s`` a (scratch,) row.
    Compile ``function`` with :func:`simdyn.engine.compile.compile_scalar` for either target."""
    return hessian_vector_product(landscape)


__all__ = ["HessianVectorProduct", "array_hvp"]
