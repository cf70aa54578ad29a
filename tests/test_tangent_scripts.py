"""Smoke test of scripts/momentum_rates.py (``--quick``): it writes its files, and its measured
rates are the lecture's closed forms (GD: ln max|1 − ηλ_i|; heavy ball: ln ρ(M))."""

import numpy as np
import pytest
import xarray as xr

from scripts_loader import load


@pytest.mark.slow
def test_momentum_rates_quick(tmp_path):
    load("momentum_rates").main(["--quick", "--out", str(tmp_path)])
    for name in ("momentum_rates_gd.nc", "momentum_rates_heavy_ball.nc", "momentum_rates.png", "momentum_rates.txt"):
        assert (tmp_path / name).stat().st_size > 0
    gd = xr.load_dataset(tmp_path / "momentum_rates_gd.nc")
    ok = np.isfinite(gd.rate_lyapunov.values)
    np.testing.assert_allclose(gd.rate_lyapunov.values[ok], gd.rate_closed_form.values[ok], atol=1e-3)
    assert ok.mean() > 0.8 and (gd.rate_closed_form.values[~ok] > 0).all()
    hb = xr.load_dataset(tmp_path / "momentum_rates_heavy_ball.nc")
    finite = np.isfinite(hb.rate_lyapunov.values)
    assert finite.mean() > 0.5
    np.testing.assert_allclose(hb.rate_lyapunov.values[finite], hb.rate_closed_form.values[finite], atol=3e-3)
    assert (hb.rate_closed_form.values[~finite] > 0).all()  # only diverging runs overflow


@pytest.mark.slow
def test_adam_cycle_stability_quick(tmp_path):
    """Proposition 4: refined cycles and their multipliers equal the closed forms; the continued
    branch loses stability at two_cycle_stability_boundary (≈ 0.1717)."""
    from simdyn.analysis.periods import two_cycle_stability_boundary

    out, cont = load("adam_cycle_stability").main(["--quick", "--out", str(tmp_path)])
    for name in ("adam_cycle_stability.nc", "adam_cycle_continuation.nc", "adam_cycle_stability.png",
                 "adam_cycle_stability.txt"):
        assert (tmp_path / name).stat().st_size > 0
    assert int((out.period == 2).sum()) >= 2 and bool(out.orbit_stable.where(out.period == 2, True).all())
    (change,) = cont.attrs["stability_changes"]
    assert abs(change - two_cycle_stability_boundary()) < 1e-3


@pytest.mark.slow
def test_chaos_map_quick(tmp_path):
    """GD on the valley x² + 10⁻³y² has λ₁ = ln max(|1 − 2η|, |1 − 2·10⁻³η|) (closed form) in every
    cell that stays bounded, and the regimes partition each panel."""
    results = load("chaos_map").main(["--quick", "--out", str(tmp_path)])
    for name in ("chaos_map_adam.nc", "chaos_map_gd.nc", "chaos_map_heavy_ball.nc", "chaos_map.png", "chaos_map.txt"):
        assert (tmp_path / name).stat().st_size > 0
    gd = xr.load_dataset(tmp_path / "chaos_map_gd.nc").sel(landscape="valley")
    lr = gd.lr.values
    closed = np.log(np.maximum(np.abs(1 - 2 * lr), np.abs(1 - 2e-3 * lr)))
    bounded = gd.regime.values != 4
    assert bounded.sum() >= 10 and (closed[~bounded] > 0).all()
    np.testing.assert_allclose(gd.lyapunov.values[bounded], closed[bounded], atol=2e-3)
    for ds in results.values():
        assert set(np.unique(ds.regime.values)) <= set(range(5))
    assert "valley" in (tmp_path / "chaos_map.txt").read_text()
