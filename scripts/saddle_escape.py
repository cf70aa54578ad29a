"""Escape from the saddle ½(−x² + y²) (Hessian diag(−1, 1)): Figure 2a of "Exploring the dynamics
of Adam" (Section 5) and escape-time distributions over many starting points.

Three studies, all with SGD, AdaGrad, RMSProp and Adam at one common learning rate η = 10⁻²
(torch.optim semantics, every other hyperparameter at torch's default; the paper does not state
its settings), the exit ball ‖w‖₂ ≤ 1 (``sd.observe.Exit(0, 1)``):

1. Figure 2a: one trajectory per optimizer from w₀ = (10⁻³, 1), i.e. next to the stable
   manifold x = 0, drawn on the normalised field −∇f/‖∇f‖ (``fig2a_saddle_trajectories.png``,
   data ``saddle_trajectories.nc``). Printed: exit step and closest approach to the saddle.
2. Escape-time distributions: N = 10⁶ starts uniform in the ball of radius 10⁻² around the
   saddle, horizon 5000 steps. Kaplan–Meier survival S(t), quantiles, tail escape rate and the
   fit t ≈ a + b·log(1/δ) per optimizer (``saddle_escape_survival.png``,
   ``saddle_escape_table.csv``, data ``saddle_escape_ball.nc`` without the final points).
3. Escape time against the initial distance δ ∈ [10⁻¹⁰, 10⁻¹]: 91 log-spaced δ × 32 directions
   (angles (k + ½)·2π/32), learning rates 3·10⁻³, 10⁻², 3·10⁻², horizon 8000
   (``saddle_escape_scaling.png``, ``saddle_escape_scaling_table.csv``, data
   ``saddle_escape_delta.nc``). Closed form for gradient descent from (δ, 0):
   t_exit = min{t : δ(1 + η)ᵗ > 1}, slope b = 1/log(1 + η).

Usage: ``python scripts/saddle_escape.py [--out out/] [--n 1000000] [--quick]``
(``--quick``: N = 2·10⁴, 21 δ values × 8 directions, one learning rate: a smoke run).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import simdyn as sd  # noqa: E402
from _cli import add_out, script_parser  # noqa: E402
from simdyn.analysis.escape import escape_statistics, escape_table  # noqa: E402

OPTIMIZERS = ["sgd", "adagrad", "rmsprop", "adam"]
LR = 1e-2
EXIT_RADIUS = 1.0
FIG2A_START = (1e-3, 1.0)
BALL_RADIUS = 1e-2


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figure_2a(out: str, steps: int) -> None:
    ds = sd.simulate(OPTIMIZERS, "saddle", np.array([FIG2A_START]), steps=steps, hyper={"lr": LR}, record_every=1,
                     observers=[sd.observe.Exit(0.0, EXIT_RADIUS)], progress=False)
    ds.simdyn.save(Path(out) / "saddle_trajectories.nc")
    closest = np.sqrt((ds.trajectory ** 2).sum("coord")).min("step")
    print(f"Figure 2a: start {FIG2A_START}, lr {LR}, {steps} steps")
    for opt in OPTIMIZERS:
        sel = ds.sel(optimizer=opt, traj=0)
        exit_step = int(sel.exit_step)
        side = f", leaves at x = {float(sel.exit_point.sel(coord='x')):+.3f}, y = {float(sel.exit_point.sel(coord='y')):+.3f}" \
            if exit_step >= 0 else ""
        print(f"  {opt:8s} exit step {exit_step:6d}   closest approach to the saddle {float(closest.sel(optimizer=opt, traj=0)):.2e}{side}")
    plt = _plt()
    fig = sd.plot.vector_field("saddle", ds, extent=(-1.5, 1.5, -1.5, 1.5), markers=())
    ax = fig.axes[0]
    ax.add_patch(plt.Circle((0, 0), EXIT_RADIUS, fill=False, ls=":", color="k", lw=0.8))
    ax.set_title(f"Figure 2a: saddle ½(−x²+y²), w₀ = {FIG2A_START}\nlr = {LR:g}, {steps} steps; dotted: exit circle ‖w‖ = 1",
                 fontsize=10)
    fig.savefig(Path(out) / "fig2a_saddle_trajectories.png", dpi=130)
    plt.close(fig)


def ball_study(out: str, n: int, steps: int) -> None:
    start = time.perf_counter()
    ds = sd.simulate(OPTIMIZERS, "saddle", sd.ball((0.0, 0.0), BALL_RADIUS, n, seed=2024), steps=steps,
                     hyper={"lr": LR}, observers=[sd.observe.Exit(0.0, EXIT_RADIUS)], progress=False)
    print(f"\nEscape from the ball of radius {BALL_RADIUS:g}: N = {n} per optimizer, {steps} steps, "
          f"{time.perf_counter() - start:.1f} s")
    stats = escape_statistics(ds)
    table = escape_table(stats)
    table.to_csv(Path(out) / "saddle_escape_table.csv")
    _print_table(table)
    print(f"  gradient descent reference: escape rate log(1 + lr) = {np.log1p(LR):.6f}, b = 1/log(1 + lr) = {1 / np.log1p(LR):.2f}")
    stats.to_netcdf(Path(out) / "saddle_escape_ball_stats.nc")
    ds.drop_vars(["w", "loss", "stop_step"]).simdyn.save(Path(out) / "saddle_escape_ball.nc")
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    sd.plot.survival(stats, ax=axes[0])
    axes[0].set_title(f"S(t), N = {n} starts in the ball of radius {BALL_RADIUS:g}, lr = {LR:g}")
    sd.plot.survival(stats, ax=axes[1], logy=False)
    axes[1].set_title("same, linear S")
    fig.tight_layout()
    fig.savefig(Path(out) / "saddle_escape_survival.png", dpi=130)
    plt.close(fig)


def delta_study(out: str, n_delta: int, n_angle: int, lrs, steps: int) -> None:
    delta = np.geomspace(1e-10, 1e-1, n_delta)
    angle = (np.arange(n_angle) + 0.5) * 2.0 * np.pi / n_angle
    dd, aa = np.meshgrid(delta, angle, indexing="ij")
    x0 = np.stack([(dd * np.cos(aa)).ravel(), (dd * np.sin(aa)).ravel()], axis=1)
    ds = sd.simulate(OPTIMIZERS, "saddle", x0, steps=steps, hyper={"lr": np.asarray(lrs)},
                     observers=[sd.observe.Exit(0.0, EXIT_RADIUS)], progress=False)
    ds.simdyn.save(Path(out) / "saddle_escape_delta.nc")
    stats = escape_statistics(ds)
    table = escape_table(stats)
    table.to_csv(Path(out) / "saddle_escape_scaling_table.csv")
    print(f"\nEscape time against δ ∈ [1e-10, 1e-1] ({n_delta} δ × {n_angle} directions, {steps} steps):")
    _print_table(table)
    for lr in lrs:
        print(f"  gradient descent closed form at lr = {lr:g}: b = 1/log(1 + lr) = {1 / np.log1p(lr):.2f}")
    on_axis = sd.simulate(OPTIMIZERS, "saddle", np.stack([delta, np.zeros_like(delta)], 1), steps=steps,
                          hyper={"lr": LR}, observers=[sd.observe.Exit(0.0, EXIT_RADIUS)], progress=False)
    print(f"  exit step from (δ, 0) at lr = {LR:g}:")
    print("    δ        " + " ".join(f"{opt:>8s}" for opt in OPTIMIZERS) + "   GD closed form")
    for i in np.linspace(0, n_delta - 1, min(n_delta, 10)).astype(int):
        closed = int(np.floor(np.log(1.0 / delta[i]) / np.log1p(LR))) + 1
        row = " ".join(f"{int(on_axis.exit_step.sel(optimizer=o).values[i]):8d}" for o in OPTIMIZERS)
        print(f"    {delta[i]:.1e}  {row}   {closed:8d}")
    plt = _plt()
    fig, axes = plt.subplots(1, len(lrs), figsize=(5.2 * len(lrs), 4.4), squeeze=False)
    for ax, lr in zip(axes[0], lrs):
        sd.plot.escape_scaling(ds.sel(lr=lr), ax=ax, bins=min(30, n_delta))
        ax.set_title(f"lr = {lr:g}")
    fig.tight_layout()
    fig.savefig(Path(out) / "saddle_escape_scaling.png", dpi=130)
    plt.close(fig)


def _print_table(table) -> None:
    import pandas as pd

    with pd.option_context("display.width", 160, "display.max_columns", 20, "display.float_format", "{:.4g}".format):
        print(table.to_string())


def main(argv=None) -> None:
    parser = script_parser(__doc__)
    add_out(parser)
    parser.add_argument("--n", type=int, default=1_000_000, help="starts in the ball (default 10^6)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: N = 2*10^4, 21 delta values x 8 directions, one learning rate")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    n = min(args.n, 20_000) if args.quick else args.n
    figure_2a(args.out, steps=1000)
    ball_study(args.out, n, steps=3000 if args.quick else 5000)
    if args.quick:
        delta_study(args.out, 21, 8, [LR], 4000)
    else:
        delta_study(args.out, 91, 32, [3e-3, 1e-2, 3e-2], 8000)
    print(f"\nwrote the outputs to {args.out}")


if __name__ == "__main__":
    main()
