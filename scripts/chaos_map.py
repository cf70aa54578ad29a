"""Chaos maps: the largest Lyapunov exponent and the period of Adam, GD and heavy ball over their
hyperparameters, on the double well, Rosenbrock and the two valleys.

One ``sd.simulate`` call per optimizer and landscape runs, from one start per landscape, every
cell of the grid with two observers fused into the kernel: ``sd.observe.Lyapunov(transient)``
(λ₁, natural log per step, averaged over the steps after the transient; Benettin et al. 1980) and
``sd.observe.Period(max_period=64)`` (the minimal period of the final orbit of w). Grids:

* Adam (torch defaults otherwise): learning rate η (log-spaced) × β₁;
* GD (``sgd``): η alone;
* heavy ball (``momentum``, torch.optim.SGD(momentum=β)): η × β.

Each cell is classified (:func:`classify`), first by λ₁, then by the period: *diverged* (left
|w| ≤ 10⁶ or overflowed), *chaotic* (λ₁ > 5·ln(T)/T, T the steps averaged: nearby states separate
exponentially, whether or not w repeats to the Period tolerance 10⁻⁹), *periodic* (period 2 … 64),
*converging* (period 1, a fixed point, or no period yet and λ₁ < 0: still contracting, e.g. GD
along the valley's flat direction) and *unresolved* (no period and 0 ≤ λ₁ ≤ the threshold:
neutral or quasi-periodic motion, or a period > 64). λ₁ is a finite-time exponent: a trajectory
still crossing a flat region after the transient can show λ₁ > 0 without being chaotic. The
chaotic cells where w nevertheless repeats (period ≥ 1 to 10⁻⁹: an irregular motion below the
tolerance, at the scale Adam's ε sets near a minimum) are counted apart in the report. The
text report gives these fractions per panel, and follows the seed paper's 2-cycle of Adam in
the valley x² + 10⁻³y² (η = 10⁻³, β₁ = 0.9; ``scripts/adam_valley_cycles.py``) along the
β₁ = 0.9 row as η grows.

Starts: double well and valleys (0.9, 0.9) (the valleys' start is the paper's), Rosenbrock
(−1.2, 1). Writes ``chaos_map_adam.nc``, ``chaos_map_gd.nc``, ``chaos_map_heavy_ball.nc`` (dims
``landscape`` and the hyperparameters; variables ``lyapunov``, ``period``, ``status``,
``regime``), ``chaos_map.png`` and ``chaos_map.txt`` to ``--out`` (default ``out/``).
``--quick``: coarse grids and short runs (a smoke test, not the figure).
"""

from __future__ import annotations

import os
import sys

import numpy as np
import xarray as xr

import simdyn as sd
from _cli import add_out, script_parser
from _report import TextLog
from simdyn.status import STATUS

LANDSCAPES = {"double_well": (0.9, 0.9), "rosenbrock": (-1.2, 1.0), "valley": (0.9, 0.9),
              "sharp_valley": (0.9, 0.9)}
#: λ₁ (natural log per step) above CHAOS_FACTOR·ln(T)/T, T the averaged steps, counts as chaotic:
#: a tangent that grows like a polynomial of degree k (a neutral direction, e.g. Adam on the sharp
#: valley, whose Hessian is 0) has the finite-time exponent ≈ k·ln(T)/T, not 0.
CHAOS_FACTOR = 5.0
DIVERGE = 1e6
MAX_PERIOD = 64
#: Regimes, in the order of their codes in the variable ``regime``.
REGIMES = ("converging", "periodic", "chaotic", "unresolved", "diverged")
#: Learning rates per simulate call for GD (the sweep runs in parts).
CHUNK = 64


def parse_args(argv):
    p = script_parser(__doc__)
    add_out(p)
    p.add_argument("--quick", action="store_true", help="coarse grids, short runs")
    return p.parse_args(argv)


def settings(quick: bool) -> dict:
    """Grid sizes and run lengths."""
    if quick:
        return {"n_lr": 12, "n_beta": 6, "n_lr_gd": 24, "steps": 2000, "transient": 1000}
    return {"n_lr": 72, "n_beta": 34, "n_lr_gd": 192, "steps": 20000, "transient": 10000}


def grids(cfg: dict) -> dict:
    """The hyperparameter grid of each optimizer (β₁ = 0.9 is always on Adam's grid)."""
    betas = np.unique(np.round(np.append(np.linspace(0.0, 0.99, cfg["n_beta"] - 1), 0.9), 6))
    return {
        "adam": {"lr": np.logspace(-4, 0, cfg["n_lr"]), "beta1": betas},
        "gd": {"lr": np.logspace(-3, 0.5, cfg["n_lr_gd"])},
        "heavy_ball": {"lr": np.logspace(-4, 0, cfg["n_lr"]), "momentum": np.linspace(0.0, 0.99, cfg["n_beta"])},
    }


OPTIMIZERS = {"adam": "adam", "gd": "sgd", "heavy_ball": "momentum"}


def chaos_threshold(cfg: dict) -> float:
    """CHAOS_FACTOR·ln(T)/T for the T = steps − transient steps that λ₁ averages."""
    span = cfg["steps"] - cfg["transient"]
    return CHAOS_FACTOR * float(np.log(span)) / span


def classify(lyapunov, period, status, threshold: float) -> np.ndarray:
    """Regime codes (index into :data:`REGIMES`) from λ₁, the period and the status."""
    lyapunov, period, status = np.asarray(lyapunov), np.asarray(period), np.asarray(status)
    diverged = (status == STATUS["diverged"]) | (status == STATUS["nonfinite"]) | ~np.isfinite(lyapunov)
    code = np.where(lyapunov > threshold, 2, np.where(period >= 2, 1, np.where(
        (period == 1) | (lyapunov < 0.0), 0, 3)))
    return np.where(diverged, 4, code).astype(np.int8)


def run_panel(name: str, landscape: str, hyper: dict, cfg: dict) -> xr.Dataset:
    """One optimizer on one landscape over its grid: λ₁, period, status and regime per cell."""
    x0 = np.array([LANDSCAPES[landscape]])
    observers = [sd.observe.Lyapunov(transient=cfg["transient"]), sd.observe.Period(max_period=MAX_PERIOD)]
    calls = [hyper]
    if name == "gd":
        calls = [{"lr": hyper["lr"][lo:lo + CHUNK]} for lo in range(0, hyper["lr"].size, CHUNK)]
    parts = [sd.simulate(OPTIMIZERS[name], landscape, x0=x0, steps=cfg["steps"], hyper=h, observers=observers,
                         diverge_threshold=DIVERGE, progress=False).isel(traj=0, drop=True)
             [["lyapunov", "period", "status"]] for h in calls]
    ds = xr.concat(parts, dim="lr", data_vars="all", coords="different", compat="equals", join="outer") \
        if len(parts) > 1 else parts[0]
    out = ds.copy()
    regime = classify(ds.lyapunov.values, ds.period.values, ds.status.values, chaos_threshold(cfg))
    out["regime"] = (ds.lyapunov.dims, regime,
                     {"flag_values": list(range(len(REGIMES))), "flag_meanings": " ".join(REGIMES)})
    return out


def fractions(ds: xr.Dataset) -> dict:
    codes = ds.regime.values.ravel()
    return {regime: float(np.mean(codes == i)) for i, regime in enumerate(REGIMES)}


def valley_cycle_report(adam: xr.Dataset, log) -> list[tuple]:
    """Adam on the valley along β₁ = 0.9: period and λ₁ as η grows."""
    row = adam.sel(landscape="valley", beta1=0.9)
    out = []
    for lr, period, lyap, regime in zip(row.lr.values, row.period.values, row.lyapunov.values, row.regime.values):
        out.append((float(lr), int(period), float(lyap), REGIMES[int(regime)]))
    log("Adam on the valley x² + 10⁻³y², β₁ = 0.9, start (0.9, 0.9): the paper's 2-cycle (η = 10⁻³) "
        "as η grows")
    runs = []  # consecutive learning rates with the same (period, regime)
    for lr, period, lyap, regime in out:
        key = (period, regime)
        if runs and runs[-1][0] == key:
            runs[-1][2] = lr
            runs[-1][3].append(lyap)
        else:
            runs.append([key, lr, lr, [lyap]])
    for (period, regime), lo, hi, lyaps in runs:
        label = f"period {period}" if period else "no period"
        log(f"  η {lo:.2e} … {hi:.2e}: {label:10s} ({regime}), λ₁ {min(lyaps):+.2e} … {max(lyaps):+.2e}")
    return out


def main(argv=None):
    args = parse_args(argv if argv is not None else sys.argv[1:])
    os.makedirs(args.out, exist_ok=True)
    cfg = settings(args.quick)
    log = TextLog()
    log(f"Chaos maps: {cfg['steps']} steps, λ₁ averaged after a transient of {cfg['transient']}, "
        f"Period(max_period={MAX_PERIOD}), chaotic: λ₁ > 5 ln(T)/T = {chaos_threshold(cfg):.2g}, "
        f"diverged: |w| > {DIVERGE:g}")
    results = {}
    for name, hyper in grids(cfg).items():
        panels = [run_panel(name, landscape, hyper, cfg) for landscape in LANDSCAPES]
        ds = xr.concat(panels, dim=xr.DataArray(list(LANDSCAPES), dims="landscape", name="landscape"),
                       data_vars="all", coords="different", compat="equals", join="outer")
        ds.attrs.update(optimizer=OPTIMIZERS[name], steps=cfg["steps"], transient=cfg["transient"],
                        max_period=MAX_PERIOD, chaos_threshold=chaos_threshold(cfg), diverge_threshold=DIVERGE,
                        starts="; ".join(f"{k} {v}" for k, v in LANDSCAPES.items()))
        ds.to_netcdf(os.path.join(args.out, f"chaos_map_{name}.nc"))
        results[name] = ds
        for landscape in LANDSCAPES:
            share = fractions(ds.sel(landscape=landscape))
            panel = ds.sel(landscape=landscape)
            repeats = float(np.mean((panel.regime.values == 2) & (panel.period.values >= 1)))
            log(f"{name:10s} on {landscape:12s} ({panel.regime.size:5d} cells): "
                + ", ".join(f"{k} {v:6.1%}" for k, v in share.items())
                + f"  (chaotic with w repeating to 1e-9: {repeats:.1%})")
    valley_cycle_report(results["adam"], log)
    plot(results, os.path.join(args.out, "chaos_map.png"))
    log.write(os.path.join(args.out, "chaos_map.txt"))
    return results


REGIME_COLORS = ("#4575b4", "#91cf60", "#d73027", "#bdbdbd", "#252525")


def plot(results: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import BoundaryNorm, ListedColormap, TwoSlopeNorm

    landscapes = list(LANDSCAPES)
    fig, axes = plt.subplots(len(landscapes), 5, figsize=(24, 4.2 * len(landscapes)), constrained_layout=True)
    lyap_norm = TwoSlopeNorm(0.0, -0.1, 0.1)
    regime_cmap = ListedColormap(REGIME_COLORS)
    regime_norm = BoundaryNorm(np.arange(len(REGIMES) + 1) - 0.5, len(REGIMES))
    for row, landscape in enumerate(landscapes):
        for col, (name, second) in enumerate((("adam", "beta1"), ("heavy_ball", "momentum"))):
            ds = results[name].sel(landscape=landscape)
            ax = axes[row, 2 * col]
            mesh = ax.pcolormesh(ds[second], ds.lr, np.clip(ds.lyapunov.transpose("lr", second), -0.1, 0.1),
                                 cmap="RdBu_r", norm=lyap_norm, shading="nearest")
            ax.set_facecolor(REGIME_COLORS[4])
            ax.set(yscale="log", xlabel=second, ylabel="learning rate η", title=f"{name}, {landscape}: λ₁")
            fig.colorbar(mesh, ax=ax, label="λ₁ (clipped to ±0.1)")
            ax = axes[row, 2 * col + 1]
            mesh = ax.pcolormesh(ds[second], ds.lr, ds.regime.transpose("lr", second), cmap=regime_cmap,
                                 norm=regime_norm, shading="nearest")
            period = ds.period.transpose("lr", second).values
            if (period >= 2).any():
                ax.contour(ds[second], ds.lr, np.log2(np.maximum(period, 1)), levels=[1.3, 2.2, 3.1], colors="k",
                           linewidths=0.5)
            ax.set(yscale="log", xlabel=second, ylabel="learning rate η", title=f"{name}, {landscape}: regime")
            bar = fig.colorbar(mesh, ax=ax, ticks=range(len(REGIMES)))
            bar.ax.set_yticklabels(REGIMES)
        ds = results["gd"].sel(landscape=landscape)
        ax = axes[row, 4]
        ax.plot(ds.lr, ds.lyapunov, "k.-", ms=3, lw=0.6, label="λ₁")
        ax.axhline(0, color="0.7", lw=0.8)
        ax.set(xscale="log", xlabel="learning rate η", ylabel="λ₁ (log per step)", title=f"gd, {landscape}")
        twin = ax.twinx()
        twin.scatter(ds.lr, np.where(ds.period > 0, ds.period, np.nan), s=8, c="C1", label="period")
        twin.set(yscale="log", ylabel="period (orange)")
        for i, color in enumerate(REGIME_COLORS):
            codes = ds.regime.values == i
            ax.scatter(ds.lr.values[codes], np.full(codes.sum(), ax.get_ylim()[0]), marker="s", s=10, color=color)
    fig.suptitle("Largest Lyapunov exponent and regime (one start per landscape; black lines: period 2 | 3–4 | "
                 "5–8 | > 8 boundaries)")
    fig.savefig(path, dpi=90)
    plt.close(fig)


if __name__ == "__main__":
    main()
