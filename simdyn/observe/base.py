"""Streaming observers: per-trajectory analyses fused into the simulation kernel.

An observer is a small state machine over a trajectory, with its state in a few float64 slots
per trajectory (registers on CUDA, a (slots, N) array walked with the batch on the CPU):

* ``init(w0, q) -> state``: at step 0, from the initial point (plain scalar Python, compiled);
* ``update(state, t, w, active, q) -> state``: after step t, with w = w_t, ``active`` False once
  the trajectory is frozen (diverged / non-finite); plain scalar Python, compiled into the
  kernel. Write it with unconditional arithmetic (``count += active``) rather than ``if``
  stores: it stays vectorisable on the CPU;
* ``finalize(state, dim) -> {name: (extra_dims, values)}``: in NumPy, after the run, turning the
  slots into dataset variables of shape (N, *extra) with dims ``extra_dims`` after the batch dims.

``q`` is a tuple of float parameters (``params(dim)``), passed at run time so that changing a
tolerance does not recompile the kernel. It may differ between the combinations of a sweep:
the engine calls ``params_for(dim, values)`` with the landscape parameter values of each
combination (the default returns ``params(dim)``), e.g. the known minima of a landscape whose
minima move with a swept parameter.

An observer that needs a history (a ring buffer of past states, say) declares
``buffer(dim) -> (length, width)``: the engine then allocates a float64 array ``buf`` of shape
(length, width, N) and calls ``init(w0, q, buf, j)`` and ``update(state, t, w, active, q, buf, j)``
with the trajectory's column index ``j``; ``finalize(state, dim, buf)`` receives it too. Index it
as ``buf[row, k, j]`` with ``row`` the same for every trajectory at a given step (e.g. t mod
length) so the CPU loop stays vectorisable.

An observer that sets ``sees_state = True`` watches the full optimizer state, not w alone: the
engine binds it to each optimizer (:meth:`Observer.for_optimizer`, setting ``state_slots``) and
passes, in place of w, the tuple z_t = (w_t, s_t) of length d·(1 + state_slots): the d
parameters, then each optimizer slot for every coordinate (slot-major: s₀ of coordinates
0 … d − 1, then s₁ …), after step t (at step 0, the initial state). An observer that sets
``sees_previous = True`` also receives the point before the step: the tuple ends with w_{t−1}
(d more numbers; w_0 again at step 0), so it need not carry a copy of w in its own slots (every
slot is loaded and stored at every step). :meth:`Observer.observed_width` gives the length.

An observer that sets ``sees_loss = True`` receives the loss: the engine evaluates
lv = L(w_{t−1}; p, t), at the point where step t's gradient is taken, next to that gradient, and
passes it after ``q``: ``update(state, t, w, active, q, loss)`` (then ``buf, j`` with a history
buffer; the array form's ``update_array(o, t, w, w_prev, active, q, loss)`` then ``buf``). Over a
run of T steps the updates see L(w_0) … L(w_{T−1}); the final L(w_T) is the dataset's ``loss``.
On a tuple-form landscape the kernel calls ``loss`` beside ``grad``; on an array-form one,
``value_grad`` (``tile_value_grad`` on the CPU tiles of a landscape with ``tile_grad``) when the
landscape has it — loss and gradient in one pass — else ``grad`` then ``loss``. A trajectory's
loss is passed at every step; after it is frozen (diverged / non-finite) the value is not a loss
of the run (the tuple form evaluates it at the frozen point, the array form passes NaN), so an
observer keeps its own "still running" flag: ``active`` is False from the step that froze it,
whose ``loss`` (at its last point) is still valid. ``init`` receives no loss.

An observer whose history depends on the run's length overrides ``for_steps(steps)`` (the
engine calls it once per run, after ``bind``) to size its buffer.

The ``state`` dict given to ``finalize`` also holds ``"w0"`` and ``"wT"``, the (N, d) initial
and final points, supplied by the engine (no slot needed for them).

On array-form landscapes (any d, :mod:`simdyn.engine.array_codegen`) an observer supplies
plain functions on arrays instead, :meth:`Observer.array_functions`:

* ``init_array(w, q, o)``: w the (d,) initial point, ``o`` the trajectory's (slots,) float64
  row, written in place;
* ``update_array(o, t, w, w_prev, active, q)``: after step t with w = w_t and w_prev = w_{t−1}
  ((d,) arrays), ``active`` whether the step was applied (a frozen trajectory's w equals
  w_prev); ``q`` the combination's (params,) float64 parameters.

An observer that ``sees_state`` also receives, after ``o``/``q``'s arguments, ``s``: the
trajectory's (slots, d) optimizer slots after step t (the initial slots at step 0; a frozen
trajectory's last ones), ``init_array(w, q, o, s)`` and ``update_array(o, t, w, w_prev, active,
q, s)``; it lays z = (w, s) out in the tuple form's slot-major order itself. With a history
buffer both also receive, last, the trajectory's (length, width) float64 block ``buf`` (indexed
``buf[row, k]``); ``finalize`` still gets the (length, width, N) array.

They are written once with plain loops over k < len(w), so nothing grows with d, and compile
for the CPU and CUDA. The slots and ``finalize`` are those of the tuple form, so both forms give
the same variables.

An observer that sets ``between_segments = True`` is not fused into the step kernel: the engine
runs it every ``every`` steps between segments of the time loop, on the launch's current state
(:class:`simdyn.observe.Sharpness`, a power iteration per trajectory, run by
:mod:`simdyn.engine.sharpness`); its ``finalize`` receives ``{name: (N, measurements) series}``.

``finalize`` may return the key ``"status"`` with an (N,) array of status codes
(:data:`simdyn.status.STATUS`); it replaces the engine's converged/bounded verdict, never a
diverged or non-finite one.
"""

from __future__ import annotations

import copy
from typing import Callable


class Observer:
    """Base class of the in-kernel observers. Subclasses set ``name``, ``init`` and ``update``."""

    name: str = "observer"
    init: Callable
    update: Callable
    #: True: ``init``/``update`` receive the full state z = (w, optimizer slots) instead of w.
    sees_state: bool = False
    #: Optimizer slots per coordinate in z (set by :meth:`for_optimizer`; 0 while unbound).
    state_slots: int = 0
    #: True: the observed tuple ends with the point before the step, w_{t−1}.
    sees_previous: bool = False
    #: True: ``update`` receives the loss L(w_{t−1}) after ``q`` (module docstring).
    sees_loss: bool = False

    def slots(self, dim: int) -> tuple[str, ...]:
        """Names of the float64 state slots per trajectory."""
        raise NotImplementedError

    def bind(self, landscape, params: dict) -> "Observer":
        """The observer to use on ``landscape`` with parameter values ``params`` (scalars or swept
        arrays). Override to resolve landscape-dependent settings (e.g. "the nearest known
        minimum"); the default returns ``self``."""
        return self

    def for_steps(self, steps: int) -> "Observer":
        """The observer for a run of ``steps`` steps (called by the engine after :meth:`bind`);
        the default returns ``self``. Override when the history buffer's size depends on it."""
        return self

    def for_optimizer(self, n_slots: int) -> "Observer":
        """The observer bound to an optimizer with ``n_slots`` state slots per coordinate: ``self``
        unless it ``sees_state``, else a copy with ``state_slots = n_slots``."""
        if not self.sees_state:
            return self
        bound = copy.copy(self)
        bound.state_slots = int(n_slots)
        return bound

    def observed_width(self, dim: int) -> int:
        """Length of the tuple ``init``/``update`` receive: w (d), the optimizer slots with
        ``sees_state`` (d·state_slots), w_{t−1} with ``sees_previous`` (d)."""
        return dim * (1 + (self.state_slots if self.sees_state else 0) + (1 if self.sees_previous else 0))

    def dim_coords(self, steps: int) -> dict:
        """Coordinate values of the extra dims that :meth:`finalize` gives its variables, for a run
        of ``steps`` steps (dim name -> 1-D array); dims left out get none. The default: none."""
        return {}

    def buffer(self, dim: int) -> tuple[int, int] | None:
        """(length, width) of a per-trajectory float64 history buffer, or None (the default)."""
        return None

    def array_functions(self) -> tuple[Callable, Callable] | None:
        """``(init_array, update_array)`` for array-form landscapes (module docstring), or None
        when the observer is not available there (the default)."""
        return None

    def params(self, dim: int) -> tuple[float, ...]:
        """Run-time parameters ``q`` passed to ``init`` and ``update``."""
        return ()

    def finalize(self, state: dict, dim: int) -> dict:
        """Dataset variables from the final slot values: ``{name: (extra_dims, array)}``."""
        raise NotImplementedError

    def params_for(self, dim: int, values: dict) -> tuple[float, ...]:
        """Run-time parameters for one combination of a sweep, given its landscape parameter
        ``values`` (scalars / arrays by name). Same length for every combination; the default
        is ``params(dim)``."""
        return self.params(dim)

    def attrs(self) -> dict:
        """Settings recorded in the dataset attributes (prefixed with the observer name)."""
        return {}

    def cache_key(self, dim: int) -> tuple:
        """What shapes the compiled code: the functions and the slot/parameter counts."""
        return (
            type(self).__name__,
            type(self).init,
            type(self).update,
            len(self.slots(dim)),
            len(self.params(dim)),
            self.buffer(dim) is not None,
            self.observed_width(dim),
            self.sees_state,
            self.sees_previous,
            self.sees_loss,
            self.array_functions(),
        )
