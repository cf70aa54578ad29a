"""Proposition 4's 2-cycle of Adam on f = x² ("Exploring the dynamics of Adam"): refined by Newton
from simulated cycles, its Floquet multipliers, and its loss of stability in β₁ by continuation.

* Simulate Adam (η = 10⁻³, β₂ = 0.999, ε = 10⁻⁸) on x² from x₀ = 4·10⁻⁴ over a β₁ sweep with
  ``Period(on="state", orbit=True)``; refine every cycle found (``sd.refine_orbits``, the t → ∞
  map: bias corrections 1) and compare its half amplitude with A = η(1 − β₁)/(2(1 + β₁)) − ε/h
  and its multipliers with :func:`simdyn.analysis.adam_two_cycle_multipliers` (a hand-derived
  Jacobian, independent of the forward-mode transformation).
* Continue the cycle in β₁ (``sd.continue_orbit``) from β₁ = 0.05 through its loss of stability
  and compare the crossing with :func:`simdyn.analysis.periods.two_cycle_stability_boundary`
  (≈ 0.1717).
* Draw the orbit diagram with the stable (solid) and unstable (dashed) branch.

Writes ``adam_cycle_stability.nc`` (refined orbits), ``adam_cycle_continuation.nc``,
``adam_cycle_stability.png`` and ``adam_cycle_stability.txt`` to ``--out`` (default ``out/``).
``--quick``: fewer β₁ values and steps.
"""

from __future__ import annotations

import os
import sys

import numpy as np

import simdyn as sd
from _cli import add_out, script_parser
from _report import TextLog
from simdyn.analysis import adam_two_cycle, adam_two_cycle_multipliers
from simdyn.analysis.periods import two_cycle_stability_boundary

LR = 1e-3
H = np.array([[2.0]])  # f = x²


def parse_args(argv):
    p = script_parser(__doc__)
    add_out(p)
    p.add_argument("--quick", action="store_true", help="fewer beta1 values and steps")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv if argv is not None else sys.argv[1:])
    os.makedirs(args.out, exist_ok=True)
    log = TextLog()
    steps = 40_000 if args.quick else 200_000
    betas = np.linspace(0.0, 0.3, 7 if args.quick else 31)
    ds = sd.simulate("adam", "quadratic", x0=np.array([[4e-4], [-2e-3]]), steps=steps,
                     hyper={"lr": LR, "beta1": betas}, params={"h": H}, progress=False,
                     observers=[sd.observe.Period(on="state", orbit=True, max_period=8, atol=1e-12, rtol=1e-6)])
    out = sd.refine_orbits(ds)
    out.drop_vars("orbit").to_netcdf(os.path.join(args.out, "adam_cycle_stability.nc"))
    log(f"Adam on x², lr {LR:g}, beta2 0.999, eps 1e-8, {steps} steps, {ds.sizes['traj']} starts per beta1")
    log(" beta1  period  |x| refined    A closed form  rel.err   max|mu| refined  closed form  stable")
    worst_amp = worst_mu = 0.0
    for i, b in enumerate(betas):
        for j in range(ds.sizes["traj"]):
            p = int(ds.period[i, j])
            if p != 2:
                log(f" {b:5.3f}  {p:6d}  (no 2-cycle detected)")
                continue
            amp = abs(float(out.orbit_point[i, j, 0]))
            a = float(adam_two_cycle(LR, b)["half_amplitude"])
            mu = out.floquet_modulus.values[i, j]
            ref = adam_two_cycle_multipliers(LR, b)[::-1]
            worst_amp = max(worst_amp, abs(amp - a) / a)
            worst_mu = max(worst_mu, float(np.max(np.abs(mu - ref))))
            log(f" {b:5.3f}  {p:6d}  {amp:.6e}  {a:.6e}  {abs(amp - a) / a:8.1e}  {mu[0]:.9f}      "
                f"{ref[0]:.9f}  {bool(out.orbit_stable[i, j])}")
    log(f"largest relative amplitude error {worst_amp:.1e}, largest multiplier error {worst_mu:.1e}")

    cycle = adam_two_cycle(LR, 0.05)
    a, c, k = float(cycle["half_amplitude"]), float(cycle["gradient"]), 0.95 / 1.05
    values = np.linspace(0.05, 0.3, 51 if args.quick else 251)
    cont = sd.continue_orbit("adam", sd.get_landscape("quadratic", {"h": H}), (a * 1.01, -c * k, c * c), 2,
                             "beta1", values, hyper={"lr": LR})
    cont.to_netcdf(os.path.join(args.out, "adam_cycle_continuation.nc"))
    boundary = two_cycle_stability_boundary()
    changes = cont.attrs["stability_changes"]
    log(f"continuation in beta1 over [{values[0]:g}, {values[-1]:g}] ({values.size} values): "
        f"{int(cont.orbit_converged.sum())} converged; stability changes at {np.round(changes, 5).tolist()}; "
        f"closed-form boundary {boundary:.5f}")

    import matplotlib

    matplotlib.use("Agg")
    fig = sd.plot.bifurcation(ds, "beta1", "x", branches=cont)
    fig.axes[0].axvline(boundary, color="0.4", lw=0.8, ls="-.", label="closed-form boundary")
    fig.axes[0].legend(fontsize=8)
    fig.savefig(os.path.join(args.out, "adam_cycle_stability.png"), dpi=120)
    log.write(os.path.join(args.out, "adam_cycle_stability.txt"))
    return out, cont


if __name__ == "__main__":
    main()
