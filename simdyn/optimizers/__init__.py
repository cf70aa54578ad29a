"""The registry of update rules. Each lives in its own module as plain scalar Python."""

from __future__ import annotations

from . import adagrad, adam, adamax, adamw, momentum, nadam, radam, rmsprop, sgd
from .base import Hyper, Optimizer

OPTIMIZERS: dict[str, Optimizer] = {
    opt.name: opt
    for opt in (
        sgd.OPTIMIZER,
        momentum.OPTIMIZER,
        momentum.NESTEROV,
        adagrad.OPTIMIZER,
        rmsprop.OPTIMIZER,
        adam.OPTIMIZER,
        adam.AMSGRAD,
        adamw.OPTIMIZER,
        adamax.OPTIMIZER,
        nadam.OPTIMIZER,
        radam.OPTIMIZER,
    )
}


def get_optimizer(spec) -> Optimizer:
    """Resolve a registered name or pass an :class:`Optimizer` through."""
    if isinstance(spec, Optimizer):
        return spec
    if isinstance(spec, str):
        try:
            return OPTIMIZERS[spec.lower()]
        except KeyError:
            raise ValueError(
                f"optimizer: unknown name {spec!r}; known optimizers: {', '.join(OPTIMIZERS)}"
            ) from None
    raise TypeError(
        f"optimizer: expected a registered name or an sd.Optimizer, got {type(spec).__name__}"
    )


__all__ = ["OPTIMIZERS", "Hyper", "Optimizer", "get_optimizer"]
