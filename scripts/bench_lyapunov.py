"""Benchmark of the Lyapunov driver (``sd.lyapunov``): its cost relative to the plain kernel.

Workloads (float64, CPU): Adam (torch defaults, lr 10⁻²) on the valley x² + 10⁻³y² and on
Rosenbrock, N initial points uniform in [−1, 1]² from a fixed seed. Timed in the same process,
interleaved (each repeat runs every workload once), best of ``--repeats`` runs each, compilation
excluded:

* ``plain``: ``sd.simulate`` without observers (the engine's fused, tiled kernel);
* ``lyapunov``: ``sd.lyapunov`` (one tangent vector: one JVP of the step per step, which also
  advances the state; a separate driver tiled over trajectories like the engine's kernel, not
  fused into it);
* ``observer``: ``sd.simulate`` with ``sd.observe.Lyapunov()`` (the step's JVP fused into the
  engine's kernel, ż rescaled by a power of two every step inside the step loop), and
  ``observer/8`` with ``renormalize_every=8``;
* ``spectrum``: ``sd.lyapunov(spectrum=True)`` (6 vectors for Adam in 2-D, modified
  Gram–Schmidt every step, one trajectory per prange iteration), and ``observer spectrum``:
  ``sd.observe.Lyapunov(spectrum=True)`` (the 6 vectors in the kernel, Gram–Schmidt every step).
* with ``--every-optimizer``, also ``plain`` and ``observer`` for every built-in optimizer on
  Rosenbrock (lr 10⁻³).

Prints the ratios against ``plain``; the issue's target for the in-kernel observer is
Lyapunov() ≤ 2.5× plain on Adam in 2-D. ``--clock cpu`` times the process's CPU time (all
threads) instead of the wall clock: steadier on a machine shared with other jobs. Usage:
``python scripts/bench_lyapunov.py [--n 65536] [--steps 1000] [--repeats 3] [--clock wall|cpu]
[--quick] [--observer-only] [--every-optimizer] [--out out/]``; writes ``bench_lyapunov.txt``. ``--observer-only``
times plain, observer and observer/8 alone, so that many repeats fit in a minute.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

import simdyn as sd
from _cli import add_out, script_parser
from _report import TextLog


def parse_args(argv):
    p = script_parser(__doc__)
    p.add_argument("--n", type=int, default=65536, help="trajectories (default 65536)")
    p.add_argument("--steps", type=int, default=1000, help="steps per trajectory (default 1000)")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats, the best is kept (default 3)")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="wall clock, or the process's CPU time (default wall)")
    p.add_argument("--quick", action="store_true", help="n = 2048, steps = 200, one repeat")
    p.add_argument("--observer-only", action="store_true",
                   help="time plain, observer and observer/8 only (many repeats in little time)")
    p.add_argument("--every-optimizer", action="store_true",
                   help="also time plain and observer for every built-in optimizer on Rosenbrock")
    add_out(p)
    return p.parse_args(argv)


def best_of(repeats, fns, clock=time.perf_counter):
    """The best time of each of ``fns`` (a dict), after one untimed call each (compilation); the
    repeats go round the dict, so that a change of load on a shared machine hits every entry."""
    for fn in fns.values():
        fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = clock()
            fn()
            times[name].append(clock() - t0)
    return {name: min(t) for name, t in times.items()}


def main(argv=None):
    args = parse_args(argv if argv is not None else sys.argv[1:])
    if args.quick:
        args.n, args.steps, args.repeats = 2048, 200, 1
    os.makedirs(args.out, exist_ok=True)
    log = TextLog()
    x0 = np.random.default_rng(0).uniform(-1.0, 1.0, (args.n, 2))
    hyper = {"lr": 1e-2}
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    log(f"N = {args.n}, {args.steps} steps, best of {args.repeats}, float64 CPU, {args.clock} clock")
    rows = {}
    for landscape in ("valley", "rosenbrock"):
        def simulate(observers=()):
            return sd.simulate("adam", landscape, x0=x0, steps=args.steps, hyper=hyper, observers=list(observers),
                               progress=False)

        workloads = {
            "plain": simulate,
            "lyapunov": lambda: sd.lyapunov("adam", landscape, x0, args.steps, hyper=hyper),
            "observer": lambda: simulate([sd.observe.Lyapunov()]),
            "observer/8": lambda: simulate([sd.observe.Lyapunov(renormalize_every=8)]),
            "spectrum": lambda: sd.lyapunov("adam", landscape, x0, args.steps, hyper=hyper, spectrum=True),
            "observer spectrum": lambda: simulate([sd.observe.Lyapunov(spectrum=True)]),
        }
        if args.observer_only:
            workloads = {name: workloads[name] for name in ("plain", "observer", "observer/8")}
        best = best_of(args.repeats, workloads, clock)
        plain = best["plain"]
        rate = args.n * args.steps
        rows[landscape] = tuple(best.values())
        line = (f"adam on {landscape:10s}: plain {rate / plain:.3g} traj-steps/s; "
                f"observer {best['observer'] / plain:.2f}x, observer/8 {best['observer/8'] / plain:.2f}x plain")
        if not args.observer_only:
            line += (f"; sd.lyapunov {best['lyapunov'] / plain:.2f}x plain; "
                     f"spectrum (6 exponents) {best['spectrum'] / plain:.2f}x plain, "
                     f"in the kernel {best['observer spectrum'] / plain:.2f}x plain")
        log(line)
    if args.every_optimizer:
        for name in sd.optimizers.OPTIMIZERS:
            def simulate(observers=(), name=name):
                return sd.simulate(name, "rosenbrock", x0=x0, steps=args.steps, hyper={"lr": 1e-3},
                                   observers=list(observers), progress=False)

            best = best_of(args.repeats, {"plain": simulate, "observer": lambda: simulate([sd.observe.Lyapunov()])},
                           clock)
            rows[name] = (best["plain"], best["observer"])
            log(f"{name:9s} on rosenbrock (lr 1e-3): plain {args.n * args.steps / best['plain']:.3g} traj-steps/s; "
                f"observer {best['observer'] / best['plain']:.2f}x plain")
    log.write(os.path.join(args.out, "bench_lyapunov.txt"))
    return rows


if __name__ == "__main__":
    main()
