"""Every CUDA kernel compiles to real PTX for sm_90 (no GPU needed).

The CUDA simulator (tests/test_cuda_sim.py) runs kernels as Python and cannot tell whether
NVVM accepts them; these tests compile the generated kernels with numba.cuda.compile_ptx.
"""

import os

import numpy as np
import pytest

import simdyn as sd
from simdyn.engine.kernels import compile_ptx
from simdyn.plan import make_plan

pytestmark = pytest.mark.skipif(
    os.environ.get("NUMBA_ENABLE_CUDASIM") == "1", reason="compile_ptx needs the real CUDA compiler, not the simulator"
)
pytest.importorskip("numba.cuda")

X0 = np.array([[0.3, -0.2], [0.1, 0.4]])


def request(optimizer, landscape="valley", x0=X0, **kwargs):
    return make_plan(optimizer, landscape, x0, steps=3, **kwargs).launches[0].request


@pytest.mark.parametrize("optimizer", list(sd.OPTIMIZERS))
def test_every_optimizer_kernel_compiles_to_ptx(optimizer):
    ptx = compile_ptx(request(optimizer))
    assert ".target sm_90" in ptx
    assert ".entry" in ptx


@pytest.mark.parametrize("landscape", [name for name in sd.LANDSCAPES if name != "valley"])
def test_every_landscape_kernel_compiles_to_ptx(landscape):
    land = sd.get_landscape(landscape)
    x0 = np.full((2, land.dim), 0.1)
    assert ".entry" in compile_ptx(request("adam", landscape, x0))


def test_kernel_with_noise_recording_and_float32_compiles_to_ptx():
    req = request("rmsprop", noise=sd.noise.Gaussian(0.1, 3), record_every=2, dtype="float32",
                  hyper={"centered": True, "lr": sd.schedule.cosine(0.1, 100)})
    ptx = compile_ptx(req)
    assert ".entry" in ptx
    assert "sqrt.rn.f32" in ptx  # the float32 kernel computes in float32


def test_kernel_with_buffered_observer_compiles_to_ptx():
    from test_engine import LagDistance, RunningMaxAbs

    req = request("adam", observers=[RunningMaxAbs(), LagDistance()])
    assert ".entry" in compile_ptx(req)
