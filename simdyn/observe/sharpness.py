"""``Sharpness``: the top Hessian eigenvalue along every trajectory, every k steps.

The sharpness of the loss at w is λ_max(∇²L(w)) (Cohen, Kaur, Li, Kolter & Talwalkar 2021,
"Gradient descent on neural networks typically occurs at the edge of stability", ICLR: under
gradient descent with step η it rises, then hovers at 2/η). For an adaptive method with the
diagonal preconditioner P_t, the preconditioned sharpness is λ_max(P_t⁻¹∇²L(w_t)) (Cohen et al.
2022, "Adaptive gradient methods at the edge of stability", arXiv:2207.14484, §2), with, after
step t (1-based),

    Adam:     P_t = (1 − β₁ᵗ)·(√(v_t/(1 − β₂ᵗ)) + ε)·I      (the step is w_t = w_{t−1} − η·P_t⁻¹·m_t)
    RMSProp:  P_t = (√v_t + ε)·I                            (w_t = w_{t−1} − η·P_t⁻¹·g_t)

(:attr:`simdyn.optimizers.Optimizer.preconditioner`; AMSGrad uses max v, AdamW as Adam). Adam with
β₁ is stable on a quadratic while η·λ_max(P⁻¹H) < (2 + 2β₁)/(1 − β₁) (38/η at β₁ = 0.9, frozen P);
gradient descent while η·λ_max(H) < 2.

Method: power iteration on the symmetric A = P^{−1/2} H P^{−1/2} (similar to P⁻¹H, same
eigenvalues), u ← A u/‖A u‖, ``iterations`` products per measurement, warm-started from the
previous measurement's u (the first from a fixed pseudo-random unit vector, the same for every
trajectory, so results do not depend on chunking). The reported value is the Rayleigh quotient
uᵀA u of the last iterate. H·x is the landscape's exact Hessian–vector product: on tuple-form
landscapes the forward-mode JVP of ``grad`` (:func:`simdyn.tangent.jvp`); on array-form ones
the landscape's ``hvp`` when it has one, else the central difference
(∇L(w + h x) − ∇L(w − h x))/(2h), h = 6·10⁻⁶·max(1, ‖w‖∞)/‖x‖∞ (error O(h²) + O(ε_mach/h)),
through the landscape's ``tile_grad`` on the CPU when it has one (and no parameters).
Power iteration converges to the eigenvalue of largest magnitude: the value is λ_max when
λ_max ≥ |λ_min| (true at and near the edge of stability, where λ_max ≥ 2/η dominates), and
at a rate |λ₂/λ₁| per product.

The series is measured after steps t = 0, k, 2k, …, ≤ T (``sharpness_step``) at w_t, between
segments of the time loop, by a batched kernel of its own (:mod:`simdyn.engine.sharpness`);
the step kernel is unchanged. A trajectory frozen (diverged, non-finite) gets NaN from then on;
the preconditioned value at t = 0 is NaN (P_0 = 0: no second moment yet). The computation is
in float64 whatever the run's dtype.
"""

from __future__ import annotations

import numbers

import numpy as np

from .base import Observer


class Sharpness(Observer):
    """λ_max of the (preconditioned) Hessian every ``every`` steps:
    ``sd.observe.Sharpness(every=k, iterations=20, preconditioned=False)``.

    Adds the variable ``sharpness`` (dims …, ``sharpness_step``), at steps 0, k, 2k, … ≤ T.
    ``preconditioned=True``: λ_max(P_t⁻¹∇²L) with the optimizer's diagonal preconditioner P_t
    (Adam, AMSGrad, AdamW, RMSProp). Method and definitions: module docstring.
    """

    name = "sharpness"
    #: Run by the engine between segments of the time loop (not fused into the step kernel).
    between_segments = True

    def __init__(self, every: int = 1, iterations: int = 20, preconditioned: bool = False):
        for label, value in (("every", every), ("iterations", iterations)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 1 <= value <= 2**31:
                raise ValueError(f"Sharpness({label}): must be an integer in [1, 2**31], got {value!r}")
        if not isinstance(preconditioned, (bool, np.bool_)):
            raise TypeError(f"Sharpness(preconditioned): expected a bool, got {type(preconditioned).__name__}")
        self.every = int(every)
        self.iterations = int(iterations)
        self.preconditioned = bool(preconditioned)

    def slots(self, dim):
        return ()

    def array_functions(self):
        return None

    def series_length(self, steps: int) -> int:
        """Measurements in a run of ``steps`` steps: t = 0, k, …, ≤ T."""
        return int(steps) // self.every + 1

    def dim_coords(self, steps: int) -> dict:
        """The coordinate of the series' dim."""
        return {"sharpness_step": np.arange(self.series_length(steps), dtype=np.int64) * self.every}

    def attrs(self):
        return {"every": self.every, "iterations": self.iterations, "preconditioned": int(self.preconditioned)}

    def finalize(self, state, dim):
        """``state["sharpness"]``: the (N, measurements) series from the engine."""
        long_name = ("top eigenvalue of P_t^-1 times the Hessian (preconditioned sharpness)" if self.preconditioned
                     else "top eigenvalue of the Hessian (sharpness)")
        return {"sharpness": (("sharpness_step",), state["sharpness"],
                              {"long_name": long_name, "every": self.every, "iterations": self.iterations})}
