"""NAdam (Dozat 2016), as torch.optim.NAdam.

    μ_t = β₁·(1 − ½·0.96^(t·ψ)),  Π_t = Π_{t-1}·μ_t
    w_t = w_{t-1} − η(1 − μ_t)/(1 − Π_t) · g_t/d_t − η·μ_{t+1}/(1 − Π_t·μ_{t+1}) · m_t/d_t,
    d_t = √(v_t/(1 − β₂ᵗ)) + ε

The running product Π is, as in torch, a state slot (the same for every coordinate).
"""

import math

from ._pieces import ema_square, lerp
from .base import Optimizer, decay_rate, learning_rate, nonnegative


def init(h):
    return (0.0, 0.0, 1.0)


def update(w, g, s, t, lr, h, flags):
    beta1, beta2, eps, weight_decay, momentum_decay = h
    m, v, mu_product = s
    g = g + weight_decay * w
    step = float(t)
    bias_correction2 = 1.0 - beta2**step
    mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
    mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1.0) * momentum_decay)))
    mu_product = mu_product * mu
    m = lerp(m, g, 1.0 - beta1)
    v = ema_square(v, g, beta2)
    denom = math.sqrt(v * (1.0 / bias_correction2)) + eps  # per-step reciprocal: a product per coordinate
    mu_product_next = mu_product * mu_next
    w = w + ((-lr * (1.0 - mu) / (1.0 - mu_product)) * g) / denom
    w = w + (((-lr * mu_next) / (1.0 - mu_product_next)) * m) / denom
    return w, (m, v, mu_product)


OPTIMIZER = Optimizer(
    name="nadam",
    update=update,
    init=init,
    slots=("exp_avg", "exp_avg_sq", "mu_product"),
    hypers={
        "lr": learning_rate(2e-3),
        "beta1": decay_rate(0.9, "β₁, decay of the first-moment average"),
        "beta2": decay_rate(0.999, "β₂, decay of the second-moment average"),
        "eps": nonnegative(1e-8, "ε added to the root of the second moment"),
        "weight_decay": nonnegative(0.0, "L2 penalty added to the gradient"),
        "momentum_decay": nonnegative(4e-3, "ψ, momentum decay of the μ_t schedule"),
    },
    reference="torch.optim.NAdam",
    formula="Nesterov-accelerated Adam with mu_t = b1*(1 - 0.5*0.96^(t*psi)) (Dozat 2016)",
    step_powers=True,
)
