"""Observers of the loss along the run: ``LossTrace`` and ``Trainability``.

Both see the loss (``sees_loss``, :mod:`simdyn.observe.base`): at step t the engine passes
L(w_{t−1}), evaluated where step t's gradient is taken (with a landscape's ``value_grad`` in the
same pass as the gradient), so over T steps they see L(w_0) … L(w_{T−1}) — the losses a training
loop logs. Each keeps a flag ``running`` (1 until the engine freezes the trajectory as diverged or
non-finite): the loss passed at later steps is not a loss of the run.

``Trainability`` is the convergence measure of Sohl-Dickstein, "The boundary of neural network
trainability is fractal" (arXiv:2402.06184; reference code: the notebook of the GitHub
repository Sohl-Dickstein/fractal, ``convergence_measure``). With v_t = L(w_t), t = 0 … T−1:

    v_t ← cap             where v_t is not finite, or the run was frozen before step t + 1
    v_t ← min(v_t / v_0, cap)
    trainable           = mean(v_{T−window} … v_{T−1}) < 1     (all of v when T < window)
    trainability_score  = −Σ_t v_t  if trainable,  else  Σ_t 1/v_t

It is streamed: the first loss, Σv, Σ1/v and a ring of the last ``window`` values. The measure
assumes a positive loss (a ratio to L(w_0)).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ._ring import ring_row
from .base import Observer


def _running(o_running, active):
    """The ``running`` flag after a step: 1 until the first step the engine did not apply."""
    return o_running * (1.0 if active else 0.0)


def _ratio(loss, running, first, t, cap):
    """(v_t / v_0 capped at ``cap``, v_0) for the loss passed at step t (module docstring)."""
    value = loss if ((running > 0.5) & (abs(loss) < math.inf)) else cap
    first = value if t == 1 else first
    ratio = value / first
    return (cap if ratio > cap else ratio), first


def trainability_init(w, q, buf, j):
    """running, first loss, Σ ratio, Σ 1/ratio, losses seen."""
    return (1.0, 0.0, 0.0, 0.0, 0.0)


def trainability_update(o, t, w, active, q, loss, buf, j):
    """Take the loss at w_{t−1}: store its capped ratio in ring row (t − 1) mod window, add it
    and its inverse to the sums."""
    ratio, first = _ratio(loss, o[0], o[1], t, q[0])
    buf[ring_row(t - 1, buf.shape[0]), 0, j] = ratio
    return (_running(o[0], active), first, o[2] + ratio, o[3] + 1.0 / ratio, float(t))


def trainability_init_array(w, q, o, buf):
    """Array form of ``init``."""
    o[0] = 1.0
    o[1] = 0.0
    o[2] = 0.0
    o[3] = 0.0
    o[4] = 0.0


def trainability_update_array(o, t, w, w_prev, active, q, loss, buf):
    """Array form of ``update`` (the trajectory's (window, 1) ring ``buf``)."""
    ratio, first = _ratio(loss, o[0], o[1], t, q[0])
    buf[ring_row(t - 1, buf.shape[0]), 0] = ratio
    o[0] = _running(o[0], active)
    o[1] = first
    o[2] += ratio
    o[3] += 1.0 / ratio
    o[4] = float(t)


def _check_int(owner: str, name: str, value, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{owner}: {name} must be an integer >= {low}, got {value!r}")
    return int(value)


class Trainability(Observer):
    """The trainability paper's convergence measure (module docstring), per trajectory:
    ``sd.observe.Trainability(window=20, cap=1e6)``.

    Parameters
    ----------
    window : int ≥ 1
        Losses averaged at the end of the run to decide ``trainable`` (the reference's 20).
    cap : float > 0
        Value of a non-finite or diverged loss, and the largest loss ratio kept (the reference's
        ``max_val`` = 1e6). A run-time parameter: changing it does not recompile.

    Variables: ``trainable`` (int8, 1 iff the mean of the last ``window`` capped loss ratios is
    below 1) and ``trainability_score`` (−Σ ratio if trainable, else Σ 1/ratio: its sign marks
    the side of the trainable / untrainable boundary).
    """

    name = "trainability"
    sees_loss = True
    init = staticmethod(trainability_init)
    update = staticmethod(trainability_update)

    def __init__(self, window: int = 20, cap: float = 1e6):
        self.window = _check_int("Trainability", "window", window)
        if isinstance(cap, (bool, np.bool_)) or not isinstance(cap, (numbers.Real, np.floating)) \
                or not (np.isfinite(cap) and cap > 0):
            raise ValueError(f"Trainability: cap must be a finite number > 0, got {cap!r}")
        self.cap = float(cap)

    def slots(self, dim):
        return ("running", "first_loss", "ratio_sum", "inverse_ratio_sum", "losses_seen")

    def params(self, dim):
        return (self.cap,)

    def buffer(self, dim):
        return (self.window, 1)

    def attrs(self):
        return {"window": self.window, "cap": self.cap}

    def array_functions(self):
        return trainability_init_array, trainability_update_array

    def finalize(self, state, dim, buffer):
        seen = int(state["losses_seen"].max()) if state["losses_seen"].size else 0
        last = buffer[:max(1, min(seen, self.window)), 0, :]  # ring rows written (all once T ≥ window)
        trainable = np.mean(last, axis=0) < 1.0
        score = np.where(trainable, -state["ratio_sum"], state["inverse_ratio_sum"])
        return {
            "trainable": ((), trainable.astype(np.int8),
                          {"long_name": f"mean of the last {self.window} loss ratios L(w_t)/L(w_0) < 1",
                           "window": self.window, "cap": self.cap}),
            "trainability_score": ((), score,
                                   {"long_name": "-sum of loss ratios if trainable, else sum of inverse ratios "
                                                 "(Sohl-Dickstein 2024)", "cap": self.cap}),
        }


def loss_trace_init(w, q, buf, j):
    """running."""
    return (1.0,)


def loss_trace_update(o, t, w, active, q, loss, buf, j):
    """Store L(w_{t−1}) in row (t − 1)/every when every divides t − 1 (the same test for every
    trajectory of a step: the branch does not split the vectorised loop); NaN once frozen."""
    s = t - 1
    row = int(math.floor(float(s) / q[0]))
    if float(s) == row * q[0]:
        buf[row, 0, j] = loss if o[0] > 0.5 else math.nan
    return (_running(o[0], active),)


def loss_trace_init_array(w, q, o, buf):
    """Array form of ``init``."""
    o[0] = 1.0


def loss_trace_update_array(o, t, w, w_prev, active, q, loss, buf):
    """Array form of ``update`` (the trajectory's (records, 1) block ``buf``)."""
    s = t - 1
    row = int(math.floor(float(s) / q[0]))
    if float(s) == row * q[0]:
        buf[row, 0] = loss if o[0] > 0.5 else math.nan
    o[0] = _running(o[0], active)


class LossTrace(Observer):
    """The loss every ``every`` steps: ``sd.observe.LossTrace(every=k)``.

    Variable ``loss_trace`` with the extra dim ``loss_step``: entry i is L(w_{i·k}) for
    i·k ≤ T − 1, the loss at the point where step i·k + 1's gradient is taken (evaluated in the
    same pass as that gradient where the landscape allows; the final L(w_T) is the variable
    ``loss``); NaN once the trajectory is frozen as diverged or non-finite. The coordinate
    ``loss_step`` holds s = i·k, so ``ds.loss_trace.sel(loss_step=s)`` is L(w_s). Memory:
    8·⌈T/k⌉ bytes per trajectory.
    """

    name = "loss_trace"
    sees_loss = True
    init = staticmethod(loss_trace_init)
    update = staticmethod(loss_trace_update)

    def __init__(self, every: int = 1):
        self.every = _check_int("LossTrace", "every", every)
        self.steps: int | None = None

    def for_steps(self, steps: int) -> "LossTrace":
        bound = LossTrace(self.every)
        bound.steps = int(steps)
        return bound

    def slots(self, dim):
        return ("running",)

    def params(self, dim):
        return (float(self.every),)

    def buffer(self, dim):
        if self.steps is None:
            raise ValueError("LossTrace: the number of steps is set by the run (sd.simulate)")
        return (-(-self.steps // self.every), 1)

    def attrs(self):
        return {"every": self.every}

    def dim_coords(self, steps: int) -> dict:
        """``loss_step`` holds the step s = i·k of each entry (0, k, 2k, … ≤ T − 1)."""
        return {"loss_step": np.arange(-(-int(steps) // self.every), dtype=np.int64) * self.every}

    def array_functions(self):
        return loss_trace_init_array, loss_trace_update_array

    def finalize(self, state, dim, buffer):
        return {
            "loss_trace": (("loss_step",), np.moveaxis(buffer[:, 0, :], 0, -1),
                           {"long_name": f"loss L(w_s) at s = loss_step, every {self.every} steps (before step s + 1)",
                            "every": self.every}),
        }
