"""The batched power-iteration kernel of :class:`simdyn.observe.Sharpness`, and its run.

Between segments of the time loop that end at multiples of k, :class:`SharpnessProbe` takes the
current points W and optimizer slots S of a launch and runs one kernel over its trajectories:
per trajectory, ``iterations`` steps of power iteration on A = D·H·D (H = ∇²L(w_t), D the
diagonal P_t^{−1/2} of the optimizer's preconditioner, or 1) warm-started from the vector the
previous measurement left in V, writing the Rayleigh quotient into the series
(:mod:`simdyn.observe.sharpness` gives the definitions). The kernel's source is generated (the
tuple form builds d-tuples) and compiled for the CPU (``prange`` over trajectories) or CUDA
(one thread per trajectory); the per-trajectory body is the same text for both. On the CPU, an
array-form landscape with a ``tile_grad``, no ``hvp`` and no parameters takes its central
differences through ``tile_grad`` on tiles of TILE_ROWS trajectories (the GEMM form the step
kernel uses: 1.3x faster per measurement than per-trajectory gradients on the 272-parameter
mlp, scripts/bench_sharpness.py).

Arguments (float64, one row per trajectory): W (n, d) points, D (n, d) preconditioner factors,
V (n, d) the iterate (in/out), F (n,) frozen codes, P (n, params) landscape parameters, out (n,)
the sharpness, X, Y (n, d) work rows, t the step whose loss is differentiated (the landscape's
1-based t of the next step), iterations. Array form only: WP, GP, GM (n, d) rows of the central
difference, SC (n, max(1, scratch)) the landscape's scratch rows, then its data arrays D0, D1, ….
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .array_codegen import TILE_ROWS
from .compile import compile_scalar, python_function
from .disk_cache import kernel_digest, load_cached

#: Relative step h = CENTRAL_STEP·max(1, ‖w‖∞)/‖x‖∞ of the central-difference Hessian–vector
#: product: about ε_mach^(1/3), which balances its O(h²) truncation and O(ε_mach/h) rounding.
CENTRAL_STEP = 6e-6

_KERNELS: dict = {}

_TUPLE_BODY = """\
w = {w}
p = {p}
u = {u}
lam = math.nan
for it in range(iterations):
    x = {x}
    hx = grad_jvp(w, p, t, x)[1]
    z = {z}
    lam = {rayleigh}
    norm = math.sqrt({norm2})
    if norm > 0.0:
        u = {u_next}
{store_u}
if F[j] != 0:
    lam = math.nan
out[j] = lam
"""

_ARRAY_BODY = """\
w = W[j]
u = V[j]
x = X[j]
y = Y[j]
d = w.shape[0]
p = {p}
lam = math.nan
for it in range(iterations):
    for k in range(d):
        x[k] = D[j, k] * u[k]
{hvp}
    lam = 0.0
    norm2 = 0.0
    for k in range(d):
        z = D[j, k] * y[k]
        y[k] = z
        lam += u[k] * z
        norm2 += z * z
    norm = math.sqrt(norm2)
    if norm > 0.0:
        for k in range(d):
            u[k] = y[k] / norm
if F[j] != 0:
    lam = math.nan
out[j] = lam
"""

_EXACT_HVP = "    hvp(w, p, data, t, x, y{s})\n"

_CENTRAL_HVP = """\
    top = 1.0
    size = 0.0
    for k in range(d):
        top = max(top, abs(w[k]))
        size = max(size, abs(x[k]))
    h = CENTRAL_STEP * top / size if size > 0.0 else 1.0
    wp = WP[j]
    gp = GP[j]
    gm = GM[j]
    for k in range(d):
        wp[k] = w[k] + h * x[k]
    grad(wp, p, data, t, gp{s})
    for k in range(d):
        wp[k] = w[k] - h * x[k]
    grad(wp, p, data, t, gm{s})
    for k in range(d):
        y[k] = (gp[k] - gm[k]) / (2.0 * h)
"""


_TILE_KERNEL = """\
def sharpness_kernel(W, D, V, F, P, out, X, Y, t, iterations, WP, GP, GM, SC{data_args}):
    data = {data}
    p = ()
    n, d = W.shape
    for b in prange((n + TILE_ROWS - 1) // TILE_ROWS):
        lo = b * TILE_ROWS
        hi = min(n, lo + TILE_ROWS)
        wt = np.zeros((TILE_ROWS, d))
        gp = np.empty((TILE_ROWS, d))
        gm = np.empty((TILE_ROWS, d))
        step = np.empty(TILE_ROWS)
        lam = np.full(TILE_ROWS, math.nan)
        for it in range(iterations):
            for j in range(lo, hi):
                top = 1.0
                size = 0.0
                for k in range(d):
                    X[j, k] = D[j, k] * V[j, k]
                    top = max(top, abs(W[j, k]))
                    size = max(size, abs(X[j, k]))
                step[j - lo] = CENTRAL_STEP * top / size if size > 0.0 else 1.0
                for k in range(d):
                    wt[j - lo, k] = W[j, k] + step[j - lo] * X[j, k]
            tile_grad(wt, p, data, t, gp)
            for j in range(lo, hi):
                for k in range(d):
                    wt[j - lo, k] = W[j, k] - step[j - lo] * X[j, k]
            tile_grad(wt, p, data, t, gm)
            for j in range(lo, hi):
                h = step[j - lo]
                total = 0.0
                norm2 = 0.0
                for k in range(d):
                    z = D[j, k] * ((gp[j - lo, k] - gm[j - lo, k]) / (2.0 * h))
                    Y[j, k] = z
                    total += V[j, k] * z
                    norm2 += z * z
                lam[j - lo] = total
                norm = math.sqrt(norm2)
                if norm > 0.0:
                    for k in range(d):
                        V[j, k] = Y[j, k] / norm
        for j in range(lo, hi):
            out[j] = lam[j - lo] if F[j] == 0 else math.nan
"""


def _tuple(items) -> str:
    return "(" + "".join(f"{item}, " for item in items) + ")"


def kernel_source(form: str, dim: int, n_params: int, n_data: int, exact_hvp: bool, scratch: bool, target: str) -> str:
    """The source of ``sharpness_kernel`` (module docstring) for one landscape shape and target."""
    p = _tuple(f"P[j, {i}]" for i in range(n_params))
    if form == "tile":
        data = [f"D{i}" for i in range(n_data)]
        return _TILE_KERNEL.format(data_args="".join(f", {name}" for name in data), data=_tuple(data))
    if form == "tuple":
        r = range(dim)
        body = _TUPLE_BODY.format(
            w=_tuple(f"W[j, {i}]" for i in r), p=p, u=_tuple(f"V[j, {i}]" for i in r),
            x=_tuple(f"D[j, {i}] * u[{i}]" for i in r), z=_tuple(f"D[j, {i}] * hx[{i}]" for i in r),
            rayleigh=" + ".join(f"u[{i}] * z[{i}]" for i in r), norm2=" + ".join(f"z[{i}] * z[{i}]" for i in r),
            u_next=_tuple(f"z[{i}] / norm" for i in r),
            store_u="\n".join(f"V[j, {i}] = u[{i}]" for i in r))
        extra = ""
    else:
        s = ", SC[j]" if scratch else ""
        hvp = _EXACT_HVP.format(s=s) if exact_hvp else _CENTRAL_HVP.format(s=s)
        body = _ARRAY_BODY.format(p=p, hvp=hvp.rstrip("\n"))
        data = [f"D{i}" for i in range(n_data)]
        extra = ", WP, GP, GM, SC" + "".join(f", {name}" for name in data)
        body = f"data = {_tuple(data)}\n" + body
    head = f"def sharpness_kernel(W, D, V, F, P, out, X, Y, t, iterations{extra}):\n"
    if target == "cpu":
        lines = ["for j in prange(W.shape[0]):"] + ["    " + line for line in body.splitlines()]
    else:
        lines = ["j = cuda.grid(1)", "if j < W.shape[0]:"] + ["    " + line for line in body.splitlines()]
    return head + "".join(f"    {line}\n" for line in lines)


def uses_tiles(landscape, n_params: int, target: str) -> bool:
    """The CPU central difference through the landscape's ``tile_grad`` (TILE_ROWS trajectories
    per call, as the step kernel): an array-form landscape without ``hvp``, with a tile
    gradient and no parameters (a tile's trajectories then share every argument)."""
    return (target == "cpu" and landscape.form == "array" and landscape.hvp is None
            and landscape.tile_grad is not None and n_params == 0)


def _shape(landscape, n_params: int, target: str) -> tuple:
    array_form = landscape.form == "array"
    form = "tile" if uses_tiles(landscape, n_params, target) else "array" if array_form else "tuple"
    return (form, 0 if array_form else landscape.dim, n_params,
            len(landscape.data) if array_form else 0, array_form and landscape.hvp is not None,
            bool(getattr(landscape, "scratch", 0)), target)


def _pieces(landscape, n_params: int, target: str) -> dict:
    """The plain functions the kernel calls, by name."""
    if uses_tiles(landscape, n_params, target):
        return {"tile_grad": landscape.tile_grad}
    if landscape.form == "tuple":
        from ..tangent.forward import jvp

        return {"grad_jvp": jvp(landscape.grad, (True, False, False))}
    if landscape.hvp is not None:
        return {"hvp": landscape.hvp}
    return {"grad": landscape.grad}


def python_kernel(landscape, n_params: int, target: str):
    """The kernel as a plain Python function over compiled pieces (for the CPU jit, CUDA, PTX)."""
    source = kernel_source(*_shape(landscape, n_params, target))
    ns = _namespace(landscape, n_params, target)
    exec(compile(source, f"<simdyn sharpness {landscape.name}>", "exec"), ns)
    return ns["sharpness_kernel"]


def _namespace(landscape, n_params: int, target: str) -> dict:
    ns = {name: compile_scalar(f, target, "float64") for name, f in _pieces(landscape, n_params, target).items()}
    ns.update(math=math, np=np, prange=numba.prange, CENTRAL_STEP=CENTRAL_STEP, TILE_ROWS=TILE_ROWS)
    if target == "cuda":
        from numba import cuda

        ns["cuda"] = cuda
    return ns


def get_kernel(landscape, n_params: int, target: str):
    """The compiled kernel for ``landscape`` on ``target``, built on first use and cached."""
    shape = _shape(landscape, n_params, target)
    pieces = _pieces(landscape, n_params, target)
    key = (tuple(python_function(f) for f in pieces.values()), shape)
    kernel = _KERNELS.get(key)
    if kernel is not None:
        return kernel
    if target == "cpu":
        source = kernel_source(*shape)
        digest = kernel_digest(source, {**pieces, "CENTRAL_STEP": CENTRAL_STEP, "TILE_ROWS": TILE_ROWS},
                               "sharpness cpu float64")
        if digest is not None:
            kernel = load_cached(source, _namespace(landscape, n_params, target), digest, "sharpness_kernel",
                                 parallel=True, error_model="numpy")
        if kernel is None:
            kernel = numba.njit(parallel=True, error_model="numpy")(python_kernel(landscape, n_params, target))
    else:
        from numba import cuda

        kernel = cuda.jit(python_kernel(landscape, n_params, target))
    _KERNELS[key] = kernel
    return kernel


def cuda_signature(landscape, n_params: int) -> tuple:
    """The numba signature of the CUDA kernel (for ``compile_ptx``)."""
    from numba import types

    rows = types.Array(types.float64, 2, "C")
    signature = (rows, rows, rows, types.Array(types.int64, 1, "C"), rows, types.Array(types.float64, 1, "C"),
                 rows, rows, types.int64, types.int64)
    if landscape.form == "array":
        signature += (rows, rows, rows, rows)
        signature += tuple(types.Array(types.float64, a.ndim, "C") for a in landscape.data_arrays)
    return signature


def compile_ptx(landscape, n_params: int, cc: tuple = (9, 0)) -> str:
    """PTX of the CUDA sharpness kernel for compute capability ``cc`` (no GPU needed)."""
    from numba import cuda

    ptx, _ = cuda.compile_ptx(python_kernel(landscape, n_params, "cuda"), cuda_signature(landscape, n_params), cc=cc)
    return ptx


def start_vector(dim: int) -> np.ndarray:
    """The first iterate of every trajectory: a fixed pseudo-random unit vector (seed 0), so a
    trajectory's series does not depend on the chunk it runs in."""
    u = np.random.default_rng(0).standard_normal(dim)
    return u / np.linalg.norm(u)


def per_coordinate_hypers(hypers: np.ndarray, combos: np.ndarray, n_float: int, groups: tuple, dim: int) -> tuple:
    """The optimizer's float hyperparameters of each trajectory as arrays broadcasting with (n, d):
    (n, 1) columns, or (n, d) when the coordinates form groups with their own values (H holds
    ``n_float`` rows per group, group after group)."""
    if not groups:
        return tuple(hypers[i, combos][:, None] for i in range(n_float))
    out = []
    for i in range(n_float):
        full = np.empty((combos.size, dim))
        for g, (lo, hi) in enumerate(groups):
            full[:, lo:hi] = hypers[g * n_float + i, combos][:, None]
        out.append(full)
    return tuple(out)


class SharpnessProbe:
    """One launch's sharpness series: ``measure(t, W, S, F)`` after step t with the launch's
    state as (n, d) rows, (slots, n, d) and (n,) arrays in column order; ``series`` is the
    (measurements, n) result."""

    def __init__(self, observer, request, inputs, columns: np.ndarray):
        land = request.landscape
        self.observer = observer
        self.landscape = land
        self.target = request.target
        self.n_params = inputs.params.shape[0]
        n, d = columns.size, land.dim
        combos = columns // inputs.x0.shape[0]
        self.params = np.ascontiguousarray(inputs.params[:, combos].T, dtype=np.float64)
        if self.params.shape[1] == 0:
            self.params = np.zeros((n, 1))
        self.preconditioner = None
        if observer.preconditioned:
            opt = request.optimizer
            self.preconditioner = opt.preconditioner
            self.flags = request.flags
            self.hypers = per_coordinate_hypers(inputs.hypers, combos, len(opt.float_hypers), request.layout.groups, d)
        self.series = np.full((observer.series_length(inputs.steps), n), np.nan)
        self.kernel = get_kernel(land, self.n_params, self.target)
        self.tiles = uses_tiles(land, self.n_params, self.target)
        rows = {"V": np.repeat(start_vector(d)[None, :], n, axis=0),
                "X": np.zeros((n, d)), "Y": np.zeros((n, d)), "out": np.zeros(n)}
        if land.form == "array":
            for name in ("WP", "GP", "GM"):
                rows[name] = np.zeros((n, d) if land.hvp is None and not self.tiles else (1, 1))
            rows["SC"] = np.zeros((n, max(1, getattr(land, "scratch", 0))))
            self.data = tuple(np.ascontiguousarray(a, dtype=np.float64) for a in land.data_arrays)
        else:
            self.data = ()
        if self.target == "cuda":
            from numba import cuda

            rows = {name: cuda.to_device(a) for name, a in rows.items()}
            self.data = tuple(cuda.to_device(a) for a in self.data)
            self.params = cuda.to_device(self.params)
        self.rows = rows

    def factors(self, t: int, S: np.ndarray) -> np.ndarray:
        """D = P_t^{−1/2} per coordinate (n, d); ones without preconditioning, NaN where P_t is not
        positive (t = 0, or a zero second moment with ε = 0)."""
        n, d = S.shape[1], S.shape[2]
        if self.preconditioner is None:
            return np.ones((n, d))
        if t == 0:
            return np.full((n, d), np.nan)
        diagonal = np.broadcast_to(self.preconditioner(tuple(S), t, self.hypers, self.flags), (n, d))
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.ascontiguousarray(np.where(diagonal > 0, 1.0 / np.sqrt(diagonal), np.nan))

    def measure(self, t: int, W: np.ndarray, S: np.ndarray, F: np.ndarray) -> None:
        """Record the sharpness at w_t (if t is a multiple of the observer's ``every``)."""
        if t % self.observer.every:
            return
        arrays = {"W": np.ascontiguousarray(W, dtype=np.float64), "D": self.factors(t, S),
                  "F": np.ascontiguousarray(F, dtype=np.int64)}
        rows = self.rows
        names = ["W", "D", "V", "F", "P", "out", "X", "Y"]
        if self.target == "cuda":
            from numba import cuda

            arrays = {name: cuda.to_device(a) for name, a in arrays.items()}
        values = {**arrays, **rows, "P": self.params}
        args = [values[name] for name in names] + [t + 1, self.observer.iterations]
        if self.landscape.form == "array":
            args += [values[name] for name in ("WP", "GP", "GM", "SC")] + list(self.data)
        if self.target == "cpu":
            if self.tiles:
                from threadpoolctl import threadpool_limits

                with threadpool_limits(limits=1, user_api="blas"):  # BLAS inside numba's threads
                    self.kernel(*args)
            else:
                self.kernel(*args)
            out = rows["out"]
        else:
            from numba import cuda

            n = W.shape[0]
            self.kernel[(n + 127) // 128, 128](*args)
            cuda.synchronize()
            out = rows["out"].copy_to_host()
        self.series[t // self.observer.every] = out
