"""Adam's first step is sign-like, not along the gradient (papers/forum-adam-first-step.txt).

With m₀ = v₀ = 0, Adam's first step (torch.optim.Adam, bias correction on) has
m̂₁ = m₁/(1 − β₁) = g and √v̂₁ = √(v₁/(1 − β₂)) = |g| per coordinate, so

    w₁ = w₀ − η·g/(|g| + ε)            (per coordinate; Kingma & Ba 2015, Algorithm 1)

whatever β₁, β₂: a step of length η along −sign(g) in every coordinate, up to ε. SGD's first step
is w₁ = w₀ − η·g, along the gradient.

1. The forum's example: f = x² + y² (gradient (2, 2) at (1, 1)) and f = 2x² + 0.5y² (gradient
   (4, 1)), the registered ``quadratic`` landscape ½wᵀHw with H = diag(2, 2) and diag(4, 1), from
   (1, 1), one step of SGD (lr 0.1) and of Adam (torch's defaults: lr 10⁻³, β = (0.9, 0.999),
   ε = 10⁻⁸). The forum shows (0.8, 0.8), (0.6, 0.9) for SGD and (0.9990, 0.9990) for Adam on
   both; the closed form gives 1 − 10⁻³·|g|/(|g| + 10⁻⁸): 0.999000000005 for g = 2,
   0.9990000000025 for g = 4, 0.99900000001 for g = 1. Printed: ``sd.simulate``, torch.optim
   (float64) and the closed form, to 16 digits.
2. Invariance to diagonal rescaling of the gradient (Kingma & Ba's abstract, quoted in the
   forum): the bowl f = ½(h_x·x² + h_y·y²) with h_x, h_y drawn log-uniformly in [10⁻², 10²]
   (``--n`` values each, swept as a grid in one call per optimizer), gradient (h_x, h_y) at
   (1, 1). Adam's first step is −η(1, 1) for every scaling, up to ε/|g| ≤ 10⁻⁶ relative; SGD's
   is −η(h_x, h_y), whose direction turns with the scaling. Printed: the spread of the step
   components and of the angle to −(1, 1), against torch and the closed form.

Outputs in ``--out``: ``first_step.nc`` (the forum's four steps: simulated, torch, closed form),
``first_step_scalings.nc`` (the rescaling sweep), ``first_step.png`` (the first steps as arrows
on both landscapes' contours, and the step angle over the scalings) and ``first_step.txt``.

Usage: ``python scripts/first_step.py [--out out/] [--n 32] [--quick]`` (``--quick``: 8 × 8 scalings).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import xarray as xr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import simdyn as sd  # noqa: E402
from _cli import add_out, script_parser  # noqa: E402
from _report import TextLog  # noqa: E402

START = np.array([[1.0, 1.0]])
SGD_LR = 0.1
ADAM = {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
FORUM = {"x^2 + y^2": np.diag([2.0, 2.0]), "2x^2 + 0.5y^2": np.diag([4.0, 1.0])}
FORUM_PRINTED = {("sgd", "x^2 + y^2"): (0.8, 0.8), ("sgd", "2x^2 + 0.5y^2"): (0.6, 0.9),
                 ("adam", "x^2 + y^2"): (0.999, 0.999), ("adam", "2x^2 + 0.5y^2"): (0.999, 0.999)}
SCALE_RANGE = (1e-2, 1e2)


def bowl_grad(w, p, t):
    return (p[0] * w[0], p[1] * w[1])


def bowl_loss(w, p, t):
    return 0.5 * (p[0] * w[0] * w[0] + p[1] * w[1] * w[1])


BOWL = sd.Landscape("diagonal_bowl", dim=2, grad=bowl_grad, loss=bowl_loss, params={"hx": 1.0, "hy": 1.0},
                    formula="f = (hx*x^2 + hy*y^2)/2")


def closed_form(optimizer: str, g: np.ndarray) -> np.ndarray:
    """The first step from (1, 1): SGD w₁ = w₀ − η·g; Adam w₁ = w₀ − η·g/(|g| + ε)."""
    if optimizer == "sgd":
        return 1.0 - SGD_LR * g
    return 1.0 - ADAM["lr"] * g / (np.abs(g) + ADAM["eps"])


def torch_first_step(optimizer: str, g: np.ndarray) -> np.ndarray:
    """One torch.optim step (float64) from w₀ = 1 with the gradient ``g`` (any shape: Adam and SGD
    act per coordinate, so one tensor holds every case)."""
    import torch

    w = torch.ones(g.shape, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([w], lr=SGD_LR) if optimizer == "sgd" else torch.optim.Adam(
        [w], lr=ADAM["lr"], betas=(ADAM["beta1"], ADAM["beta2"]), eps=ADAM["eps"])
    w.grad = torch.as_tensor(g, dtype=torch.float64).clone()
    opt.step()
    return w.detach().numpy().copy()


def hyper(optimizer: str) -> dict:
    return {"lr": SGD_LR} if optimizer == "sgd" else dict(ADAM)


def forum_steps() -> xr.Dataset:
    """w₁ on the forum's two landscapes for SGD and Adam: simdyn, torch and the closed form."""
    rows = {"simulated": [], "torch": [], "closed_form": []}
    for optimizer in ("sgd", "adam"):
        for name, h in FORUM.items():
            ds = sd.simulate(optimizer, "quadratic", START, 1, hyper=hyper(optimizer), params={"h": h}, progress=False)
            g = h @ START[0]
            rows["simulated"].append(ds.w.isel(traj=0).values)
            rows["torch"].append(torch_first_step(optimizer, g))
            rows["closed_form"].append(closed_form(optimizer, g))
    shape = (2, len(FORUM), 2)
    data = {k: (("optimizer", "landscape", "coord"), np.array(v).reshape(shape)) for k, v in rows.items()}
    out = xr.Dataset(data, coords={"optimizer": ["sgd", "adam"], "landscape": list(FORUM), "coord": ["x", "y"]})
    out["gradient"] = (("landscape", "coord"), np.array([h @ START[0] for h in FORUM.values()]))
    out.attrs.update({"start": START[0], "sgd_lr": SGD_LR, **{f"adam_{k}": v for k, v in ADAM.items()},
                      "study": "first step of SGD and Adam (scripts/first_step.py)"})
    return out


def scalings(n: int, seed: int = 0) -> xr.Dataset:
    """First steps on the bowl over an n × n grid of random diagonal scalings (h_x, h_y)."""
    rng = np.random.default_rng(seed)
    hx, hy = (np.sort(np.exp(rng.uniform(*np.log(SCALE_RANGE), n))) for _ in range(2))
    steps = {}
    for optimizer in ("sgd", "adam"):
        ds = sd.simulate(optimizer, BOWL, START, 1, hyper=hyper(optimizer), params={"hx": hx, "hy": hy},
                         progress=False)
        w1 = ds.w.isel(traj=0).transpose("hx", "hy", "coord").values
        g = np.stack(np.broadcast_arrays(hx[:, None], hy[None, :]), axis=-1)
        steps[f"{optimizer}_step"] = (("hx", "hy", "coord"), w1 - 1.0)
        steps[f"{optimizer}_step_torch"] = (("hx", "hy", "coord"), torch_first_step(optimizer, g) - 1.0)
        steps[f"{optimizer}_step_closed_form"] = (("hx", "hy", "coord"), closed_form(optimizer, g) - 1.0)
    out = xr.Dataset(steps, coords={"hx": hx, "hy": hy, "coord": ["x", "y"]})
    for optimizer in ("sgd", "adam"):
        step = out[f"{optimizer}_step"]
        cos = -(step.sel(coord="x") + step.sel(coord="y")) / (np.sqrt(2.0) * np.sqrt((step ** 2).sum("coord")))
        out[f"{optimizer}_angle_deg"] = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
        out[f"{optimizer}_angle_deg"].attrs["long_name"] = "angle between the first step and -(1, 1), degrees"
    out.attrs.update({"seed": seed, "scale_range": np.array(SCALE_RANGE), "start": START[0], "sgd_lr": SGD_LR,
                      **{f"adam_{k}": v for k, v in ADAM.items()}})
    return out


def figure(forum: xr.Dataset, scaled: xr.Dataset, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 5), layout="constrained")
    xs = np.linspace(-0.2, 1.3, 200)
    X, Y = np.meshgrid(xs, xs)
    for ax, (name, h) in zip(axes[:2], FORUM.items()):
        ax.contour(X, Y, 0.5 * (h[0, 0] * X ** 2 + h[1, 1] * Y ** 2), levels=15, colors="0.7", linewidths=0.8)
        g = forum.gradient.sel(landscape=name).values
        for optimizer, color, width in (("sgd", "tab:blue", 5), ("adam", "tab:red", 2)):
            step = forum.simulated.sel(optimizer=optimizer, landscape=name).values - 1.0
            shown = 0.6 * step / np.linalg.norm(step)
            ax.annotate("", xy=(1 + shown[0], 1 + shown[1]), xytext=(1, 1),
                        arrowprops={"arrowstyle": "->", "color": color, "lw": width, "alpha": 0.7})
            ax.plot([], [], color=color, lw=width, label=f"{optimizer} step {np.round(step, 10).tolist()}")
        ax.plot([1, 1 - 0.6 * g[0] / np.linalg.norm(g)], [1, 1 - 0.6 * g[1] / np.linalg.norm(g)], "k:",
                label=f"-gradient {(-g).tolist()}")
        ax.plot(0, 0, "k+", ms=10)
        ax.set(aspect="equal", xlim=(-0.2, 1.3), ylim=(-0.2, 1.3), title=f"f = {name}: first steps from (1, 1)\n"
               "(arrows scaled to one length)")
        ax.legend(fontsize=8, loc="lower right")
    ratio = np.log10(scaled.hy / scaled.hx).broadcast_like(scaled.sgd_angle_deg)
    for optimizer, color in (("sgd", "tab:blue"), ("adam", "tab:red")):
        axes[2].plot(ratio.values.ravel(), scaled[f"{optimizer}_angle_deg"].values.ravel(), ".", color=color,
                     label=optimizer)
    axes[2].set(xlabel="log10(h_y / h_x)", ylabel="angle of the first step to -(1, 1) [deg]",
                title=f"{scaled.hx.size}x{scaled.hy.size} random diagonal scalings of the gradient")
    axes[2].legend()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def parse_args(argv):
    parser = script_parser(__doc__)
    add_out(parser)
    parser.add_argument("--n", type=int, default=None, help="random scalings per axis (default 32; --quick 8)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 8 x 8 scalings")
    args = parser.parse_args(argv)
    args.n = args.n or (8 if args.quick else 32)
    if args.n < 2:
        parser.error("--n must be at least 2")
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = TextLog()

    forum = forum_steps()
    log(f"First step from (1, 1): SGD lr {SGD_LR:g}; Adam lr {ADAM['lr']:g}, betas ({ADAM['beta1']}, "
        f"{ADAM['beta2']}), eps {ADAM['eps']:g}")
    log(f"{'optimizer':>9} {'f':>14} {'source':>12} {'x1':>20} {'y1':>20}")
    for optimizer in ("sgd", "adam"):
        for name in FORUM:
            for source in ("simulated", "torch", "closed_form"):
                x1, y1 = forum[source].sel(optimizer=optimizer, landscape=name).values
                log(f"{optimizer:>9} {name:>14} {source:>12} {x1:20.16f} {y1:20.16f}")
            log(f"{'':>9} {'':>14} {'forum prints':>12} {FORUM_PRINTED[optimizer, name][0]:20.4f} "
                f"{FORUM_PRINTED[optimizer, name][1]:20.4f}")
    for source in ("torch", "closed_form"):
        log(f"largest |simulated - {source}|: {float(np.abs(forum.simulated - forum[source]).max()):.2e}")

    scaled = scalings(args.n)
    log(f"\nRandom diagonal scalings: {args.n} x {args.n} values of (h_x, h_y) in {list(SCALE_RANGE)}, gradient "
        "(h_x, h_y) at (1, 1)")
    for optimizer in ("sgd", "adam"):
        step = scaled[f"{optimizer}_step"]
        log(f"  {optimizer:>4}: step x in [{float(step.sel(coord='x').min()):.12g}, {float(step.sel(coord='x').max()):.12g}],"
            f" y in [{float(step.sel(coord='y').min()):.12g}, {float(step.sel(coord='y').max()):.12g}]; angle to -(1, 1) "
            f"from {float(scaled[f'{optimizer}_angle_deg'].min()):.3g} to {float(scaled[f'{optimizer}_angle_deg'].max()):.3g} deg;"
            f" |simdyn - torch| <= {float(np.abs(step - scaled[f'{optimizer}_step_torch']).max()):.1e},"
            f" |simdyn - closed form| <= {float(np.abs(step - scaled[f'{optimizer}_step_closed_form']).max()):.1e}")
    adam_step = scaled.adam_step
    spread = float(np.abs(adam_step / ADAM["lr"] + 1.0).max())
    bound = ADAM["eps"] / SCALE_RANGE[0]
    log(f"  Adam's step = -lr*(1, 1) to a relative {spread:.2e} (eps/min|g| = {bound:.0e}): invariant to the scaling")

    forum.to_netcdf(out / "first_step.nc")
    scaled.to_netcdf(out / "first_step_scalings.nc")
    figure(forum, scaled, out / "first_step.png")
    log.write(out / "first_step.txt")
    log(f"wrote {out / 'first_step.nc'}, first_step_scalings.nc, .png, .txt")
    return {"forum": forum, "scalings": scaled}


if __name__ == "__main__":
    main()
