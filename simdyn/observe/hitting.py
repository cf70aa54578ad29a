"""``Hitting``: the first step at which a trajectory is within a tolerance of a target point.

Definition (per trajectory, horizon T = ``steps``, targets m_1 … m_K):

    hit_step   = min { t ≥ 0 : min_k ‖w_t − m_k‖₂ ≤ tol },   −1 if no such t ≤ T
    hit_target = the k of the nearest target at hit_step (0-based; −1 if never), only when
                 there are several targets (K > 1)

Step 0 counts: a start within tol has hit_step = 0. ``target="nearest_minimum"`` takes the
landscape's known minima (``landscape.minima(params)``) as the targets, so a trajectory hits
when it is within tol of whichever minimum is nearest to it. A frozen (diverged / non-finite)
trajectory no longer moves, so it can no longer hit.
"""

from __future__ import annotations

import copy
import itertools

import numpy as np

from ._source import GeneratedObserver, tuple_source, unpack_source

NEAREST_MINIMUM = "nearest_minimum"


def _swept_combinations(landscape, params: dict):
    """Every combination of the swept (1-D array) landscape parameters, as dicts of scalars."""
    swept = {name: np.asarray(value) for name, value in params.items()
             if np.ndim(landscape.params.get(name, 0.0)) == 0 and np.ndim(value) > 0}
    fixed = {name: value for name, value in params.items() if name not in swept}
    for values in itertools.product(*swept.values()):
        yield {**fixed, **{name: float(v) for name, v in zip(swept, values)}}


def minima_points(landscape, values: dict) -> np.ndarray:
    """The (K, d) known minima of ``landscape`` at parameter ``values``, sorted (so a minimum keeps
    its index K while it moves with a parameter)."""
    points = sorted(tuple(cp.location) for cp in landscape.minima(values))
    return np.array(points, dtype=float).reshape(len(points), landscape.dim)


def nearest_minimum_targets(landscape, params: dict) -> tuple[np.ndarray, bool]:
    """The (K, d) known minima at the first swept combination, and whether they move with a
    swept landscape parameter (then each combination gets its own, through ``params_for``).

    Raises ValueError when the landscape lists no minimum, or when the number of minima changes
    with a swept parameter (K shapes the compiled code).
    """
    sets = [minima_points(landscape, combo) for combo in _swept_combinations(landscape, params)]
    first = sets[0]
    if not len(first):
        raise ValueError(
            f"Hitting: target='nearest_minimum' but landscape {landscape.name!r} lists no isolated minimum "
            "for these parameters; give the target point(s) explicitly"
        )
    if any(len(s) != len(first) for s in sets):
        raise ValueError(
            f"Hitting: target='nearest_minimum' on {landscape.name!r}: the number of minima changes with a swept "
            "landscape parameter; sweep the values with the same number of minima separately, or give explicit targets"
        )
    return first, any(not np.array_equal(s, first) for s in sets)


def _nearest_array(w, q):
    """(min_i ‖w − m_i‖², i) over the targets m_i = q[1 + i·d : 1 + (i + 1)·d], the first on ties."""
    d = w.shape[0]
    best = 0.0
    index = 0.0
    for i in range((q.shape[0] - 1) // d):
        squared = 0.0
        for k in range(d):
            e = w[k] - q[1 + i * d + k]
            squared += e * e
        if i == 0 or squared < best:
            best = squared
            index = float(i)
    return best, index


def hitting_init_array(w, q, o):
    """Array form of ``init``: hit_step = 0 when w_0 is within tol of a target, else −1."""
    best, index = _nearest_array(w, q)
    hit = best <= q[0]
    o[0] = 0.0 if hit else -1.0
    if o.shape[0] > 1:
        o[1] = index if hit else -1.0


def hitting_update_array(o, t, w, w_prev, active, q):
    """Array form of ``update``: the first t with min_i ‖w_t − m_i‖² ≤ tol² = q[0]."""
    if (o[0] < 0.0) and active:
        best, index = _nearest_array(w, q)
        if best <= q[0]:
            o[0] = float(t)
            if o.shape[0] > 1:
                o[1] = index


class Hitting(GeneratedObserver):
    """Hitting time of a tolerance ball around a target: variable ``hit_step`` (and ``hit_target``
    when there are several targets).

    Parameters
    ----------
    target : (d,) point, (K, d) array of points, or "nearest_minimum" (default)
        The point(s) to reach; "nearest_minimum" uses the landscape's known minima, sorted (those
        of each combination when they move with a swept landscape parameter; their number must
        not change). ``hit_target`` is the index of the minimum reached in that order.
    tol : float ≥ 0
        Radius of the Euclidean ball around each target (default 1e-3, Section 6 of the paper).

    The targets and tol are run-time parameters (no recompilation when they change); d and the
    number of targets K shape the compiled code. State: one float slot (two when K > 1), kept
    small on purpose: every slot is loaded and stored at every step of the kernel.
    """

    name = "hitting"

    def __init__(self, target=NEAREST_MINIMUM, tol: float = 1e-3):
        if isinstance(target, str):
            if target != NEAREST_MINIMUM:
                raise ValueError(f"Hitting: target must be a point, an array of points or {NEAREST_MINIMUM!r}, got {target!r}")
            self.targets = None
        else:
            try:
                arr = np.asarray(target, dtype=float)
            except (TypeError, ValueError):
                raise ValueError(f"Hitting: target must be a point or a (K, d) array of points, got {target!r}") from None
            if arr.ndim == 0:
                arr = arr.reshape(1, 1)
            if arr.ndim == 1:
                arr = arr[None, :]
            if arr.ndim != 2 or arr.size == 0 or not np.all(np.isfinite(arr)):
                raise ValueError(f"Hitting: target must be a finite point or a (K, d) array of points, got {target!r}")
            self.targets = arr
        if isinstance(tol, (bool, np.bool_)) or not isinstance(tol, (int, float, np.integer, np.floating)) \
                or not (np.isfinite(tol) and tol >= 0):
            raise ValueError(f"Hitting: tol must be a finite number >= 0, got {tol!r}")
        self.tol = float(tol)
        self.target = target if isinstance(target, str) else "explicit"

    def bind(self, landscape, params: dict):
        bound = self
        if self.targets is None:
            bound = copy.copy(self)
            bound.targets, bound.moving = nearest_minimum_targets(landscape, params)
            bound.landscape = landscape
        elif self.targets.shape[1] != landscape.dim:
            raise ValueError(f"Hitting: target has {self.targets.shape[1]} coordinates, the landscape has dimension {landscape.dim}")
        return bound.specialize(landscape.dim)

    def _count(self) -> int:
        if self.targets is None:
            raise RuntimeError("Hitting: targets are resolved when the observer is bound to a landscape")
        return self.targets.shape[0]

    def slots(self, dim):
        return ("hit_step", "hit_target") if self._count() > 1 else ("hit_step",)

    def params(self, dim):
        # q = (tol², m_1 coordinates …, m_K coordinates …)
        return (self.tol ** 2, *map(float, self.targets.ravel()))

    def params_for(self, dim, values):
        if not getattr(self, "moving", False):
            return self.params(dim)
        return (self.tol ** 2, *map(float, minima_points(self.landscape, values).ravel()))

    def source_key(self, dim):
        return (dim, self._count())

    def array_functions(self):
        return hitting_init_array, hitting_update_array

    def source(self, dim):
        count = self._count()
        lines = [unpack_source(dim)]
        for i in range(count):
            diffs = [f"(w{k} - q[{1 + i * dim + k}])" for k in range(dim)]
            lines.append(f"d{i} = " + " + ".join(f"{e} * {e}" for e in diffs))
        lines += ["best = d0", "index = 0.0"]
        for i in range(1, count):
            lines += [f"closer = d{i} < best", f"index = {float(i)} if closer else index", f"best = d{i} if closer else best"]
        nearest = "\n    ".join(lines)
        several = count > 1
        init_state = ["0.0 if hit else -1.0"] + (["index if hit else -1.0"] if several else [])
        state = ["float(t) if new else o[0]"] + (["index if new else o[1]"] if several else [])
        return (
            "def nearest(w, q):\n"
            f"    {nearest}\n"
            "    return best, index\n"
            "\n\n"
            "def init(w, q):\n"
            "    best, index = nearest(w, q)\n"
            "    hit = best <= q[0]\n"
            f"    return {tuple_source(init_state)}\n"
            "\n\n"
            "def update(o, t, w, active, q):\n"
            "    best, index = nearest(w, q)\n"
            "    new = (o[0] < 0.0) & active & (best <= q[0])\n"
            f"    return {tuple_source(state)}\n"
        )

    def finalize(self, state, dim):
        out = {
            "hit_step": ((), state["hit_step"].astype(np.int64), {
                "long_name": f"first step t >= 0 with ||w_t - target||_2 <= {self.tol:g}; -1: never",
                "units": "steps",
            }),
        }
        if self._count() > 1:
            out["hit_target"] = ((), state["hit_target"].astype(np.int64), {
                "long_name": "index of the target reached at hit_step (row of the hitting_targets attribute); -1: never",
            })
        return out

    def attrs(self):
        attrs = {"tol": self.tol, "target": self.target}
        if getattr(self, "moving", False):
            attrs["targets"] = "the landscape's minima of each combination, sorted"
        elif self.targets is not None:
            attrs["targets"] = self.targets.ravel()
        return attrs
