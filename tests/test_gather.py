"""The column gather that puts a tiled launch's results back in batch order (oracle: NumPy's
fancy indexing ``a[..., inverse]`` and ``np.argsort``)."""

import numpy as np
import pytest

from simdyn.engine.gather import gather_columns, inverse_permutation


def test_inverse_permutation_is_argsort():
    order = np.random.default_rng(0).permutation(10_000)
    np.testing.assert_array_equal(inverse_permutation(order), np.argsort(order))


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64, np.int32])
@pytest.mark.parametrize("shape", [(7,), (3, 7), (2, 3, 7)])
def test_gather_columns_equals_fancy_indexing(dtype, shape):
    """Padded arrays (more columns than trajectories), every rank and dtype the results use."""
    rng = np.random.default_rng(1)
    n = 20_000  # several parallel chunks
    a = (rng.standard_normal(shape[:-1] + (n + 64,)) * 1000).astype(dtype)
    inverse = inverse_permutation(rng.permutation(n))
    out = gather_columns(a, inverse)
    assert out.flags.c_contiguous and out.dtype == a.dtype
    np.testing.assert_array_equal(out, a[..., inverse])


def test_gather_columns_of_a_strided_view():
    """A view that is not C-contiguous (the array form's transposed rows) takes NumPy's path."""
    rng = np.random.default_rng(2)
    a = rng.standard_normal((50, 3))
    inverse = inverse_permutation(rng.permutation(40))
    np.testing.assert_array_equal(gather_columns(a.T, inverse), a.T[:, inverse])
    assert gather_columns(np.zeros((0, 50)), inverse).shape == (0, 40)


def test_gather_columns_refuses_too_few_columns():
    """The compiled loop reads unchecked: an array narrower than the gather is an error first."""
    with pytest.raises(ValueError, match="fewer than"):
        gather_columns(np.zeros((2, 5)), inverse_permutation(np.arange(8)))
