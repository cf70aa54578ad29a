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
