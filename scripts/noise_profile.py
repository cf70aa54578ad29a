"""The noise profile of Adam's first moment: Section 3 of "Exploring the dynamics of Adam"
(papers/exploring-the-dynamics-of-adam.md), measured over many noisy trajectories.

With gradients ∇f + σξ_t (ξ_t i.i.d. N(0, 1), ``sd.noise.Gaussian(sigma, seed)``) on a landscape
whose true gradient is zero (the 1-D user landscape ``flat``, f ≡ 0), Adam's first moment
m_T = (1 − β₁) Σ_{t=1}^{T} β₁^{T−t} σξ_t is pure noise, with the closed form

    Var[m_T] = (1 − β₁)²σ² Σ_{i=0}^{T−1} β₁²ⁱ = σ²(1 − β₁)²(1 − β₁^{2T})/(1 − β₁²)  →  σ²(1 − β₁)/(1 + β₁)

(the paper's own expression (1 − β₁)² E[(Σ_t N_t β₁^{T−t})²], summed). The limit is not zero
(0.0526σ² for β₁ = 0.9): an exponential average keeps an effective window of (1 + β₁)/(1 − β₁) =
19 gradients, however long it runs. The paper states instead that "by the central limit theorem
[...] the variance of g_t tends to zero as 1/√T"; the script prints the measured variance at
T and 10T next to what a 1/√T decay would give.

Bias correction (Kingma & Ba's m̂_T = m_T/(1 − β₁ᵀ), ``hyper={"bias_correction": True}``, the
default, against ``False``, the paper's Eq. 5) rescales it: Var[m̂_T] = Var[m_T]/(1 − β₁ᵀ)²,
σ² at T = 1, the same limit. It changes the step w_T − w_{T−1} = −η·m̂_T/(√v̂_T + ε) more: at
T = 1 the corrected step is −η·sign(g)·|g|/(|g| + ε) (variance η²), the uncorrected one
−η(1 − β₁)g/(√(1 − β₂)|g| + ε) (variance η²(1 − β₁)²/(1 − β₂) = 10η² at the defaults). For
T > 1 the step is a ratio of correlated random variables with no closed form; the script prints
the mean-field value η²·Var[m̂_T]/σ² (corrected; v̂ replaced by its mean σ²) and
η²·Var[m_T]/((1 − β₂ᵀ)σ²) (uncorrected), labelled as approximations, and an independent NumPy
simulation of the same recurrences (NumPy's generator, ``--n-reference`` trajectories).

Runs: Adam (torch's defaults: η = 10⁻³, β₁ = 0.9, β₂ = 0.999, ε = 10⁻⁸), σ = ``--sigma``
(default 1), N = ``--n`` trajectories (default 10⁶) from w₀ = 0 for T = 1000 steps, with and
without bias correction; m_t and the step are stored at checkpoint steps t by a small observer
that sees Adam's state (``MomentCheckpoints``, a buffer of checkpoints × 2 per trajectory). A
second run of max(N/100, 2000) trajectories to T = 10⁵ (bias correction on) shows that the variance stays
at its limit. Variances carry their standard error √(2/(N − 1))·Var (Gaussian samples).

Outputs in ``--out``: ``noise_profile.nc`` (variances against T, both settings, closed forms and
the NumPy reference), ``noise_profile.png`` (variance of m, m̂ and of the step against T) and
``noise_profile.txt``.

Usage: ``python scripts/noise_profile.py [--out out/] [--n 1000000] [--sigma 1] [--quick]``
(``--quick``: N = 2·10⁴, T = 200, long run to 10⁴). The full run took 8.4 minutes on 2 cores with
a peak resident memory of 1.1 GB.
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

ADAM = {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
CHECKPOINTS = (1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 200, 500, 1000, 10_000, 100_000)
SEED = 2024


def flat_grad(w, p, t):
    return (0.0,)


def flat_loss(w, p, t):
    return 0.0


FLAT = sd.Landscape("flat", dim=1, grad=flat_grad, loss=flat_loss, formula="f = 0")


class MomentCheckpoints(sd.observe.Observer):
    """Adam's first moment m_t and the step w_t − w_{t−1} at given steps t, per trajectory (1-D).

    Sees the optimizer state z_t = (w_t, m_t, v_t, w_{t−1}) (``sees_state`` and ``sees_previous``;
    Adam's slot 0 is m; for Adam only, on a 1-D landscape) and writes row k of its buffer at t = ``checkpoints[k]``. Adds ``m`` and
    ``step`` with dims (…, ``checkpoint``)."""

    name = "moment_checkpoints"
    sees_state = True
    sees_previous = True

    def __init__(self, checkpoints):
        self.checkpoints = tuple(int(t) for t in checkpoints)
        if not self.checkpoints or min(self.checkpoints) < 1:
            raise ValueError(f"MomentCheckpoints: checkpoints must be steps >= 1, got {checkpoints!r}")

    def slots(self, dim):
        if dim != 1:
            raise ValueError(f"MomentCheckpoints: the landscape must be 1-D (z = (w, m, v, w_prev)), got dim = {dim}")
        return ("last_step",)

    def buffer(self, dim):
        return (len(self.checkpoints), 2)

    def params(self, dim):
        return tuple(float(t) for t in self.checkpoints)

    def attrs(self):
        return {"checkpoints": np.array(self.checkpoints)}

    @staticmethod
    def init(z, q, buf, j):
        return (0.0,)

    @staticmethod
    def update(o, t, z, active, q, buf, j):
        for k in range(len(q)):
            if t == q[k]:
                buf[k, 0, j] = z[1]
                buf[k, 1, j] = z[0] - z[len(z) - 1]
        return (float(t),)

    def finalize(self, state, dim, buffer):
        return {
            "m": (("checkpoint",), buffer[:, 0, :].T.copy(), {"long_name": "Adam's first moment m_t at the checkpoints"}),
            "step": (("checkpoint",), buffer[:, 1, :].T.copy(), {"long_name": "step w_t - w_{t-1} at the checkpoints"}),
        }


def var_m_closed_form(t, sigma: float, beta1: float = ADAM["beta1"]) -> np.ndarray:
    """Var[m_t] = σ²(1 − β₁)²(1 − β₁^{2t})/(1 − β₁²)."""
    t = np.asarray(t, dtype=float)
    return sigma ** 2 * (1 - beta1) ** 2 * (1 - beta1 ** (2 * t)) / (1 - beta1 ** 2)


def var_m_limit(sigma: float, beta1: float = ADAM["beta1"]) -> float:
    """lim Var[m_T] = σ²(1 − β₁)/(1 + β₁)."""
    return sigma ** 2 * (1 - beta1) / (1 + beta1)


def simulate(n: int, steps: int, sigma: float, bias_correction: bool) -> xr.Dataset:
    """m_t and the step at the checkpoints ≤ ``steps`` of n noisy Adam trajectories on ``flat``."""
    checkpoints = [t for t in CHECKPOINTS if t <= steps]
    ds = sd.simulate("adam", FLAT, np.zeros((n, 1)), steps, hyper={**ADAM, "bias_correction": bias_correction},
                     noise=sd.noise.Gaussian(sigma, SEED), observers=[MomentCheckpoints(checkpoints)], progress=False)
    return ds.assign_coords(checkpoint=np.array(checkpoints))


def numpy_reference(n: int, steps: int, sigma: float, bias_correction: bool, seed: int = 7) -> dict:
    """The same Adam recurrences in NumPy (torch.optim.Adam's formula, NumPy's own normal generator):
    m and the step at the checkpoints ≤ ``steps``, for n trajectories."""
    rng = np.random.default_rng(seed)
    b1, b2, lr, eps = ADAM["beta1"], ADAM["beta2"], ADAM["lr"], ADAM["eps"]
    m, v = np.zeros(n), np.zeros(n)
    out = {"checkpoint": [], "m": [], "step": []}
    for t in range(1, steps + 1):
        g = sigma * rng.standard_normal(n)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        bc1, bc2 = (1 - b1 ** t, 1 - b2 ** t) if bias_correction else (1.0, 1.0)
        step = -(lr / bc1) * m / (np.sqrt(v) / np.sqrt(bc2) + eps)
        if t in CHECKPOINTS:
            out["checkpoint"].append(t)
            out["m"].append(m.var(ddof=1))
            out["step"].append(step.var(ddof=1))
    return {k: np.array(v) for k, v in out.items()}


def summary(runs: dict, reference: dict, sigma: float, n: int, n_long: int) -> xr.Dataset:
    """Variances against T for both settings, the closed forms, the mean-field step values and the
    NumPy reference, as one dataset."""
    b1, b2, lr = ADAM["beta1"], ADAM["beta2"], ADAM["lr"]
    out = []
    for bc, parts in runs.items():
        t = np.concatenate([ds.checkpoint.values for ds in parts]).astype(float)
        var_m = np.concatenate([ds.m.var("traj", ddof=1).values for ds in parts])
        var_step = np.concatenate([ds.step.var("traj", ddof=1).values for ds in parts])
        n_traj = np.concatenate([np.full(ds.sizes["checkpoint"], ds.sizes["traj"]) for ds in parts])
        closed = var_m_closed_form(t, sigma)
        scale = (1 - b1 ** t) ** 2 if bc else np.ones_like(t)
        mean_field = lr ** 2 * closed / scale / sigma ** 2 / (1.0 if bc else (1 - b2 ** t))
        ref = reference[bc]
        ref_step = np.full(t.shape, np.nan)
        ref_m = np.full(t.shape, np.nan)
        where = np.searchsorted(t, ref["checkpoint"])
        ref_step[where], ref_m[where] = ref["step"], ref["m"]
        out.append(xr.Dataset({
            "var_m": ("T", var_m, {"long_name": "Var[m_T] over the trajectories"}),
            "var_m_hat": ("T", var_m / (1 - b1 ** t) ** 2, {"long_name": "Var[m_T/(1 - beta1^T)]"}),
            "var_m_closed_form": ("T", closed, {"long_name": "sigma^2 (1-b1)^2 (1-b1^2T)/(1-b1^2)"}),
            "var_step": ("T", var_step, {"long_name": "Var[w_T - w_{T-1}]"}),
            "var_step_mean_field": ("T", mean_field, {"long_name": "lr^2 Var[m_hat_T]/E[v_hat_T] (approximation)"}),
            "var_m_numpy": ("T", ref_m, {"long_name": "Var[m_T], NumPy simulation"}),
            "var_step_numpy": ("T", ref_step, {"long_name": "Var[w_T - w_{T-1}], NumPy simulation"}),
            "n_trajectories": ("T", n_traj),
        }, coords={"T": t.astype(np.int64)}))
    result = xr.concat(out, dim="bias_correction", join="outer").assign_coords(bias_correction=list(runs))
    result["var_m_limit"] = var_m_limit(sigma)
    result.attrs.update({"sigma": sigma, "seed": SEED, "n": n, "n_long": n_long,
                         **{f"adam_{k}": v for k, v in ADAM.items()},
                         "study": "Adam's first-moment noise (scripts/noise_profile.py)"})
    return result


def figure(res: xr.Dataset, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(14, 5), layout="constrained")
    sigma = float(res.sigma)
    t = np.geomspace(1, float(res.T.max()), 200)
    ax = axes[0]
    on, off = res.sel(bias_correction=True), res.sel(bias_correction=False)
    ax.plot(t, var_m_closed_form(t, sigma), "k-", lw=1, label="closed form Var[m_T]")
    ax.plot(t, var_m_closed_form(t, sigma) / (1 - ADAM["beta1"] ** t) ** 2, "k--", lw=1,
            label="closed form Var[m_T/(1 - b1^T)]")
    ax.plot(off.T, off.var_m, "o", color="tab:blue", label="Var[m_T] (bias correction off)")
    ax.plot(on.T, on.var_m_hat, "s", mfc="none", color="tab:red", label="Var[m_hat_T] (on)")
    ax.plot(t, sigma ** 2 / np.sqrt(t), ":", color="0.5", label="paper's claim: ~ 1/sqrt(T)")
    ax.axhline(float(res.var_m_limit), color="tab:green", lw=0.8, label="limit sigma^2 (1-b1)/(1+b1)")
    ax.set(xscale="log", yscale="log", xlabel="T", ylabel="variance", title=f"first moment, sigma = {sigma:g}")
    ax.legend(fontsize=8)
    ax = axes[1]
    for bc, color in ((True, "tab:red"), (False, "tab:blue")):
        sel = res.sel(bias_correction=bc)
        ax.plot(sel.T, sel.var_step, "o", color=color, label=f"Var[step], bias correction {'on' if bc else 'off'}")
        ax.plot(sel.T, sel.var_step_numpy, "x", color="k", ms=7)
        ax.plot(sel.T, sel.var_step_mean_field, "-", color=color, lw=0.8, alpha=0.7)
    ax.plot([], [], "kx", label="NumPy simulation")
    ax.plot([], [], "-", color="0.4", label="mean field lr^2 Var[m_hat]/E[v_hat]")
    ax.set(xscale="log", yscale="log", xlabel="T", ylabel="variance of w_T - w_{T-1}",
           title=f"step, lr = {ADAM['lr']:g}, beta2 = {ADAM['beta2']:g}")
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def parse_args(argv):
    parser = script_parser(__doc__)
    add_out(parser)
    parser.add_argument("--n", type=int, default=None, help="noisy trajectories (default 10^6; --quick 2*10^4)")
    parser.add_argument("--n-reference", type=int, default=None,
                        help="trajectories of the NumPy reference (default 10^5; --quick 10^4)")
    parser.add_argument("--sigma", type=float, default=1.0, help="gradient noise standard deviation (default 1)")
    parser.add_argument("--quick", action="store_true", help="smoke run: N = 2*10^4, T = 200, long run to 10^4")
    args = parser.parse_args(argv)
    args.n = args.n or (20_000 if args.quick else 1_000_000)
    args.n_reference = args.n_reference or (10_000 if args.quick else 100_000)
    if args.n < 100 or args.n_reference < 2:
        parser.error("--n must be at least 100 and --n-reference at least 2")
    if not (np.isfinite(args.sigma) and args.sigma > 0):
        parser.error("--sigma must be finite and > 0")
    return args


def main(argv=None) -> xr.Dataset:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = TextLog()
    steps, long_steps = (200, 10_000) if args.quick else (1000, 100_000)
    n_long = max(args.n // 100, 2000)
    sigma = args.sigma
    log(f"Adam {ADAM} on f = 0 with gradient noise sigma = {sigma:g}: {args.n} trajectories x {steps} steps "
        f"(both bias-correction settings), {n_long} x {long_steps} steps (on)")

    runs = {bc: [simulate(args.n, steps, sigma, bc)] for bc in (True, False)}
    long_run = simulate(n_long, long_steps, sigma, True)
    runs[True].append(long_run.sel(checkpoint=[t for t in long_run.checkpoint.values if t > steps]))
    reference = {bc: numpy_reference(args.n_reference, steps, sigma, bc) for bc in (True, False)}
    res = summary(runs, reference, sigma, args.n, n_long)

    se = np.sqrt(2.0 / (res.n_trajectories - 1))
    off = res.sel(bias_correction=False)
    log(f"\nVar[m_T] (m does not depend on the flag; bias correction off shown), closed form, z = (measured - closed)/SE")
    log(f"{'T':>7} {'N':>8} {'measured':>12} {'closed form':>12} {'z':>6} {'NumPy':>12} {'Var[m_hat_T]':>12}")
    for bc_sel in (off, res.sel(bias_correction=True)):
        for T in bc_sel.T.values:
            row = bc_sel.sel(T=T)
            if np.isnan(row.var_m) or (bc_sel is not off and T <= steps):
                continue
            z = float((row.var_m - row.var_m_closed_form) / (row.var_m_closed_form * se.sel(bias_correction=bool(
                row.bias_correction), T=T)))
            log(f"{T:7d} {int(row.n_trajectories):8d} {float(row.var_m):12.6g} {float(row.var_m_closed_form):12.6g} "
                f"{z:+6.2f} {float(row.var_m_numpy):12.6g} {float(res.sel(bias_correction=True, T=T).var_m_hat):12.6g}")
    limit = var_m_limit(sigma)
    last = res.sel(bias_correction=True).dropna("T", subset=["var_m"])
    t_a, t_b = steps // 10, steps
    v_a, v_b = float(off.var_m.sel(T=t_a)), float(off.var_m.sel(T=t_b))
    log(f"\nlimit sigma^2 (1 - b1)/(1 + b1) = {limit:.6g}; measured at T = {int(last.T[-1])}: {float(last.var_m[-1]):.6g} "
        f"(N = {int(last.n_trajectories[-1])})")
    log(f"paper: 'the variance of g_t tends to zero as 1/sqrt(T)'. Measured Var[m_{t_b}]/Var[m_{t_a}] = {v_b / v_a:.4f}; "
        f"1/sqrt(T) would give {np.sqrt(t_a / t_b):.4f}, 1/T {t_a / t_b:.4f}. At T = {int(last.T[-1])} a 1/sqrt(T) decay "
        f"from Var[m_hat_1] = sigma^2 would leave {sigma ** 2 / np.sqrt(float(last.T[-1])):.3g}; measured {float(last.var_m[-1]):.3g}: the "
        "variance does not tend to zero")

    log(f"\nVariance of the step w_T - w_{{T-1}} (lr = {ADAM['lr']:g}); mean field = approximation, NumPy = "
        f"independent simulation ({args.n_reference} trajectories)")
    log(f"{'T':>7} " + " ".join(f"{'BC ' + s + ' ' + k:>18}" for s in ("on", "off") for k in ("measured", "NumPy", "mean field")))
    for T in res.T.values:
        cells = []
        for bc in (True, False):
            row = res.sel(bias_correction=bc, T=T)
            cells += [f"{float(row.var_step):18.5g}", f"{float(row.var_step_numpy):18.5g}", f"{float(row.var_step_mean_field):18.5g}"]
        log(f"{T:7d} " + " ".join(cells))
    lr2 = ADAM["lr"] ** 2
    log(f"T = 1 closed forms: bias correction on lr^2 = {lr2:.4g}, off lr^2 (1-b1)^2/(1-b2) = "
        f"{lr2 * (1 - ADAM['beta1']) ** 2 / (1 - ADAM['beta2']):.4g}")

    res.to_netcdf(out / "noise_profile.nc")
    figure(res, out / "noise_profile.png")
    log.write(out / "noise_profile.txt")
    log(f"wrote {out / 'noise_profile.nc'}, noise_profile.png, noise_profile.txt")
    return res


if __name__ == "__main__":
    main()
