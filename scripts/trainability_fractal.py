"""The boundary of neural network trainability is fractal (Sohl-Dickstein 2024, arXiv:2402.06184).

The paper's setup, on simdyn: ``sd.landscapes.mlp`` (16 inputs, width 16, depth 2, tanh, one
output; 272 parameters), 272 examples with Gaussian inputs and targets, one Gaussian initial
point (``sd.landscapes.mlp_init``), full-batch gradient descent for 500 steps with one learning
rate per layer (``hyper={"lr": {"layer1": a, "layer2": b}}`` → dims lr_layer1 × lr_layer2) on
log-spaced grids, and ``sd.observe.Trainability`` (the paper's convergence measure: the score is
−Σ L_t/L_0 where training converges, Σ L_0/L_t where it does not).

Outputs in ``--out``: ``trainability_fractal_<k>.nc`` (the score and ``trainable`` of zoom level
k), ``trainability_fractal.png`` (the score of every level with the paper's diverging colour
stretch, the next level's window drawn in red, and the box counts of the boundary with their
fit), ``trainability_fractal.txt`` (this report). The boundary is the set of 2 × 2 cells where the
score changes sign; its box-counting dimension is the slope of log N(ε) against −log ε over the
printed fit range (the paper reports 1.17 – 1.98 over its configurations).

Zoom: ``--zoom CENTRE WIDTH`` zooms by 10× steps, centred at CENTRE (``log10_lr1,log10_lr2``, or
``auto``: the boundary cell nearest the current centre, found on each level), down to a window
WIDTH times the first (≥ 1e-10; the learning rates are float64).

Usage: ``python scripts/trainability_fractal.py [--out out/] [--quick] [--resolution 256]
[--steps 500] [--zoom auto 1e-2] [--target cpu|cuda]`` (``--quick``: 48² points per level).
"""

from __future__ import annotations

import math
import resource
import sys
import time
from pathlib import Path

import numpy as np
import xarray as xr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import simdyn as sd  # noqa: E402
from _cli import add_out, script_parser  # noqa: E402
from _report import TextLog  # noqa: E402

N_IN, WIDTH, N_OUT = 16, 16, 1
EXAMPLES = 272  # = parameters / outputs, the reference notebook's dataset_param_multiple = 1
#: The first window, log10 of (lr_layer1 low, high, lr_layer2 low, high): both phases and the
#: part of the boundary where it bends (from a coarse scan of this network and seed).
FIRST_WINDOW = (3.0, 8.0, 1.0, 3.0)
SMALLEST_ZOOM = 1e-10


def network(seed: int):
    """The landscape and its initial point (one (1, 272) row)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(EXAMPLES, N_IN))
    y = rng.normal(size=(EXAMPLES, N_OUT))
    return sd.landscapes.mlp(x, y, width=WIDTH), sd.landscapes.mlp_init(N_IN, WIDTH, N_OUT, n=1, seed=seed + 1)


def trainability_image(landscape, w0, window, resolution: int, steps: int, target: str) -> xr.Dataset:
    """The trainability score over the log-spaced (lr_layer1, lr_layer2) grid of ``window``."""
    lo1, hi1, lo2, hi2 = window
    lr1 = 10.0 ** np.linspace(lo1, hi1, resolution)
    lr2 = 10.0 ** np.linspace(lo2, hi2, resolution)
    ds = sd.simulate("sgd", landscape, w0, steps, hyper={"lr": {"layer1": lr1, "layer2": lr2}},
                     observers=[sd.observe.Trainability()], target=target, progress=False)
    out = ds[["trainability_score", "trainable", "status"]].isel(traj=0)
    out.attrs.update(ds.attrs)
    out.attrs["window_log10"] = np.asarray(window, dtype=float)
    return out


def boundary_dimension(score: xr.DataArray) -> dict:
    """Box-counting dimension of the score's sign-change boundary (``sd.box_counting_dimension``):
    the boxes and counts of the fit, its dimension and intercept."""
    fit = sd.box_counting_dimension(score, by="sign")
    used = fit.fit_used.values
    return {"dimension": float(fit.dimension), "boxes": fit.box.values[used], "counts": fit.box_count.values[used],
            "intercept": float(fit.fit_intercept)}


def next_centre(score: xr.DataArray, window, centre):
    """The zoom centre of the next level: ``centre`` itself, or with ``centre`` None the boundary
    cell (sign change) nearest the middle of this window, in log10 learning rates."""
    lo1, hi1, lo2, hi2 = window
    if centre is not None:
        return centre
    s = np.sign(score.values)
    cells = (np.maximum.reduce([s[1:, 1:], s[:-1, 1:], s[1:, :-1], s[:-1, :-1]])
             != np.minimum.reduce([s[1:, 1:], s[:-1, 1:], s[1:, :-1], s[:-1, :-1]]))
    i, j = np.nonzero(cells)
    if i.size == 0:
        return (lo1 + hi1) / 2, (lo2 + hi2) / 2
    n1, n2 = s.shape
    c1 = lo1 + (i + 0.5) / (n1 - 1) * (hi1 - lo1)
    c2 = lo2 + (j + 0.5) / (n2 - 1) * (hi2 - lo2)
    k = np.argmin(((c1 - (lo1 + hi1) / 2) / (hi1 - lo1)) ** 2 + ((c2 - (lo2 + hi2) / 2) / (hi2 - lo2)) ** 2)
    return float(c1[k]), float(c2[k])


def zoom_widths(zoom) -> list[float]:
    """The widths of the zoom levels as fractions of the first window: 1, then 10×, 100×, …
    smaller down to ``zoom[1]`` (only 1 without a zoom)."""
    widths = [1.0]
    if zoom is not None:
        while widths[-1] / 10 >= zoom[1] * (1 - 1e-9):
            widths.append(widths[-1] / 10)
    return widths


def paper_stretch(score: np.ndarray) -> np.ndarray:
    """The reference notebook's ``cdf_img``: ranks of the negative scores spread over [−1, −0.25]
    and of the others over [0.25, 1], negated (trainable points positive)."""
    u = np.sort(score.ravel())
    negative = int(np.sum(u < 0))
    v = np.concatenate([np.linspace(-1, -0.25, negative), np.linspace(0.25, 1, u.size - negative)])
    return -np.interp(score, u, v)


def plot(levels, fits, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    n = len(levels)
    fig, axes = plt.subplots(1, n + 1, figsize=(3.6 * (n + 1), 3.6), constrained_layout=True)
    for k, (ds, ax) in enumerate(zip(levels, axes)):
        lo1, hi1, lo2, hi2 = ds.attrs["window_log10"]
        ax.imshow(paper_stretch(ds.trainability_score.values).T, origin="lower", extent=[lo1, hi1, lo2, hi2],
                  cmap="Spectral", vmin=-1, vmax=1, aspect="auto", interpolation="nearest")
        if k + 1 < n:
            a1, b1, a2, b2 = levels[k + 1].attrs["window_log10"]
            ax.add_patch(Rectangle((a1, a2), b1 - a1, b2 - a2, fill=False, edgecolor="red", linewidth=1.2))
        ax.set_xlabel("log10 lr, input layer")
        ax.set_ylabel("log10 lr, output layer")
        ax.set_title(f"level {k}: width {(hi1 - lo1) / (FIRST_WINDOW[1] - FIRST_WINDOW[0]):.0e}\n"
                     f"D = {fits[k]['dimension']:.2f}", fontsize=9)
    ax = axes[-1]
    for k, fit in enumerate(fits):
        if len(fit["boxes"]):
            ax.loglog(fit["boxes"], fit["counts"], "o-", label=f"level {k}: D = {fit['dimension']:.2f}")
    ax.set_xlabel("box side (cells)")
    ax.set_ylabel("boxes on the boundary N")
    ax.legend(fontsize=8)
    ax.set_title("box counting of the sign-change boundary", fontsize=9)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def parse_zoom(values):
    if values is None:
        return None
    centre, width = values
    try:
        fraction = float(width)
    except ValueError:
        raise SystemExit(f"--zoom: WIDTH must be a number, got {width!r}") from None
    if not SMALLEST_ZOOM <= fraction <= 1:
        raise SystemExit(f"--zoom: WIDTH must be in [{SMALLEST_ZOOM:g}, 1] (a fraction of the first window), got {width}")
    if centre == "auto":
        return None, fraction
    try:
        c1, c2 = (float(v) for v in centre.split(","))
    except ValueError:
        raise SystemExit(f"--zoom: CENTRE must be 'auto' or 'log10_lr1,log10_lr2', got {centre!r}") from None
    return (c1, c2), fraction


def main(argv=None):
    parser = script_parser(__doc__)
    add_out(parser)
    parser.add_argument("--quick", action="store_true", help="48 x 48 points per level")
    parser.add_argument("--resolution", type=int, default=None, help="points per side (default 256, 48 with --quick)")
    parser.add_argument("--steps", type=int, default=500, help="GD steps (default 500, the paper's)")
    parser.add_argument("--zoom", nargs=2, metavar=("CENTRE", "WIDTH"), default=None,
                        help="zoom by 10x steps down to WIDTH x the first window, centred at CENTRE "
                             "('log10_lr1,log10_lr2' or 'auto': follow the boundary)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data and the initial point (default 0)")
    parser.add_argument("--target", default="cpu", choices=("cpu", "cuda"), help="where the kernels run")
    args = parser.parse_args(argv)
    resolution = args.resolution or (48 if args.quick else 256)
    if resolution < 8 or args.steps < 1:
        raise SystemExit("--resolution must be >= 8 and --steps >= 1")
    zoom = parse_zoom(args.zoom)
    args.out.mkdir(parents=True, exist_ok=True)
    log = TextLog()
    landscape, w0 = network(args.seed)
    log(f"trainability_fractal: mlp {N_IN}-{WIDTH}-{N_OUT} tanh ({landscape.dim} parameters), {EXAMPLES} examples, "
        f"GD {args.steps} steps, {resolution}^2 learning-rate pairs per level, float64, target {args.target}")
    levels, fits = [], []
    window = FIRST_WINDOW
    centre = zoom[0] if zoom else None
    full1, full2 = FIRST_WINDOW[1] - FIRST_WINDOW[0], FIRST_WINDOW[3] - FIRST_WINDOW[2]
    for k, width in enumerate(zoom_widths(zoom)):
        if k:
            c1, c2 = next_centre(levels[-1].trainability_score, window, centre)
            window = (c1 - width * full1 / 2, c1 + width * full1 / 2, c2 - width * full2 / 2, c2 + width * full2 / 2)
        begin = time.perf_counter()
        ds = trainability_image(landscape, w0, window, resolution, args.steps, args.target)
        seconds = time.perf_counter() - begin
        fit = boundary_dimension(ds.trainability_score)
        levels.append(ds)
        fits.append(fit)
        ds.attrs.update(box_counting_dimension=fit["dimension"], fit_box_min=int(min(fit["boxes"], default=0)),
                        fit_box_max=int(max(fit["boxes"], default=0)))
        ds.to_netcdf(args.out / f"trainability_fractal_{k}.nc")
        rate = resolution ** 2 * args.steps / seconds
        log(f"level {k}: log10 lr1 in [{window[0]:.12g}, {window[1]:.12g}], log10 lr2 in [{window[2]:.12g}, "
            f"{window[3]:.12g}] (width {width:.0e}); {seconds:.1f} s ({rate:.3g} trajectory-steps/s); "
            f"trainable {float(ds.trainable.mean()):.1%}; boundary cells' box-counting dimension "
            f"D = {fit['dimension']:.3f} (fit over boxes of {min(fit['boxes'], default=0)}-"
            f"{max(fit['boxes'], default=0)} cells; the paper: 1.17-1.98)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    log(f"peak memory (max RSS) {peak:.0f} MiB")
    plot(levels, fits, args.out / "trainability_fractal.png")
    log.write(args.out / "trainability_fractal.txt")


if __name__ == "__main__":
    main()
