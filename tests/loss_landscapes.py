"""Small landscapes of the loss-observer tests, shared by the CPU and CUDA-simulator modules.

``least_squares_landscape``: L(w) = ‖Xw − y‖²/(2m) (the model ``sd.landscapes.least_squares``),
with ``value_grad`` and the CPU tile forms (``with_value_grad=False``: ``grad``/``loss`` only, the engine's two-call fallback).
``bowl``: the tuple-form L(x, y) = log(1 + x²) + ½y², positive, with groups ``x`` and ``y``: its
bounded slope in x keeps GD finite but untrainable at large lr_x, and y diverges for lr_y > 2.
"""

import math

import numpy as np

import simdyn as sd

RNG = np.random.default_rng(11)
X = RNG.normal(size=(6, 3))
Y = RNG.normal(size=6)


def least_squares_landscape(with_value_grad=True):
    """``sd.landscapes.least_squares`` on (X, Y), with coordinate groups a/b, and without its
    ``value_grad`` / tile forms when ``with_value_grad`` is False."""
    model = sd.landscapes.least_squares(X, Y)
    extra = dict(tile_grad=model.tile_grad, value_grad=model.value_grad, tile_value_grad=model.tile_value_grad) \
        if with_value_grad else {}
    return sd.Landscape("loss_test_ls", 3, model.grad, model.loss, form="array", data=model.data,
                        groups={"a": slice(0, 1), "b": slice(1, 3)}, **extra)


def ls_numpy():
    """(loss, grad) of the least squares in NumPy, the oracle's."""
    def loss(w):
        r = X @ w - Y
        return r @ r / (2 * len(Y))

    def grad(w):
        return X.T @ (X @ w - Y) / len(Y)
    return loss, grad


def bowl_grad(w, p, t):
    x, y = w
    return (2.0 * x / (1.0 + x * x), y)


def bowl_loss(w, p, t):
    x, y = w
    return math.log(1.0 + x * x) + 0.5 * y * y


def bowl():
    return sd.Landscape("loss_test_bowl", 2, bowl_grad, bowl_loss, groups={"x": slice(0, 1), "y": slice(1, 2)},
                        formula="log(1 + x^2) + y^2 / 2")


def bowl_numpy():
    def loss(w):
        return np.log1p(w[0] ** 2) + 0.5 * w[1] ** 2

    def grad(w):
        return np.array([2 * w[0] / (1 + w[0] ** 2), w[1]])
    return loss, grad
