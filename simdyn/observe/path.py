"""``PathLength`` and ``MaxStep``: how far a trajectory travels, and its largest single step.

Definitions (per trajectory, horizon T = ``steps``; a frozen trajectory's later steps are 0):

    path_length  = Σ_{t=0}^{T−1} ‖w_{t+1} − w_t‖₂
    displacement = ‖w_T − w_0‖₂                       (≤ path_length)
    max_step_k   = max_{0 ≤ t < T} |w_{t+1,k} − w_{t,k}|   per coordinate k (dim ``coord``)

``max_step`` is the quantity bounded by Proposition 1 of "Exploring the dynamics of Adam"
(|w_{t+1} − w_t| ≤ η·√β₂(1 − β₁)/√((1 − β₂)(β₂ − β₁²)) per coordinate, ≈ 7.27·η for the
defaults); ``displacement`` on a flat is the distance bounded by Proposition 2.
Both see the previous point (``sees_previous``: the engine passes w_t with w_{t+1}), so their
slots hold only what they accumulate; the displacement uses the engine's w_0 and w_T.
"""

from __future__ import annotations

import math

import numpy as np

from ._source import GeneratedObserver, tuple_source


def path_init_array(w, q, o):
    """Array form of ``init``: length 0."""
    o[0] = 0.0


def path_update_array(o, t, w, w_prev, active, q):
    """Array form of ``update``: adds ‖w_t − w_{t−1}‖₂ (|·| in 1-D, as the tuple form)."""
    d = w.shape[0]
    if d == 1:
        step = abs(w[0] - w_prev[0])
    else:
        squared = 0.0
        for k in range(d):
            s = w[k] - w_prev[k]
            squared += s * s
        step = math.sqrt(squared)
    o[0] = o[0] + step


def max_step_init_array(w, q, o):
    """Array form of ``init``: every maximum 0."""
    for k in range(w.shape[0]):
        o[k] = 0.0


def max_step_update_array(o, t, w, w_prev, active, q):
    """Array form of ``update``: o_k = max(o_k, |w_{t,k} − w_{t−1,k}|)."""
    for k in range(w.shape[0]):
        o[k] = max(o[k], abs(w[k] - w_prev[k]))


class PathLength(GeneratedObserver):
    """Length of the path Σ‖w_{t+1} − w_t‖₂ and the net displacement ‖w_T − w_0‖₂.

    Variables ``path_length`` and ``displacement``. One slot per trajectory: the length.
    """

    name = "path"
    sees_previous = True

    def slots(self, dim):
        return ("path_length",)

    def source_key(self, dim):
        return (dim,)

    def array_functions(self):
        return path_init_array, path_update_array

    def source(self, dim):
        steps = [f"s{k} = w{k} - p{k}" for k in range(dim)]
        length = "abs(s0)" if dim == 1 else f"math.sqrt({' + '.join(f's{k} * s{k}' for k in range(dim))})"
        body = "\n    ".join([_unpack_with_previous(dim), *steps, f"step = {length}"])
        return (
            "def init(w, q):\n"
            "    return (0.0,)\n"
            "\n\n"
            "def update(o, t, w, active, q):\n"
            f"    {body}\n"
            "    return (o[0] + step,)\n"
        )

    def finalize(self, state, dim):
        return {
            "path_length": ((), state["path_length"], {"long_name": "sum over t of ||w_{t+1} - w_t||_2"}),
            "displacement": ((), np.sqrt(np.sum((state["wT"] - state["w0"]) ** 2, axis=1)),
                             {"long_name": "||w_T - w_0||_2"}),
        }


class MaxStep(GeneratedObserver):
    """Largest single step per coordinate, max_t |w_{t+1,k} − w_{t,k}|: variable ``max_step`` (dim
    ``coord``), the quantity of Proposition 1. Slots: the maximum per coordinate (d)."""

    name = "max_step"
    sees_previous = True

    def slots(self, dim):
        return tuple(f"max_step_{k}" for k in range(dim))

    def source_key(self, dim):
        return (dim,)

    def array_functions(self):
        return max_step_init_array, max_step_update_array

    def source(self, dim):
        state = [f"max(o[{k}], abs(w{k} - p{k}))" for k in range(dim)]
        return (
            "def init(w, q):\n"
            f"    return {tuple_source(['0.0'] * dim)}\n"
            "\n\n"
            "def update(o, t, w, active, q):\n"
            f"    {_unpack_with_previous(dim)}\n"
            f"    return {tuple_source(state)}\n"
        )

    def finalize(self, state, dim):
        values = np.stack([state[f"max_step_{k}"] for k in range(dim)], axis=1)
        return {"max_step": (("coord",), values, {"long_name": "max over t of |w_{t+1,k} - w_{t,k}|"})}


def _unpack_with_previous(dim: int) -> str:
    """``w0, …, p0, … = w``: the point after the step and the one before (``sees_previous``)."""
    return ", ".join([f"w{k}" for k in range(dim)] + [f"p{k}" for k in range(dim)]) + " = w"
