"""Hessian–vector products of the array-form landscapes (landscape.hvp and the accessor
simdyn.engine.hvp.array_hvp with its central-difference fallback).

Oracles: torch.autograd.functional.hvp (double backward) on each model written in torch from its
formula (tests/test_models.py's transcriptions, extended to any depth here); torch's full Hessian
(torch.autograd.functional.hessian) and numpy.linalg.eigvalsh for the top eigenvalue that power
iteration on the mlp's hvp finds.
"""

import math

import numpy as np
import pytest

import simdyn as sd
from simdyn.engine.compile import compile_scalar
from simdyn.engine.hvp import array_hvp

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(21)


def torch_deep_linear(w, x, y, widths):
    """½·mean_i ‖W_L⋯W₁x_i − y_i‖², W_l of shape (fan_out, fan_in) (torch.nn.Linear's layout)."""
    a, off = x, 0
    for n_in, n_out in zip(widths[:-1], widths[1:]):
        a = a @ w[off:off + n_in * n_out].reshape(n_out, n_in).T
        off += n_in * n_out
    return 0.5 * ((a - y) ** 2).sum(dim=1).mean()


def torch_mlp(w, x, y, widths, activation):
    """The reference code's ``net`` and ``loss`` (Sohl-Dickstein/fractal) for any depth."""
    a, off = x, 0
    for l, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
        z = a @ w[off:off + n_in * n_out].reshape(n_in, n_out) / math.sqrt(n_in)
        off += n_in * n_out
        if activation == "tanh":
            a = torch.tanh(z * math.sqrt(2))
        elif activation == "relu":
            a = torch.relu(z) * math.sqrt(2)
        else:
            a = z
    return ((z / math.sqrt(widths[-2]) - y) ** 2).mean()


def model(name, m, n_in, width, n_out, depth=2, activation="tanh", seed=0):
    """(landscape, torch loss of a flat w)."""
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(m, n_in)), rng.normal(size=(m, n_out))
    xt, yt = torch.tensor(x), torch.tensor(y)
    widths = (n_in,) + (width,) * (depth - 1) + (n_out,)
    if name == "quadratic":
        h = rng.normal(size=(n_in, n_in))
        ht = torch.tensor(h)
        return sd.landscapes.quadratic(h, form="array"), lambda w: 0.5 * w @ ht @ w
    if name == "random_quadratic":
        land = sd.landscapes.random_quadratic(n_in, np.linspace(-1.0, 3.0, n_in), seed=seed, form="array")
        ht = torch.tensor(land.hessian)
        return land, lambda w: 0.5 * w @ ht @ w
    if name == "least_squares":
        return sd.landscapes.least_squares(x, y[:, 0]), lambda w: ((xt @ w - yt[:, 0]) ** 2).sum() / (2 * m)
    if name == "logistic_regression":
        labels = (y[:, 0] > 0).astype(float)
        lt = torch.tensor(labels)
        return (sd.landscapes.logistic_regression(x, labels),
                lambda w: torch.nn.functional.binary_cross_entropy_with_logits(xt @ w, lt))
    if name == "deep_linear":
        return sd.landscapes.deep_linear(x, y, widths), lambda w: torch_deep_linear(w, xt, yt, widths)
    return (sd.landscapes.mlp(x, y, width, depth, activation),
            lambda w: torch_mlp(w, xt, yt, widths, activation))


def torch_hvp(loss, w, u):
    return torch.autograd.functional.hvp(loss, torch.tensor(w), torch.tensor(u))[1].numpy()


def scratch(land):
    return (np.full(land.scratch, np.nan),) if land.scratch else ()


CASES = [
    ("quadratic", dict(m=3, n_in=9, width=1, n_out=1)),
    ("quadratic", dict(m=3, n_in=20, width=1, n_out=1)),
    ("random_quadratic", dict(m=3, n_in=12, width=1, n_out=1)),
    ("least_squares", dict(m=7, n_in=3, width=1, n_out=1)),
    ("least_squares", dict(m=25, n_in=9, width=1, n_out=1)),
    ("logistic_regression", dict(m=9, n_in=4, width=1, n_out=1)),
    ("logistic_regression", dict(m=30, n_in=8, width=1, n_out=1)),
    *[("deep_linear", dict(m=7, n_in=3, width=4, n_out=2, depth=depth)) for depth in (1, 2, 3, 4)],
    ("deep_linear", dict(m=12, n_in=5, width=6, n_out=3, depth=3)),
    *[("mlp", dict(m=6, n_in=3, width=4, n_out=2, depth=depth, activation="tanh")) for depth in (1, 2, 3, 4)],
    ("mlp", dict(m=9, n_in=4, width=5, n_out=1, depth=3, activation="relu")),
    ("mlp", dict(m=9, n_in=4, width=5, n_out=2, depth=2, activation="identity")),
]


@pytest.mark.parametrize("name, size", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_exact_hvp_equals_torch_hessian_vector_product(name, size):
    land, loss = model(name, **size)
    assert land.hvp is not None and array_hvp(land).exact
    for _ in range(2):
        w, u = RNG.normal(scale=0.8, size=(2, land.dim))
        out = np.full(land.dim, np.nan)
        land.hvp(w, (), land.data_arrays, 1, u, out, *scratch(land))
        ref = torch_hvp(loss, w, u)
        np.testing.assert_allclose(out, ref, rtol=1e-10, atol=1e-13 * np.abs(ref).max())


def test_compiled_accessor_gives_the_exact_hvp_on_the_cpu():
    land, loss = model("mlp", m=8, n_in=3, width=4, n_out=2, depth=3)
    product = array_hvp(land)
    assert product.exact and product.scratch == land.scratch and array_hvp(land) is product
    w, u = RNG.normal(size=(2, land.dim))
    out = np.full(land.dim, np.nan)
    compile_scalar(product.function, "cpu")(w, (), land.data_arrays, 1, u, out, np.zeros(product.scratch))
    np.testing.assert_allclose(out, torch_hvp(loss, w, u), rtol=1e-10)


def without_hvp(land):
    """The same landscape with its grad and loss only (the fallback's case)."""
    return sd.Landscape(land.name + "_grad_only", land.dim, land.grad, land.loss, form="array",
                        data=land.data, scratch=land.scratch)


@pytest.mark.parametrize("name, size", [
    ("logistic_regression", dict(m=20, n_in=6, width=1, n_out=1)),
    ("mlp", dict(m=8, n_in=3, width=4, n_out=2, depth=3)),  # a scratch row after the fallback's vectors
])
def test_difference_fallback_is_within_its_stated_accuracy(name, size):
    # Stated: relative error of order ε^{2/3} ≈ 4e-11 times derivative ratios; tested at 1e-7.
    land, loss = model(name, **size)
    product = array_hvp(without_hvp(land))
    assert not product.exact and product.scratch == 2 * land.dim + land.scratch
    compiled = compile_scalar(product.function, "cpu")
    for scale in (0.3, 3.0):
        w, u = RNG.normal(scale=scale, size=(2, land.dim))
        ref = torch_hvp(loss, w, u)
        for function in (product.function, compiled):
            out = np.full(land.dim, np.nan)
            function(w, (), land.data_arrays, 1, u, out, np.full(product.scratch, np.nan))
            np.testing.assert_allclose(out, ref, rtol=0, atol=1e-7 * np.abs(ref).max())
    out = np.full(land.dim, np.nan)
    product.function(w, (), land.data_arrays, 1, np.zeros(land.dim), out, np.zeros(product.scratch))
    np.testing.assert_array_equal(out, 0.0)


def test_difference_fallback_uses_the_float32_step_in_float32():
    # With float64's step h ≈ 6e-6·‖w‖ a float32 difference would lose all digits; with
    # ε₃₂^{1/3} ≈ 5e-3 it keeps about 4 (stated ε^{2/3} ≈ 1e-5 times derivative ratios).
    land, loss = model("logistic_regression", m=20, n_in=6, width=1, n_out=1)
    product = array_hvp(without_hvp(land))
    w, u = RNG.normal(size=(2, land.dim))
    ref = torch_hvp(loss, w, u)
    out = np.zeros(land.dim, dtype=np.float32)
    data = tuple(a.astype(np.float32) for a in land.data_arrays)
    compile_scalar(product.function, "cpu", "float32")(w.astype(np.float32), (), data, 1, u.astype(np.float32), out,
                                                        np.zeros(product.scratch, dtype=np.float32))
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-3 * np.abs(ref).max())


def test_mlp_top_eigenvalue_by_power_iteration_equals_torch_hessian_spectrum():
    land, loss = model("mlp", m=10, n_in=3, width=4, n_out=1, depth=2, seed=3)
    w = RNG.normal(size=land.dim)
    hessian = torch.autograd.functional.hessian(loss, torch.tensor(w)).numpy()
    eig = np.linalg.eigvalsh(hessian)
    top = eig[np.argmax(np.abs(eig))]
    v = RNG.normal(size=land.dim)
    out = np.empty(land.dim)
    s = np.empty(land.scratch)
    for _ in range(400):
        v = v / np.linalg.norm(v)
        land.hvp(w, (), land.data_arrays, 1, v, out, s)
        v = out.copy()
    v = v / np.linalg.norm(v)
    land.hvp(w, (), land.data_arrays, 1, v, out, s)
    estimate = float(v @ out)  # the Rayleigh quotient of the converged direction
    magnitudes = np.sort(np.abs(eig))
    assert magnitudes[-2] < 0.9 * magnitudes[-1]  # a gap, so that the iteration converges
    np.testing.assert_allclose(estimate, top, rtol=1e-8)


def test_accessor_rejects_a_tuple_form_landscape():
    with pytest.raises(TypeError, match="array-form"):
        array_hvp(sd.landscapes.LANDSCAPES["valley"])
