"""Limit cycles of optimizers in closed form: Adam's 2-cycle (Proposition 4 of "Exploring the
dynamics of Adam", Section 6) and its stability. Period scans that simulate are
:func:`simdyn.period_scan` (:mod:`simdyn.studies.period_scan`).

* :func:`adam_two_cycle`: the symmetric 2-cycle of Adam's long-run map (bias corrections → 1)
  on a quadratic coordinate f = (h/2)·x². With C = h·A the gradient amplitude, the moments of a
  gradient alternating ±C are m = ∓C·k, k = (1 − β₁)/(1 + β₁), and v = C², so one step moves
  η·k·C/(C + ε); the cycle ±A needs that step to be 2A:

      A = η·k/2 − ε/h,       cycle_amplitude (max − min) = 2A = η(1 − β₁)/(1 + β₁) − 2ε/h,

  which exists when η·k·h > 2ε. This is Proposition 4's condition ∇L(w − η·k·C/(|C| + ε)) =
  −∇L(w) = C with σ = |C| (the paper writes C² + ε: its σ_t² = C² gives σ_t = |C|; it also
  drops the minus sign of the step); :func:`proposition4_residual` evaluates it for any gradient.
* :func:`adam_two_cycle_multipliers`: the Floquet multipliers of that cycle, the eigenvalues of
  the Jacobian of two steps of the map (x, m, v) ↦ (x', m', v') at the cycle, analytically. The
  cycle attracts when all have modulus < 1. For β₂ = 0.999 they do not depend on η (Adam is
  scale-free up to ε) and exceed 1 unless β₁ is small (max |μ| = 1.101 at β₁ = 0.9), which is why
  Adam at its default β₁ does not settle on the 2-cycle of a smooth valley; at β₁ = 0 (RMSProp
  without momentum) the multiplier is β₂ < 1. :func:`two_cycle_stability_boundary` finds the β₁
  where max |μ| = 1.
"""

from __future__ import annotations

import numpy as np


# -- Proposition 4: Adam's 2-cycle on a quadratic coordinate ------------------------------------

def _momentum_ratio(beta1):
    beta1 = np.asarray(beta1, dtype=float)
    if np.any((beta1 < 0) | (beta1 >= 1)):
        raise ValueError("beta1 must lie in [0, 1)")
    return (1.0 - beta1) / (1.0 + beta1)


def adam_two_cycle(lr, beta1=0.9, eps=1e-8, curvature=2.0) -> dict:
    """Adam's symmetric 2-cycle ±A on f = (h/2)·x² (h = ``curvature``; x² has h = 2, the valley's
    y-direction h = 2a), in the long-run form (bias corrections → 1):

        A = η(1 − β₁)/(2(1 + β₁)) − ε/h,   peak-to-peak amplitude 2A,   gradient amplitude C = h·A.

    Returns a dict of arrays (broadcast over the arguments): ``half_amplitude`` A,
    ``amplitude`` 2A (compare with ``cycle_amplitude``), ``gradient`` C, ``exists`` (A > 0).
    """
    k = _momentum_ratio(beta1)
    lr, eps, h = (np.asarray(v, dtype=float) for v in (lr, eps, curvature))
    half = lr * k / 2.0 - eps / h
    return {"half_amplitude": half, "amplitude": 2.0 * half, "gradient": h * half, "exists": half > 0.0}


def proposition4_residual(grad, w, lr, beta1=0.9, eps=1e-8):
    """Proposition 4's condition, elementwise: ∇L(w − η·k·∇L(w)/(|∇L(w)| + ε)) + ∇L(w), with
    k = (1 − β₁)/(1 + β₁). It is 0 exactly when w and the point one long-run Adam step away
    have opposite gradients, i.e. when (w, w') is a 2-cycle of Adam with σ = |∇L|.

    ``grad`` maps an array of points to their gradients (elementwise for separable losses).
    """
    k = _momentum_ratio(beta1)
    w = np.asarray(w, dtype=float)
    g = np.asarray(grad(w), dtype=float)
    partner = w - lr * k * g / (np.abs(g) + eps)
    return np.asarray(grad(partner), dtype=float) + g


def _step_jacobian(x, m, v, lr, beta1, beta2, eps, h):
    """Next state and Jacobian of one long-run Adam step on (h/2)x², state (x, m, v)."""
    g = h * x
    m1 = beta1 * m + (1.0 - beta1) * g
    v1 = beta2 * v + (1.0 - beta2) * g * g
    s = np.sqrt(v1)
    x1 = x - lr * m1 / (s + eps)
    dm = np.array([(1.0 - beta1) * h, beta1, 0.0])          # ∂m'/∂(x, m, v)
    dv = np.array([2.0 * (1.0 - beta2) * g * h, 0.0, beta2])  # ∂v'/∂(x, m, v)
    ds = dv / (2.0 * s)
    dx = np.array([1.0, 0.0, 0.0]) - lr * (dm / (s + eps) - m1 / (s + eps) ** 2 * ds)
    return (x1, m1, v1), np.stack([dx, dm, dv])


def adam_two_cycle_multipliers(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, curvature=2.0) -> np.ndarray:
    """Moduli of the Floquet multipliers of Adam's 2-cycle on (h/2)x² (sorted, largest last): the
    eigenvalues of J(F(z))·J(z), F one long-run Adam step on (x, m, v), at the cycle point
    z = (A, −C·k, C²) (:func:`adam_two_cycle`). The cycle attracts when all are < 1. NaN when
    the cycle does not exist."""
    cycle = adam_two_cycle(lr, beta1, eps, curvature)
    half = float(cycle["half_amplitude"])
    if half <= 0.0:
        return np.full(3, np.nan)
    k = float(_momentum_ratio(beta1))
    c = curvature * half
    z = (half, -c * k, c * c)
    z1, j0 = _step_jacobian(*z, lr, beta1, beta2, eps, curvature)
    _, j1 = _step_jacobian(*z1, lr, beta1, beta2, eps, curvature)
    return np.sort(np.abs(np.linalg.eigvals(j1 @ j0)))


def two_cycle_stability_boundary(beta2=0.999, lr=1e-3, eps=1e-8, curvature=2.0, tol=1e-10) -> float:
    """The smallest β₁ at which Adam's 2-cycle on (h/2)x² loses stability (largest Floquet
    multiplier crosses 1): a scan of the β₁ ∈ [0, 0.999] where the cycle exists, then bisection.
    Below it the cycle attracts. NaN when the multiplier never exceeds 1."""
    def excess(b1):
        return adam_two_cycle_multipliers(lr, b1, beta2, eps, curvature)[-1] - 1.0

    ratio = 2.0 * eps / (lr * curvature)  # the cycle exists while (1 − β₁)/(1 + β₁) > ratio
    grid = np.linspace(0.0, min(0.999, (1.0 - ratio) / (1.0 + ratio) * (1.0 - 1e-9)), 400)
    above = [excess(b1) > 0.0 for b1 in grid]
    if not any(above) or above[0]:
        return float("nan")
    i = above.index(True)
    lo, hi = grid[i - 1], grid[i]
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if excess(mid) <= 0.0 else (lo, mid)
    return 0.5 * (lo + hi)
