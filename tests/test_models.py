"""Models with data (simdyn.landscapes.models), tested against torch.

Oracles: torch autograd on each model written in torch from its formula (the trainability
network transcribed from the reference code's ``net`` and ``loss``); torch.optim on those torch
models step for step (one parameter group per layer for per-layer learning rates); numpy.linalg
for the spectrum of random_quadratic, the lstsq minimum and the deep linear saddle's Hessian.
"""

import math

import numpy as np
import pytest

import simdyn as sd
from simdyn.engine import compile as engine_compile
from simdyn.engine.compile import compile_scalar

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(11)


def row(land):
    """The scratch row argument of an array-form landscape's functions (none when it has none)."""
    return (np.full(land.scratch, np.nan),) if land.scratch else ()


def dataset(m, n_in, n_out, seed):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(m, n_in)), rng.normal(size=(m, n_out))


# -- the torch oracles: each model's loss written from its formula --------------------------------

def torch_least_squares(w, x, y):
    return ((x @ w - y) ** 2).sum() / (2 * x.shape[0])


def torch_logistic(w, x, y):
    return torch.nn.functional.binary_cross_entropy_with_logits(x @ w, y)


def torch_deep_linear(w, x, y, n1):
    n0, n2 = x.shape[1], y.shape[1]
    w1 = w[: n1 * n0].reshape(n1, n0)  # (fan_out, fan_in), as torch.nn.Linear.weight
    w2 = w[n1 * n0:].reshape(n2, n1)
    return 0.5 * ((x @ w1.T @ w2.T - y) ** 2).sum(dim=1).mean()


def torch_mlp(w, x, y, n1, activation):
    """The reference code's ``net`` and ``loss`` (Sohl-Dickstein/fractal), theta = [W1, W2]."""
    n0, n2 = x.shape[1], y.shape[1]
    theta = [w[: n0 * n1].reshape(n0, n1), w[n0 * n1:].reshape(n1, n2)]
    for layer in theta:
        z = x @ layer / math.sqrt(layer.shape[0])
        if activation == "tanh":
            x = torch.tanh(z * math.sqrt(2))
        elif activation == "relu":
            x = torch.relu(z) * math.sqrt(2)
        else:
            x = z
    out = z / math.sqrt(layer.shape[0])
    return ((out - y) ** 2).mean()


def case(name, size):
    """(landscape, torch loss of a flat w, layer sizes) for model ``name`` at size index ``size``."""
    m, n_in, width, n_out = [(6, 3, 4, 1), (20, 5, 7, 3), (17, 16, 16, 1)][size]
    x, y = dataset(m, n_in, n_out, seed=100 + size)
    xt, yt = torch.tensor(x), torch.tensor(y)
    if name == "random_quadratic":
        d = n_in + width
        lam = np.linspace(0.5, 3.0, d)
        land = sd.landscapes.random_quadratic(d, lam, seed=size, form="array" if size else None)
        h = torch.tensor(land.hessian)
        return land, lambda w: 0.5 * w @ h @ w, [d]
    if name == "least_squares":
        return sd.landscapes.least_squares(x, y[:, 0]), lambda w: torch_least_squares(w, xt, yt[:, 0]), [n_in]
    if name == "logistic_regression":
        labels = (y[:, 0] > 0).astype(float)
        lt = torch.tensor(labels)
        return sd.landscapes.logistic_regression(x, labels), lambda w: torch_logistic(w, xt, lt), [n_in]
    if name == "deep_linear":
        land = sd.landscapes.deep_linear(x, y, (n_in, width, n_out))
        return land, lambda w: torch_deep_linear(w, xt, yt, width), [width * n_in, width * n_out]
    activation = {0: "tanh", 1: "relu", 2: "tanh"}[size]
    land = sd.landscapes.mlp(x, y, width=width, activation=activation)
    return land, lambda w: torch_mlp(w, xt, yt, width, activation), [n_in * width, width * n_out]


MODELS = ["random_quadratic", "least_squares", "logistic_regression", "deep_linear", "mlp"]


def torch_gradient(loss, w):
    wt = torch.tensor(w, requires_grad=True)
    loss(wt).backward()
    return wt.grad.numpy()


@pytest.mark.parametrize("size", [0, 1, 2])
@pytest.mark.parametrize("name", MODELS)
def test_gradient_and_loss_equal_torch_autograd(name, size):
    land, loss, _ = case(name, size)
    points = RNG.normal(scale=0.7, size=(3, land.dim))
    data = land.data_arrays
    for w in points:
        ref = torch_gradient(loss, w)
        if land.form == "array":
            g = np.full(land.dim, np.nan)
            land.grad(w, (), data, 1, g, *row(land))
            np.testing.assert_allclose(g, ref, rtol=1e-10, atol=1e-14 * np.abs(ref).max())
            np.testing.assert_allclose(land.loss(w, (), data, 1, *row(land)), float(loss(torch.tensor(w))), rtol=1e-12)
        else:
            p = land.flat_params({})
            np.testing.assert_allclose(land.grad(tuple(w), p, 1), ref, rtol=1e-10, atol=1e-14)
    # one SGD step of the compiled kernel: w1 = w0 − lr·∇L(w0)
    lr = 0.1
    ds = sd.simulate("sgd", land, points, 1, hyper={"lr": lr}, progress=False)
    expected = np.array([w - lr * torch_gradient(loss, w) for w in points])
    np.testing.assert_allclose(ds.w.values, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["least_squares", "logistic_regression", "deep_linear", "mlp"])
def test_compiled_per_trajectory_gradient_equals_torch(name):
    # The CPU kernel takes tile_grad; this compiles the per-trajectory grad (the one CUDA runs).
    land, loss, _ = case(name, 1)
    w = RNG.normal(scale=0.7, size=land.dim)
    g = np.full(land.dim, np.nan)
    compile_scalar(land.grad, "cpu")(w, (), land.data_arrays, 1, g, *row(land))
    ref = torch_gradient(loss, w)
    np.testing.assert_allclose(g, ref, rtol=1e-10, atol=1e-14 * np.abs(ref).max())


@pytest.mark.parametrize("name", ["least_squares", "logistic_regression", "deep_linear", "mlp"])
def test_tile_gradient_equals_the_per_trajectory_gradient_row_by_row(name):
    land, _, _ = case(name, 1)
    tile = RNG.normal(scale=2.0, size=(5, land.dim))
    out = np.full_like(tile, np.nan)
    compile_scalar(land.tile_grad, "cpu")(tile, (), land.data_arrays, 1, out)
    for tile_row, w in zip(out, tile):
        g = np.full(land.dim, np.nan)
        land.grad(w, (), land.data_arrays, 1, g, *row(land))
        np.testing.assert_allclose(tile_row, g, rtol=1e-12, atol=1e-15 * np.abs(g).max())


def torch_trajectories(loss, optimizer_cls, kwargs, w0, steps, layers=None):
    """w_t, t = 0 … steps, of torch.optim on ``loss``, float64; ``layers``: (size, lr) per parameter group."""
    out = []
    for start in w0:
        if layers is None:
            params = [torch.tensor(start, requires_grad=True)]
            opt = optimizer_cls(params, **kwargs)
        else:
            bounds = np.cumsum([0] + [size for size, _ in layers])
            params = [torch.tensor(start[lo:hi], requires_grad=True) for lo, hi in zip(bounds[:-1], bounds[1:])]
            opt = optimizer_cls([{"params": [p], "lr": lr} for p, (_, lr) in zip(params, layers)],
                                **{k: v for k, v in kwargs.items() if k != "lr"})
        rows = [start.copy()]
        for _ in range(steps):
            opt.zero_grad()
            loss(torch.cat(params)).backward()
            opt.step()
            rows.append(torch.cat([p.detach() for p in params]).numpy().copy())
        out.append(np.array(rows))
    return np.array(out)  # (n, steps + 1, d)


OPTIMIZERS = {
    "sgd": (torch.optim.SGD, {"lr": 0.05}),
    "momentum": (torch.optim.SGD, {"lr": 0.02, "momentum": 0.9}),
    "rmsprop": (torch.optim.RMSprop, {"lr": 1e-3}),
    "adam": (torch.optim.Adam, {"lr": 1e-2}),
}
# Adam on every model runs by default; the other optimizers (a new kernel compile each) are slow.
PAIRS = [pytest.param(model, opt, marks=() if opt == "adam" else pytest.mark.slow)
         for model in MODELS for opt in OPTIMIZERS]


@pytest.mark.parametrize("name, optimizer", PAIRS)
def test_optimizers_on_models_equal_torch_optim_step_by_step(name, optimizer):
    land, loss, _ = case(name, 1)
    cls, kwargs = OPTIMIZERS[optimizer]
    w0 = RNG.normal(scale=0.5, size=(2, land.dim))
    steps = 100
    ds = sd.simulate(optimizer, land, w0, steps, hyper=dict(kwargs), record_every=1, progress=False)
    ours = ds.trajectory.transpose("traj", "step", "coord").values
    ref = torch_trajectories(loss, cls, kwargs, w0, steps)
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-12 * np.abs(ref).max())
    assert np.all(ds.status.values != sd.io.STATUS["diverged"])


@pytest.mark.parametrize("name", ["deep_linear", "mlp"])
def test_per_layer_learning_rates_equal_torch_parameter_groups(name):
    land, loss, sizes = case(name, 1)
    assert list(land.groups) == ["layer1", "layer2"]
    assert [s.stop - s.start for s in land.groups.values()] == sizes
    w0 = RNG.normal(scale=0.5, size=(2, land.dim))
    steps = 100
    ds = sd.simulate("sgd", land, w0, steps, hyper={"lr": {"layer1": 0.05, "layer2": np.array([0.01, 0.1])}},
                     record_every=1, progress=False)
    for i, lr2 in enumerate([0.01, 0.1]):
        ref = torch_trajectories(loss, torch.optim.SGD, {}, w0, steps, layers=[(sizes[0], 0.05), (sizes[1], lr2)])
        ours = ds.trajectory.isel(lr_layer2=i).transpose("traj", "step", "coord").values
        np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-12 * np.abs(ref).max())


def test_random_quadratic_has_the_given_spectrum_and_a_minimum_at_the_origin():
    lam = np.array([0.1, 1.0, 2.0, 5.0, 10.0, 20.0, 0.3, 4.0, 7.0, 9.0, 11.0, 13.0])
    land = sd.landscapes.random_quadratic(12, lam, seed=4)
    np.testing.assert_allclose(np.linalg.eigvalsh(land.hessian), np.sort(lam), rtol=1e-12)
    q = land.rotation
    np.testing.assert_allclose(q @ q.T, np.eye(12), atol=1e-13)
    assert np.isclose(np.linalg.det(q), 1.0)
    assert not np.allclose(land.hessian, np.diag(np.diag(land.hessian)))  # rotated, not diagonal
    np.testing.assert_array_equal(sd.landscapes.random_quadratic(12, lam, seed=4).hessian, land.hessian)
    assert [(cp.kind, cp.location) for cp in land.critical_points()] == [("minimum", (0.0,) * 12)]
    saddle = sd.landscapes.random_quadratic(3, [-1.0, 1.0, 2.0])
    assert [cp.kind for cp in saddle.critical_points()] == ["saddle"]


def test_least_squares_minimum_is_the_lstsq_solution_and_gradient_descent_reaches_it():
    x, y = dataset(30, 4, 1, seed=5)
    land = sd.landscapes.least_squares(x, y[:, 0])
    (cp,) = land.critical_points()
    np.testing.assert_allclose(cp.location, np.linalg.lstsq(x, y[:, 0], rcond=None)[0], rtol=1e-12)
    ds = sd.simulate("sgd", land, np.zeros((1, 4)), 3000, hyper={"lr": 0.5}, progress=False)
    np.testing.assert_allclose(ds.w.values[0], cp.location, rtol=1e-9)
    wide = sd.landscapes.least_squares(x[:3], y[:3, 0])  # rank 3 < d = 4: a subspace of minima
    assert wide.critical_points() == []


def test_logistic_loss_is_finite_and_exact_for_large_margins():
    # |z| = 800: the naive log(1 + exp(−z)) overflows; torch's stable BCE-with-logits is the oracle.
    x = np.array([[400.0, 0.0], [0.0, -400.0], [1.0, 1.0]])
    y = np.array([1.0, 1.0, 0.0])
    land = sd.landscapes.logistic_regression(x, y)
    w = np.array([2.0, 2.0])
    ref = float(torch_logistic(torch.tensor(w), torch.tensor(x), torch.tensor(y)))
    np.testing.assert_allclose(land.loss(w, (), land.data_arrays, 1), ref, rtol=1e-13)
    g = np.empty(2)
    land.grad(w, (), land.data_arrays, 1, g)
    np.testing.assert_allclose(g, torch_gradient(lambda v: torch_logistic(v, torch.tensor(x), torch.tensor(y)), w),
                               rtol=1e-13)
    assert land.critical_points() == []


def test_deep_linear_origin_is_a_saddle_with_the_cross_covariance_spectrum():
    # Hessian at 0 (torch): eigenvalues ±σ_i of YᵀX/m, each n₁ times, and zeros.
    x, y = dataset(15, 3, 2, seed=8)
    n1 = 4
    land = sd.landscapes.deep_linear(x, y, (3, n1, 2))
    (cp,) = land.critical_points()
    assert cp.kind == "saddle" and cp.location == (0.0,) * land.dim
    g = np.empty(land.dim)
    land.grad(np.zeros(land.dim), (), land.data_arrays, 1, g, *row(land))
    np.testing.assert_array_equal(g, 0.0)
    hess = torch.autograd.functional.hessian(lambda w: torch_deep_linear(w, torch.tensor(x), torch.tensor(y), n1),
                                             torch.zeros(land.dim, dtype=torch.float64)).numpy()
    sigma = np.linalg.svd(y.T @ x / 15, compute_uv=False)
    expected = np.sort(np.concatenate([np.repeat(sigma, n1), -np.repeat(sigma, n1),
                                       np.zeros(land.dim - 2 * n1 * sigma.size)]))
    np.testing.assert_allclose(np.linalg.eigvalsh(hess), expected, atol=1e-12)


def test_initialisers_draw_gaussian_points_in_the_model_layout():
    w0 = sd.landscapes.deep_linear_init((3, 4, 2), sigma=1e-3, n=4000, seed=1)
    assert w0.shape == (4000, 20)
    assert abs(w0.std() - 1e-3) < 3e-5 and abs(w0.mean()) < 3e-5
    np.testing.assert_array_equal(sd.landscapes.deep_linear_init((3, 4, 2), 1e-3, 4000, seed=1), w0)
    net = sd.landscapes.mlp_init(16, 16, 1, n=3, seed=2)
    x, y = dataset(272, 16, 1, seed=0)
    assert net.shape == (3, 272) and sd.landscapes.mlp(x, y).dim == 272


X8, Y8 = dataset(8, 3, 2, seed=1)


@pytest.mark.parametrize("make, match", [
    (lambda: sd.landscapes.least_squares(X8, Y8[:5, 0]), "X and y must have the same number of examples"),
    (lambda: sd.landscapes.least_squares(X8[0], Y8[:, 0]), "least_squares: X must be a non-empty 2-D array"),
    (lambda: sd.landscapes.least_squares(X8, Y8), r"least_squares: y must have shape \(m,\)"),
    (lambda: sd.landscapes.least_squares(np.full((8, 3), np.nan), Y8[:, 0]), "X must be finite"),
    (lambda: sd.landscapes.logistic_regression(X8, Y8[:, 0]), r"y must hold labels in \{0, 1\}"),
    (lambda: sd.landscapes.logistic_regression(X8, np.ones(7)), "X and y must have the same number"),
    (lambda: sd.landscapes.deep_linear(X8, Y8, (3,)), "widths must have at least 2 entries"),
    (lambda: sd.landscapes.deep_linear(X8, Y8, (2, 4, 2)), r"widths\[0\] = 2 must equal the input width"),
    (lambda: sd.landscapes.deep_linear(X8, Y8, (3, 4, 1)), r"widths\[-1\] = 1 must equal the output width"),
    (lambda: sd.landscapes.deep_linear(X8, Y8, (3, 0, 2)), "widths must be an integer >= 1"),
    (lambda: sd.landscapes.deep_linear(X8, Y8[:4], (3, 4, 2)), "X and Y must have the same number"),
    (lambda: sd.landscapes.deep_linear_init((3, 4, 2), sigma=-1.0, n=2), "sigma must be a finite number"),
    (lambda: sd.landscapes.mlp(X8, Y8, activation="sigmoid"), "activation must be one of"),
    (lambda: sd.landscapes.mlp(X8, Y8, width=0), "width must be an integer >= 1"),
    (lambda: sd.landscapes.mlp(X8, Y8, depth=0), "mlp: depth must be an integer >= 1"),
    (lambda: sd.landscapes.mlp(X8, Y8[:3]), "X and Y must have the same number"),
    (lambda: sd.landscapes.mlp(X8, np.ones((8, 2, 2))), r"Y must have shape \(m,\) or \(m, out\)"),
    (lambda: sd.landscapes.mlp_init(3, 4, 1, n=0), "mlp_init: n must be an integer >= 1"),
    (lambda: sd.landscapes.random_quadratic(3, [1.0, 2.0]), "eigenvalues must have d = 3 entries"),
    (lambda: sd.landscapes.random_quadratic(0, []), "d must be an integer >= 1"),
    (lambda: sd.landscapes.random_quadratic(2, [1.0, np.inf]), "eigenvalues must be finite"),
    (lambda: sd.simulate("adam", sd.landscapes.mlp(X8, Y8, width=4), np.zeros((2, 5)), 3, progress=False), "x0"),
])
def test_bad_input_is_rejected_by_name_before_compiling(make, match):
    prepared, built = engine_compile.prepared_count(), sd.cache_info()["builds"]
    with pytest.raises((ValueError, TypeError), match=match):
        make()
    assert engine_compile.prepared_count() == prepared
    assert sd.cache_info()["builds"] == built


@pytest.mark.slow
def test_bench_models_quick_runs_end_to_end():
    from scripts_loader import load  # puts scripts/ on the path for the scripts' shared helpers

    bench = load("bench_models")
    rows = bench.main(["--quick"])
    assert all(rate > 0 for rate in rows["mlp"].values())
    assert rows["tanh"]["np.tanh"] > 0 and rows["tanh"]["tanh calls"]
