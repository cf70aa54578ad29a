"""AdamW (Loshchilov & Hutter 2019), as torch.optim.AdamW: Adam with decoupled weight decay.

    w ← w·(1 − η·λ), then the Adam step of :mod:`simdyn.optimizers.adam` on the raw gradient.
"""

from .adam import FORMULA, adam_apply, adam_hypers, adam_moments, init, preconditioner
from .base import Optimizer


def update(w, g, s, t, lr, h, flags):
    beta1, beta2, eps, weight_decay = h
    m, v = s
    w = w * (1.0 - lr * weight_decay)
    m, v = adam_moments(m, v, g, beta1, beta2)
    return adam_apply(w, m, v, t, lr, beta1, beta2, eps, flags), (m, v)


OPTIMIZER = Optimizer(
    name="adamw",
    update=update,
    init=init,
    slots=("exp_avg", "exp_avg_sq"),
    hypers=adam_hypers(weight_decay=1e-2),
    flags={"bias_correction": True, "eps_inside_sqrt": False},
    reference="torch.optim.AdamW",
    formula="w <- w*(1 - lr*weight_decay); " + FORMULA,
    preconditioner=preconditioner,
    step_powers=True,
)
