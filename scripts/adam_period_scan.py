"""Adam's period and cycle amplitude over lr ∈ [10⁻⁴, 10⁻¹] × β₁ ∈ [0, 0.99] in the smooth valley
x² + 10⁻³y² (Section 6 of "Exploring the dynamics of Adam"), checked against Proposition 4.

One ``sd.period_scan`` call: Adam (β₂ = 0.999, ε = 10⁻⁸, torch semantics) from two starts, the
paper's w₀ = (0.9, 0.9) and a small one, w₀ = (0.01, 0.01), for ``--steps`` steps (default 10⁵);
``Period(64)`` on the full state w = (x, y). Then

* Proposition 4 (σ = |C|, :func:`simdyn.analysis.adam_two_cycle`): wherever the detected period
  is 2, the amplitude of x must be η(1 − β₁)/(1 + β₁) − ε (h = 2) and that of y, when y cycles,
  η(1 − β₁)/(1 + β₁) − 2ε/(2·10⁻³); the script prints the largest relative error;
* the cycle's Floquet multipliers give the β₁ below which it attracts
  (:func:`simdyn.analysis.two_cycle_stability_boundary`), drawn on the period maps.

Writes ``adam_period_scan.nc``, ``adam_period_scan.png`` (period and amplitude maps, one row per
start) and ``adam_period_scan_bifurcation.png`` (orbit diagrams along lr at β₁ ≈ 0.1 and 0.9)
to ``--out`` (default ``out/``). ``--quick``: a 16 × 12 grid and 4·10⁴ steps.
"""

from __future__ import annotations

import sys

import numpy as np

import simdyn as sd
from _cli import add_out, script_parser
from _report import TextLog
from simdyn.analysis import adam_two_cycle, two_cycle_stability_boundary

X0 = np.array([[0.9, 0.9], [0.01, 0.01]])
VALLEY_A = 1e-3
EPS = 1e-8


def parse_args(argv):
    p = script_parser(__doc__)
    add_out(p)
    p.add_argument("--steps", type=int, default=None, help="steps (default 100000; --quick 40000)")
    p.add_argument("--quick", action="store_true", help="a coarse grid and fewer steps")
    args = p.parse_args(argv)
    args.steps = args.steps or (40_000 if args.quick else 100_000)
    return args


def proposition4_check(ds, log):
    """Largest relative error of the detected 2-cycle amplitudes against the closed form."""
    two = ds.period == 2
    lr, beta1 = xr_broadcast(ds)
    errors = {}
    for coord, curvature in (("x", 2.0), ("y", 2.0 * VALLEY_A)):
        expected = adam_two_cycle(lr, beta1, EPS, curvature)["amplitude"]
        got = ds.cycle_amplitude.sel(coord=coord).values
        cycling = two.values & (got > 0)  # y may sit at a fixed point while x cycles
        rel = np.abs(got[cycling] - expected[cycling]) / expected[cycling]
        errors[coord] = (int(cycling.sum()), float(rel.max()) if rel.size else float("nan"))
        log(f"Proposition 4, {coord} (h = {curvature:g}): {errors[coord][0]} period-2 trajectories with a "
            f"moving {coord}; largest relative error of the amplitude {errors[coord][1]:.2e}")
    return errors


def xr_broadcast(ds):
    """lr and beta1 broadcast to the shape of ``period``."""
    lr = ds["lr"].broadcast_like(ds.period).transpose(*ds.period.dims).values
    beta1 = ds["beta1"].broadcast_like(ds.period).transpose(*ds.period.dims).values
    return lr, beta1


def maps(ds, boundary, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(X0), 2, figsize=(14, 5.0 * len(X0)), squeeze=False, layout="constrained")
    for i, start in enumerate(X0):
        sd.plot.period_map(ds, x="lr", y="beta1", selection={"traj": i}, axes=axes[i])
        for ax in axes[i]:
            ax.axhline(boundary, color="r", ls="--", lw=1.2)
            ax.text(ds.lr.values[0], boundary + 0.01, f"2-cycle attracts below beta1 = {boundary:.3f} (Floquet)",
                    color="r", fontsize=8, va="bottom")
        axes[i, 0].set_title(f"Adam period, smooth valley, w0 = ({start[0]:g}, {start[1]:g})")
    fig.savefig(path, dpi=100)
    plt.close(fig)


def orbit_diagrams(ds, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(13, 7), sharex=True, gridspec_kw={"height_ratios": [3, 1.3]},
                             layout="constrained")
    for col, target in enumerate((0.1, 0.9)):
        beta1 = float(ds.beta1.sel(beta1=target, method="nearest"))
        sub = ds.sel(beta1=beta1)
        sd.plot.bifurcation(sub, param="lr", coord="x", axes=axes[:, col])
        axes[0, col].set_yscale("symlog", linthresh=1e-6)
        axes[0, col].set_title(f"Adam, smooth valley, beta1 = {beta1:.3f}: last 64 values of x (both starts)",
                               fontsize=10)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    args.out.mkdir(parents=True, exist_ok=True)
    log = TextLog()

    lrs = np.geomspace(1e-4, 1e-1, 16 if args.quick else 40)
    beta1s = np.round(np.linspace(0.0, 0.99, 12 if args.quick else 34), 4)
    log(f"Adam on the valley (a = {VALLEY_A}), lr x beta1 = {lrs.size} x {beta1s.size}, starts {X0.tolist()}, "
        f"{args.steps} steps, Period(64) on (x, y)")
    ds = sd.period_scan("adam", "valley", X0, hyper={"lr": lrs, "beta1": beta1s}, steps=args.steps, max_period=64,
                        progress=False)
    for i, start in enumerate(X0):
        values, counts = np.unique(ds.period.isel(traj=i).values, return_counts=True)
        status = ds.status.isel(traj=i).values
        log(f"w0 = ({start[0]:g}, {start[1]:g}): periods {dict(zip(values.tolist(), counts.tolist()))}; "
            f"diverged {int((status == sd.io.STATUS['diverged']).sum())}")
    boundary = two_cycle_stability_boundary(0.999, 1e-3, EPS, 2.0)
    log(f"Floquet: Adam's 2-cycle on x^2 attracts for beta1 < {boundary:.4f} (beta2 = 0.999, any lr up to eps)")
    two = ds.period.values == 2
    below = two & (xr_broadcast(ds)[1] < boundary)
    log(f"period-2 points: {int(two.sum())}, of which {int(below.sum())} below the boundary")
    errors = proposition4_check(ds, log)
    ds.attrs["adam_two_cycle_stability_boundary_beta1"] = boundary
    ds.attrs["proposition4_max_relative_error_x"] = errors["x"][1]
    ds.attrs["proposition4_max_relative_error_y"] = errors["y"][1]
    sd.save(ds, args.out / "adam_period_scan.nc")
    maps(ds, boundary, args.out / "adam_period_scan.png")
    orbit_diagrams(ds, args.out / "adam_period_scan_bifurcation.png")
    log.write(args.out / "adam_period_scan.txt")
    log(f"wrote {args.out / 'adam_period_scan'}.nc, .png, _bifurcation.png, .txt")
    return ds


if __name__ == "__main__":
    main()
