"""Adam (Kingma & Ba 2015, Algorithm 1), as torch.optim.Adam, with its variants as flags.

    m_t = β₁·m_{t-1} + (1 − β₁)·g_t          v_t = β₂·v_{t-1} + (1 − β₂)·g_t²
    w_t = w_{t-1} − η/(1 − β₁ᵗ) · m_t / (√v_t/√(1 − β₂ᵗ) + ε)

Flags: ``bias_correction=False`` drops both corrections (the long-run form, Eq. 5 of "Exploring
the dynamics of Adam"); ``eps_inside_sqrt=True`` uses √(v̂_t + ε) (the form of "Mr. Adam, who are
you?" and of the AdamW survey). Dividing by the running maximum of v_t (Reddi et al. 2018) is
the registered optimizer ``amsgrad``. ``weight_decay`` is an L2 penalty added to the gradient
(torch.optim.Adam); AdamW's decoupled decay lives in :mod:`simdyn.optimizers.adamw`.
"""

import numpy as np

from ._pieces import adam_denominator, bias_correction, ema_square, lerp
from .base import Optimizer, decay_rate, learning_rate, nonnegative


def adam_moments(m, v, g, beta1, beta2):
    """m ← lerp(m, g, 1 − β₁), v ← β₂·v + (1 − β₂)·g² (torch's operation order)."""
    return lerp(m, g, 1.0 - beta1), ema_square(v, g, beta2)


def adam_apply(w, m, v, t, lr, beta1, beta2, eps, flags):
    """w − η/bc₁ · m/(√v/√bc₂ + ε): the parameter step given the moments (torch's addcdiv).

    η/bc₁ is evaluated as η · (1/bc₁): the reciprocal is a per-step constant, so a learning
    rate that varies across a tile costs a product, not a division.
    """
    bias_corrected, eps_inside_sqrt = flags
    step_size = lr * (1.0 / bias_correction(beta1, t, bias_corrected))
    denom = adam_denominator(v, bias_correction(beta2, t, bias_corrected), eps, eps_inside_sqrt)
    return w + ((-step_size) * m) / denom


def init(h):
    return (0.0, 0.0)


def update(w, g, s, t, lr, h, flags):
    beta1, beta2, eps, weight_decay = h
    m, v = s
    g = g + weight_decay * w
    m, v = adam_moments(m, v, g, beta1, beta2)
    return adam_apply(w, m, v, t, lr, beta1, beta2, eps, flags), (m, v)


def update_without_decay_beta1_above_half(w, g, s, t, lr, h, flags):
    """``update`` where λ = 0 and β₁ > 1/2, the usual case, compiled in its place
    (:func:`specialize`): the term g + λ·w is left out (torch.optim.Adam skips it when
    weight_decay is 0) and torch's lerp takes its first form m + (1 − β₁)·(g − m) without the
    branch on |1 − β₁| < 1/2, which would stay in the vectorised loop. Equal to ``update`` bit for
    bit at every finite w (0·w is ±0 and adding it changes no later result)."""
    beta1, beta2, eps, weight_decay = h
    m, v = s
    m, v = m + (1.0 - beta1) * (g - m), ema_square(v, g, beta2)
    return adam_apply(w, m, v, t, lr, beta1, beta2, eps, flags), (m, v)


def specialize(values):
    """The update to compile for a launch whose hyperparameters take ``values`` (name -> array of
    every value): :func:`update_without_decay_beta1_above_half` when every λ is 0 and every β₁
    above 1/2, else ``update`` (measured on Adam in 2-D, one thread: the decay term and the lerp
    branch together cost ≈ 4 % of the step)."""
    if not np.any(values["weight_decay"]) and np.all(values["beta1"] > 0.5):
        return update_without_decay_beta1_above_half
    return update


def init_amsgrad(h):
    return (0.0, 0.0, 0.0)


def update_amsgrad(w, g, s, t, lr, h, flags):
    beta1, beta2, eps, weight_decay = h
    m, v, v_max = s
    g = g + weight_decay * w
    m, v = adam_moments(m, v, g, beta1, beta2)
    v_max = max(v_max, v)
    return adam_apply(w, m, v_max, t, lr, beta1, beta2, eps, flags), (m, v, v_max)


def adam_preconditioner(v, t, beta1, beta2, eps, flags):
    """Adam's diagonal preconditioner after step t (Cohen et al. 2022, "Adaptive gradient methods
    at the edge of stability", §2, Eq. for Adam), in NumPy:

        P_t = (1 − β₁ᵗ)·(√(v_t/(1 − β₂ᵗ)) + ε)        (ε inside: (1 − β₁ᵗ)·√(v_t/(1 − β₂ᵗ) + ε))

    so that the step is w_t = w_{t−1} − η·P_t⁻¹·m_t; without bias correction both 1 − βᵗ are 1.
    """
    bias_corrected, eps_inside_sqrt = flags
    bc1 = 1.0 - beta1 ** float(t) if bias_corrected else 1.0
    bc2 = 1.0 - beta2 ** float(t) if bias_corrected else 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        if eps_inside_sqrt:
            return bc1 * np.sqrt(v / bc2 + eps)
        return bc1 * (np.sqrt(v / bc2) + eps)


def preconditioner(s, t, h, flags):
    beta1, beta2, eps, weight_decay = h
    return adam_preconditioner(s[1], t, beta1, beta2, eps, flags)


def preconditioner_amsgrad(s, t, h, flags):
    beta1, beta2, eps, weight_decay = h
    return adam_preconditioner(s[2], t, beta1, beta2, eps, flags)


def adam_hypers(lr=1e-3, weight_decay=0.0):
    return {
        "lr": learning_rate(lr),
        "beta1": decay_rate(0.9, "β₁, decay of the first-moment average"),
        "beta2": decay_rate(0.999, "β₂, decay of the second-moment average"),
        "eps": nonnegative(1e-8, "ε added to the root of the second moment"),
        "weight_decay": nonnegative(weight_decay, "weight decay coefficient"),
    }


FORMULA = (
    "m_t = b1*m + (1-b1)*g; v_t = b2*v + (1-b2)*g^2; "
    "w_t = w - lr/(1-b1^t) * m_t / (sqrt(v_t)/sqrt(1-b2^t) + eps)"
)

OPTIMIZER = Optimizer(
    name="adam",
    update=update,
    init=init,
    slots=("exp_avg", "exp_avg_sq"),
    hypers=adam_hypers(),
    flags={"bias_correction": True, "eps_inside_sqrt": False},
    reference="torch.optim.Adam (weight_decay is L2)",
    formula=FORMULA,
    preconditioner=preconditioner,
    specialize=specialize,
    step_powers=True,
)

AMSGRAD = Optimizer(
    name="amsgrad",
    update=update_amsgrad,
    init=init_amsgrad,
    slots=("exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
    hypers=adam_hypers(),
    flags={"bias_correction": True, "eps_inside_sqrt": False},
    reference="torch.optim.Adam(amsgrad=True)",
    formula=FORMULA.replace("sqrt(v_t)", "sqrt(max_{s<=t} v_s)"),
    preconditioner=preconditioner_amsgrad,
    step_powers=True,
)
