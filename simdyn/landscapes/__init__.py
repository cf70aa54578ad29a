"""The registry of loss landscapes. Each lives in its own module as plain scalar Python.

``get_landscape(spec, params=None)`` resolves a registered name (case-insensitive) or passes an
:class:`Landscape` through; ``"quadratic"`` with an ``h`` entry in ``params`` builds
``quadratic(h)``, whose dimension follows h's shape.
"""

from __future__ import annotations

from . import double_well, himmelblau, plateau, reddi, rosenbrock, saddle, sharp_valley, valley
from . import quadratic as _quadratic_module
from .base import CriticalPoint, Landscape
from .hvp import hessian_vector_product, hvp_by_differences
from .models import (deep_linear, deep_linear_init, least_squares, logistic_regression, mlp, mlp_init,
                     random_quadratic)
from .quadratic import quadratic

LANDSCAPES: dict[str, Landscape] = {
    ls.name: ls
    for ls in (
        _quadratic_module.LANDSCAPE,
        valley.LANDSCAPE,
        sharp_valley.LANDSCAPE,
        saddle.LANDSCAPE,
        rosenbrock.LANDSCAPE,
        himmelblau.LANDSCAPE,
        double_well.LANDSCAPE,
        plateau.LANDSCAPE,
        reddi.LANDSCAPE,
    )
}


def get_landscape(spec, params: dict | None = None) -> Landscape:
    """Resolve a registered name or pass a :class:`Landscape` through.

    For ``"quadratic"`` with ``params={"h": matrix}`` the landscape is built for that matrix
    (any d); other parameters are left to the caller (they are per-run values, not structure).
    """
    if isinstance(spec, Landscape):
        return spec
    if isinstance(spec, str):
        key = spec.lower()
        if key not in LANDSCAPES:
            raise ValueError(
                f"landscape: unknown name {spec!r}; known landscapes: {', '.join(LANDSCAPES)}"
            )
        if key == "quadratic" and params and params.get("h") is not None:
            return quadratic(params["h"])
        return LANDSCAPES[key]
    raise TypeError(
        f"landscape: expected a registered name or an sd.Landscape, got {type(spec).__name__}"
    )


__all__ = ["CriticalPoint", "LANDSCAPES", "Landscape", "deep_linear", "deep_linear_init", "get_landscape",
           "hessian_vector_product", "hvp_by_differences", "least_squares", "logistic_regression", "mlp",
           "mlp_init", "quadratic", "random_quadratic"]
