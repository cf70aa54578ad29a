"""The per-combination tables of a plan: distinct columns (oracle: ``np.unique(axis=0)``)."""

import numpy as np
import pytest

from simdyn.plan import _distinct_columns


@pytest.mark.parametrize("varying_rows", [(), (0,), (0, 2), (0, 1, 2)])
def test_distinct_columns_equal_numpy_unique(varying_rows):
    rng = np.random.default_rng(0)
    table = np.full((3, 5000), 0.5)
    for r in varying_rows:
        table[r] = rng.integers(0, 5, table.shape[1]) / 3
    unique, inverse = _distinct_columns(table)
    expected = np.unique(table.T, axis=0)
    np.testing.assert_array_equal(unique[inverse].T, table)  # every column rebuilt from its distinct one
    assert len(unique) == len(expected)
    np.testing.assert_array_equal(np.unique(unique, axis=0), expected)
