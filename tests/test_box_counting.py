"""Boundaries of any label or sign field over any two dims: the box-counting dimension, and the
uncertainty exponent and basin entropies over hyperparameter dims.

Oracles: exact dimensions of constructed sets — a straight line at any angle (D = 1), the edge of
a filled half plane (1), a rasterised Koch curve built by iteration (log 4 / log 3, Falconer,
*Fractal Geometry*, §0.1), a field of independent random labels, whose every cell is on the
boundary (2); box counts counted box by box in Python (tests/naive.py); the closed forms of
tests/test_basins.py (sliding uncertain fraction m / (n − m) of a straight boundary, basin entropy
log 2 / 5 of a half-split row of boxes) on fields named after hyperparameters. Pure NumPy: nothing
is compiled.
"""

import math

import numpy as np
import pytest
import xarray as xr
from PIL import Image, ImageDraw

import naive
import simdyn as sd
from simdyn.analysis.box_counting import boundary_cells, box_count

KOCH_DIMENSION = math.log(4) / math.log(3)


def koch_curve(start, end, levels: int) -> np.ndarray:
    """Vertices of the Koch curve from ``start`` to ``end`` after ``levels`` iterations: each
    segment is replaced by four of a third of its length, the middle two forming a triangle's tip."""
    points = np.array([start, end], dtype=float)
    for _ in range(levels):
        a, third = points[:-1], (points[1:] - points[:-1]) / 3
        tip = np.stack([third[:, 0] * 0.5 - third[:, 1] * math.sqrt(3) / 2,
                        third[:, 0] * math.sqrt(3) / 2 + third[:, 1] * 0.5], axis=1)
        points = np.vstack([np.stack([a, a + third, a + third + tip, a + 2 * third], axis=1).reshape(-1, 2), points[-1:]])
    return points


def koch_region(n: int, levels: int) -> np.ndarray:
    """(rows, n) int8 image: 1 below a Koch curve whose base spans the n columns, 0 above."""
    curve = koch_curve((0.0, 1.5), (n - 1.0, 1.5), levels)
    height = int(0.3 * n) + 4
    image = Image.new("1", (n, height), 0)
    ImageDraw.Draw(image).polygon([tuple(p) for p in curve] + [(n - 1.0, 0.0), (0.0, 0.0)], fill=1)
    return np.array(image, dtype=np.int8)


def half_plane(n: int, angle_degrees: float) -> np.ndarray:
    """Boolean n × n field: True on one side of a line at ``angle_degrees`` through the grid."""
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    theta = math.radians(angle_degrees)
    return (i - 0.47 * n) * math.sin(theta) - (j - 0.52 * n) * math.cos(theta) > 0


@pytest.mark.parametrize("angle", [0, 17, 45, 63, 90])
def test_a_straight_line_at_any_angle_has_dimension_one(angle):
    field = xr.DataArray(half_plane(1024, angle), dims=("lr_layer1", "lr_layer2"))
    bc = sd.box_counting_dimension(field)
    assert abs(float(bc.dimension) - 1.0) < 0.02
    assert bc.attrs["grid_dims"] == "lr_layer1 lr_layer2"


def test_the_edge_of_a_filled_half_plane_has_dimension_one_exactly():
    labels = np.zeros((1025, 1025), dtype=np.int64)
    labels[:300] = 3  # a boundary along the grid: N(s) = ceil(1024 / s) boxes
    bc = sd.box_counting_dimension(xr.DataArray(labels, dims=("lr", "beta1")))
    np.testing.assert_array_equal(bc.box_count.values, np.ceil(1024 / bc.box.values))
    assert float(bc.dimension) == pytest.approx(1.0, abs=1e-12)
    assert int(bc.fit_box_min) == 2 and int(bc.fit_box_max) == 64  # powers of two up to 1024 / 16


def test_a_rasterised_koch_curve_has_dimension_log4_over_log3():
    # 3^7 = 2187 segments over 2048 columns: the smallest segment is about one cell
    bc = sd.box_counting_dimension(xr.DataArray(koch_region(2048, 7), dims=("beta1", "lr")))
    assert abs(float(bc.dimension) - KOCH_DIMENSION) < 0.03
    assert 0 < float(bc.dimension_stderr) < 0.03


def test_random_labels_fill_the_plane():
    labels = np.random.default_rng(0).integers(0, 2, (1024, 1024))
    bc = sd.box_counting_dimension(xr.DataArray(labels, dims=("x0", "y0")))
    assert abs(float(bc.dimension) - 2.0) < 0.01


def test_box_counts_equal_counting_box_by_box():
    rng = np.random.default_rng(3)
    grid = (rng.random((37, 29)) < 0.04).astype(int) + (np.arange(29)[None, :] > 20)
    cells = boundary_cells(grid)
    assert cells.shape == (36, 28)
    for box in (1, 2, 5, 8, 13):
        assert box_count(cells, box) == naive.boundary_box_count(grid, box)


def test_labels_by_variable_or_sign_over_hyperparameter_dims_keep_the_other_dims():
    """A trainability-like dataset: ``trainable`` (0/1) and a float score over two learning rates,
    for two seeds; the sign of the score and ``trainable`` bound the same region."""
    lr1, lr2 = np.geomspace(1e-3, 1, 257), np.geomspace(1e-3, 1, 257)
    regions = np.stack([half_plane(257, 30), half_plane(257, 60)])
    score = np.where(regions, 1.5, -0.5)
    ds = xr.Dataset(
        {"trainable": (("seed", "lr_layer1", "lr_layer2"), regions.astype(np.int8)),
         "trainability_score": (("seed", "lr_layer1", "lr_layer2"), score)},
        coords={"seed": [0, 1], "lr_layer1": lr1, "lr_layer2": lr2},
    )
    by_sign = sd.box_counting_dimension(ds, dims=("lr_layer1", "lr_layer2"), by="sign:trainability_score")
    by_label = sd.box_counting_dimension(ds, dims=("lr_layer1", "lr_layer2"), by="trainable")
    from_array = sd.box_counting_dimension(ds.trainability_score, dims=("lr_layer1", "lr_layer2"), by="sign")
    assert by_sign.dimension.dims == ("seed",) and list(by_sign.seed.values) == [0, 1]
    np.testing.assert_array_equal(by_sign.box_count.values, by_label.box_count.values)
    np.testing.assert_array_equal(by_sign.box_count.values, from_array.box_count.values)
    np.testing.assert_allclose(by_sign.dimension.values, 1.0, atol=0.05)
    assert by_sign.attrs["labels"] == "sign:trainability_score"


def test_sign_labels_give_nan_a_label_of_its_own():
    from simdyn.analysis.boundaries import NAN_SIGN, sign_labels

    score = xr.DataArray([[-2.0, 0.0, 3.0, np.nan]], dims=("a", "b"))
    np.testing.assert_array_equal(sign_labels(score).values, [[-1, 0, 1, NAN_SIGN]])


def test_uncertainty_exponent_and_basin_entropy_over_hyperparameter_dims():
    """A boundary between two columns of a (lr, beta1) grid: the sliding uncertain fraction is
    m / (n − m) (tests/test_basins.py's ridge); a boundary through the second row of 20-point
    boxes gives S_bb = log 2 and S_b = log 2 / 5."""
    score = np.where(np.arange(256)[:, None] < 128, -1.0, 2.0) * np.ones((1, 200))
    ds = xr.Dataset({"score": (("lr", "beta1"), score)},
                    coords={"lr": np.linspace(0.01, 1, 256), "beta1": np.linspace(0, 0.99, 200)})
    ue = sd.uncertainty_exponent(ds, by="sign:score")
    m = ue.box.values
    np.testing.assert_allclose(ue.uncertain_fraction.values, m / (256 - m), rtol=1e-12)
    assert abs(float(ue.alpha) - 1.0) < 0.05 and ue.attrs["grid_dims"] == "lr beta1"
    split = np.zeros((100, 100), dtype=np.int8)
    split[:30] = 1
    be = sd.basin_entropy(xr.Dataset({"trainable": (("lr", "beta1"), split)}), box=20, by="trainable")
    assert float(be.boundary_basin_entropy) == pytest.approx(math.log(2))
    assert float(be.basin_entropy) == pytest.approx(math.log(2) / 5)


def test_bad_labels_and_dims_are_named():
    ds = xr.Dataset({"score": (("lr", "beta1"), np.zeros((8, 8))), "trainable": (("lr", "beta1"), np.ones((8, 8), int))})
    with pytest.raises(TypeError, match="by='sign:score'"):
        sd.box_counting_dimension(ds, by="score")
    with pytest.raises(TypeError, match="by='sign'"):
        sd.box_counting_dimension(ds.score)
    with pytest.raises(ValueError, match="no variable 'missing'"):
        sd.box_counting_dimension(ds, by="sign:missing")
    with pytest.raises(ValueError, match="by='name'"):
        sd.box_counting_dimension(ds, by="name")
    with pytest.raises(ValueError, match="dims"):
        sd.box_counting_dimension(ds, by="trainable", dims=("lr", "momentum"))
    with pytest.raises(ValueError, match="boxes"):
        sd.box_counting_dimension(ds, by="trainable", boxes=[2])
    with pytest.raises(TypeError, match="by must be"):
        sd.uncertainty_exponent(ds, by=ds.trainable)
