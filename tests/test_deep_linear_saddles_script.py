"""Smoke test of scripts/deep_linear_saddles.py (--quick; slow: five kernel compiles).

Oracle for the numbers it checks: the closed-form escape-time slope of gradient descent on the
deep linear network, 1/log(1 + η s_k) per singular value s_k (module docstring of the script),
and the loss plateau levels ½ Σ_{j>k} s_j².
"""

import numpy as np
import pytest
import xarray as xr

from scripts_loader import load


@pytest.mark.slow
def test_deep_linear_saddles_quick(tmp_path):
    script = load("deep_linear_saddles")
    results = script.main(["--quick", "--out", str(tmp_path)])
    for name in ("deep_linear_saddles.nc", "deep_linear_saddles.png", "deep_linear_saddles.txt"):
        assert (tmp_path / name).stat().st_size > 0
    ds = xr.load_dataset(tmp_path / "deep_linear_saddles.nc")
    np.testing.assert_allclose(ds.plateau_level.values, [7.0, 2.5, 0.5])
    assert list(ds.optimizer.values) == ["sgd", "momentum", "adagrad", "rmsprop", "adam"]
    s = np.array([3.0, 2.0, 1.0])
    gd = np.array([results["slopes"][("sgd", k)] for k in range(3)])
    np.testing.assert_allclose(gd, 1.0 / np.log1p(ds.attrs["lr"] * s), rtol=0.1)
    assert np.all(ds.escape_step.sel(optimizer="sgd").values > 0)  # GD learns every mode in the horizon
