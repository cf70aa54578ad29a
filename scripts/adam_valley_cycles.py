"""Reproduce Section 6 of "Exploring the dynamics of Adam" (Kaiser): Adam, RMSProp, SGD and AdaGrad
in the smooth valley x² + 10⁻³y² and the sharp valley |x| + 10⁻⁴|y| (Figures 3–5, Proposition 4).

Settings (the paper's defaults): η = 10⁻³ for every optimizer; Adam β₁ = 0.9, β₂ = 0.999, ε = 10⁻⁸
(torch.optim.Adam); RMSProp with decay α = β₂ = 0.999 as in the paper's Eq. 3 (torch's default
α = 0.99 is reported on the side); SGD; AdaGrad (ε = 10⁻¹⁰, torch). Start w₀ = (0.9, 0.9), which
reproduces two of the paper's four hitting times exactly (see below); 10⁴ steps.

Per optimizer and valley it prints
* the period of w₁ (the coordinate of Figure 5; ``Period(64, coords=["x"])``), its amplitude
  (max − min over one period), center and transient, and the period of the full state (w₁, w₂);
* the steps to reach within 10⁻³ of the origin, in the max norm and in the Euclidean norm,
  against the paper's 3113 (Adam) / 1086 (RMSProp) in the smooth valley and 900 / 220 in the sharp.
It draws Figure 5 (w₁ against step per optimizer, with a zoom on the last steps) and runs three
checks of the paper's claims:
1. which diagonal start (s, s) reproduces each of the paper's hitting times;
2. a search for Adam's 2-cycle in the smooth valley at the defaults over starts (s, 0),
   s = ±10⁻⁶ … 10², 10⁴ and 10⁵ steps (the coordinates are independent for these separable
   losses, so w₁'s fate depends on its own start only);
3. Proposition 4: the closed-form 2-cycle amplitude η(1 − β₁)/(1 + β₁) − ε and its Floquet
   multipliers (:mod:`simdyn.analysis.periods`), and Adam with β₁ = 0.1 (below the stability
   boundary β₁* ≈ 0.172) settling on that cycle.

Writes ``adam_valley_cycles.nc``, ``adam_valley_cycles.png`` (Figure 5) and
``adam_valley_cycles.txt`` to ``--out`` (default ``out/``). ``--quick``: shorter runs and searches.
"""

from __future__ import annotations

import sys

import numpy as np
import xarray as xr

import simdyn as sd
from _cli import add_out, script_parser
from _report import TextLog
from simdyn.analysis import adam_two_cycle, adam_two_cycle_multipliers, two_cycle_stability_boundary

LR = 1e-3
X0 = (0.9, 0.9)
TOL = 1e-3  # "within 10⁻³ of the origin"
OPTIMIZERS = {
    "adam": {"lr": LR},
    "rmsprop": {"lr": LR, "alpha": 0.999},
    "sgd": {"lr": LR},
    "adagrad": {"lr": LR},
}
LANDSCAPES = {"valley": "smooth valley x^2 + 1e-3 y^2", "sharp_valley": "sharp valley |x| + 1e-4 |y|"}
PAPER_HITS = {("adam", "valley"): 3113, ("rmsprop", "valley"): 1086, ("adam", "sharp_valley"): 900,
              ("rmsprop", "sharp_valley"): 220}
PAPER_PERIODS = {("adam", "valley"): 2, ("adam", "sharp_valley"): 12}
COLORS = {"adam": "C3", "rmsprop": "C0", "sgd": "C2", "adagrad": "C1"}
ZORDER = {"adam": 4, "rmsprop": 3, "sgd": 2, "adagrad": 1}  # Adam drawn on top


def parse_args(argv):
    p = script_parser(__doc__)
    add_out(p)
    p.add_argument("--steps", type=int, default=None, help="steps per run (default 10000; --quick 4000)")
    p.add_argument("--quick", action="store_true", help="shorter runs and searches")
    args = p.parse_args(argv)
    args.steps = args.steps or (4000 if args.quick else 10_000)
    return args


def first_within(path: np.ndarray, norm: str) -> np.ndarray:
    """First step with ‖w_t‖ ≤ TOL along the last axis but one (−1: never); path (..., steps, d)."""
    size = np.abs(path).max(axis=-1) if norm == "max" else np.sqrt((path ** 2).sum(axis=-1))
    inside = size <= TOL
    return np.where(inside.any(axis=-1), inside.argmax(axis=-1), -1)


def run_pair(optimizer, landscape, steps):
    """One optimizer in one valley from X0: recording, w₁'s period, the full state's period."""
    hyper = OPTIMIZERS[optimizer]
    x0 = np.array([X0])
    ds = sd.simulate(optimizer, landscape, x0, steps, hyper=hyper, record_every=1,
                     observers=[sd.observe.Period(64, coords=["x"]), sd.observe.Hitting(target=(0.0, 0.0), tol=TOL)],
                     progress=False)
    full = sd.simulate(optimizer, landscape, x0, steps, hyper=hyper, observers=[sd.observe.Period(256)], progress=False)
    path = ds.trajectory.values[0]
    return {
        "period_x": int(ds.period.values[0]),
        "amplitude_x": float(ds.cycle_amplitude.values[0, 0]),
        "center_x": float(ds.cycle_center.values[0, 0]),
        "transient_x": int(ds.transient.values[0]),
        "period_w": int(full.period.values[0]),
        "status": str(sd.io.STATUS_MEANINGS[int(ds.status.values[0])]),
        "hit_max": int(first_within(path, "max")),
        "hit_euclid": int(ds.hit_step.values[0]),
        "x1": path[:, 0],
    }


def hitting_search(steps, quick, log):
    """The diagonal start (s, s) whose hitting time (max norm) equals each of the paper's."""
    scales = np.round(np.arange(0.5, 1.5001, 0.05 if quick else 0.01), 4)
    x0 = np.stack([scales, scales], axis=1)
    log("\n1. Which start (s, s) reproduces the paper's hitting times (steps to max(|x|, |y|) <= 1e-3)?")
    found = {}
    for (optimizer, landscape), paper in PAPER_HITS.items():
        ds = sd.simulate(optimizer, landscape, x0, steps, hyper=OPTIMIZERS[optimizer], record_every=1, progress=False)
        hits = first_within(ds.trajectory.values, "max")
        best = int(np.argmin(np.abs(np.where(hits < 0, 10 ** 9, hits) - paper)))
        exact = scales[hits == paper]
        found[(optimizer, landscape)] = (scales[best], int(hits[best]))
        log(f"   {optimizer:<8} {landscape:<13} paper {paper:>5}: closest s = {scales[best]:.2f} -> {hits[best]} steps"
            + (f" (exact for s = {', '.join(f'{s:.2f}' for s in exact)})" if exact.size else "")
            + f"; s = 0.90 -> {hits[np.argmin(np.abs(scales - 0.9))]} steps")
    return found


def two_cycle_search(quick, log):
    """Adam's w₁ in the smooth valley at the defaults, from starts (s, 0) over 8 decades."""
    count = 120 if quick else 600
    magnitudes = np.geomspace(1e-6, 1e2, count)
    x0 = np.stack([np.concatenate([magnitudes, -magnitudes]), np.zeros(2 * count)], axis=1)
    log(f"\n2. Adam's 2-cycle in the smooth valley at the defaults: starts (s, 0), |s| = 1e-6 ... 1e2 "
        f"({2 * count} starts)")
    results = {}
    for steps in ((10_000,) if quick else (10_000, 100_000)):
        ds = sd.simulate("adam", "valley", x0, steps, hyper={"lr": LR},
                         observers=[sd.observe.Period(64, coords=["x"], atol=1e-12)], progress=False)
        period = ds.period.values
        amplitude = ds.cycle_amplitude.values[:, 0]
        values, counts = np.unique(period, return_counts=True)
        real = (period == 2) & (amplitude > 1e-8)
        results[steps] = dict(zip(values.tolist(), counts.tolist()))
        log(f"   {steps} steps: periods of w1 {results[steps]}; 2-cycles with amplitude > 1e-8: {int(real.sum())}"
            + (f" (largest amplitude among period 2: {np.nanmax(np.where(period == 2, amplitude, np.nan)):.2e})"
               if (period == 2).any() else ""))
    return results


def proposition4(quick, log):
    """Closed-form 2-cycle, its stability, and Adam with β₁ = 0.1 settling on it."""
    log("\n3. Proposition 4 (sigma = |C|; 2-cycle of the long-run map on x^2, h = 2):")
    for beta1 in (0.9, 0.1):
        amp = float(adam_two_cycle(LR, beta1)["amplitude"])
        mult = adam_two_cycle_multipliers(LR, beta1, 0.999)
        log(f"   beta1 = {beta1}: amplitude eta(1-b1)/(1+b1) - eps = {amp:.6e}; Floquet multipliers |mu| = "
            f"{', '.join(f'{m:.4f}' for m in mult)} -> {'attracting' if mult[-1] < 1 else 'repelling'}")
    boundary = two_cycle_stability_boundary(0.999, LR)
    log(f"   stability boundary (beta2 = 0.999): the 2-cycle attracts for beta1 < {boundary:.4f}")
    steps = 60_000 if quick else 200_000
    x0 = np.array([[0.005, 0.0], [-0.002, 0.0], [0.9, 0.0]])
    ds = sd.simulate("adam", "valley", x0, steps, hyper={"lr": LR, "beta1": 0.1},
                     observers=[sd.observe.Period(64, coords=["x"], orbit=True)], progress=False)
    expected = float(adam_two_cycle(LR, 0.1)["amplitude"])
    for i, start in enumerate(x0[:, 0]):
        p, a = int(ds.period.values[i]), float(ds.cycle_amplitude.values[i, 0])
        note = f"amplitude {a:.7e} (relative error {abs(a - expected) / expected:.1e})" if p == 2 else \
            f"final |w1| = {abs(ds.w.values[i, 0]):.1e}"
        log(f"   Adam beta1 = 0.1 from w1 = {start:g}, {steps} steps: period {p}, {note}")
    return boundary, {"x1": ds["orbit"].values[0, :, 0], "steps": steps, "start": float(x0[0, 0]),
                      "period": int(ds.period.values[0])}


def figure5(rows, steps, small_beta1, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(12, 7.5), gridspec_kw={"width_ratios": [2.2, 1]}, layout="constrained")
    zoom = 48
    lag = np.arange(-zoom + 1, 1)
    for r, landscape in enumerate(LANDSCAPES):
        for optimizer in OPTIMIZERS:
            row = rows[(optimizer, landscape)]
            x1 = row["x1"]
            label = f"{optimizer} (period of w1: {row['period_x'] or 'none'})"
            axes[r, 0].plot(np.arange(x1.size), x1, lw=0.8, color=COLORS[optimizer], label=label,
                            zorder=ZORDER[optimizer])
            axes[r, 1].plot(lag, x1[-zoom:], ".-", ms=3, lw=0.7, color=COLORS[optimizer], zorder=ZORDER[optimizer])
        axes[r, 0].set_yscale("symlog", linthresh=1e-3)
        axes[r, 0].set_title(f"({'ab'[r]}) oscillations in the {LANDSCAPES[landscape]}")
        axes[r, 0].set_ylabel("w1")
        axes[r, 0].legend(fontsize=8, loc="upper right")
        axes[r, 1].set_title(f"last {zoom} of {steps} steps (linear scale)")
        axes[r, 1].ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
        axes[r, 1].set_ylim(-1.5e-3, 1.5e-3)
    # The 2-cycle the paper reports in the smooth valley exists for Adam only below beta1 ~ 0.17.
    axes[0, 1].plot(lag, small_beta1["x1"][-zoom:], "--", color="C3", lw=0.8, marker=".", ms=3,
                    label=f"adam, beta1 = 0.1, w1(0) = {small_beta1['start']:g}: period {small_beta1['period']} "
                          f"(last of {small_beta1['steps']} steps)")
    axes[0, 1].legend(fontsize=7, loc="lower right")
    axes[0, 0].set_xlabel("step")
    axes[1, 0].set_xlabel("step")
    for ax in axes[:, 1]:
        ax.set_xlabel("step - T")
    fig.suptitle("Figure 5 of 'Exploring the dynamics of Adam' (eta = 1e-3, w0 = (0.9, 0.9); "
                 "RMSProp alpha = 0.999; symlog scale below 1e-3)")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    args.out.mkdir(parents=True, exist_ok=True)
    log = TextLog()

    steps = args.steps
    log(f"Section 6 of 'Exploring the dynamics of Adam': eta = {LR}, w0 = {X0}, {steps} steps, float64")
    rows = {(o, l): run_pair(o, l, steps) for l in LANDSCAPES for o in OPTIMIZERS}
    head = (f"{'optimizer':<9} {'landscape':<13} {'period w1':>9} {'amplitude':>10} {'center':>10} {'transient':>9} "
            f"{'period w':>8} {'status':<9} {'hit max':>7} {'hit 2-norm':>10} {'paper':>6}")
    log(head)
    log("-" * len(head))
    for (optimizer, landscape), row in rows.items():
        paper = PAPER_HITS.get((optimizer, landscape), "")
        log(f"{optimizer:<9} {landscape:<13} {row['period_x']:>9} {row['amplitude_x']:>10.3e} {row['center_x']:>10.2e} "
            f"{row['transient_x']:>9} {row['period_w']:>8} {row['status']:<9} {row['hit_max']:>7} "
            f"{row['hit_euclid']:>10} {paper:>6}")
    log("(period 0: none up to the largest period looked for, 64 for w1 and 256 for w; 1: fixed point; "
        "transient: first step of the periodic regime, to within 64 steps; hit: -1 = never)")
    for (optimizer, landscape), period in PAPER_PERIODS.items():
        got = rows[(optimizer, landscape)]["period_x"]
        log(f"paper: {optimizer} in the {landscape} is {period}-periodic; here w1 has period {got}: "
            f"{'reproduced' if got == period else 'NOT reproduced'}")
    torch_rms = sd.simulate("rmsprop", "valley", np.array([X0]), steps, hyper={"lr": LR},
                            observers=[sd.observe.Period(64, coords=["x"])], progress=False)
    log(f"side note: RMSProp with torch's default alpha = 0.99 in the smooth valley: period of w1 "
        f"{int(torch_rms.period.values[0])}, amplitude {float(torch_rms.cycle_amplitude.values[0, 0]):.6e} "
        f"(2-cycle +-(eta/2 - eps/2): amplitude eta - eps = {LR - 1e-8:.6e})")

    hitting = hitting_search(steps, args.quick, log)
    search = two_cycle_search(args.quick, log)
    boundary, small_beta1 = proposition4(args.quick, log)

    names = list(OPTIMIZERS)
    lands = list(LANDSCAPES)

    def table(key, dtype=float):
        return (("optimizer", "landscape"), np.array([[rows[(o, l)][key] for l in lands] for o in names], dtype=dtype))

    ds = xr.Dataset(
        {
            "period_w1": table("period_x", np.int64),
            "cycle_amplitude_w1": table("amplitude_x"),
            "cycle_center_w1": table("center_x"),
            "transient_w1": table("transient_x", np.int64),
            "period_w": table("period_w", np.int64),
            "hit_step_max_norm": table("hit_max", np.int64),
            "hit_step_euclidean": table("hit_euclid", np.int64),
            "paper_hit_step": (("optimizer", "landscape"),
                               np.array([[PAPER_HITS.get((o, l), -1) for l in lands] for o in names], dtype=np.int64)),
            "w1": (("optimizer", "landscape", "step"),
                   np.array([[rows[(o, l)]["x1"] for l in lands] for o in names])),
        },
        coords={"optimizer": names, "landscape": lands, "step": np.arange(steps + 1)},
        attrs={
            "title": "Section 6 of 'Exploring the dynamics of Adam' reproduced with simdyn",
            "lr": LR, "w0": np.array(X0), "steps": steps, "rmsprop_alpha": 0.999,
            "adam_two_cycle_stability_boundary_beta1": boundary,
            "hitting_search": "; ".join(f"{o}/{l}: s={s:.2f} -> {h}" for (o, l), (s, h) in hitting.items()),
            "two_cycle_search": "; ".join(f"{k} steps: {v}" for k, v in search.items()),
        },
    )
    sd.save(ds, args.out / "adam_valley_cycles.nc")
    figure5(rows, steps, small_beta1, args.out / "adam_valley_cycles.png")
    log.write(args.out / "adam_valley_cycles.txt")
    log(f"wrote {args.out / 'adam_valley_cycles'}.nc, .png, .txt")
    return ds


if __name__ == "__main__":
    main()
