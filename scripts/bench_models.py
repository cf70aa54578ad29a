"""The trainability network (sd.landscapes.mlp): the tile gradient against the per-trajectory loops.

Prints, measured in one run (float64, Adam, full batch):

``mlp``
    The paper's setting: 16 inputs, width 16, one output, 272 examples (d = 272), N trajectories
    × T steps, in trajectory-steps per second of the kernel: simdyn with the model's
    ``tile_grad`` (per trajectory, the examples along the vector lanes: W₁ᵀXᵀ and g₁X as one
    matrix product each, the other loops and tanh vectorised over the examples) against
    the same landscape without it (the per-trajectory loops, the source CUDA runs), and batched
    eager torch (einsum forward, autograd backward, Adam's in-place updates on (N, d) tensors).
``tanh``
    tanh throughput: a numba loop of ``math.tanh`` (error_model="numpy"), the same loop of
    simdyn's vectorisable tanh (``simdyn.landscapes.models._vector_tanh``, as the tile gradient
    compiles it), NumPy's ``np.tanh``, and whether numba's assembly of the ``math.tanh`` loop
    calls a vector tanh (an SVML symbol) or the scalar libm ``tanh``.

Usage: ``python scripts/bench_models.py [--quick]`` (``--quick``: small sizes, a smoke run).
"""

from __future__ import annotations

import math
import os
import re
import time

import numba
import numpy as np

import simdyn as sd
from _cli import script_parser
from simdyn.engine.compile import compile_scalar
from simdyn.engine.run import run_batch
from simdyn.landscapes.models._vector_tanh import vector_tanh
from simdyn.plan import make_plan


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def kernel_rate(land, w0, steps, repeats=3) -> float:
    """Trajectory-steps per second of simdyn's kernel (best of ``repeats`` after a warm-up)."""
    launch = make_plan("adam", land, w0, steps, hyper={"lr": 1e-3}).launches[0]
    run_batch(launch.request, launch.inputs)
    best = min(run_batch(launch.request, launch.inputs).seconds for _ in range(repeats))
    return len(w0) * steps / best


def torch_rate(x, y, w0, width, steps) -> float:
    import torch

    torch.set_num_threads(cores())
    n0 = x.shape[1]
    xt, yt = torch.tensor(x), torch.tensor(y)
    w = torch.tensor(w0, requires_grad=True)
    opt = torch.optim.Adam([w], lr=1e-3)

    def step():
        opt.zero_grad()
        w1 = w[:, : n0 * width].reshape(-1, n0, width)
        w2 = w[:, n0 * width:].reshape(-1, width, 1)
        h = torch.tanh(torch.einsum("mk,nkj->nmj", xt, w1) / math.sqrt(n0) * math.sqrt(2))
        out = torch.einsum("nmj,njo->nmo", h, w2) / width
        ((out - yt) ** 2).mean(dim=(1, 2)).sum().backward()
        opt.step()

    step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return len(w0) * steps / (time.perf_counter() - start)


def mlp_row(n: int, steps: int) -> dict:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(272, 16)), rng.normal(size=(272, 1))
    tiled = sd.landscapes.mlp(x, y, width=16)
    loops = sd.Landscape("mlp_loops", tiled.dim, tiled.grad, tiled.loss, form="array", data=tiled.data,
                         groups=tiled.groups, scratch=tiled.scratch)
    w0 = sd.landscapes.mlp_init(16, 16, 1, n=n, seed=1)
    return {"tile_grad": kernel_rate(tiled, w0, steps), "loops": kernel_rate(loops, w0, steps),
            "torch": torch_rate(x, y, w0, 16, max(3, steps // 4))}


@numba.njit(error_model="numpy")
def _tanh_loop(a, out):
    for i in range(a.shape[0]):
        out[i] = math.tanh(a[i])


def _vector_tanh_loop(a, out):
    for i in range(a.shape[0]):
        out[i] = vector_tanh(a[i])


def tanh_row(size: int) -> dict:
    a = np.random.default_rng(0).normal(size=size)
    out = np.empty_like(a)
    _tanh_loop(a, out)
    vector_loop = compile_scalar(_vector_tanh_loop, "cpu")
    vector_loop(a, out)
    rates = {}
    for name, fn in (("numba math.tanh loop", lambda: _tanh_loop(a, out)), ("vector_tanh loop", lambda: vector_loop(a, out)),
                     ("np.tanh", lambda: np.tanh(a, out))):
        best = min(_seconds(fn) for _ in range(3))
        rates[name] = size / best
    asm = "".join(_tanh_loop.inspect_asm().values())
    # the callee's address is loaded with movabsq $symbol before an indirect call
    calls = sorted({s for s in re.findall(r"\$(\w*tanh\w*),", asm) if not s.startswith("_ZN")})
    rates["tanh calls"] = ", ".join(calls) or "none"
    return rates


def _seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv=None):
    parser = script_parser(__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run, not a measurement")
    args = parser.parse_args(argv)
    n, steps = (8, 5) if args.quick else (256, 40)
    print(f"bench_models: {cores()} cores, numba {numba.__version__}, float64, Adam"
          + (" (quick: smoke sizes, ratios not meaningful)" if args.quick else ""))
    row = mlp_row(n, steps)
    print(f"mlp   d=272, 272 examples, N={n}, T={steps}: tile_grad {row['tile_grad']:.3g} traj-steps/s | "
          f"loops {row['loops']:.3g} ({row['tile_grad'] / row['loops']:.2f}x) | "
          f"torch {row['torch']:.3g} ({row['tile_grad'] / row['torch']:.2f}x)")
    t = tanh_row(10_000 if args.quick else 4_000_000)
    print(f"tanh  numba math.tanh loop {t['numba math.tanh loop']:.3g}/s | vector_tanh loop {t['vector_tanh loop']:.3g}/s | "
          f"np.tanh {t['np.tanh']:.3g}/s | "
          f"tanh calls in numba's loop: {t['tanh calls']}")
    return {"mlp": row, "tanh": t}


if __name__ == "__main__":
    main()
