"""Basins of attraction of GD, heavy-ball momentum, RMSProp and Adam on the tilted double well and on
Himmelblau's function, at several learning rates, on a 1000 × 1000 grid of initial points.

Each landscape is one ``sd.basins`` call (dims optimizer × lr × x0 × y0, attractors shared), so
the same minimum has the same colour in every panel. Settings (torch.optim defaults otherwise):

* ``double_well`` (x² − 1)² + c·x + (k/2)·y², c = 0.25, k = 1 (global minimum at x ≈ −1.03,
  local one at x ≈ 0.97), grid [−2, 2]², lr ∈ {0.01, 0.05, 0.1};
* ``himmelblau``, grid [−5, 5]², lr ∈ {0.002, 0.01, 0.03};
* GD = ``sgd``, heavy ball = ``momentum`` (μ = 0.9), ``rmsprop`` (α = 0.99), ``adam``
  (β = 0.9, 0.999); 5000 steps; attractor tolerance 10⁻⁴ × the grid's extent (sd.basins' default).

For each (landscape, optimizer, lr) it prints the basin fractions (with binomial errors), the
diverged/unresolved fractions, the uncertainty exponent α (boundary dimension 2 − α) between
attractors and between the basins of the minima (``by="name"``), and the boundary basin entropy
S_bb, and writes in ``--out``: ``basins_<landscape>.nc`` (labels, attractors, fractions, plus
``uncertainty_exponent``, ``uncertainty_exponent_by_minimum`` and ``boundary_basin_entropy``),
``basins_<landscape>.png`` (4 × 3 panels) and ``phase_portrait_<landscape>.png`` (GD and Adam
paths on Adam's sign-descent field), and ``basins_double_well_lr0.05.png`` (the 4 optimizers at
lr = 0.05, the README's figure).

Usage: ``python scripts/basins_double_well.py [--out out/] [--quick] [--n 1000] [--steps 5000]``
(``--quick``: a 128² grid and 4000 steps).
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
    "double_well": {"extent": (-2.0, 2.0), "lr": [0.01, 0.05, 0.1], "params": {"c": 0.25, "k": 1.0}},
    "himmelblau": {"extent": (-5.0, 5.0), "lr": [0.002, 0.01, 0.03], "params": {}},
}
README_LR = 0.05


def run(landscape: str, n: int, steps: int) -> "sd.xr.Dataset":
    study = STUDIES[landscape]
    lo, hi = study["extent"]
    grid = sd.grid(x=(lo, hi, n), y=(lo, hi, n))
    begin = time.perf_counter()
    ds = sd.basins(OPTIMIZERS, landscape, grid, steps, hyper={"lr": np.array(study["lr"])}, params=study["params"])
    print(f"{landscape}: {len(OPTIMIZERS)} optimizers x {len(study['lr'])} lr x {n}x{n} points x {steps} steps "
          f"in {time.perf_counter() - begin:.0f} s")
    ue = sd.uncertainty_exponent(ds)
    be = sd.basin_entropy(ds)
    ds["uncertainty_exponent"] = ue["alpha"]
    ds["uncertainty_exponent_by_minimum"] = sd.uncertainty_exponent(ds, by="name")["alpha"]
    ds["boundary_dimension"] = ue["boundary_dimension"]
    ds["basin_entropy"] = be["basin_entropy"]
    ds["boundary_basin_entropy"] = be["boundary_basin_entropy"]
    return ds


def report(ds) -> None:
    for opt in ds.optimizer.values:
        for lr in ds.lr.values:
            sel = ds.sel(optimizer=opt, lr=lr)
            parts = []
            for a in np.flatnonzero(sel.basin_fraction.values > 0):
                kind = "fp" if sel.attractor_kind.values[a] == "fixed_point" else f"p{int(sel.attractor_period[a])}"
                parts.append(f"{sel.attractor_name.values[a] or a}/{kind} {float(sel.basin_fraction[a]):.4f}")
            print(f"  {opt:8s} lr={lr:<6g} {', '.join(parts)}; diverged {float(sel.diverged_fraction):.4f}, "
                  f"unresolved {float(sel.unresolved_fraction):.4f}; alpha={float(sel.uncertainty_exponent):.3f} "
                  f"(by minimum {float(sel.uncertainty_exponent_by_minimum):.3f}) "
                  f"S_bb={float(sel.boundary_basin_entropy):.3f}")


def portrait(landscape: str, out: str) -> None:
    study = STUDIES[landscape]
    lo, hi = study["extent"]
    starts = sd.grid(x=(0.9 * lo, 0.9 * hi, 3), y=(0.9 * lo, 0.9 * hi, 3))
    lr = study["lr"][0] if landscape == "himmelblau" else README_LR
    paths = sd.simulate(["sgd", "adam"], landscape, starts, 400, hyper={"lr": lr}, params=study["params"],
                        record_every=1, progress=False)
    fig = sd.plot.phase_portrait(landscape, optimizer="adam", trajectories=paths, hyper={"lr": lr},
                                 params=study["params"], extent=(lo, hi, lo, hi))
    fig.savefig(Path(out) / f"phase_portrait_{landscape}.png", dpi=100)


def main(argv=None) -> int:
    parser = script_parser(__doc__)
    add_out(parser)
    parser.add_argument("--quick", action="store_true", help="a 128² grid and 4000 steps")
    parser.add_argument("--n", type=int, default=1000, help="grid points per axis (default 1000)")
    parser.add_argument("--steps", type=int, default=5000, help="steps (default 5000)")
    args = parser.parse_args(argv)
    n, steps = (128, 4000) if args.quick else (args.n, args.steps)
    args.out.mkdir(parents=True, exist_ok=True)
    import matplotlib

    matplotlib.use("Agg")
    for landscape in STUDIES:
        ds = run(landscape, n, steps)
        report(ds)
        ds.drop_vars("boundary").simdyn.save(args.out / f"basins_{landscape}.nc")
        fig = sd.plot.basins(ds, ncols=len(STUDIES[landscape]["lr"]), panel_size=3.6)
        fig.savefig(args.out / f"basins_{landscape}.png", dpi=90)
        if landscape == "double_well":
            fig = sd.plot.basins(ds, sel={"lr": README_LR}, ncols=4, panel_size=3.3)
            fig.savefig(args.out / f"basins_{landscape}_lr{README_LR:g}.png", dpi=70)
        portrait(landscape, args.out)
    print(f"wrote the outputs to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
