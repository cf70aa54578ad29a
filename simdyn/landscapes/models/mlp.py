"""``mlp``: the tanh network of "The boundary of neural network trainability is fractal", any depth.

Network and loss (Sohl-Dickstein 2024, arXiv:2402.06184; reference code: the notebook of the
GitHub repository Sohl-Dickstein/fractal, functions ``net`` and ``loss``), ``depth`` = L weight
matrices (L − 1 hidden layers of width n₁ = ``width``):
    a₀ = X,   Z_l = a_{l−1} W_l / √n_{l−1},   a_l = φ(Z_l)  (l < L),   out = Z_L / √n_{L−1}
    L = mean((out − Y)²)      (mean over the m·n_L entries of out)
    φ: "tanh": tanh(√2·z);  "relu": √2·max(z, 0);  "identity": z.
    The output is divided by √fan_in twice, as the reference code does (``net`` returns
    ``Z / sqrt(W.shape[0])`` after computing Z = X·W/√fan_in). No biases. depth = 1: no hidden
    layer, out = X W₁ / n₀.
Gradient and Hessian–vector product: reverse mode and forward over reverse (R-operator) on
this network, written out in :mod:`simdyn.landscapes.models._network` (φ'' for the latter;
relu'(0) = relu''= 0 as in torch).
Parameter layout (the reference's)
    X of shape (m, n₀), Y of shape (m, n_L) (a 1-D Y is one output), widths (n₀, n₁, …, n₁, n_L).
    w = [W₁.ravel(), …, W_L.ravel()], W_l of shape (fan_in, fan_out), C order; for depth 2:
    W₁[k, j] = w[k·n₁ + j], W₂[j, o] = w[n₀n₁ + j·n_L + o]; d = n₁(n₀ + n_L) + (L − 2)n₁²
    (16 inputs, width 16, one output, depth 2: d = 272). Groups ``layer1`` … ``layerL`` (the
    paper's two learning rates at depth 2: ``hyper={"lr": {"layer1": …, "layer2": …}}``).
Data
    ``X``, ``Y`` (as (m, n_L)), ``network`` (the description of :mod:`._network`).
Initialiser
    :func:`mlp_init`: i.i.d. N(0, 1) entries, as the reference's ``init``.
Forms
    ``grad``, ``loss``, ``value_grad``, ``hvp`` loop over examples with the hidden activations
    in the trajectory's scratch row (``scratch`` = 4·(L − 1)·n₁ + 4·max(n₁, n_L) floats; CPU and
    CUDA). ``tile_grad``/``tile_value_grad`` (CPU) run each trajectory with the examples along
    the vector lanes: u₁ = W₁ᵀXᵀ and ∇W₁ = g₁X as one matrix product each, the other layers and
    tanh (a vectorisable tanh, ``_vector_tanh``, within 2 ulp) as loops over the examples.
"""

from __future__ import annotations

import math

import numpy as np

from ..base import Landscape
from . import _checks, _network
from ._network import ACTIVATIONS, grad, hvp, loss, tile_grad, tile_value_grad, value_grad


def mlp(X, Y, width=16, depth=2, activation="tanh") -> Landscape:
    """The trainability paper's network (module docstring) of ``depth`` ≥ 1 weight matrices on
    data X (m, n₀), Y (m, n_L) or (m,)."""
    x = _checks.matrix("X", X, "mlp")
    y = _checks.targets("Y", Y, x.shape[0], "mlp")
    if y.ndim == 1:
        y = y[:, None]
    width = _checks.positive_int("width", width, "mlp")
    depth = _checks.positive_int("depth", depth, "mlp")
    if activation not in ACTIVATIONS:
        raise ValueError(f"mlp: activation must be one of {ACTIVATIONS}, got {activation!r}")
    widths = (x.shape[1],) + (width,) * (depth - 1) + (y.shape[1],)
    fan_in = widths[:-1]
    net = _network.describe(ACTIVATIONS.index(activation), True, 1.0 / y.size, 1.0 / math.sqrt(fan_in[-1]), widths,
                            [1.0 / math.sqrt(n) for n in fan_in])
    bounds = np.cumsum([0] + [a * b for a, b in zip(widths[:-1], widths[1:])])
    return Landscape(
        "mlp",
        int(bounds[-1]),
        grad,
        loss,
        formula=f"mean((out - Y)^2), Z_l = a_(l-1) W_l / sqrt(n_(l-1)), a_l = phi(Z_l), out = Z_L / sqrt(n_(L-1)), "
                f"phi = {activation}, depth {depth}; W_l of shape (fan_in, fan_out)",
        doc=__doc__,
        form="array",
        data={"X": x, "Y": y, "network": net},
        groups={f"layer{l + 1}": slice(int(bounds[l]), int(bounds[l + 1])) for l in range(depth)},
        tile_grad=tile_grad,
        value_grad=value_grad,
        tile_value_grad=tile_value_grad,
        hvp=hvp,
        scratch=_network.scratch_size(widths),
    )


def mlp_init(n_in, width, n_out, n, seed=0, sigma=1.0, depth=2) -> np.ndarray:
    """``n`` initial points (n, d) of :func:`mlp`: i.i.d. N(0, σ²) entries (σ = 1: the reference's
    ``init``), drawn with ``numpy.random.default_rng(seed)``, in the layout of :func:`mlp`."""
    n_in = _checks.positive_int("n_in", n_in, "mlp_init")
    width = _checks.positive_int("width", width, "mlp_init")
    n_out = _checks.positive_int("n_out", n_out, "mlp_init")
    n = _checks.positive_int("n", n, "mlp_init")
    depth = _checks.positive_int("depth", depth, "mlp_init")
    if not np.isfinite(sigma) or sigma < 0:
        raise ValueError(f"mlp_init: sigma must be a finite number >= 0, got {sigma!r}")
    widths = (n_in,) + (width,) * (depth - 1) + (n_out,)
    dim = sum(a * b for a, b in zip(widths[:-1], widths[1:]))
    return np.random.default_rng(seed).normal(scale=float(sigma), size=(n, dim))
