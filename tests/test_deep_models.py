"""Networks of any depth (deep_linear widths, mlp depth) and every model's value_grad forms.

Oracles: torch autograd on the networks written in torch from their formulas (tests/test_hvp.py's
transcriptions of the reference code, any depth); torch.optim.Adam step for step on a depth-3
network; for value_grad/tile_value_grad, the model's own loss and grad (each tested against
torch in tests/test_models.py).
"""

import numpy as np
import pytest

import simdyn as sd
from simdyn.engine.compile import compile_scalar
from test_hvp import model, scratch

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(31)

NETWORKS = [(name, dict(m=7, n_in=3, width=4, n_out=2, depth=depth, **extra))
            for depth in (1, 2, 3, 4)
            for name, extra in (("deep_linear", {}), ("mlp", {"activation": "tanh"}))]
NETWORKS.append(("mlp", dict(m=9, n_in=4, width=5, n_out=1, depth=3, activation="relu")))


def torch_value_grad(loss, w):
    wt = torch.tensor(w, requires_grad=True)
    value = loss(wt)
    value.backward()
    return float(value.detach()), wt.grad.numpy()


@pytest.mark.parametrize("name, size", NETWORKS, ids=[f"{n}-{s['depth']}-{i}" for i, (n, s) in enumerate(NETWORKS)])
def test_network_loss_and_gradient_of_any_depth_equal_torch_autograd(name, size):
    land, loss = model(name, **size)
    assert list(land.groups) == [f"layer{l + 1}" for l in range(size["depth"])]
    tile = RNG.normal(scale=0.8, size=(3, land.dim))
    for w in tile:
        value, ref = torch_value_grad(loss, w)
        g = np.full(land.dim, np.nan)
        land.grad(w, (), land.data_arrays, 1, g, *scratch(land))
        np.testing.assert_allclose(g, ref, rtol=1e-10, atol=1e-14 * np.abs(ref).max())
        np.testing.assert_allclose(land.loss(w, (), land.data_arrays, 1, *scratch(land)), value, rtol=1e-12)
    out, losses = np.full_like(tile, np.nan), np.full(3, np.nan)
    land.tile_value_grad(tile, (), land.data_arrays, 1, out, losses)
    for r, w in enumerate(tile):
        value, ref = torch_value_grad(loss, w)
        np.testing.assert_allclose(out[r], ref, rtol=1e-10, atol=1e-14 * np.abs(ref).max())
        np.testing.assert_allclose(losses[r], value, rtol=1e-12)


VALUE_GRAD_CASES = [
    ("quadratic", dict(m=3, n_in=10, width=1, n_out=1)),
    ("least_squares", dict(m=11, n_in=4, width=1, n_out=1)),
    ("logistic_regression", dict(m=11, n_in=4, width=1, n_out=1)),
    ("deep_linear", dict(m=7, n_in=3, width=4, n_out=2, depth=3)),
    ("mlp", dict(m=7, n_in=3, width=4, n_out=2, depth=3)),
]


@pytest.mark.parametrize("name, size", VALUE_GRAD_CASES, ids=[n for n, _ in VALUE_GRAD_CASES])
def test_value_grad_and_its_tile_form_equal_loss_and_grad(name, size):
    land, _ = model(name, **size)
    assert land.value_grad is not None and land.tile_value_grad is not None
    tile = RNG.normal(scale=1.5, size=(4, land.dim))
    out, losses = np.full_like(tile, np.nan), np.full(4, np.nan)
    land.tile_value_grad(tile, (), land.data_arrays, 1, out, losses)
    for r, w in enumerate(tile):
        g, ref = np.full(land.dim, np.nan), np.full(land.dim, np.nan)
        value = land.value_grad(w, (), land.data_arrays, 1, g, *scratch(land))
        land.grad(w, (), land.data_arrays, 1, ref, *scratch(land))
        expected = land.loss(w, (), land.data_arrays, 1, *scratch(land))
        np.testing.assert_allclose(g, ref, rtol=1e-13, atol=1e-15 * np.abs(ref).max())
        np.testing.assert_allclose(value, expected, rtol=1e-13)
        np.testing.assert_allclose(out[r], ref, rtol=1e-12, atol=1e-14 * np.abs(ref).max())
        np.testing.assert_allclose(losses[r], expected, rtol=1e-12)


@pytest.mark.slow  # two compiles (CI time); the per-trajectory grad is compiled in tests/test_models.py
def test_compiled_network_value_grad_forms_equal_the_python_ones():
    # The per-trajectory form compiles as CUDA runs it; the tile form with its two GEMMs.
    land, _ = model("mlp", m=7, n_in=3, width=4, n_out=2, depth=3)
    tile = RNG.normal(size=(3, land.dim))
    out, losses = np.full_like(tile, np.nan), np.full(3, np.nan)
    compile_scalar(land.tile_value_grad, "cpu")(tile, (), land.data_arrays, 1, out, losses)
    value_grad = compile_scalar(land.value_grad, "cpu")
    for r, w in enumerate(tile):
        g = np.full(land.dim, np.nan)
        value = value_grad(w, (), land.data_arrays, 1, g, np.full(land.scratch, np.nan))
        ref = np.full(land.dim, np.nan)
        expected = land.value_grad(w, (), land.data_arrays, 1, ref, *scratch(land))
        np.testing.assert_allclose(g, ref, rtol=1e-13)
        np.testing.assert_allclose(value, expected, rtol=1e-13)
        np.testing.assert_allclose(out[r], ref, rtol=1e-12)
        np.testing.assert_allclose(losses[r], expected, rtol=1e-12)


@pytest.mark.slow  # a kernel compile (CI time); tests/test_models.py runs Adam on depth-2 networks by default
def test_adam_on_a_depth_3_network_equals_torch_optim_step_by_step():
    from test_models import torch_trajectories

    land, loss = model("mlp", m=12, n_in=3, width=4, n_out=2, depth=3, activation="tanh", seed=4)
    w0 = RNG.normal(scale=0.5, size=(2, land.dim))
    steps = 100
    ds = sd.simulate("adam", land, w0, steps, hyper={"lr": 1e-2}, record_every=1, progress=False)
    ours = ds.trajectory.transpose("traj", "step", "coord").values
    ref = torch_trajectories(loss, torch.optim.Adam, {"lr": 1e-2}, w0, steps)
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-12 * np.abs(ref).max())
    np.testing.assert_allclose(ds.loss.values, [float(loss(torch.tensor(w))) for w in ref[:, -1]], rtol=1e-12)


def test_deeper_networks_reject_bad_depths_and_widths_by_name():
    x, y = RNG.normal(size=(5, 3)), RNG.normal(size=(5, 2))
    with pytest.raises(ValueError, match="mlp: depth must be an integer >= 1"):
        sd.landscapes.mlp(x, y, depth=0)
    with pytest.raises(ValueError, match="deep_linear: widths must be an integer >= 1"):
        sd.landscapes.deep_linear(x, y, (3, 4, 0, 2))
    assert sd.landscapes.mlp_init(3, 4, 2, n=2, depth=3).shape == (2, sd.landscapes.mlp(x, y, 4, 3).dim)
    assert sd.landscapes.deep_linear(x, y, (3, 4, 5, 2)).dim == 12 + 20 + 10
