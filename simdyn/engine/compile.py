"""Compile one plain-Python scalar function for a target and a precision.

The optimizers, landscapes, schedules, observers and the random generator are written once as
plain Python. :func:`compile_scalar` turns such a function into a ``numba.njit`` function (CPU)
or a ``numba.cuda.jit(device=True, inline="always")`` device function (CUDA), after

* recompiling, recursively and for the same target, every plain-Python function (or numba
  dispatcher) it calls through a global name, so helpers are written once too;
* for float32, replacing its float literals by float32 constants and ``float(x)`` by
  ``np.float32(x)``: numba types ``x * 2.0`` as float64 when x is float32, which would silently
  run a float32 study in float64.

A function with the attribute ``simdyn_inline = True`` is inlined into its callers on the CPU
too (``numba.njit(inline="always")``, numba's IR inlining): a loop that calls it can then
vectorise, which a call, even one LLVM inlines later, prevents (measured 8× on
:func:`simdyn.landscapes.models._vector_tanh.vector_tanh`). A function with
``simdyn_forceinline = True`` is marked for LLVM to always inline (``numba.njit(forceinline=True)``):
LLVM otherwise keeps a call to a long function, and its per-step terms (powers βᵗ) are then
computed in every call instead of once per step outside the loop. The JVPs of
:mod:`simdyn.tangent.forward` carry it: NAdam's step JVP stayed a call, and the Lyapunov observer
cost 31× the plain kernel instead of 2–3× (numba's IR inlining of these functions trips its
parfor array analysis).
"""

from __future__ import annotations

import ast
import inspect
import textwrap
import types

import numba
import numpy as np

TARGETS = ("cpu", "cuda")

_compiled: dict[tuple, object] = {}


def python_function(func):
    """The plain Python function behind ``func`` (a numba dispatcher's ``py_func``)."""
    return getattr(func, "py_func", func)


def _is_scalar_function(obj) -> bool:
    return isinstance(python_function(obj), types.FunctionType) and (
        isinstance(obj, types.FunctionType) or hasattr(obj, "py_func")
    )


class _Float32Literals(ast.NodeTransformer):
    """Replace every float literal by a name bound to the same value as ``np.float32``, and
    ``float(x)`` by ``np.float32(x)``."""

    def __init__(self):
        self.constants: dict = {}

    def visit_Call(self, node):
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id == "float":
            self.constants["_simdyn_float32"] = np.float32
            node.func = ast.copy_location(ast.Name(id="_simdyn_float32", ctx=ast.Load()), node.func)
        return node

    def visit_Constant(self, node):
        if isinstance(node.value, float):
            name = f"_simdyn_f32_{len(self.constants)}"
            self.constants[name] = np.float32(node.value)
            return ast.copy_location(ast.Name(id=name, ctx=ast.Load()), node)
        return node


def _float32_source_variant(py, namespace: dict):
    """``py`` recompiled from its source with float32 literals, or None when it has no source."""
    if py.__code__.co_freevars:
        return None
    try:
        source = textwrap.dedent(inspect.getsource(py))
    except (OSError, TypeError):
        return None
    tree = ast.parse(source)
    fdef = tree.body[0]
    if not isinstance(fdef, ast.FunctionDef):
        return None
    fdef.decorator_list = []
    transformer = _Float32Literals()
    tree = ast.fix_missing_locations(transformer.visit(tree))
    if not transformer.constants:
        return None
    namespace.update(transformer.constants)
    code = compile(tree, filename=py.__code__.co_filename, mode="exec")
    local: dict = {}
    exec(code, namespace, local)
    return local[fdef.name]


def retarget(func, target: str, dtype: str):
    """A plain Python function equal to ``func`` whose callees are compiled for ``target``."""
    py = python_function(func)
    namespace = dict(py.__globals__)
    for name in py.__code__.co_names:
        obj = namespace.get(name)
        if obj is not None and obj is not py and _is_scalar_function(obj):
            namespace[name] = compile_scalar(obj, target, dtype)
    if dtype == "float32":
        variant = _float32_source_variant(py, namespace)
        if variant is not None:
            return variant
    return types.FunctionType(py.__code__, namespace, py.__name__, py.__defaults__, py.__closure__)


def prepared_count() -> int:
    """How many (function, target, precision) pieces :func:`compile_scalar` has prepared."""
    return len(_compiled)


def compile_scalar(func, target: str, dtype: str = "float64"):
    """``func`` compiled for ``target`` ("cpu" or "cuda") at precision ``dtype`` (memoised)."""
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    key = (python_function(func), target, dtype)
    if key not in _compiled:
        plain = retarget(func, target, dtype)
        if target == "cpu":
            inline = "always" if getattr(key[0], "simdyn_inline", False) else "never"
            forceinline = bool(getattr(key[0], "simdyn_forceinline", False))
            _compiled[key] = numba.njit(error_model="numpy", inline=inline, forceinline=forceinline)(plain)
        else:
            from numba import cuda

            _compiled[key] = cuda.jit(device=True, inline="always")(plain)
    return _compiled[key]
