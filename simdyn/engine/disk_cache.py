"""On-disk caching of the generated CPU kernels, so a new process (a CLI run, a dask worker)
loads a kernel compiled before instead of compiling it again.

numba caches only functions that live in a file, and keys its cache on that file. The kernel
source is therefore written to ``<cache dir>/kernels/k_<digest>.py`` and compiled from there with
``cache=True``. The digest covers everything the machine code depends on: the kernel source,
the target and precision, the numba and simdyn versions, and — recursively, through every
global they call — the source code and constants of the optimizer, landscape, schedule,
observer and RNG functions, with the module each of them lives in. Any change to any of them
gives a new file, so a stale kernel is never loaded; and a kernel built from ``mod_a.grad`` is
never loaded for an identical ``mod_b.grad`` (numba's cached code refers to the module of every
function it inlined, and re-imports it when it loads the entry: another program may not have
``mod_a``).

An entry that cannot be loaded all the same (a module that has since disappeared, a file
truncated by a crash, a numba upgrade that changed the format) is treated as missing: the kernel
is compiled again and the entry replaced, never an error. A piece without retrievable source (a lambda typed at a prompt) disables disk
caching for that kernel; it is then compiled in memory as usual.

Set ``SIMDYN_CACHE_DIR`` to move the cache (default ``$XDG_CACHE_HOME/simdyn`` or
``~/.cache/simdyn``) and ``SIMDYN_DISK_CACHE=0`` to switch it off.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import os
import sys
import tempfile
import types

import numba
import numpy as np
from numba.core.caching import FunctionCache

from .._version import __version__
from .compile import python_function


def cache_dir() -> str | None:
    """The kernel cache folder, or None when disk caching is off or the folder is not writable."""
    if os.environ.get("SIMDYN_DISK_CACHE", "1") in ("0", "false", "no", "off"):
        return None
    root = os.environ.get("SIMDYN_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "simdyn"
    )
    folder = os.path.join(root, "kernels")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:
        return None
    return folder if os.access(folder, os.W_OK) else None


def _value_digest(value, seen: set) -> str | None:
    """A stable description of a global a piece refers to, or None when there is none."""
    if isinstance(value, types.ModuleType):
        return "module:" + value.__name__
    if isinstance(value, (bool, int, float, complex, str, bytes, type(None), np.generic)):
        return f"{type(value).__name__}:{value!r}"
    if isinstance(value, tuple):
        parts = [_value_digest(v, seen) for v in value]
        return None if None in parts else "(" + ",".join(parts) + ")"
    if isinstance(value, numba.types.Type):
        return "numba:" + str(value)
    func = python_function(value)
    if isinstance(func, types.FunctionType):
        return function_digest(func, seen)
    if isinstance(value, type) and value.__module__ in ("numpy", "builtins"):
        return "type:" + value.__qualname__
    return None


def function_digest(func, seen: set | None = None) -> str | None:
    """sha256 over a function's source and, recursively, the globals it refers to."""
    func = python_function(func)
    seen = set() if seen is None else seen
    if func in seen:
        return "recursive:" + func.__qualname__
    seen.add(func)
    if func.__module__ not in sys.modules:
        return None  # runpy's "<run_path>" and the like: no later program can import it
    try:
        source = inspect.getsource(func)
    except (OSError, TypeError):
        return None
    digest = hashlib.sha256(f"{func.__module__}.{func.__qualname__}\n{source}".encode())
    # how it is compiled into its callers (simdyn.engine.compile) changes the machine code too
    digest.update(f"inline={getattr(func, 'simdyn_inline', False)},{getattr(func, 'simdyn_forceinline', False)};".encode())
    for name in sorted(set(func.__code__.co_names)):
        if name in func.__globals__:
            part = _value_digest(func.__globals__[name], seen)
            if part is None:
                return None
            digest.update(f"{name}={part};".encode())
    for cell in func.__closure__ or ():
        part = _value_digest(cell.cell_contents, seen)
        if part is None:
            return None
        digest.update(part.encode())
    return digest.hexdigest()


def kernel_digest(source: str, pieces: dict, extra: str) -> str | None:
    """The cache key of a generated kernel: its source, its pieces' digests, ``extra``."""
    digest = hashlib.sha256(f"{source}\n{extra}\nnumba {numba.__version__} simdyn {__version__}".encode())
    for name in sorted(pieces):
        part = _value_digest(pieces[name], set())
        if part is None:
            return None
        digest.update(f"{name}={part};".encode())
    return digest.hexdigest()[:32]


def load_cached(source: str, namespace: dict, digest: str, function_name: str, **jit_options):
    """``function_name`` from ``source`` written to the cache folder and compiled with
    ``numba.njit(cache=True, **jit_options)``; None when there is no usable cache folder."""
    folder = cache_dir()
    if folder is None:
        return None
    path = os.path.join(folder, f"k_{digest}.py")
    if not os.path.exists(path):
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".k_", suffix=".py")
        with os.fdopen(fd, "w") as f:
            f.write("# generated by simdyn; the names below are bound by simdyn before this runs\n" + source)
        os.replace(tmp, path)
    spec = importlib.util.spec_from_file_location(f"simdyn_kernel_{digest}", path)
    module = importlib.util.module_from_spec(spec)
    module.__dict__.update(namespace)
    spec.loader.exec_module(module)
    sys.modules[spec.name] = module  # numba's cache re-imports the module of a cached function
    dispatcher = numba.njit(**jit_options)(getattr(module, function_name))
    dispatcher._cache = RebuildingCache(dispatcher.py_func)  # what cache=True does, with this class
    return dispatcher


class RebuildingCache(FunctionCache):
    """numba's on-disk function cache, except that an entry that fails to load is a miss.

    numba loads an entry at the first call of each signature and lets any error through (a
    ``ModuleNotFoundError`` when the module of an inlined function is not importable here); a
    miss instead compiles the function and overwrites the entry.
    """

    def load_overload(self, sig, target_context):
        try:
            return super().load_overload(sig, target_context)
        except Exception:
            return None
