"""Smoke runs (--quick) of the sharpness scripts: edge_of_stability and bench_sharpness (slow)."""

import numpy as np
import pytest
import xarray as xr

from scripts_loader import load

pytestmark = pytest.mark.slow


def test_edge_of_stability_quick(tmp_path):
    load("edge_of_stability").main(["--quick", "--out", str(tmp_path)])
    for name in ("edge_of_stability_gd.nc", "edge_of_stability_adam.nc", "edge_of_stability.png",
                 "edge_of_stability.txt"):
        assert (tmp_path / name).stat().st_size > 0
    gd = xr.load_dataset(tmp_path / "edge_of_stability_gd.nc")
    # the NumPy loss of the last recorded point equals the engine's final loss (two independent evaluations)
    np.testing.assert_allclose(gd.train_loss.isel(step=-1).values, gd.loss.values, rtol=1e-10)
    assert np.isfinite(gd.sharpness.values).all() and (gd.sharpness.values > 0).all()
    adam = xr.load_dataset(tmp_path / "edge_of_stability_adam.nc")
    assert np.isnan(adam.sharpness.isel(sharpness_step=0)).all()  # P_0 = 0 before the first step
    assert np.isfinite(adam.sharpness.isel(sharpness_step=slice(1, None)).values).all()


def test_bench_sharpness_quick():
    rows = load("bench_sharpness").main(["--quick"])
    assert all(row["plain"] > 0 and row["sharpness"] > 0 for row in rows.values())
