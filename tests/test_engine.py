"""Engine behaviour: sweeps, caching, freezing of diverging trajectories, noise, observers, dtypes.

References are independent: NumPy iterations written here, closed forms, or separate runs.
"""

import math

import numpy as np
import pytest

import naive
import simdyn as sd
from simdyn.status import STATUS


def gd_valley_numpy(x0, lr, a, steps):
    """Oracle: gradient descent on x² + a·y² iterated in NumPy (naive.gradient_descent)."""
    return naive.gradient_descent(lambda w: np.stack([2.0 * w[..., 0], 2.0 * a * w[..., 1]], axis=-1), x0, [lr] * steps)


X0 = np.array([[0.5, -1.0], [-0.3, 0.8], [1.0, 1.0]])


def test_sgd_matches_numpy_iteration():
    ds = sd.simulate("sgd", "valley", X0, steps=200, hyper={"lr": 0.1}, params={"a": 0.5}, progress=False)
    np.testing.assert_allclose(ds.w.values, gd_valley_numpy(X0, 0.1, 0.5, 200), rtol=1e-13)


def test_sweeps_are_outer_products_equal_to_separate_runs():
    lrs, alphas = np.array([0.01, 0.1, 0.3]), np.array([0.5, 2.0])
    ds = sd.simulate("sgd", "valley", X0, steps=50, hyper={"lr": lrs}, params={"a": alphas}, progress=False)
    assert ds.w.dims == ("lr", "a", "traj", "coord")
    assert ds.w.shape == (3, 2, 3, 2)
    for i, lr in enumerate(lrs):
        for k, a in enumerate(alphas):
            np.testing.assert_allclose(ds.w.values[i, k], gd_valley_numpy(X0, lr, a, 50), rtol=1e-13)


def test_several_optimizers_stack_on_optimizer_dim():
    ds = sd.simulate(["sgd", "adam"], "valley", X0, steps=20, progress=False)
    assert ds.w.dims == ("optimizer", "traj", "coord")
    assert list(ds.optimizer.values) == ["sgd", "adam"]
    alone = sd.simulate("adam", "valley", X0, steps=20, progress=False)
    np.testing.assert_array_equal(ds.w.sel(optimizer="adam").values, alone.w.values)


def test_grid_initial_set_gives_grid_dims():
    grid = sd.grid(x=(-1, 1, 4), y=(-2, 2, 3))
    ds = sd.simulate("sgd", "valley", grid, steps=5, progress=False)
    assert ds.w.dims == ("x0", "y0", "coord")
    np.testing.assert_array_equal(ds.x0.values, np.linspace(-1, 1, 4))
    np.testing.assert_array_equal(ds.w0.sel(x0=1.0, y0=-2.0).values, [1.0, -2.0])


def test_recording_holds_every_kth_state_including_step_zero():
    ds = sd.simulate("sgd", "valley", X0, steps=10, record_every=3, hyper={"lr": 0.1}, params={"a": 0.5}, progress=False)
    assert ds.trajectory.dims == ("traj", "step", "coord")
    np.testing.assert_array_equal(ds.step.values, [0, 3, 6, 9])
    for s in (0, 3, 6, 9):
        np.testing.assert_allclose(ds.trajectory.sel(step=s).values, gd_valley_numpy(X0, 0.1, 0.5, s), rtol=1e-13)


def test_second_call_compiles_nothing():
    sd.simulate("adam", "saddle", X0, steps=3, progress=False)
    before = sd.cache_info()["builds"]
    sd.simulate("adam", "saddle", X0 * 2, steps=7, hyper={"lr": [0.1, 0.2], "beta1": 0.8}, progress=False)
    assert sd.cache_info()["builds"] == before
    # Values outside Adam's specialised update (β₁ ≤ 1/2, a weight decay) build its general kernel, once.
    sd.simulate("adam", "saddle", X0, steps=3, hyper={"beta1": 0.5}, progress=False)
    sd.simulate("adam", "saddle", X0, steps=3, hyper={"weight_decay": 0.1}, progress=False)
    assert sd.cache_info()["builds"] == before + 1
    # A flag is compile-time: changing it builds exactly one new kernel.
    sd.simulate("adam", "saddle", X0, steps=3, hyper={"bias_correction": False}, progress=False)
    assert sd.cache_info()["builds"] == before + 2


def test_diverging_trajectories_are_frozen_and_flagged_without_touching_neighbours():
    # GD on x² diverges iff lr > 1: |1 − 2·lr| > 1. The middle learning rate diverges.
    lrs = np.array([0.1, 1.5, 0.4])
    ds = sd.simulate("sgd", "valley", X0, steps=400, hyper={"lr": lrs}, params={"a": 1.0}, progress=False,
                     diverge_threshold=1e6)
    status = ds.status.values
    assert np.all(status[1] == STATUS["diverged"])
    assert np.all(status[[0, 2]] == STATUS["converged"])
    # Frozen at the last state inside the threshold: |x| grows by |1 − 2·1.5| = 2 per step.
    stop = ds.stop_step.values[1]
    expected_stop = [min(t for t in range(1, 400) if abs(x) * 2.0**t > 1e6) for x in np.abs(X0).max(axis=1)]
    np.testing.assert_array_equal(stop, expected_stop)
    assert np.all(np.abs(ds.w.values[1]) <= 1e6)
    np.testing.assert_allclose(ds.w.values[0], gd_valley_numpy(X0, 0.1, 1.0, 400), atol=1e-300)
    assert np.all(ds.stop_step.values[[0, 2]] == -1)


def test_nan_is_flagged_and_frozen_at_last_finite_state():
    def grad(w, p, t):
        x, = w
        return (math.sqrt(x - 1.0),)  # NaN for x < 1

    def loss(w, p, t):
        return w[0]

    land = sd.Landscape("sqrt_slope", 1, grad, loss)
    # From x = 5 with lr 1: 5 → 3 → 3 − √2 ≈ 1.586 → 1.586 − 0.766 = 0.82 → NaN at step 4.
    ds = sd.simulate("sgd", land, np.array([[5.0], [100.0]]), steps=6, hyper={"lr": 1.0}, progress=False)
    assert ds.status.values[0] == STATUS["nonfinite"]
    assert ds.stop_step.values[0] == 4
    x = 5.0
    for _ in range(3):
        x -= math.sqrt(x - 1.0)
    assert ds.w.values[0, 0] == x
    assert ds.status.values[1] == STATUS["bounded"]
    assert ds.stop_step.values[1] == -1


def test_user_landscapes_of_any_dimension():
    def grad1(w, p, t):
        return (2.0 * p[0] * w[0],)

    def loss1(w, p, t):
        return p[0] * w[0] * w[0]

    one = sd.Landscape("parabola", 1, grad1, loss1, params={"c": 1.0})
    ds = sd.simulate("sgd", one, np.array([[1.0], [-2.0]]), steps=10, hyper={"lr": 0.1}, params={"c": 2.0}, progress=False)
    np.testing.assert_allclose(ds.w.values[:, 0], np.array([1.0, -2.0]) * (1 - 0.4) ** 10, rtol=1e-14)
    assert list(ds.coord.values) == ["x"]

    def grad5(w, p, t):
        return (w[0], 2.0 * w[1], 3.0 * w[2], 4.0 * w[3], 5.0 * w[4])

    def loss5(w, p, t):
        return 0.5 * (w[0] ** 2 + 2.0 * w[1] ** 2 + 3.0 * w[2] ** 2 + 4.0 * w[3] ** 2 + 5.0 * w[4] ** 2)

    five = sd.Landscape("diag5", 5, grad5, loss5)
    x0 = np.ones((3, 5))
    ds = sd.simulate("sgd", five, x0, steps=7, hyper={"lr": 0.1}, progress=False)
    expected = (1 - 0.1 * np.arange(1, 6)) ** 7
    np.testing.assert_allclose(ds.w.values, np.broadcast_to(expected, (3, 5)), rtol=1e-14)
    assert list(ds.coord.values) == ["w1", "w2", "w3", "w4", "w5"]
    np.testing.assert_allclose(ds.loss.values, loss5(tuple(expected), (), 0), rtol=1e-14)


def test_projection_keeps_reddi_iterates_in_the_box():
    ds = sd.simulate("sgd", "reddi", np.array([[0.0], [0.9]]), steps=30, hyper={"lr": 0.5}, record_every=1, progress=False)
    traj = ds.trajectory.values[..., 0]
    assert traj.min() >= -1.0 and traj.max() <= 1.0
    # Independent iteration: f_t'(x) = C if t mod 3 == 1 else −1, then clip.
    x = np.array([0.0, 0.9])
    for t in range(1, 31):
        g = 3.0 if t % 3 == 1 else -1.0
        x = np.clip(x - 0.5 * g, -1.0, 1.0)
    np.testing.assert_array_equal(traj[:, -1], x)


def test_noise_depends_only_on_seed_trajectory_and_step():
    noise = sd.noise.Gaussian(sigma=0.05, seed=11)
    x0 = np.random.default_rng(3).uniform(-1, 1, (40, 2))
    full = sd.simulate("adam", "saddle", x0, steps=100, hyper={"lr": 0.01}, noise=noise, progress=False)
    half = sd.simulate("adam", "saddle", x0[:20], steps=100, hyper={"lr": 0.01}, noise=noise, progress=False)
    np.testing.assert_array_equal(full.w.values[:20], half.w.values)
    other = sd.simulate("adam", "saddle", x0[:20], steps=100, hyper={"lr": 0.01},
                        noise=sd.noise.Gaussian(0.05, seed=12), progress=False)
    assert not np.array_equal(other.w.values, half.w.values)


def test_noise_has_the_requested_variance():
    # SGD with lr 1 on a zero landscape: w_T = w_0 − σ·Σξ_t, so Var(w_T) = σ²·T.
    land = sd.Landscape("flat", 2, lambda w, p, t: (0.0, 0.0), lambda w, p, t: 0.0)
    ds = sd.simulate("sgd", land, np.zeros((20000, 2)), steps=16, hyper={"lr": 1.0},
                     noise=sd.noise.Gaussian(0.5, seed=1), progress=False)
    var = ds.w.values.var(axis=0)
    np.testing.assert_allclose(var, 0.25 * 16, rtol=0.05)
    assert abs(np.corrcoef(ds.w.values.T)[0, 1]) < 0.05


def test_float32_runs_in_float32_and_tracks_float64():
    x0 = np.random.default_rng(0).uniform(-1, 1, (50, 2))
    f32 = sd.simulate("adam", "valley", x0, steps=300, dtype="float32", progress=False)
    f64 = sd.simulate("adam", "valley", x0, steps=300, progress=False)
    assert f32.w.dtype == np.float32 and f32.loss.dtype == np.float32
    np.testing.assert_allclose(f32.w.values, f64.w.values, atol=2e-4)


def test_status_converged_versus_bounded():
    ds = sd.simulate("sgd", "valley", X0, steps=2000, hyper={"lr": np.array([0.25, 1e-4])}, params={"a": 1.0},
                     progress=False)
    assert np.all(ds.status.values[0] == STATUS["converged"])
    assert np.all(ds.status.values[1] == STATUS["bounded"])


class RunningMaxAbs(sd.observe.Observer):
    """Test observer: max over t ≥ 0 of |w_t,k| per coordinate, and the number of active steps."""

    name = "running_max"

    @staticmethod
    def init(w, q):
        return (abs(w[0]), abs(w[1]), 0.0)

    @staticmethod
    def update(o, t, w, active, q):
        return (max(o[0], abs(w[0])), max(o[1], abs(w[1])), o[2] + active * q[0])

    def slots(self, dim):
        return ("max_x", "max_y", "active_steps")

    def params(self, dim):
        return (1.0,)

    def finalize(self, state, dim):
        return {
            "max_abs": (("coord",), np.stack([state["max_x"], state["max_y"]], axis=1)),
            "active_steps": ((), state["active_steps"].astype(np.int64)),
        }


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_observer_framework_agrees_with_the_recorded_trajectory(optimizer):
    x0 = np.random.default_rng(1).uniform(-1, 1, (30, 2))
    lrs = np.array([0.05, 0.9, 1.2])
    ds = sd.simulate(optimizer, "valley", x0, steps=60, hyper={"lr": lrs}, params={"a": 1.0}, record_every=1,
                     observers=[RunningMaxAbs()], diverge_threshold=50.0, progress=False)
    expected = np.abs(ds.trajectory).max("step")
    np.testing.assert_array_equal(ds.max_abs.values, expected.values)
    active = np.where(ds.stop_step.values > 0, ds.stop_step.values - 1, 60)
    np.testing.assert_array_equal(ds.active_steps.values, active)
    assert ds.max_abs.dims == ("lr", "traj", "coord")


def test_time_segments_do_not_change_results(monkeypatch):
    from simdyn.engine import run

    x0 = np.random.default_rng(2).uniform(-1, 1, (64, 2))
    whole = sd.simulate("nadam", "rosenbrock", x0, steps=300, hyper={"lr": 1e-3}, record_every=7, progress=False)
    monkeypatch.setattr(run, "SEGMENT_SECONDS", 1e-9)  # one step per segment
    pieces = sd.simulate("nadam", "rosenbrock", x0, steps=300, hyper={"lr": 1e-3}, record_every=7, progress=False)
    np.testing.assert_array_equal(whole.trajectory.values, pieces.trajectory.values)
    np.testing.assert_array_equal(whole.w.values, pieces.w.values)


def test_tiles_do_not_change_results(monkeypatch):
    from simdyn.engine import run

    x0 = np.random.default_rng(4).uniform(-2, 2, (1000, 2))
    ref = sd.simulate("adam", "himmelblau", x0, steps=50, hyper={"lr": [0.01, 0.1]}, progress=False)
    monkeypatch.setattr(run, "CPU_TILE", 7)
    other = sd.simulate("adam", "himmelblau", x0, steps=50, hyper={"lr": [0.01, 0.1]}, progress=False)
    np.testing.assert_array_equal(ref.w.values, other.w.values)


class LagDistance(sd.observe.Observer):
    """Test observer with a history buffer: |x_t − x_{t−3}| at the last step, via a ring buffer."""

    name = "lag"
    LAG = 3

    @staticmethod
    def init(w, q, buf, j):
        buf[0, 0, j] = w[0]
        return (0.0,)

    @staticmethod
    def update(o, t, w, active, q, buf, j):
        length = buf.shape[0]
        old = buf[(t - 3) % length, 0, j]
        buf[t % length, 0, j] = w[0]
        return (abs(w[0] - old),)

    def slots(self, dim):
        return ("lag_distance",)

    def buffer(self, dim):
        return (4, 1)

    def finalize(self, state, dim, buffer):
        periodic = np.where(state["lag_distance"] == 0.0, 1, 2).astype(np.uint8)
        return {"lag_distance": ((), state["lag_distance"]), "last_x": ((), buffer[0, 0, :]), "status": periodic}


def test_observer_history_buffer_and_status_verdict():
    ds = sd.simulate("sgd", "valley", X0, steps=12, hyper={"lr": np.array([0.1, 0.5])}, params={"a": 1.0},
                     record_every=1, observers=[LagDistance()], progress=False)
    x = ds.trajectory.sel(coord="x")
    np.testing.assert_array_equal(ds.lag_distance.values, np.abs(x.sel(step=12) - x.sel(step=9)).values)
    np.testing.assert_array_equal(ds.last_x.values, x.sel(step=12).values)  # row 12 mod 4 = 0
    # The observer's verdict replaces converged/bounded: lr = 0.5 on x² lands on 0 in one step, so
    # the lag distance is 0 (verdict 1 = "periodic"); lr = 0.1 is still moving (verdict 2).
    assert np.all(ds.status.values[0] == STATUS["bounded"])
    assert np.all(ds.status.values[1] == STATUS["periodic"])


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 1000])
def test_chunked_runs_equal_the_unchunked_run(chunk_size):
    x0 = np.random.default_rng(5).uniform(-1, 1, (13, 2))
    kwargs = dict(hyper={"lr": [0.01, 0.03, 0.1]}, params={"a": [0.5, 1.0]}, noise=sd.noise.Gaussian(0.02, 4),
                  record_every=5, observers=[RunningMaxAbs()], progress=False)
    whole = sd.simulate("adam", "valley", x0, 40, **kwargs)
    chunked = sd.simulate("adam", "valley", x0, 40, chunk_size=chunk_size, **kwargs)
    for name in ("w", "trajectory", "status", "stop_step", "max_abs", "loss"):
        np.testing.assert_array_equal(chunked[name].values, whole[name].values)


@pytest.mark.parametrize("n_ic, n_combo", [(7, 3), (1, 200), (5, 100)])
def test_per_trajectory_columns_match_the_flat_index_formula(n_ic, n_combo, monkeypatch):
    # Both ways of filling the per-trajectory columns (slices per combination, or gathers when
    # there are many) give x0[g mod n_ic] and table[:, g div n_ic] for every flat index g.
    from simdyn.engine import run as engine_run

    rng = np.random.default_rng(n_ic)
    x0, table = rng.normal(size=(n_ic, 2)), rng.normal(size=(3, n_combo))
    size = n_ic * n_combo
    for limit in (0, 10_000):
        monkeypatch.setattr(engine_run, "SLICE_COPY_MAX", limit)
        for start, stop in ((0, size), (1, size - 2), (size // 3, size // 3 + 1)):
            g = np.arange(start, stop)
            points, slots = np.empty((2, stop - start)), np.empty((3, 2, stop - start))
            engine_run.per_trajectory(x0, table, start, stop, points, slots)
            np.testing.assert_array_equal(points, x0[g % n_ic].T)
            np.testing.assert_array_equal(slots, np.broadcast_to(table[:, None, g // n_ic], slots.shape))


def test_stateless_optimizer_over_more_combinations_than_slice_copies():
    """SGD keeps no state slots; a grid of more than SLICE_COPY_MAX combinations of one initial
    point takes the gathering path. Oracle: one SGD step, w₁ = w₀ − lr·(2x, 2a·y)."""
    lrs = np.linspace(0.01, 0.1, 9)
    alphas = np.linspace(0.1, 1.0, 9)
    ds = sd.simulate("sgd", "valley", np.array([[1.0, 1.0]]), steps=1, hyper={"lr": lrs}, params={"a": alphas},
                     progress=False)
    lr, a = np.meshgrid(lrs, alphas, indexing="ij")
    np.testing.assert_allclose(ds.w.isel(traj=0).sel(coord="x").values, 1.0 - 2.0 * lr, rtol=1e-15)
    np.testing.assert_allclose(ds.w.isel(traj=0).sel(coord="y").values, 1.0 - 2.0 * lr * a, rtol=1e-15)
