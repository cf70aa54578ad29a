"""Array-form kernels on the CUDA target: under numba's simulator they give the CPU's numbers,
and the real kernels compile to PTX.

Oracle: the CPU kernel (itself tested against torch.optim in tests/test_array_form.py). The CPU
takes the BLAS tile gradient where a landscape has one, the CUDA kernel the per-trajectory loop,
so the two agree to rounding (rtol 1e-12), not bitwise.
"""

import os

import numpy as np
import pytest

import simdyn as sd
from cudasim_helpers import both_targets
from simdyn.engine.kernels import compile_ptx
from simdyn.landscapes.quadratic import array_grad, array_loss
from simdyn.plan import make_plan

RNG = np.random.default_rng(3)
D = 6
A = RNG.normal(size=(D, D))
H = A @ A.T / D + np.eye(D)
X0 = RNG.normal(size=(3, D))


def quadratic():
    return sd.landscapes.quadratic(H, form="array")


@pytest.mark.cudasim
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam", "rmsprop"])
def test_array_form_on_cuda_equals_cpu(optimizer):
    cpu, gpu = both_targets(optimizer, quadratic(), X0, 25, hyper={"lr": [0.05, 3.0]}, record_every=5)
    for name in ("w", "trajectory", "loss"):
        np.testing.assert_allclose(gpu[name].values, cpu[name].values, rtol=1e-12, atol=1e-14)
    for name in ("status", "stop_step"):
        np.testing.assert_array_equal(gpu[name].values, cpu[name].values)


@pytest.mark.cudasim
def test_per_group_hyperparameters_and_noise_on_cuda_equal_cpu():
    land = sd.Landscape("quad_groups", dim=D, grad=array_grad,
                        loss=array_loss, data={"s": H, "h": H},
                        groups={"a": slice(0, 2), "b": slice(2, D)}, form="array")
    cpu, gpu = both_targets("adam", land, X0, 20, hyper={"lr": {"a": [0.01, 0.1], "b": 0.02}},
                            noise=sd.noise.Gaussian(0.1, 5))
    np.testing.assert_allclose(gpu.w.values, cpu.w.values, rtol=1e-12, atol=1e-14)


skip_under_simulator = pytest.mark.skipif(os.environ.get("NUMBA_ENABLE_CUDASIM") == "1",
                                          reason="compile_ptx needs the real CUDA compiler")


@skip_under_simulator
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_array_form_kernel_compiles_to_ptx(dtype):
    pytest.importorskip("numba.cuda")
    land = sd.Landscape("quad_groups_ptx", dim=D, grad=array_grad,
                        loss=array_loss, data={"s": H, "h": H},
                        groups={"a": slice(0, 2), "b": slice(2, D)}, form="array")
    req = make_plan("adam", land, X0, 3, hyper={"lr": {"a": 0.1, "b": 0.2}}, record_every=1, dtype=dtype,
                    noise=sd.noise.Gaussian(0.1, 1)).launches[0].request
    ptx = compile_ptx(req)
    assert ".entry" in ptx and ".target sm_90" in ptx
