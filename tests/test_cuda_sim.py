"""The CUDA target under numba's simulator gives the CPU's numbers.

Run in its own process: ``NUMBA_ENABLE_CUDASIM=1 python -m pytest -m cudasim tests/test_cuda_sim.py``
(the variable must be set before numba loads). The simulator runs the kernels as Python, so
inputs are tiny; tests/test_cuda_ptx.py checks that the same kernels compile for a real GPU.
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

X0 = np.array([[0.6, -0.4], [-0.2, 0.9], [1e-3, 0.5]])
NON_DEFAULT = {"momentum": {"dampening": 0.2}, "rmsprop": {"centered": True, "momentum": 0.5}, "adagrad": {"lr_decay": 0.1}}


@pytest.mark.parametrize("optimizer", list(sd.OPTIMIZERS))
def test_every_optimizer_matches_the_cpu(optimizer):
    hyper = {"lr": np.array([1e-2, 1e-1]), **NON_DEFAULT.get(optimizer, {})}
    cpu, gpu = both_targets(optimizer, "valley", X0, 40, hyper=hyper, params={"a": 0.1}, record_every=10)
    np.testing.assert_allclose(gpu.trajectory.values, cpu.trajectory.values, rtol=1e-12, atol=1e-300)
    np.testing.assert_array_equal(gpu.status.values, cpu.status.values)
    assert gpu.attrs["target"] == "cuda"


def test_noise_is_identical_on_both_targets():
    noise = sd.noise.Gaussian(0.05, seed=9)
    cpu, gpu = both_targets("adam", "saddle", X0, 30, hyper={"lr": 0.01}, noise=noise)
    np.testing.assert_allclose(gpu.w.values, cpu.w.values, rtol=1e-12)


def test_divergence_flags_and_projection_on_both_targets():
    cpu, gpu = both_targets("sgd", "valley", X0, 60, hyper={"lr": np.array([0.1, 1.6])}, params={"a": 1.0},
                            diverge_threshold=100.0)
    np.testing.assert_array_equal(gpu.stop_step.values, cpu.stop_step.values)
    np.testing.assert_array_equal(gpu.status.values, cpu.status.values)
    cpu, gpu = both_targets("adam", "reddi", np.array([[0.0], [0.5]]), 30, hyper={"lr": sd.schedule.inverse_sqrt(0.5)})
    np.testing.assert_allclose(gpu.w.values, cpu.w.values, rtol=1e-12)


def test_float32_on_both_targets():
    cpu, gpu = both_targets("adam", "rosenbrock", X0, 25, dtype="float32")
    assert gpu.w.dtype == np.float32
    np.testing.assert_allclose(gpu.w.values, cpu.w.values, rtol=1e-6)


class StepCounter(sd.observe.Observer):
    name = "counter"

    @staticmethod
    def init(w, q):
        return (0.0, abs(w[0]))

    @staticmethod
    def update(o, t, w, active, q):
        return (o[0] + active, max(o[1], abs(w[0])))

    def slots(self, dim):
        return ("active", "max_x")

    def finalize(self, state, dim):
        return {"active_steps": ((), state["active"]), "max_abs_x": ((), state["max_x"])}


def test_observers_on_both_targets():
    cpu, gpu = both_targets("sgd", "valley", X0, 20, hyper={"lr": np.array([0.3, 1.4])}, params={"a": 1.0},
                            observers=[StepCounter()], diverge_threshold=10.0)
    np.testing.assert_array_equal(gpu.active_steps.values, cpu.active_steps.values)
    np.testing.assert_array_equal(gpu.max_abs_x.values, cpu.max_abs_x.values)


def test_buffered_observer_on_both_targets():
    from test_engine import LagDistance

    cpu, gpu = both_targets("adam", "valley", X0, 15, hyper={"lr": 0.1}, observers=[LagDistance()])
    np.testing.assert_allclose(gpu.lag_distance.values, cpu.lag_distance.values, rtol=1e-12)
    np.testing.assert_array_equal(gpu.status.values, cpu.status.values)


def test_chunked_cuda_run_equals_the_cpu():
    noise = sd.noise.Gaussian(0.01, seed=2)
    cpu = sd.simulate("adam", "valley", X0, 12, hyper={"lr": [0.01, 0.1]}, noise=noise, progress=False)
    gpu = sd.simulate("adam", "valley", X0, 12, hyper={"lr": [0.01, 0.1]}, noise=noise, target="cuda",
                      chunk_size=4, progress=False)
    np.testing.assert_allclose(gpu.w.values, cpu.w.values, rtol=1e-12)
