"""The basin scripts run end to end in --quick mode (slow: excluded from the default run)."""

import pytest
import xarray as xr

from scripts_loader import load


@pytest.mark.slow
def test_basins_double_well_quick(tmp_path):
    assert load("basins_double_well").main(["--quick", "--out", f"{tmp_path}/"]) == 0
    for name in ("basins_double_well.nc", "basins_himmelblau.nc", "basins_double_well.png", "basins_himmelblau.png",
                 "basins_double_well_lr0.05.png", "phase_portrait_double_well.png"):
        assert (tmp_path / name).exists(), name
    with xr.open_dataset(tmp_path / "basins_himmelblau.nc") as ds:
        assert {"min_3_2", "min_-2.81_3.13", "min_-3.78_-3.28", "min_3.58_-1.85"} <= set(ds.attractor_name.values)
        assert "uncertainty_exponent" in ds and "boundary_basin_entropy" in ds


@pytest.mark.slow
def test_basins_lr_scan_quick(tmp_path):
    assert load("basins_lr_scan").main(["--quick", "--out", f"{tmp_path}/"]) == 0
    for landscape in ("double_well", "himmelblau"):
        for name in (f"basins_lr_scan_{landscape}.nc", f"basins_lr_scan_{landscape}.png",
                     f"uncertainty_lr_scan_{landscape}.png"):
            assert (tmp_path / name).exists(), name


@pytest.mark.slow
def test_basins_scale_quick(tmp_path):
    assert load("basins_scale").main(["--quick", "--out", f"{tmp_path}/"]) == 0
    with xr.open_dataset(tmp_path / "basins_scale.nc") as ds:
        assert ds.sizes["x0"] == ds.sizes["y0"] == 512
        assert set(str(n) for n in ds.attractor_name.values) >= {"global_min", "local_min"}
