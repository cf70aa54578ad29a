"""The period scripts run end to end in --quick mode (slow: excluded from the default run)."""

import pytest

from scripts_loader import load


@pytest.mark.slow
def test_adam_valley_cycles_quick(tmp_path, capsys):
    ds = load("adam_valley_cycles").main(["--quick", "--out", str(tmp_path)])  # no trailing slash
    assert f"wrote {tmp_path / 'adam_valley_cycles'}.nc, .png, .txt" in capsys.readouterr().out
    assert int(ds.period_w1.sel(optimizer="adam", landscape="sharp_valley")) == 12
    assert int(ds.hit_step_max_norm.sel(optimizer="rmsprop", landscape="valley")) == 1086
    assert int(ds.hit_step_max_norm.sel(optimizer="adam", landscape="sharp_valley")) == 900
    for suffix in ("nc", "png", "txt"):
        assert (tmp_path / f"adam_valley_cycles.{suffix}").exists()


@pytest.mark.slow
def test_adam_period_scan_quick(tmp_path):
    ds = load("adam_period_scan").main(["--quick", "--out", f"{tmp_path}/"])
    assert set(ds.period.dims) == {"lr", "beta1", "traj"}
    assert (tmp_path / "adam_period_scan.png").exists() and (tmp_path / "adam_period_scan.nc").exists()


@pytest.mark.slow
def test_bench_period_quick(tmp_path):
    rows = load("bench_period").main(["--quick", "--repeats", "1", "--out", f"{tmp_path}/"])
    assert all(row[3]["plain"] > 0 for row in rows)
    assert (tmp_path / "bench_period.png").exists()
