"""``Tail``: the last k states of every trajectory, for orbit and bifurcation diagrams.

A ring buffer of k states per trajectory is written every step (row t mod k, the same for every
trajectory, so the CPU loop stays vectorised); ``finalize`` unrolls it in time order. Memory is
8·k·d bytes per trajectory, independent of the number of steps.
"""

from __future__ import annotations

import numbers

from ._ring import ring_row, unroll
from .base import Observer


def tail_init_array(w, q, o, buf):
    """Array form of ``init``: w_0 into row 0 of the trajectory's (k, d) ring ``buf``."""
    for k in range(w.shape[0]):
        buf[0, k] = w[k]
    o[0] = 0.0


def tail_update_array(o, t, w, w_prev, active, q, buf):
    """Array form of ``update``: w_t into row t mod k (every step, as the tuple form)."""
    row = ring_row(t, buf.shape[0])
    for k in range(w.shape[0]):
        buf[row, k] = w[k]
    o[0] = float(t)


class Tail(Observer):
    """The last ``k`` states w_{T−k+1} … w_T: ``sd.observe.Tail(k)``.

    Adds the variable ``tail`` with dims (…, ``tail_step``, ``coord``): ``tail[..., i, :]`` is
    w_{T−k+1+i}, so the last entry is the final point w_T (attribute ``last_step`` = T). When the
    run has fewer than k − 1 steps, the entries before step 0 are NaN.
    """

    name = "tail"

    def __init__(self, k: int = 64):
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
            raise ValueError(f"Tail(k): k must be an integer >= 1, got {k!r}")
        self.k = int(k)

    def slots(self, dim):
        return ("last_step",)

    def buffer(self, dim):
        return (self.k, dim)

    def attrs(self):
        return {"k": self.k}

    def array_functions(self):
        return tail_init_array, tail_update_array

    @staticmethod
    def init(w, q, buf, j):
        for k in range(len(w)):
            buf[0, k, j] = w[k]
        return (0.0,)

    @staticmethod
    def update(o, t, w, active, q, buf, j):
        row = ring_row(t, buf.shape[0])
        for k in range(len(w)):
            buf[row, k, j] = w[k]
        return (float(t),)

    def finalize(self, state, dim, buffer):
        t_end = int(state["last_step"].max()) if buffer.shape[2] else 0
        return {
            "tail": (("tail_step", "coord"), unroll(buffer, t_end),
                     {"long_name": "last states w_{T-k+1} ... w_T", "last_step": t_end}),
        }
