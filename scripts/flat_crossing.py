"""Adam crossing a flat: Propositions 1 and 2 of "Exploring the dynamics of Adam" (Section 4).

Proposition 1 bounds one Adam step per coordinate by η·B₁, B₁ = √β₂(1 − β₁)/√((1 − β₂)(β₂ − β₁²))
(≈ 7.27); Proposition 2 bounds the distance coasted once the gradient is exactly zero by η·B₂,
B₂ = B₁/(1 − β₁/√β₂) (≈ 73.0). (Closed forms: :mod:`simdyn.analysis.flat`.)

Two studies, η = 10⁻³, β₁ ∈ {0.5, 0.7, 0.8, 0.9, 0.95, 0.99} × β₂ ∈ {0.9, 0.99, 0.999, 0.9999}
(pairs with β₂ ≤ β₁² or β₁ ≥ √β₂, where the bounds do not apply, are simulated but get no bound):

1. The ``plateau`` landscape f = max(−x, 0) + ½y² (slope 1, exactly flat for x ≥ 0): Adam starts
   at x₀ = −L (80 distances L/η log-spaced in [0.5, 10⁴]) and runs down the slope onto the flat,
   with and without bias correction, 30000 steps. Measured: the distance crossed past the edge
   (final x), the arrival step and entry point (``sd.observe.Exit`` of the box
   |x + 100| ≤ 100, |y| ≤ 100: its first exit is the first iterate with x > 0) and the largest
   step (``sd.observe.MaxStep``). Compared with B₂, with B₁ and with 1/(1 − β₁/√β₂), the
   crossing after a long slope (m/√v = 1).
2. The gradient history that attains the bounds (``extremal_history_landscape``): g_t ∝
   −(β₂/β₁)^{t−T} over the K steps before T, then exactly 0. Measured: Adam's largest step
   (at t = T) against B₁ and the travel from w_{T−1} on (two runs: T − 1 steps and T + coast
   steps) against B₂; T = max(2·10⁴, 30/(1 − β₂)) so the bias correction has worn off.

Outputs in ``--out``: ``flat_crossing_plateau.nc``, ``flat_crossing_extremal.nc``,
``flat_crossing.png`` (crossing against L, ratios to the bounds over β₁ × β₂),
``flat_crossing_history.png`` (the extremal history and the steps it produces).

Usage: ``python scripts/flat_crossing.py [--out out/] [--quick]`` (``--quick``: 3 × 3 betas,
20 distances).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import xarray as xr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import simdyn as sd  # noqa: E402
from _cli import add_out, script_parser  # noqa: E402
from simdyn.analysis.flat import (  # noqa: E402
    adam_flat_distance_bound,
    adam_step_bound,
    extremal_history,
    extremal_history_landscape,
    slope_crossing_distance,
)

LR = 1e-3
BETA1 = [0.5, 0.7, 0.8, 0.9, 0.95, 0.99]
BETA2 = [0.9, 0.99, 0.999, 0.9999]
PLATEAU_STEPS = 30_000
BOX = 100.0  # the arrival box |x + BOX| <= BOX, |y| <= BOX: its first exit is the first x > 0


def bounds(beta1, beta2):
    """(B₁, B₂) on the β₁ × β₂ grid, NaN where the propositions do not apply."""
    b1, b2 = np.meshgrid(np.asarray(beta1), np.asarray(beta2), indexing="ij")
    step = np.full(b1.shape, np.nan)
    dist = np.full(b1.shape, np.nan)
    ok1 = b2 > b1 ** 2
    step[ok1] = adam_step_bound(b1[ok1], b2[ok1])
    ok2 = ok1 & (b1 < np.sqrt(b2))
    dist[ok2] = adam_flat_distance_bound(b1[ok2], b2[ok2])
    coords = {"beta1": np.asarray(beta1), "beta2": np.asarray(beta2)}
    return (xr.DataArray(step, dims=("beta1", "beta2"), coords=coords),
            xr.DataArray(dist, dims=("beta1", "beta2"), coords=coords))


def plateau_study(beta1, beta2, distances) -> xr.Dataset:
    x0 = np.stack([-distances * LR, np.zeros_like(distances)], axis=1)
    parts = []
    for bias in (True, False):
        ds = sd.simulate("adam", "plateau", x0, steps=PLATEAU_STEPS,
                         hyper={"lr": LR, "beta1": np.asarray(beta1), "beta2": np.asarray(beta2), "bias_correction": bias},
                         observers=[sd.observe.Exit((-BOX, 0.0), BOX, norm="linf"), sd.observe.MaxStep()], progress=False)
        parts.append(ds.drop_vars(["loss"]))
    ds = xr.concat(parts, dim="bias_correction", combine_attrs="drop_conflicts")
    ds = ds.assign_coords(bias_correction=np.array([1, 0], dtype=np.int8), start_distance=("traj", distances))
    step_bound, dist_bound = bounds(beta1, beta2)
    ds["crossing"] = (ds.w.sel(coord="x") / LR).assign_attrs(long_name="distance crossed past the edge x = 0, in units of lr")
    ds["arrival_step"] = ds.exit_step.assign_attrs(long_name="first step with x > 0")
    ds["max_step_lr"] = (ds.max_step.sel(coord="x") / LR).assign_attrs(long_name="largest |x_{t+1} - x_t| / lr")
    ds["prop1_bound"] = step_bound.assign_attrs(long_name="Proposition 1: sup step / lr")
    ds["prop2_bound"] = dist_bound.assign_attrs(long_name="Proposition 2: sup flat crossing / lr")
    ds["slope_crossing"] = xr.DataArray(slope_crossing_distance(*np.meshgrid(beta1, beta2, indexing="ij")),
                                        dims=("beta1", "beta2")).assign_attrs(long_name="1/(1 - beta1/sqrt(beta2))")
    ds.attrs["study"] = "Adam down the slope of `plateau` onto its flat (scripts/flat_crossing.py)"
    ds.attrs["bias_correction_values"] = "1 = torch.optim.Adam, 0 = Eq. (5) of the paper (no bias correction)"
    return ds


def extremal_study(beta1, beta2) -> xr.Dataset:
    land = extremal_history_landscape()
    step_bound, dist_bound = bounds(beta1, beta2)
    max_step = np.full(step_bound.shape, np.nan)
    coast = np.full(step_bound.shape, np.nan)
    for i, b1 in enumerate(beta1):
        for j, b2 in enumerate(beta2):
            if not np.isfinite(dist_bound.values[i, j]):
                continue
            last = float(max(20_000, math.ceil(30.0 / (1.0 - b2))))
            length = float(math.ceil(40.0 / -math.log(b1 * b1 / b2)))
            coast_steps = int(math.ceil(60.0 / -math.log(b1 / math.sqrt(b2))))
            kwargs = dict(hyper={"lr": LR, "beta1": b1, "beta2": b2},
                          params={"growth": b2 / b1, "last": last, "length": length}, progress=False)
            before = sd.simulate("adam", land, np.array([[0.0]]), steps=int(last) - 1, **kwargs)
            after = sd.simulate("adam", land, np.array([[0.0]]), steps=int(last) + coast_steps,
                                observers=[sd.observe.MaxStep()], **kwargs)
            max_step[i, j] = float(after.max_step.values.ravel()[0]) / LR
            coast[i, j] = float(after.w.values.ravel()[0] - before.w.values.ravel()[0]) / LR
    return xr.Dataset(
        {
            "max_step_lr": (("beta1", "beta2"), max_step, {"long_name": "largest Adam step / lr under the extremal history"}),
            "coast_lr": (("beta1", "beta2"), coast, {"long_name": "(w_inf - w_{T-1}) / lr: travel from the last non-zero gradient"}),
            "prop1_bound": step_bound,
            "prop2_bound": dist_bound,
        },
        coords={"beta1": np.asarray(beta1), "beta2": np.asarray(beta2)},
        attrs={"study": "Adam under the extremal gradient history g_{T-i} = -(beta1/beta2)^i, then g = 0",
               "lr": LR, "landscape_formula": land.formula},
    )


def history_figure(out: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    b1, b2, last, length = 0.9, 0.999, 20_000, 400
    land = extremal_history_landscape()
    ds = sd.simulate("adam", land, np.array([[0.0]]), steps=last + 120, record_every=1,
                     hyper={"lr": LR, "beta1": b1, "beta2": b2},
                     params={"growth": b2 / b1, "last": float(last), "length": float(length)}, progress=False)
    x = ds.trajectory.values[0, :, 0]
    steps = np.abs(np.diff(x)) / LR
    t = np.arange(1, x.size)
    window = (t >= last - 60) & (t <= last + 120)
    history = extremal_history(61, b1, b2)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    axes[0].bar(np.arange(last - 60, last + 1), history, width=0.8, color="C0")
    axes[0].set_xlabel("step t")
    axes[0].set_ylabel("|g_t| (g_t = −(β₁/β₂)^(T−t), 0 after T)")
    axes[0].set_title(f"The extremal gradient history (β₁ = {b1}, β₂ = {b2}, T = {last})")
    axes[1].plot(t[window], steps[window], "o-", ms=3, label="Adam step |w_t − w_{t−1}| / lr")
    axes[1].axhline(adam_step_bound(b1, b2), color="C3", ls="--", label=f"Prop. 1 bound {adam_step_bound(b1, b2):.3f}")
    travel = (x[-1] - x[last - 1]) / LR
    axes[1].set_title(f"largest step {steps.max():.4f}·lr; travel after T−1: {travel:.3f}·lr "
                      f"(Prop. 2: {adam_flat_distance_bound(b1, b2):.3f}·lr)", fontsize=10)
    axes[1].axvline(last, color="0.6", lw=0.8)
    axes[1].set_xlabel("step t")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(Path(out) / "flat_crossing_history.png", dpi=130)
    plt.close(fig)


def summary_figure(plateau: xr.Dataset, extremal: xr.Dataset, out: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(16, 9))
    ax = axes[0, 0]
    default = plateau.sel(beta1=0.9, beta2=0.999) if 0.9 in plateau.beta1 and 0.999 in plateau.beta2 else plateau.isel(beta1=0, beta2=0)
    b1, b2 = float(default.beta1), float(default.beta2)
    for bias, style in ((1, "-"), (0, "--")):
        sel = default.sel(bias_correction=bias)
        ax.plot(sel.start_distance, sel.crossing, style, label=f"crossing, bias correction {'on' if bias else 'off'}")
        ax.plot(sel.start_distance, sel.max_step_lr, style, color="C2", lw=1, label=f"largest step, bias correction {'on' if bias else 'off'}")
    ax.axhline(float(default.prop2_bound), color="C3", lw=1, label=f"Prop. 2 bound {float(default.prop2_bound):.2f}")
    ax.axhline(float(default.prop1_bound), color="C3", lw=1, ls=":", label=f"Prop. 1 bound {float(default.prop1_bound):.2f}")
    ax.axhline(float(default.slope_crossing), color="0.5", lw=1, ls="-.", label=f"1/(1 − β₁/√β₂) = {float(default.slope_crossing):.2f}")
    ax.set_xscale("log")
    ax.set_xlabel("start distance L from the flat, in lr")
    ax.set_ylabel("in units of lr")
    ax.set_title(f"plateau, β₁ = {b1}, β₂ = {b2}")
    ax.set_ylim(0, 1.15 * float(default.prop2_bound))
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)

    def heat(ax, values, title, vmax=1.0):
        im = ax.imshow(values, origin="lower", vmin=0, vmax=vmax, cmap="viridis", aspect="auto")
        ax.set_xticks(range(values.shape[1]), [f"{v:g}" for v in plateau.beta2.values])
        ax.set_yticks(range(values.shape[0]), [f"{v:g}" for v in plateau.beta1.values])
        ax.set_xlabel("β₂")
        ax.set_ylabel("β₁")
        ax.set_title(title, fontsize=10)
        for i in range(values.shape[0]):
            for j in range(values.shape[1]):
                if np.isfinite(values[i, j]):
                    ax.text(j, i, f"{values[i, j]:.2f}", ha="center", va="center", fontsize=7,
                            color="w" if values[i, j] < 0.6 * vmax else "k")
        fig.colorbar(im, ax=ax)

    best = plateau.crossing.max("traj") / plateau.prop2_bound
    biggest = plateau.max_step_lr.max("traj") / plateau.prop1_bound
    heat(axes[0, 1], best.sel(bias_correction=0).values, "plateau, no bias correction:\nmax over L of crossing / Prop. 2 bound")
    heat(axes[0, 2], best.sel(bias_correction=1).values, "plateau, bias correction:\nmax over L of crossing / Prop. 2 bound")
    heat(axes[1, 0], biggest.sel(bias_correction=0).values, "plateau, no bias correction:\nlargest step / Prop. 1 bound")
    heat(axes[1, 1], (extremal.max_step_lr / extremal.prop1_bound).values, "extremal history:\nlargest step / Prop. 1 bound")
    heat(axes[1, 2], (extremal.coast_lr / extremal.prop2_bound).values, "extremal history:\ntravel after T−1 / Prop. 2 bound")
    fig.tight_layout()
    fig.savefig(Path(out) / "flat_crossing.png", dpi=120)
    plt.close(fig)


def report(plateau: xr.Dataset, extremal: xr.Dataset) -> None:
    print("Plateau (Adam, lr = 1e-3): distance crossed past the edge, in lr (max over start distances)")
    print(f"{'beta1':>6} {'beta2':>7} {'Prop2 B2':>9} {'bias on':>8} {'bias off':>9} {'off/B2':>7} {'long-slope':>10} "
          f"{'Prop1 B1':>9} {'step off':>9} {'step on':>8}")
    best = plateau.crossing.max("traj")
    biggest = plateau.max_step_lr.max("traj")
    for b1 in plateau.beta1.values:
        for b2 in plateau.beta2.values:
            sel = dict(beta1=b1, beta2=b2)
            bound2, bound1 = float(plateau.prop2_bound.sel(sel)), float(plateau.prop1_bound.sel(sel))
            on, off = float(best.sel(**sel, bias_correction=1)), float(best.sel(**sel, bias_correction=0))
            print(f"{b1:6g} {b2:7g} {bound2:9.2f} {on:8.2f} {off:9.2f} {off / bound2:7.3f} "
                  f"{float(plateau.slope_crossing.sel(sel)):10.2f} {bound1:9.3f} "
                  f"{float(biggest.sel(**sel, bias_correction=0)):9.3f} {float(biggest.sel(**sel, bias_correction=1)):8.3f}"
                  + ("   no bound: beta1 >= sqrt(beta2), m/sqrt(v) grows on the flat" if not np.isfinite(bound2) else ""))
    arrived = int((plateau.arrival_step >= 0).sum())
    print(f"arrived on the flat: {arrived} of {plateau.arrival_step.size} runs; "
          f"any crossing above Prop. 2: {bool((plateau.crossing > plateau.prop2_bound * (1 + 1e-9)).any())}; "
          f"any step above Prop. 1: {bool((plateau.max_step_lr > plateau.prop1_bound * (1 + 1e-9)).any())}")
    print("\nExtremal gradient history: largest step / B1 and travel after T-1 / B2")
    for b1 in extremal.beta1.values:
        for b2 in extremal.beta2.values:
            sel = dict(beta1=b1, beta2=b2)
            if np.isfinite(float(extremal.coast_lr.sel(sel))):
                print(f"  beta1 {b1:5g} beta2 {b2:7g}: step {float(extremal.max_step_lr.sel(sel)):8.4f} / {float(extremal.prop1_bound.sel(sel)):8.4f}"
                      f"   travel {float(extremal.coast_lr.sel(sel)):9.4f} / {float(extremal.prop2_bound.sel(sel)):9.4f}")


def main(argv=None) -> None:
    parser = script_parser(__doc__)
    add_out(parser)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 3 x 3 betas, 20 distances")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    beta1, beta2 = ([0.5, 0.9, 0.95], [0.99, 0.999, 0.9999]) if args.quick else (BETA1, BETA2)
    distances = np.geomspace(0.5, 1e4, 20 if args.quick else 80)
    plateau = plateau_study(beta1, beta2, distances)
    plateau.simdyn.save(args.out / "flat_crossing_plateau.nc")
    extremal = extremal_study(beta1, beta2)
    extremal.to_netcdf(args.out / "flat_crossing_extremal.nc")
    report(plateau, extremal)
    summary_figure(plateau, extremal, args.out)
    history_figure(args.out)
    print(f"\nwrote the outputs to {args.out}")


if __name__ == "__main__":
    main()
