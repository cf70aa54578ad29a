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
    # A depth-3 network: the hidden activations in scratch rows (the depth-2 code is the same source).
    pytest.importorskip("numba.cuda")
    w0 = sd.landscapes.mlp_init(3, 3, 2, n=2, depth=3)
    req = make_plan("adam", deep_networks()[0], w0, 3, hyper={"lr": {"layer1": 0.1, "layer2": 0.2, "layer3": 0.3}},
                    dtype=dtype).launches[0].request
    ptx = compile_ptx(req)
    assert ".entry" in ptx and ".target sm_90" in ptx
    assert "tanh" in ptx or "ex2" in ptx  # the hidden layer's tanh is in the kernel


def deep_networks():
    """A depth-3 mlp and a depth-3 deep linear network: hidden activations in scratch rows."""
    return [sd.landscapes.mlp(X, Y, width=3, depth=3), sd.landscapes.deep_linear(X, Y, (3, 2, 4, 2))]


@pytest.mark.cudasim
@pytest.mark.parametrize("which", [0, 1])
def test_deep_networks_with_scratch_rows_on_cuda_equal_cpu(which):
    land = deep_networks()[which]
    w0 = RNG.normal(scale=0.5, size=(3, land.dim))
    cpu, gpu = both_targets("adam", land, w0, 12, hyper={"lr": 0.05}, record_every=4)
    for name in ("w", "trajectory", "loss"):
        np.testing.assert_allclose(gpu[name].values, cpu[name].values, rtol=1e-11, atol=1e-13)


def hvp_kernel_source():
    """A kernel applying a landscape's Hessian–vector product (simdyn.engine.hvp.array_hvp) per thread."""
    return (
        "def hvp_kernel(W, U, OUT, S, D0, D1, D2):\n"
        "    j = cuda.grid(1)\n"
        "    if j < W.shape[0]:\n"
        "        hvp(W[j], (), (D0, D1, D2), 1, U[j], OUT[j], S[j])\n"
    )


def hvp_kernel(land):
    from numba import cuda

    from simdyn.engine.compile import compile_scalar
    from simdyn.engine.hvp import array_hvp

    product = array_hvp(land)
    ns = {"cuda": cuda, "hvp": compile_scalar(product.function, "cuda")}
    exec(hvp_kernel_source(), ns)
    return ns["hvp_kernel"], product


@pytest.mark.cudasim
def test_hvp_on_cuda_equals_the_cpu_hvp():
    from numba import cuda

    land = deep_networks()[0]
    kernel, product = hvp_kernel(land)
    w, u = RNG.normal(size=(2, 2, land.dim))
    out = np.zeros_like(w)
    cuda.jit(kernel)[1, 2](w, u, out, np.zeros((2, product.scratch)), *land.data_arrays)
    cuda.synchronize()
    for j in range(2):
        ref = np.empty(land.dim)
        land.hvp(w[j], (), land.data_arrays, 1, u[j], ref, np.empty(land.scratch))
        np.testing.assert_allclose(out[j], ref, rtol=1e-12, atol=1e-14 * np.abs(ref).max())


@pytest.mark.skipif(os.environ.get("NUMBA_ENABLE_CUDASIM") == "1", reason="compile_ptx needs the real CUDA compiler")
def test_network_hvp_compiles_to_ptx():
    pytest.importorskip("numba.cuda")
    from numba import cuda, types

    land = deep_networks()[0]
    kernel, _ = hvp_kernel(land)
    matrix = types.Array(types.float64, 2, "C")
    sig = (matrix,) * 4 + (matrix, matrix, types.Array(types.float64, 1, "C"))
    ptx, _ = cuda.compile_ptx(kernel, sig, cc=(9, 0))
    assert ".entry" in ptx
