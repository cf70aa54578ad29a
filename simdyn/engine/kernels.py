"""Build, compile and cache one fused kernel per (optimizer, landscape, schedule, observers,
noise, dtype, target) combination.

The kernel is generated as source (:mod:`simdyn.engine.codegen`) and executed in a namespace
holding the compiled pieces, so numba sees the optimizer, landscape and observer functions as
compile-time constants it can inline. Kernels live in an in-memory cache for the process; a
second run of the same combination compiles nothing (:func:`cache_info` counts builds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
from llvmlite import binding as llvm_binding

import numpy as np

from . import array_codegen, rng
from .codegen import ARGUMENTS, KernelLayout, cpu_source, cuda_source, loss_source
from .compile import compile_scalar, python_function
from .disk_cache import kernel_digest, load_cached

#: LLVM's loop vectoriser gives up on a loop that needs more than 128 runtime alias checks
#: between its arrays ("too many memory checks needed"); a kernel with a few observers has more
#: state rows than that allows, and ran 5x slower scalar. Raise the limit for every kernel.
LLVM_OPTIONS = ("-vectorize-memory-check-threshold=1024",)
for _option in LLVM_OPTIONS:
    llvm_binding.set_option("simdyn", _option)

_KERNELS: dict[tuple, object] = {}
_STATS = {"builds": 0, "hits": 0}


@dataclass
class KernelRequest:
    """The pieces of one kernel: compiled per target and precision."""

    optimizer: object
    flags: tuple
    landscape: object
    schedule: object
    observers: tuple
    layout: KernelLayout
    dtype: str
    target: str

    def cache_key(self) -> tuple:
        land = self.landscape
        return (
            python_function(self.optimizer.update),
            self.flags,
            python_function(land.grad),
            python_function(land.project) if land.project is not None else None,
            python_function(land.tile_grad) if getattr(land, "tile_grad", None) is not None else None,
            tuple(python_function(f) for f in _loss_pieces(self).values()),
            python_function(self.schedule.value),
            tuple(obs.cache_key(self.layout.dim) for obs in self.observers),
            self.layout,
            self.dtype,
            self.target,
        )


def _namespace(req: KernelRequest) -> dict:
    target, dtype = req.target, req.dtype
    ns = {
        "grad": compile_scalar(req.landscape.grad, target, dtype),
        "update": compile_scalar(req.optimizer.update, target, dtype),
        "schedule": compile_scalar(req.schedule.value, target, dtype),
        "FLAGS": req.flags,
        "INF": math.inf,
        "DT": numba.float32 if dtype == "float32" else numba.float64,
        "FT": numba.int32 if dtype == "float32" else numba.int64,  # frozen codes: lanes as wide as DT's
        "prange": numba.prange,
        "U64": numba.uint64,
        "I64": numba.int64,
    }
    if req.landscape.project is not None:
        ns["project"] = compile_scalar(req.landscape.project, target, dtype)
    if req.layout.form == "array":
        ns["np"] = np
        ns["DTYPE"] = np.float32 if dtype == "float32" else np.float64
        ns["NAN"] = math.nan
        if req.layout.tile_grad and target == "cpu":
            ns["tile_grad"] = compile_scalar(req.landscape.tile_grad, target, dtype)
            ns["TILE_ROWS"] = array_codegen.TILE_ROWS
    for name, func in _loss_pieces(req).items():
        if name != "tile_value_grad" or target == "cpu":
            ns[name] = compile_scalar(func, target, dtype)
    if req.layout.noise:
        ns["normal_pair"] = compile_scalar(rng.normal_pair, target, "float64")
    if any(req.layout.observer_tangent):
        ns.update({name: compile_scalar(func, target, dtype) for name, func in _tangent_pieces(req).items()})
        ns["math"] = math
        ns["np"] = np
    for m, functions in enumerate(_observer_functions(req)):
        if functions is None:  # a tangent observer: advanced by the generated step itself
            continue
        init, update = functions
        ns[f"observer_init_{m}"] = compile_scalar(init, target, "float64")
        ns[f"observer_update_{m}"] = compile_scalar(update, target, "float64")
    if target == "cuda":
        from numba import cuda

        ns["cuda"] = cuda
    return ns


def _loss_pieces(req: KernelRequest) -> dict:
    """The landscape functions a kernel with a loss-seeing observer calls besides ``grad``
    (:func:`simdyn.engine.array_codegen.single_gradient`): ``loss``, ``value_grad`` and/or
    ``tile_value_grad``; empty when no observer sees the loss."""
    layout, land = req.layout, req.landscape
    if not any(layout.observer_sees_loss):
        return {}
    pieces = {"loss": land.loss}
    if layout.value_grad:
        pieces["value_grad"] = land.value_grad
    if layout.tile_value_grad:
        pieces["tile_value_grad"] = land.tile_value_grad
    return pieces


def _observer_functions(req: KernelRequest) -> list:
    """(init, update) of each observer: the tuple functions, or on an array-form landscape
    ``array_functions()`` (see :mod:`simdyn.observe.base`); None for a tangent observer, which
    the generated step advances itself."""
    if req.layout.form == "array":
        return [obs.array_functions() for obs in req.observers]
    return [None if getattr(obs, "tangent", False) else (type(obs).init, type(obs).update) for obs in req.observers]


def _tangent_pieces(req: KernelRequest) -> dict:
    """The forward-mode JVPs (:func:`simdyn.tangent.forward.jvp`) of the gradient (in w: the
    Hessian–vector product), of the update (in w, g and the slots) and of the projection (in w),
    for a kernel with a tangent observer."""
    from ..tangent.forward import jvp

    land = req.landscape
    pieces = {"grad_jvp": jvp(land.grad, (True, False, False)),
              "update_jvp": jvp(req.optimizer.update, (True, True, True, False, False, False, False))}
    if land.project is not None:
        pieces["project_jvp"] = jvp(land.project, (True, False))
    return pieces


def kernel_source(req: KernelRequest) -> str:
    if req.layout.form == "array":
        return array_codegen.cpu_source(req.layout) if req.target == "cpu" else array_codegen.cuda_source(req.layout)
    return cpu_source(req.layout) if req.target == "cpu" else cuda_source(req.layout)


def python_kernel(req: KernelRequest):
    """The generated kernel as a plain Python function over compiled pieces (for compile_ptx)."""
    ns = _namespace(req)
    exec(compile(kernel_source(req), f"<simdyn kernel {req.optimizer.name}/{req.landscape.name}>", "exec"), ns)
    return ns["kernel"]


def get_kernel(req: KernelRequest):
    """The compiled kernel for ``req``, built on first use and cached for the process."""
    key = req.cache_key()
    kernel = _KERNELS.get(key)
    if kernel is not None:
        _STATS["hits"] += 1
        return kernel
    if req.target == "cpu":
        kernel = _disk_cached_kernel(req) or numba.njit(parallel=True, error_model="numpy")(python_kernel(req))
    else:
        from numba import cuda

        kernel = cuda.jit(python_kernel(req))
    _KERNELS[key] = kernel
    _STATS["builds"] += 1
    return kernel


def _disk_cached_kernel(req: KernelRequest):
    """The CPU kernel compiled from a file in the disk cache (None when it cannot be cached)."""
    source = kernel_source(req)
    pieces = {
        "grad": req.landscape.grad,
        "update": req.optimizer.update,
        "schedule": req.schedule.value,
        "project": req.landscape.project,
        "tile_grad": getattr(req.landscape, "tile_grad", None),
        "TILE_ROWS": array_codegen.TILE_ROWS,
        "NAN": math.nan,
        **_loss_pieces(req),
        "normal_pair": rng.normal_pair,
        "FLAGS": req.flags,
        **{f"observer_init_{m}": f[0] for m, f in enumerate(_observer_functions(req)) if f is not None},
        **{f"observer_update_{m}": f[1] for m, f in enumerate(_observer_functions(req)) if f is not None},
        **(_tangent_pieces(req) if any(req.layout.observer_tangent) else {}),
    }
    digest = kernel_digest(source, pieces, f"cpu {req.dtype} {LLVM_OPTIONS}")
    if digest is None:
        return None
    return load_cached(source, _namespace(req), digest, "kernel", parallel=True, error_model="numpy")


def cache_info() -> dict:
    """Kernel cache counters: ``builds`` (kernels generated) and ``hits`` (reused), and ``size``."""
    return {**_STATS, "size": len(_KERNELS)}


def clear_cache() -> None:
    _KERNELS.clear()


def get_loss_kernel(landscape, dim: int, n_params: int, dtype: str):
    """A CPU-parallel loop ``loss_kernel(W, P, n_ic, first, t, out)`` evaluating the landscape's loss
    at the trajectories ``first ≤ g < first + N`` of a batch (W (d, N); for an array-form
    landscape W (N, d), then the scratch size ``n_scratch`` and the data arrays after ``out``)."""
    array_form = getattr(landscape, "form", "tuple") == "array"
    scratch = getattr(landscape, "scratch", 0) > 0
    key = ("loss", python_function(landscape.loss), 0 if array_form else dim, n_params, dtype, array_form, scratch)
    kernel = _KERNELS.get(key)
    if kernel is None:
        source = array_codegen.loss_source(n_params, len(landscape.data), scratch) if array_form \
            else loss_source(dim, n_params)
        ns = {"loss": compile_scalar(landscape.loss, "cpu", dtype), "prange": numba.prange, "np": np}
        digest = kernel_digest(source, {"loss": landscape.loss}, f"loss {dtype} {LLVM_OPTIONS}")
        if digest is not None:
            kernel = load_cached(source, ns, digest, "loss_kernel", parallel=True, error_model="numpy")
        if kernel is None:
            exec(compile(source, f"<simdyn loss {landscape.name}>", "exec"), ns)
            kernel = numba.njit(parallel=True, error_model="numpy")(ns["loss_kernel"])
        _KERNELS[key] = kernel
    return kernel


def cuda_signature(req: KernelRequest) -> tuple:
    """The numba signature of the CUDA kernel of ``req``, built from :data:`codegen.ARGUMENTS`."""
    from numba import types

    element = {
        "real": types.float32 if req.dtype == "float32" else types.float64,
        "frozen": types.int32 if req.dtype == "float32" else types.int64,
        "f64": types.float64,
        "i64": types.int64,
    }

    def array_or_scalar(kind, ndim):
        if ndim == 0:
            return element[kind]
        return types.Array(element[kind], ndim, "C")

    arguments = tuple(array_or_scalar(kind, ndim) for _, kind, ndim in ARGUMENTS)
    if req.layout.form == "array":
        scratch = tuple(array_or_scalar(kind, ndim) for _, kind, ndim in array_codegen.SCRATCH)
        data = tuple(types.Array(element["real"], ndim, "C") for ndim in req.layout.data_ndims)
        arguments = arguments + scratch + data
    return arguments + tuple(types.Array(types.float64, 3, "C") for _ in req.layout.buffer_args())


def compile_ptx(req: KernelRequest, cc: tuple = (9, 0)) -> str:
    """PTX of the CUDA kernel of ``req`` for compute capability ``cc`` (no GPU needed).

    The CUDA simulator runs kernels as Python and cannot tell whether the CUDA compiler accepts
    them; this compiles the real kernel through NVVM.
    """
    from dataclasses import replace

    from numba import cuda

    cuda_req = replace(req, target="cuda")
    ptx, _ = cuda.compile_ptx(python_kernel(cuda_req), cuda_signature(cuda_req), cc=cc)
    return ptx

