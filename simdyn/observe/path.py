"""``PathLength`` and ``MaxStep``: how far a trajectory travels, and its largest single step.

Definitions (per trajectory, horizon T = ``steps``; a frozen trajectory's later steps are 0):

    path_length  = Σ_{t=0}^{T−1} ‖w_{t+1} − w_t‖₂
    displacement = ‖w_T − w_0‖₂                       (≤ path_length)
    max_step_k   = max_{0 ≤ t < T} |w_{t+1,k} − w_{t,k}|   per coordinate k (dim ``coord``)

``max_step`` is the quantity bounded by Proposition 1 of "Exploring the dynamics of Adam"
(|w_{t+1} − w_t| ≤ η·√β₂(1 − β₁)/√((1 − β₂)(β₂ − β₁²)) per coordinate, ≈ 7.27·η for the
defaults); ``displacement`` on a flat is the distance bounded by Proposition 2.
The previous point w_t is kept in the observer's slots (the engine passes only w_{t+1}).
"""

from __future__ import annotations

import numpy as np

from ._source import GeneratedObserver, tuple_source, unpack_source


class PathLength(GeneratedObserver):
    """Length of the path Σ‖w_{t+1} − w_t‖₂ and the net displacement ‖w_T − w_0‖₂.

    Variables ``path_length`` and ``displacement``. Slots: the length, the previous point and
    the initial point (1 + 2d floats per trajectory).
    """

    name = "path"

    def slots(self, dim):
        return ("path_length", *[f"previous_{k}" for k in range(dim)], *[f"start_{k}" for k in range(dim)])

    def source_key(self, dim):
        return (dim,)

    def source(self, dim):
        steps = [f"s{k} = w{k} - o[{1 + k}]" for k in range(dim)]
        length = "abs(s0)" if dim == 1 else f"math.sqrt({' + '.join(f's{k} * s{k}' for k in range(dim))})"
        state = ["o[0] + step"] + [f"w{k}" for k in range(dim)] + [f"o[{1 + dim + k}]" for k in range(dim)]
        body = "\n    ".join([unpack_source(dim), *steps, f"step = {length}"])
        init_state = ["0.0"] + [f"w[{k}]" for k in range(dim)] * 2
        return (
            "def init(w, q):\n"
            f"    return {tuple_source(init_state)}\n"
            "\n\n"
            "def update(o, t, w, active, q):\n"
            f"    {body}\n"
            f"    return {tuple_source(state)}\n"
        )

    def finalize(self, state, dim):
        last = np.stack([state[f"previous_{k}"] for k in range(dim)], axis=1)
        start = np.stack([state[f"start_{k}"] for k in range(dim)], axis=1)
        return {
            "path_length": ((), state["path_length"], {"long_name": "sum over t of ||w_{t+1} - w_t||_2"}),
            "displacement": ((), np.sqrt(np.sum((last - start) ** 2, axis=1)), {"long_name": "||w_T - w_0||_2"}),
        }


class MaxStep(GeneratedObserver):
    """Largest single step per coordinate, max_t |w_{t+1,k} − w_{t,k}|: variable ``max_step`` (dim
    ``coord``), the quantity of Proposition 1. Slots: the maximum and the previous point (2d)."""

    name = "max_step"

    def slots(self, dim):
        return (*[f"max_step_{k}" for k in range(dim)], *[f"previous_{k}" for k in range(dim)])

    def source_key(self, dim):
        return (dim,)

    def source(self, dim):
        state = [f"max(o[{k}], abs(w{k} - o[{dim + k}]))" for k in range(dim)] + [f"w{k}" for k in range(dim)]
        init_state = ["0.0"] * dim + [f"w[{k}]" for k in range(dim)]
        return (
            "def init(w, q):\n"
            f"    return {tuple_source(init_state)}\n"
            "\n\n"
            "def update(o, t, w, active, q):\n"
            f"    {unpack_source(dim)}\n"
            f"    return {tuple_source(state)}\n"
        )

    def finalize(self, state, dim):
        values = np.stack([state[f"max_step_{k}"] for k in range(dim)], axis=1)
        return {"max_step": (("coord",), values, {"long_name": "max over t of |w_{t+1,k} - w_{t,k}|"})}
