"""The optimizer description the engine compiles.

An optimizer is a coordinate-wise update rule written once as plain scalar Python:

    update(w, g, s, t, lr, h, flags) -> (w_new, s_new)

``w`` and ``g`` are one coordinate of the parameter and its gradient, ``s`` the tuple of that
coordinate's state slots, ``t`` the 1-based step, ``lr`` the learning rate at step t (the
schedule is evaluated by the engine), ``h`` the tuple of the other float hyperparameters in
declaration order and ``flags`` the tuple of boolean variants (compile-time constants: the
engine bakes them into the kernel, so a branch on a flag costs nothing).

    init(h) -> s0

gives the initial state slots (they may depend on the hyperparameters, not on w). The engine compiles both with ``numba.njit`` for the CPU and
``numba.cuda.jit(device=True)`` for CUDA; nothing else about an optimizer is target-specific.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class Hyper:
    """A float hyperparameter: its default and the closed/open interval it must lie in."""

    default: float
    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False
    doc: str = ""
    integer: bool = False

    def describe_range(self) -> str:
        lo = "(" if self.low_open else "["
        hi = ")" if self.high_open else "]"
        return f"{lo}{self.low:g}, {self.high:g}{hi}"

    def contains(self, value: float) -> bool:
        if not math.isfinite(value) and not (math.isinf(value) and math.isinf(self.high)):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below


def learning_rate(default: float) -> Hyper:
    return Hyper(default, low=0.0, low_open=True, doc="learning rate (step size) η")


def decay_rate(default: float, doc: str) -> Hyper:
    """A β-like coefficient of an exponential moving average, in [0, 1)."""
    return Hyper(default, low=0.0, high=1.0, high_open=True, doc=doc)


def nonnegative(default: float, doc: str) -> Hyper:
    return Hyper(default, low=0.0, doc=doc)


@dataclass(frozen=True)
class Optimizer:
    """A registered update rule.

    ``hypers`` maps each float hyperparameter to its :class:`Hyper` spec; ``lr`` is always
    first and is passed to ``update`` separately (it may follow a schedule). ``flags`` maps
    each boolean variant to its default. ``slots`` names the per-coordinate state.
    ``preconditioner`` (adaptive methods) gives the diagonal preconditioner from the state.
    """

    name: str
    update: Callable
    init: Callable
    slots: tuple[str, ...]
    hypers: dict[str, Hyper]
    flags: dict[str, bool] = field(default_factory=dict)
    reference: str = ""
    formula: str = ""
    #: Adaptive methods: ``preconditioner(s, t, h, flags) -> P`` in NumPy, the diagonal of the
    #: preconditioner P_t of the step w_t = w_{t−1} − η·P_t⁻¹·(momentum of g) after step t, from
    #: the slot arrays ``s`` and float hyperparameters ``h`` (arrays broadcasting together).
    #: Used by ``sd.observe.Sharpness(preconditioned=True)``; None for non-adaptive methods.
    preconditioner: Callable | None = None
    #: ``specialize(values) -> update``: an update rule equal to ``update`` bit for bit when the
    #: float hyperparameters take ``values`` (name -> array of every value a launch uses), with
    #: the work those values make trivial left out (Adam without decay). The engine compiles it
    #: in place of ``update`` (:meth:`kernel_update`); it is part of the kernel's cache key, the
    #: values are not. None: ``update`` always.
    specialize: Callable | None = None
    #: Whether the update raises hyperparameters to the power t every step (bias corrections
    #: 1 − βᵗ). Such a power is one ``pow`` call per tile and step when the hyperparameter is a
    #: tile constant, and one per trajectory and step when it is read per trajectory, so the
    #: CPU tiling reads these hyperparameters per trajectory only for groups of one trajectory
    #: (:mod:`simdyn.engine.tiling`).
    step_powers: bool = False

    def kernel_update(self, values: dict) -> Callable:
        """The update rule the kernel compiles for the hyperparameter ``values`` (see ``specialize``)."""
        return self.update if self.specialize is None else self.specialize(values)

    def __post_init__(self):
        if next(iter(self.hypers)) != "lr":
            raise ValueError(f"optimizer {self.name!r}: 'lr' must be the first hyperparameter")

    @property
    def float_hypers(self) -> tuple[str, ...]:
        """Names of the float hyperparameters passed in ``h`` (everything but lr)."""
        return tuple(name for name in self.hypers if name != "lr")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.hypers) + tuple(self.flags)

    def defaults(self) -> dict:
        out = {name: spec.default for name, spec in self.hypers.items()}
        out.update(self.flags)
        return out

    def __repr__(self) -> str:
        return f"Optimizer({self.name!r}, hypers={self.defaults()})"
