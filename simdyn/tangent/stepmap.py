"""The step map of one optimizer on one landscape, and its Jacobian–vector product.

The state of a trajectory is z = (w, s): the d parameters, then each optimizer slot for every
coordinate, slot-major (s₀ of coordinates 0 … d−1, then s₁ …), the layout the engine gives
observers that see the full state. One step at step t is, as the engine's kernel runs it,

    g = ∇L(w, p, t);   (w′_k, s′_k) = update(w_k, g_k, s_k, t, η, h, flags)  for every k;
    w′ = project(w′, p)  (landscapes with a projection)

so z′ = F_t(z). Its Jacobian–vector product J_t(z)·ż chains the forward-mode transforms
(:mod:`simdyn.tangent.forward`) of ``update`` (in w, g and s), of ``grad`` (in w: the
Hessian–vector product H(w)·ẇ) and of ``project``: ġ = H·ẇ, then per coordinate the update's
tangent, then the projection's. Nothing is differentiated by hand.

:class:`StepMap` generates both as plain scalar Python on tuples (``step(z, t, lr, h, p)`` and
``step_jvp(z, dz, t, lr, h, p)``), compiled by :func:`simdyn.engine.compile.compile_scalar` for
the CPU (``numba.njit``) or CUDA (``inline="always"`` device functions), so a kernel can fuse
them like the optimizer's own update.
"""

from __future__ import annotations

import linecache

from ..engine.compile import compile_scalar
from ..initial import coord_labels
from ..landscapes import get_landscape
from ..optimizers import get_optimizer
from .forward import jvp

#: Step used for the autonomous (t → ∞) form of a map: every βᵗ underflows to 0 in float64
#: (β ≤ 0.9999 gives βᵗ < 1e-300 long before), so bias corrections are exactly 1, NAdam's μ_t is
#: its limit and momentum's first-step branch is not taken.
T_INFINITY = 2**40

#: The largest state dimension d·(1 + slots) the generated tuple code accepts.
MAX_WIDTH = 64

_cache: dict[tuple, "StepMap"] = {}


def _tuple(items) -> str:
    items = list(items)
    if not items:
        return "()"
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


def _register(source: str, filename: str, namespace: dict) -> dict:
    """Execute generated ``source`` under ``filename`` (kept in linecache so inspect.getsource works)."""
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    local: dict = {}
    exec(compile(source, filename, "exec"), namespace, local)
    return local


class StepMap:
    """The step map z → z′ of ``optimizer`` on ``landscape`` with fixed ``flags``, and its JVP.

    Attributes: ``dim`` (d), ``n_slots``, ``width`` (d·(1 + n_slots), the length of z),
    ``labels`` (names of the components of z), the plain Python functions ``step_py`` and
    ``step_jvp_py``, and :meth:`compiled` for their numba versions.
    """

    def __init__(self, optimizer, landscape, flags: dict | None = None):
        self.optimizer = get_optimizer(optimizer)
        self.landscape = get_landscape(landscape) if isinstance(landscape, str) else landscape
        if getattr(self.landscape, "form", "tuple") == "array":
            raise ValueError(f"landscape {self.landscape.name!r}: tangent dynamics need a tuple-form landscape; "
                             "array-form landscapes (d > 8 for the quadratic) need a Hessian-vector product, not yet "
                             "available")
        flags = dict(flags or {})
        unknown = set(flags) - set(self.optimizer.flags)
        if unknown:
            raise ValueError(f"flags: unknown flags {sorted(unknown)} for {self.optimizer.name!r}; "
                             f"its flags are {list(self.optimizer.flags)}")
        self.flags = tuple(bool(flags.get(k, v)) for k, v in self.optimizer.flags.items())
        self.dim = self.landscape.dim
        self.n_slots = len(self.optimizer.slots)
        self.width = self.dim * (1 + self.n_slots)
        if self.width > MAX_WIDTH:
            raise ValueError(f"landscape: the state dimension d·(1 + slots) = {self.width} exceeds {MAX_WIDTH}, "
                             "the most the tuple-form step map supports")
        coords = coord_labels(self.dim)
        self.labels = tuple(coords) + tuple(f"{slot}_{c}" for slot in self.optimizer.slots for c in coords)
        self._build()

    def _build(self):
        d, n = self.dim, self.n_slots
        land = self.landscape
        update = self.optimizer.update
        namespace = {
            "grad": land.grad,
            "grad_jvp": jvp(land.grad, (True, False, False)),
            "update": update,
            "update_jvp": jvp(update, (True, True, True, False, False, False, False)),
            "FLAGS": self.flags,
        }
        if land.project is not None:
            namespace["project"] = land.project
            namespace["project_jvp"] = jvp(land.project, (True, False))
        w = [f"w_{k}" for k in range(d)]
        s = [f"s_{i}_{k}" for i in range(n) for k in range(d)]
        z = w + s
        lines = ["def step(z, t, lr, h, p):", f"    {_tuple(z)} = z", f"    {_tuple(f'g_{k}' for k in range(d))} = grad({_tuple(w)}, p, t)"]
        for k in range(d):
            lines.append(f"    n_{k}, u_{k} = update(w_{k}, g_{k}, {_tuple(f's_{i}_{k}' for i in range(n))}, t, lr, h, FLAGS)")
        if land.project is not None:
            lines.append(f"    {_tuple(f'n_{k}' for k in range(d))} = project({_tuple(f'n_{k}' for k in range(d))}, p)")
        out = [f"n_{k}" for k in range(d)] + [f"u_{k}[{i}]" for i in range(n) for k in range(d)]
        lines.append(f"    return {_tuple(out)}")
        lines += ["", "", "def step_jvp(z, dz, t, lr, h, p):",
                  f"    {_tuple(z)} = z", f"    {_tuple('d' + v for v in z)} = dz",
                  f"    r = grad_jvp({_tuple(w)}, p, t, {_tuple('d' + v for v in w)})",
                  f"    {_tuple(f'g_{k}' for k in range(d))} = r[0]",
                  f"    {_tuple(f'dg_{k}' for k in range(d))} = r[1]"]
        for k in range(d):
            slots = _tuple(f's_{i}_{k}' for i in range(n))
            dslots = _tuple(f'ds_{i}_{k}' for i in range(n))
            lines += [f"    r = update_jvp(w_{k}, g_{k}, {slots}, t, lr, h, FLAGS, dw_{k}, dg_{k}, {dslots})",
                      f"    n_{k}, u_{k} = r[0]", f"    dn_{k}, du_{k} = r[1]"]
        if land.project is not None:
            nn = _tuple(f'n_{k}' for k in range(d))
            lines += [f"    r = project_jvp({nn}, p, {_tuple(f'dn_{k}' for k in range(d))})",
                      f"    {nn} = r[0]", f"    {_tuple(f'dn_{k}' for k in range(d))} = r[1]"]
        dout = [f"dn_{k}" for k in range(d)] + [f"du_{k}[{i}]" for i in range(n) for k in range(d)]
        lines.append(f"    return {_tuple(out)}, {_tuple(dout)}")
        source = "\n".join(lines) + "\n"
        self.source = source
        tag = f"<simdyn.tangent step map {self.optimizer.name} on {land.name} flags={self.flags} #{id(self)}>"
        local = _register(source, tag, namespace)
        self.step_py = local["step"]
        self.step_jvp_py = local["step_jvp"]

    def compiled(self, target: str = "cpu", dtype: str = "float64"):
        """(step, step_jvp) compiled for ``target`` at ``dtype`` (memoised by compile_scalar)."""
        return compile_scalar(self.step_py, target, dtype), compile_scalar(self.step_jvp_py, target, dtype)

    def hyper_tuple(self, values: dict) -> tuple[float, tuple]:
        """(lr, h) from a dict of hyperparameter values (defaults where missing)."""
        merged = {**self.optimizer.defaults(), **values}
        return float(merged["lr"]), tuple(float(merged[k]) for k in self.optimizer.float_hypers)

    def initial_state(self, w, values: dict | None = None) -> tuple:
        """z₀ = (w, init(h) for every coordinate) for a point ``w`` (length d)."""
        _, h = self.hyper_tuple(values or {})
        s0 = self.optimizer.init(h)
        w = tuple(float(x) for x in w)
        return w + tuple(float(s0[i]) for i in range(self.n_slots) for _ in range(self.dim))


def step_map(optimizer, landscape, flags: dict | None = None) -> StepMap:
    """The memoised :class:`StepMap` of (optimizer, landscape, flags)."""
    opt = get_optimizer(optimizer)
    land = get_landscape(landscape) if isinstance(landscape, str) else landscape
    key = (opt.name, id(opt.update), land.name, id(land.grad), tuple(sorted((flags or {}).items())))
    if key not in _cache:
        _cache[key] = StepMap(opt, land, flags)
    return _cache[key]
