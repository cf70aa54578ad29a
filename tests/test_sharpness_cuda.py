"""sd.observe.Sharpness on the CUDA target: under numba's simulator it gives the CPU's series, and
its kernels compile to PTX.

Oracle: the CPU kernel (tested against eigvalsh, torch's Hessian and a NumPy preconditioned
oracle in tests/test_sharpness.py). Both run the same generated body in float64.
"""

import os

import numpy as np
import pytest

import simdyn as sd
from cudasim_helpers import both_targets
from simdyn.engine import sharpness as engine_sharpness
from test_sharpness import H, X0, array_quadratic

RNG = np.random.default_rng(5)
X = RNG.normal(size=(5, 3))
Y = RNG.normal(size=(5, 1))

needs_compiler = pytest.mark.skipif(os.environ.get("NUMBA_ENABLE_CUDASIM") == "1",
                                    reason="compile_ptx needs the real CUDA compiler, not the simulator")


@pytest.mark.cudasim
def test_preconditioned_sharpness_on_cuda_equals_cpu():
    cpu, gpu = both_targets("adam", "quadratic", X0, 6, hyper={"lr": 0.05}, params={"h": H},
                            observers=[sd.observe.Sharpness(every=2, iterations=30, preconditioned=True)])
    np.testing.assert_allclose(gpu.sharpness.values, cpu.sharpness.values, rtol=1e-12, equal_nan=True)


@pytest.mark.cudasim
@pytest.mark.parametrize("landscape", ["mlp", "array_quadratic"])
def test_array_form_sharpness_on_cuda_equals_cpu(landscape):
    if landscape == "mlp":  # central differences of the gradient
        land, w0 = sd.landscapes.mlp(X, Y, width=3), sd.landscapes.mlp_init(3, 3, 1, n=2, seed=1)
    else:  # the landscape's exact hvp
        land, w0 = array_quadratic(H), X0
    cpu, gpu = both_targets("sgd", land, w0, 4, hyper={"lr": 0.05},
                            observers=[sd.observe.Sharpness(every=2, iterations=10)])
    np.testing.assert_allclose(gpu.sharpness.values, cpu.sharpness.values, rtol=1e-9)


@needs_compiler
@pytest.mark.parametrize("landscape", ["quadratic", "mlp", "array_quadratic"])
def test_sharpness_kernels_compile_to_ptx(landscape):
    pytest.importorskip("numba.cuda")
    land = {"quadratic": lambda: sd.get_landscape("quadratic"), "mlp": lambda: sd.landscapes.mlp(X, Y, width=3),
            "array_quadratic": lambda: array_quadratic(H)}[landscape]()
    n_params = 4 if landscape == "quadratic" else 0  # the tuple-form quadratic's p holds H's entries
    ptx = engine_sharpness.compile_ptx(land, n_params)
    assert ".target sm_90" in ptx
    assert ".entry" in ptx
