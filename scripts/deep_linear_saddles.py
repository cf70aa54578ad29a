"""Saddle-to-saddle dynamics of a deep linear network from small initialisations.

A linear network with one hidden layer of width 5 (widths (5, 5, 5), ``sd.landscapes.deep_linear``,
two weight matrices) fits a teacher M = U·diag(3, 2, 1, 0, 0)·Vᵀ (U, V Haar-random, seeded) on
whitened inputs X = √5·I (m = 5 examples, Y = X Mᵀ), so that L(w) = ½‖W₂W₁ − M‖²_F. From
i.i.d. N(0, σ²) weights with σ = 10⁻¹ … 10⁻⁶ (``sd.landscapes.deep_linear_init``, many seeds per
σ, every start in one call), GD, momentum (β = 0.9), AdaGrad, RMSProp and Adam at one common
learning rate η (torch.optim defaults otherwise) learn the teacher one singular value at a time
(Saxe, McClelland & Ganguli 2014): the loss steps down the staircase of plateaus
L_k = ½ Σ_{j>k} s_j² = 7, 2.5, 0.5, 0, each plateau a saddle of the loss.

Measured, per optimizer, σ and seed:
1. The loss staircase (recorded every ``record_every`` steps; L computed from the recorded
   weights as ½‖W₂W₁ − M‖²_F, checked against the kernel's final loss).
2. The escape time t_k from saddle k: the first recorded step with L < (L_k + L_{k+1})/2, and
   the plateau lengths t_k − t_{k−1}; against log(1/σ), fitted by least squares. For GD the
   expectation is linear: mode k's strength u = aᵀb grows by (1 + ηs_k)² per step from u₀ ∝ σ², so
   t_k ≈ c_k + log(1/σ)/log(1 + ηs_k) (slope 1/log(1 + ηs_k)).
3. The escape from the first saddle (the origin) with the ``Exit`` observer (‖w‖ > 1) and
   ``sd.escape_statistics``: median exit step per optimizer and its fit t ≈ a + b·log(1/δ),
   δ = ‖w₀‖.
4. Whether the 2-D finding of "Exploring the dynamics of Adam" (saddle ½(−x² + y²)) holds here:
   at equal η Adam escapes the saddle faster than SGD and AdaGrad but not faster than RMSProp.

Outputs in --out: ``deep_linear_saddles.nc`` (loss curves, escape times, exit steps),
``deep_linear_saddles.png`` (staircase, escape times against log(1/σ)), ``deep_linear_saddles.txt``.

Usage: ``python scripts/deep_linear_saddles.py [--out out/] [--seeds 64] [--quick]``
(``--quick``: σ ∈ {10⁻¹, 10⁻³, 10⁻⁶}, 4 seeds, a smoke run).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import xarray as xr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import simdyn as sd  # noqa: E402
from _cli import add_out, script_parser  # noqa: E402
from _report import TextLog  # noqa: E402

WIDTHS = (5, 5, 5)
SINGULAR_VALUES = np.array([3.0, 2.0, 1.0, 0.0, 0.0])
OPTIMIZERS = ["sgd", "momentum", "adagrad", "rmsprop", "adam"]
HYPER = {"sgd": {}, "momentum": {"momentum": 0.9}, "adagrad": {}, "rmsprop": {}, "adam": {}}
LR = 2e-2
STEPS = 4000
RECORD_EVERY = 5
EXIT_RADIUS = 1.0


def teacher(seed: int = 7):
    """(X, Y, M): whitened inputs X = √m·I, the teacher M = U diag(s) Vᵀ and Y = X Mᵀ."""
    from scipy.stats import ortho_group

    n = WIDTHS[0]
    u = ortho_group.rvs(n, random_state=seed)
    v = ortho_group.rvs(n, random_state=seed + 1)
    m = (u * SINGULAR_VALUES) @ v.T
    x = np.sqrt(n) * np.eye(n)
    return x, x @ m.T, m


def plateau_levels() -> np.ndarray:
    """L_k = ½ Σ_{j>k} s_j², k = 0 … rank (the last is 0)."""
    s2 = SINGULAR_VALUES[SINGULAR_VALUES > 0] ** 2
    return np.array([0.5 * s2[k:].sum() for k in range(s2.size + 1)])


def network_loss(w: np.ndarray, m: np.ndarray) -> np.ndarray:
    """½‖W₂W₁ − M‖²_F for weights w (…, d) in deep_linear's layout."""
    n0, n1, n2 = WIDTHS
    w1 = w[..., : n1 * n0].reshape(w.shape[:-1] + (n1, n0))
    w2 = w[..., n1 * n0:].reshape(w.shape[:-1] + (n2, n1))
    return 0.5 * ((w2 @ w1 - m) ** 2).sum(axis=(-1, -2))


def first_below(curve: np.ndarray, level: float, steps: np.ndarray) -> np.ndarray:
    """The first recorded step with curve < level along the last axis (−1: never)."""
    below = curve < level
    return np.where(below.any(axis=-1), steps[np.argmax(below, axis=-1)], -1)


def fit_line(x: np.ndarray, y: np.ndarray):
    """Least-squares (intercept, slope) of y against x over the finite, non-negative y."""
    ok = np.isfinite(y) & (y >= 0)
    if ok.sum() < 2 or np.ptp(x[ok]) == 0:
        return np.nan, np.nan
    slope, intercept = np.polyfit(x[ok], y[ok], 1)
    return intercept, slope


def run(sigmas, seeds: int, steps: int, log) -> xr.Dataset:
    x, y, m = teacher()
    land = sd.landscapes.deep_linear(x, y, WIDTHS)
    w0 = np.concatenate([sd.landscapes.deep_linear_init(WIDTHS, s, seeds, seed=100 + i) for i, s in enumerate(sigmas)])
    levels = plateau_levels()
    thresholds = 0.5 * (levels[:-1] + levels[1:])
    loss_curves, escape, exit_steps, stats = [], [], [], []
    for opt in OPTIMIZERS:
        start = time.perf_counter()
        ds = sd.simulate(opt, land, w0, steps, hyper={"lr": LR, **HYPER[opt]}, record_every=RECORD_EVERY,
                         observers=[sd.observe.Exit(0.0, EXIT_RADIUS)], progress=False)
        record_steps = ds.step.values
        curves = network_loss(ds.trajectory.transpose("traj", "step", "coord").values, m)  # (n, records)
        np.testing.assert_allclose(curves[:, -1], ds.loss.values, rtol=1e-9, atol=1e-12)  # vs the kernel's loss
        loss_curves.append(curves.reshape(len(sigmas), seeds, -1))
        times = np.stack([first_below(curves, level, record_steps) for level in thresholds], axis=-1)
        escape.append(times.reshape(len(sigmas), seeds, -1))
        exit_steps.append(ds.exit_step.values.reshape(len(sigmas), seeds))
        stats.append(sd.escape_statistics(ds))
        log(f"  {opt:9s} {len(w0)} trajectories x {steps} steps in {time.perf_counter() - start:.1f} s")
    out = xr.Dataset(
        {
            "loss": (("optimizer", "sigma", "seed", "step"), np.stack(loss_curves),
                     {"long_name": "0.5 ||W2 W1 - M||_F^2 at the recorded steps"}),
            "escape_step": (("optimizer", "sigma", "seed", "saddle"), np.stack(escape),
                            {"long_name": "first recorded step with L < (L_k + L_(k+1))/2 (-1: never)"}),
            "exit_step": (("optimizer", "sigma", "seed"), np.stack(exit_steps),
                          {"long_name": f"first step with ||w|| > {EXIT_RADIUS} (Exit observer; -1: never)"}),
            "exit_median": (("optimizer",), np.array([float(s.median_exit) for s in stats])),
            "exit_fit_b": (("optimizer",), np.array([float(s.fit_b) for s in stats]),
                           {"long_name": "slope b of exit step ~ a + b log(1/delta), delta = ||w0|| (escape_statistics)"}),
            "plateau_level": (("saddle",), levels[:-1]),
        },
        coords={"optimizer": OPTIMIZERS, "sigma": np.asarray(sigmas, dtype=float), "seed": np.arange(seeds),
                "step": record_steps, "saddle": np.arange(len(thresholds))},
        attrs={"lr": LR, "steps": steps, "record_every": RECORD_EVERY, "widths": list(WIDTHS),
               "teacher_singular_values": SINGULAR_VALUES.tolist(), "exit_radius": EXIT_RADIUS,
               "hyper": str(HYPER), "simdyn_version": sd.__version__},
    )
    return out


def report(ds: xr.Dataset, log) -> dict:
    """Print the fits and the comparison; return the GD slopes and the medians used."""
    log_inv_sigma = np.log(1.0 / ds.sigma.values)
    s = SINGULAR_VALUES[SINGULAR_VALUES > 0]
    log(f"\nEscape time t_k from saddle k (median over seeds; first step with L < (L_k + L_k+1)/2), lr = {LR}:")
    header = "  optimizer  k  " + " ".join(f"σ={x:.0e}" for x in ds.sigma.values) + "   slope vs log(1/σ)"
    log(header)
    slopes = {}
    for opt in ds.optimizer.values:
        for k in ds.saddle.values:
            t = ds.escape_step.sel(optimizer=opt, saddle=k).values.astype(float)
            t[t < 0] = np.nan
            median = np.nanmedian(t, axis=1) if np.isfinite(t).any() else np.full(t.shape[0], np.nan)
            _, slope = fit_line(np.repeat(log_inv_sigma, t.shape[1]), t.ravel())
            slopes[(str(opt), int(k))] = slope
            extra = f"   (GD prediction 1/log(1 + η s_k) = {1 / np.log1p(LR * s[k]):.1f})" if opt == "sgd" else ""
            log(f"  {opt:9s} {k:2d}  " + " ".join(f"{v:8.0f}" for v in median) + f"   {slope:8.2f}{extra}")
    log("\nPlateau lengths t_k − t_(k−1) of GD (median over seeds) and their slope vs log(1/σ):")
    t = ds.escape_step.sel(optimizer="sgd").values.astype(float)
    t[t < 0] = np.nan
    lengths = np.diff(np.concatenate([np.zeros(t.shape[:2] + (1,)), t], axis=-1), axis=-1)
    for k in range(lengths.shape[-1]):
        _, slope = fit_line(np.repeat(log_inv_sigma, t.shape[1]), lengths[..., k].ravel())
        pred = 1 / np.log1p(LR * s[k]) - (1 / np.log1p(LR * s[k - 1]) if k else 0.0)
        log(f"  plateau {k}: " + " ".join(f"{v:8.0f}" for v in np.nanmedian(lengths[..., k], axis=1))
            + f"   slope {slope:8.2f} (prediction {pred:.1f})")
    log(f"\nEscape from the origin (Exit observer, ||w|| > {EXIT_RADIUS}; sd.escape_statistics over all σ and seeds):")
    for opt in ds.optimizer.values:
        e = ds.exit_step.sel(optimizer=opt).values.astype(float)
        e[e < 0] = np.nan
        log(f"  {opt:9s} median exit step {float(ds.exit_median.sel(optimizer=opt)):8.0f}   per σ: "
            + " ".join(f"{v:6.0f}" for v in np.nanmedian(e, axis=1))
            + f"   fit b (vs log 1/δ) {float(ds.exit_fit_b.sel(optimizer=opt)):7.2f}")
    median = {str(o): float(ds.exit_median.sel(optimizer=o)) for o in ds.optimizer.values}
    log("\nThe 2-D finding at equal η (Adam escapes faster than SGD and AdaGrad, not faster than RMSProp):")
    log(f"  Adam {median['adam']:.0f} < SGD {median['sgd']:.0f}: {median['adam'] < median['sgd']};  "
        f"Adam < AdaGrad {median['adagrad']:.0f}: {median['adam'] < median['adagrad']};  "
        f"Adam < RMSProp {median['rmsprop']:.0f}: {median['adam'] < median['rmsprop']}  "
        f"(the finding holds here if the first two are True and the third False)")
    return {"slopes": slopes, "exit_median": median}


def figure(ds: xr.Dataset, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))
    mid = ds.sigma.values[len(ds.sigma) // 2]
    for opt in ds.optimizer.values:
        curve = ds.loss.sel(optimizer=opt, sigma=mid).median("seed")
        axes[0].plot(ds.step, curve, label=str(opt))
    for level in plateau_levels()[:-1]:
        axes[0].axhline(level, color="k", lw=0.5, ls=":")
    last = float(ds.escape_step.sel(optimizer="sgd", sigma=mid).max())  # GD's last escape at this σ
    axes[0].set(yscale="log", xlabel="step", ylabel="loss (median over seeds)", ylim=(1e-3, 20.0),
                xlim=(0, 1.3 * last if last > 0 else None), title=f"loss staircase, σ = {mid:.0e}, η = {LR:g}")
    axes[0].legend(fontsize=8)
    x = np.log(1.0 / ds.sigma.values)
    s = SINGULAR_VALUES[SINGULAR_VALUES > 0]
    for k in ds.saddle.values:
        t = ds.escape_step.sel(optimizer="sgd", saddle=k).values.astype(float)
        t[t < 0] = np.nan
        axes[1].plot(np.repeat(x, t.shape[1]), t.ravel(), ".", ms=3, color=f"C{k}")
        a, b = fit_line(np.repeat(x, t.shape[1]), t.ravel())
        axes[1].plot(x, a + b * x, color=f"C{k}", label=f"t_{k}: slope {b:.1f} (pred. {1 / np.log1p(LR * s[k]):.1f})")
    axes[1].set(xlabel="log(1/σ)", ylabel="escape step", title="GD: escape time from saddle k")
    axes[1].legend(fontsize=8)
    for opt in ds.optimizer.values:
        e = ds.exit_step.sel(optimizer=opt).values.astype(float)
        e[e < 0] = np.nan
        axes[2].plot(x, np.nanmedian(e, axis=1), "o-", label=str(opt))
    axes[2].set(xlabel="log(1/σ)", ylabel="median exit step (‖w‖ > 1)", yscale="log",
                title="escape from the origin, all optimizers")
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> dict:
    parser = script_parser(__doc__)
    add_out(parser)
    parser.add_argument("--seeds", type=int, default=64, help="initial points per σ (default 64)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 3 values of σ, 4 seeds")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    sigmas = [1e-1, 1e-3, 1e-6] if args.quick else [1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6]
    seeds = 4 if args.quick else args.seeds
    log = TextLog()
    log(f"Deep linear network {WIDTHS}, teacher singular values {SINGULAR_VALUES.tolist()}, plateaus "
        f"{plateau_levels().tolist()}; σ = {sigmas}, {seeds} seeds each, η = {LR}, {STEPS} steps")
    ds = run(sigmas, seeds, STEPS, log)
    results = report(ds, log)
    ds.to_netcdf(args.out / "deep_linear_saddles.nc")
    figure(ds, args.out / "deep_linear_saddles.png")
    log.write(args.out / "deep_linear_saddles.txt")
    print(f"\nwrote the outputs to {args.out}")
    return {"dataset": ds, **results}


if __name__ == "__main__":
    main()
