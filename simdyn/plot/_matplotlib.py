"""matplotlib for the plot functions, with an install hint instead of a bare import error."""

from __future__ import annotations


def pyplot():
    """``matplotlib.pyplot``; a ``ModuleNotFoundError`` that says how to get matplotlib (a core
    dependency of simdyn, so missing only from a broken or partial install) when it is absent."""
    try:
        import matplotlib.pyplot as plt
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            "simdyn.plot needs matplotlib, a dependency of simdyn that is missing from this environment: "
            "pip install matplotlib (or reinstall simdyn: pip install simdyn)",
            name="matplotlib",
        ) from exc
    return plt
