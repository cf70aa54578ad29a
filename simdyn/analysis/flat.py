"""Adam's largest step and the distance it coasts on a flat: Propositions 1 and 2 of "Exploring
the dynamics of Adam" (Section 4), in closed form, and the gradient history that attains them.

Per coordinate, with ρ = β₁²/β₂ < 1 (i.e. β₂ > β₁²) and ε → 0:

* Proposition 1 (largest step):
  |w_{t+1} − w_t| ≤ η·√β₂(1 − β₁)/√((1 − β₂)(β₂ − β₁²))            (≈ 7.27·η for 0.9, 0.999)
  At step t, over histories g_1 … g_t, Cauchy–Schwarz gives the finite-t bound
  η·(1 − β₁)/√(1 − β₂)·√((1 − ρᵗ)/(1 − ρ)) · c_t, with c_t = √(1 − β₂ᵗ)/(1 − β₁ᵗ) the bias
  correction (c_t = 1 without it). It is attained by g_{t−i} ∝ (β₁/β₂)^i (:func:`extremal_history`).
  The paper's proof bounds c_t ≤ 1, which is false when 1 − β₂ > (1 − β₁)² (e.g. β₁ = 0.9,
  β₂ = 0.95: c_1 = 2.24); the proposition itself still holds there: the finite-t bound stays
  below its t → ∞ limit (checked on a grid of β₁ ∈ [0, 0.995], β₂ ∈ (β₁², 1 − 10⁻⁵], t ≤ 10⁶:
  largest ratio 1 + 2·10⁻¹⁴, rounding).
* Proposition 2 (flat crossing): once the gradient is exactly 0 after the step with moments
  (m, v), the remaining travel is η·(m/√v)·Σ_{s≥0} (β₁/√β₂)^s ≤ η·β₂(1 − β₁)/((√β₂ − β₁)
  √((1 − β₂)(β₂ − β₁²))) (≈ 73.0·η), needing β₁ < √β₂ for the sum to converge.
* A long constant slope gives m/√v → 1 (bias-corrected from the first step), so an optimizer
  arriving on a flat after a long descent coasts η/(1 − β₁/√β₂) (≈ 10.05·η): "about 10 steps".
"""

from __future__ import annotations

import numpy as np


def _check(beta1, beta2):
    beta1, beta2 = np.asarray(beta1, dtype=float), np.asarray(beta2, dtype=float)
    if np.any((beta1 < 0) | (beta1 >= 1) | (beta2 < 0) | (beta2 >= 1)):
        raise ValueError("beta1 and beta2 must lie in [0, 1)")
    if np.any(beta2 <= beta1 ** 2):
        raise ValueError("the bounds need beta2 > beta1**2 (rho = beta1^2/beta2 < 1)")
    return beta1, beta2


def adam_step_bound(beta1=0.9, beta2=0.999):
    """Proposition 1: sup |w_{t+1} − w_t|/η = √β₂(1 − β₁)/√((1 − β₂)(β₂ − β₁²))."""
    beta1, beta2 = _check(beta1, beta2)
    return np.sqrt(beta2) * (1.0 - beta1) / np.sqrt((1.0 - beta2) * (beta2 - beta1 ** 2))


def adam_step_bound_at(t, beta1=0.9, beta2=0.999, bias_correction: bool = True):
    """The finite-t bound on |w_t − w_{t−1}|/η over gradient histories g_1 … g_t (ε → 0):
    (1 − β₁)/√(1 − β₂)·√((1 − ρᵗ)/(1 − ρ))·c_t, c_t = √(1 − β₂ᵗ)/(1 − β₁ᵗ) (1 without correction)."""
    beta1, beta2 = _check(beta1, beta2)
    t = np.asarray(t, dtype=float)
    rho = beta1 ** 2 / beta2
    core = (1.0 - beta1) / np.sqrt(1.0 - beta2) * np.sqrt((1.0 - rho ** t) / (1.0 - rho))
    if bias_correction:
        core = core * np.sqrt(1.0 - beta2 ** t) / (1.0 - beta1 ** t)
    return core


def adam_flat_distance_bound(beta1=0.9, beta2=0.999):
    """Proposition 2: sup distance/η coasted once the gradient is 0,
    β₂(1 − β₁)/((√β₂ − β₁)√((1 − β₂)(β₂ − β₁²)))."""
    beta1, beta2 = _check(beta1, beta2)
    if np.any(beta1 >= np.sqrt(beta2)):
        raise ValueError("Proposition 2 needs beta1 < sqrt(beta2)")
    return adam_step_bound(beta1, beta2) / (1.0 - beta1 / np.sqrt(beta2))


def slope_crossing_distance(beta1=0.9, beta2=0.999):
    """Distance/η coasted after a long constant slope (m/√v = 1): 1/(1 − β₁/√β₂); NaN where
    β₁ ≥ √β₂ (there m/√v grows on the flat until √v reaches ε: Adam accelerates)."""
    beta1, beta2 = np.asarray(beta1, dtype=float), np.asarray(beta2, dtype=float)
    ratio = beta1 / np.sqrt(beta2)
    with np.errstate(divide="ignore"):
        distance = 1.0 / (1.0 - ratio)
    return np.where(ratio < 1.0, distance, np.nan)


def extremal_history(length: int, beta1=0.9, beta2=0.999) -> np.ndarray:
    """The gradient history g_1 … g_length (oldest first, last = 1) that maximises Adam's next
    step: g_{t−i} = (β₁/β₂)^i, the equality case of Cauchy–Schwarz in Proposition 1."""
    _check(beta1, beta2)
    lags = np.arange(length - 1, -1, -1, dtype=float)
    return (float(beta1) / float(beta2)) ** lags


def _history_grad(w, p, t):
    # p = (growth β₂/β₁, last step T, length K): g_t = −growth^(t−T) for T−K < t ≤ T, else 0
    lag = float(t) - p[1]
    on = (lag <= 0.0) & (lag > -p[2])
    return (-(p[0] ** lag) if on else 0.0,)


def _history_loss(w, p, t):
    lag = float(t) - p[1]
    on = (lag <= 0.0) & (lag > -p[2])
    return -(p[0] ** lag) * w[0] if on else 0.0


def extremal_history_landscape():
    """A 1-D online landscape whose gradient at step t is the extremal history ending at step T:
    g_t = −(β₂/β₁)^{t−T} for T − K < t ≤ T and exactly 0 afterwards (a flat in time, the
    setting of Proposition 2). Parameters ``growth`` (β₂/β₁), ``last`` (T) and ``length`` (K);
    f_t(x) = g_t·x. The largest Adam step (at t = T) approaches Proposition 1's bound and the
    travel after T − 1 approaches Proposition 2's as T, K grow."""
    from ..landscapes.base import Landscape

    return Landscape(
        "extremal_history", 1, _history_grad, _history_loss,
        params={"growth": 0.999 / 0.9, "last": 20000.0, "length": 400.0},
        critical_points=[],
        formula="f_t(x) = g_t*x, g_t = -growth^(t-last) for last-length < t <= last, else 0",
        doc=extremal_history_landscape.__doc__,
    )
