"""The escape/hitting/path observers give the same numbers on the CUDA target (numba's simulator)
as on the CPU.

Run in its own process: ``NUMBA_ENABLE_CUDASIM=1 python -m pytest -m cudasim -o addopts="" tests/test_observers_cudasim.py``.
The simulator runs the kernels as Python, so the inputs are tiny; tests/test_observers.py
compiles the same kernel to PTX for a real GPU.
"""

import os

import numpy as np
import pytest

import simdyn as sd
from cudasim_helpers import both_targets

pytestmark = [
    pytest.mark.cudasim,
    pytest.mark.skipif(os.environ.get("NUMBA_ENABLE_CUDASIM") != "1", reason="needs NUMBA_ENABLE_CUDASIM=1"),
]


def test_exit_hitting_and_path_observers_match_the_cpu():
    x0 = np.array([[1e-3, 0.0], [-0.2, 0.3], [0.05, -0.01], [1.2, 0.1]])
    observers = [sd.observe.Exit(0.0, 1.0), sd.observe.Hitting((0.5, 0.0), 0.05), sd.observe.PathLength(),
                 sd.observe.MaxStep()]
    for optimizer in ("sgd", "adam"):
        cpu, gpu = both_targets(optimizer, "saddle", x0, 120, hyper={"lr": np.array([0.05, 0.2])}, observers=observers)
        assert np.any(cpu.exit_step.values > 0) and np.any(cpu.hit_step.values > 0)
        np.testing.assert_array_equal(gpu.exit_step.values, cpu.exit_step.values)
        np.testing.assert_array_equal(gpu.hit_step.values, cpu.hit_step.values)
        np.testing.assert_allclose(gpu.exit_point.values, cpu.exit_point.values, rtol=1e-12)
        np.testing.assert_allclose(gpu.path_length.values, cpu.path_length.values, rtol=1e-12)
        np.testing.assert_allclose(gpu.displacement.values, cpu.displacement.values, rtol=1e-12)
        np.testing.assert_allclose(gpu.max_step.values, cpu.max_step.values, rtol=1e-12)


def test_linf_exit_and_nearest_of_several_minima_match_the_cpu():
    x0 = np.array([[0.1, 0.2], [-0.3, -0.1], [1.5, 0.0], [-1.5, 0.4]])
    observers = [sd.observe.Exit((0.0, 0.0), 0.8, norm="linf"), sd.observe.Hitting("nearest_minimum", 1e-2)]
    cpu, gpu = both_targets("rmsprop", "double_well", x0, 150, hyper={"lr": 0.01}, observers=observers)
    assert np.any(cpu.hit_step.values >= 0)
    for name in ("exit_step", "hit_step", "hit_target"):
        np.testing.assert_array_equal(gpu[name].values, cpu[name].values)
