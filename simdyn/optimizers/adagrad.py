"""AdaGrad (Duchi, Hazan & Singer 2011), as torch.optim.Adagrad.

    G_t = G_{t-1} + g_t²,   w_t = w_{t-1} − η_t · g_t / (√G_t + ε),   η_t = η / (1 + (t − 1)·lr_decay)
"""

import math

from .base import Optimizer, Hyper, learning_rate, nonnegative


def init(h):
    eps, initial_accumulator_value, lr_decay, weight_decay = h
    return (initial_accumulator_value,)


def update(w, g, s, t, lr, h, flags):
    eps, initial_accumulator_value, lr_decay, weight_decay = h
    g = g + weight_decay * w
    clr = lr * (1.0 / (1.0 + (t - 1) * lr_decay))  # per-step reciprocal: a product per trajectory
    state_sum = s[0] + g * g
    std = math.sqrt(state_sum) + eps
    return w + ((-clr) * g) / std, (state_sum,)


OPTIMIZER = Optimizer(
    name="adagrad",
    update=update,
    init=init,
    slots=("sum",),
    hypers={
        "lr": learning_rate(1e-2),
        "eps": nonnegative(1e-10, "ε added to √G"),
        "initial_accumulator_value": nonnegative(0.0, "G_0"),
        "lr_decay": nonnegative(0.0, "η_t = η / (1 + (t−1)·lr_decay)"),
        "weight_decay": nonnegative(0.0, "L2 penalty added to the gradient"),
    },
    reference="torch.optim.Adagrad",
    formula="G_t = G_{t-1} + g_t^2; w_t = w_{t-1} - lr_t * g_t / (sqrt(G_t) + eps)",
)
