"""Smoke tests of the paper-reproduction scripts and the observer benchmark (``--quick`` runs).

Slow (minutes, mostly compilation), so excluded from the default run: ``python -m pytest -m slow
tests/test_escape_scripts.py``. They check that each script runs end to end and writes its
netCDF files and figures, and a few of the numbers it prints are the paper's.
"""

import numpy as np
import pytest

import simdyn as sd

from scripts_loader import load


@pytest.mark.slow
def test_saddle_escape_quick(tmp_path):
    load("saddle_escape").main(["--quick", "--out", str(tmp_path)])
    for name in ("fig2a_saddle_trajectories.png", "saddle_escape_survival.png", "saddle_escape_scaling.png",
                 "saddle_trajectories.nc", "saddle_escape_ball.nc", "saddle_escape_delta.nc", "saddle_escape_table.csv"):
        assert (tmp_path / name).stat().st_size > 0
    ds = sd.load(tmp_path / "saddle_escape_delta.nc")
    assert set(ds.optimizer.values) == {"sgd", "adagrad", "rmsprop", "adam"}


@pytest.mark.slow
def test_flat_crossing_quick_attains_the_bounds(tmp_path):
    load("flat_crossing").main(["--quick", "--out", str(tmp_path)])
    import xarray as xr

    extremal = xr.load_dataset(tmp_path / "flat_crossing_extremal.nc")
    ok = np.isfinite(extremal.prop2_bound.values)
    np.testing.assert_allclose(extremal.max_step_lr.values[ok], extremal.prop1_bound.values[ok], rtol=1e-5)
    np.testing.assert_allclose(extremal.coast_lr.values[ok], extremal.prop2_bound.values[ok], rtol=1e-5)
    plateau = sd.load(tmp_path / "flat_crossing_plateau.nc")
    assert bool((plateau.crossing <= plateau.prop2_bound).where(np.isfinite(plateau.prop2_bound), True).all())
    assert (tmp_path / "flat_crossing.png").exists() and (tmp_path / "flat_crossing_history.png").exists()


@pytest.mark.slow
def test_valley_hitting_quick(tmp_path):
    load("valley_hitting").main(["--quick", "--out", str(tmp_path)])
    ds = sd.load(tmp_path / "valley_hitting.nc")
    # the sharp valley: Adam reaches 1e-3 in max(|x0|, |y0|)/lr steps from (1, 1)
    assert int(ds.hit_step.sel(landscape="sharp_valley", run="adam")) == 1000
    assert (tmp_path / "valley_paths.png").exists() and (tmp_path / "valley_hitting_maps.png").exists()


@pytest.mark.slow
def test_bench_observers_quick(tmp_path):
    rows = load("bench_observers").main(["--quick", "--rounds", "1", "--optimizers", "adam", "--out", str(tmp_path)])
    assert {row["config"] for row in rows} == {"plain", "exit_l2", "exit_linf", "hitting", "path_length", "max_step",
                                             "exit_hit_max", "all_four"}
    assert all(row["seconds"] > 0 for row in rows)
