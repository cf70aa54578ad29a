"""Benchmark: the cost of the escape/hitting/path observers relative to the plain kernel.

Workload: N trajectories (default 250 000) uniform in the ball of radius 10⁻² around the saddle
½(−x² + y²), ``steps`` steps (default 500) of Adam and of SGD (the most and the least arithmetic
per step: the observers' share is smallest for Adam, largest for SGD, whose plain step is about
one nanosecond), float64, CPU target, lr = 10⁻³ (every trajectory stays inside the exit ball, so
the observers do their full work every step). Rows: the plain kernel (no observer), each observer
alone (``Exit(0, 1)``, ``Exit(0, 1, norm="linf")``, ``Hitting((0, 0), 1e-3)``, ``PathLength()``,
``MaxStep()``), Exit + Hitting + MaxStep, and Exit + Hitting + PathLength + MaxStep together.

PathLength needs one square root per step (‖w_{t+1} − w_t‖₂). Adam's step is bound by the
divide/square-root unit (2 square roots and 4 divisions per 2-D step), so that square root alone
costs about a quarter of Adam's step whatever the engine does; the other observers are a few
multiply-adds, compares and one slot row each.

Timing: the kernel's own time (``ds.attrs["elapsed_seconds"]``: advancing the batch, excluding
dataset assembly), after a warm-up call that compiles; the configurations run in interleaved
rounds (so load from other processes hits them alike) and each keeps its best. The printed ratio
is best time / best time of the plain kernel of the same optimizer in the same run; the target
is ≤ 1.3.

Two engine effects showed here, both handled by the engine now (simdyn.engine): LLVM vectorises
the tile loop only if it needs at most ``-vectorize-memory-check-threshold`` run-time alias
checks between the rows it loads and stores (default 128: all four observers on Adam passed it
and ran ~11x slower scalar; the engine raises it to 1024), and with N a power of two the rows of
the (rows, N) state arrays map to the same L1 cache sets (4-12x slower; the engine pads each row
to an odd multiple of 512 bytes, which also keeps rows from 4K-aliasing). ``--n 262144`` checks the second.

Usage: ``python scripts/bench_observers.py [--n 250000] [--steps 500] [--rounds 5]
[--optimizers adam sgd] [--threads 1] [--out out/] [--quick]``; writes
``bench_observers.png`` (ratios per configuration) and prints a table.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import simdyn as sd  # noqa: E402
from _cli import add_out, script_parser  # noqa: E402

CONFIGS = {
    "plain": lambda: [],
    "exit_l2": lambda: [sd.observe.Exit(0.0, 1.0)],
    "exit_linf": lambda: [sd.observe.Exit(0.0, 1.0, norm="linf")],
    "hitting": lambda: [sd.observe.Hitting((0.0, 0.0), 1e-3)],
    "path_length": lambda: [sd.observe.PathLength()],
    "max_step": lambda: [sd.observe.MaxStep()],
    "exit_hit_max": lambda: [sd.observe.Exit(0.0, 1.0), sd.observe.Hitting((0.0, 0.0), 1e-3), sd.observe.MaxStep()],
    "all_four": lambda: [sd.observe.Exit(0.0, 1.0), sd.observe.Hitting((0.0, 0.0), 1e-3),
                         sd.observe.PathLength(), sd.observe.MaxStep()],
}


def run_once(optimizer: str, config: str, x0, steps: int) -> float:
    ds = sd.simulate(optimizer, "saddle", x0, steps=steps, hyper={"lr": 1e-3}, observers=CONFIGS[config](),
                     progress=False)
    return float(ds.attrs["elapsed_seconds"])


def measure(optimizers, n: int, steps: int, rounds: int) -> list[dict]:
    x0 = sd.ball((0.0, 0.0), 1e-2, n, seed=1)
    rows = []
    for optimizer in optimizers:
        for config in CONFIGS:  # warm-up: compile every kernel
            run_once(optimizer, config, sd.ball((0.0, 0.0), 1e-2, 64, seed=1), 3)
        best = {config: np.inf for config in CONFIGS}
        for _ in range(rounds):
            for config in CONFIGS:
                best[config] = min(best[config], run_once(optimizer, config, x0, steps))
        for config in CONFIGS:
            rows.append({
                "optimizer": optimizer, "config": config, "seconds": best[config],
                "rate": n * steps / best[config], "ratio": best[config] / best["plain"],
            })
    return rows


def plot(rows, path: str, note: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    optimizers = list(dict.fromkeys(r["optimizer"] for r in rows))
    configs = list(CONFIGS)
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    width = 0.8 / len(optimizers)
    for i, opt in enumerate(optimizers):
        ratios = [next(r["ratio"] for r in rows if r["optimizer"] == opt and r["config"] == c) for c in configs]
        ax.bar(np.arange(len(configs)) + (i - (len(optimizers) - 1) / 2) * width, ratios, width, label=opt)
    ax.axhline(1.3, color="k", ls="--", lw=1, label="target 1.3×")
    ax.axhline(1.0, color="gray", lw=0.8)
    ax.set_xticks(np.arange(len(configs)), configs, rotation=20)
    ax.set_ylabel("time / plain kernel (same run)")
    ax.set_title(f"Observer cost on the CPU kernel (saddle, float64){note}", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> list[dict]:
    parser = script_parser(__doc__)
    parser.add_argument("--n", type=int, default=250_000, help="trajectories (default 250000)")
    parser.add_argument("--steps", type=int, default=500, help="steps (default 500)")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds, best kept (default 5)")
    parser.add_argument("--optimizers", nargs="+", default=["adam", "sgd"], help="optimizers to time (default adam sgd)")
    add_out(parser)
    parser.add_argument("--quick", action="store_true", help="N = 10000, 200 steps, 2 rounds (a smoke test)")
    parser.add_argument("--threads", type=int, default=None,
                        help="numba threads (default: all cores); 1 is steadier on a shared machine")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.steps, args.rounds = 10_000, 200, 2
    if args.threads is not None:
        import numba

        numba.set_num_threads(args.threads)
    rows = measure(args.optimizers, args.n, args.steps, args.rounds)
    print(f"N = {args.n}, steps = {args.steps}, best of {args.rounds} interleaved rounds, threads = {args.threads or 'all'}")
    print(f"{'optimizer':>9} {'observers':>12} {'seconds':>9} {'traj-steps/s':>13} {'ratio':>6}")
    for r in rows:
        print(f"{r['optimizer']:>9} {r['config']:>12} {r['seconds']:9.3f} {r['rate']:13.3e} {r['ratio']:6.2f}")
    args.out.mkdir(parents=True, exist_ok=True)
    note = f"\nN = {args.n}, {args.steps} steps, {args.threads or 'all'} thread(s)"
    plot(rows, args.out / "bench_observers.png", note)
    return rows


if __name__ == "__main__":
    main()
