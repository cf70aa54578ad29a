"""``mlp``: the tanh network of "The boundary of neural network trainability is fractal".

Network and loss (Sohl-Dickstein 2024, arXiv:2402.06184; reference code: the notebook of the
GitHub repository Sohl-Dickstein/fractal, functions ``net`` and ``loss``), for depth 2:
    Z₁ = X W₁ / √n₀,          H = φ(Z₁),          Z₂ = H W₂ / √n₁,        out = Z₂ / √n₁
    L = mean((out − Y)²)      (mean over the m·n₂ entries of out)
    φ: "tanh": tanh(√2·z);  "relu": √2·max(z, 0);  "identity": z.
    The output is divided by √fan_in twice, as the reference code does (``net`` returns
    ``Z / sqrt(W.shape[0])`` after computing Z = X·W/√fan_in). No biases.
Gradient (δ = 2(out − Y)/(m n₂), φ' the derivative of φ; relu'(0) = 0 as in torch)
    ∇W₂ = Hᵀ δ / n₁,    ∇W₁ = Xᵀ [ (δ W₂ᵀ / n₁) ⊙ φ'(Z₁) ] / √n₀
Parameter layout (the reference's)
    X of shape (m, n₀), Y of shape (m, n₂) (a 1-D Y is one output), hidden width n₁ = ``width``.
    w = [W₁.ravel(), W₂.ravel()], W_l of shape (fan_in, fan_out), C order: W₁[k, j] = w[k·n₁ + j],
    W₂[j, o] = w[n₀n₁ + j·n₂ + o]; d = n₁(n₀ + n₂) (16 inputs, width 16, one output: d = 272).
    Groups ``layer1``, ``layer2`` (the paper's two learning rates: ``hyper={"lr": {"layer1": …,
    "layer2": …}}``).
Data
    ``X``, ``Y`` (as (m, n₂)), ``network`` = [index of φ in ACTIVATIONS, 1/√n₀, 1/n₁].
Initialiser
    :func:`mlp_init`: i.i.d. N(0, 1) entries, as the reference's ``init``.
Forms
    ``grad`` keeps O(1) memory per trajectory (a CUDA device function cannot allocate): per
    example and output it recomputes the hidden units, 2 tanh per hidden unit and output.
    ``tile_grad`` (CPU) computes the first layer of a whole tile as one GEMM
    X·[W₁ of every trajectory], the output layer by loops, and ∇W₁ as one GEMM Xᵀ·[…].
    Depth 2 only (one hidden layer): deeper networks need per-example activation storage, which
    the single per-trajectory source cannot allocate on CUDA.
"""

from __future__ import annotations

import math

import numpy as np

from ..base import Landscape
from . import _checks

ACTIVATIONS = ("tanh", "relu", "identity")


def activate(z, code):
    """(φ(z), φ'(z)) for the activation with index ``code`` in ACTIVATIONS (√2 written out, so
    that a float32 run retypes it)."""
    if code == 0.0:
        h = math.tanh(1.4142135623730951 * z)
        return h, 1.4142135623730951 * (1.0 - h * h)
    if code == 1.0:
        if z > 0.0:
            return 1.4142135623730951 * z, 1.4142135623730951 + 0.0 * z
        return 0.0 * z, 0.0 * z
    return z, 1.0 + 0.0 * z


def grad(w, p, data, t, g):
    """∇L by examples and outputs, recomputing the hidden units instead of storing them."""
    x, y, network = data[0], data[1], data[2]
    code, in_scale, out_scale = network[0], network[1], network[2]
    m, n0 = x.shape
    n2 = y.shape[1]
    n1 = w.shape[0] // (n0 + n2)
    off = n0 * n1
    for k in range(w.shape[0]):
        g[k] = 0.0
    for i in range(m):
        for o in range(n2):
            out = 0.0
            for j in range(n1):
                z = 0.0
                for k in range(n0):
                    z += x[i, k] * w[k * n1 + j]
                h, dh = activate(z * in_scale, code)
                out += h * w[off + j * n2 + o]
            delta = 2.0 * (out * out_scale - y[i, o]) / (m * n2) * out_scale
            for j in range(n1):
                z = 0.0
                for k in range(n0):
                    z += x[i, k] * w[k * n1 + j]
                h, dh = activate(z * in_scale, code)
                g[off + j * n2 + o] += delta * h
                back = delta * w[off + j * n2 + o] * dh * in_scale
                for k in range(n0):
                    g[k * n1 + j] += back * x[i, k]


def loss(w, p, data, t):
    """mean over examples and outputs of (out − y)²."""
    x, y, network = data[0], data[1], data[2]
    code, in_scale, out_scale = network[0], network[1], network[2]
    m, n0 = x.shape
    n2 = y.shape[1]
    n1 = w.shape[0] // (n0 + n2)
    off = n0 * n1
    total = 0.0
    for i in range(m):
        for o in range(n2):
            out = 0.0
            for j in range(n1):
                z = 0.0
                for k in range(n0):
                    z += x[i, k] * w[k * n1 + j]
                h, dh = activate(z * in_scale, code)
                out += h * w[off + j * n2 + o]
            e = out * out_scale - y[i, o]
            total += e * e
    return total / (m * n2)


def tile_grad(w, p, data, t, g):
    """∇L for a tile of trajectories (rows of W, G): Z₁ = X·[W₁ of each] and ∇W₁ = Xᵀ·[…] as GEMMs."""
    x, y, network = data[0], data[1], data[2]
    code, in_scale, out_scale = network[0], network[1], network[2]
    m, n0 = x.shape
    n2 = y.shape[1]
    n = w.shape[0]
    n1 = w.shape[1] // (n0 + n2)
    off = n0 * n1
    first = np.empty((n0, n * n1), dtype=w.dtype)  # first[k, r·n₁ + j] = W₁[k, j] of trajectory r
    for r in range(n):
        for k in range(n0):
            for j in range(n1):
                first[k, r * n1 + j] = w[r, k * n1 + j]
    z = np.dot(x, first)  # (m, n·n₁)
    hidden = np.empty_like(z)
    slope = np.empty_like(z)
    for i in range(m):
        for c in range(n * n1):
            hidden[i, c], slope[i, c] = activate(z[i, c] * in_scale, code)
    back = np.zeros_like(z)
    for r in range(n):
        for c in range(off, w.shape[1]):
            g[r, c] = 0.0
        for i in range(m):
            for o in range(n2):
                out = 0.0
                for j in range(n1):
                    out += hidden[i, r * n1 + j] * w[r, off + j * n2 + o]
                delta = 2.0 * (out * out_scale - y[i, o]) / (m * n2) * out_scale
                for j in range(n1):
                    g[r, off + j * n2 + o] += delta * hidden[i, r * n1 + j]
                    back[i, r * n1 + j] += delta * w[r, off + j * n2 + o]
    for i in range(m):
        for c in range(n * n1):
            back[i, c] = back[i, c] * slope[i, c] * in_scale
    grad_first = np.dot(x.T, back)  # (n₀, n·n₁)
    for r in range(n):
        for k in range(n0):
            for j in range(n1):
                g[r, k * n1 + j] = grad_first[k, r * n1 + j]


def mlp(X, Y, width=16, depth=2, activation="tanh") -> Landscape:
    """The trainability paper's network (module docstring) on data X (m, n₀), Y (m, n₂) or (m,)."""
    x = _checks.matrix("X", X, "mlp")
    y = _checks.targets("Y", Y, x.shape[0], "mlp")
    if y.ndim == 1:
        y = y[:, None]
    width = _checks.positive_int("width", width, "mlp")
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth != 2:
        raise ValueError(f"mlp: depth must be 2 (one hidden layer; deeper networks are not supported), got {depth!r}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"mlp: activation must be one of {ACTIVATIONS}, got {activation!r}")
    n0, n2 = x.shape[1], y.shape[1]
    off = n0 * width
    # the activation's index in ACTIVATIONS, 1/√n₀ and 1/n₁ (the output's two divisions by √n₁)
    network = np.array([float(ACTIVATIONS.index(activation)), 1.0 / math.sqrt(n0), 1.0 / width])
    return Landscape(
        "mlp",
        width * (n0 + n2),
        grad,
        loss,
        formula=f"mean((phi(X W1 / sqrt(n0)) W2 / n1 - Y)^2), phi = {activation}; W_l of shape (fan_in, fan_out)",
        doc=__doc__,
        form="array",
        data={"X": x, "Y": y, "network": network},
        groups={"layer1": slice(0, off), "layer2": slice(off, off + width * n2)},
        tile_grad=tile_grad,
    )


def mlp_init(n_in, width, n_out, n, seed=0, sigma=1.0) -> np.ndarray:
    """``n`` initial points (n, d) of :func:`mlp`: i.i.d. N(0, σ²) entries (σ = 1: the reference's
    ``init``), drawn with ``numpy.random.default_rng(seed)``, in the layout of :func:`mlp`."""
    n_in = _checks.positive_int("n_in", n_in, "mlp_init")
    width = _checks.positive_int("width", width, "mlp_init")
    n_out = _checks.positive_int("n_out", n_out, "mlp_init")
    n = _checks.positive_int("n", n, "mlp_init")
    if not np.isfinite(sigma) or sigma < 0:
        raise ValueError(f"mlp_init: sigma must be a finite number >= 0, got {sigma!r}")
    return np.random.default_rng(seed).normal(scale=float(sigma), size=(n, width * (n_in + n_out)))
