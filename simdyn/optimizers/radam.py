"""RAdam (Liu et al. 2020, "On the variance of the adaptive learning rate"), as torch.optim.RAdam.

    ρ_∞ = 2/(1 − β₂) − 1,  ρ_t = ρ_∞ − 2tβ₂ᵗ/(1 − β₂ᵗ)
    ρ_t > 5: w_t = w_{t-1} − η · m̂_t · √(1 − β₂ᵗ)/(√v_t + ε) · r_t,
             r_t = √((ρ_t − 4)(ρ_t − 2)ρ_∞ / ((ρ_∞ − 4)(ρ_∞ − 2)ρ_t))
    else:    w_t = w_{t-1} − η · m̂_t          (m̂_t = m_t/(1 − β₁ᵗ))
"""

import math

from ._pieces import ema_square, lerp
from .base import Optimizer, decay_rate, learning_rate, nonnegative


def init(h):
    return (0.0, 0.0)


def update(w, g, s, t, lr, h, flags):
    beta1, beta2, eps, weight_decay = h
    m, v = s
    g = g + weight_decay * w
    m = lerp(m, g, 1.0 - beta1)
    v = ema_square(v, g, beta2)
    step = float(t)
    bias_correction1 = 1.0 - beta1**step
    bias_correction2 = 1.0 - beta2**step
    corrected_m = m * (1.0 / bias_correction1)  # per-step reciprocal: a product per coordinate
    rho_inf = 2.0 / (1.0 - beta2) - 1.0
    rho_t = rho_inf - 2.0 * step * (beta2**step) / bias_correction2
    if rho_t > 5.0:
        rect = math.sqrt(
            (rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)
        )
        adaptive_lr = math.sqrt(bias_correction2) / (math.sqrt(v) + eps)
        w = w + (-1.0) * (corrected_m * lr * adaptive_lr * rect)
    else:
        w = w + (-1.0) * (corrected_m * lr)
    return w, (m, v)


OPTIMIZER = Optimizer(
    name="radam",
    update=update,
    init=init,
    slots=("exp_avg", "exp_avg_sq"),
    hypers={
        "lr": learning_rate(1e-3),
        "beta1": decay_rate(0.9, "β₁, decay of the first-moment average"),
        "beta2": decay_rate(0.999, "β₂, decay of the second-moment average"),
        "eps": nonnegative(1e-8, "ε added to the root of the second moment"),
        "weight_decay": nonnegative(0.0, "L2 penalty added to the gradient"),
    },
    reference="torch.optim.RAdam",
    formula="rectified Adam (Liu et al. 2020); plain momentum SGD while rho_t <= 5",
    step_powers=True,
)
