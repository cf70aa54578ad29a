"""Escape statistics: Kaplan–Meier survival with censoring, quantiles, tail rate, distance fit,
tables and plots.

Oracles: a direct product-limit loop written here, synthetic data with known parameters
(geometric exit times, exact a + b·log(1/δ)), and gradient descent near the saddle, whose escape
rate log(1 + η) and slope 1/log(1 + η) are known in closed form.
"""

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

import naive
import simdyn as sd
from simdyn.analysis.escape import escape_statistics, escape_table, kaplan_meier


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(-1, 30), st.integers(0, 30)), min_size=1, max_size=60))
def test_kaplan_meier_equals_the_product_limit_by_direct_counting(pairs):
    event = np.array([p[0] for p in pairs])
    censor = np.array([p[1] for p in pairs])
    survival, _, _ = kaplan_meier(event, censor, 30)
    np.testing.assert_allclose(survival, naive.product_limit(event, censor, 30), rtol=1e-12)


def synthetic(steps, horizon=1000, w0=None, **extra):
    steps = np.asarray(steps)
    n = steps.shape[-1]
    ds = xr.Dataset({"exit_step": (("traj",), steps)}, coords={"traj": np.arange(n)}, attrs={"steps": horizon})
    if w0 is not None:
        ds["w0"] = (("traj", "coord"), w0)
    for name, value in extra.items():
        ds[name] = (("traj",), value)
    return ds


def test_without_censoring_survival_is_the_empirical_fraction():
    steps = np.random.default_rng(0).integers(1, 200, 5000)
    stats = escape_statistics(synthetic(steps, horizon=300))
    t = stats.step.values
    np.testing.assert_allclose(stats.survival.values, (steps[:, None] > t).mean(0), atol=1e-12)
    assert stats.median_exit.item() == np.percentile(steps, 50, method="inverted_cdf")
    assert int(stats.n_exited) == 5000 and float(stats.fraction_exited) == 1.0


def test_quantiles_are_nan_when_censoring_hides_them():
    steps = np.array([5, 10, 15, -1, -1, -1, -1, -1, -1, -1])  # 70 % never exit
    stats = escape_statistics(synthetic(steps, horizon=50), quantiles=(0.1, 0.25, 0.5))
    np.testing.assert_array_equal(stats.exit_quantile.values, [5.0, 15.0, np.nan])
    assert np.isnan(stats.median_exit.item())
    assert int(stats.n_censored) == 7
    assert stats.survival.values[-1] == pytest.approx(0.7)


def test_frozen_trajectories_are_censored_at_their_last_step():
    # Two frozen at step 4 (censored at 3), two exits at 5: S(5) = 1 − 2/2 = 0 among those at risk.
    stats = escape_statistics(synthetic([2, -1, -1, 5, 5], horizon=10, stop_step=np.array([-1, 4, 4, -1, -1])))
    np.testing.assert_allclose(stats.survival.values[[1, 2, 4, 5]], [1.0, 0.8, 0.8, 0.0])


def test_escape_rate_of_geometric_exit_times():
    p = 0.02
    steps = np.random.default_rng(1).geometric(p, 200_000)
    stats = escape_statistics(synthetic(np.minimum(steps, 5000), horizon=5000))
    assert stats.escape_rate.item() == pytest.approx(-np.log1p(-p), rel=0.03)
    assert stats.rate_window_start.item() == pytest.approx(np.log(10) / p, rel=0.1)  # S ≤ 0.1 from log(10)/p


def test_distance_fit_recovers_an_exact_law():
    delta = np.geomspace(1e-9, 1e-1, 50)
    steps = np.round(12.0 + 30.0 * np.log(1.0 / delta)).astype(int)
    w0 = np.stack([delta, np.zeros_like(delta)], 1)
    stats = escape_statistics(synthetic(steps, horizon=2000, w0=w0), center=(0.0, 0.0))
    assert stats.fit_b.item() == pytest.approx(30.0, rel=1e-3)
    assert stats.fit_a.item() == pytest.approx(12.0, abs=0.5)
    assert stats.fit_r2.item() > 0.9999


def test_gradient_descent_escape_rate_and_slope_match_closed_forms():
    lrs = np.array([0.02, 0.05])
    ds = sd.simulate(["sgd", "adam"], "saddle", sd.ball((0.0, 0.0), 1e-2, 20_000, seed=5), steps=1200,
                     hyper={"lr": lrs}, observers=[sd.observe.Exit(0.0, 1.0)], progress=False)
    stats = escape_statistics(ds)
    assert stats.survival.dims == ("optimizer", "lr", "step")
    gd = stats.sel(optimizer="sgd")
    np.testing.assert_allclose(gd.escape_rate.values, np.log1p(lrs), rtol=0.05)
    np.testing.assert_allclose(gd.fit_b.values, 1.0 / np.log1p(lrs), rtol=0.05)
    # Adam leaves in a number of steps nearly independent of the distance to the saddle.
    assert np.all(np.abs(stats.sel(optimizer="adam").fit_b.values) < 1.0)
    assert np.all(stats.fraction_exited.values == 1.0)
    table = escape_table(stats)
    assert len(table) == 4 and {"median", "rate", "b", "q10", "q90"} <= set(table.columns)
    # The exit centre is read from the dataset, also after a netCDF round trip.
    assert np.array_equal(stats.attrs["center"], [0.0, 0.0])


def test_hitting_times_use_the_same_statistics(tmp_path):
    ds = sd.simulate("sgd", "quadratic", np.random.default_rng(3).uniform(-1, 1, (500, 3)), steps=300,
                     hyper={"lr": 0.1}, params={"h": np.diag([1.0, 2.0, 3.0])},
                     observers=[sd.observe.Hitting("nearest_minimum", 1e-3)], progress=False)
    path = ds.simdyn.save(tmp_path / "hit.nc")
    stats = escape_statistics(sd.load(path), var="hit_step")
    hits = ds.hit_step.values
    assert int(stats.n_exited) == np.sum(hits >= 0)
    assert stats.median_exit.item() == np.percentile(np.where(hits >= 0, hits, 10**9), 50, method="inverted_cdf")
    assert np.isnan(stats.fit_b.item())  # no centre to measure a distance from


def test_missing_variable_is_an_error():
    with pytest.raises(ValueError, match="exit_step"):
        escape_statistics(xr.Dataset(attrs={"steps": 3}))


def test_plots_draw_survival_scaling_and_the_vector_field():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    delta = np.geomspace(1e-6, 1e-1, 12)
    x0 = np.stack([delta, np.zeros_like(delta)], 1)
    ds = sd.simulate("sgd", "saddle", x0, steps=2000, hyper={"lr": np.array([0.02, 0.05])},
                     observers=[sd.observe.Exit(0.0, 1.0)], progress=False)
    fig = sd.plot.survival(ds)
    curves = [line for line in fig.axes[0].lines if line.get_marker() != "v"]  # ▼: where a curve reaches 0
    assert len(curves) == 2
    fig2 = sd.plot.escape_scaling(ds, bins=6)
    assert len(fig2.axes[0].lines) == 4  # median and fit per learning rate
    trajectories = sd.simulate("sgd", "saddle", x0[:1], steps=20, hyper={"lr": 0.05}, record_every=1, progress=False)
    fig3 = sd.plot.vector_field("saddle", trajectories, markers=(0.5,))
    assert len(fig3.axes[0].lines) >= 3
    for f in (fig, fig2, fig3):
        plt.close(f)


@pytest.mark.slow
def test_statistics_and_plots_on_a_million_trajectories(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    ds = sd.simulate(["sgd", "adam"], "saddle", sd.ball((0.0, 0.0), 1e-2, 1_000_000, seed=1), steps=2500,
                     hyper={"lr": 0.01}, observers=[sd.observe.Exit(0.0, 1.0)], progress=False)
    stats = escape_statistics(ds)
    assert stats.sel(optimizer="sgd").escape_rate.item() == pytest.approx(np.log1p(0.01), rel=0.01)
    assert stats.sel(optimizer="sgd").fit_b.item() == pytest.approx(1 / np.log1p(0.01), rel=0.01)
    sd.plot.survival(stats).savefig(tmp_path / "survival.png")
    sd.plot.escape_scaling(ds, stats=stats).savefig(tmp_path / "scaling.png")
