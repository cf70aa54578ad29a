"""Exit, Hitting, PathLength and MaxStep against closed forms and independent iteration.

Oracles: gradient descent on the saddle from (δ, 0) is x_t = δ(1 + η)ᵗ exactly; NumPy iteration
of gradient descent on a quadratic; the recorded trajectory (``record_every=1``) re-analysed in
NumPy; Propositions 1 and 2 of "Exploring the dynamics of Adam" in closed form.
"""

import math
import os

import numpy as np
import pytest

import naive
import simdyn as sd
from simdyn.analysis.flat import (
    adam_flat_distance_bound,
    adam_step_bound,
    adam_step_bound_at,
    extremal_history,
    extremal_history_landscape,
)
from simdyn.status import STATUS


# --- Exit ---------------------------------------------------------------------------------------

def test_gd_leaves_the_unit_ball_at_the_closed_form_step():
    # GD on ½(−x² + y²) from (δ, 0): x_t = δ(1 + η)^t, y_t = 0; exit at the first t with δ(1 + η)^t > 1.
    lrs = np.array([0.01, 0.1])
    delta = np.geomspace(1e-10, 1e-1, 19)
    x0 = np.concatenate([np.stack([delta, 0 * delta], 1), np.stack([-delta, 0 * delta], 1)])
    ds = sd.simulate("sgd", "saddle", x0, steps=2500, hyper={"lr": lrs}, observers=[sd.observe.Exit(0.0, 1.0)],
                     progress=False)
    for i, lr in enumerate(lrs):
        exact = np.log(1.0 / delta) / np.log1p(lr)
        assert np.all(np.abs(exact - np.round(exact)) > 1e-6)  # no tie at the boundary
        expected = np.floor(exact).astype(int) + 1
        np.testing.assert_array_equal(ds.exit_step.values[i], np.concatenate([expected, expected]))
        point = ds.exit_point.values[i]
        np.testing.assert_allclose(np.abs(point[:, 0]), np.concatenate([delta * (1 + lr) ** expected] * 2), rtol=1e-9)
        assert np.all(point[:, 1] == 0.0)
        assert np.all(np.sign(point[:, 0]) == np.sign(x0[:, 0]))  # the side of escape


@pytest.mark.parametrize("optimizer, norm", [("sgd", "l2"), ("adam", "linf")])
def test_exit_agrees_with_the_recorded_trajectory(optimizer, norm):
    center, radius = (0.1, -0.2), 0.7
    x0 = np.random.default_rng(5).uniform(-0.5, 0.5, (40, 2)) + np.array(center)
    ds = sd.simulate(optimizer, "saddle", x0, steps=300, hyper={"lr": np.array([0.001, 0.05])}, record_every=1,
                     observers=[sd.observe.Exit(center, radius, norm=norm)], progress=False)
    expected = naive.first_exit(ds.trajectory.values, center, radius, norm)
    assert np.any(expected > 0) and np.any(expected < 0)
    np.testing.assert_array_equal(ds.exit_step.values, expected)
    hit = expected > 0
    picked = np.take_along_axis(ds.trajectory.values, np.maximum(expected, 0)[..., None, None], axis=-2)[..., 0, :]
    np.testing.assert_array_equal(ds.exit_point.values[hit], picked[hit])
    assert np.all(np.isnan(ds.exit_point.values[~hit]))
    assert ds.exit_point.dims == ("lr", "traj", "coord")


def test_exit_is_minus_one_when_never_and_for_frozen_trajectories():
    # From the saddle point itself the gradient is 0: never leaves. With lr = 3, x quadruples each
    # step, so the run from (0.3, 0) is frozen at |x| ≤ 5 before it can leave the ball of radius 10.
    ds = sd.simulate("sgd", "saddle", np.array([[0.0, 0.0], [0.3, 0.0]]), steps=50, hyper={"lr": 3.0},
                     diverge_threshold=5.0, observers=[sd.observe.Exit(0.0, 10.0)], progress=False)
    assert np.all(ds.exit_step.values == -1)
    assert np.all(np.isnan(ds.exit_point.values))
    assert ds.status.values[1] == STATUS["diverged"]


def test_exit_start_outside_counts_from_step_one():
    ds = sd.simulate("sgd", "saddle", np.array([[2.0, 0.0]]), steps=3, hyper={"lr": 0.1},
                     observers=[sd.observe.Exit(0.0, 1.0)], progress=False)
    assert ds.exit_step.values[0] == 1


# --- Hitting ------------------------------------------------------------------------------------

def test_gd_hitting_time_on_a_quadratic_equals_direct_iteration():
    h = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 0.3]])
    rng = np.random.default_rng(7)
    x0 = rng.uniform(-1, 1, (30, 3))
    x0[0] = [1e-4, 0.0, 0.0]  # within tol at step 0
    lrs, tol, steps = np.array([0.05, 0.3]), 1e-3, 400
    ds = sd.simulate("sgd", "quadratic", x0, steps=steps, hyper={"lr": lrs}, params={"h": h},
                     observers=[sd.observe.Hitting("nearest_minimum", tol)], progress=False)
    for i, lr in enumerate(lrs):
        w = x0.copy()
        expected = np.where(np.linalg.norm(w, axis=1) <= tol, 0, -1)
        for t in range(1, steps + 1):
            w = w - lr * w @ h.T
            expected = np.where((expected < 0) & (np.linalg.norm(w, axis=1) <= tol), t, expected)
        np.testing.assert_array_equal(ds.hit_step.values[i], expected)
    assert ds.hit_step.values[0, 0] == 0
    assert np.any(ds.hit_step.values[0] < 0)  # lr = 0.05 is too slow for some within 400 steps
    assert ds.attrs["hitting_target"] == "nearest_minimum"


def test_hitting_explicit_target_and_never():
    # GD on ½wᵀHw with H = diag(1, 2, 3) contracts each coordinate by (1 − η·h_k) per step.
    target, tol, lr = np.array([0.5, 0.0, 0.0]), 0.05, 0.1
    x0 = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.52, 0.0, 0.0]])
    ds = sd.simulate("sgd", "quadratic", x0, steps=100, hyper={"lr": lr}, params={"h": np.diag([1.0, 2.0, 3.0])},
                     observers=[sd.observe.Hitting(target, tol)], progress=False)
    t = np.arange(101)
    path = x0[:, None, :] * (1.0 - lr * np.array([1.0, 2.0, 3.0])) ** t[:, None]
    within = np.linalg.norm(path - target, axis=-1) <= tol
    expected = np.where(within.any(-1), within.argmax(-1), -1)
    np.testing.assert_array_equal(ds.hit_step.values, expected)
    assert expected[0] > 0 and expected[1] == -1 and expected[2] == 0
    assert "hit_target" not in ds


def test_nearest_minimum_with_two_minima_reports_which_was_hit():
    x0 = np.random.default_rng(3).uniform(-1.8, 1.8, (60, 2))
    ds = sd.simulate("sgd", "double_well", x0, steps=300, hyper={"lr": 0.02}, record_every=1,
                     observers=[sd.observe.Hitting("nearest_minimum", 1e-2)], progress=False)
    minima = np.array(sorted(cp.location for cp in sd.get_landscape("double_well").minima()))
    dist = np.linalg.norm(ds.trajectory.values[:, :, None, :] - minima, axis=-1)  # traj, step, minimum
    within = dist.min(-1) <= 1e-2
    expected = np.where(within.any(-1), within.argmax(-1), -1)
    np.testing.assert_array_equal(ds.hit_step.values, expected)
    hit = expected >= 0
    assert hit.sum() > 30
    which = dist[np.arange(len(x0)), np.maximum(expected, 0)].argmin(-1)
    np.testing.assert_array_equal(ds.hit_target.values[hit], which[hit])
    assert np.all(ds.hit_target.values[~hit] == -1)
    np.testing.assert_array_equal(ds.attrs["hitting_targets"], minima.ravel())


def shifted_grad(w, p, t):
    return (2.0 * (w[0] - p[0]),)


def shifted_loss(w, p, t):
    return (w[0] - p[0]) ** 2


# (w − c)², whose one minimum moves with c.
MOVING = sd.Landscape("moving", 1, shifted_grad, shifted_loss, params={"c": 0.0},
                      critical_points=lambda v: [sd.CriticalPoint("minimum", (v["c"],))])


def test_nearest_minimum_needs_known_minima_in_a_fixed_number():
    with pytest.raises(ValueError, match="no isolated minimum"):
        sd.simulate("sgd", "saddle", np.zeros((1, 2)), steps=2, observers=[sd.observe.Hitting()], progress=False)
    bound = sd.observe.Hitting().bind(MOVING, {"c": 1.0})  # the minimum for this run's value of c
    np.testing.assert_array_equal(bound.targets, [[1.0]])

    def minima(values):  # one minimum for c < 0, two for c >= 0
        return [sd.CriticalPoint("minimum", (x,)) for x in ((values["c"],) if values["c"] < 0 else (0.0, 1.0))]

    changing = sd.Landscape("changing", 1, shifted_grad, shifted_loss, params={"c": 0.0}, critical_points=minima)
    with pytest.raises(ValueError, match="number of minima changes"):
        sd.simulate("sgd", changing, np.zeros((1, 1)), steps=2, params={"c": [-1.0, 1.0]},
                    observers=[sd.observe.Hitting()], progress=False)


def test_nearest_minimum_follows_minima_that_move_with_a_swept_parameter():
    # GD on (w − c)² with lr = 0.25 halves the distance to c every step: from 0, |w_t − c| = |c|·2⁻ᵗ,
    # so the first t with |c|·2⁻ᵗ ≤ tol is ⌈log2(|c|/tol)⌉, for each swept c.
    cs, tol = np.array([0.0, 0.3, -1.0, 5.0]), 1e-3
    ds = sd.simulate("sgd", MOVING, np.zeros((1, 1)), steps=40, hyper={"lr": 0.25}, params={"c": cs},
                     observers=[sd.observe.Hitting(tol=tol)], progress=False)
    expected = [0 if c == 0 else math.ceil(math.log2(abs(c) / tol)) for c in cs]
    np.testing.assert_array_equal(ds.hit_step.values[:, 0], expected)
    assert "landscape's minima of each combination" in ds.attrs["hitting_targets"]


@pytest.mark.parametrize("make, message", [
    (lambda: sd.observe.Exit((0.0, 0.0), 0.0), "radius"),
    (lambda: sd.observe.Exit((0.0, 0.0), 1.0, norm="l1"), "norm"),
    (lambda: sd.observe.Exit((0.0, np.nan), 1.0), "center"),
    (lambda: sd.observe.Hitting((0.0, 0.0), -1.0), "tol"),
    (lambda: sd.observe.Hitting("the_minimum"), "target"),
])
def test_bad_observer_settings_name_the_argument(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_observer_dimension_mismatch_is_an_error():
    for obs in (sd.observe.Exit((0.0, 0.0, 0.0), 1.0), sd.observe.Hitting((1.0, 2.0, 3.0))):
        with pytest.raises(ValueError, match="dimension 2"):
            sd.simulate("sgd", "saddle", np.zeros((1, 2)), steps=2, observers=[obs], progress=False)


def test_changing_center_radius_and_tol_does_not_recompile():
    # (the kernels of the tests above: sgd on the saddle with Exit, sgd on a 3-D quadratic with Hitting)
    x0, h = np.array([[0.1, 0.2]]), np.diag([1.0, 2.0, 3.0])
    sd.simulate("sgd", "saddle", x0, steps=5, observers=[sd.observe.Exit(0.0, 1.0)], progress=False)
    sd.simulate("sgd", "quadratic", np.ones((1, 3)), steps=5, params={"h": h}, observers=[sd.observe.Hitting()],
                progress=False)
    before = sd.cache_info()["builds"]
    ds = sd.simulate("sgd", "saddle", x0, steps=5, hyper={"lr": 0.2}, observers=[sd.observe.Exit((0.1, 0.2), 0.001)],
                     progress=False)
    assert ds.exit_step.values[0] == 1
    ds = sd.simulate("sgd", "quadratic", np.ones((1, 3)), steps=5, params={"h": h},
                     observers=[sd.observe.Hitting((1.0, 1.0, 1.0), 0.5)], progress=False)
    assert ds.hit_step.values[0] == 0
    assert sd.cache_info()["builds"] == before


# --- PathLength and MaxStep ---------------------------------------------------------------------

@pytest.mark.parametrize("optimizer, dim", [("adam", 3), ("rmsprop", 1)])
def test_path_length_and_max_step_match_the_recorded_trajectory(optimizer, dim):
    h = np.diag(np.arange(1.0, dim + 1.0))
    x0 = np.random.default_rng(dim).uniform(-1, 1, (25, dim))
    ds = sd.simulate(optimizer, "quadratic", x0, steps=150, hyper={"lr": np.array([0.01, 0.3])}, params={"h": h},
                     record_every=1, observers=[sd.observe.PathLength(), sd.observe.MaxStep()], progress=False)
    steps = np.diff(ds.trajectory.values, axis=-2)
    np.testing.assert_allclose(ds.path_length.values, np.linalg.norm(steps, axis=-1).sum(-1), rtol=1e-12)
    np.testing.assert_allclose(ds.displacement.values, np.linalg.norm(ds.w.values - ds.w0.values, axis=-1), rtol=1e-12,
                               atol=1e-15)
    np.testing.assert_array_equal(ds.max_step.values, np.abs(steps).max(-2))
    assert ds.max_step.dims == ("lr", "traj", "coord")
    assert np.all(ds.displacement.values <= ds.path_length.values * (1 + 1e-12))


def test_observers_in_float32_runs_follow_the_float32_trajectory():
    x0 = np.random.default_rng(2).uniform(-0.5, 0.5, (16, 2))
    ds = sd.simulate("adam", "saddle", x0, steps=120, hyper={"lr": 0.02}, dtype="float32", record_every=1,
                     observers=[sd.observe.Exit(0.0, 1.0), sd.observe.MaxStep()], progress=False)
    traj = ds.trajectory.values.astype(np.float64)
    np.testing.assert_array_equal(ds.exit_step.values, naive.first_exit(traj, (0.0, 0.0), 1.0, "l2"))
    np.testing.assert_array_equal(ds.max_step.values, np.abs(np.diff(traj, axis=-2)).max(-2))


# --- Propositions 1 and 2 -----------------------------------------------------------------------

def test_prop1_finite_time_bound_never_exceeds_its_limit():
    t = np.unique(np.round(np.geomspace(1, 1e6, 400)))
    for b1 in np.linspace(0.0, 0.99, 23):
        for b2 in 1.0 - np.geomspace(1e-5, 0.5, 23):
            if b2 <= b1 ** 2 * 1.001:
                continue
            for bias in (True, False):
                assert np.max(adam_step_bound_at(t, b1, b2, bias)) <= adam_step_bound(b1, b2) * (1 + 1e-12)
    assert adam_step_bound() == pytest.approx(7.2703, abs=1e-4)
    assert adam_flat_distance_bound() == pytest.approx(73.0318, abs=1e-4)


def _random_history_grad(w, p, t):
    # Per trajectory, a gradient growing or decaying as e^{y·t} (y from the start point), plus the
    # run's Gaussian noise: random gradient histories of every shape, including near-extremal ones.
    return (math.exp(w[1] * t), 0.0)


def _random_history_loss(w, p, t):
    return math.exp(w[1] * t) * w[0]


@pytest.mark.parametrize("bias", [True, pytest.param(False, marks=pytest.mark.slow)])
def test_prop1_bound_holds_over_random_gradient_histories(bias):
    land = sd.Landscape("random_history", 2, _random_history_grad, _random_history_loss)
    rng = np.random.default_rng(11)
    x0 = np.stack([np.zeros(3000), rng.uniform(-0.25, 0.25, 3000)], 1)
    betas1, betas2 = np.array([0.0, 0.5, 0.9, 0.95]), np.array([0.9, 0.99, 0.999])
    lr = 1e-3
    largest = {}
    ds = sd.simulate("adam", land, x0, steps=150, hyper={"lr": lr, "beta1": betas1, "beta2": betas2, "bias_correction": bias},
                     noise=sd.noise.Gaussian(0.5, seed=4), observers=[sd.observe.MaxStep()], progress=False)
    for i, b1 in enumerate(betas1):
        for j, b2 in enumerate(betas2):
            if b2 <= b1 ** 2:
                continue
            ratio = ds.max_step.values[i, j] / (lr * adam_step_bound(b1, b2))
            assert ratio.max() <= 1 + 1e-9, (b1, b2)
            largest[(b1, b2)] = ratio.max()
    assert max(largest.values()) > 0.5  # the histories do get close to the bound


def test_prop1_and_prop2_are_nearly_attained_by_the_extremal_history():
    b1, b2, lr, last = 0.9, 0.999, 1e-3, 20_000
    land = extremal_history_landscape()
    kwargs = dict(hyper={"lr": lr, "beta1": b1, "beta2": b2}, params={"growth": b2 / b1, "last": float(last), "length": 400.0},
                  progress=False)
    before = sd.simulate("adam", land, np.zeros((1, 1)), steps=last - 1, observers=[sd.observe.MaxStep()], **kwargs)
    after = sd.simulate("adam", land, np.zeros((1, 1)), steps=last + 600, observers=[sd.observe.MaxStep()], **kwargs)
    assert after.max_step.values[0, 0] / lr == pytest.approx(adam_step_bound(b1, b2), rel=1e-6)
    assert after.max_step.values[0, 0] / lr <= adam_step_bound(b1, b2)
    travel = (after.w.values[0, 0] - before.w.values[0, 0]) / lr
    assert travel == pytest.approx(adam_flat_distance_bound(b1, b2), rel=1e-6)
    history = extremal_history(5, b1, b2)
    np.testing.assert_allclose(history[:-1] / history[1:], b1 / b2)


@pytest.mark.parametrize("bias", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_prop2_bound_holds_on_the_plateau(bias):
    lr = 1e-3
    distances = np.geomspace(0.5, 3000, 25)
    x0 = np.stack([-distances * lr, np.zeros_like(distances)], 1)
    betas1, betas2 = np.array([0.5, 0.9]), np.array([0.99, 0.999])
    ds = sd.simulate("adam", "plateau", x0, steps=6000, hyper={"lr": lr, "beta1": betas1, "beta2": betas2, "bias_correction": bias},
                     observers=[sd.observe.Exit((-5.0, 0.0), 5.0, norm="linf")], progress=False)
    assert np.all(ds.exit_step.values > 0)  # every run reached the flat: the box exit is the first x > 0
    assert np.all(ds.exit_point.sel(coord="x").values > 0)
    for i, b1 in enumerate(betas1):
        for j, b2 in enumerate(betas2):
            crossing = ds.w.values[i, j, :, 0] / lr
            assert crossing.max() <= adam_flat_distance_bound(b1, b2)
            if not bias and (b1, b2) == (0.9, 0.999):
                assert crossing.max() > 0.8 * adam_flat_distance_bound(b1, b2)  # nearly attained without correction


# --- PTX ----------------------------------------------------------------------------------------

@pytest.mark.skipif(os.environ.get("NUMBA_ENABLE_CUDASIM") == "1", reason="compile_ptx needs the real CUDA compiler")
def test_kernel_with_the_escape_observers_compiles_to_ptx():
    pytest.importorskip("numba.cuda")
    from simdyn.engine.kernels import compile_ptx
    from simdyn.plan import make_plan

    observers = [sd.observe.Exit((0.0, 0.0), 1.0, norm="linf"), sd.observe.Hitting("nearest_minimum", 1e-3),
                 sd.observe.PathLength(), sd.observe.MaxStep()]
    req = make_plan("adam", "double_well", np.full((2, 2), 0.1), steps=3, observers=observers).launches[0].request
    ptx = compile_ptx(req)
    assert ".entry" in ptx and ".target sm_90" in ptx


# --- Chunking and pickling (dask ships plans to its workers) ----------------------------------

def test_chunked_runs_and_pickled_observers_give_the_same_observations():
    import pickle

    x0 = np.random.default_rng(8).uniform(-0.3, 0.3, (50, 2))
    kwargs = dict(steps=300, hyper={"lr": np.array([0.01, 0.05])}, observers=[sd.observe.Exit(0.0, 1.0)], progress=False)
    whole = sd.simulate("sgd", "saddle", x0, **kwargs)
    chunked = sd.simulate("sgd", "saddle", x0, chunk_size=17, **kwargs)
    np.testing.assert_array_equal(whole.exit_step.values, chunked.exit_step.values)
    np.testing.assert_array_equal(whole.exit_point.values, chunked.exit_point.values)
    for obs in (sd.observe.Exit((0.0, 1.0), 2.0, "linf"), sd.observe.Hitting(), sd.observe.PathLength(), sd.observe.MaxStep()):
        bound = obs.bind(sd.get_landscape("double_well"), {"c": 0.25, "k": 1.0})
        copy = pickle.loads(pickle.dumps(bound))
        assert type(copy) is type(bound) and type(copy).update is type(bound).update
        assert copy.slots(2) == bound.slots(2) and copy.params(2) == bound.params(2)


def test_readme_observer_example_counts_sign_changes(tmp_path, monkeypatch):
    # The README's user-written observer, run from a file (as a user would), against the sign
    # changes counted on the recorded trajectory.
    import re
    import runpy
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", readme.split("## Writing an observer", 1)[1], re.S).group(1)
    script = tmp_path / "sign_changes.py"
    script.write_text(code)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SIMDYN_CACHE_DIR", str(tmp_path / "cache"))  # leave nothing in the user's cache
    namespace = runpy.run_path(str(script))
    ds = namespace["ds"]
    recorded = sd.simulate(["adam", "rmsprop"], "valley", np.array([[0.9, 0.9]]), 10_000, record_every=1,
                           progress=False)
    x = recorded.trajectory.sel(coord="x").values  # (optimizer, traj, step)
    expected = np.sum(x[..., 1:] * x[..., :-1] < 0.0, axis=-1)
    np.testing.assert_array_equal(ds.sign_changes.values, expected)
    assert 0 < ds.sign_changes.sel(optimizer="adam").item() < 1000 < ds.sign_changes.sel(optimizer="rmsprop").item()
