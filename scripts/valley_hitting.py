"""Steps to within 10⁻³ of the minimum in the two valleys of "Exploring the dynamics of Adam"
(Section 6, Figures 3 and 4): f = x² + 10⁻³·y² (``valley``) and f = |x| + 10⁻⁴·|y|
(``sharp_valley``), for SGD, AdaGrad, RMSProp and Adam.

The paper reports Adam 3113 vs RMSProp 1086 steps in the smooth valley and 900 vs 220 in the
sharp one, without stating the start or the hyperparameters. What this script uses:

* η = 10⁻³ for every optimizer (the paper's default η), torch.optim semantics otherwise;
* RMSProp with α = 0.999 (the paper's Eq. (3) averages the squared gradient with β₂ = 0.999),
  and, for comparison, torch's default α = 0.99;
* the start w₀ = (1, 1) (documented choice), horizon 10⁶ steps (the paper's path length);
* ``sd.observe.Hitting("nearest_minimum", tol=1e-3)``: the first t with ‖w_t‖₂ ≤ 10⁻³.

It then searches the starts of the grid [0, 2]² (spacing 0.05; both landscapes are symmetric
under x → −x and y → −y) for the one whose Adam/RMSProp(α = 0.999) pair is closest to the paper's
(smallest |log(t_Adam/t_paper)| + |log(t_RMSProp/t_paper)|), horizon 2·10⁴.

Outputs in ``--out``: ``valley_hitting.nc`` and ``valley_hitting_grid.nc`` (datasets),
``valley_paths.png`` (paths on the vector field, × at ¼, ½, ¾ of the run, as Figures 3–4) and
``valley_hitting_maps.png`` (hitting step over the start grid).

Usage: ``python scripts/valley_hitting.py [--out out/] [--quick]`` (``--quick``: horizon 10⁵,
a 21 × 21 grid).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import xarray as xr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import simdyn as sd  # noqa: E402
from _cli import add_out, script_parser  # noqa: E402

LR = 1e-3
TOL = 1e-3
START = (1.0, 1.0)
RUNS = [("sgd", {}), ("adagrad", {}), ("rmsprop", {"alpha": 0.999}), ("rmsprop", {"alpha": 0.99}), ("adam", {})]
LANDSCAPES = {"valley": {"a": 1e-3}, "sharp_valley": {"a": 1e-4}}
PAPER = {"valley": {"adam": 3113, "rmsprop": 1086}, "sharp_valley": {"adam": 900, "rmsprop": 220}}


def label(opt: str, extra: dict) -> str:
    return opt + "".join(f" {k}={v:g}" for k, v in extra.items())


def single_start(steps: int, record_every: int) -> xr.Dataset:
    per_landscape = []
    for land, params in LANDSCAPES.items():
        runs = []
        for opt, extra in RUNS:
            ds = sd.simulate(opt, land, np.array([START]), steps=steps, hyper={"lr": LR, **extra}, params=params,
                             record_every=record_every, observers=[sd.observe.Hitting("nearest_minimum", TOL)],
                             progress=False)
            runs.append(ds.isel(traj=0, drop=True)[["hit_step", "w", "loss", "status", "trajectory"]])
        per_landscape.append(xr.concat(runs, dim="run", combine_attrs="drop"))
    out = xr.concat(per_landscape, dim="landscape", combine_attrs="drop")
    out = out.assign_coords(landscape=list(LANDSCAPES), run=[label(opt, extra) for opt, extra in RUNS])
    out.attrs.update({"lr": LR, "tol": TOL, "start": np.array(START), "steps": steps, "record_every": record_every,
                      "study": "steps to within tol of the origin (scripts/valley_hitting.py)"})
    return out


def start_search(n: int, steps: int) -> xr.Dataset:
    grid = sd.grid(x=(0.0, 2.0, n), y=(0.0, 2.0, n))
    maps = {}
    for land, params in LANDSCAPES.items():
        for opt, extra in (("adam", {}), ("rmsprop", {"alpha": 0.999})):
            ds = sd.simulate(opt, land, grid, steps=steps, hyper={"lr": LR, **extra}, params=params,
                             observers=[sd.observe.Hitting("nearest_minimum", TOL)], progress=False)
            maps[f"{land}_{opt}"] = ds.hit_step.drop_vars([c for c in ("a",) if c in ds.hit_step.coords])
    out = xr.Dataset(maps)
    out.attrs.update({"lr": LR, "tol": TOL, "steps": steps, "rmsprop_alpha": 0.999})
    return out


def closest_starts(search: xr.Dataset) -> dict:
    found = {}
    for land, paper in PAPER.items():
        adam = search[f"{land}_adam"].values.astype(float)
        rms = search[f"{land}_rmsprop"].values.astype(float)
        miss = (adam <= 0) | (rms <= 0)
        err = np.abs(np.log(np.where(miss, 1.0, adam) / paper["adam"])) + np.abs(np.log(np.where(miss, 1.0, rms) / paper["rmsprop"]))
        err = np.where(miss, np.inf, err)
        i, j = np.unravel_index(np.argmin(err), err.shape)
        found[land] = {"start": (float(search.x0[i]), float(search.y0[j])), "adam": int(adam[i, j]),
                       "rmsprop": int(rms[i, j]), "error": float(err[i, j])}
    return found


def paths_figure(ds: xr.Dataset, out: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 6.2))
    for ax, land in zip(axes, LANDSCAPES):
        sel = ds.sel(landscape=land).rename({"run": "optimizer"})
        sd.plot.vector_field(land, sel, extent=(-0.3, 1.3, -0.3, 1.3), params=LANDSCAPES[land], ax=ax, density=1.0)
        ax.set_title(f"{land}: start {START}, lr {LR:g}, {int(ds.attrs['steps'])} steps\n"
                     "× at 1/4, 1/2, 3/4 of each path", fontsize=10)
    fig.tight_layout()
    fig.savefig(Path(out) / "valley_paths.png", dpi=120)
    plt.close(fig)


def maps_figure(search: xr.Dataset, found: dict, out: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 9))
    for row, land in enumerate(LANDSCAPES):
        for col, opt in enumerate(("adam", "rmsprop")):
            ax = axes[row, col]
            values = search[f"{land}_{opt}"].values.astype(float)
            values = np.where(values >= 0, values, np.nan)
            im = ax.pcolormesh(search.x0, search.y0, values.T, shading="nearest", cmap="magma")
            fig.colorbar(im, ax=ax, label="hit_step")
            start = found[land]["start"]
            ax.plot(*start, "c*", ms=12, label=f"closest to paper: {start}")
            ax.plot(*START, "wo", ms=6, mec="k", label=f"default start {START}")
            ax.set_title(f"{land}, {opt}{' (alpha 0.999)' if opt == 'rmsprop' else ''}: steps to ‖w‖ ≤ {TOL:g}", fontsize=10)
            ax.set_xlabel("x0")
            ax.set_ylabel("y0")
            ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(Path(out) / "valley_hitting_maps.png", dpi=110)
    plt.close(fig)


def main(argv=None) -> None:
    parser = script_parser(__doc__)
    add_out(parser)
    parser.add_argument("--quick", action="store_true", help="a smoke run: horizon 10^5, a 21 x 21 grid")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    steps = 100_000 if args.quick else 1_000_000
    ds = single_start(steps, record_every=steps // 20_000)
    ds.simdyn.save(args.out / "valley_hitting.nc")
    print(f"Steps to within {TOL:g} of the origin from {START}, lr = {LR:g}, horizon {steps} (-1: never)")
    print(f"{'run':>22} " + " ".join(f"{land:>13}" for land in LANDSCAPES))
    for run in ds.run.values:
        print(f"{run:>22} " + " ".join(f"{int(ds.hit_step.sel(landscape=land, run=run)):13d}" for land in LANDSCAPES))
    print(f"{'paper: adam':>22} " + " ".join(f"{PAPER[land]['adam']:13d}" for land in LANDSCAPES))
    print(f"{'paper: rmsprop':>22} " + " ".join(f"{PAPER[land]['rmsprop']:13d}" for land in LANDSCAPES))
    search = start_search(21 if args.quick else 41, 20_000)
    search.to_netcdf(args.out / "valley_hitting_grid.nc")
    found = closest_starts(search)
    print("\nStart on the grid [0, 2]^2 closest to the paper's pair (Adam, RMSProp alpha = 0.999):")
    for land, f in found.items():
        print(f"  {land:13s} start {f['start']}: adam {f['adam']} (paper {PAPER[land]['adam']}), "
              f"rmsprop {f['rmsprop']} (paper {PAPER[land]['rmsprop']}), log-error {f['error']:.3f}")
    paths_figure(ds, args.out)
    maps_figure(search, found, args.out)
    print(f"\nwrote the outputs to {args.out}")


if __name__ == "__main__":
    main()
