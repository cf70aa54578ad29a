"""``Period``: a streaming detector of fixed points and limit cycles, fused into the kernel.

No trajectory is stored: each trajectory keeps a ring buffer of its last ``max_period`` states,
one *anchor* state and three scalars. The detector is a first-return search (the idea of Brent's
cycle finding, R. P. Brent, BIT 20, 1980) with a tolerance instead of equality, followed by a
check of the buffered orbit when the run ends.

Agreement. A state u *agrees with* a reference state v when, for every compared coordinate k
(all of them unless ``coords`` is given), ``|u_k − v_k| ≤ atol + rtol·|v_k|``.

Search (every step t). The anchor is a past state w_a. If w_t agrees with the anchor, the
candidate period is p = t − a: the first return of the anchor, i.e. the smallest lag at which
it repeats. If there is no return within ``max_period`` steps, the anchor moves to w_t (a = t).

Confirmation (every step t ≡ a mod p while p is held). w_t must agree with the *same* anchor; the
first miss drops p and re-anchors at w_t. Because the reference never moves, the drift
accumulated over the whole confirmation stays within the tolerance: an oscillation that decays
(or grows) by δ per period is dropped after about tol/δ periods however small δ is, so a decaying
oscillation is called a cycle only once what is left of its decay is below the tolerance, and a
fixed point once its amplitude is.

Verdict at the last step T (``finalize``, in NumPy). A trajectory has period p when
  1. p is held and the orbit returned to the anchor at least ``repeats`` times (T − a ≥ repeats·p);
  2. every buffered state from the anchor on agrees with the state p steps later (every phase
     of the cycle when p ≤ max_period/2; the last max_period − p pairs for longer periods);
  3. p is minimal: it is replaced by the smallest divisor d of p for which the last cycle,
     w_{T−p+1} … w_T, repeats with lag d (the first return is already minimal when the cycle's
     points are farther apart than the tolerance; this also turns an oscillation that has
     decayed below the tolerance into the fixed point it is).
``period`` = 1 is a fixed point (``status`` converged), p ≥ 2 a cycle (``status`` periodic), 0 no
period up to ``max_period`` within the horizon (``status`` bounded); a trajectory the engine
froze as diverged or non-finite keeps that status and has period 0.

Transient. The periodic regime starts at the first step s whose state the orbit keeps
returning to, within the tolerance, every p steps until T (w_{s+kp} agrees with w_s for every
k): the definition the confirmation uses, stricter than "consecutive periods agree" for an orbit
that still drifts slowly toward its cycle (RMSProp in the sharp valley agrees period to period
from step ~6200 but stays within 10⁻⁹ of one cycle only from ~9900). ``transient`` is the anchor
step a of the confirmed cycle, moved back over the buffered states that already repeat p steps
later. While searching, the anchor moves every ``max_period`` steps, so transient − max_period <
start of the periodic regime ≤ transient.

``cycle_amplitude`` (max − min per coordinate) and ``cycle_center`` (mean per coordinate) are
taken over the last period, w_{T−p+1} … w_T; ``orbit=True`` also returns the buffered states
themselves (variable ``orbit``, dims ``orbit_step``, ``coord``: w_{T−max_period+1} … w_T), the
points of orbit and bifurcation diagrams, at no extra cost in the kernel. With ``on="state"`` it
adds ``orbit_state`` (dims ``orbit_step``, ``state``): the same steps' full states z = (w, slots) in
the slot-major layout, the seeds of :func:`simdyn.refine_orbits`.

``on="w"`` (the default) compares parameters only: the full optimizer state of Adam (bias
correction 1 − βᵗ) and AdaGrad (an accumulator that grows forever) is not autonomous, so it
never repeats exactly even when w does. ``on="state"`` compares the full state z_t = (w_t, s_t)
after each step, the parameters and every optimizer slot (momentum buffer, moments m and v,
AMSGrad's running maximum …), with the same agreement test per component: a cycle of w whose
moments still drift is not called a cycle, and a momentum method that passes through the same w
with different velocities is not called periodic. ``coords`` then selects coordinates k, each
with its slots. The ring buffer holds z (d·(1 + slots) numbers per step); ``cycle_amplitude``,
``cycle_center`` and ``orbit`` still describe w.

On array-form landscapes (any d) the same detector runs as :meth:`Period.array_functions` on the
trajectory's (max_period + 1, width) block, with the same arithmetic, hence the same bits as the
tuple form; with ``on="state"`` the engine passes the optimizer slots as a (slots, d) array.

Cost per step and trajectory: the anchor read and blended back, w_t written to the ring, one
floating-point division (the phase), three slots; every buffer row touched is the same for all
trajectories, so the CPU loop stays vectorised (scripts/bench_period.py measures it).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..initial import coord_labels
from ..status import STATUS
from ._ring import ring_row, unroll
from .base import Observer

#: Default largest period looked for.
MAX_PERIOD = 64
#: Default absolute and relative tolerances of the agreement test.
ATOL = 1e-9
RTOL = 1e-9
#: Default number of consecutive returns to the anchor that confirm a period.
REPEATS = 3
#: Trajectories processed at once in ``finalize`` (bounds its temporary memory).
FINALIZE_CHUNK = 1 << 14

_SLOTS = ("anchor_step", "candidate", "last_step")


def floor_mod(x, p):
    """x mod p ≥ 0 for floats, p ≥ 1 (branch-free: no integer division in the kernel loop)."""
    return x - p * math.floor(x / p)


def _period_start(o, buf):
    """Array form, step 0: the observed state z_0, already in ring row 0, becomes the anchor."""
    length = buf.shape[0] - 1
    for k in range(buf.shape[1]):
        buf[length, k] = buf[0, k]
    o[0] = 0.0
    o[1] = 0.0
    o[2] = 0.0


def _store_compare(x, buf, row, column, q, near):
    """Array form: one observed component x into ring row ``row``, ``near`` and-ed with its
    agreement with the anchor (last row), as in :meth:`Period.update`."""
    anchor = buf[buf.shape[0] - 1, column]
    buf[row, column] = x
    return near & (abs(x - anchor) <= q[0] + q[1] * abs(anchor) + q[2 + column])  # q[2+k] = inf: ignored


def _period_advance(o, t, active, near, buf, row):
    """Array form, step t: the search/confirmation of :meth:`Period.update`, given whether z_t
    (already in ring row ``row``) agrees with the anchor. The same arithmetic as the tuple form,
    so the same bits. The anchor moves by a copy under a branch: the trajectory's coordinates are
    one contiguous loop, so the branch is outside it (the tuple form blends instead, because its
    loop runs across trajectories)."""
    anchor_step = o[0]
    candidate = o[1]
    length = buf.shape[0] - 1
    age = t - anchor_step
    # Phase of step t in the held period, (t − a) mod p; always 0 while searching (candidate 0).
    phase = floor_mod(age, candidate if candidate > 0.0 else 1.0)
    back = near & (phase == 0.0)
    reanchor = (phase == 0.0) & (not near) & ((candidate > 0.0) | (age >= length))
    period = age if (back & (candidate == 0.0)) else (0.0 if reanchor else candidate)
    period = period if (active & (candidate >= 0.0)) else -1.0  # frozen: never a period
    if reanchor:
        for k in range(buf.shape[1]):
            buf[length, k] = buf[row, k]
    o[0] = float(t) if reanchor else anchor_step
    o[1] = period
    o[2] = float(t)


def period_init_array(w, q, o, buf):
    """Array form of ``init`` on w: w_0 into ring row 0 and the anchor row."""
    for k in range(w.shape[0]):
        buf[0, k] = w[k]
    _period_start(o, buf)


def period_update_array(o, t, w, w_prev, active, q, buf):
    """Array form of ``update`` on w: w_t into ring row t mod max_period, compared with the
    anchor, then the detector step."""
    row = ring_row(t, buf.shape[0] - 1)
    near = True
    for k in range(w.shape[0]):
        near = _store_compare(w[k], buf, row, k, q, near)
    _period_advance(o, t, active, near, buf, row)


def period_init_array_state(w, q, o, s, buf):
    """Array form of ``init`` with ``on="state"``: z_0 = (w_0, s_0), ``s`` the trajectory's
    (slots, d) optimizer slots, in the tuple form's slot-major order (column d·(1 + i) + k holds
    slot i of coordinate k)."""
    d = w.shape[0]
    for k in range(d):
        buf[0, k] = w[k]
    for i in range(s.shape[0]):
        for k in range(d):
            buf[0, d * (1 + i) + k] = s[i, k]
    _period_start(o, buf)


def period_update_array_state(o, t, w, w_prev, active, q, s, buf):
    """Array form of ``update`` with ``on="state"``: z_t = (w_t, s_t) into the ring, compared
    with the anchor, then the detector step."""
    row = ring_row(t, buf.shape[0] - 1)
    d = w.shape[0]
    near = True
    for k in range(d):
        near = _store_compare(w[k], buf, row, k, q, near)
    for i in range(s.shape[0]):
        for k in range(d):
            near = _store_compare(s[i, k], buf, row, d * (1 + i) + k, q, near)
    _period_advance(o, t, active, near, buf, row)


class Period(Observer):
    """Streaming period detector: ``sd.observe.Period(max_period=64, atol=1e-9, rtol=1e-9, on="w")``.

    Parameters
    ----------
    max_period : int ≥ 1
        Largest period looked for; the ring buffer holds this many states per trajectory
        (8·(max_period + 1)·d bytes each, the extra row being the anchor).
    atol, rtol : float ≥ 0
        Two states agree when ``|u_k − v_k| ≤ atol + rtol·|v_k|`` for every compared coordinate
        (v the reference). Not both zero.
    on : "w" or "state"
        Compare the parameters w (default) or the full optimizer state (w and every optimizer
        slot; ``atol``/``rtol`` apply to each component).
    repeats : int ≥ 1
        Consecutive returns to the anchor (periods) that confirm a candidate (default 3).
    coords : sequence of int or coordinate labels, optional
        Compare only these coordinates (e.g. ``["x"]`` or ``[0]``): the period of w₁ alone, as in
        the paper's Figure 5. Amplitude and center are still reported for every coordinate.
    orbit : bool
        Also return the last ``max_period`` states (variable ``orbit``), for orbit diagrams.

    Adds the variables ``period`` (0 none, 1 fixed point, p ≥ 2 cycle), ``transient`` (the first
    step of the periodic regime to within ``max_period`` steps, −1 without a period),
    ``cycle_amplitude`` and ``cycle_center``
    (dim ``coord``; NaN without a period), and sets ``status``. The exact criterion is in the
    module docstring (:mod:`simdyn.observe.period`).
    """

    name = "period"

    def __init__(self, max_period: int = MAX_PERIOD, atol: float = ATOL, rtol: float = RTOL, on: str = "w",
                 repeats: int = REPEATS, coords=None, orbit: bool = False):
        if isinstance(max_period, bool) or not isinstance(max_period, numbers.Integral) or max_period < 1:
            raise ValueError(f"max_period must be an integer >= 1, got {max_period!r}")
        if isinstance(repeats, bool) or not isinstance(repeats, numbers.Integral) or repeats < 1:
            raise ValueError(f"repeats must be an integer >= 1, got {repeats!r}")
        for label, value in (("atol", atol), ("rtol", rtol)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (0.0 <= value < math.inf):
                raise ValueError(f"{label} must be a finite number >= 0, got {value!r}")
        if atol == 0 and rtol == 0:
            raise ValueError("atol and rtol cannot both be 0: floating-point orbits rarely repeat exactly")
        if on not in ("w", "state"):
            raise ValueError(f"on must be 'w' (parameters) or 'state' (full optimizer state), got {on!r}")
        if coords is not None:
            if isinstance(coords, (str, numbers.Integral)):
                coords = [coords]
            coords = tuple(coords)
            if not coords:
                raise ValueError("coords must name at least one coordinate (or be None for all)")
        self.max_period = int(max_period)
        self.atol = float(atol)
        self.rtol = float(rtol)
        self.on = on
        self.sees_state = on == "state"
        self.repeats = int(repeats)
        self.coords = coords
        self.orbit = bool(orbit)

    # -- protocol -----------------------------------------------------------------------------
    def slots(self, dim):
        return _SLOTS

    def buffer(self, dim):
        # rows 0 … max_period − 1: the ring; last row: the anchor; columns: w, or z = (w, slots)
        return (self.max_period + 1, self.observed_width(dim))

    def compared(self, dim: int) -> np.ndarray:
        """Boolean mask of the coordinates compared (all unless ``coords`` was given)."""
        mask = np.zeros(dim, dtype=bool)
        if self.coords is None or dim == 0:  # dim 0: the array form's kernel key, free of d
            mask[:] = True
            return mask
        labels = coord_labels(dim)
        for c in self.coords:
            if isinstance(c, str):
                if c not in labels:
                    raise ValueError(f"Period(coords=...): unknown coordinate {c!r}; the labels are {labels}")
                mask[labels.index(c)] = True
            elif isinstance(c, numbers.Integral) and not isinstance(c, bool) and 0 <= c < dim:
                mask[int(c)] = True
            else:
                raise ValueError(f"Period(coords=...): expected labels {labels} or indices 0..{dim - 1}, got {c!r}")
        return mask

    def bind(self, landscape, params):
        self.compared(landscape.dim)  # validates coords against the landscape's dimension
        return self

    def compared_state(self, dim: int) -> np.ndarray:
        """The compared components of the observed tuple: ``compared`` for w, repeated for each
        optimizer slot when ``on="state"``."""
        return np.tile(self.compared(dim), 1 + (self.state_slots if self.sees_state else 0))

    def array_functions(self):
        if self.sees_state:
            return period_init_array_state, period_update_array_state
        return period_init_array, period_update_array

    def params(self, dim):
        return (self.atol, self.rtol, *(0.0 if m else math.inf for m in self.compared_state(dim)))

    def attrs(self):
        attrs = {"max_period": self.max_period, "atol": self.atol, "rtol": self.rtol, "on": self.on,
                 "repeats": self.repeats}
        if self.coords is not None:
            attrs["coords"] = ", ".join(map(str, self.coords))
        return attrs

    @staticmethod
    def init(w, q, buf, j):
        length = buf.shape[0] - 1
        for k in range(len(w)):
            buf[0, k, j] = w[k]
            buf[length, k, j] = w[k]
        return (0.0, 0.0, 0.0)

    @staticmethod
    def update(o, t, w, active, q, buf, j):
        anchor_step, candidate, last_step = o
        length = buf.shape[0] - 1
        near = True  # w_t agrees with the anchor
        for k in range(len(w)):
            anchor = buf[length, k, j]
            near = near & (abs(w[k] - anchor) <= q[0] + q[1] * abs(anchor) + q[2 + k])  # q[2+k] = inf: ignored
        age = t - anchor_step
        # Phase of step t in the held period, (t − a) mod p; always 0 while searching (candidate 0).
        phase = floor_mod(age, candidate if candidate > 0.0 else 1.0)
        back = near & (phase == 0.0)  # a return to the anchor (while searching: the first one)
        reanchor = (phase == 0.0) & (not near) & ((candidate > 0.0) | (age >= length))
        period = age if (back & (candidate == 0.0)) else (0.0 if reanchor else candidate)
        period = period if (active & (candidate >= 0.0)) else -1.0  # frozen: never a period
        row = ring_row(t, length)
        move = 1.0 if reanchor else 0.0
        for k in range(len(w)):
            # A blend, not a select: LLVM turns a selected store into a branch and stops vectorising.
            buf[length, k, j] = w[k] * move + buf[length, k, j] * (1.0 - move)
            buf[row, k, j] = w[k]
        return (float(t) if reanchor else anchor_step, period, float(t))

    def finalize(self, state, dim, buffer):
        candidate = state["candidate"]
        anchor_step = state["anchor_step"]
        n = candidate.shape[0]
        t_end = int(state["last_step"].max()) if n else 0  # T, the same for every trajectory
        returns = np.floor((t_end - anchor_step) / np.maximum(candidate, 1.0))
        held = (candidate >= 1.0) & (returns >= self.repeats)
        period = np.where(held, candidate, 0.0).astype(np.int64)
        transient = np.where(held, anchor_step, -1.0).astype(np.int64)
        amplitude = np.full((n, dim), np.nan)
        center = np.full((n, dim), np.nan)
        idx = np.flatnonzero(held)
        first = max(0, t_end - self.max_period + 1)  # oldest step still in the ring
        rows = np.arange(first, t_end + 1) % self.max_period
        width = self.observed_width(dim)
        compared = np.flatnonzero(self.compared_state(dim))
        for start in range(0, idx.size, FINALIZE_CHUNK):
            chunk = idx[start:start + FINALIZE_CHUNK]
            orbit = _Orbit(buffer[np.ix_(rows, np.arange(width), chunk)], first, compared, self.atol, self.rtol, dim)
            period[chunk], transient[chunk] = orbit.verify(period[chunk], transient[chunk])
            amplitude[chunk], center[chunk] = orbit.last_cycle(period[chunk])
        transient[period == 0] = -1
        status = np.where(period == 1, STATUS["converged"],
                          np.where(period >= 2, STATUS["periodic"], STATUS["bounded"])).astype(np.uint8)
        out = {
            "period": ((), period, {"long_name": "minimal period of the final orbit (1: fixed point, 0: none)",
                                    "max_period": self.max_period}),
            "transient": ((), transient, {"long_name": "first step of the periodic regime, to within max_period steps "
                                                       "(-1: no period)"}),
            "cycle_amplitude": (("coord",), amplitude, {"long_name": "max - min over the last period"}),
            "cycle_center": (("coord",), center, {"long_name": "mean over the last period"}),
            "status": status,
        }
        if self.orbit:
            out["orbit"] = (("orbit_step", "coord"), unroll(buffer[:-1, :dim], t_end),
                            {"long_name": "last states w_{T-max_period+1} ... w_T", "last_step": t_end})
            if self.sees_state:
                out["orbit_state"] = (("orbit_step", "state"), unroll(buffer[:-1], t_end),
                                      {"long_name": "last full states z = (w, optimizer slots, slot-major)",
                                       "last_step": t_end})
        return out


class _Orbit:
    """The buffered states w_first … w_T of some trajectories, (steps, width, n), checked in NumPy
    (width d, or d·(1 + slots) for the full state: its first d columns are w)."""

    def __init__(self, states, first: int, compared, atol: float, rtol: float, dim: int):
        self.states = states[:, :dim]
        self.steps = first + np.arange(states.shape[0])
        self.compared = states[:, compared, :]
        self.atol = atol
        self.rtol = rtol

    def agree(self, states, lag: int) -> np.ndarray:
        """(steps − lag, n): whether each state repeats ``lag`` steps later."""
        old, new = states[:-lag], states[lag:]
        return np.all(np.abs(new - old) <= self.atol + self.rtol * np.abs(old), axis=1)

    def verify(self, period, anchor_step):
        """Periods checked at every buffered phase from the anchor on (0 when that fails) and reduced
        to the smallest divisor at which the last cycle repeats; the anchor step moved back over
        the buffered states that already repeat one period later (the transient)."""
        period, transient = period.copy(), anchor_step.copy()
        for p in np.unique(period):
            p = int(p)
            if p < 1:
                continue
            members = np.flatnonzero(period == p)
            orbit = self.compared[:, :, members]
            if p < len(self.steps):  # every buffered state from the anchor on repeats p steps later
                after = self.steps[:-p, None] >= anchor_step[members][None, :]
                ok = np.all(self.agree(orbit, p) | ~after, axis=0)
            else:
                ok = np.ones(members.size, dtype=bool)
            final = np.where(ok, p, 0)
            undecided = np.flatnonzero(ok)
            for d in range(1, p):  # minimality is a property of the final cycle w_{T−p+1} … w_T
                if p % d == 0 and undecided.size:
                    smaller = np.all(self.agree(orbit[-p:, :, undecided], d), axis=0)
                    final[undecided[smaller]] = d
                    undecided = undecided[~smaller]
            period[members] = final
            for f in np.unique(final):
                moved = np.flatnonzero((final == f) & (anchor_step[members] > self.steps[0]))
                if f < 1 or moved.size == 0 or f >= len(self.steps):
                    continue
                steps = self.steps[:-f]
                before = steps[:, None] < anchor_step[members[moved]][None, :]
                broken = before & ~self.agree(orbit[:, :, moved], int(f))
                last = np.where(broken.any(axis=0), steps[::-1][np.argmax(broken[::-1], axis=0)], steps[0] - 1)
                transient[members[moved]] = last + 1
        return period, transient

    def last_cycle(self, period):
        """max − min and mean of each coordinate over the last period w_{T−p+1} … w_T."""
        n, dim = self.states.shape[2], self.states.shape[1]
        amplitude = np.full((n, dim), np.nan)
        center = np.full((n, dim), np.nan)
        for p in np.unique(period):
            if p >= 1:
                members = np.flatnonzero(period == p)
                cycle = self.states[-p:][:, :, members]
                amplitude[members] = (cycle.max(axis=0) - cycle.min(axis=0)).T
                center[members] = cycle.mean(axis=0).T
        return amplitude, center
