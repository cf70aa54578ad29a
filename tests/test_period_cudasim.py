"""The period detector and Tail give the same results on the CUDA target (numba's simulator) as
on the CPU.

Run in its own process: ``NUMBA_ENABLE_CUDASIM=1 python -m pytest -m cudasim -o addopts="" \
tests/test_period_cudasim.py``. tests/test_period.py compiles the same kernels to PTX.
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


def logistic_grad(w, p, t):
    x = w[0]
    return (x - p[0] * x * (1.0 - x),)


def zero_loss(w, p, t):
    return 0.0


LOGISTIC = sd.Landscape("logistic", 1, logistic_grad, zero_loss, params={"r": 3.0})


def assert_same_periods(cpu, gpu):
    np.testing.assert_array_equal(gpu.period.values, cpu.period.values)
    np.testing.assert_array_equal(gpu.transient.values, cpu.transient.values)
    np.testing.assert_array_equal(gpu.status.values, cpu.status.values)
    np.testing.assert_allclose(gpu.cycle_amplitude.values, cpu.cycle_amplitude.values, rtol=1e-9)
    np.testing.assert_allclose(gpu.cycle_center.values, cpu.cycle_center.values, rtol=1e-9, atol=1e-15)


def test_logistic_cascade_periods_on_both_targets():
    rs = np.array([2.9, 1.0 + 5.0 ** 0.5, 3.498561699327702, 3.554640862768825, 3.831874055283316, 3.95])
    cpu, gpu = both_targets("sgd", LOGISTIC, np.array([[0.3], [0.7]]), 600, hyper={"lr": 1.0}, params={"r": rs},
                            observers=[sd.observe.Period(16, orbit=True), sd.observe.Tail(5)])
    np.testing.assert_array_equal(cpu.period.values[:, 0], [1, 2, 4, 8, 3, 0])
    assert_same_periods(cpu, gpu)
    np.testing.assert_allclose(gpu["orbit"].values, cpu["orbit"].values, rtol=1e-9)
    np.testing.assert_allclose(gpu["tail"].values, cpu["tail"].values, rtol=1e-9)


def test_adam_sharp_valley_cycle_and_divergence_on_both_targets():
    # lr = 1e-2 reaches the valley floor in ~100 steps and settles on the 12-cycle; lr = 3e-2
    # ends on other cycles (24 and 4 from these starts).
    cpu, gpu = both_targets("adam", "sharp_valley", np.array([[0.9, 0.9], [0.5, 0.0]]), 800,
                            hyper={"lr": np.array([1e-2, 3e-2])}, observers=[sd.observe.Period(32, coords=["x"])])
    assert np.all(cpu.period.values[0] == 12)
    assert np.all(cpu.period.values[1] >= 2)
    assert_same_periods(cpu, gpu)
    cpu, gpu = both_targets("sgd", "valley", np.array([[0.9, 0.9]]), 200, hyper={"lr": np.array([0.25, 1.5])},
                            params={"a": 1.0}, observers=[sd.observe.Period(8)], diverge_threshold=1e3)
    np.testing.assert_array_equal(cpu.period.values[:, 0], [1, 0])
    assert_same_periods(cpu, gpu)


def test_full_state_periods_on_both_targets():
    # on="state": the kernels pass (w, optimizer slots) to the detector on both targets.
    x0 = np.array([[0.3, 0.2], [-0.5, 0.1]])
    for optimizer, lr, hyper in (("momentum", [0.05, 0.5], {}), ("adam", [0.01, 0.1], {"beta1": 0.1, "beta2": 0.9})):
        cpu, gpu = both_targets(optimizer, "quadratic", x0, 1000, hyper={"lr": np.array(lr), **hyper},
                                observers=[sd.observe.Period(8, atol=1e-8, on="state")])
        assert np.any(cpu.period.values > 0)
        assert_same_periods(cpu, gpu)
