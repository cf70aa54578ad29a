"""Array-form landscapes: any dimension, with data and coordinate groups.

Oracles: torch.optim on the same least-squares problem written in torch (autograd gradient, one
parameter group per coordinate group); the tuple form of the quadratic for d ≤ 4; NumPy for the
divergence bookkeeping.
"""

import numpy as np
import pytest

import simdyn as sd
from simdyn.engine import compile as engine_compile

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(42)
M, D = 40, 50
X = RNG.normal(size=(M, D))
Y = RNG.normal(size=M)
W0 = RNG.normal(scale=0.5, size=(3, D))


def lsq_grad(w, p, data, t, g):
    """∇ ‖Xw − y‖²/(2m) = Xᵀ(Xw − y)/m, as plain loops (compiles for CPU and CUDA)."""
    x, y = data
    m, d = x.shape
    for k in range(d):
        g[k] = 0.0
    for i in range(m):
        r = -y[i]
        for k in range(d):
            r += x[i, k] * w[k]
        for k in range(d):
            g[k] += x[i, k] * r
    for k in range(d):
        g[k] = g[k] / m


def lsq_loss(w, p, data, t):
    x, y = data
    total = 0.0
    for i in range(x.shape[0]):
        r = -y[i]
        for k in range(x.shape[1]):
            r += x[i, k] * w[k]
        total += r * r
    return 0.5 * total / x.shape[0]


def least_squares(groups=None):
    return sd.Landscape("lsq_test", dim=D, grad=lsq_grad, loss=lsq_loss, data={"X": X, "y": Y}, groups=groups,
                        form="array")


def torch_trajectories(optimizer_cls, kwargs, w0, steps, groups=None):
    """w_t, t = 0 … steps, of torch.optim on ‖Xw − y‖²/(2m), float64."""
    xt, yt = torch.tensor(X), torch.tensor(Y)
    out = []
    for start in w0:
        if groups is None:
            params = [torch.tensor(start, requires_grad=True)]
            opt = optimizer_cls(params, **kwargs)
        else:
            params = [torch.tensor(start[lo:hi], requires_grad=True) for lo, hi, _ in groups]
            opt = optimizer_cls([{"params": [p], "lr": lr} for p, (_, _, lr) in zip(params, groups)],
                                **{k: v for k, v in kwargs.items() if k != "lr"})
        rows = [start.copy()]
        for _ in range(steps):
            opt.zero_grad()
            w = torch.cat(params)
            loss = ((xt @ w - yt) ** 2).sum() / (2 * M)
            loss.backward()
            opt.step()
            rows.append(torch.cat([p.detach() for p in params]).numpy().copy())
        out.append(np.array(rows))
    return np.array(out)  # (n, steps + 1, d)


CASES = [
    ("sgd", torch.optim.SGD, {"lr": 0.05}),
    ("momentum", torch.optim.SGD, {"lr": 0.02, "momentum": 0.9}),
    ("rmsprop", torch.optim.RMSprop, {"lr": 1e-3}),  # at 1e-2 it ends in a sign-flipping cycle that amplifies rounding
    ("adam", torch.optim.Adam, {"lr": 1e-2}),
]


@pytest.mark.parametrize("name, cls, kwargs", CASES, ids=[c[0] for c in CASES])
def test_optimizers_on_array_form_least_squares_equal_torch_step_by_step(name, cls, kwargs):
    steps = 120
    hyper = {"lr": kwargs["lr"]}
    if name == "momentum":
        hyper["momentum"] = kwargs["momentum"]
    ds = sd.simulate(name, least_squares(), W0, steps, hyper=hyper, record_every=1, progress=False)
    ours = ds.trajectory.transpose("traj", "step", "coord").values
    ref = torch_trajectories(cls, kwargs, W0, steps)
    scale = np.max(np.abs(ref), axis=1, keepdims=True)
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-13 * scale.max())
    assert np.all(ds.status.values != sd.io.STATUS["diverged"])


def test_per_group_learning_rates_equal_torch_parameter_groups():
    groups = {"a": slice(0, 32), "b": slice(32, D)}
    steps = 100
    ds = sd.simulate("adam", least_squares(groups), W0, steps, hyper={"lr": {"a": 1e-2, "b": np.array([1e-3, 3e-2])}},
                     record_every=1, progress=False)
    assert ds.trajectory.dims[:2] == ("lr_b", "traj")
    for i, lr_b in enumerate([1e-3, 3e-2]):
        ref = torch_trajectories(torch.optim.Adam, {}, W0, steps, groups=[(0, 32, 1e-2), (32, D, lr_b)])
        ours = ds.trajectory.isel(lr_b=i).transpose("traj", "step", "coord").values
        np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-13)
    assert ds.attrs["hyper_adam_lr_a"] == 1e-2
    assert list(ds.lr_b.values) == [1e-3, 3e-2]


@pytest.mark.parametrize("d", [1, 2, 3, 4])
def test_array_form_quadratic_equals_the_tuple_form(d):
    a = RNG.normal(size=(d, d))
    h = a @ a.T + np.eye(d)
    x0 = RNG.normal(size=(6, d))
    kwargs = dict(hyper={"lr": [1e-2, 0.3]}, record_every=7, progress=False)
    tuple_form = sd.simulate("adam", sd.landscapes.quadratic(h, form="tuple"), x0, 200, **kwargs)
    array_form = sd.simulate("adam", sd.landscapes.quadratic(h, form="array"), x0, 200, **kwargs)
    for name in ("w", "trajectory", "loss"):
        np.testing.assert_allclose(array_form[name].values, tuple_form[name].values, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(array_form.status.values, tuple_form.status.values)


def test_registered_quadratic_runs_at_high_dimension_without_tuple_limits():
    d = 300  # the tuple form took > 8 GB to compile here
    a = RNG.normal(size=(d, d))
    h = a @ a.T / d + np.eye(d)
    x0 = RNG.normal(size=(4, d))
    ds = sd.simulate("sgd", "quadratic", x0, 50, hyper={"lr": 0.1}, params={"h": h}, progress=False)
    s = 0.5 * (h + h.T)
    w = x0.copy()
    for _ in range(50):
        w = w - 0.1 * w @ s
    np.testing.assert_allclose(ds.w.values, w, rtol=1e-11, atol=1e-14)
    assert ds.attrs["data_h_shape"].tolist() == [d, d]


def test_tile_gradients_give_bits_independent_of_chunks_and_batch_shape():
    # The quadratic's CPU tile gradient is a BLAS product; every call has the same shape, so a
    # trajectory's bits do not depend on its tile (oracle: the unchunked run, and the same
    # trajectory in an initial-point batch).
    d = 40
    a = RNG.normal(size=(d, d))
    h = a @ a.T / d + np.eye(d)
    x0 = RNG.normal(size=(70, d))
    kwargs = dict(hyper={"lr": [1e-2, 0.1]}, params={"h": h}, progress=False)
    whole = sd.simulate("adam", "quadratic", x0, 40, **kwargs)
    for chunk in (1, 5, 64):
        part = sd.simulate("adam", "quadratic", x0, 40, chunk_size=chunk, **kwargs)
        np.testing.assert_array_equal(part.w.values, whole.w.values)
    grid = sd.simulate("adam", "quadratic", x0[:1], 40, hyper={"lr": np.geomspace(1e-3, 0.1, 9)}, params={"h": h},
                       progress=False)
    single = sd.simulate("adam", "quadratic", x0[:1], 40, hyper={"lr": 0.1}, params={"h": h}, progress=False)
    np.testing.assert_array_equal(grid.w.isel(lr=-1).values, single.w.values)


def test_chunks_and_divergence_on_the_array_form():
    # lr 5 on least squares diverges: frozen at the last finite state, flagged, neighbours untouched.
    kwargs = dict(hyper={"lr": [1e-2, 5.0]}, progress=False)
    whole = sd.simulate("sgd", least_squares(), W0, 60, **kwargs)
    chunked = sd.simulate("sgd", least_squares(), W0, 60, chunk_size=2, **kwargs)
    for name in ("w", "status", "stop_step", "loss"):
        np.testing.assert_array_equal(chunked[name].values, whole[name].values)
    assert np.all(whole.status.sel(lr=5.0).values == sd.io.STATUS["diverged"])
    assert np.all(whole.status.sel(lr=1e-2).values != sd.io.STATUS["diverged"])
    # NumPy: the first step at which some |w| exceeds 1e10, the point before it kept.
    for i, start in enumerate(W0):
        w = start.copy()
        for t in range(1, 61):
            new = w - 5.0 * X.T @ (X @ w - Y) / M
            if np.max(np.abs(new)) > 1e10:
                break
            w = new
        assert int(whole.stop_step.sel(lr=5.0).values[i]) == t
        np.testing.assert_allclose(whole.w.sel(lr=5.0).values[i], w, rtol=1e-9)


def _bad(x0=W0, landscape=None, **kwargs):
    sd.simulate("adam", landscape or least_squares(), x0, 5, progress=False, **kwargs)


@pytest.mark.parametrize("make, match", [
    (lambda: _bad(landscape=sd.Landscape("lsq_short", dim=D, grad=lsq_grad, loss=lsq_loss,
                                         data={"X": X[:, :10], "y": Y}, form="array")), "lsq_short.*g\\[10\\]"),
    (lambda: sd.Landscape("g", dim=D, grad=lsq_grad, loss=lsq_loss, groups={"a": slice(0, 30), "b": slice(20, D)},
                          form="array"), "groups: 'b' overlaps"),
    (lambda: sd.Landscape("g", dim=D, grad=lsq_grad, loss=lsq_loss, groups={"a": slice(0, 30)}, form="array"),
     "coordinates 30 … 49 belong to no group"),
    (lambda: _bad(landscape=least_squares({"a": slice(0, 30), "b": slice(30, D)}), hyper={"lr": {"c": 1e-3}}),
     "group 'c'"),
    (lambda: _bad(hyper={"lr": {"a": 1e-3}}), "has no groups"),
    (lambda: _bad(x0=W0[:, :10]), "x0"),
    (lambda: sd.Landscape("sig", dim=D, grad=lsq_loss, loss=lsq_loss, form="array"), r"grad takes \(w, p, data, t, g\)"),
    (lambda: _bad(max_memory=1_000), "chunk_size"),
    (lambda: _bad(observers=[sd.observe.Period(coords=[D])]), r"Period\(coords=\.\.\.\)"),
])
def test_bad_input_is_rejected_by_name_before_compiling(make, match):
    prepared, built = engine_compile.prepared_count(), sd.cache_info()["builds"]
    with pytest.raises((ValueError, TypeError), match=match):
        make()
    assert engine_compile.prepared_count() == prepared
    assert sd.cache_info()["builds"] == built
