"""Reddi, Kale & Kumar's online counterexample (2018, "On the Convergence of Adam and Beyond",
Section 3; retold in papers/adam-latest-trends.md): Adam drifts to the worst point x = +1 and keeps
a non-zero average regret, AMSGrad goes to the best point x = −1.

Problem (registered landscape ``reddi``): f_t(x) = C·x if t mod 3 = 1, else −x, on x ∈ [−1, 1]
(projected after every step), C = 3, step size η_t = η/√t (``sd.schedule.inverse_sqrt``).
The best fixed point is x* = −1, and the regret after T steps is

    R_T = Σ_{t=1}^{T} f_t(x_{t−1}) − f_t(−1) = Σ_t c_t·(x_{t−1} + 1),   c_t = C if t mod 3 = 1 else −1,

accumulated inside the kernel by a small observer (``Regret`` below; x_{t−1} is the point whose
gradient step t uses). At x ≡ +1 it grows as R_T/T → 2(C − 2)/3 (= 2/3 for C = 3); at x ≡ −1 it is 0.

Settings (the survey states none; Reddi et al.'s Theorem 1 uses β₁ = 0, β₂ = 1/(1 + C²),
η_t = η/√t with η < √(1 − β₂), and Adam without bias correction, their Algorithm 1):
β₁ = 0, β₂ = 1/(1 + C²) = 0.1, η = 0.1, ε = 10⁻⁸, ``bias_correction=False`` for both Adam and
AMSGrad, starts x₀ ∈ {−1, 0, 1}, T = 10⁶.

The claim depends on β₂. With β₁ = 0 and η_t nearly constant over one period (large t), v
settles into a 3-cycle v₁ (after the C step), v₂, v₃ with

    v₁ = (1 − β₂)(C² + β₂ + β₂²)/(1 − β₂³),   v₂ = β₂v₁ + (1 − β₂),   v₃ = β₂v₂ + (1 − β₂),

and the drift of Adam over a period is η_t·D(β₂), D = −C/√v₁ + 1/√v₂ + 1/√v₃. Adam goes to +1
where D > 0, i.e. for β₂ below the root β₂* of D (0.4723 for C = 3), and to −1 above it:
with torch's default β₂ = 0.999 and C = 3, Adam converges to the right point. AMSGrad divides by
max_s v_s = v₁ every step, so its drift (2 − C)/√v₁ is negative for every β₂ when C > 2.

Printed and saved: x_T and R_T/T of both optimizers for T on a log grid up to 10⁶ (one
``sd.simulate`` call per T), and x_T, R_T/T over a grid of β₂ (one call, β₂ swept), each next to
an independent NumPy implementation of the same recurrences (vectorised over the runs, looping
over t) and, for the β₂ sweep, the sign of D(β₂).

Outputs in ``--out``: ``reddi_counterexample.nc`` (x_T and R_T over the T grid),
``reddi_counterexample_beta2.nc`` (the sweep), ``reddi_counterexample.png`` (x_T and R_T/T vs T,
log T axis; final x vs β₂ with β₂*) and ``reddi_counterexample.txt`` (the printed report).

Usage: ``python scripts/reddi_counterexample.py [--out out/] [--quick]`` (``--quick``:
T = 10⁴ and 12 values of β₂).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import xarray as xr
from scipy.optimize import brentq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import simdyn as sd  # noqa: E402
from _cli import add_out, script_parser  # noqa: E402
from _report import TextLog  # noqa: E402

C = 3.0
LR = 0.1
BETA1 = 0.0
BETA2 = 1.0 / (1.0 + C * C)
EPS = 1e-8
STARTS = np.array([[-1.0], [0.0], [1.0]])
OPTIMIZERS = ["adam", "amsgrad"]


class Regret(sd.observe.Observer):
    """Online regret against the fixed point −1 on the ``reddi`` problem:
    R_T = Σ_{t=1}^{T} f_t(x_{t−1}) − f_t(−1) = Σ_t c_t·(x_{t−1} + 1), c_t = C if t mod 3 = 1 else −1
    (Reddi et al. 2018, Section 3). Adds the variable ``regret``; ``C`` is a run-time parameter."""

    name = "regret"
    sees_previous = True  # update receives (x_t, x_{t-1})

    def __init__(self, c: float = C):
        self.c = float(c)

    def slots(self, dim):
        return ("regret",)

    def params(self, dim):
        return (self.c,)

    def attrs(self):
        return {"C": self.c, "comparator": -1.0}

    @staticmethod
    def init(w, q):
        return (0.0,)

    @staticmethod
    def update(o, t, w, active, q):
        x_before = w[1]
        weight = q[0] if t % 3 == 1 else -1.0
        return (o[0] + weight * (x_before + 1.0),)

    def finalize(self, state, dim):
        return {"regret": ((), state["regret"], {"long_name": "regret R_T against x = -1"})}


def adam_drift(beta2: float, c: float = C) -> float:
    """D(β₂) = −C/√v₁ + 1/√v₂ + 1/√v₃ on the stationary 3-cycle of v (β₁ = 0, ε = 0)."""
    a = 1.0 - beta2
    v1 = a * (c * c + beta2 + beta2 * beta2) / (1.0 - beta2 ** 3)
    v2 = beta2 * v1 + a
    v3 = beta2 * v2 + a
    return -c / np.sqrt(v1) + 1.0 / np.sqrt(v2) + 1.0 / np.sqrt(v3)


def critical_beta2(c: float = C) -> float:
    """The root β₂* of Adam's drift per period D(β₂) (β₁ = 0; see the module docstring)."""
    return brentq(lambda b: adam_drift(b, c), 1e-9, 1 - 1e-9)


def numpy_reference(beta2: np.ndarray, amsgrad: np.ndarray, x0: np.ndarray, checkpoints) -> dict:
    """x_T and R_T of Adam / AMSGrad (no bias correction, β₁ = 0 allowed) on the problem, for flat
    arrays of runs (β₂, amsgrad flag, x₀), at every T in ``checkpoints``: a direct NumPy loop over t.

    m_t = β₁m + (1 − β₁)g_t, v_t = β₂v + (1 − β₂)g_t², v̂_t = max(v̂, v_t) (AMSGrad) or v_t,
    x_t = clip(x_{t−1} − η/√t · m_t/(√v̂_t + ε), −1, 1)."""
    x = x0.astype(float).copy()
    m = np.zeros_like(x)
    v = np.zeros_like(x)
    v_hat = np.zeros_like(x)
    regret = np.zeros_like(x)
    wanted = set(int(T) for T in checkpoints)
    out = {"x": {}, "regret": {}}
    for t in range(1, max(wanted) + 1):
        g = C if t % 3 == 1 else -1.0
        regret += g * (x + 1.0)
        m = BETA1 * m + (1.0 - BETA1) * g
        v = beta2 * v + (1.0 - beta2) * g * g
        v_hat = np.where(amsgrad, np.maximum(v_hat, v), v)
        x = np.clip(x - (LR / np.sqrt(t)) * m / (np.sqrt(v_hat) + EPS), -1.0, 1.0)
        if t in wanted:
            out["x"][t] = x.copy()
            out["regret"][t] = regret.copy()
    return out


def hyper(beta2) -> dict:
    return {"lr": sd.schedule.inverse_sqrt(LR), "beta1": BETA1, "beta2": beta2, "eps": EPS, "bias_correction": False}


def over_time(horizons) -> xr.Dataset:
    """x_T and R_T at each T of ``horizons``: one simulate call per T (β₂ = 1/(1 + C²))."""
    runs = []
    for T in horizons:
        ds = sd.simulate(OPTIMIZERS, "reddi", STARTS, int(T), hyper=hyper(BETA2), params={"C": C},
                         observers=[Regret(C)], progress=False)
        runs.append(xr.Dataset({"x": ds.w.sel(coord="x", drop=True), "regret": ds.regret}))
    out = xr.concat(runs, dim="T", combine_attrs="drop").assign_coords(T=np.asarray(horizons, dtype=np.int64))
    out["regret_per_step"] = out.regret / out.T
    out.attrs.update({k: v for k, v in ds.attrs.items() if k != "steps"})
    return out


def over_beta2(beta2s, steps: int) -> xr.Dataset:
    """x_T and R_T over the β₂ grid: one simulate call, β₂ swept."""
    ds = sd.simulate(OPTIMIZERS, "reddi", STARTS, steps, hyper=hyper(beta2s), params={"C": C},
                     observers=[Regret(C)], progress=False)
    ds["regret_per_step"] = ds.regret / steps
    ds["drift_sign"] = xr.DataArray(np.sign([adam_drift(b) for b in beta2s]), dims="beta2",
                                    attrs={"long_name": "sign of Adam's drift per period D(beta2), closed form"})
    return ds


def reference_for(ds_time: xr.Dataset, ds_beta2: xr.Dataset) -> tuple[dict, dict]:
    """The NumPy reference on the same runs: the T grid at β₂ = 1/(1 + C²) and the β₂ sweep at T."""
    beta2s = ds_beta2.beta2.values
    n_opt, n_b, n_x = len(OPTIMIZERS), beta2s.size + 1, STARTS.shape[0]
    b = np.broadcast_to(np.append(beta2s, BETA2)[None, :, None], (n_opt, n_b, n_x)).ravel()
    ams = np.broadcast_to(np.array([o == "amsgrad" for o in OPTIMIZERS])[:, None, None], (n_opt, n_b, n_x)).ravel()
    x0 = np.broadcast_to(STARTS[:, 0][None, None, :], (n_opt, n_b, n_x)).ravel()
    ref = numpy_reference(b, ams, x0, list(ds_time.T.values) + [int(ds_beta2.attrs["steps"])])
    shape = (n_opt, n_b, n_x)
    per_time = {k: np.stack([ref[k][int(T)].reshape(shape)[:, -1, :] for T in ds_time.T.values]) for k in ref}
    steps = int(ds_beta2.attrs["steps"])
    per_beta2 = {k: ref[k][steps].reshape(shape)[:, :-1, :] for k in ref}
    return per_time, per_beta2


def figure(ds_time: xr.Dataset, ds_beta2: xr.Dataset, beta2_star: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6), layout="constrained")
    colors = {"adam": "tab:red", "amsgrad": "tab:blue"}
    for opt in OPTIMIZERS:
        for i, start in enumerate(STARTS[:, 0]):
            sel = ds_time.sel(optimizer=opt).isel(traj=i)
            label = f"{opt}" if i == 0 else None
            axes[0].plot(sel.T, sel.x, "o-", ms=3, color=colors[opt], alpha=0.5 + 0.25 * i, label=label)
            axes[1].plot(sel.T, sel.regret_per_step.where(sel.regret_per_step > 0), "o-", ms=3, color=colors[opt],
                         alpha=0.5 + 0.25 * i, label=label)
    axes[0].set(xscale="log", xlabel="T", ylabel="x_T", title=f"x_T from x0 = -1, 0, 1 (beta2 = {BETA2:.3g})")
    axes[1].axhline(2 * (C - 2) / 3, color="k", ls="--", lw=1, label="2(C-2)/3 (x = +1)")
    axes[1].set(xscale="log", yscale="log", xlabel="T", ylabel="R_T / T", title="average regret vs x = -1 (zeros not drawn)")
    for opt in OPTIMIZERS:
        sel = ds_beta2.sel(optimizer=opt)
        for i in range(STARTS.shape[0]):
            axes[2].plot(sel.beta2, sel.w.sel(coord="x").isel(traj=i), "o-" if i == 0 else ".", ms=3,
                         color=colors[opt], label=opt if i == 0 else None)
    axes[2].axvline(beta2_star, color="k", ls=":", label=f"beta2* = {beta2_star:.4f} (D = 0)")
    axes[2].set(xlabel="beta2", ylabel=f"x_T, T = {int(ds_beta2.attrs['steps'])}", title="final x vs beta2")
    for ax in axes:
        ax.legend(fontsize=8)
    fig.suptitle(f"Reddi et al.'s problem, C = {C:g}, eta_t = {LR:g}/sqrt(t), beta1 = {BETA1:g}, no bias correction")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def parse_args(argv):
    parser = script_parser(__doc__)
    add_out(parser)
    parser.add_argument("--quick", action="store_true", help="smoke run: T = 10^4 and 12 values of beta2")
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = TextLog()
    steps = 10_000 if args.quick else 1_000_000
    horizons = np.unique(np.round(np.logspace(0, np.log10(steps), 4 * int(round(np.log10(steps))) + 1))).astype(int)
    beta2s = np.unique(np.round(np.append(np.linspace(0.0, 0.99, 12 if args.quick else 45), [BETA2, 0.999]), 6))
    beta2_star = critical_beta2()

    log(f"Reddi et al.'s problem: C = {C:g}, eta_t = {LR:g}/sqrt(t), beta1 = {BETA1:g}, beta2 = 1/(1+C^2) = "
        f"{BETA2:.4g}, eps = {EPS:g}, no bias correction; starts {STARTS[:, 0].tolist()}; T up to {steps}")
    ds_time = over_time(horizons)
    ds_beta2 = over_beta2(beta2s, steps)
    ds_beta2.attrs["steps"] = steps
    ref_time, ref_beta2 = reference_for(ds_time, ds_beta2)

    log(f"\nx_T and R_T/T (start x0 = 0); NumPy reference in brackets; at x = +1, R_T/T -> 2(C-2)/3 = {2 * (C - 2) / 3:.4f}")
    log(f"{'T':>9} " + " ".join(f"{opt + ' x_T':>24} {opt + ' R_T/T':>24}" for opt in OPTIMIZERS))
    mid = 1
    for k, T in enumerate(ds_time.T.values):
        cells = []
        for o, opt in enumerate(OPTIMIZERS):
            sel = ds_time.sel(optimizer=opt, T=T).isel(traj=mid)
            cells.append(f"{float(sel.x):+10.6f} [{ref_time['x'][k, o, mid]:+10.6f}] "
                         f"{float(sel.regret_per_step):10.6f} [{ref_time['regret'][k, o, mid] / T:10.6f}]")
        log(f"{T:9d} " + " ".join(cells))
    x_err = float(np.abs(ds_time.x.transpose("T", "optimizer", "traj").values - ref_time["x"]).max())
    r_err = float(np.abs((ds_time.regret.transpose("T", "optimizer", "traj").values - ref_time["regret"])
                         / ds_time.T.values[:, None, None]).max())
    log(f"largest difference from NumPy over the T grid, all starts: x {x_err:.2e}, R_T/T {r_err:.2e}")

    log(f"\nbeta2 sweep at T = {steps} (one call): x_T from x0 = -1 / 0 / 1, sign of Adam's drift D(beta2); "
        f"closed form beta2* = {beta2_star:.6f}")
    log(f"{'beta2':>8} {'D sign':>6} " + " ".join(f"{opt + ' x_T':>26} {opt + ' R_T/T':>13}" for opt in OPTIMIZERS))
    for j, b in enumerate(ds_beta2.beta2.values):
        cells = []
        for opt in OPTIMIZERS:
            sel = ds_beta2.sel(optimizer=opt).isel(beta2=j)
            xs = " ".join(f"{v:+.4f}" for v in sel.w.sel(coord="x").values)
            cells.append(f"{xs:>26} {float(sel.regret_per_step.isel(traj=mid)):13.6f}")
        log(f"{b:8.4f} {int(ds_beta2.drift_sign[j]):+6d} " + " ".join(cells))
    sweep_x = ds_beta2.w.sel(coord="x").transpose("optimizer", "beta2", "traj").values
    sweep_err = float(np.abs(sweep_x - ref_beta2["x"]).max())
    log(f"largest difference from NumPy over the sweep: x {sweep_err:.2e}, R_T/T "
        f"{float(np.abs(ds_beta2.regret.transpose('optimizer', 'beta2', 'traj').values - ref_beta2['regret']).max()) / steps:.2e}")
    adam_x = ds_beta2.w.sel(optimizer="adam", coord="x")
    agree = (adam_x * ds_beta2.drift_sign > 0.99).all("traj")
    log(f"Adam ends within 1e-2 of the side that sign D(beta2) predicts, from every start, for {int(agree.sum())}"
        f"/{agree.size} values of beta2" + ("" if bool(agree.all()) else
                                            f" (not at beta2 = {ds_beta2.beta2.values[~agree.values].tolist()})"))
    log(f"AMSGrad ends at x = -1 (to 1e-2) for {int((ds_beta2.w.sel(optimizer='amsgrad', coord='x') < -0.99).all('traj').sum())}"
        f"/{beta2s.size} values of beta2")

    ds_time.attrs.update({"study": "Reddi et al. counterexample over T (scripts/reddi_counterexample.py)",
                          "beta2_star": beta2_star})
    ds_beta2.attrs["beta2_star"] = beta2_star
    ds_time.to_netcdf(out / "reddi_counterexample.nc")
    ds_beta2.simdyn.save(out / "reddi_counterexample_beta2.nc")
    figure(ds_time, ds_beta2, beta2_star, out / "reddi_counterexample.png")
    log.write(out / "reddi_counterexample.txt")
    log(f"wrote {out / 'reddi_counterexample.nc'}, reddi_counterexample_beta2.nc, .png, .txt")
    return {"time": ds_time, "beta2": ds_beta2, "beta2_star": beta2_star}


if __name__ == "__main__":
    main()
