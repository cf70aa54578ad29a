"""Counter-based RNG (simdyn.engine.rng): Philox4x32-10 known answers, njit/interpreter agreement,
normal-distribution checks, and a CUDA PTX compile (no GPU needed)."""

import math
import re
import types

import numba
import numpy as np
import pytest
from scipy import stats

import naive
from simdyn.engine import rng

# Random123 kat_vectors, "philox4x32 10": counter[4], key[2] -> output[4].
KAT = [
    ((0x00000000, 0x00000000, 0x00000000, 0x00000000), (0x00000000, 0x00000000),
     (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF),
     (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]

FUNCTIONS = ("mulhilo32", "philox4x32_round", "philox4x32_10", "philox_block", "uniform_pair",
             "box_muller_polar", "normal_pair", "normal")


def compile_module(decorator, extra=None):
    """Compile every function of rng with ``decorator``, with their globals bound to the compiled
    versions (what the engine does for helpers it finds in a function's globals)."""
    namespace = dict(vars(rng))
    if extra:
        namespace.update(extra)
    compiled = {}
    for name in FUNCTIONS:
        f = getattr(rng, name)
        clone = types.FunctionType(f.__code__, namespace, f.__name__, f.__defaults__, f.__closure__)
        compiled[name] = decorator(clone)
    namespace.update(compiled)
    return types.SimpleNamespace(namespace=namespace, **compiled)


NJ = compile_module(numba.njit(error_model="numpy"))
_nj_normal = NJ.normal
_nj_normal_pair = NJ.normal_pair


# ---- an obviously-correct reference, straight from the paper / Random123 ---------------------

@numba.njit(error_model="numpy")
def _normals_over_streams(seed, stream0, n, step, coord):
    out = np.empty(n)
    for i in range(n):
        out[i] = _nj_normal(seed, stream0 + i, step, coord)
    return out


@numba.njit(error_model="numpy")
def _pairs_over_streams(seed, n, step, pair):
    out = np.empty((n, 2))
    for i in range(n):
        z0, z1 = _nj_normal_pair(seed, i, step, pair)
        out[i, 0] = z0
        out[i, 1] = z1
    return out


def _random_words(rs, n):
    return [tuple(int(v) for v in rs.integers(0, 2**32, size=6, dtype=np.uint64)) for _ in range(n)]


# ---- Philox ----------------------------------------------------------------------------------

@pytest.mark.parametrize("ctr,key,expected", KAT)
def test_kat_interpreter(ctr, key, expected):
    assert rng.philox4x32_10(*ctr, *key) == expected
    assert naive.philox4x32_10(ctr, key) == expected


@pytest.mark.parametrize("ctr,key,expected", KAT)
def test_kat_njit(ctr, key, expected):
    assert NJ.philox4x32_10(*ctr, *key) == expected


def test_philox_types_under_numba():
    NJ.philox4x32_10(1, 2, 3, 4, 5, 6)
    (sig,) = NJ.philox4x32_10.nopython_signatures
    assert sig.return_type == numba.types.UniTuple(numba.types.int64, 4)


@pytest.mark.parametrize("cast", [int, np.int64, np.uint64, np.uint32, np.int32])
def test_integer_argument_types(cast):
    """Any integer type gives the same numbers, in the interpreter (the CUDA simulator hands numpy
    scalars to device functions) and under numba (no uint64/int64 mixing into float64)."""
    def c(v):  # v in [0, 2**32): the same 32 bits in the target type
        return np.uint32(v).view(np.int32) if cast is np.int32 else cast(v)

    ctr, key, expected = KAT[2]
    args = [c(v) for v in ctr + key]
    assert tuple(int(v) for v in rng.philox4x32_10(*args)) == expected
    assert NJ.philox4x32_10(*args) == expected
    ref = rng.normal_pair(5, 7, 3, 4)
    assert rng.normal_pair(c(5), c(7), c(3), c(4)) == ref
    assert rng.normal(c(5), c(7), c(3), c(9)) == ref[1]
    np.testing.assert_allclose(NJ.normal_pair(c(5), c(7), c(3), c(4)), ref, rtol=1e-14)
    np.testing.assert_allclose(NJ.normal(c(5), c(7), c(3), c(9)), ref[1], rtol=1e-14)
    assert NJ.normal.nopython_signatures[-1].return_type == numba.types.float64


def test_philox_matches_reference_random_counters():
    rs = np.random.default_rng(1234)
    for w in _random_words(rs, 2000):
        expected = naive.philox4x32_10(w[:4], w[4:])
        assert rng.philox4x32_10(*w) == expected
        assert NJ.philox4x32_10(*w) == expected


def test_mulhilo32_edges():
    for m in (0xD2511F53, 0xCD9E8D57, 0x80000001, 0xFFFFFFFF):
        for x in (0, 1, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF):
            p = m * x
            assert rng.mulhilo32(m - 2**32, x) == (p >> 32, p & 0xFFFFFFFF)
            assert NJ.mulhilo32(m - 2**32, x) == (p >> 32, p & 0xFFFFFFFF)


# ---- uniforms and normals --------------------------------------------------------------------

def test_uniform_mapping_and_njit_bit_exact():
    rs = np.random.default_rng(99)
    for _ in range(2000):
        seed, stream = (int(v) for v in rs.integers(-2**63, 2**63 - 1, size=2))
        step, pair = (int(v) for v in rs.integers(0, 2**31, size=2))
        x = rng.philox_block(seed, stream, step, pair)
        s, t = seed % 2**64, stream % 2**64
        assert x == naive.philox4x32_10((t % 2**32, t >> 32, step, pair), (s % 2**32, s >> 32))
        u1, u2 = rng.uniform_pair(seed, stream, step, pair)
        assert u1 == (((x[0] << 21) | (x[1] >> 11)) + 1) / 2**53
        assert u2 == ((x[2] << 21) | (x[3] >> 11)) / 2**53
        assert 0.0 < u1 <= 1.0 and 0.0 <= u2 < 1.0
        assert NJ.uniform_pair(seed, stream, step, pair) == (u1, u2)


def test_normal_njit_equals_interpreter():
    rs = np.random.default_rng(7)
    for _ in range(2000):
        seed, stream = (int(v) for v in rs.integers(-2**63, 2**63 - 1, size=2))
        step, coord = (int(v) for v in rs.integers(0, 2**31, size=2))
        z = rng.normal_pair(seed, stream, step, coord >> 1)
        np.testing.assert_allclose(z, naive.normal_pair(seed, stream, step, coord >> 1),
                                   rtol=1e-14, atol=1e-15)
        # same libm on both sides: equal (a few ulp would be acceptable, see module docstring)
        np.testing.assert_allclose(NJ.normal_pair(seed, stream, step, coord >> 1), z,
                                   rtol=1e-14, atol=1e-15)
        zc = rng.normal(seed, stream, step, coord)
        assert zc == z[coord & 1]
        np.testing.assert_allclose(NJ.normal(seed, stream, step, coord), zc, rtol=1e-14, atol=1e-15)


def test_normal_returns_float64_under_numba():
    NJ.normal(1, 2, 3, 4)
    assert {sig.return_type for sig in NJ.normal.nopython_signatures} == {numba.types.float64}
    assert isinstance(rng.normal(1, 2, 3, 4), float)


def test_distribution_consecutive_streams():
    n = 1_000_000
    z = _normals_over_streams(20240607, 0, n, 3, 5)
    assert np.all(np.isfinite(z))
    se_mean = 1.0 / math.sqrt(n)
    se_var = math.sqrt(2.0 / n)
    assert abs(z.mean()) < 5 * se_mean
    assert abs(z.var() - 1.0) < 5 * se_var
    assert abs(stats.skew(z)) < 5 * math.sqrt(6.0 / n)
    assert abs(stats.kurtosis(z)) < 5 * math.sqrt(24.0 / n)
    assert stats.kstest(z, "norm").pvalue > 1e-4


def test_pair_components_uncorrelated_and_normal():
    n = 200_000
    zz = _pairs_over_streams(42, n, 0, 0)
    z0, z1 = zz[:, 0], zz[:, 1]
    for z in (z0, z1):
        assert abs(z.mean()) < 5 / math.sqrt(n)
        assert abs(z.var() - 1.0) < 5 * math.sqrt(2.0 / n)
        assert stats.kstest(z, "norm").pvalue > 1e-4
    assert abs(np.corrcoef(z0, z1)[0, 1]) < 5 / math.sqrt(n)
    assert abs(np.corrcoef(z0 ** 2, z1 ** 2)[0, 1]) < 5 / math.sqrt(n)  # Box–Muller: independent


def test_counter_fields_and_seeds_give_different_streams():
    n = 100_000
    base = _normals_over_streams(1, 0, n, 0, 0)
    others = [
        _normals_over_streams(2, 0, n, 0, 0),            # seed, low word
        _normals_over_streams(1 + 2**32, 0, n, 0, 0),    # seed, high word
        _normals_over_streams(1, 2**32, n, 0, 0),        # stream, high word
        _normals_over_streams(1, 0, n, 1, 0),            # step
        _normals_over_streams(1, 0, n, 0, 2),            # next pair
        _normals_over_streams(1, 0, n, 0, 1),            # other half of the pair
    ]
    for other in others:
        assert not np.any(base == other)
        assert abs(np.corrcoef(base, other)[0, 1]) < 5 / math.sqrt(n)
    # consecutive streams overlap: stream i+1 of one call is stream i of the next
    np.testing.assert_array_equal(_normals_over_streams(1, 1, n, 0, 0)[:-1], base[1:])
    # deterministic
    np.testing.assert_array_equal(_normals_over_streams(1, 0, n, 0, 0), base)


# ---- CUDA ------------------------------------------------------------------------------------

def _kernel(out, seed, step):
    i = cuda.grid(1)  # noqa: F821  (bound in the kernel's namespace below)
    if i < out.shape[0]:
        out[i] = normal(seed, i, step, i)  # noqa: F821


def test_cuda_compile_ptx():
    cuda = pytest.importorskip("numba.cuda")
    try:
        from numba.cuda.cudadrv.nvvm import NVVM
        NVVM()
    except Exception as exc:  # pragma: no cover - depends on the installed toolkit
        pytest.skip(f"NVVM not available: {exc}")
    dev = compile_module(cuda.jit(device=True, inline="always"), extra={"cuda": cuda})
    kernel = types.FunctionType(_kernel.__code__, dev.namespace, "_kernel")
    sig = (numba.types.float64[::1], numba.types.int64, numba.types.int64)
    ptx, resty = cuda.compile_ptx(kernel, sig, cc=(9, 0))
    assert resty == numba.types.void
    assert ".entry" in ptx
    # inline="always": no device function of the module survives as a PTX function
    funcs = re.findall(r"^\.(?:visible \.)?func.*$", ptx, re.M)
    assert not [f for f in funcs if re.search("philox|normal|uniform|mulhilo", f)], funcs
