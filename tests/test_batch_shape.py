"""Results do not depend on the batch's shape: a hyperparameter grid over one initial point gives
the bits of the same trajectories run as an initial-point batch, on any chunking.

The oracle is the engine's own one-combination path, where every CPU tile holds one combination
(the shape that existed before tiles could span combinations): each grid point is rerun as a
batch of many copies of the initial point with its hyperparameters fixed, and the two must agree
bit for bit, observers included.
"""

import numpy as np
import pytest

import simdyn as sd
from simdyn.engine import tiling
from simdyn.engine.run import cpu_tiles
from simdyn.plan import make_plan

X1 = np.array([[0.6, -0.4]])
COPIES = 600  # > tiling.GROUP_TARGET: the reruns use one combination per tile

VARIABLES = ("w", "status", "stop_step", "loss", "trajectory", "period", "transient", "cycle_amplitude",
             "hit_step", "path_length", "max_step", "exit_step", "tail")


def observers():
    return [sd.observe.Period(max_period=8), sd.observe.Hitting((0.0, 0.0), tol=1e-3), sd.observe.PathLength(),
            sd.observe.MaxStep(), sd.observe.Exit((0.6, -0.4), 0.05), sd.observe.Tail(3)]


def _rerun(optimizer, landscape, steps, point, fixed, dtype):
    """The trajectory of one grid point, run as a batch of COPIES identical initial points."""
    hyper = {k: v for k, v in fixed.items() if k != "params"}
    ds = sd.simulate(optimizer, landscape, np.repeat(X1, COPIES, 0), steps, hyper=hyper, params=fixed.get("params"),
                     observers=observers(), record_every=10, dtype=dtype, progress=False)
    return ds.isel(traj=point)


def _assert_same(grid_point, rerun):
    for name in VARIABLES:
        if name in grid_point:
            np.testing.assert_array_equal(np.asarray(grid_point[name].values), np.asarray(rerun[name].values), err_msg=name)


@pytest.mark.parametrize("dtype", ["float64", pytest.param("float32", marks=pytest.mark.slow)])
@pytest.mark.parametrize("chunk_size", [None, 7, 100])
def test_lr_beta1_grid_over_one_point_equals_initial_point_batches(dtype, chunk_size):
    lrs, betas = np.geomspace(1e-3, 0.6, 24), np.linspace(0.0, 0.95, 23)
    grid = sd.simulate("adam", "valley", X1, 120, hyper={"lr": lrs, "beta1": betas}, params={"a": 0.5},
                       observers=observers(), record_every=10, dtype=dtype, chunk_size=chunk_size, progress=False)
    for i, k in [(0, 0), (5, 22), (23, 11), (17, 3)]:
        rerun = _rerun("adam", "valley", 120, 0, {"lr": lrs[i], "beta1": betas[k], "params": {"a": 0.5}}, dtype)
        _assert_same(grid.isel(lr=i, beta1=k, traj=0), rerun)


@pytest.mark.parametrize("optimizer, hyper", [
    ("adam", {"beta2": np.linspace(0.9, 0.9999, 40)}),           # per-trajectory hyperparameters (βᵗ per lane)
    pytest.param("rmsprop", {"alpha": np.linspace(0.5, 0.99, 40)}, marks=pytest.mark.slow),
    pytest.param("momentum", {"lr": np.geomspace(1e-3, 0.9, 40), "momentum": [0.0, 0.5, 0.9]}, marks=pytest.mark.slow),
    pytest.param("nadam", {"lr": np.geomspace(1e-3, 0.9, 40)}, marks=pytest.mark.slow),
])
def test_other_sweeps_over_one_point_equal_initial_point_batches(optimizer, hyper):
    grid = sd.simulate(optimizer, "rosenbrock", X1, 80, hyper=hyper, observers=observers(), record_every=10,
                       progress=False)
    names = list(hyper)
    for flat in (0, 17, 39):
        index = np.unravel_index(flat, tuple(len(v) for v in hyper.values()))
        fixed = {n: float(np.asarray(hyper[n])[i]) for n, i in zip(names, index)}
        _assert_same(grid.isel(traj=0, **dict(zip(names, index))), _rerun(optimizer, "rosenbrock", 80, 0, fixed, "float64"))


def test_landscape_parameter_sweep_with_moving_minima_equals_initial_point_batches():
    # Landscape parameters and the observers' per-combination parameters (minima that move with
    # c) are then read per trajectory.
    cs = np.linspace(-0.3, 0.3, 50)
    obs = [sd.observe.Hitting("nearest_minimum", tol=1e-4)]
    grid = sd.simulate("adam", "double_well", X1, 300, hyper={"lr": 0.05}, params={"c": cs}, observers=obs,
                       progress=False)
    for i in (0, 24, 49):
        rerun = sd.simulate("adam", "double_well", np.repeat(X1, COPIES, 0), 300, hyper={"lr": 0.05},
                            params={"c": cs[i]}, observers=obs, progress=False).isel(traj=0)
        for name in ("w", "hit_step", "hit_target", "status"):
            np.testing.assert_array_equal(grid[name].isel(c=i, traj=0).values, rerun[name].values, err_msg=name)


def test_noisy_grid_is_independent_of_chunking():
    kwargs = dict(hyper={"lr": np.geomspace(1e-3, 0.3, 30), "beta1": [0.0, 0.9]}, noise=sd.noise.Gaussian(0.05, 9),
                  observers=observers(), progress=False)
    whole = sd.simulate("adam", "valley", X1, 60, **kwargs)
    for chunk in (1, 13):
        part = sd.simulate("adam", "valley", X1, 60, chunk_size=chunk, **kwargs)
        for name in ("w", "status", "period", "path_length"):
            np.testing.assert_array_equal(part[name].values, whole[name].values)


def test_tiles_cover_every_trajectory_once_and_never_straddle_a_group():
    rng = np.random.default_rng(0)
    n_ic, n_combo = 3, 40
    group = rng.integers(0, 5, n_combo)
    for start, stop in ((0, n_ic * n_combo), (7, 95)):
        tiles, order = cpu_tiles(np.arange(start, stop), n_ic, 4, group)
        order = np.arange(stop - start) if order is None else order
        covered = np.concatenate([order[lo:hi] for lo, hi in tiles[:2].T])
        np.testing.assert_array_equal(np.sort(covered), np.arange(stop - start))
        for lo, hi, c in tiles.T:
            combos = (start + order[lo:hi]) // n_ic
            assert len(set(group[combos])) == 1
            assert group[start // n_ic + c] == group[combos[0]]
            assert hi - lo <= 4


def test_lane_layout_reads_lr_per_trajectory_and_adds_tables_only_when_needed():
    x1 = np.array([[0.5, 0.5]])

    def lanes(x0, **kw):
        launch = make_plan("adam", "valley", x0, 5, **kw).launches[0]
        return launch.request.layout.lane_rows, launch.inputs.tile_group

    assert lanes(np.zeros((1000, 2)), hyper={"beta1": [0.5, 0.9]}) == ((("Q", 0),), None)
    rows, group = lanes(x1, hyper={"lr": np.geomspace(1e-3, 1e-1, 512), "beta1": np.linspace(0, 0.9, 4)})
    assert rows == (("Q", 0),)
    np.testing.assert_array_equal(group, np.tile(np.arange(4), 512))  # one group per β₁
    rows, group = lanes(x1, hyper={"beta1": np.linspace(0, 0.9, 64)})
    assert {t for t, _ in rows} == {"H", "Q", "P"} and np.all(group == 0)


def test_sweep_shapes_compile_at_most_four_kernels():
    # Values, sweeps of lr and initial points are run-time inputs; which tables a tile reads per
    # trajectory picks one of at most four kernels per optimizer and landscape.
    before = sd.cache_info()["builds"]
    for hyper in ({"lr": [0.1, 0.2]}, {"lr": np.geomspace(1e-3, 1e-1, 30)}, {"beta1": [0.1, 0.5, 0.8]},
                  {"lr": [0.1, 0.2], "beta1": [0.1, 0.5]}, {}, {"beta2": [0.9, 0.99]}):
        for x0 in (X1, np.zeros((700, 2))):
            for params in ({}, {"a": [1e-3, 1e-2]}):
                sd.simulate("adamax", "valley", x0, 3, hyper=hyper, params=params, progress=False)
    assert sd.cache_info()["builds"] - before <= 4


def test_hyperparameters_raised_to_the_power_t_stay_tile_constants_unless_groups_hold_one_trajectory():
    # Adam's bias corrections cost a pow per trajectory-step when β's are lanes (tiling docstring):
    # 1 start × 256 lr × 4 β₁ keeps β₁ a tile constant (groups of 256), RMSProp (no powers) makes α
    # a lane; with one trajectory per group (1 start × 64 β₁) Adam's β₁ becomes a lane too.
    x1 = np.array([[0.5, 0.5]])

    def lane_tables(opt, hyper):
        return {t for t, _ in make_plan(opt, "valley", x1, 5, hyper=hyper).launches[0].request.layout.lane_rows}

    lr = np.geomspace(1e-3, 1e-1, 256)
    assert lane_tables("adam", {"lr": lr, "beta1": np.linspace(0, 0.9, 4)}) == {"Q"}
    assert lane_tables("rmsprop", {"lr": lr, "alpha": np.linspace(0.5, 0.9, 4)}) == {"H", "Q", "P"}
    assert lane_tables("adam", {"beta1": np.linspace(0, 0.9, 64)}) == {"H", "Q", "P"}


def test_the_slots_of_a_reordered_launch_come_back_in_batch_order():
    """``BatchResult.state`` (gathered only when asked) of a grid whose tiles reorder the
    trajectories (β₁ groups) equals, column for column, the slots of each grid point run alone
    (oracle: one-combination launches, whose tiles keep the batch order)."""
    from simdyn.engine.allocation import reordered
    from simdyn.engine.run import run_batch

    lrs, betas = np.geomspace(1e-3, 0.5, 600), [0.3, 0.9]  # 600 lr lanes: beta1 is the tile group
    (launch,) = make_plan("adam", "valley", X1, 15, hyper={"lr": lrs, "beta1": betas}).launches
    assert reordered(launch.request, launch.inputs)
    state = run_batch(launch.request, launch.inputs).state  # (slots, d, N), N = lr-major grid
    for i, k in [(0, 0), (0, 1), (377, 1), (599, 0)]:
        (alone,) = make_plan("adam", "valley", X1, 15, hyper={"lr": lrs[i], "beta1": betas[k]}).launches
        np.testing.assert_array_equal(state[..., 2 * i + k], run_batch(alone.request, alone.inputs).state[..., 0])


def test_the_slots_of_chunks_and_of_copied_trajectories():
    """Oracle: the unchunked launch. Chunks concatenated (``concatenate_results``) give its slots,
    and so do trajectories copied from a representative (Adam's launch in a run that also sweeps
    momentum for heavy ball: the combinations differ only along a dim Adam ignores)."""
    from simdyn.engine.run import concatenate_results, run_batch

    x0 = np.random.default_rng(3).uniform(-1, 1, (5, 2))
    launches = make_plan(["adam", "momentum"], "valley", x0, 12, hyper={"lr": [0.01, 0.1], "momentum": [0.5, 0.9]}).launches
    for launch in launches:
        whole = run_batch(launch.request, launch.inputs).state
        parts = [run_batch(launch.request, launch.inputs, start=a, stop=b) for a, b in ((0, 7), (7, 20))]
        np.testing.assert_array_equal(concatenate_results(parts).state, whole)
    adam = launches[0]
    assert adam.inputs.representative is not None and np.any(adam.inputs.representative != np.arange(4))
    slots = run_batch(adam.request, adam.inputs).state.reshape(2, 2, 2, 2, 5)  # slot, coord, lr, momentum, x0
    assert np.all(slots != 0)  # m and v after 12 steps
    np.testing.assert_array_equal(slots[:, :, :, 0], slots[:, :, :, 1])  # momentum 0.9 copied from 0.5
    (alone,) = make_plan("adam", "valley", x0, 12, hyper={"lr": [0.01, 0.1]}).launches  # no copies
    np.testing.assert_array_equal(slots[:, :, :, 0], run_batch(alone.request, alone.inputs).state.reshape(2, 2, 2, 5))
