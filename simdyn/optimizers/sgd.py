"""Plain gradient descent, w ← w − η·∇f(w) (torch.optim.SGD with momentum 0)."""

from .base import Optimizer, learning_rate


def init(h):
    return ()


def update(w, g, s, t, lr, h, flags):
    return w + (-lr) * g, s


OPTIMIZER = Optimizer(
    name="sgd",
    update=update,
    init=init,
    slots=(),
    hypers={"lr": learning_rate(1e-3)},
    reference="torch.optim.SGD(lr)",
    formula="w_t = w_{t-1} - lr * g_t",
)
