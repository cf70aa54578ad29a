"""Benchmark of the streaming period detector: its cost relative to the plain kernel.

Workloads (float64, CPU): Adam (torch defaults) on the valley x² + 10⁻³y² and on the sharp valley
|x| + 10⁻⁴|y|, RMSProp on the valley and SGD (lr 10⁻³) on the valley; N initial points uniform in
[−1, 1]² from a fixed seed. For each workload, in the same process and interleaved (the machine
is shared: best of ``--repeats`` runs each, compilation excluded), it times

* ``plain``: the kernel without observers;
* ``Period(64)``, ``Period(8)``: with the detector (ring buffer of 64 / 8 states);
* ``Tail(64)``: with the recorder of the last 64 states.

Two timings per row: ``kernel`` (simdyn.engine.run.run_batch: allocation + the compiled loop,
what the observer adds to the simulation) and ``simulate`` (the whole sd.simulate call, including
the detector's NumPy verdict in ``finalize`` and the Dataset). Ratios are against ``plain`` of
the same workload; the target is Period(64) ≤ 2× plain (kernel).

``--scale`` also runs the issue's capacity check: a period_scan of 10⁶ trajectories (10³ initial
points × 10³ learning rates) × 10⁴ steps, no recording, and reports its wall time and the
process's peak resident memory.

Writes ``bench_period.png`` (bar chart of the ratios) and ``bench_period.txt`` to ``--out``.
Usage: ``python scripts/bench_period.py [--n 131072] [--steps 2000] [--repeats 5] [--quick]
[--scale] [--out out/]``.
"""

from __future__ import annotations

import os
import resource
import sys
import time

import numpy as np

import simdyn as sd
from _cli import add_out, script_parser
from _report import TextLog
from simdyn.engine.run import run_batch
from simdyn.plan import make_plan

WORKLOADS = [("adam", "valley", {}), ("adam", "sharp_valley", {}), ("rmsprop", "valley", {}),
             ("sgd", "valley", {"lr": 1e-3})]
OBSERVERS = {"plain": lambda: [], "Period(64)": lambda: [sd.observe.Period(64)],
             "Period(8)": lambda: [sd.observe.Period(8)], "Tail(64)": lambda: [sd.observe.Tail(64)]}
TARGET_RATIO = 2.0


def parse_args(argv):
    p = script_parser(__doc__)
    p.add_argument("--n", type=int, default=None, help="trajectories (default 2**17; --quick 2**13)")
    p.add_argument("--steps", type=int, default=None, help="steps (default 2000; --quick 200)")
    p.add_argument("--repeats", type=int, default=5, help="timed repeats, best kept (default 5)")
    p.add_argument("--quick", action="store_true", help="a smoke test")
    p.add_argument("--scale", action="store_true", help="also run the 1e6 x 1e4 period scan")
    add_out(p)
    args = p.parse_args(argv)
    args.n = args.n or (1 << 13 if args.quick else 1 << 17)
    args.steps = args.steps or (200 if args.quick else 2000)
    return args


def time_workload(optimizer, landscape, hyper, x0, steps, repeats):
    """Best kernel and simulate times (seconds) per observer configuration, interleaved."""
    plans = {}
    for name, make in OBSERVERS.items():
        launch = make_plan(optimizer, landscape, x0, steps, hyper=hyper, observers=make()).launches[0]
        run_batch(launch.request, launch.inputs)  # compile (or load from the cache)
        plans[name] = launch
    kernel = {name: np.inf for name in OBSERVERS}
    whole = {name: np.inf for name in OBSERVERS}
    for _ in range(repeats):
        for name, launch in plans.items():
            start = time.perf_counter()
            run_batch(launch.request, launch.inputs)
            kernel[name] = min(kernel[name], time.perf_counter() - start)
            start = time.perf_counter()
            sd.simulate(optimizer, landscape, x0, steps, hyper=hyper, observers=OBSERVERS[name](), progress=False)
            whole[name] = min(whole[name], time.perf_counter() - start)
    return kernel, whole


def scale_check(log):
    """period_scan of 10⁶ trajectories × 10⁴ steps without recording: wall time and peak memory."""
    x0 = np.random.default_rng(1).uniform(-1.0, 1.0, (1000, 2))
    lrs = np.geomspace(1e-4, 1e-1, 1000)
    start = time.perf_counter()
    ds = sd.period_scan("adam", "valley", x0, hyper={"lr": lrs}, steps=10_000, max_period=64, orbit=False,
                        progress=False)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    counts = np.unique(ds.period.values, return_counts=True)
    log(f"scale: period_scan adam/valley, {ds.period.size} trajectories x 10000 steps, max_period 64, "
        f"no recording: {seconds:.1f} s, peak resident memory {peak / 2**30:.2f} GiB; "
        f"periods {dict(zip(counts[0].tolist(), counts[1].tolist()))}")
    return seconds, peak


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in OBSERVERS if n != "plain"]
    labels = [f"{opt}\n{land}" for opt, land, *_ in rows]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True, layout="constrained")
    width = 0.8 / len(names)
    for ax, key, title in ((axes[0], 3, "kernel (run_batch)"), (axes[1], 4, "whole sd.simulate call")):
        for i, name in enumerate(names):
            ratios = [row[key][name] / row[key]["plain"] for row in rows]
            ax.bar(np.arange(len(rows)) + (i - (len(names) - 1) / 2) * width, ratios, width, label=name)
        ax.axhline(TARGET_RATIO, color="r", lw=1, ls="--", label=f"target {TARGET_RATIO:g}x")
        ax.axhline(1.0, color="k", lw=0.8)
        ax.set_xticks(np.arange(len(rows)))
        ax.set_xticklabels(labels)
        ax.set_title(title)
    axes[0].set_ylabel("time / time without observers")
    axes[0].legend(fontsize=8)
    fig.suptitle("cost of the period detector (best of repeats, same process)")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    args.out.mkdir(parents=True, exist_ok=True)
    log = TextLog()

    x0 = np.random.default_rng(20240601).uniform(-1.0, 1.0, (args.n, 2))
    log(f"N = {args.n} trajectories x {args.steps} steps, float64, CPU, best of {args.repeats}; "
        f"load average {'/'.join(f'{x:.2f}' for x in os.getloadavg())}")
    rows = []
    for optimizer, landscape, hyper in WORKLOADS:
        kernel, whole = time_workload(optimizer, landscape, hyper, x0, args.steps, args.repeats)
        rows.append((optimizer, landscape, hyper, kernel, whole))
        rate = args.n * args.steps / kernel["plain"]
        log(f"{optimizer}/{landscape}: plain {kernel['plain']:.3f} s ({rate / 1e9:.2f} G traj-steps/s)")
        for name in OBSERVERS:
            if name != "plain":
                log(f"  {name:<11} kernel x{kernel[name] / kernel['plain']:.2f}   "
                    f"simulate x{whole[name] / whole['plain']:.2f}")
    adam = rows[0][3]
    ratio = adam["Period(64)"] / adam["plain"]
    log(f"target: Period(64) kernel <= {TARGET_RATIO:g}x plain on adam/valley: x{ratio:.2f} "
        f"{'PASS' if ratio <= TARGET_RATIO else 'FAIL'}")
    if args.scale:
        scale_check(log)
    plot(rows, args.out / "bench_period.png")
    log.write(args.out / "bench_period.txt")
    return rows


if __name__ == "__main__":
    main()
