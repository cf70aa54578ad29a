"""Observers whose ``init``/``update`` are generated as source for one dimension d.

Numba cannot build a tuple whose length depends on a loop, so an observer with per-coordinate
state (an exit point, a previous position, a per-coordinate maximum) writes its scalar functions
as text for the d at hand, the pattern of :mod:`simdyn.landscapes.quadratic`. The functions are
compiled once per key (the observer type and whatever shapes its source: d, the norm, the number
of targets) and cached, so a second run with the same shape finds the same function objects and
the engine's kernel cache hits. The source is registered with :mod:`linecache` so tracebacks and
``inspect.getsource`` show it.

A :class:`GeneratedObserver` holds the user's settings; :meth:`GeneratedObserver.bind` (called
by the engine with the landscape) returns a copy whose class carries the generated
``init``/``update`` as static methods.
"""

from __future__ import annotations

import copy
import linecache
import math

from .base import Observer

_CLASSES: dict[tuple, type] = {}


def compile_functions(key: tuple, source: str) -> dict:
    """Execute generated ``source`` (defining ``init`` and ``update``) once per ``key``."""
    filename = f"<simdyn.observe {' '.join(map(str, key))}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {"math": math, "__name__": __name__}
    exec(compile(source, filename, "exec"), namespace)
    return {name: namespace[name] for name in ("init", "update")}


def tuple_source(items: list[str]) -> str:
    """Python source of a tuple literal (one element keeps its trailing comma)."""
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


def unpack_source(d: int, prefix: str = "w") -> str:
    """``w0, w1, … = w`` for dimension d."""
    return ", ".join(f"{prefix}{k}" for k in range(d)) + ("," if d == 1 else "") + f" = {prefix}"


def _rebuild(base: type, state: dict, dim: int | None):
    """Unpickle a (bound) generated observer: regenerate its functions for ``dim`` in this process."""
    obj = base.__new__(base)
    obj.__dict__.update(state)
    return obj if dim is None else obj.specialize(dim)


class GeneratedObserver(Observer):
    """An observer whose compiled functions are generated per :meth:`source_key`.

    Subclasses implement ``source_key(dim)`` (a hashable tuple that determines the source) and
    ``source(dim)`` (Python text defining ``init(w, q)`` and ``update(o, t, w, active, q)``).
    """

    def source_key(self, dim: int) -> tuple:
        raise NotImplementedError

    def source(self, dim: int) -> str:
        raise NotImplementedError

    def check_dim(self, dim: int) -> None:
        """Raise ValueError when the settings do not fit a landscape of dimension ``dim``."""

    def bind(self, landscape, params: dict) -> Observer:
        self.check_dim(landscape.dim)
        return self.specialize(landscape.dim)

    def __reduce__(self):
        # A bound observer's class is generated at run time; pickle it (dask ships plans to its
        # workers) as its base class, settings and dimension, and regenerate it on the other side.
        return _rebuild, (getattr(type(self), "_generic", type(self)), dict(self.__dict__), getattr(type(self), "_dim", None))

    def specialize(self, dim: int) -> Observer:
        """A copy of this observer whose class holds ``init``/``update`` generated for ``dim``."""
        base = getattr(type(self), "_generic", type(self))
        key = (base.__name__, *self.source_key(dim))
        cls = _CLASSES.get(key)
        if cls is None:
            functions = compile_functions(key, self.source(dim))
            for fn in functions.values():
                fn.__qualname__ = f"{base.__name__}_{fn.__name__}_{'_'.join(map(str, key[1:]))}"
                fn.__module__ = base.__module__
            cls = type(base.__name__, (base,), {
                "init": staticmethod(functions["init"]),
                "update": staticmethod(functions["update"]),
                "_generic": base,
                "_dim": dim,
                "__module__": base.__module__,
                "__doc__": base.__doc__,
            })
            _CLASSES[key] = cls
        bound = copy.copy(self)
        bound.__class__ = cls
        return bound
