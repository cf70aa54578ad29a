"""Basin fractions against the learning rate: GD, heavy-ball momentum, RMSProp and Adam on the tilted
double well and on Himmelblau's function.

One ``sd.basins`` call per landscape sweeps lr (a dim) for the four optimizers on a 256² grid of
initial points; attractors are shared across optimizers and learning rates, and are grouped in
the plots by the known minimum they sit at or around and by kind (fixed point / cycles):

* ``double_well`` (c = 0.25, k = 1), grid [−2, 2]², lr geometric from 10⁻³ to 0.3 (15 values);
* ``himmelblau``, grid [−5, 5]², lr geometric from 10⁻³ to 0.03 (11 values);
* 5000 steps, torch.optim defaults otherwise (momentum μ = 0.9).

Prints, per optimizer and lr, the fraction of each minimum's basin (fixed point + cycles around
it), diverged and unresolved, and the uncertainty exponent α (between attractors, and between
the minima's basins: ``by="name"``); writes in ``--out``
``basins_lr_scan_<landscape>.nc`` (labels, attractors, fractions, α and S_bb per lr),
``basins_lr_scan_<landscape>.png`` (stacked basin fractions against lr, one panel per optimizer)
and ``uncertainty_lr_scan_<landscape>.png`` (α and S_bb against lr).

Usage: ``python scripts/basins_lr_scan.py [--out out/] [--quick] [--n 256] [--steps 5000]``
(``--quick``: a 64² grid, 3000 steps, 6 learning rates).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import simdyn as sd  # noqa: E402
from _cli import add_out, script_parser  # noqa: E402

OPTIMIZERS = ["sgd", "momentum", "rmsprop", "adam"]
STUDIES = {
    "double_well": {"extent": (-2.0, 2.0), "lr": (1e-3, 0.3, 15), "params": {"c": 0.25, "k": 1.0}},
    "himmelblau": {"extent": (-5.0, 5.0), "lr": (1e-3, 0.03, 11), "params": {}},
}


def scan(landscape: str, n: int, steps: int, n_lr: int | None):
    study = STUDIES[landscape]
    lo, hi = study["extent"]
    first, last, count = study["lr"]
    lrs = np.geomspace(first, last, n_lr or count)
    begin = time.perf_counter()
    ds = sd.basins(OPTIMIZERS, landscape, sd.grid(x=(lo, hi, n), y=(lo, hi, n)), steps, hyper={"lr": lrs},
                   params=study["params"])
    print(f"{landscape}: {len(OPTIMIZERS)} optimizers x {len(lrs)} lr x {n}x{n} points x {steps} steps "
          f"in {time.perf_counter() - begin:.0f} s, {ds.sizes['attractor_id']} attractors")
    ue, be = sd.uncertainty_exponent(ds), sd.basin_entropy(ds)
    ds["uncertainty_exponent"] = ue["alpha"]
    ds["uncertainty_exponent_by_minimum"] = sd.uncertainty_exponent(ds, by="name")["alpha"]
    ds["boundary_basin_entropy"] = be["boundary_basin_entropy"]
    return ds


def by_minimum(ds) -> dict:
    """Basin fraction of each named minimum (fixed point and cycles around it), per optimizer and lr."""
    names = [n for n in dict.fromkeys(ds.attractor_name.values) if n]
    return {name: ds.basin_fraction.isel(attractor_id=np.flatnonzero(ds.attractor_name.values == name))
            .sum("attractor_id") for name in names}


def report(ds) -> None:
    totals = by_minimum(ds)
    for opt in ds.optimizer.values:
        print(f"  {opt}")
        for lr in ds.lr.values:
            sel = dict(optimizer=opt, lr=lr)
            cycles = float(ds.basin_fraction.sel(sel).values[ds.attractor_kind.values == "cycle"].sum())
            parts = [f"{name} {float(total.sel(sel)):.3f}" for name, total in totals.items()]
            print(f"    lr={lr:<8.3g} {'  '.join(parts)}  (in cycles {cycles:.3f})  diverged "
                  f"{float(ds.diverged_fraction.sel(sel)):.3f}  unresolved {float(ds.unresolved_fraction.sel(sel)):.3f}"
                  f"  alpha={float(ds.uncertainty_exponent.sel(sel)):.2f}"
                  f" (by minimum {float(ds.uncertainty_exponent_by_minimum.sel(sel)):.2f})")


def plot_boundaries(ds, path: str) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for i, opt in enumerate(ds.optimizer.values):
        color = f"C{i}"
        axes[0].plot(ds.lr, ds.uncertainty_exponent.sel(optimizer=opt), "o-", ms=3, color=color, label=str(opt))
        axes[0].plot(ds.lr, ds.uncertainty_exponent_by_minimum.sel(optimizer=opt), "--", color=color, lw=1)
        axes[1].plot(ds.lr, ds.boundary_basin_entropy.sel(optimizer=opt), "o-", ms=3, color=color, label=str(opt))
    axes[0].set_ylabel("uncertainty exponent alpha (smooth: 1)")
    axes[0].set_title("solid: between attractors, dashed: between minima", fontsize=8)
    axes[1].set_ylabel("boundary basin entropy S_bb")
    axes[1].axhline(np.log(2), color="0.5", ls="--", lw=0.8)
    axes[1].text(ds.lr.values[0], np.log(2), " log 2 (fractal above)", va="bottom", fontsize=8, color="0.4")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("lr")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"basin boundaries on {ds.attrs['landscape']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main(argv=None) -> int:
    parser = script_parser(__doc__)
    add_out(parser)
    parser.add_argument("--quick", action="store_true", help="a 64² grid, 3000 steps, 6 learning rates")
    parser.add_argument("--n", type=int, default=256, help="grid points per axis (default 256)")
    parser.add_argument("--steps", type=int, default=5000, help="steps (default 5000)")
    args = parser.parse_args(argv)
    n, steps, n_lr = (64, 3000, 6) if args.quick else (args.n, args.steps, None)
    args.out.mkdir(parents=True, exist_ok=True)
    import matplotlib

    matplotlib.use("Agg")
    for landscape in STUDIES:
        ds = scan(landscape, n, steps, n_lr)
        report(ds)
        ds.drop_vars("boundary").simdyn.save(args.out / f"basins_lr_scan_{landscape}.nc")
        fig = sd.plot.basin_fractions(ds, along="lr")
        fig.savefig(args.out / f"basins_lr_scan_{landscape}.png", dpi=100)
        plot_boundaries(ds, args.out / f"uncertainty_lr_scan_{landscape}.png")
    print(f"wrote the outputs to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
