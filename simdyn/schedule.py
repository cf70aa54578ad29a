"""Learning-rate schedules: scalar functions of the step compiled into the kernel.

``hyper={"lr": sd.schedule.inverse_sqrt(0.1)}`` gives η_t = 0.1/√t. Every schedule is a plain
function ``value(t, q)`` of the 1-based step t and the tuple q of its parameters; each parameter
may be an array, which becomes a sweep dimension named after it (``lr`` for the base rate,
``lr_<name>`` for the others, e.g. ``lr_gamma``). Closed forms follow torch.optim.lr_scheduler
stepped once per optimizer step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np


def _constant(t, q):
    return q[0]


def _inverse_sqrt(t, q):
    return q[0] / math.sqrt(float(t))


def _exponential(t, q):
    return q[0] * q[1] ** float(t - 1)


def _step(t, q):
    return q[0] * q[2] ** float((t - 1) // int(q[1]))


def _cosine(t, q):
    return q[2] + (q[0] - q[2]) * (1.0 + math.cos(math.pi * float(t - 1) / q[1])) / 2.0


@dataclass(frozen=True)
class Schedule:
    """A learning-rate schedule: ``kind``, its compiled-in ``value(t, q)`` and its parameters."""

    kind: str
    value: Callable
    params: dict
    formula: str

    @property
    def param_names(self) -> tuple[str, ...]:
        """Sweep-dimension names of the parameters: ``lr`` for the base rate, ``lr_<name>`` else."""
        return tuple("lr" if k == "lr" else f"lr_{k}" for k in self.params)

    def __call__(self, t):
        """η_t evaluated in Python (vectorised over an array of steps), for plots and checks."""
        steps = np.atleast_1d(np.asarray(t, dtype=np.int64))
        q = tuple(float(np.ravel(v)[0]) for v in self.params.values())
        out = np.array([self.value(int(s), q) for s in steps])
        return out if np.ndim(t) else float(out[0])


def _check(kind: str, name: str, value, low: float, low_open: bool, high: float = math.inf):
    arr = np.asarray(value, dtype=float)
    if arr.ndim > 1 or arr.size == 0:
        raise ValueError(f"schedule.{kind}: {name} must be a scalar or a 1-D array")
    ok = (arr > low) if low_open else (arr >= low)
    ok &= arr <= high
    if not np.all(ok & np.isfinite(arr)):
        bracket = "(" if low_open else "["
        raise ValueError(f"schedule.{kind}: {name} must lie in {bracket}{low:g}, {high:g}], got {value!r}")
    return value


def constant(lr) -> Schedule:
    """η_t = lr."""
    return Schedule("constant", _constant, {"lr": _check("constant", "lr", lr, 0.0, True)}, "lr")


def inverse_sqrt(lr) -> Schedule:
    """η_t = lr/√t (the step size of Reddi et al. 2018's counterexample)."""
    return Schedule(
        "inverse_sqrt", _inverse_sqrt, {"lr": _check("inverse_sqrt", "lr", lr, 0.0, True)}, "lr/sqrt(t)"
    )


def exponential(lr, gamma) -> Schedule:
    """η_t = lr·γ^(t−1) (torch ExponentialLR)."""
    return Schedule(
        "exponential",
        _exponential,
        {"lr": _check("exponential", "lr", lr, 0.0, True), "gamma": _check("exponential", "gamma", gamma, 0.0, True)},
        "lr*gamma^(t-1)",
    )


def step(lr, step_size, gamma=0.1) -> Schedule:
    """η_t = lr·γ^⌊(t−1)/step_size⌋ (torch StepLR)."""
    _check("step", "step_size", step_size, 1.0, False)
    if not np.all(np.asarray(step_size) == np.floor(np.asarray(step_size, dtype=float))):
        raise ValueError(f"schedule.step: step_size must be a positive integer, got {step_size!r}")
    return Schedule(
        "step",
        _step,
        {
            "lr": _check("step", "lr", lr, 0.0, True),
            "step_size": step_size,
            "gamma": _check("step", "gamma", gamma, 0.0, True),
        },
        "lr*gamma^floor((t-1)/step_size)",
    )


def cosine(lr, t_max, eta_min=0.0) -> Schedule:
    """η_t = η_min + (lr − η_min)·(1 + cos(π(t−1)/T_max))/2 (torch CosineAnnealingLR, closed form)."""
    return Schedule(
        "cosine",
        _cosine,
        {
            "lr": _check("cosine", "lr", lr, 0.0, True),
            "t_max": _check("cosine", "t_max", t_max, 0.0, True),
            "eta_min": _check("cosine", "eta_min", eta_min, 0.0, False),
        },
        "eta_min + (lr-eta_min)*(1+cos(pi*(t-1)/t_max))/2",
    )


SCHEDULES = {
    "constant": constant,
    "inverse_sqrt": inverse_sqrt,
    "exponential": exponential,
    "step": step,
    "cosine": cosine,
}


def as_schedule(lr) -> Schedule:
    """A Schedule from a number/array (constant) or a Schedule."""
    if isinstance(lr, Schedule):
        return lr
    if isinstance(lr, (str, bytes, bool)) or lr is None:
        raise TypeError(f"hyper['lr']: expected a number, an array or an sd.schedule, got {lr!r}")
    arr = np.asarray(lr)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"hyper['lr']: expected a number, an array or an sd.schedule, got {lr!r}")
    if arr.ndim > 1 or arr.size == 0 or not np.all(np.isfinite(arr)) or not np.all(arr > 0):
        raise ValueError(f"lr must be > 0 (a scalar or a 1-D array), got {lr!r}")
    return constant(lr)
