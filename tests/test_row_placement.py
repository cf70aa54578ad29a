"""Where the tuple-form state rows sit in memory (:mod:`simdyn.engine.allocation`).

Oracle: address arithmetic. Rows that the step loop loads and stores must start a multiple of
ROW_BLOCK (512) bytes past a page boundary and never a few cache lines apart (mod 4096), or the
CPU holds loads back behind stores of other rows (4K aliasing: the 2-D Adam kernel ran at 0.70x
a hand kernel instead of 0.91x). The kernel is replaced by a no-op: nothing is compiled.
"""

import numpy as np
import pytest

from simdyn.engine import allocation
from simdyn.plan import make_plan

from allocation_spy import allocated_arrays


@pytest.mark.parametrize("itemsize", [4, 8])
@pytest.mark.parametrize("n", [1, 7, 64, 1000, 4096, 131072, 131073])
def test_padded_width_is_an_odd_multiple_of_the_row_block(n, itemsize):
    width = allocation.padded_width(n, itemsize)
    blocks, rest = divmod(width * itemsize, allocation.ROW_BLOCK)
    assert width >= n and rest == 0 and blocks % 2 == 1
    assert width * itemsize < n * itemsize + 2 * allocation.ROW_BLOCK  # at most two blocks of padding


def test_zeros_places_each_array_after_the_rows_before_it():
    arrays = {"a": ((3, 100), np.float64), "b": ((2, 2, 50), np.float32), "empty": ((0, 9), np.float64),
              "c": ((10,), np.int64)}
    out = allocation.zeros(arrays)
    for name, (shape, dtype) in arrays.items():
        assert out[name].shape == shape and out[name].dtype == dtype and not out[name].any()
        assert out[name].flags.c_contiguous and out[name].flags.writeable
    # rows before: a 0, b 3, c 3 + 4 = 7 (the empty array has none)
    offsets = {name: out[name].ctypes.data % allocation.PAGE for name in ("a", "b", "c")}
    assert offsets == {"a": 0, "b": 3 * allocation.ROW_BLOCK, "c": 7 * allocation.ROW_BLOCK}


@pytest.mark.parametrize("n", [5, 4096, 2**17])
def test_every_state_row_starts_a_multiple_of_the_row_block_past_a_page(n, monkeypatch):
    x0 = np.random.default_rng(0).uniform(-1, 1, (n, 2))
    (launch,) = make_plan("adam", "valley", x0, 3).launches
    made, _ = allocated_arrays(monkeypatch, launch)
    starts = {}
    for name in ("W", "S", "F", "G", "LR"):
        a = made[name]
        rows = a.reshape(-1, a.shape[-1])
        for r in range(rows.shape[0]):
            starts[name, r] = rows[r].ctypes.data % allocation.PAGE
    assert all(s % allocation.ROW_BLOCK == 0 for s in starts.values()), starts
    # the rows of W and S, which the step loads and stores, in distinct groups of L1 sets
    state = [s for (name, _), s in starts.items() if name in ("W", "S")]
    assert len(set(state)) == len(state), starts
