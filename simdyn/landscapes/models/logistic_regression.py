"""``logistic_regression``: binary classification with the mean log-loss (cross-entropy).

Formula (labels y_i ∈ {0, 1}, z_i = x_iᵀ w, σ(z) = 1/(1 + e^{−z}))
    L(w) = (1/m) Σ_i [ −y_i log σ(z_i) − (1 − y_i) log(1 − σ(z_i)) ]
         = (1/m) Σ_i [ max(z_i, 0) − y_i z_i + log1p(e^{−|z_i|}) ]      (the stable form used)
    ∇L(w) = Xᵀ(σ(Xw) − y) / m
    The stable form is the one of torch.nn.BCEWithLogitsLoss / scikit-learn; σ is evaluated as
    1/(1 + e^{−z}) for z ≥ 0 and e^{z}/(1 + e^{z}) for z < 0, so neither overflows.
Data
    ``X`` (m, d), ``y`` (m,) in {0, 1} (in this order).
Critical points
    None listed: the minimum has no closed form, and on linearly separable data there is none
    (the loss decreases to 0 as ‖w‖ → ∞ along a separating direction).
Forms
    ``grad``: loops per example (CPU and CUDA); ``tile_grad``: Z = W Xᵀ and G = (σ(Z) − y) X / m
    as two matrix products over a tile of trajectories (CPU); ``value_grad``/``tile_value_grad``
    add the loss from the same margins; ``hvp``: ∇²L·u = Xᵀ[σ(z)(1 − σ(z)) ⊙ Xu]/m.
"""

from __future__ import annotations

import math

import numpy as np

from ..base import Landscape
from . import _checks


def sigmoid(z):
    """σ(z) without overflow: 1/(1 + e^{−z}) for z ≥ 0, e^{z}/(1 + e^{z}) for z < 0."""
    if z >= 0.0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def grad(w, p, data, t, g):
    """g = Xᵀ(σ(Xw) − y)/m, one example at a time."""
    x, y = data[0], data[1]
    m, d = x.shape
    for k in range(d):
        g[k] = 0.0
    for i in range(m):
        z = 0.0
        for k in range(d):
            z += x[i, k] * w[k]
        r = sigmoid(z) - y[i]
        for k in range(d):
            g[k] += x[i, k] * r
    for k in range(d):
        g[k] = g[k] / m


def loss(w, p, data, t):
    """(1/m) Σ_i max(z_i, 0) − y_i z_i + log1p(exp(−|z_i|))."""
    x, y = data[0], data[1]
    total = 0.0
    for i in range(x.shape[0]):
        z = 0.0
        for k in range(x.shape[1]):
            z += x[i, k] * w[k]
        total += max(z, 0.0) - y[i] * z + math.log1p(math.exp(-abs(z)))
    return total / x.shape[0]


def tile_grad(w, p, data, t, g):
    """G = (σ(W Xᵀ) − y) X / m for a tile of trajectories (rows of W, G)."""
    x, y = data[0], data[1]
    r = np.dot(w, x.T)
    for j in range(r.shape[0]):
        for i in range(r.shape[1]):
            r[j, i] = (sigmoid(r[j, i]) - y[i]) / x.shape[0]
    np.dot(r, x, g)


def value_grad(w, p, data, t, g):
    """The mean log-loss and g = Xᵀ(σ(Xw) − y)/m from the same margins z_i."""
    x, y = data[0], data[1]
    m, d = x.shape
    for k in range(d):
        g[k] = 0.0
    total = 0.0
    for i in range(m):
        z = 0.0
        for k in range(d):
            z += x[i, k] * w[k]
        total += max(z, 0.0) - y[i] * z + math.log1p(math.exp(-abs(z)))
        r = sigmoid(z) - y[i]
        for k in range(d):
            g[k] += x[i, k] * r
    for k in range(d):
        g[k] = g[k] / m
    return total / m


def tile_value_grad(w, p, data, t, g, out):
    """:func:`tile_grad` and the tile's mean log-losses from the same margins Z = W Xᵀ."""
    x, y = data[0], data[1]
    m = x.shape[0]
    r = np.dot(w, x.T)
    for j in range(r.shape[0]):
        total = 0.0
        for i in range(m):
            z = r[j, i]
            total += max(z, 0.0) - y[i] * z + math.log1p(math.exp(-abs(z)))
            r[j, i] = (sigmoid(z) - y[i]) / m
        out[j] = total / m
    np.dot(r, x, g)


def hvp(w, p, data, t, u, out):
    """∇²L·u = Xᵀ[σ(z)(1 − σ(z)) ⊙ X u]/m, z = Xw."""
    x = data[0]
    m, d = x.shape
    for k in range(d):
        out[k] = 0.0
    for i in range(m):
        z = 0.0
        r = 0.0
        for k in range(d):
            z += x[i, k] * w[k]
            r += x[i, k] * u[k]
        q = sigmoid(z)
        r = r * q * (1.0 - q)
        for k in range(d):
            out[k] += x[i, k] * r
    for k in range(d):
        out[k] = out[k] / m


def logistic_regression(X, y) -> Landscape:
    """The mean log-loss of a linear classifier on data X (m, d), labels y (m,) in {0, 1}."""
    x = _checks.matrix("X", X, "logistic_regression")
    y = _checks.targets("y", y, x.shape[0], "logistic_regression", ndim=(1,))
    bad = np.flatnonzero((y != 0.0) & (y != 1.0))
    if bad.size:
        raise ValueError(f"logistic_regression: y must hold labels in {{0, 1}}, got y[{bad[0]}] = {y[bad[0]]!r}")
    return Landscape(
        "logistic_regression",
        x.shape[1],
        grad,
        loss,
        formula="mean_i [max(z_i, 0) - y_i z_i + log1p(exp(-|z_i|))], z = X w",
        doc=__doc__,
        form="array",
        data={"X": x, "y": y},
        tile_grad=tile_grad,
        value_grad=value_grad,
        tile_value_grad=tile_value_grad,
        hvp=hvp,
    )
