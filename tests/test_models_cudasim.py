"""The trainability network (sd.landscapes.mlp) on the CUDA target: under numba's simulator it
gives the CPU's numbers, and its kernel compiles to PTX.

Oracle: the CPU kernel (itself tested against torch.optim in tests/test_models.py). The CPU runs
the model's tile gradient (BLAS), CUDA the per-trajectory loops, so they agree to rounding.
"""

import os

import numpy as np
import pytest

import simdyn as sd
from cudasim_helpers import both_targets
from simdyn.engine.kernels import compile_ptx
from simdyn.plan import make_plan

RNG = np.random.default_rng(5)
X = RNG.normal(size=(5, 3))
Y = RNG.normal(size=(5, 2))


def network():
    return sd.landscapes.mlp(X, Y, width=3)


@pytest.mark.cudasim
def test_mlp_on_cuda_equals_cpu_with_per_layer_learning_rates():
    w0 = sd.landscapes.mlp_init(3, 3, 2, n=3, seed=1)
    cpu, gpu = both_targets("adam", network(), w0, 15, hyper={"lr": {"layer1": [0.01, 0.3], "layer2": 0.05}},
                            record_every=5)
    for name in ("w", "trajectory", "loss"):
        np.testing.assert_allclose(gpu[name].values, cpu[name].values, rtol=1e-11, atol=1e-13)
    np.testing.assert_array_equal(gpu.status.values, cpu.status.values)


@pytest.mark.skipif(os.environ.get("NUMBA_ENABLE_CUDASIM") == "1", reason="compile_ptx needs the real CUDA compiler")
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_mlp_kernel_compiles_to_ptx(dtype):
    pytest.importorskip("numba.cuda")
    w0 = sd.landscapes.mlp_init(3, 3, 2, n=2)
    req = make_plan("adam", network(), w0, 3, hyper={"lr": {"layer1": 0.1, "layer2": 0.2}}, dtype=dtype).launches[0].request
    ptx = compile_ptx(req)
    assert ".entry" in ptx and ".target sm_90" in ptx
    assert "tanh" in ptx or "ex2" in ptx  # the hidden layer's tanh is in the kernel
