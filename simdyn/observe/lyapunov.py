"""``Lyapunov``: the largest Lyapunov exponent of every trajectory, computed inside the kernel.

The state z_t = (w_t, s_t) of a trajectory (the d parameters, then each optimizer slot for every
coordinate, slot-major) evolves by the step map z_t = F_t(z_{t−1}). A tangent vector ż evolves by
its Jacobian, ż_t = J_t(z_{t−1})·ż_{t−1}, and the largest exponent is its growth rate

    λ₁ = lim_{T→∞} (1/T) ln ‖J_T ⋯ J_1 ż₀‖ = (1/T) Σ_r ln ‖ż_{t_r}‖   (ż renormalised at the t_r)

(Benettin, Galgani, Giorgilli & Strelcyn, Meccanica 15, 1980; the one-vector form of
:func:`simdyn.lyapunov`). The kernel generator emits the forward-mode JVP of the step
(:mod:`simdyn.tangent.forward`: the gradient's JVP is the Hessian–vector product, then each
coordinate's ``update`` and the projection), so the state and its tangent advance in the same
fused step; ż lives in this observer's first d·(1 + slots) slots. Every ``renormalize_every``
steps (t a multiple of it) ż is divided by its norm and, after the transient, the logarithm of
that norm is added to ``log_stretch``; the stretch since the last renormalisation is added in
``finalize`` from the final ż, so the result does not depend on where the renormalisations fall.
ż starts along (1, …, 1)/√n, and restarts there after step ``transient``.

Output ``lyapunov`` = (log_stretch + ln ‖ż_T‖) / (number of steps after ``transient`` on which the
trajectory moved), in natural log per step; a trajectory frozen (diverged or non-finite) stops
accumulating, and one with no step after the transient gets NaN. Renormalising every k steps
keeps the logarithm and the division out of the other steps; ż grows at most by the k-step
stretch in between, so k must stay well below 700/λ₁ in float64 (overflow gives NaN).
"""

from __future__ import annotations

import numbers

import numpy as np

from .base import Observer


class Lyapunov(Observer):
    """The largest Lyapunov exponent: ``sd.observe.Lyapunov(spectrum=False, transient=0,
    renormalize_every=1)``.

    Adds the variable ``lyapunov`` (natural log per step). The first ``transient`` steps are run
    but not averaged. ``spectrum=True`` (all exponents) is not available in the kernel; use
    :func:`simdyn.lyapunov` with ``spectrum=True``. Method: module docstring.
    """

    name = "lyapunov"
    #: The kernel generator advances this observer's first d·(1 + slots) slots as the tangent ż
    #: of the state and renormalises it (:mod:`simdyn.engine.codegen`); it has no init/update.
    tangent = True
    sees_state = True

    def __init__(self, spectrum: bool = False, transient: int = 0, renormalize_every: int = 1):
        if not isinstance(spectrum, (bool, np.bool_)):
            raise TypeError(f"Lyapunov(spectrum): expected a bool, got {type(spectrum).__name__}")
        if spectrum:
            raise ValueError("Lyapunov(spectrum): the in-kernel observer computes the largest exponent only; "
                             "use sd.lyapunov(..., spectrum=True) for the spectrum")
        if isinstance(transient, bool) or not isinstance(transient, numbers.Integral) or transient < 0:
            raise ValueError(f"Lyapunov(transient): must be an integer >= 0, got {transient!r}")
        if (isinstance(renormalize_every, bool) or not isinstance(renormalize_every, numbers.Integral)
                or not 1 <= renormalize_every <= 2**31):
            raise ValueError(f"Lyapunov(renormalize_every): must be an integer in [1, 2**31], got {renormalize_every!r}")
        self.transient = int(transient)
        self.renormalize_every = int(renormalize_every)

    def width(self, dim: int) -> int:
        """n = d·(1 + slots), the length of the tangent ż."""
        return dim * (1 + self.state_slots)

    def slots(self, dim):
        return tuple(f"tangent_{i}" for i in range(self.width(dim))) + ("log_stretch", "lyapunov_steps")

    def params(self, dim):
        return (float(self.transient), float(self.renormalize_every))

    def attrs(self):
        return {"transient": self.transient, "renormalize_every": self.renormalize_every}

    def cache_key(self, dim):
        return (type(self).__name__, len(self.slots(dim)), len(self.params(dim)), self.state_slots)

    def finalize(self, state, dim):
        tangent = np.stack([state[f"tangent_{i}"] for i in range(self.width(dim))])
        steps = state["lyapunov_steps"]
        with np.errstate(divide="ignore", invalid="ignore"):
            total = state["log_stretch"] + np.log(np.sqrt(np.sum(tangent * tangent, axis=0)))
            value = np.where(steps > 0, total / np.maximum(steps, 1), np.nan)
        value = np.where(np.isfinite(value), value, np.nan)
        return {"lyapunov": ((), value, {"long_name": "largest Lyapunov exponent (natural log per step)",
                                         "units": "1/step", "transient": self.transient})}
