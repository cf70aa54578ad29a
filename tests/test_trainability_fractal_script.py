"""scripts/trainability_fractal.py: its boundary dimension on closed-form boundaries, its colour
stretch, its zoom windows, and (slow) a tiny end-to-end run.

Oracles: a straight boundary has box-counting dimension 1 and a checkerboard (every cell on the
boundary) 2 (Falconer, Fractal Geometry, §2.1); the reference notebook's ``cdf_img`` keeps the
sign of the score, negated.
"""

import numpy as np
import pytest
import xarray as xr

from scripts_loader import load

script = load("trainability_fractal")


def field(values):
    return xr.DataArray(values, dims=("lr_layer1", "lr_layer2"))


def test_boundary_dimension_of_a_straight_boundary_is_one_and_of_a_checkerboard_two():
    i, j = np.meshgrid(np.arange(128), np.arange(128), indexing="ij")
    line = script.boundary_dimension(field(np.where(i + 0.3 * j < 80, -1.0, 1.0)))
    board = script.boundary_dimension(field(np.where((i + j) % 2 == 0, -1.0, 1.0)))
    assert line["dimension"] == pytest.approx(1.0, abs=0.05)
    assert board["dimension"] == pytest.approx(2.0, abs=1e-9)
    assert len(line["boxes"]) >= 2


def test_paper_stretch_keeps_the_sign_negated_and_spans_the_colour_range():
    score = np.array([[-30.0, -2.0], [0.5, 7.0]])
    out = script.paper_stretch(score)
    np.testing.assert_array_equal(np.sign(out), -np.sign(score))
    assert out.max() == pytest.approx(1.0) and out.min() == pytest.approx(-1.0)


def test_zoom_widths_shrink_tenfold_down_to_the_requested_fraction():
    assert script.zoom_widths(None) == [1.0]
    assert script.zoom_widths((None, 1e-3)) == pytest.approx([1.0, 0.1, 0.01, 1e-3])
    with pytest.raises(SystemExit, match="WIDTH"):
        script.parse_zoom(["auto", "1e-12"])
    with pytest.raises(SystemExit, match="CENTRE"):
        script.parse_zoom(["5", "0.1"])
    assert script.parse_zoom(["5.5,2", "0.01"]) == ((5.5, 2.0), 0.01)


@pytest.mark.slow
def test_trainability_fractal_tiny_run_writes_its_outputs(tmp_path):
    script.main(["--out", str(tmp_path), "--resolution", "8", "--steps", "10", "--zoom", "auto", "0.1"])
    for name in ("trainability_fractal_0.nc", "trainability_fractal_1.nc", "trainability_fractal.png",
                 "trainability_fractal.txt"):
        assert (tmp_path / name).exists()
    ds = xr.open_dataset(tmp_path / "trainability_fractal_0.nc")
    assert ds.trainability_score.dims == ("lr_layer1", "lr_layer2")
    assert set(np.unique(ds.trainable.values)) <= {0, 1}
