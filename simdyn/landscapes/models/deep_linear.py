"""``deep_linear``: a deep linear network with one hidden layer, L = ½·mean_i ‖W₂ W₁ x_i − y_i‖².

Formula (X of shape (m, n₀), one example x_i per row; Y of shape (m, n₂))
    L(W₁, W₂) = (1/2m) Σ_i ‖W₂ W₁ x_i − y_i‖²      (summed over outputs, averaged over examples)
    e_i = W₂ W₁ x_i − y_i,   ∇_{W₂} L = (1/m) Σ_i e_i (W₁ x_i)ᵀ,   ∇_{W₁} L = (1/m) Σ_i W₂ᵀ e_i x_iᵀ
    The setting of Saxe, McClelland & Ganguli 2014 ("Exact solutions to the nonlinear dynamics
    of learning in deep linear neural networks") and of the small-initialisation studies after it.
Parameter layout
    ``widths = (n₀, n₁, n₂)``: input, hidden and output widths. w = [W₁.ravel(), W₂.ravel()],
    each W_l of shape (fan_out, fan_in) (the layout of torch.nn.Linear.weight) flattened in C
    order: W₁[j, k] = w[j·n₀ + k], W₂[o, j] = w[n₁·n₀ + o·n₁ + j]; d = n₁(n₀ + n₂).
    Groups ``layer1`` = w[:n₁n₀], ``layer2`` = w[n₁n₀:].
Critical points
    The origin (∇L = 0 there, as every term carries a product of the other layer's weights): a
    saddle when YᵀX ≠ 0 (the Hessian has the eigenvalues ±σ of the cross-covariance YᵀX/m), listed
    as "origin". Small initialisations start next to it (:func:`deep_linear_init`).
Initialiser
    :func:`deep_linear_init` (n points with i.i.d. N(0, σ²) entries).
Forms
    ``grad`` keeps O(1) memory per trajectory (so it compiles as a CUDA device function, which
    cannot allocate): for each example and output it recomputes the hidden units, 3·n₀n₁n₂
    multiply-adds per example. ``tile_grad`` (CPU) does the tile's first layer as one product
    X·[W₁ᵀ of every trajectory] and its backward pass as one product Xᵀ·[…].
    Only one hidden layer: deeper networks need per-example activation storage, which the
    single per-trajectory source (CPU and CUDA) cannot allocate.
"""

from __future__ import annotations

import numpy as np

from ..base import CriticalPoint, Landscape
from . import _checks


def grad(w, p, data, t, g):
    """∇L by examples and outputs, recomputing hidden units instead of storing them."""
    x, y = data[0], data[1]
    m, n0 = x.shape
    n2 = y.shape[1]
    n1 = w.shape[0] // (n0 + n2)
    off = n1 * n0
    for k in range(w.shape[0]):
        g[k] = 0.0
    for i in range(m):
        for o in range(n2):
            e = -y[i, o]
            for j in range(n1):
                a = 0.0
                for k in range(n0):
                    a += w[j * n0 + k] * x[i, k]
                e += w[off + o * n1 + j] * a
            e = e / m
            for j in range(n1):
                a = 0.0
                for k in range(n0):
                    a += w[j * n0 + k] * x[i, k]
                g[off + o * n1 + j] += e * a
                c = e * w[off + o * n1 + j]
                for k in range(n0):
                    g[j * n0 + k] += c * x[i, k]


def loss(w, p, data, t):
    """(1/2m) Σ_i Σ_o ((W₂W₁x_i)_o − y_io)²."""
    x, y = data[0], data[1]
    m, n0 = x.shape
    n2 = y.shape[1]
    n1 = w.shape[0] // (n0 + n2)
    off = n1 * n0
    total = 0.0
    for i in range(m):
        for o in range(n2):
            e = -y[i, o]
            for j in range(n1):
                a = 0.0
                for k in range(n0):
                    a += w[j * n0 + k] * x[i, k]
                e += w[off + o * n1 + j] * a
            total += e * e
    return 0.5 * total / m


def tile_grad(w, p, data, t, g):
    """∇L for a tile of trajectories: A = X·[W₁ᵀ …] and Xᵀ·[back …] as one GEMM each."""
    x, y = data[0], data[1]
    m, n0 = x.shape
    n2 = y.shape[1]
    n = w.shape[0]
    n1 = w.shape[1] // (n0 + n2)
    off = n1 * n0
    first = np.empty((n0, n * n1), dtype=w.dtype)  # first[k, r·n₁ + j] = W₁[j, k] of trajectory r
    for r in range(n):
        for j in range(n1):
            for k in range(n0):
                first[k, r * n1 + j] = w[r, j * n0 + k]
    a = np.dot(x, first)  # (m, n·n₁): hidden units of every example and trajectory
    back = np.empty_like(a)
    for r in range(n):
        for o in range(n2):
            for j in range(n1):
                g[r, off + o * n1 + j] = 0.0
        for i in range(m):
            for j in range(n1):
                back[i, r * n1 + j] = 0.0
            for o in range(n2):
                e = -y[i, o]
                for j in range(n1):
                    e += w[r, off + o * n1 + j] * a[i, r * n1 + j]
                e = e / m
                for j in range(n1):
                    g[r, off + o * n1 + j] += e * a[i, r * n1 + j]
                    back[i, r * n1 + j] += e * w[r, off + o * n1 + j]
    grad_first = np.dot(x.T, back)  # (n₀, n·n₁)
    for r in range(n):
        for j in range(n1):
            for k in range(n0):
                g[r, j * n0 + k] = grad_first[k, r * n1 + j]


def _widths(widths, x, y) -> tuple:
    try:
        widths = tuple(widths)
    except TypeError:
        raise TypeError(f"deep_linear: widths must be a sequence (n0, n1, n2) of integers, got {widths!r}") from None
    if len(widths) != 3:
        raise ValueError(f"deep_linear: widths must have 3 entries (input, hidden, output; one hidden layer), "
                         f"got {len(widths)}")
    widths = tuple(_checks.positive_int("widths", n, "deep_linear") for n in widths)
    if x is not None and widths[0] != x.shape[1]:
        raise ValueError(f"deep_linear: widths[0] = {widths[0]} must equal the input width X.shape[1] = {x.shape[1]}")
    if y is not None and widths[2] != y.shape[1]:
        raise ValueError(f"deep_linear: widths[2] = {widths[2]} must equal the output width Y.shape[1] = {y.shape[1]}")
    return widths


def deep_linear(X, Y, widths) -> Landscape:
    """The two-layer linear network ½·mean_i ‖W₂W₁x_i − y_i‖² (module docstring: layout, groups)."""
    x = _checks.matrix("X", X, "deep_linear")
    y = _checks.targets("Y", Y, x.shape[0], "deep_linear")
    if y.ndim == 1:
        y = y[:, None]
    n0, n1, n2 = _widths(widths, x, y)
    cross = y.T @ x / x.shape[0]
    points = [] if not np.any(cross) else [CriticalPoint("saddle", np.zeros(n1 * (n0 + n2)), "origin")]
    return Landscape(
        "deep_linear",
        n1 * (n0 + n2),
        grad,
        loss,
        critical_points=points,
        formula="0.5 * mean_i ||W2 W1 x_i - y_i||^2, W_l of shape (fan_out, fan_in)",
        doc=__doc__,
        form="array",
        data={"X": x, "Y": y},
        groups={"layer1": slice(0, n1 * n0), "layer2": slice(n1 * n0, n1 * (n0 + n2))},
        tile_grad=tile_grad,
    )


def deep_linear_init(widths, sigma, n, seed=0) -> np.ndarray:
    """``n`` initial points (n, d) of :func:`deep_linear` with i.i.d. N(0, σ²) entries.

    Small σ is the small-initialisation (saddle-to-saddle) regime; rows follow the layout of
    :func:`deep_linear`. Drawn with ``numpy.random.default_rng(seed)``.
    """
    n0, n1, n2 = _widths(widths, None, None)
    if not np.isfinite(sigma) or sigma < 0:
        raise ValueError(f"deep_linear_init: sigma must be a finite number >= 0, got {sigma!r}")
    n = _checks.positive_int("n", n, "deep_linear_init")
    return np.random.default_rng(seed).normal(scale=float(sigma), size=(n, n1 * (n0 + n2)))
