"""Basins of attraction, attractor identification and boundary measures, against independent
computations.

Oracles: the symmetry of the untilted double well (GD with a small step never changes the sign
of x, so the basins split exactly at the ridge x = 0); Himmelblau's four minima (D. M.
Himmelblau 1972, Newton-polished); heavy-ball momentum iterated in NumPy on the same grid; the
2-cycle of gradient descent beyond the wells' period doubling solved with scipy.optimize; the
uncertainty exponent of a straight boundary (α = 1) and of a middle-thirds Cantor boundary
(α = 1 − log 2/log 3); basin entropies of boxes counted one by one in Python.
"""

import math
import os

import numpy as np
import pytest
import xarray as xr
from scipy import optimize

import naive
import simdyn as sd
from simdyn.analysis.attractors.mapping import DIVERGED, UNRESOLVED, Confined, KeyTable, aligned_cycles
from simdyn.analysis.attractors.matching import cluster_keys, merge_known_fixed_points
from simdyn.analysis.boundaries import box_entropies, uncertain_fraction

# --- the double well: ridge split, momentum against NumPy, cycles -----------------------------


@pytest.fixture(scope="module")
def symmetric_gd():
    grid = sd.grid(x=(-2, 2, 256), y=(-1.5, 1.5, 200))  # even: no initial point on the ridge x = 0
    return sd.basins("sgd", "double_well", grid, 1500, hyper={"lr": 0.01}, params={"c": 0.0}, progress=False)


def test_symmetric_double_well_splits_exactly_at_the_ridge(symmetric_gd):
    ds = symmetric_gd
    names = list(ds.attractor_name.values)
    assert sorted(names) == ["left_min", "right_min"]
    assert list(ds.attractor_kind.values) == ["fixed_point", "fixed_point"]
    left, right = names.index("left_min"), names.index("right_min")
    x0 = ds.x0.values[:, None] * np.ones(ds.sizes["y0"])
    np.testing.assert_array_equal(ds.attractor.values, np.where(x0 < 0, left, right))
    np.testing.assert_allclose(ds.attractor_location.values[left], [-1.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(ds.attractor_location.values[right], [1.0, 0.0], atol=1e-6)
    np.testing.assert_array_equal(ds.basin_fraction.values, [0.5, 0.5])
    assert float(ds.diverged_fraction) == 0 and float(ds.unresolved_fraction) == 0
    np.testing.assert_allclose(ds.attractor_loss.values, 0.0, atol=1e-12)
    # the boundary mask is the two columns next to the ridge
    expected = np.zeros(ds.attractor.shape, dtype=bool)
    expected[127:129, :] = True
    np.testing.assert_array_equal(ds.boundary.values, expected)


def test_a_smooth_ridge_has_uncertainty_exponent_one(symmetric_gd):
    ue = sd.uncertainty_exponent(symmetric_gd)
    assert abs(float(ue.alpha) - 1.0) < 0.05
    assert abs(float(ue.boundary_dimension) - 1.0) < 0.05
    # sliding boxes of side m (m + 1 columns) straddle the ridge at m of the n - m column offsets
    m = ue.box.values
    np.testing.assert_allclose(ue.uncertain_fraction.values, m / (256 - m), rtol=1e-12)
    np.testing.assert_allclose(ue.epsilon.values, m * 4 / 255)


def test_momentum_basin_fractions_equal_a_numpy_iteration():
    lr, mu, c, steps = 0.05, 0.9, 0.25, 1500
    x0, y0 = np.linspace(-2, 2, 96), np.linspace(-1.5, 1.5, 64)
    ds = sd.basins("momentum", "double_well", sd.grid(x=x0, y=y0), steps, hyper={"lr": lr, "momentum": mu},
                   params={"c": c}, progress=False)
    # Oracle: torch's heavy ball on (x² − 1)² + c·x + ½y², iterated in NumPy (naive.heavy_ball).
    x, y = naive.heavy_ball(lambda w: np.stack([4.0 * w[0] * (w[0] * w[0] - 1.0) + c, w[1]]),
                            np.stack(np.meshgrid(x0, y0, indexing="ij")), lr, mu, steps)
    roots = np.sort(np.roots([4.0, 0.0, -4.0, c]).real)  # the two minima and the hump between them
    minima = roots[[0, 2]]
    nearest = np.argmin(np.abs(x[..., None] - minima), axis=-1)
    assert np.max(np.abs(x - minima[nearest])) < 1e-6 and np.max(np.abs(y)) < 1e-6  # all converged
    global_is_left = (minima[0] ** 2 - 1) ** 2 + c * minima[0] < (minima[1] ** 2 - 1) ** 2 + c * minima[1]
    name_of = np.array(["global_min", "local_min"] if global_is_left else ["local_min", "global_min"])
    reference = name_of[nearest]
    found = ds.attractor_name.values[ds.attractor.values]
    np.testing.assert_array_equal(found, reference)
    for a, name in enumerate(ds.attractor_name.values):
        assert float(ds.basin_fraction[a]) == np.mean(reference == name)
    assert 0 < np.mean(reference == "local_min") < 1
    # momentum interleaves the basins: along x the label changes more than once
    assert np.count_nonzero(np.diff(nearest[:, 0])) > 1


def gd_two_cycle(lr):
    """The 2-cycle (a, b), a < 1 < b, of x ← x − η(4x³ − 4x) around the right well (η > 1/4):
    b = T(a), a = T(b), found as the root of T(T(x)) − x in [0.7, 0.95] (the fixed point 1 lies outside)."""
    step = lambda x: x - lr * 4.0 * x * (x * x - 1.0)  # noqa: E731
    a = optimize.brentq(lambda x: step(step(x)) - x, 0.7, 0.95, xtol=1e-15)
    return np.array([a, step(a)])


def test_a_cycle_is_one_attractor_whatever_the_phase_it_is_reached_at():
    # GD beyond the period doubling of the wells (η·f''(±1) = 0.27·8 > 2): stable 2-cycles around ±1
    lr, steps = 0.27, 600
    grid = sd.grid(x=(-1.9, 1.9, 80), y=(-0.5, 0.5, 4))
    ds = sd.basins("sgd", "double_well", grid, steps, hyper={"lr": lr}, params={"c": 0.0}, tol=1e-6, progress=False)
    assert list(ds.attractor_kind.values) == ["cycle", "cycle"]
    assert list(ds.attractor_period.values) == [2, 2]
    assert sorted(ds.attractor_name.values) == ["left_min", "right_min"]
    finals = sd.simulate("sgd", "double_well", grid, steps, hyper={"lr": lr}, params={"c": 0.0}, progress=False)
    for a in ds.attractor_id.values:
        cycle = ds.attractor_cycle.values[a][:, 0]
        right = gd_two_cycle(lr)
        expected = right if ds.attractor_name.values[a] == "right_min" else np.sort(-right)
        np.testing.assert_allclose(np.sort(cycle), expected, atol=1e-9)
        members = ds.attractor.values == a
        final_x = finals.w.sel(coord="x").values[members]
        # both phases occur among the trajectories labelled with this one attractor
        for point in cycle:
            assert np.any(np.abs(final_x - point) < 1e-6)
        assert np.all(np.min(np.abs(final_x[:, None] - cycle[None, :]), axis=1) < 1e-6)
    assert np.all(ds.attractor.values[finals.status.values == 3] == DIVERGED)


def test_the_canonical_point_does_not_depend_on_the_phase():
    # Trajectories on the same 2-cycle, one step apart: their last cycles, rotated to the canonical
    # point, are the same sequence (and for a third one started a whole cycle later).
    lr, steps = 0.27, 200
    low, high = gd_two_cycle(lr)
    x0 = np.array([[low, 0.0], [high, 0.0], [low, 0.0]])
    detector = sd.observe.Period(max_period=8, atol=1e-9, rtol=0.0, orbit=True)
    ds = sd.simulate("sgd", "double_well", x0, steps, hyper={"lr": lr}, params={"c": 0.0}, observers=[detector],
                     progress=False)
    np.testing.assert_array_equal(ds.period.values, [2, 2, 2])
    assert ds.w.values[0, 0] != ds.w.values[1, 0]  # they end at different phases
    cycles = aligned_cycles(ds.orbit.values, 2, direction=(0.6, 0.2))
    np.testing.assert_allclose(cycles[:, :, 0], [[low, high]] * 3, atol=1e-12)  # 0.6·low < 0.6·high: low first
    np.testing.assert_allclose(cycles[:, :, 1], 0.0, atol=1e-12)


def test_cycles_with_tied_canonical_points_and_near_fixed_cycles_merge():
    table = KeyTable(cell=0.25e-3)
    cycle = np.array([[1.0, 0.0], [0.0, 1.0]])
    # the same 2-cycle, rotated to two different first points (a tie of the canonical point) …
    two = table.add(0, 0, np.array([0, 1, 3]), 2,
                    np.array([[1.0, 0.0, 0.5, 0.5], [0.0, 1.0, 0.5, 0.5], [5.0, 5.0, 5.0, 5.0]]),
                    np.array([cycle, cycle[::-1], [[5.0, 5.0], [5.0 + 2e-4, 5.0]]]))
    # … and a fixed point, with a 2-cycle (row 3 above) that never leaves its tolerance
    one = table.add(0, 0, np.array([2]), 1, np.array([[5.0, 5.0, 5.0, 5.0]]), np.array([[[5.0, 5.0]]]))
    groups = cluster_keys(table, tol=1e-3)[np.concatenate([two[:2], one, two[2:]])]
    assert groups[0] == groups[1] and groups[2] == groups[3] and groups[0] != groups[2]


def test_fixed_points_at_the_same_known_minimum_are_one_attractor():
    def item(kind, cycle, name, known):
        cycle = np.asarray(cycle, dtype=float)
        offset = np.inf if known is None else float(np.max(np.abs(cycle[0] - np.asarray(known))))
        return {"kind": kind, "period": len(cycle), "cycle": cycle, "name": name, "rank": 0, "loss": 0.0,
                "known": known, "offset": offset}

    groups = [
        item("fixed_point", [[3.004, 2.0]], "min_3_2", (3.0, 2.0)),  # still creeping towards (3, 2)
        item("fixed_point", [[3.0001, 2.0]], "min_3_2", (3.0, 2.0)),
        item("cycle", [[2.9, 2.0], [3.1, 2.0]], "min_3_2", (3.0, 2.0)),  # a cycle around it stays apart
        item("fixed_point", [[5.0, 5.0]], "", None),
        item("fixed_point", [[5.1, 5.0]], "", None),  # unnamed fixed points are never merged
    ]
    attractor, merged = merge_known_fixed_points(groups)
    np.testing.assert_array_equal(attractor, [0, 0, 1, 2, 3])
    np.testing.assert_array_equal(merged[0]["cycle"], [[3.0001, 2.0]])  # described by the closest member


def test_a_creeping_adam_is_not_a_spurious_attractor():
    # Adam with a small step is still creeping towards Himmelblau's minima after 1500 steps (by
    # less than tol per step): no fixed point appears away from the four minima.
    ds = sd.basins("adam", "himmelblau", sd.grid(x=(-5, 5, 24), y=(-5, 5, 24)), 1500, hyper={"lr": 0.002},
                   progress=False)
    assert ds.sizes["attractor_id"] <= 4
    assert set(ds.attractor_name.values) <= {cp.name for cp in sd.get_landscape("himmelblau").minima()}


def test_adam_bursting_around_a_minimum_belongs_to_that_minimum():
    # Adam near a minimum alternates quiet stretches and bursts of amplitude ~lr/2: at step T some
    # trajectories have no period, yet each stays next to one minimum, where NumPy's Adam ends too.
    x0, y0, lr, steps = np.linspace(-2, 2, 64), np.linspace(-2, 2, 8), 0.01, 10_000
    ds = sd.basins("adam", "double_well", sd.grid(x=x0, y=y0), steps, hyper={"lr": lr}, progress=False)
    assert float(ds.unresolved_fraction) == 0 and float(ds.basin_nonperiodic_fraction.sum()) > 0
    w = naive.adam(lambda w: np.stack([4.0 * w[0] * (w[0] * w[0] - 1.0) + 0.25, w[1]]),
                   np.stack(np.meshgrid(x0, y0, indexing="ij")), steps, lr=lr)  # oracle: NumPy's Adam
    minima = {cp.name: cp.location for cp in sd.get_landscape("double_well").minima()}
    names = np.array(list(minima))
    distance = np.stack([np.max(np.abs(w - np.reshape(minima[n], (2, 1, 1))), axis=0) for n in names])
    assert np.all(distance.min(axis=0) < 0.02)
    np.testing.assert_array_equal(ds.attractor_name.values[ds.attractor.values], names[distance.argmin(axis=0)])


def test_a_wandering_trajectory_belongs_to_the_one_attractor_its_box_holds():

    confined = Confined(2)
    boxes = np.array([[[-0.1, -0.1], [0.1, 0.1]],   # holds the fixed point at 0 only
                      [[0.9, -0.1], [1.3, 0.1]],    # holds both points of the 2-cycle
                      [[0.9, -0.1], [1.05, 0.1]],   # holds half of the cycle
                      [[-0.1, -0.1], [1.3, 0.1]],   # holds the fixed point and the cycle: the fixed point
                      [[0.9, -0.1], [1.6, 0.1]],    # holds two 2-cycles: ambiguous
                      [[3.0, 3.0], [3.1, 3.1]],     # holds none
                      [[-0.1, -0.1], [0.1, 0.1]]])  # in a group where no trajectory reached the fixed point
    confined.add(np.arange(7), boxes[:, 0], boxes[:, 1])
    cycles = [np.array([[0.0, 0.0]]), np.array([[1.0, 0.0], [1.2, 0.0]]), np.array([[1.4, 0.0], [1.5, 0.0]])]
    present = np.array([[True, True, True], [False, True, True]])  # groups of 6 trajectories
    position, owner = confined.assign(cycles, present, group_size=6, tol=1e-3, reach=2.0)
    np.testing.assert_array_equal(position, [0, 1, 3])
    np.testing.assert_array_equal(owner, [0, 1, 0])


def test_labels_do_not_depend_on_chunking():
    grid = sd.grid(x=(-2, 2, 40), y=(-1.5, 1.5, 30))
    kwargs = dict(hyper={"lr": np.array([0.02, 0.05])}, progress=False)
    whole = sd.basins("momentum", "double_well", grid, 1500, **kwargs)
    for chunk in (97, 1000):
        part = sd.basins("momentum", "double_well", grid, 1500, chunk_size=chunk, **kwargs)
        xr.testing.assert_identical(part.drop_attrs(), whole.drop_attrs())


def test_a_dask_client_gives_the_same_basins():
    distributed = pytest.importorskip("dask.distributed")
    grid = sd.grid(x=(-2, 2, 30), y=(-1.5, 1.5, 20))
    kwargs = dict(hyper={"lr": np.array([0.02, 0.05])}, progress=False)
    reference = sd.basins("momentum", "double_well", grid, 1500, **kwargs)
    with distributed.Client(processes=False, n_workers=2, threads_per_worker=1, dashboard_address=":0") as client:
        ds = sd.basins("momentum", "double_well", grid, 1500, client=client, chunk_size=150, **kwargs)
    xr.testing.assert_identical(ds.drop_attrs(), reference.drop_attrs())


def test_swept_learning_rates_give_fractions_against_lr_that_match_single_runs():
    grid = sd.grid(x=(-2, 2, 48), y=(-1.5, 1.5, 16))
    lrs = np.array([0.01, 0.05])
    swept = sd.basins("momentum", "double_well", grid, 1500, hyper={"lr": lrs}, progress=False)
    assert swept.basin_fraction.dims == ("lr", "attractor_id")
    assert swept.attractor.dims == ("lr", "x0", "y0")
    for lr in lrs:
        single = sd.basins("momentum", "double_well", grid, 1500, hyper={"lr": lr}, progress=False)
        by_name = dict(zip(single.attractor_name.values, single.basin_fraction.values))
        row = swept.basin_fraction.sel(lr=lr)
        for a, name in enumerate(swept.attractor_name.values):
            assert float(row[a]) == by_name.get(name, 0.0)
        np.testing.assert_array_equal(swept.attractor_name.values[swept.attractor.sel(lr=lr).values],
                                      single.attractor_name.values[single.attractor.values])
    total = swept.basin_fraction.sum("attractor_id") + swept.diverged_fraction + swept.unresolved_fraction
    np.testing.assert_allclose(total.values, 1.0)


def test_several_optimizers_share_attractor_ids():
    grid = sd.grid(x=(-2, 2, 24), y=(-1, 1, 8))
    ds = sd.basins(["sgd", "momentum"], "double_well", grid, 1500, hyper={"lr": 0.05}, progress=False)
    assert ds.attractor.dims == ("optimizer", "x0", "y0")
    assert list(ds.attractor_name.values) == ["global_min", "local_min"]
    assert np.all(ds.attractor.values >= 0)
    np.testing.assert_allclose(ds.basin_fraction.sum("attractor_id").values, 1.0)


# --- Himmelblau ---------------------------------------------------------------------------------

def test_the_four_himmelblau_minima_are_found_and_named():
    ds = sd.basins("sgd", "himmelblau", sd.grid(x=(-5, 5, 64), y=(-5, 5, 64)), 3000, hyper={"lr": 0.002},
                   progress=False)
    minima = {cp.name: cp.location for cp in sd.get_landscape("himmelblau").minima()}
    assert sorted(ds.attractor_name.values) == sorted(minima)
    assert set(ds.attractor_kind.values) == {"fixed_point"}
    for a, name in enumerate(ds.attractor_name.values):
        np.testing.assert_allclose(ds.attractor_location.values[a], minima[name], atol=1e-6)
        assert 0.2 < float(ds.basin_fraction[a]) < 0.3
    np.testing.assert_allclose(ds.attractor_loss.values, 0.0, atol=1e-10)
    # each starting point's attractor is where an independent NumPy GD iteration ends
    x0, y0 = np.meshgrid(ds.x0.values, ds.y0.values, indexing="ij")
    x, y = x0.copy(), y0.copy()
    for _ in range(3000):
        a, b = x * x + y - 11.0, x + y * y - 7.0
        x, y = x - 0.002 * (4.0 * x * a + 2.0 * b), y - 0.002 * (2.0 * a + 4.0 * y * b)
    located = ds.attractor_location.values[ds.attractor.values]
    np.testing.assert_allclose(located[..., 0], x, atol=1e-5)
    np.testing.assert_allclose(located[..., 1], y, atol=1e-5)


def test_unresolved_points_are_marked_when_the_horizon_is_too_short():
    ds = sd.basins("sgd", "double_well", sd.grid(x=(-2, 2, 16), y=(-1, 1, 4)), 20, hyper={"lr": 0.01},
                   progress=False)
    assert float(ds.unresolved_fraction) == 1.0 and ds.sizes["attractor_id"] == 0
    assert np.all(ds.attractor.values == UNRESOLVED)


def test_array_initial_points_and_netcdf_round_trip(tmp_path):
    x0 = np.array([[-1.5, 0.3], [1.2, -0.4], [0.5, 0.1], [-0.2, 0.9]])
    ds = sd.basins("sgd", "double_well", x0, 2000, hyper={"lr": 0.02}, progress=False)
    assert ds.attractor.dims == ("traj",) and "w0" in ds and "boundary" not in ds
    path = ds.simdyn.save(tmp_path / "basins.nc")
    back = sd.load(path)
    np.testing.assert_array_equal(back.attractor.values, ds.attractor.values)
    assert list(back.attractor_name.values) == list(ds.attractor_name.values)
    assert list(back.attractor_kind.values) == list(ds.attractor_kind.values)


@pytest.mark.parametrize("kwargs, message", [
    ({"tol": 0.0}, "tol"), ({"tol": -1e-3}, "tol"), ({"near_tol": float("nan")}, "near_tol"),
    ({"max_period": 0}, "max_period"), ({"repeats": 0}, "repeats"), ({"chunk_size": 0}, "chunk_size"),
    ({"hyper": {"lr": -1.0}}, "lr"),
])
def test_bad_arguments_name_themselves(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sd.basins("sgd", "double_well", sd.grid(x=(-1, 1, 4), y=(-1, 1, 4)), 10, **kwargs)


@pytest.mark.skipif(os.environ.get("NUMBA_ENABLE_CUDASIM") == "1", reason="compile_ptx needs the real CUDA compiler")
def test_the_basins_kernel_compiles_to_ptx():
    pytest.importorskip("numba.cuda")
    from simdyn.engine.kernels import compile_ptx
    from simdyn.plan import make_plan

    detector = sd.observe.Period(atol=1e-4, rtol=0.0, repeats=32, orbit=True)  # as sd.basins uses it
    req = make_plan("adam", "double_well", np.full((2, 2), 0.1), steps=3, observers=[detector]).launches[0].request
    ptx = compile_ptx(req)
    assert ".entry" in ptx and ".target sm_90" in ptx


# --- boundaries ---------------------------------------------------------------------------------

def cantor_labels(levels: int) -> np.ndarray:
    """1 on the middle thirds removed up to ``levels``, 0 on the rest (3^levels points)."""
    index = np.arange(3 ** levels)
    removed = np.zeros(index.size, dtype=bool)
    for _ in range(levels):
        removed |= index % 3 == 1
        index //= 3
    return removed.astype(np.int32)


def test_a_cantor_boundary_has_the_cantor_uncertainty_exponent():
    labels = np.tile(cantor_labels(8)[:, None], (1, 300))
    ue = sd.uncertainty_exponent(xr.DataArray(labels, dims=("x0", "y0")))
    expected = 1.0 - math.log(2) / math.log(3)  # Grebogi et al.: α = D − d_boundary, d = 1 + log 2/log 3
    assert abs(float(ue.alpha) - expected) < 0.04
    assert abs(float(ue.boundary_dimension) - (1 + math.log(2) / math.log(3))) < 0.04


def test_a_circular_boundary_has_uncertainty_exponent_one():
    x = np.linspace(-1, 1, 400)
    labels = (x[:, None] ** 2 + x[None, :] ** 2 < 0.6).astype(int)
    ue = sd.uncertainty_exponent(xr.DataArray(labels, dims=("x0", "y0"), coords={"x0": x, "y0": x}))
    assert abs(float(ue.alpha) - 1.0) < 0.05


def test_sliding_boxes_and_box_entropies_equal_counting_box_by_box():
    rng = np.random.default_rng(5)
    grid = (rng.random((23, 31)) < 0.1).astype(int) + (np.arange(31)[None, :] > 15) * 2
    for box in (1, 3, 6):
        assert uncertain_fraction(grid, box) == pytest.approx(naive.uncertain_fraction(grid, box), abs=1e-15)
    for box in (2, 5, 7):
        entropy, n_labels = box_entropies(grid, box)
        reference = naive.box_entropies(grid, box)
        np.testing.assert_allclose(entropy, reference[:, 0], atol=1e-12)
        np.testing.assert_array_equal(n_labels, reference[:, 1])


def test_basin_entropy_of_a_half_plane_and_of_random_labels():
    half = np.zeros((100, 100), dtype=int)
    half[:40] = 1
    be = sd.basin_entropy(xr.DataArray(half, dims=("x0", "y0")), box=20)
    assert float(be.basin_entropy) == 0.0 and np.isnan(float(be.boundary_basin_entropy))  # boundary on box edges
    half = np.zeros((100, 100), dtype=int)
    half[:30] = 1  # splits the second row of boxes in half
    be = sd.basin_entropy(xr.DataArray(half, dims=("x0", "y0")), box=20)
    assert float(be.boundary_basin_entropy) == pytest.approx(math.log(2))
    assert float(be.basin_entropy) == pytest.approx(math.log(2) / 5)
    assert int(be.n_boundary_boxes) == 5 and not bool(be.fractal_log2)
    labels = np.random.default_rng(0).integers(0, 3, (200, 200))
    be = sd.basin_entropy(xr.DataArray(labels, dims=("x0", "y0")))
    assert float(be.basin_entropy) == pytest.approx(math.log(3), abs=0.01) and bool(be.fractal_log2)


def test_boundaries_by_name_merge_the_attractors_around_one_minimum():
    from simdyn.analysis.boundaries import by_name

    labels = np.array([[0, 1, 2, 3, -1, -2]] * 4).T  # attractors 0, 1 around "a"; 2 unnamed; 3 at "b"
    ds = xr.Dataset({"attractor": (("x0", "y0"), labels),
                     "attractor_name": (("attractor_id",), np.array(["a", "a", "", "b"], dtype=object)),
                     "basin_fraction": (("attractor_id",), np.zeros(4))})
    np.testing.assert_array_equal(by_name(ds).values[:, 0], [0, 0, 1, 2, -1, -2])
    # a boundary between two cycles around the same minimum is not one between minima
    stripes = xr.Dataset({"attractor": (("x0", "y0"), np.tile(np.arange(64) % 2, (64, 1))),
                          "attractor_name": (("attractor_id",), np.array(["a", "a"], dtype=object)),
                          "basin_fraction": (("attractor_id",), np.zeros(2))})
    assert float(sd.basin_entropy(stripes, box=8).basin_entropy) == pytest.approx(math.log(2))
    assert float(sd.basin_entropy(stripes, box=8, by="name").basin_entropy) == 0.0
    with pytest.raises(ValueError, match="by='name'"):
        sd.uncertainty_exponent(stripes["attractor"], by="name")


def test_boundary_measures_keep_swept_dims(symmetric_gd):
    stacked = xr.concat([symmetric_gd.attractor, 1 - symmetric_gd.attractor], dim=xr.DataArray([1, 2], dims="lr"))
    fractions = xr.DataArray(np.zeros((2, 2)), dims=("lr", "attractor_id"))
    ds = xr.Dataset({"attractor": stacked, "basin_fraction": fractions})
    ue, be = sd.uncertainty_exponent(ds), sd.basin_entropy(ds)
    assert ue.alpha.dims == ("lr",) and be.basin_entropy.dims == ("lr",)
    np.testing.assert_allclose(ue.alpha.values[0], ue.alpha.values[1])
    with pytest.raises(ValueError, match="grid dims"):
        sd.uncertainty_exponent(symmetric_gd.attractor, dims=("nope",))


# --- plots --------------------------------------------------------------------------------------

def test_basin_plot_marks_attractors_and_lists_fractions(symmetric_gd):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    fig = sd.plot.basins(symmetric_gd)
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert texts == ["0: fixed point left_min (50.0 %)", "1: fixed point right_min (50.0 %)"]
    matplotlib.pyplot.close(fig)


def test_steady_step_is_the_closed_form_preconditioned_gradient():
    from simdyn.plot.basins import steady_step

    g = np.array([-3.0, -1e-3, 0.0, 2e-6, 0.5])
    np.testing.assert_allclose(steady_step("sgd", g, {"lr": 0.1}), -0.1 * g, rtol=1e-12)
    np.testing.assert_allclose(steady_step("momentum", g, {"lr": 0.1, "momentum": 0.9}), -0.1 * g / 0.1, rtol=1e-6)
    np.testing.assert_allclose(steady_step("adam", g, {"lr": 0.01}), -0.01 * g / (np.abs(g) + 1e-8), rtol=1e-6)


def test_phase_portrait_draws_field_critical_points_and_trajectories():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    traj = sd.simulate(["sgd", "adam"], "double_well", np.array([[-1.8, 1.2], [1.5, -1.0]]), 60,
                       hyper={"lr": 0.05}, record_every=1, progress=False)
    fig = sd.plot.phase_portrait("double_well", optimizer="adam", trajectories=traj, hyper={"lr": 0.05})
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["sgd", "adam"]
    assert "adam" in ax.get_title()
    matplotlib.pyplot.close(fig)
    with pytest.raises(ValueError, match="2-D"):
        sd.plot.phase_portrait("reddi")
