"""Adamax (Kingma & Ba 2015, Algorithm 2, the ∞-norm Adam), as torch.optim.Adamax.

    m_t = β₁·m_{t-1} + (1 − β₁)·g_t,   u_t = max(β₂·u_{t-1}, |g_t| + ε),
    w_t = w_{t-1} − η/(1 − β₁ᵗ) · m_t / u_t
"""

from ._pieces import bias_correction, lerp
from .base import Optimizer, decay_rate, learning_rate, nonnegative


def init(h):
    return (0.0, 0.0)


def update(w, g, s, t, lr, h, flags):
    beta1, beta2, eps, weight_decay = h
    m, u = s
    g = g + weight_decay * w
    m = lerp(m, g, 1.0 - beta1)
    u = max(u * beta2, abs(g) + eps)
    clr = lr * (1.0 / bias_correction(beta1, t, True))  # a per-step reciprocal, not a division per trajectory
    return w + ((-clr) * m) / u, (m, u)


OPTIMIZER = Optimizer(
    name="adamax",
    update=update,
    init=init,
    slots=("exp_avg", "exp_inf"),
    hypers={
        "lr": learning_rate(2e-3),
        "beta1": decay_rate(0.9, "β₁, decay of the first-moment average"),
        "beta2": decay_rate(0.999, "β₂, decay of the infinity-norm"),
        "eps": nonnegative(1e-8, "ε added to |g|"),
        "weight_decay": nonnegative(0.0, "L2 penalty added to the gradient"),
    },
    reference="torch.optim.Adamax",
    formula="m_t = b1*m + (1-b1)*g; u_t = max(b2*u, |g|+eps); w_t = w - lr/(1-b1^t) * m_t/u_t",
    step_powers=True,
)
