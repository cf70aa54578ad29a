"""``Exit``: the first step at which a trajectory is outside a ball (escape from a saddle).

Definition (per trajectory, horizon T = ``steps``):

    exit_step  = min { t ≥ 1 : ‖w_t − c‖ > r },   −1 if no such t ≤ T
    exit_point = w_{exit_step}  (NaN when exit_step = −1)

with ‖·‖ the Euclidean norm (``norm="l2"``) or the maximum norm (``norm="linf"``: the ball is
the box max_k |w_k − c_k| ≤ r). Step 0 is not tested: a start outside the ball exits at t = 1 if
w_1 is still outside. A trajectory frozen by the engine (diverged or non-finite) before leaving
the ball keeps exit_step = −1 (its ``status`` says why): the frozen state is the last finite one
inside the threshold, and the observer only counts steps the optimizer actually took.

For the Euclidean norm the test is done on squared distances, ‖w_t − c‖² > r² (no square root
per step). ``exit_point`` tells the side of escape (e.g. the sign of x on the saddle
½(−x² + y²)); it is the first point outside, so ‖exit_point − c‖ > r always.
"""

from __future__ import annotations

import numpy as np

from ._source import GeneratedObserver, tuple_source, unpack_source

NORMS = ("l2", "linf")


def _as_center(center) -> np.ndarray:
    try:
        arr = np.atleast_1d(np.asarray(center, dtype=float))
    except (TypeError, ValueError):
        raise ValueError(f"Exit: center must be a point (1-D array of numbers) or a number, got {center!r}") from None
    if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)):
        raise ValueError(f"Exit: center must be a finite 1-D point or a number, got {center!r}")
    return arr


def exit_init_array(w, q, o):
    """Array form of ``init``: not exited (exit_step = −1)."""
    o[0] = -1.0
    for k in range(w.shape[0]):
        o[k + 1] = 0.0


def _exit_store(o, t, w):
    o[0] = float(t)
    for k in range(w.shape[0]):
        o[k + 1] = w[k]


def exit_update_array_l2(o, t, w, w_prev, active, q):
    """Array form of ``update``, Euclidean norm: exits when Σ_k (w_k − c_k)² > r² = q[d]."""
    d = w.shape[0]
    squared = 0.0
    for k in range(d):
        e = w[k] - q[k]
        squared += e * e
    if (o[0] < 0.0) and active and (squared > q[d]):
        _exit_store(o, t, w)


def exit_update_array_linf(o, t, w, w_prev, active, q):
    """Array form of ``update``, maximum norm: exits when some |w_k − c_k| > r = q[d]."""
    d = w.shape[0]
    outside = False
    for k in range(d):
        outside = outside or (abs(w[k] - q[k]) > q[d])
    if (o[0] < 0.0) and active and outside:
        _exit_store(o, t, w)


class Exit(GeneratedObserver):
    """Exit time from the ball ‖w − center‖ ≤ radius: variables ``exit_step`` and ``exit_point``.

    Parameters
    ----------
    center : number or (d,) array
        Centre c of the ball (a number is used for every coordinate), e.g. the saddle point.
    radius : float > 0
        Radius r: a trajectory has exited at the first t ≥ 1 with ‖w_t − c‖ > r.
    norm : "l2" (default) or "linf"
        Euclidean ball or the box max_k |w_k − c_k| ≤ r.

    ``exit_step`` is an int64 step count (−1: still inside at the horizon); ``exit_point`` has
    the extra dim ``coord``. Center and radius are run-time parameters: changing them does not
    recompile the kernel (the norm and d do).
    """

    name = "exit"

    def __init__(self, center=0.0, radius: float = 1.0, norm: str = "l2"):
        self.center = _as_center(center)
        if isinstance(radius, (bool, np.bool_)) or not isinstance(radius, (int, float, np.integer, np.floating)) \
                or not (np.isfinite(radius) and radius > 0):
            raise ValueError(f"Exit: radius must be a finite number > 0, got {radius!r}")
        self.radius = float(radius)
        if norm not in NORMS:
            raise ValueError(f"Exit: norm must be one of {NORMS}, got {norm!r}")
        self.norm = norm

    def check_dim(self, dim: int) -> None:
        if self.center.size not in (1, dim):
            raise ValueError(f"Exit: center has {self.center.size} coordinates, the landscape has dimension {dim}")

    def center_point(self, dim: int) -> np.ndarray:
        return np.broadcast_to(self.center, (dim,)).astype(float) if self.center.size == 1 else self.center

    def slots(self, dim):
        return ("exit_step", *[f"exit_point_{k}" for k in range(dim)])

    def params(self, dim):
        # q = (c_0 … c_{d−1}, threshold): r² for the Euclidean norm (no square root per step), r for linf.
        threshold = self.radius ** 2 if self.norm == "l2" else self.radius
        return (*map(float, self.center_point(dim)), threshold)

    def source_key(self, dim):
        return (dim, self.norm)

    def array_functions(self):
        return exit_init_array, exit_update_array_l2 if self.norm == "l2" else exit_update_array_linf

    def source(self, dim):
        offsets = [f"e{k} = w{k} - q[{k}]" for k in range(dim)]
        if self.norm == "l2":
            outside = f"({' + '.join(f'e{k} * e{k}' for k in range(dim))}) > q[{dim}]"
        else:
            outside = " | ".join(f"(abs(e{k}) > q[{dim}])" for k in range(dim))
        state = ["float(t) if new else o[0]"] + [f"w{k} if new else o[{k + 1}]" for k in range(dim)]
        body = "\n    ".join([unpack_source(dim), *offsets, f"outside = {outside}",
                              "new = (o[0] < 0.0) & active & outside"])
        return (
            "def init(w, q):\n"
            f"    return {tuple_source(['-1.0'] + ['0.0'] * dim)}\n"
            "\n\n"
            "def update(o, t, w, active, q):\n"
            f"    {body}\n"
            f"    return {tuple_source(state)}\n"
        )

    def finalize(self, state, dim):
        step = state["exit_step"]
        exited = step >= 0
        point = np.stack([state[f"exit_point_{k}"] for k in range(dim)], axis=1)
        point = np.where(exited[:, None], point, np.nan)
        norm = "Euclidean" if self.norm == "l2" else "maximum"
        return {
            "exit_step": ((), step.astype(np.int64), {
                "long_name": f"first step t >= 1 with ||w_t - center|| > radius ({norm} norm); -1: never",
                "units": "steps",
            }),
            "exit_point": (("coord",), point, {"long_name": "w at exit_step (NaN: never exited)"}),
        }

    def attrs(self):
        return {"center": self.center, "radius": self.radius, "norm": self.norm}
