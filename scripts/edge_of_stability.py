"""Edge of stability on the trainability network: the sharpness along full-batch GD and Adam.

Setting: ``sd.landscapes.mlp`` with 16 inputs, width 16, one output (d = 272), 272 examples of
N(0, 1) inputs and targets (seed 0), weights N(0, 1) (``mlp_init``, seed 1). Full-batch GD at
several learning rates η in one ``sd.simulate`` call, with ``sd.observe.Sharpness(every=k)``
(λ_max of the Hessian by warm-started power iteration, 20 products per measurement).

Expected (Cohen, Kaur, Li, Kolter & Talwalkar 2021, "Gradient descent on neural networks
typically occurs at the edge of stability", Figure 1): the sharpness rises (progressive
sharpening) until it reaches 2/η, then hovers there while the loss keeps decreasing,
non-monotonically. For Adam (Cohen et al. 2022, "Adaptive gradient methods at the edge of
stability"), the preconditioned sharpness λ_max(P_t⁻¹H) rises to and hovers at the stability
threshold of the frozen-preconditioner quadratic, (2 + 2β₁)/((1 − β₁)η) = 38/η at β₁ = 0.9.

Reported per η: the sharpness at t = 0, its maximum, the median over the second half of the
run, that median divided by the threshold, and the final loss. Writes
``edge_of_stability_gd.nc``, ``edge_of_stability_adam.nc``, ``edge_of_stability.png`` (sharpness
against step with the threshold lines, one panel per optimizer) and ``edge_of_stability.txt`` to
``--out`` (default ``out/``). ``--quick``: fewer steps and learning rates (a smoke run).
"""

from __future__ import annotations

import os
import sys

import numpy as np

import simdyn as sd
from _cli import add_out, script_parser
from _report import TextLog

N_IN, WIDTH, N_OUT, EXAMPLES = 16, 16, 1, 272
BETA1 = 0.9


def parse_args(argv):
    p = script_parser(__doc__)
    add_out(p)
    p.add_argument("--quick", action="store_true", help="fewer steps and learning rates (a smoke run)")
    return p.parse_args(argv)


def network():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(EXAMPLES, N_IN)), rng.normal(size=(EXAMPLES, N_OUT))
    return sd.landscapes.mlp(x, y, width=WIDTH)


def run(optimizer, lrs, steps, every, preconditioned):
    w0 = sd.landscapes.mlp_init(N_IN, WIDTH, N_OUT, n=1, seed=1)
    hyper = {"lr": np.asarray(lrs, dtype=float)}
    if optimizer == "adam":
        hyper["beta1"] = BETA1
    ds = sd.simulate(optimizer, network(), w0, steps, hyper=hyper, record_every=every,
                     observers=[sd.observe.Sharpness(every=every, iterations=20, preconditioned=preconditioned)],
                     progress=False)
    return ds.isel(traj=0, drop=True)


def summary(log, ds, threshold, label):
    """One line per η: the sharpness at 0, max, median over the second half / threshold."""
    steps = ds.sharpness_step.values
    late = steps >= steps[-1] // 2
    for lr in ds.lr.values:
        s = ds.sharpness.sel(lr=lr).values
        edge = threshold(lr)
        median = np.nanmedian(s[late])
        first = s[0] if np.isfinite(s[0]) else s[1]
        log(f"  η = {lr:<7g} {label} = {edge:<8.4g} sharpness: start {first:.4g}, max {np.nanmax(s):.4g}, "
            f"median of 2nd half {median:.4g} = {median / edge:.3f} × threshold; final loss "
            f"{float(ds.loss.sel(lr=lr)):.3g}, status {str(ds.status.sel(lr=lr).attrs['flag_meanings'].split()[int(ds.status.sel(lr=lr))])}")


def figure(path, gd, adam):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 6.5), sharex="col", gridspec_kw={"height_ratios": [1, 2]})
    panels = ((gd, lambda lr: 2.0 / lr, "GD: sharpness λ_max(H)", "2/η"),
              (adam, lambda lr: (2 + 2 * BETA1) / ((1 - BETA1) * lr), "Adam: λ_max(P⁻¹H)", "38/η"))
    colors = plt.cm.viridis(np.linspace(0.0, 0.85, max(len(gd.lr), len(adam.lr))))
    for col, (ds, threshold, title, label) in enumerate(panels):
        loss_ax, sharp_ax = axes[0, col], axes[1, col]
        for color, lr in zip(colors, ds.lr.values):
            loss_ax.plot(ds.step, ds["train_loss"].sel(lr=lr), color=color, lw=1)
            sharp_ax.plot(ds.sharpness_step, ds.sharpness.sel(lr=lr), color=color, lw=1, label=f"η = {lr:g}")
            sharp_ax.axhline(threshold(lr), color=color, ls="--", lw=1)
        loss_ax.set_ylabel("train loss")
        loss_ax.set_yscale("log")
        sharp_ax.set_yscale("log")
        loss_ax.set_title(title + f" (dashed: {label})")
        sharp_ax.set_xlabel("step")
        sharp_ax.set_ylabel("sharpness")
        sharp_ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def with_loss(ds):
    """Add ``train_loss`` (lr, step): the loss at each recorded point, evaluated in NumPy."""
    land = network()
    x, y = land.data_arrays[:2]
    w = ds.trajectory.values  # (lr, step, d)
    n0, n1 = N_IN, WIDTH
    w1 = w[..., : n0 * n1].reshape(w.shape[:-1] + (n0, n1))
    w2 = w[..., n0 * n1:].reshape(w.shape[:-1] + (n1, N_OUT))
    # the network of the trainability paper: Z = X·W / √fan_in, tanh(√2·Z), output divided by √n1 twice
    hidden = np.tanh(np.sqrt(2.0) * np.einsum("mk,...kj->...mj", x, w1) / np.sqrt(n0))
    out = np.einsum("...mj,...jo->...mo", hidden, w2) / n1
    ds["train_loss"] = (("lr", "step"), ((out - y) ** 2).mean(axis=(-2, -1)))
    return ds


def main(argv=None):
    args = parse_args(argv if argv is not None else sys.argv[1:])
    os.makedirs(args.out, exist_ok=True)
    log = TextLog()
    if args.quick:
        gd_lrs, adam_lrs, steps, every = [20.0, 40.0], [0.01], 60, 10
    else:
        gd_lrs, adam_lrs, steps, every = [5.0, 10.0, 20.0, 40.0, 80.0], [0.03, 0.1, 0.3], 3000, 10
    log(f"mlp {N_IN}-{WIDTH}-{N_OUT} (d = {WIDTH * (N_IN + N_OUT)}), {EXAMPLES} examples, full batch, {steps} steps, "
        f"sharpness every {every} steps (power iteration, 20 Hessian-vector products)")
    gd = with_loss(run("sgd", gd_lrs, steps, every, preconditioned=False))
    gd.to_netcdf(os.path.join(args.out, "edge_of_stability_gd.nc"))
    log("GD: sharpness λ_max(H) against 2/η")
    summary(log, gd, lambda lr: 2.0 / lr, "2/η")
    adam = with_loss(run("adam", adam_lrs, steps, every, preconditioned=True))
    adam.to_netcdf(os.path.join(args.out, "edge_of_stability_adam.nc"))
    log(f"Adam (β₁ = {BETA1}, β₂ = 0.999, ε = 1e-8): preconditioned sharpness λ_max(P⁻¹H) against 38/η")
    summary(log, adam, lambda lr: (2 + 2 * BETA1) / ((1 - BETA1) * lr), "38/η")
    figure(os.path.join(args.out, "edge_of_stability.png"), gd, adam)
    log.write(os.path.join(args.out, "edge_of_stability.txt"))
    return gd, adam


if __name__ == "__main__":
    main()
