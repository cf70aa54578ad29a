"""The registry of loss landscapes. Each lives in its own module as plain scalar Python.

``get_landscape(spec, params=None)`` resolves a registered name (case-insensitive) or passes an
:class:`Landscape` through; ``"quadratic"`` with an ``h`` entry in ``params`` builds
``quadratic(h)``, whose dimension follows h's shape. Landscapes built from arguments
(:data:`BUILDERS`, e.g. ``random_quadratic``) are named with their arguments,
``{"name": "random_quadratic", "d": 4, "eigenvalues": [...], "seed": 0}`` (in a study TOML,
``landscape = { name = "random_quadratic", ... }``); the files they make store these arguments
(attribute ``landscape_arguments``, and the ``landscape`` of ``simdyn_call``), so they rerun by name.
"""


from __future__ import annotations

import inspect

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


#: Landscapes built from arguments rather than registered once: name -> builder. Each built
#: landscape carries ``arguments`` (the builder's keyword arguments), which its files store.
BUILDERS = {"random_quadratic": random_quadratic}


def _build(spec: dict) -> Landscape:
    """The landscape ``{"name": <a BUILDERS name>, **arguments}`` describes."""
    arguments = dict(spec)
    name = arguments.pop("name", None)
    if not isinstance(name, str) or name.lower() not in BUILDERS:
        raise ValueError(f"landscape: a table names a landscape built from arguments, one of {', '.join(BUILDERS)}, "
                         f"as {{name = ..., <arguments>}}; got name {name!r}")
    builder = BUILDERS[name.lower()]
    try:
        inspect.signature(builder).bind(**arguments)
    except TypeError as exc:
        raise TypeError(f"landscape: {name} takes {_arguments(name)}: {exc}") from None
    return builder(**arguments)


def _arguments(name: str) -> str:
    return ", ".join(str(p) for p in inspect.signature(BUILDERS[name]).parameters.values())


def get_landscape(spec, params: dict | None = None) -> Landscape:
    """Resolve a registered name or pass a :class:`Landscape` through.

    For ``"quadratic"`` with ``params={"h": matrix}`` the landscape is built for that matrix
    (any d); other parameters are left to the caller (they are per-run values, not structure).
    A dict ``{"name": ..., **arguments}`` builds a landscape of :data:`BUILDERS`.
    """
    if isinstance(spec, Landscape):
        return spec
    if isinstance(spec, dict):
        return _build(spec)
    if isinstance(spec, str):
        key = spec.lower()
        if key in BUILDERS:
            raise ValueError(f"landscape: {spec!r} is built from arguments ({_arguments(key)}): pass "
                             f"{{'name': {spec!r}, ...}} (in a study: landscape = {{ name = \"{spec}\", ... }}) "
                             f"or sd.landscapes.{key}(...)")
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


__all__ = ["BUILDERS", "CriticalPoint", "LANDSCAPES", "Landscape", "deep_linear", "deep_linear_init", "get_landscape",
           "hessian_vector_product", "hvp_by_differences", "least_squares", "logistic_regression", "mlp",
           "mlp_init", "quadratic", "random_quadratic"]
