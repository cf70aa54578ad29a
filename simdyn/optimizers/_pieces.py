"""Scalar building blocks shared by the update rules (one coordinate, plain Python).

They reproduce torch's tensor primitives operation for operation, so that float64 results
match torch.optim to the last few ulp. ATen evaluates ``addcdiv_(t1, t2, value=c)`` as
``self + (c·t1)/t2`` and ``addcmul_(t1, t2, value=c)`` as ``self + (c·t1)·t2``; the update
rules write those expressions in that order.
"""

import math


def lerp(start, end, weight):
    """torch.lerp: start + weight·(end − start), evaluated from the nearer end as ATen does."""
    if abs(weight) < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1.0 - weight)


def ema_square(v, g, beta2):
    """Second-moment average v ← β₂·v + (1 − β₂)·g² (torch: v.mul_(β₂).addcmul_(g, g, 1 − β₂): (1 − β₂)·g·g left to right, as ATen)."""
    return v * beta2 + (1.0 - beta2) * g * g


def bias_correction(beta, t, enabled):
    """1 − βᵗ (Kingma & Ba 2015, Alg. 1), or 1 when the correction is switched off."""
    if enabled:
        return 1.0 - beta ** float(t)
    return 1.0


def adam_denominator(v, bc2, eps, eps_inside_sqrt):
    """√(v / bc₂) + ε, evaluated as √v · (1/√bc₂) + ε (torch: √v / √bc₂ + ε), or √(v·(1/bc₂) + ε)
    when ε sits inside.

    The reciprocal depends on the step only, so the engine computes it once per step and the
    coordinate pays one product instead of a division: the divider bounds Adam's step on the
    CPU (1 sqrt + 2 div per coordinate-step before, 1 sqrt + 1 div now). The result differs
    from torch's by at most an ulp per step; the torch-parity tests (rtol 1e-10 at every step)
    hold.
    """
    if eps_inside_sqrt:
        return math.sqrt(v * (1.0 / bc2) + eps)
    return math.sqrt(v) * (1.0 / math.sqrt(bc2)) + eps
