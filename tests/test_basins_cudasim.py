"""Basin labels are the same on the CUDA target (numba's simulator) as on the CPU.

Run in its own process: ``NUMBA_ENABLE_CUDASIM=1 python -m pytest -m cudasim -o addopts="" tests/test_basins_cudasim.py``.
The simulator runs the kernels as Python, so grids are tiny; tests/test_basins.py compiles the
same kernel (the period detector's) to PTX for a real GPU.
"""

import os

import numpy as np
import pytest

import simdyn as sd
from cudasim_helpers import both_targets as both_target_results

pytestmark = [
    pytest.mark.cudasim,
    pytest.mark.skipif(os.environ.get("NUMBA_ENABLE_CUDASIM") != "1", reason="needs NUMBA_ENABLE_CUDASIM=1"),
]


def both_targets(*args, **kwargs):
    return both_target_results(*args, run=sd.basins, **kwargs)


def assert_same_basins(cpu, gpu):
    np.testing.assert_array_equal(gpu.attractor.values, cpu.attractor.values)
    np.testing.assert_array_equal(gpu.attractor_name.values, cpu.attractor_name.values)
    np.testing.assert_array_equal(gpu.attractor_period.values, cpu.attractor_period.values)
    np.testing.assert_allclose(gpu.attractor_location.values, cpu.attractor_location.values, atol=1e-9)
    np.testing.assert_array_equal(gpu.basin_fraction.values, cpu.basin_fraction.values)


def test_momentum_basins_on_the_double_well_match_the_cpu():
    grid = sd.grid(x=(-2, 2, 8), y=(-1, 1, 3))
    cpu, gpu = both_targets("momentum", "double_well", grid, 400, hyper={"lr": 0.05}, tol=1e-3)
    assert set(cpu.attractor_name.values) == {"global_min", "local_min"}
    assert_same_basins(cpu, gpu)
    assert gpu.attrs["target"] == "cuda"


def test_cycle_attractors_and_divergence_match_the_cpu_in_chunks():
    # GD beyond the period-doubling of the wells (lr·f'' = 0.27·8 > 2): 2-cycles, and divergence
    grid = sd.grid(x=(-2, 2, 10), y=(-0.5, 0.5, 2))
    cpu, gpu = both_targets("sgd", "double_well", grid, 200, hyper={"lr": 0.27}, params={"c": 0.0}, tol=1e-6,
                            chunk_size=7)
    assert set(cpu.attractor_kind.values) == {"cycle"}
    assert float(cpu.diverged_fraction) > 0
    assert_same_basins(cpu, gpu)
