"""Figures: what a reader must be able to see (markers, labels), checked on the drawn artists."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

import simdyn as sd  # noqa: E402


def _stats():
    """Survival curves by hand: one falls to 0 at step 3, one keeps a plateau of 0.5."""
    steps = np.arange(6)
    curves = np.array([[1.0, 1.0, 1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.75, 0.5, 0.5, 0.5]])
    return xr.Dataset({"survival": (("optimizer", "step"), curves), "n": (("optimizer",), [4, 4])},
                      coords={"optimizer": ["adam", "sgd"], "step": steps}, attrs={"variable": "exit_step"})


def test_survival_marks_a_curve_that_falls_to_zero():
    """Oracle: the hand-made curves (adam reaches S = 0 at t = 3, sgd never does)."""
    fig = sd.plot.survival(_stats())
    ax = fig.axes[0]
    labels = ax.get_legend_handles_labels()[1]
    assert labels == ["adam: S = 0 from t = 3", "sgd"]
    markers = [line for line in ax.lines if line.get_marker() == "v"]
    assert len(markers) == 1 and list(markers[0].get_xdata()) == [3] and list(markers[0].get_ydata()) == [1.0]
    assert ax.get_xscale() == "log" and ax.get_xlim()[0] == 1
    plt.close(fig)


def _scan():
    return sd.period_scan("adam", "valley", np.array([[0.01, 0.01]]), steps=300, max_period=8,
                          hyper={"lr": [1e-3, 1e-2, 1e-1], "beta1": [0.0, 0.9]}, progress=False)


def test_period_map_titles_its_colour_bar_and_orbit_points_are_visible():
    ds = _scan()
    fig = sd.plot.period_map(ds, x="lr", y="beta1")
    assert any(ax.get_title(loc="left") == "period" for ax in fig.axes)  # the colour bar's title, above it
    plt.close(fig)
    fig = sd.plot.bifurcation(ds.sel(beta1=0.0), param="lr")
    points = fig.axes[0].collections[0]
    assert points.get_sizes()[0] >= 4  # points², round: a 2-cycle's two points show
    plt.close(fig)


def _attractors(fractions, locations, names, kinds, periods):
    n = len(names)
    return xr.Dataset({
        "basin_fraction": (("lr", "attractor_id"), np.asarray(fractions, dtype=float)),
        "attractor_location": (("attractor_id", "coord"), np.asarray(locations, dtype=float)),
        "attractor_name": (("attractor_id",), np.array(names)),
        "attractor_kind": (("attractor_id",), np.array(kinds)),
        "attractor_period": (("attractor_id",), np.asarray(periods)),
        "diverged_fraction": (("lr",), np.zeros(2)),
        "unresolved_fraction": (("lr",), np.zeros(2)),
    }, coords={"lr": [0.01, 0.05], "attractor_id": np.arange(n)})


def test_matched_attractors_keep_their_number_across_learning_rates():
    """Oracle, by hand: at each lr a fixed point at the global minimum and two 2-cycles around it
    whose size grows with lr (new ids at the second lr); ranked by location (y = -h before +h)."""
    from simdyn.plot.basins import matched_attractors

    ds = _attractors(
        fractions=[[0.5, 0.3, 0.2, 0.0, 0.0], [0.4, 0.0, 0.0, 0.25, 0.35]],
        locations=[[-1, 0], [-1, -0.01], [-1, 0.01], [-1, -0.05], [-1, 0.05]],
        names=["global_min"] * 5, kinds=["fixed_point"] + ["cycle"] * 4, periods=[1, 2, 2, 2, 2],
    )
    numbers, n = matched_attractors(ds, ds["basin_fraction"].values)
    assert n == 3
    np.testing.assert_array_equal(numbers, [[0, 1, 2, -1, -1], [0, -1, -1, 1, 2]])


def test_basin_panels_use_the_matched_numbers():
    ds = _attractors(
        fractions=[[0.5, 0.3, 0.2, 0.0, 0.0], [0.4, 0.0, 0.0, 0.25, 0.35]],
        locations=[[-1, 0], [-1, -0.01], [-1, 0.01], [-1, -0.05], [-1, 0.05]],
        names=["global_min"] * 5, kinds=["fixed_point"] + ["cycle"] * 4, periods=[1, 2, 2, 2, 2],
    )
    fig = sd.plot.basin_fractions(ds, along="lr", by="attractor")
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert labels == ["0: fixed point global_min", "1: 2-cycle around global_min", "2: 2-cycle around global_min"]
    plt.close(fig)


def test_status_map_legend_gives_each_status_share():
    """Oracle: ds.simdyn.status_counts() of the same dataset."""
    ds = sd.simulate(["sgd", "adam"], "valley", sd.grid(x=(-1, 1, 6), y=(-1, 1, 5)), 50, hyper={"lr": 0.3},
                     progress=False)
    fig = sd.plot.status_map(ds)
    counts = ds.simdyn.status_counts()
    for ax, opt in zip(fig.axes, ["sgd", "adam"]):
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        expected = [f"{m} {n / 30:.0%}" for m, n in counts[opt].items() if n]
        assert labels == expected and ax.get_title() == f"{opt} on valley"
    plt.close(fig)
    fig = sd.plot.status_fractions(ds)  # no swept dim: one bar per optimizer, each summing to 1
    heights = {}
    for bar in fig.axes[0].patches:
        heights[bar.get_x()] = heights.get(bar.get_x(), 0.0) + bar.get_height()
    np.testing.assert_allclose(sorted(heights.values()), [1.0, 1.0])
    plt.close(fig)


def test_box_counting_plot_draws_the_counts_and_the_fitted_line():
    """Oracle: a boundary along the grid, N(s) = ceil(64 / s) boxes and D = 1."""
    labels = np.zeros((65, 65), dtype=int)
    labels[:20] = 1
    bc = sd.box_counting_dimension(xr.DataArray(labels, dims=("lr", "beta1")), boxes=[1, 2, 4, 8])
    fig = sd.plot.box_counting(bc)
    ax = fig.axes[0]
    dots, line = ax.lines[0], ax.lines[1]
    np.testing.assert_allclose(dots.get_ydata(), np.log([64, 32, 16, 8]))
    np.testing.assert_allclose(line.get_ydata(), np.log([64, 32, 16, 8]), atol=1e-12)
    assert ax.get_legend_handles_labels()[1] == ["D = 1.000 ± 0.000"]
    plt.close(fig)
