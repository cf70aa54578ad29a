"""Polyak heavy-ball momentum and its Nesterov form (torch.optim.SGD(momentum=β[, nesterov=True])).

    b_1 = g_1,  b_t = μ·b_{t-1} + (1 − dampening)·g_t
    heavy ball: w_t = w_{t-1} − η·b_t
    Nesterov:   w_t = w_{t-1} − η·(g_t + μ·b_t)

Polyak (1964), "Some methods of speeding up the convergence of iteration methods"; Sutskever et
al. (2013) for the Nesterov form torch uses. torch's first step copies the gradient into the
buffer without dampening; so does this.
"""

from .base import Optimizer, decay_rate, learning_rate, nonnegative


def init(h):
    return (0.0,)


def update(w, g, s, t, lr, h, flags):
    momentum, dampening = h
    (nesterov,) = flags
    if t == 1:
        buf = g
    else:
        buf = s[0] * momentum + (1.0 - dampening) * g
    if nesterov:
        direction = g + momentum * buf
    else:
        direction = buf
    return w + (-lr) * direction, (buf,)


def _make(name, nesterov, reference):
    hypers = {
        "lr": learning_rate(1e-3),
        "momentum": decay_rate(0.9, "momentum coefficient μ"),
        "dampening": nonnegative(0.0, "dampening of the gradient added to the buffer"),
    }
    if nesterov:
        hypers["dampening"] = decay_rate(0.0, "dampening (torch requires 0 with nesterov)")
    return Optimizer(
        name=name,
        update=update,
        init=init,
        slots=("momentum_buffer",),
        hypers=hypers,
        flags={"nesterov": nesterov},
        reference=reference,
        formula="b_t = momentum*b_{t-1} + (1-dampening)*g_t (b_1 = g_1); "
        + ("w_t = w_{t-1} - lr*(g_t + momentum*b_t)" if nesterov else "w_t = w_{t-1} - lr*b_t"),
    )


OPTIMIZER = _make("momentum", False, "torch.optim.SGD(lr, momentum, dampening)")
NESTEROV = _make("nesterov", True, "torch.optim.SGD(lr, momentum, nesterov=True)")
