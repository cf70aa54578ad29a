"""The step map's JVP on CUDA: compiled to PTX for sm_90, and equal to the CPU under the simulator.

PTX tests (need the CUDA compiler, not a GPU) skip under the simulator; simulator tests run in
their own process: ``NUMBA_ENABLE_CUDASIM=1 python -m pytest -m cudasim tests/test_tangent_cuda.py -o addopts=""``.
"""

import os

import numpy as np
import pytest

import simdyn as sd
from simdyn.tangent import jvp_batch, step_map
from simdyn.tangent.drivers import python_driver

SIMULATOR = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
pytest.importorskip("numba.cuda")

ROSENBROCK_CASES = [("adam", {}), ("rmsprop", {"centered": True}), ("nesterov", {}), ("adamax", {}),
                    ("nadam", {}), ("radam", {})]


def batch(smap, n=5, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.uniform(-1.0, 1.0, (n, smap.width))
    z[:, smap.dim:] = np.abs(z[:, smap.dim:]) + 0.1  # slots positive (second moments, products)
    dz = rng.normal(size=(n, smap.width))
    lr, h = smap.hyper_tuple({})
    p = smap.landscape.flat_params({})
    return z, dz, np.arange(2, 2 + n), np.full(n, lr), np.tile(h, (n, 1)), np.tile(p, (n, 1))


@pytest.mark.skipif(SIMULATOR, reason="compile_ptx needs the real CUDA compiler, not the simulator")
@pytest.mark.parametrize("landscape", ["rosenbrock", "reddi"])
@pytest.mark.parametrize("name, flags", ROSENBROCK_CASES)
def test_step_jvp_kernel_compiles_to_ptx(name, flags, landscape):
    from numba import cuda, float64, int64

    smap = step_map(name, landscape, flags)
    matrix, vector = float64[:, ::1], float64[::1]
    sig = (matrix, matrix, int64[::1], vector, matrix, matrix, matrix, matrix)
    ptx, _ = cuda.compile_ptx(python_driver(smap, "jvp_batch", "cuda"), sig, cc=(9, 0))
    assert ".target sm_90" in ptx and ".entry" in ptx


@pytest.mark.cudasim
@pytest.mark.skipif(not SIMULATOR, reason="needs NUMBA_ENABLE_CUDASIM=1")
@pytest.mark.parametrize("name, flags", ROSENBROCK_CASES[:3])
def test_step_jvp_on_cuda_equals_cpu(name, flags):
    smap = step_map(name, "rosenbrock", flags)
    args = batch(smap)
    zc, dzc = jvp_batch(smap, *args, target="cpu")
    zg, dzg = jvp_batch(smap, *args, target="cuda")
    np.testing.assert_allclose(zg, zc, rtol=1e-13)
    np.testing.assert_allclose(dzg, dzc, rtol=1e-12, atol=1e-12 * np.abs(dzc).max())
