"""Cost of ``sd.observe.Sharpness`` on the trainability network (sd.landscapes.mlp, d = 272).

Prints, measured in one run (float64, full-batch gradient descent, 16 inputs, width 16, one
output, 272 examples): the wall time of N trajectories × T steps without an observer and with
``Sharpness(every=k, iterations=20)`` (power iteration, 20 Hessian–vector products per
measurement), the ratio, and the cost of one measurement in steps of the plain run. Rows:

``tile_grad + hvp``
    the model as it is: the step through its tile gradient (BLAS GEMMs over 64 trajectories),
    the products through its exact ``hvp`` (forward-over-reverse, per trajectory);
``tile_grad + differences``
    the same network without ``hvp``: every product is a central difference of two gradients,
    through the tile gradient;
``loops + hvp``
    without ``tile_grad``: per-trajectory loops for the step and the exact products (the source
    CUDA runs).

Usage: ``python scripts/bench_sharpness.py [--quick] [--every K]`` (``--quick``: small sizes, a
smoke run).
"""

from __future__ import annotations

import os
import time

import numba
import numpy as np

import simdyn as sd
from _cli import script_parser
from simdyn.engine.run import run_batch
from simdyn.plan import make_plan


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def seconds(land, w0, steps, observers, repeats) -> float:
    """Best wall time of ``repeats`` runs of the batch (after a warm-up that compiles)."""
    launch = make_plan("sgd", land, w0, steps, hyper={"lr": 20.0}, observers=observers).launches[0]
    run_batch(launch.request, launch.inputs)
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        run_batch(launch.request, launch.inputs)
        best = min(best, time.perf_counter() - start)
    return best


def measure(n: int, steps: int, every: int, repeats: int = 3) -> dict:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(272, 16)), rng.normal(size=(272, 1))
    tiled = sd.landscapes.mlp(x, y, width=16)
    common = dict(form="array", data=tiled.data, scratch=tiled.scratch)
    differences = sd.Landscape("mlp_differences", tiled.dim, tiled.grad, tiled.loss, tile_grad=tiled.tile_grad, **common)
    loops = sd.Landscape("mlp_loops", tiled.dim, tiled.grad, tiled.loss, hvp=tiled.hvp, **common)
    w0 = sd.landscapes.mlp_init(16, 16, 1, n=n, seed=1)
    out = {}
    for name, land in (("tile_grad + hvp", tiled), ("tile_grad + differences", differences), ("loops + hvp", loops)):
        plain = seconds(land, w0, steps, [], repeats)
        observed = seconds(land, w0, steps, [sd.observe.Sharpness(every=every, iterations=20)], repeats)
        measurements = steps // every + 1
        out[name] = {"plain": plain, "sharpness": observed, "ratio": observed / plain,
                     "steps_per_measurement": (observed - plain) / measurements / (plain / steps)}
    return out


def main(argv=None):
    parser = script_parser(__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run, not a measurement")
    parser.add_argument("--every", type=int, default=10, help="steps between measurements (default 10)")
    args = parser.parse_args(argv)
    n, steps = (4, 6) if args.quick else (64, 200)
    print(f"bench_sharpness: {cores()} cores, numba {numba.__version__}, float64, GD on mlp d=272, "
          f"N={n}, T={steps}" + (" (quick: smoke sizes, ratios not meaningful)" if args.quick else ""))
    rows = measure(n, steps, args.every, repeats=1 if args.quick else 3)
    for name, row in rows.items():
        print(f"{name:23s} plain {row['plain']:.3g} s | Sharpness(every={args.every}, iterations=20) "
              f"{row['sharpness']:.3g} s ({row['ratio']:.2f}x) | one measurement costs "
              f"{row['steps_per_measurement']:.3g} plain steps")
    return rows


if __name__ == "__main__":
    main()
