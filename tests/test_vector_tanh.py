"""The vectorisable tanh of the network's tile gradient, and the inlining that lets it vectorise.

Oracle: numpy.tanh (the C library's tanh, correctly rounded to within an ulp) in ulps of the
result; the special values from IEEE 754 tanh (±0, ±inf, NaN).
"""

import re

import numpy as np
import pytest

from simdyn.engine.compile import compile_scalar
from simdyn.landscapes.models._vector_tanh import vector_tanh


def tanh_loop(x, out):
    for i in range(x.shape[0]):
        out[i] = vector_tanh(x[i])


@pytest.fixture(scope="module")
def compiled():
    return compile_scalar(tanh_loop, "cpu")


def ulps(value, reference):
    scale = np.spacing(np.abs(reference))
    return np.abs(value - reference) / np.where(reference == 0.0, np.spacing(0.0), scale)


def test_within_two_ulp_of_numpy_on_every_range(compiled):
    rng = np.random.default_rng(3)
    x = np.concatenate([
        rng.uniform(-1e-3, 1e-3, 20_000),  # the rational branch near 0
        rng.uniform(-0.7, 0.7, 20_000),  # both sides of the switch at 0.625
        rng.normal(scale=3.0, size=50_000),
        rng.uniform(-25.0, 25.0, 50_000),  # the exponential branch up to the clamp at 20
        np.array([0.625, -0.625, np.nextafter(0.625, 0.0), 19.06, 20.0, 22.0, 1e-300, 5e-324]),
    ])
    out = np.empty_like(x)
    compiled(x, out)
    assert ulps(out, np.tanh(x)).max() <= 2.0


def test_special_values(compiled):
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 800.0, -800.0])
    out = np.empty_like(x)
    compiled(x, out)
    np.testing.assert_array_equal(out[:4], [0.0, 0.0, 1.0, -1.0])
    assert np.isnan(out[4])
    np.testing.assert_array_equal(out[5:], [1.0, -1.0])


def test_inlined_into_the_loop_that_calls_it(compiled):
    # simdyn_inline: numba inlines the function at the IR level, so no call is left in the loop
    # (a call there stops LLVM from vectorising it) and the loop body has vector instructions.
    ir = compiled.inspect_llvm(compiled.signatures[0])
    assert not re.search(r"call [^\n]*11vector_tanh", ir)  # the mangled name of the function
    assert "x double>" in ir
