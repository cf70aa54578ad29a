"""Convergence rates of GD and Polyak's heavy ball on ½(L·w₁² + μ·w₂²), measured against the
lecture's closed forms (papers/adam-lecture-momentum-preconditioning.md).

Closed forms (rates as Lyapunov exponents λ, natural log per step; λ < 0 converges like e^{λt}):
* GD: w_{i,t} = (1 − ηλ_i)ᵗ w_{i,0}, so λ = ln max(|1 − ηL|, |1 − ημ|); the best step is
  η* = 2/(L + μ), with rate ln((κ − 1)/(κ + 1)), κ = L/μ.
* Heavy ball (torch.optim.SGD(momentum=β), the same recurrence as w_{t+1} = w_t − η∇f + β(w_t −
  w_{t−1})): per eigenvalue λ_i the companion matrix M_i = [[1 + β − ηλ_i, −β], [1, 0]], and
  λ = ln max_i ρ(M_i); in the complex regime (1 + β − ηλ_i)² < 4β both roots have modulus √β,
  so λ = ln √β. The best pair is η = 4/(√L + √μ)², β = ((√κ − 1)/(√κ + 1))² with λ = ln((√κ − 1)/(√κ + 1)).

Measured two ways, independently of the closed forms:
* ``sd.lyapunov``: Benettin's method on the full state (w, momentum buffer), the tangent map
  derived by forward mode from the optimizers' source;
* ``sd.simulate`` with the trajectory recorded: the slope of ln‖w_t‖ between the maxima of the
  first and last quarter of the second half of the run (an envelope fit that ignores the
  oscillation of the complex regime).

Writes ``momentum_rates_gd.nc``, ``momentum_rates_heavy_ball.nc``, ``momentum_rates.png`` and
``momentum_rates.txt`` to ``--out`` (default ``out/``). ``--quick``: coarser grids.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import xarray as xr

import simdyn as sd
from _cli import add_out, script_parser
from _report import TextLog

L, MU = 10.0, 1.0
X0 = np.array([[1.0, 1.0]])
STEPS = 400  # recorded simulation (the envelope fit): ‖w‖ stays above the float64 range at the fastest rates
LYAPUNOV_STEPS = 4000  # Benettin's average converges like 1/T (the oscillation of the complex regime)
TRANSIENT = 20
#: Learning rates per simulate call (the sweep runs in parts).
CHUNK = 16


def parse_args(argv):
    p = script_parser(__doc__)
    add_out(p)
    p.add_argument("--quick", action="store_true", help="coarser grids")
    return p.parse_args(argv)


def gd_rate(lr):
    """ln max(|1 − ηL|, |1 − ημ|)."""
    lr = np.asarray(lr, dtype=float)
    return np.log(np.maximum(np.abs(1.0 - lr * L), np.abs(1.0 - lr * MU)))


def companion_radius(lr, beta, curvature):
    """ρ of [[1 + β − ηλ, −β], [1, 0]]: the larger root modulus of γ² − (1 + β − ηλ)γ + β."""
    b = 1.0 + beta - lr * curvature
    disc = b * b - 4.0 * beta
    real = np.maximum(np.abs(b + np.sqrt(np.maximum(disc, 0.0))), np.abs(b - np.sqrt(np.maximum(disc, 0.0)))) / 2.0
    return np.where(disc < 0.0, np.sqrt(beta), real)


def heavy_ball_rate(lr, beta):
    """ln max_i ρ(M_i) over the two curvatures."""
    return np.log(np.maximum(companion_radius(lr, beta, L), companion_radius(lr, beta, MU)))


def envelope_rate(trajectory: xr.DataArray) -> xr.DataArray:
    """Slope of ln‖w_t‖ between the maxima of the first and the last quarter of the run's second half."""
    norm = np.log(np.sqrt((trajectory ** 2).sum("coord")))
    steps = trajectory.step.values
    half = steps[steps >= steps[-1] // 2]
    q = len(half) // 4
    early, late = half[:q], half[-q:]
    rise = norm.sel(step=late).max("step") - norm.sel(step=early).max("step")
    return rise / float(late.mean() - early.mean())


def measure(optimizer, hyper):
    params = {"h": np.diag([L, MU])}
    lyap = sd.lyapunov(optimizer, "quadratic", X0, LYAPUNOV_STEPS, hyper=hyper, params=params, transient=TRANSIENT)
    fits = []
    lrs = np.atleast_1d(hyper["lr"])
    for lo in range(0, lrs.size, CHUNK):  # at most CHUNK learning rates per simulate call
        sim = sd.simulate(optimizer, "quadratic", x0=X0, steps=STEPS, hyper={**hyper, "lr": lrs[lo:lo + CHUNK]},
                          params=params, record_every=1, diverge_threshold=1e300, progress=False)
        fits.append(envelope_rate(sim.trajectory.isel(traj=0, drop=True)))
    return lyap.lyapunov.isel(traj=0, drop=True), xr.concat(fits, dim="lr")


def main(argv=None):
    args = parse_args(argv if argv is not None else sys.argv[1:])
    os.makedirs(args.out, exist_ok=True)
    log = TextLog()
    kappa = L / MU
    n_lr, n_beta = (41, 21) if args.quick else (201, 81)
    log(f"Quadratic ½(L w1² + μ w2²), L = {L:g}, μ = {MU:g} (κ = {kappa:g}); start {tuple(float(x) for x in X0[0])}; "
        f"Lyapunov: {LYAPUNOV_STEPS} steps after a transient of {TRANSIENT}; envelope fit: {STEPS} recorded steps")

    # -- GD ----------------------------------------------------------------------------------------
    lrs = np.linspace(2.2 / L / n_lr, 2.2 / L, n_lr)
    lyap, fit = measure("sgd", {"lr": lrs})
    closed = gd_rate(lrs)
    gd = xr.Dataset({"rate_closed_form": (("lr",), closed), "rate_lyapunov": lyap, "rate_envelope_fit": fit},
                    coords={"lr": lrs})
    gd.attrs.update(L=L, mu=MU, steps=STEPS, lyapunov_steps=LYAPUNOV_STEPS, formula="ln max(|1 - lr L|, |1 - lr mu|)")
    gd.to_netcdf(os.path.join(args.out, "momentum_rates_gd.nc"))
    best = float(lrs[np.nanargmin(lyap.values)])
    log("GD: rate ln max(|1 − ηL|, |1 − ημ|)")
    log(f"  max |λ_lyapunov − closed form| = {np.nanmax(np.abs(lyap.values - closed)):.2e}, "
        f"max |λ_fit − closed form| = {np.nanmax(np.abs(fit.values - closed)):.2e}  over {n_lr} step sizes")
    log(f"  best measured η = {best:.4f} (grid spacing {lrs[1] - lrs[0]:.4f}); closed form 2/(L + μ) = {2 / (L + MU):.4f}")
    log(f"  rate there: measured {np.nanmin(lyap.values):.4f}, closed form ln((κ−1)/(κ+1)) = "
        f"{np.log((kappa - 1) / (kappa + 1)):.4f}")

    # -- heavy ball --------------------------------------------------------------------------------
    lr_hb = np.linspace(4.4 / L / n_lr, 4.4 / L, n_lr)
    betas = np.linspace(0.0, 0.98, n_beta)
    lyap_hb, fit_hb = measure("momentum", {"lr": lr_hb, "momentum": betas})
    closed_hb = heavy_ball_rate(lr_hb[:, None], betas[None, :])
    hb = xr.Dataset({"rate_closed_form": (("lr", "momentum"), closed_hb), "rate_lyapunov": lyap_hb,
                     "rate_envelope_fit": fit_hb}, coords={"lr": lr_hb, "momentum": betas})
    complex_regime = ((1 + betas[None, :] - lr_hb[:, None] * L) ** 2 < 4 * betas[None, :]) & \
                     ((1 + betas[None, :] - lr_hb[:, None] * MU) ** 2 < 4 * betas[None, :])
    hb["complex_regime"] = (("lr", "momentum"), complex_regime)
    hb.attrs.update(L=L, mu=MU, steps=STEPS, lyapunov_steps=LYAPUNOV_STEPS, formula="ln max_i rho([[1 + beta - lr h_i, -beta], [1, 0]])")
    hb.to_netcdf(os.path.join(args.out, "momentum_rates_heavy_ball.nc"))
    converging = closed_hb < 0
    err_l = np.abs(lyap_hb.values - closed_hb)
    err_f = np.abs(fit_hb.values - closed_hb)
    log("Heavy ball: rate ln max_i ρ(M_i)")
    overflow = ~np.isfinite(lyap_hb.values)
    log(f"  max |λ_lyapunov − closed form| = {np.nanmax(err_l):.2e} over the {int((~overflow).sum())} cells whose "
        f"state stayed finite, {np.nanmax(err_l[converging]):.2e} where it converges; median {np.nanmedian(err_l):.1e}")
    log(f"  {int(overflow.sum())} cells overflowed within {LYAPUNOV_STEPS} steps (NaN, grey in the figure); "
        f"closed-form rate there: min {closed_hb[overflow].min() if overflow.any() else np.nan:.3f} (> 0: diverging)")
    log(f"  max |λ_fit − closed form| = {np.nanmax(err_f[converging]):.2e} where it converges")
    with np.errstate(divide="ignore"):
        half_log_beta = 0.5 * np.log(betas)
    log(f"  complex regime (both roots of modulus √β): max |λ_lyapunov − ln √β| = "
        f"{np.nanmax(np.abs(lyap_hb.values - half_log_beta[None, :])[complex_regime]):.2e} "
        f"over {int(complex_regime.sum())} cells")
    i, j = np.unravel_index(np.nanargmin(lyap_hb.values), lyap_hb.shape)
    sq = np.sqrt(kappa)
    log(f"  best measured (η, β) = ({lr_hb[i]:.4f}, {betas[j]:.3f}), rate {lyap_hb.values[i, j]:.4f}; closed form "
        f"({4 / (np.sqrt(L) + np.sqrt(MU)) ** 2:.4f}, {((sq - 1) / (sq + 1)) ** 2:.3f}), rate "
        f"ln((√κ−1)/(√κ+1)) = {np.log((sq - 1) / (sq + 1)):.4f}")
    log(f"  steps to a given accuracy at the best settings, GD / heavy ball = "
        f"{np.log((sq - 1) / (sq + 1)) / np.log((kappa - 1) / (kappa + 1)):.2f} (closed form), "
        f"{np.nanmin(lyap_hb.values) / np.nanmin(lyap.values):.2f} (measured)")

    plot(gd, hb, os.path.join(args.out, "momentum_rates.png"))
    log.write(os.path.join(args.out, "momentum_rates.txt"))
    return gd, hb


def plot(gd, hb, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6), constrained_layout=True)
    ax = axes[0]
    ax.plot(gd.lr, gd.rate_closed_form, "k-", lw=2, label="ln max(|1−ηL|, |1−ημ|)")
    ax.plot(gd.lr, gd.rate_lyapunov, "C3.", ms=4, label="Lyapunov exponent (sd.lyapunov)")
    ax.plot(gd.lr, gd.rate_envelope_fit, "C0x", ms=4, label="fit of ln‖w_t‖")
    ax.axvline(2 / (L + MU), color="0.5", ls="--", label="η* = 2/(L + μ)")
    ax.axhline(0, color="0.8", lw=0.8)
    ax.set(xlabel="learning rate η", ylabel="rate λ (log per step)", title="GD")
    ax.legend(fontsize=8)
    vmax = 0.5
    for ax, var, title in ((axes[1], "rate_closed_form", "heavy ball: closed form ln ρ(M)"),
                           (axes[2], "rate_lyapunov", "heavy ball: measured (Lyapunov; grey: overflow)")):
        mesh = ax.pcolormesh(hb.momentum, hb.lr, np.clip(hb[var], -1.5, vmax), cmap="RdBu_r",
                             norm=matplotlib.colors.TwoSlopeNorm(0.0, -1.5, vmax), shading="nearest")
        ax.contour(hb.momentum, hb.lr, hb.rate_closed_form, levels=[0.0], colors="k", linewidths=1)
        ax.contour(hb.momentum, hb.lr, hb.complex_regime.astype(float), levels=[0.5], colors="0.3",
                   linewidths=0.8, linestyles="--")
        ax.set_facecolor("0.6")  # NaN: the state overflowed (diverging)
        ax.set(xlabel="momentum β", ylabel="learning rate η", title=title)
        fig.colorbar(mesh, ax=ax, label="λ (clipped to [−1.5, 0.5])")
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
