"""RMSProp (Tieleman & Hinton 2012), as torch.optim.RMSprop, with its centered and momentum forms.

    v_t = α·v_{t-1} + (1 − α)·g_t²
    centered: ḡ_t = lerp(ḡ_{t-1}, g_t, 1 − α),  d_t = √(v_t − ḡ_t²) + ε;  else d_t = √v_t + ε
    momentum μ: b_t = μ·b_{t-1} + g_t/d_t,  w_t = w_{t-1} − η·b_t   (μ = 0: w_t = w_{t-1} − η·g_t/d_t)
"""

import math

import numpy as np

from ._pieces import ema_square, lerp
from .base import Optimizer, decay_rate, learning_rate, nonnegative


def init(h):
    return (0.0, 0.0, 0.0)


def update(w, g, s, t, lr, h, flags):
    alpha, eps, momentum, weight_decay = h
    (centered,) = flags
    square_avg, grad_avg, buf = s
    g = g + weight_decay * w
    square_avg = ema_square(square_avg, g, alpha)
    if centered:
        grad_avg = lerp(grad_avg, g, 1.0 - alpha)
        avg = math.sqrt(square_avg + (-1.0) * (grad_avg * grad_avg)) + eps
    else:
        avg = math.sqrt(square_avg) + eps
    if momentum > 0.0:
        buf = buf * momentum + g / avg
        w_new = w + (-lr) * buf
    else:
        w_new = w + ((-lr) * g) / avg
    return w_new, (square_avg, grad_avg, buf)


def preconditioner(s, t, h, flags):
    """RMSProp's diagonal preconditioner after step t (Cohen et al. 2022, §2), in NumPy:
    P_t = √v_t + ε, or √(v_t − ḡ_t²) + ε when centered, so that w_t = w_{t−1} − η·P_t⁻¹·g_t."""
    alpha, eps, momentum, weight_decay = h
    (centered,) = flags
    square_avg, grad_avg, _ = s
    if centered:
        square_avg = square_avg - grad_avg * grad_avg
    with np.errstate(invalid="ignore"):
        return np.sqrt(square_avg) + eps


OPTIMIZER = Optimizer(
    name="rmsprop",
    update=update,
    init=init,
    slots=("square_avg", "grad_avg", "momentum_buffer"),
    hypers={
        "lr": learning_rate(1e-2),
        "alpha": decay_rate(0.99, "smoothing constant α of the squared-gradient average"),
        "eps": nonnegative(1e-8, "ε added to the root mean square"),
        "momentum": decay_rate(0.0, "momentum μ of the preconditioned step"),
        "weight_decay": nonnegative(0.0, "L2 penalty added to the gradient"),
    },
    flags={"centered": False},
    reference="torch.optim.RMSprop",
    formula="v_t = alpha*v_{t-1} + (1-alpha)*g_t^2; w_t = w_{t-1} - lr * g_t / (sqrt(v_t) + eps)",
    preconditioner=preconditioner,
)
