"""``least_squares``: linear regression, L(w) = ‖Xw − y‖² / (2m).

Formula
    L(w) = (1/2m) Σ_i (x_iᵀ w − y_i)²,   ∇L(w) = Xᵀ(Xw − y) / m
    X of shape (m, d) (one example per row), y of shape (m,).
Data
    ``X``, ``y`` (in this order).
Critical points
    When X has full column rank, the unique minimum w* = (XᵀX)⁻¹Xᵀy (``numpy.linalg.lstsq``),
    named "lstsq". Otherwise the minimizers form an affine subspace and none is listed.
Forms
    ``grad`` is two loops per example (residual, then Xᵀr), compiled for the CPU and CUDA;
    ``tile_grad`` takes a tile of trajectories W (n, d) as two matrix products,
    R = W Xᵀ − y and G = R X / m (BLAS). ``value_grad``/``tile_value_grad`` add the loss from the
    same residuals; ``hvp``: ∇²L·u = Xᵀ(Xu)/m.
"""

from __future__ import annotations

import numpy as np

from ..base import CriticalPoint, Landscape
from . import _checks


def grad(w, p, data, t, g):
    """g = Xᵀ(Xw − y)/m, one example at a time (:func:`value_grad`, whose loss costs one product
    per example)."""
    value_grad(w, p, data, t, g)


def loss(w, p, data, t):
    """‖Xw − y‖² / (2m)."""
    x, y = data[0], data[1]
    total = 0.0
    for i in range(x.shape[0]):
        r = -y[i]
        for k in range(x.shape[1]):
            r += x[i, k] * w[k]
        total += r * r
    return 0.5 * total / x.shape[0]


def tile_grad(w, p, data, t, g):
    """G = (W Xᵀ − y) X / m for a tile of trajectories (rows of W, G): two GEMMs
    (:func:`tile_value_grad` without the losses)."""
    out = np.empty(w.shape[0], dtype=w.dtype)
    tile_value_grad(w, p, data, t, g, out)


def value_grad(w, p, data, t, g):
    """‖Xw − y‖²/(2m) and g = Xᵀ(Xw − y)/m from the same residuals."""
    x, y = data[0], data[1]
    m, d = x.shape
    for k in range(d):
        g[k] = 0.0
    total = 0.0
    for i in range(m):
        r = -y[i]
        for k in range(d):
            r += x[i, k] * w[k]
        total += r * r
        for k in range(d):
            g[k] += x[i, k] * r
    for k in range(d):
        g[k] = g[k] / m
    return 0.5 * total / m


def tile_value_grad(w, p, data, t, g, out):
    """:func:`tile_grad` and the tile's losses Σ_i R_ji² / (2m) from its residuals."""
    x, y = data[0], data[1]
    m = x.shape[0]
    r = np.dot(w, x.T)
    for j in range(r.shape[0]):
        total = 0.0
        for i in range(m):
            e = r[j, i] - y[i]
            total += e * e
            r[j, i] = e / m
        out[j] = 0.5 * total / m
    np.dot(r, x, g)


def hvp(w, p, data, t, u, out):
    """∇²L·u = Xᵀ(X u)/m (the Hessian XᵀX/m does not depend on w)."""
    x = data[0]
    m, d = x.shape
    for k in range(d):
        out[k] = 0.0
    for i in range(m):
        r = 0.0
        for k in range(d):
            r += x[i, k] * u[k]
        for k in range(d):
            out[k] += x[i, k] * r
    for k in range(d):
        out[k] = out[k] / m


def least_squares(X, y) -> Landscape:
    """The landscape ‖Xw − y‖²/(2m) for data X (m, d) and targets y (m,) (module docstring)."""
    x = _checks.matrix("X", X, "least_squares")
    y = _checks.targets("y", y, x.shape[0], "least_squares", ndim=(1,))
    points = []
    if np.linalg.matrix_rank(x) == x.shape[1]:
        solution = np.linalg.lstsq(x, y, rcond=None)[0]
        points = [CriticalPoint("minimum", solution, "lstsq")]
    return Landscape(
        "least_squares",
        x.shape[1],
        grad,
        loss,
        critical_points=points,
        formula="||X w - y||^2 / (2 m)",
        doc=__doc__,
        form="array",
        data={"X": x, "y": y},
        tile_grad=tile_grad,
        value_grad=value_grad,
        tile_value_grad=tile_value_grad,
        hvp=hvp,
    )
