"""Benchmark of the period detector on an array-form landscape: its cost relative to the plain kernel.

Workload (float64, CPU): Adam (torch defaults, lr 10⁻³) on the array-form quadratic ½wᵀHw at
d = ``--d`` (default 100; H = AᵀA/d + I from a fixed seed, the registered quadratic's BLAS tile
gradient), N initial points uniform in [−1, 1]^d. In the same process and interleaved (the
machine is shared: best of ``--repeats`` runs each, compilation excluded), it times the kernel
(simdyn.engine.run.run_batch: allocation + the compiled loop) with

* ``plain``: no observer;
* ``Period(64)``, ``Period(8)``: the detector on w (a (max_period + 1, d) block per trajectory);
* ``Period(64, on="state")``: on the full state z = (w, m, v) (a (65, 3d) block);
* ``Tail(64)``: the recorder of the last 64 states (the ring without the detector).

Ratios are against ``plain``. Writes ``bench_array_period.txt`` to ``--out``.
Usage: ``python scripts/bench_array_period.py [--d 100] [--n 4096] [--steps 500] [--repeats 3]
[--quick] [--out out/]``.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

import simdyn as sd
from _cli import add_out, script_parser
from _report import TextLog
from simdyn.engine.run import run_batch
from simdyn.plan import make_plan

OBSERVERS = {
    "plain": lambda: [],
    "Period(64)": lambda: [sd.observe.Period(64)],
    "Period(8)": lambda: [sd.observe.Period(8)],
    "Period(64, state)": lambda: [sd.observe.Period(64, on="state")],
    "Tail(64)": lambda: [sd.observe.Tail(64)],
}


def parse_args(argv):
    p = script_parser(__doc__)
    p.add_argument("--d", type=int, default=100, help="dimension (default 100)")
    p.add_argument("--n", type=int, default=None, help="trajectories (default 4096; --quick 256)")
    p.add_argument("--steps", type=int, default=None, help="steps (default 500; --quick 50)")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats, best kept (default 3)")
    p.add_argument("--quick", action="store_true", help="a smoke test")
    add_out(p)
    args = p.parse_args(argv)
    args.n = args.n or (256 if args.quick else 4096)
    args.steps = args.steps or (50 if args.quick else 500)
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    args.out.mkdir(parents=True, exist_ok=True)
    log = TextLog()
    rng = np.random.default_rng(20261207)
    a = rng.normal(size=(args.d, args.d))
    land = sd.landscapes.quadratic(a.T @ a / args.d + np.eye(args.d), form="array")
    x0 = rng.uniform(-1.0, 1.0, (args.n, args.d))
    log(f"adam on the array-form quadratic, d = {args.d}, N = {args.n} x {args.steps} steps, float64, CPU, "
        f"best of {args.repeats}; load average {'/'.join(f'{x:.2f}' for x in os.getloadavg())}")
    runs = {}
    for name, make in OBSERVERS.items():
        run = make_plan("adam", land, x0, args.steps, hyper={"lr": 1e-3}, observers=make()).launches[0]
        run_batch(run.request, run.inputs)  # compile (or load from the cache)
        runs[name] = run
    best = {name: np.inf for name in OBSERVERS}
    for _ in range(args.repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run_batch(run.request, run.inputs)
            best[name] = min(best[name], time.perf_counter() - start)
    rate = args.n * args.steps * args.d / best["plain"]
    log(f"plain {best['plain']:.3f} s ({rate / 1e6:.0f} M coordinate-steps/s)")
    for name in OBSERVERS:
        if name != "plain":
            log(f"  {name:<18} {best[name]:.3f} s  x{best[name] / best['plain']:.2f}")
    log.write(args.out / "bench_array_period.txt")
    return best


if __name__ == "__main__":
    main()
