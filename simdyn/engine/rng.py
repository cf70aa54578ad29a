"""Counter-based random numbers: Philox4x32-10 and Box–Muller normals, as plain scalar Python.

Stochastic gradients add σ·ξ to every gradient coordinate, with ξ ~ N(0, 1) a pure function of
(seed, global trajectory index, step, coordinate).  Nothing is carried from one draw to the next,
so a trajectory sees the same noise whatever batch it is simulated in, however many threads run
it, and whether it runs on the CPU or on CUDA (the Philox words and the uniforms are bit-identical
everywhere; the normals go through log/sqrt/cos/sin, so CPU libm and CUDA libdevice may differ in
the last ulp or so).

The functions below are written once, in plain Python, and compiled by the engine with
``numba.njit(error_model="numpy")`` (CPU) or ``numba.cuda.jit(device=True, inline="always")``
(CUDA); under the CUDA simulator they run as ordinary Python.  Hence only scalar integer and float
arithmetic, tuples and ``math.*``; the only globals are the integer constants and the other
functions of this module (the engine rebinds those to their compiled versions).

Integer arithmetic
------------------
Every intermediate value fits a signed 64-bit integer, so the code is exact with unbounded Python
ints and with numba's int64 alike, and it never mixes signed and unsigned types (numba types
``uint64 op int64`` as float64).  Inputs of any integer type (Python int, numpy or numba int32,
int64, uint32, uint64) are normalised on entry as ``int(x) & 0xFFFFFFFF``: a Python int in the
interpreter (numpy scalars would apply their own overflow rules), int64 under numba.  The
32×32→64-bit product of a Philox round does not fit a signed int64, and numba emits signed
multiplies with LLVM's ``nsw`` flag (overflow is undefined, not wrap-around), so
:func:`mulhilo32` multiplies by m − 2**32 instead (|m − 2**32| < 2**31 for both Philox
multipliers): one int64 multiply that cannot overflow, then an arithmetic shift and a mask.

Reference: J. K. Salmon, M. A. Moraes, R. O. Dror, D. E. Shaw, "Parallel random numbers: as easy
as 1, 2, 3", SC 2011; Random123's ``philox4x32_10`` (bit-identical, checked against its
known-answer vectors in ``tests/test_rng.py``).
"""

import math

MASK32 = 0xFFFFFFFF

# Philox4x32 multipliers and Weyl key increments (Random123, philox.h).
PHILOX_M0 = 0xD2511F53
PHILOX_M1 = 0xCD9E8D57
PHILOX_W0 = 0x9E3779B9  # golden ratio
PHILOX_W1 = 0xBB67AE85  # sqrt(3) - 1

# The multipliers less 2³² (negative, |·| < 2³⁰; see mulhilo32).
PHILOX_M0_NEG = PHILOX_M0 - 0x100000000
PHILOX_M1_NEG = PHILOX_M1 - 0x100000000

TWO_PI = 6.283185307179586
TWO_POW_M53 = 1.1102230246251565e-16  # 2**-53


def mulhilo32(m_neg, x):
    """(hi, lo): the high and low 32-bit words of the 64-bit product m·x, for 2³¹ < m < 2³².

    m_neg = m − 2³² (so −2³¹ < m_neg < 0) and 0 ≤ x < 2³².  m·x = x·2³² + q with
    q = m_neg·x, |q| < 2⁶³: one signed multiply that never overflows int64.  Hence
    lo = q mod 2³² (two's complement low bits) and hi = x + ⌊q / 2³²⌋ (an arithmetic shift),
    the same in Python and under numba, and already in [0, 2³²) because 0 ≤ m·x < 2⁶⁴.
    """
    q = m_neg * x
    return x + (q >> 32), q & MASK32


def philox4x32_round(c0, c1, c2, c3, k0, k1):
    """One Philox4x32 round (Random123 ``_philox4x32round``)."""
    hi0, lo0 = mulhilo32(PHILOX_M0_NEG, c0)
    hi1, lo1 = mulhilo32(PHILOX_M1_NEG, c2)
    return hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0


def philox4x32_10(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10: the 128-bit counter (c0, c1, c2, c3) encrypted under the 64-bit key (k0, k1).

    Each argument is a 32-bit unsigned word held in any integer type (only its low 32 bits are
    used); returns four 32-bit words as non-negative ints (int64 under numba).  Bit-identical to
    Random123's ``philox4x32_10``: ten rounds, the key bumped by (W0, W1) between rounds.
    """
    c0 = int(c0) & MASK32
    c1 = int(c1) & MASK32
    c2 = int(c2) & MASK32
    c3 = int(c3) & MASK32
    k0 = int(k0) & MASK32
    k1 = int(k1) & MASK32
    c0, c1, c2, c3 = philox4x32_round(c0, c1, c2, c3, k0, k1)  # round 1
    k0 = (k0 + PHILOX_W0) & MASK32
    k1 = (k1 + PHILOX_W1) & MASK32
    c0, c1, c2, c3 = philox4x32_round(c0, c1, c2, c3, k0, k1)  # round 2
    k0 = (k0 + PHILOX_W0) & MASK32
    k1 = (k1 + PHILOX_W1) & MASK32
    c0, c1, c2, c3 = philox4x32_round(c0, c1, c2, c3, k0, k1)  # round 3
    k0 = (k0 + PHILOX_W0) & MASK32
    k1 = (k1 + PHILOX_W1) & MASK32
    c0, c1, c2, c3 = philox4x32_round(c0, c1, c2, c3, k0, k1)  # round 4
    k0 = (k0 + PHILOX_W0) & MASK32
    k1 = (k1 + PHILOX_W1) & MASK32
    c0, c1, c2, c3 = philox4x32_round(c0, c1, c2, c3, k0, k1)  # round 5
    k0 = (k0 + PHILOX_W0) & MASK32
    k1 = (k1 + PHILOX_W1) & MASK32
    c0, c1, c2, c3 = philox4x32_round(c0, c1, c2, c3, k0, k1)  # round 6
    k0 = (k0 + PHILOX_W0) & MASK32
    k1 = (k1 + PHILOX_W1) & MASK32
    c0, c1, c2, c3 = philox4x32_round(c0, c1, c2, c3, k0, k1)  # round 7
    k0 = (k0 + PHILOX_W0) & MASK32
    k1 = (k1 + PHILOX_W1) & MASK32
    c0, c1, c2, c3 = philox4x32_round(c0, c1, c2, c3, k0, k1)  # round 8
    k0 = (k0 + PHILOX_W0) & MASK32
    k1 = (k1 + PHILOX_W1) & MASK32
    c0, c1, c2, c3 = philox4x32_round(c0, c1, c2, c3, k0, k1)  # round 9
    k0 = (k0 + PHILOX_W0) & MASK32
    k1 = (k1 + PHILOX_W1) & MASK32
    return philox4x32_round(c0, c1, c2, c3, k0, k1)  # round 10


def philox_block(seed, stream, step, pair):
    """The four 32-bit words for (seed, stream, step, pair).

    Key (k0, k1) = (seed mod 2³², ⌊seed / 2³²⌋ mod 2³²); counter (c0, c1, c2, c3) =
    (stream mod 2³², ⌊stream / 2³²⌋ mod 2³², step mod 2³², pair mod 2³²).  Negative seeds and
    streams are taken modulo 2⁶⁴ (two's complement), identically in Python and under numba.
    """
    seed = int(seed)
    stream = int(stream)
    return philox4x32_10(stream & MASK32, (stream >> 32) & MASK32, int(step) & MASK32,
                         int(pair) & MASK32, seed & MASK32, (seed >> 32) & MASK32)


def uniform_pair(seed, stream, step, pair):
    """Two independent uniforms (u1, u2), u1 ∈ (0, 1] and u2 ∈ [0, 1), with 53 random bits each.

    From the Philox words (x0, x1, x2, x3) of :func:`philox_block`:
        u1 = (((x0 << 21) | (x1 >> 11)) + 1) · 2⁻⁵³      ∈ {2⁻⁵³, 2·2⁻⁵³, …, 1}
        u2 =  ((x2 << 21) | (x3 >> 11))      · 2⁻⁵³      ∈ {0, 2⁻⁵³, …, 1 − 2⁻⁵³}
    (the top 32 bits from the first word, the top 21 bits of the second word below them).  Both
    are exact in float64; u1 never is 0, so log(u1) is finite (≥ −36.74).
    """
    x0, x1, x2, x3 = philox_block(seed, stream, step, pair)
    u1 = (((x0 << 21) | (x1 >> 11)) + 1) * TWO_POW_M53
    u2 = ((x2 << 21) | (x3 >> 11)) * TWO_POW_M53
    return u1, u2


def box_muller_polar(seed, stream, step, pair):
    """(r, θ) = (√(−2·ln u1), 2π·u2) from :func:`uniform_pair`; the normals are r·(cos θ, sin θ)."""
    u1, u2 = uniform_pair(seed, stream, step, pair)
    return math.sqrt(-2.0 * math.log(u1)), TWO_PI * u2


def normal_pair(seed, stream, step, pair):
    """Two independent standard normals (z0, z1) for (seed, stream, step, pair), in float64.

    Box–Muller on :func:`uniform_pair`: r = √(−2·ln u1), θ = 2π·u2, z0 = r·cos θ, z1 = r·sin θ.
    seed: 64-bit key; stream: global trajectory index (64-bit counter half); step: 32-bit step
    counter; pair: coordinate // 2.  |z| ≤ √(2·53·ln 2) ≈ 8.57.
    """
    r, theta = box_muller_polar(seed, stream, step, pair)
    return r * math.cos(theta), r * math.sin(theta)


def normal(seed, stream, step, coord):
    """ξ ~ N(0, 1) for gradient coordinate ``coord`` (≥ 0), in float64.

    z0 of :func:`normal_pair` for pair coord // 2 when coord is even, z1 when it is odd (the
    same bits: r·cos θ or r·sin θ).  Only the needed one of cos/sin is evaluated, but the whole
    Philox block is, so a caller wanting both coordinates of a pair should use normal_pair.
    """
    r, theta = box_muller_polar(seed, stream, step, coord >> 1)
    if coord & 1:
        return r * math.sin(theta)
    return r * math.cos(theta)
