"""LossTrace and Trainability on the CUDA target: under numba's simulator they give the CPU's
numbers (oracle: the CPU kernel, itself tested against NumPy GD in tests/test_loss_observers.py),
and their kernels compile to PTX.

Run the simulator tests in their own process:
``NUMBA_ENABLE_CUDASIM=1 python -m pytest -m cudasim -o addopts="" tests/test_loss_observers_cudasim.py``.
On CUDA the array form calls the per-trajectory ``value_grad`` (or ``grad`` then ``loss``), the
CPU the tile forms, so the two agree to rounding.
"""

import os

import numpy as np
import pytest

import simdyn as sd
from cudasim_helpers import both_targets
from loss_landscapes import bowl, least_squares_landscape
from simdyn.engine.kernels import compile_ptx
from simdyn.plan import make_plan

SIMULATOR = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
LRS = np.array([0.3, 3.0, 12.0])


def observers():
    return [sd.observe.LossTrace(every=3), sd.observe.Trainability(window=4, cap=1e3)]


def assert_same(cpu, gpu):
    np.testing.assert_array_equal(gpu.trainable.values, cpu.trainable.values)
    np.testing.assert_array_equal(gpu.stop_step.values, cpu.stop_step.values)
    np.testing.assert_allclose(gpu.trainability_score.values, cpu.trainability_score.values, rtol=1e-11)
    np.testing.assert_allclose(gpu.loss_trace.values, cpu.loss_trace.values, rtol=1e-11, atol=1e-14)


@pytest.mark.cudasim
@pytest.mark.skipif(not SIMULATOR, reason="needs NUMBA_ENABLE_CUDASIM=1")
@pytest.mark.parametrize("with_value_grad", [True, False])
def test_array_form_on_cuda_equals_cpu(with_value_grad):
    cpu, gpu = both_targets("sgd", least_squares_landscape(with_value_grad), np.array([[0.5, -1.0, 2.0]]), 14,
                            hyper={"lr": {"a": LRS, "b": LRS}}, observers=observers())
    assert np.any(cpu.stop_step.values > 0) and np.any(cpu.trainable.values == 1)
    assert_same(cpu, gpu)


@pytest.mark.cudasim
@pytest.mark.skipif(not SIMULATOR, reason="needs NUMBA_ENABLE_CUDASIM=1")
def test_tuple_form_on_cuda_equals_cpu():
    cpu, gpu = both_targets("sgd", bowl(), np.array([[1.2, -0.7]]), 30,
                            hyper={"lr": {"x": np.array([0.3, 10.0]), "y": np.array([0.5, 3.5])}}, observers=observers())
    assert np.any(cpu.stop_step.values > 0) and np.any(cpu.trainable.values == 0)
    assert_same(cpu, gpu)


@pytest.mark.skipif(SIMULATOR, reason="compile_ptx needs the real CUDA compiler")
@pytest.mark.parametrize("landscape, x0, lr", [
    (least_squares_landscape(True), np.zeros((1, 3)), {"a": 0.1, "b": 0.2}),
    (least_squares_landscape(False), np.zeros((1, 3)), {"a": 0.1, "b": 0.2}),
    (bowl(), np.ones((1, 2)), {"x": 0.1, "y": 0.2}),
])
def test_loss_observer_kernels_compile_to_ptx(landscape, x0, lr):
    pytest.importorskip("numba.cuda")
    req = make_plan("sgd", landscape, x0, 5, hyper={"lr": lr}, observers=observers()).launches[0].request
    assert ".entry" in compile_ptx(req)
