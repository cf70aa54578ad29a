"""``deep_linear``: a deep linear network of any depth, L = ½·mean_i ‖W_L ⋯ W₂ W₁ x_i − y_i‖².

Formula (X of shape (m, n₀), one example x_i per row; Y of shape (m, n_L))
    L(W₁ … W_L) = (1/2m) Σ_i ‖W_L ⋯ W₁ x_i − y_i‖²      (summed over outputs, averaged over examples)
    a₀ = x_i, a_l = W_l a_{l−1}, e_i = a_L − y_i;  ∇_{W_l} L = (1/m) Σ_i δ_l a_{l−1}ᵀ with
    δ_L = e_i, δ_{l−1} = W_lᵀ δ_l. The setting of Saxe, McClelland & Ganguli 2014 ("Exact
    solutions to the nonlinear dynamics of learning in deep linear neural networks") and of the
    small-initialisation (saddle-to-saddle) studies after it.
Parameter layout
    ``widths = (n₀, n₁, …, n_L)``: input, hidden and output widths (L ≥ 1 layers). w = [W₁.ravel(),
    …, W_L.ravel()], each W_l of shape (fan_out, fan_in) (the layout of torch.nn.Linear.weight)
    flattened in C order: W_l[j, k] = w[o_l + j·n_{l−1} + k], o_l = Σ_{k<l} n_k n_{k−1};
    d = Σ_l n_l n_{l−1}. Groups ``layer1`` … ``layerL``.
Critical points
    The origin (∇L = 0 there when L ≥ 2, as every term carries a product of the other layers'
    weights): a saddle when YᵀX ≠ 0 — for L = 2 the Hessian has the eigenvalues ±σ of the
    cross-covariance YᵀX/m; for L ≥ 3 it is zero there (a higher-order saddle). Listed as "origin"
    for L ≥ 2. Small initialisations start next to it (:func:`deep_linear_init`).
Initialiser
    :func:`deep_linear_init` (n points with i.i.d. N(0, σ²) entries).
Forms (:mod:`simdyn.landscapes.models._network`)
    ``grad``, ``loss``, ``value_grad`` and ``hvp`` (exact, forward over reverse) loop over
    examples, keeping each example's activations in the trajectory's scratch row (``scratch``
    floats; compiled for the CPU and CUDA). ``tile_grad``/``tile_value_grad`` (CPU) run each
    trajectory with the examples along the vector lanes: the first layer W₁ᵀXᵀ and its
    gradient g₁X as one matrix product each, the other layers as loops over the examples.
"""

from __future__ import annotations

import numpy as np

from ..base import CriticalPoint, Landscape
from . import _checks, _network
from ._network import grad, hvp, loss, tile_grad, tile_value_grad, value_grad


def _widths(widths, x, y) -> tuple:
    try:
        widths = tuple(widths)
    except TypeError:
        raise TypeError(f"deep_linear: widths must be a sequence (n0, n1, ..., nL) of integers, got {widths!r}") from None
    if len(widths) < 2:
        raise ValueError(f"deep_linear: widths must have at least 2 entries (input, ..., output), got {len(widths)}")
    widths = tuple(_checks.positive_int("widths", n, "deep_linear") for n in widths)
    if x is not None and widths[0] != x.shape[1]:
        raise ValueError(f"deep_linear: widths[0] = {widths[0]} must equal the input width X.shape[1] = {x.shape[1]}")
    if y is not None and widths[-1] != y.shape[1]:
        raise ValueError(f"deep_linear: widths[-1] = {widths[-1]} must equal the output width "
                         f"Y.shape[1] = {y.shape[1]}")
    return widths


def _groups(widths) -> dict:
    bounds = np.cumsum([0] + [a * b for a, b in zip(widths[:-1], widths[1:])])
    return {f"layer{l + 1}": slice(int(bounds[l]), int(bounds[l + 1])) for l in range(len(widths) - 1)}


def deep_linear(X, Y, widths) -> Landscape:
    """The linear network ½·mean_i ‖W_L⋯W₁x_i − y_i‖² with ``widths`` (n₀, …, n_L) (module
    docstring: layout, groups, forms)."""
    x = _checks.matrix("X", X, "deep_linear")
    y = _checks.targets("Y", Y, x.shape[0], "deep_linear")
    if y.ndim == 1:
        y = y[:, None]
    widths = _widths(widths, x, y)
    layers = len(widths) - 1
    dim = int(sum(a * b for a, b in zip(widths[:-1], widths[1:])))
    net = _network.describe(_network.ACTIVATIONS.index("identity"), False, 0.5 / x.shape[0], 1.0, widths,
                            [1.0] * layers)
    points = [] if layers < 2 or not np.any(y.T @ x) else [CriticalPoint("saddle", np.zeros(dim), "origin")]
    return Landscape(
        "deep_linear",
        dim,
        grad,
        loss,
        critical_points=points,
        formula="0.5 * mean_i ||W_L ... W_1 x_i - y_i||^2, W_l of shape (fan_out, fan_in)",
        doc=__doc__,
        form="array",
        data={"X": x, "Y": y, "network": net},
        groups=_groups(widths),
        tile_grad=tile_grad,
        value_grad=value_grad,
        tile_value_grad=tile_value_grad,
        hvp=hvp,
        scratch=_network.scratch_size(widths),
    )


def deep_linear_init(widths, sigma, n, seed=0) -> np.ndarray:
    """``n`` initial points (n, d) of :func:`deep_linear` with i.i.d. N(0, σ²) entries.

    Small σ is the small-initialisation (saddle-to-saddle) regime; rows follow the layout of
    :func:`deep_linear`. Drawn with ``numpy.random.default_rng(seed)``.
    """
    widths = _widths(widths, None, None)
    if not np.isfinite(sigma) or sigma < 0:
        raise ValueError(f"deep_linear_init: sigma must be a finite number >= 0, got {sigma!r}")
    n = _checks.positive_int("n", n, "deep_linear_init")
    dim = int(sum(a * b for a, b in zip(widths[:-1], widths[1:])))
    return np.random.default_rng(seed).normal(scale=float(sigma), size=(n, dim))
