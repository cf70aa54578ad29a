"""GPU throughput of the CUDA kernels, for a machine with a CUDA GPU.

Prints trajectory-steps per second (kernel time, float64 and float32, best of 3 after a warm-up
that compiles) of:

* Adam on the valley (a = 1e-3), 2²⁰ initial points × 1000 steps (the 2-D workload of
  bench_engine.py);
* Adam on the valley, one initial point × a 512 × 512 (lr, β₁) grid × 1000 steps;
* Adam on the array-form quadratic ½wᵀHw (random SPD H) at d = 10, 100, 1000, N·d ≈ 2²¹,
  in N·d·T per second as well.

On a machine without a GPU it says so and exits with status 0 (``--require-gpu`` makes that an
error). ``--quick`` runs small sizes.

Usage: ``python scripts/bench_gpu.py [--quick] [--require-gpu]``
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from simdyn.engine.run import run_batch
from simdyn.plan import make_plan


def gpu_name() -> str | None:
    try:
        from numba import cuda

        if not cuda.is_available():
            return None
        return cuda.get_current_device().name.decode() if isinstance(cuda.get_current_device().name, bytes) \
            else str(cuda.get_current_device().name)
    except Exception:  # numba-cuda missing or no driver
        return None


def rate(plan, repeats: int = 3) -> float:
    launch = plan.launches[0]
    run_batch(launch.request, launch.inputs)  # compiles
    best = min(run_batch(launch.request, launch.inputs).seconds for _ in range(repeats))
    return launch.inputs.size * plan.steps / best


def random_spd(d: int, seed: int = 0) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
    return (q * np.linspace(1.0, 10.0, d)) @ q.T


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--require-gpu", action="store_true", help="exit with status 1 when no CUDA GPU is found")
    args = parser.parse_args(argv)
    name = gpu_name()
    if name is None:
        print("bench_gpu: no CUDA GPU available to numba; nothing measured")
        return 1 if args.require_gpu else 0
    q = args.quick
    steps = 100 if q else 1000
    print(f"bench_gpu: {name}")
    rng = np.random.default_rng(0)
    for dtype in ("float64", "float32"):
        n = 2**14 if q else 2**20
        batch = make_plan("adam", "valley", rng.uniform(-1, 1, (n, 2)), steps, hyper={"lr": 1e-3}, params={"a": 1e-3},
                          dtype=dtype, target="cuda")
        side = 64 if q else 512
        grid = make_plan("adam", "valley", np.array([[0.5, 0.5]]), steps, params={"a": 1e-3}, dtype=dtype, target="cuda",
                         hyper={"lr": np.geomspace(1e-4, 1e-1, side), "beta1": np.linspace(0.0, 0.99, side)})
        print(f"{dtype}  Adam 2-D {n} ICs: {rate(batch):.3g} traj-steps/s | 1 IC x {side}^2 (lr, beta1): "
              f"{rate(grid):.3g} traj-steps/s")
        for d in (10, 100, 1000):
            n_traj = max(1, (2**14 if q else 2**21) // d)
            plan = make_plan("adam", "quadratic", rng.normal(size=(n_traj, d)), steps if d < 1000 else steps // 10,
                             hyper={"lr": 1e-3}, params={"h": random_spd(d)}, dtype=dtype, target="cuda")
            r = rate(plan)
            print(f"{dtype}  quadratic d={d:<5} N={n_traj}: {r:.3g} traj-steps/s = {r * d:.3g} N.d.T/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
