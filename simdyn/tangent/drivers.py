"""Compiled loops over trajectories that iterate a step map with its tangent vectors.

Each driver is generated as source for one :class:`~simdyn.tangent.stepmap.StepMap` (the state
is a tuple of fixed length, so the code that turns array rows into tuples is written out) and
compiled with ``numba.njit(parallel=True)``, one trajectory per ``prange`` iteration. Row i of
the per-trajectory tables holds its learning rate ``LR[i]``, hyperparameters ``H[i]`` and
landscape parameters ``P[i]``.

* ``jvp_batch``: z′ = F_t(z) and J_t(z)·ż for every row (CPU, or a CUDA kernel with one thread
  per trajectory);
* ``orbit_map``: Fᵖ(z) and its Jacobian DFᵖ(z) = J(z_{p−1})⋯J(z_0) (column c propagated from the
  unit vector e_c), at a fixed step t, for per-trajectory periods p;
* ``benettin``: Lyapunov exponents by Benettin's method (see :mod:`simdyn.tangent.lyapunov`);
* ``largest``: the largest exponent alone, tiled over trajectories like the engine's CPU kernel.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .stepmap import StepMap, _register

_drivers: dict[tuple, object] = {}

#: Steps between the logarithms of the accumulated stretch in the one-vector driver: the product
#: of 8 stretches stays within float64 unless one step stretches by more than 10³⁸.
LOG_EVERY = 8


def _row(array: str, index: str, n: int) -> str:
    if n == 0:
        return "()"
    items = [f"{array}[{index}, {k}]" for k in range(n)]
    return "(" + ", ".join(items) + ("," if n == 1 else "") + ")"


def _column(array: str, column: str, n: int) -> str:
    items = [f"{array}[{k}, {column}]" for k in range(n)]
    return "(" + ", ".join(items) + ("," if n == 1 else "") + ")"


def _unit(column: str, n: int) -> str:
    items = [f"(1.0 if {column} == {k} else 0.0)" for k in range(n)]
    return "(" + ", ".join(items) + ("," if n == 1 else "") + ")"


def _sizes(smap: StepMap) -> tuple[int, int, int]:
    n_hyper = len(smap.optimizer.float_hypers)
    n_params = len(smap.landscape.flat_params({}))
    return smap.width, n_hyper, n_params


def _jvp_source(smap: StepMap, target: str) -> str:
    n, nh, npar = _sizes(smap)
    body = [
        f"z = {_row('Z', 'i', n)}",
        f"dz = {_row('DZ', 'i', n)}",
        f"zn, dzn = step_jvp(z, dz, T[i], LR[i], {_row('H', 'i', nh)}, {_row('P', 'i', npar)})",
        *[f"ZN[i, {k}] = zn[{k}]" for k in range(n)],
        *[f"DZN[i, {k}] = dzn[{k}]" for k in range(n)],
    ]
    if target == "cpu":
        head = ["def jvp_batch(Z, DZ, T, LR, H, P, ZN, DZN):", "    for i in prange(Z.shape[0]):"]
    else:
        head = ["def jvp_batch(Z, DZ, T, LR, H, P, ZN, DZN):", "    i = cuda.grid(1)", "    if i < Z.shape[0]:"]
    return "\n".join(head + ["        " + line for line in body]) + "\n"


def _orbit_source(smap: StepMap) -> str:
    n, nh, npar = _sizes(smap)
    lines = [
        "def orbit_map(Z, PERIOD, t, LR, H, P, ZP, J):",
        "    for i in prange(Z.shape[0]):",
        f"        h = {_row('H', 'i', nh)}",
        f"        p = {_row('P', 'i', npar)}",
        f"        z0 = {_row('Z', 'i', n)}",
        f"        for c in range({n}):",
        "            z = z0",
        f"            dz = {_unit('c', n)}",
        "            for k in range(PERIOD[i]):",
        "                z, dz = step_jvp(z, dz, t, LR[i], h, p)",
        *[f"            J[i, {k}, c] = dz[{k}]" for k in range(n)],
        *[f"            ZP[i, {k}] = z[{k}]" for k in range(n)],
    ]
    return "\n".join(lines) + "\n"


def _largest_source(smap: StepMap) -> str:
    """Benettin with one tangent vector, tiled as the engine's CPU kernel: a time loop per tile of
    trajectories and an inner loop over the tile on (component, trajectory) arrays, which LLVM
    vectorises across trajectories."""
    n, nh, npar = _sizes(smap)
    lines = [
        "def largest(Z, T0, STEPS, TRANSIENT, LR, H, P, TILES, OUT):",
        "    N = Z.shape[1]",
        "    for it in prange(TILES.shape[0]):",
        "        lo = TILES[it, 0]",
        "        hi = TILES[it, 1]",
        "        DZ = np.empty((%d, hi - lo))" % n,
        "        S = np.zeros(hi - lo)",
        "        R = np.ones(hi - lo)",  # product of the stretches since the last logarithm
        "        for step in range(1, STEPS + 1):",
        "            t = T0 + step",
        "            keep = step > TRANSIENT",
        "            for j in range(lo, hi):",
        "                q = j - lo",
        f"                z = {_column('Z', 'j', n)}",
        f"                dz = {_column('DZ', 'q', n)} if step != TRANSIENT + 1 and step != 1 else START",
        f"                zn, d = step_jvp(z, dz, t, LR[j], {_row('H', 'j', nh)}, {_row('P', 'j', npar)})",
        "                norm = math.sqrt(" + " + ".join(f"d[{k}] * d[{k}]" for k in range(n)) + ")",
        "                R[q] *= norm if keep else 1.0",
        *[f"                DZ[{k}, q] = d[{k}] / norm" for k in range(n)],
        *[f"                Z[{k}, j] = zn[{k}]" for k in range(n)],
        "            if step % LOG_EVERY == 0 or step == STEPS:",  # a logarithm every few steps keeps
        "                for q in range(hi - lo):",  # the step loop free of calls, so it vectorises
        "                    S[q] += math.log(R[q])",
        "                    R[q] = 1.0",
        "        for j in range(lo, hi):",
        "            OUT[j] = S[j - lo] / (STEPS - TRANSIENT)",
    ]
    return "\n".join(lines) + "\n"


def _benettin_source(smap: StepMap) -> str:
    n, nh, npar = _sizes(smap)
    lines = [
        "def benettin(Z, T0, STEPS, TRANSIENT, LR, H, P, K, OUT, ZT):",
        "    for i in prange(Z.shape[0]):",
        f"        h = {_row('H', 'i', nh)}",
        f"        p = {_row('P', 'i', npar)}",
        f"        z = {_row('Z', 'i', n)}",
        f"        Q = np.zeros(({n}, K))",
        "        sums = np.zeros(K)",
        "        start_frame(Q)",
        "        zn = z",
        "        for step in range(1, STEPS + 1):",
        "            t = T0 + step",
        "            for c in range(K):",
        f"                zn, dz = step_jvp(z, {_column('Q', 'c', n)}, t, LR[i], h, p)",
        *[f"                Q[{k}, c] = dz[{k}]" for k in range(n)],
        "            z = zn",
        "            for c in range(K):",  # modified Gram–Schmidt
        "                for b in range(c):",
        "                    proj = 0.0",
        f"                    for k in range({n}):",
        "                        proj += Q[k, b] * Q[k, c]",
        f"                    for k in range({n}):",
        "                        Q[k, c] -= proj * Q[k, b]",
        "                norm = 0.0",
        f"                for k in range({n}):",
        "                    norm += Q[k, c] * Q[k, c]",
        "                norm = math.sqrt(norm)",
        f"                for k in range({n}):",
        "                    Q[k, c] /= norm",
        "                if step > TRANSIENT:",
        "                    sums[c] += math.log(norm)",
        "            if step == TRANSIENT:",
        "                start_frame(Q)",
        "        for c in range(K):",
        "            OUT[i, c] = sums[c] / (STEPS - TRANSIENT)",
        *[f"        ZT[i, {k}] = z[{k}]" for k in range(n)],
    ]
    return "\n".join(lines) + "\n"


@numba.njit
def start_frame(Q):
    """The initial tangent frame of Benettin's method: the identity for the whole spectrum, the
    normalised diagonal (1, …, 1)/√n for one vector, so that every coordinate is excited (a unit
    vector would miss the other blocks of a decoupled map such as GD on a separable loss)."""
    n, k = Q.shape
    for c in range(k):
        for r in range(n):
            Q[r, c] = (1.0 if r == c else 0.0) if k > 1 else 1.0 / math.sqrt(n)


def driver(smap: StepMap, kind: str, target: str = "cpu"):
    """The compiled driver ``kind`` ("jvp_batch", "orbit_map", "benettin") of ``smap`` (memoised)."""
    key = (id(smap), kind, target)
    if key in _drivers:
        return _drivers[key][1]
    step, step_jvp = smap.compiled(target)
    if kind == "jvp_batch":
        source = _jvp_source(smap, target)
    elif kind == "orbit_map":
        source = _orbit_source(smap)
    elif kind == "benettin":
        source = _benettin_source(smap)
    elif kind == "largest":
        source = _largest_source(smap)
    else:
        raise ValueError(f"kind must be 'jvp_batch', 'orbit_map', 'benettin' or 'largest', got {kind!r}")
    start = tuple([1.0 / math.sqrt(smap.width)] * smap.width)
    namespace = {"step_jvp": step_jvp, "prange": numba.prange, "np": np, "math": math, "start_frame": start_frame,
                 "START": start, "LOG_EVERY": LOG_EVERY}
    if target == "cuda":
        from numba import cuda

        namespace["cuda"] = cuda
    tag = f"<simdyn.tangent {kind} {smap.optimizer.name} on {smap.landscape.name} {target} #{id(smap)}>"
    python = _register(source, tag, namespace)[kind]
    if target == "cpu":
        compiled = numba.njit(parallel=True, error_model="numpy")(python)
    else:
        from numba import cuda

        compiled = cuda.jit(python)
    _drivers[key] = (smap, compiled, python)  # keep smap alive: the key holds its id
    return compiled


def python_driver(smap: StepMap, kind: str, target: str = "cpu"):
    """The plain Python source function behind :func:`driver` (for ``numba.cuda.compile_ptx``)."""
    driver(smap, kind, target)
    return _drivers[(id(smap), kind, target)][2]


def jvp_batch(smap: StepMap, z, dz, t, lr, h, p, target: str = "cpu"):
    """(F_t(z), J_t(z)·ż) for every row of ``z``/``dz`` (N, width); ``t``, ``lr`` (N,), ``h``
    (N, n_hyper), ``p`` (N, n_params): per-trajectory step, learning rate and parameters."""
    n = np.shape(z)[0]
    z = np.array(z, dtype=np.float64, order="C")
    dz = np.array(np.broadcast_to(dz, z.shape), dtype=np.float64, order="C")
    t = np.array(np.broadcast_to(t, (n,)), dtype=np.int64)
    lr = np.array(np.broadcast_to(lr, (n,)), dtype=np.float64)
    h = np.array(np.broadcast_to(h, (n, len(smap.optimizer.float_hypers))), dtype=np.float64, order="C")
    p = np.array(np.broadcast_to(p, (n, len(smap.landscape.flat_params({})))), dtype=np.float64, order="C")
    kernel = driver(smap, "jvp_batch", target)
    if target == "cpu":
        zn, dzn = np.empty_like(z), np.empty_like(dz)
        kernel(z, dz, t, lr, h, p, zn, dzn)
        return zn, dzn
    from numba import cuda

    inputs = [cuda.to_device(a) for a in (z, dz, t, lr, h, p)]
    zn, dzn = cuda.device_array_like(z), cuda.device_array_like(dz)
    threads = 32
    kernel[(n + threads - 1) // threads, threads](*inputs, zn, dzn)
    return zn.copy_to_host(), dzn.copy_to_host()
