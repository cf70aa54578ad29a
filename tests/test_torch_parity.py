"""Whole trajectories of every registered optimizer against torch.optim, step by step.

The oracle is torch.optim (DESIGN.md §2: "float64 results must match these references step for
step"). The torch side gets ``p.grad`` from the gradient formulas written out below in NumPy,
independently of simdyn's landscape code, and runs with ``foreach=False``. Flags torch does not
have (adam's ``bias_correction`` and ``eps_inside_sqrt``) are checked against a NumPy loop of the
formula in simdyn.optimizers.adam's docstring.

Tolerance: rtol 1e-10 at every step. torch's CPU kernels fuse some multiply-adds (``add_(x,
alpha=…)`` is an FMA on AVX2 machines) and evaluate ``addcdiv`` as ``p + (s·a)/b``; simdyn does
neither, so the trajectories agree to a few ulp per step, not bitwise. Two consequences:

* a coordinate that changes sign passes close to 0, where a few ulp of the trajectory's scale are
  a large relative error: such a (trajectory, coordinate) series is compared with
  atol = 1e-14·max_t |w_t| (its own scale) on top of rtol;
* RMSprop at its default lr 1e-2 runs into chaotic bursts on some landscapes (on the non-diagonal
  quadratic once it is near the minimum; with momentum once |g| has fallen below ε): there torch's own
  trajectory from x0 + 1 ulp leaves the tolerance after ~250 (resp. ~800) steps, so no
  implementation short of torch's exact instruction sequence can match longer. Those cases are
  compared up to ``HORIZON`` steps; ``test_horizon_is_torchs_own`` checks that the limit is
  torch's (1-ulp perturbation of x0, torch against torch), not simdyn's.

Compilation dominates the cost (one kernel per (optimizer, landscape, flags, dtype): 1.5–4 s each
on 2 cores), so the quick selection compiles every optimizer on ``valley`` and five
(optimizer, landscape) pairs covering the other landscapes; the rest of the optimizer ×
landscape matrix (55 more kernels) and the float32 runs of all but adam are marked ``slow``.

Run: python -m pytest tests/test_torch_parity.py -p no:cacheprovider -q -o addopts=""
     (add -m "not slow" for the quick selection)
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import numpy as np
import pytest

import naive
import simdyn as sd

torch = pytest.importorskip("torch")

RTOL = 1e-10
RTOL_FLOAT32 = 1e-4

# --------------------------------------------------------------------- independent gradients
# Written for a batch w of shape (n, d) from the formulas of DESIGN.md §2, in w's dtype.

A_VALLEY = 1e-3
A_SHARP = 1e-4
ROSEN_A, ROSEN_B = 1.0, 100.0
H2 = np.diag([1.0, 10.0])
H3 = np.array([[2.0, 0.6, -0.3], [0.6, 1.5, 0.4], [-0.3, 0.4, 0.8]])  # symmetric, eigenvalues 0.43, 1.47, 2.40


def grad_valley(w, a=A_VALLEY):
    """∇(x² + a·y²) = (2x, 2a·y)."""
    a = w.dtype.type(a)
    return np.stack([2.0 * w[:, 0], 2.0 * a * w[:, 1]], axis=1)


def grad_sharp_valley(w, a=A_SHARP):
    """Subgradient of |x| + a·|y| with sign(0) = 0."""
    a = w.dtype.type(a)
    return np.stack([np.sign(w[:, 0]), a * np.sign(w[:, 1])], axis=1)


def grad_saddle(w):
    """∇ ½(−x² + y²) = (−x, y)."""
    return np.stack([-w[:, 0], w[:, 1]], axis=1)


def grad_rosenbrock(w, a=ROSEN_A, b=ROSEN_B):
    """∇[(a − x)² + b(y − x²)²] = (−2(a − x) − 4b·x(y − x²), 2b(y − x²))."""
    x, y = w[:, 0], w[:, 1]
    a, b = w.dtype.type(a), w.dtype.type(b)
    r = y - x * x
    return np.stack([-2.0 * (a - x) - 4.0 * b * x * r, 2.0 * b * r], axis=1)


def grad_quadratic(h):
    """∇ ½ wᵀHw = Hw for symmetric H, summed left to right over j."""

    def grad(w):
        hh = h.astype(w.dtype)
        out = np.empty_like(w)
        for i in range(hh.shape[0]):
            acc = hh[i, 0] * w[:, 0]
            for j in range(1, hh.shape[1]):
                acc = acc + hh[i, j] * w[:, j]
            out[:, i] = acc
        return out

    return grad


@dataclass(frozen=True)
class Land:
    id: str
    name: str
    grad: object
    x0: np.ndarray
    steps: int
    params: dict = field(default_factory=dict)


LANDS = {
    land.id: land
    for land in (
        Land("valley", "valley", grad_valley, np.array([[1.0, 2.0], [-0.7, 1.3], [0.3, -1.7]]), 1000, {"a": A_VALLEY}),
        Land("quadratic", "quadratic", grad_quadratic(H2), np.array([[1.0, 0.5], [-0.6, 0.9], [0.25, -1.1]]), 1000),
        Land(
            "quadratic3x3", "quadratic", grad_quadratic(H3),
            np.array([[1.0, -0.5, 0.8], [-0.3, 0.7, 1.2], [0.45, 0.2, -0.9]]), 1000, {"h": H3},
        ),
        Land("saddle", "saddle", grad_saddle, np.array([[0.01, 1.0], [-0.02, 0.5], [0.5, -0.3]]), 1000),
        Land("rosenbrock", "rosenbrock", grad_rosenbrock, np.array([[-1.2, 1.0], [0.5, 0.5], [1.3, 1.6]]), 300),
        Land(
            "sharp_valley", "sharp_valley", grad_sharp_valley,
            np.array([[1.0, 2.0], [-0.73, 0.41], [0.37, -1.9]]), 300, {"a": A_SHARP},
        ),
    )
}

# --------------------------------------------------------------------------- settings table

T = torch.optim


@dataclass(frozen=True)
class Setting:
    """simdyn ``hyper`` and the equivalent torch optimizer. With ``sweep`` (a hyper name whose
    value in ``hyper`` is a list), ``torch_kwargs`` is a list: one dict per swept value."""

    optimizer: str
    id: str
    hyper: dict
    torch_cls: type
    torch_kwargs: dict | list
    sweep: str | None = None


SETTINGS = [
    Setting("sgd", "default", {}, T.SGD, {"lr": 1e-3}),
    Setting("momentum", "default", {}, T.SGD, {"lr": 1e-3, "momentum": 0.9}),
    Setting("momentum", "dampening=0.3", {"dampening": 0.3}, T.SGD, {"lr": 1e-3, "momentum": 0.9, "dampening": 0.3}),
    Setting(
        "momentum", "momentum=[0.5,0.95]", {"momentum": [0.5, 0.95]}, T.SGD,
        [{"lr": 1e-3, "momentum": 0.5}, {"lr": 1e-3, "momentum": 0.95}], sweep="momentum",
    ),
    Setting("nesterov", "default", {}, T.SGD, {"lr": 1e-3, "momentum": 0.9, "nesterov": True}),
    Setting("adagrad", "default", {}, T.Adagrad, {}),
    Setting(
        "adagrad", "lr_decay+init_acc+weight_decay",
        {"lr_decay": 0.01, "initial_accumulator_value": 0.1, "weight_decay": 0.01},
        T.Adagrad, {"lr_decay": 0.01, "initial_accumulator_value": 0.1, "weight_decay": 0.01},
    ),
    Setting("rmsprop", "default", {}, T.RMSprop, {}),
    Setting("rmsprop", "centered", {"centered": True}, T.RMSprop, {"centered": True}),
    Setting("rmsprop", "momentum=0.9", {"momentum": 0.9}, T.RMSprop, {"momentum": 0.9}),
    Setting(
        "rmsprop", "centered+momentum=0.9", {"centered": True, "momentum": 0.9}, T.RMSprop,
        {"centered": True, "momentum": 0.9},
    ),
    Setting("rmsprop", "weight_decay=0.01", {"weight_decay": 0.01}, T.RMSprop, {"weight_decay": 0.01}),
    Setting("adam", "default", {}, T.Adam, {}),
    Setting("adam", "weight_decay=0.01", {"weight_decay": 0.01}, T.Adam, {"weight_decay": 0.01}),
    Setting("adam", "beta1=0", {"beta1": 0.0}, T.Adam, {"betas": (0.0, 0.999)}),
    Setting("adam", "lr=[1e-3,1e-2]", {"lr": [1e-3, 1e-2]}, T.Adam, [{"lr": 1e-3}, {"lr": 1e-2}], sweep="lr"),
    Setting("amsgrad", "default", {}, T.Adam, {"amsgrad": True}),
    Setting("adamw", "default", {}, T.AdamW, {}),
    Setting("adamw", "weight_decay=0.1", {"weight_decay": 0.1}, T.AdamW, {"weight_decay": 0.1}),
    Setting("adamax", "default", {}, T.Adamax, {}),
    Setting("nadam", "default", {}, T.NAdam, {}),
    Setting("nadam", "weight_decay=0.01", {"weight_decay": 0.01}, T.NAdam, {"weight_decay": 0.01}),
    Setting(
        "nadam", "momentum_decay=[1e-3,1e-2]", {"momentum_decay": [1e-3, 1e-2]}, T.NAdam,
        [{"momentum_decay": 1e-3}, {"momentum_decay": 1e-2}], sweep="momentum_decay",
    ),
    Setting("radam", "default", {}, T.RAdam, {}),
]

# The quick selection: every setting on valley, plus these pairs (one per other landscape).
QUICK_PAIRS = {
    ("sgd", "rosenbrock"),
    ("momentum", "quadratic3x3"),
    ("nesterov", "saddle"),
    ("adamw", "quadratic"),
    ("adam", "sharp_valley"),
}
SMALL_LR_ON_ROSENBROCK = {"sgd", "momentum", "nesterov"}  # lr 1e-4 keeps them stable there
QUICK_FLOAT32 = {"adam"}

# Steps compared where the dynamics are chaotic (see the module docstring): (optimizer,
# setting id, landscape id) -> number of steps compared (the run itself is land.steps long).
HORIZON = {
    **{("rmsprop", sid, "quadratic3x3"): 240 for sid in ("default", "centered", "weight_decay=0.01")},
    **{("rmsprop", "momentum=0.9", lid): 700 for lid in ("valley", "quadratic", "quadratic3x3", "saddle")},
    ("rmsprop", "centered+momentum=0.9", "quadratic3x3"): 700,
}


def _cases():
    cases = []
    for setting in SETTINGS:
        for land_id in LANDS:
            quick = land_id == "valley" or (setting.optimizer, land_id) in QUICK_PAIRS
            cases.append(
                pytest.param(
                    setting, LANDS[land_id], id=f"{setting.optimizer}-{setting.id}-{land_id}",
                    marks=() if quick else pytest.mark.slow,
                )
            )
    return cases


def test_table_covers_every_registered_optimizer():
    assert {s.optimizer for s in SETTINGS} == set(sd.OPTIMIZERS)
    assert {s.optimizer for s in SETTINGS if s.id == "default"} == set(sd.OPTIMIZERS)
    assert {land for _, land in QUICK_PAIRS} == set(LANDS) - {"valley"}
    ids = {(s.optimizer, s.id) for s in SETTINGS}
    assert all((opt, sid) in ids and lid in LANDS for opt, sid, lid in HORIZON)


# ---------------------------------------------------------------------------- torch reference


@contextlib.contextmanager
def torch_default_dtype(dtype):
    """torch's default dtype, set for the block and restored after it.

    Tensors are created with an explicit dtype, but torch.optim also allocates scalar state with
    ``_get_scalar_dtype()`` (the default dtype): NAdam's ``mu_product`` would be float32 in a
    float64 run and break float64 parity at the 1e-7 level.
    """
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def torch_trajectory(torch_cls, kwargs, grad, x0, steps, dtype=torch.float64):
    """(n, steps + 1, d) trajectory of torch_cls(**kwargs, foreach=False) from x0 (n, d).

    Every coordinate of every initial point is one element of a single (n, d) parameter: the
    optimizers are elementwise (NAdam's μ-product and RAdam's ρ_t are per step, not per
    element), so this is n independent runs.
    """
    with torch_default_dtype(dtype):
        p = torch.nn.Parameter(torch.tensor(np.asarray(x0), dtype=dtype))
        opt = torch_cls([p], foreach=False, **kwargs)
        out = np.empty((x0.shape[0], steps + 1, x0.shape[1]), dtype=np.float64 if dtype == torch.float64 else np.float32)
        out[:, 0] = p.detach().numpy()
        for t in range(1, steps + 1):
            p.grad = torch.from_numpy(grad(p.detach().numpy().copy()))
            opt.step()
            out[:, t] = p.detach().numpy()
    return out


def assert_trajectories_close(sim, ref, rtol, label, sign_change_atol=1e-14):
    """assert_allclose(rtol) on every (trajectory, coordinate) series of (n, steps + 1, d) arrays;
    atol = 1e-300, or sign_change_atol·max_t |ref| for a series that changes sign or hits 0."""
    for i in range(ref.shape[0]):
        for j in range(ref.shape[2]):
            r, s = ref[i, :, j], sim[i, :, j]
            crosses = bool(np.any(r == 0) or np.any(np.signbit(r[1:]) != np.signbit(r[:-1])))
            atol = sign_change_atol * float(np.max(np.abs(r))) if crosses else 1e-300
            np.testing.assert_allclose(
                s, r, rtol=rtol, atol=atol,
                err_msg=f"{label}: trajectory {i}, coordinate {j}" + (f" (changes sign: atol {atol:.1e})" if crosses else ""),
            )


def max_rel_diff(sim, ref):
    sim, ref = np.asarray(sim, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    nz = ref != 0
    return float(np.max(np.abs(sim[nz] - ref[nz]) / np.abs(ref[nz]))) if nz.any() else 0.0


def simulate_trajectory(optimizer, land, steps, hyper, dtype="float64"):
    ds = sd.simulate(
        optimizer, land.name, land.x0, steps, hyper=hyper, params=land.params,
        record_every=1, dtype=dtype, progress=False,
    )
    assert ds.trajectory.dims[-3:] == ("traj", "step", "coord")
    return ds


# ---------------------------------------------------------------------------------- the test


@pytest.mark.parametrize("setting, land", _cases())
def test_trajectory_matches_torch(setting, land):
    hyper = dict(setting.hyper)
    kwargs_list = setting.torch_kwargs if setting.sweep else [setting.torch_kwargs]
    if land.id == "rosenbrock" and setting.optimizer in SMALL_LR_ON_ROSENBROCK:
        hyper["lr"] = 1e-4
        kwargs_list = [{**kw, "lr": 1e-4} for kw in kwargs_list]
    ds = simulate_trajectory(setting.optimizer, land, land.steps, hyper)
    traj = ds.trajectory
    if setting.sweep:
        assert traj.dims == (setting.sweep, "traj", "step", "coord")
        np.testing.assert_array_equal(traj[setting.sweep].values, setting.hyper[setting.sweep])
    else:
        assert traj.dims == ("traj", "step", "coord")
    assert traj.sizes["step"] == land.steps + 1
    assert np.all(ds.status.values != sd_status_code(ds, "diverged"))
    compared = HORIZON.get((setting.optimizer, setting.id, land.id), land.steps)
    worst = 0.0
    for k, kwargs in enumerate(kwargs_list):
        sim = traj.isel({setting.sweep: k}).values if setting.sweep else traj.values
        ref = torch_trajectory(setting.torch_cls, kwargs, land.grad, land.x0, compared)
        assert np.all(np.isfinite(ref))
        np.testing.assert_array_equal(sim[:, 0], land.x0)
        assert np.all(np.isfinite(sim))
        sim = sim[:, : compared + 1]
        assert_trajectories_close(sim, ref, RTOL, f"{setting.optimizer} {kwargs} on {land.id}")
        worst = max(worst, max_rel_diff(sim, ref))
    print(f"\nPARITY {setting.optimizer:9s} {setting.id:32s} {land.id:13s} {compared:5d} steps, max rel diff {worst:.2e}")


def sd_status_code(ds, meaning):
    meanings = ds.status.attrs["flag_meanings"].split()
    return ds.status.attrs["flag_values"][meanings.index(meaning)]


@pytest.mark.parametrize("key", sorted(HORIZON), ids=lambda k: "-".join(k))
def test_horizon_is_torchs_own(key):
    """Where simdyn is compared over fewer steps, torch against itself from x0 + 1 ulp leaves the
    tolerance after the horizon and before the end of the run: the dynamics, not simdyn, set it."""
    optimizer, sid, lid = key
    setting = next(s for s in SETTINGS if (s.optimizer, s.id) == (optimizer, sid))
    land = LANDS[lid]
    ref = torch_trajectory(setting.torch_cls, setting.torch_kwargs, land.grad, land.x0, land.steps)
    nudged = torch_trajectory(setting.torch_cls, setting.torch_kwargs, land.grad, np.nextafter(land.x0, np.inf), land.steps)
    horizon = HORIZON[key]
    assert_trajectories_close(nudged[:, : horizon + 1], ref[:, : horizon + 1], RTOL, "torch vs torch up to the horizon")
    with pytest.raises(AssertionError):
        assert_trajectories_close(nudged, ref, RTOL, "torch vs torch over the whole run")


def test_radam_cases_cover_both_branches():
    """RAdam's first steps (ρ_t ≤ 5 at the default β₂ = 0.999: t = 1…5) take the un-rectified
    branch; the settings above run long enough to cover both branches."""
    beta2 = sd.OPTIMIZERS["radam"].hypers["beta2"].default
    assert beta2 == 0.999
    t = np.arange(1, min(land.steps for land in LANDS.values()) + 1, dtype=float)
    rho_inf = 2.0 / (1.0 - beta2) - 1.0
    rho_t = rho_inf - 2.0 * t * beta2**t / (1.0 - beta2**t)
    assert np.count_nonzero(rho_t <= 5.0) == 5
    assert np.count_nonzero(rho_t > 5.0) > 200


# ------------------------------------------------------------ adam flags torch does not have


def numpy_adam(land, lr, bias_correction, eps_inside_sqrt):
    """Oracle: Adam from the formula of simdyn.optimizers.adam's docstring (naive.adam, not torch's
    operation order), 1000 steps with eps = 1e-4: (*x0.shape[:-1], steps + 1, d) like a recording."""
    states = naive.adam(land.grad, land.x0, 1000, lr, 0.9, 0.999, 1e-4, bias_correction=bias_correction,
                        eps_inside_sqrt=eps_inside_sqrt, record=True)
    return np.moveaxis(states, 0, 1)


@pytest.mark.parametrize(
    "flags",
    [
        pytest.param({"bias_correction": False}, id="bias_correction=False"),
        pytest.param({"eps_inside_sqrt": True}, id="eps_inside_sqrt=True"),
        pytest.param({"bias_correction": False, "eps_inside_sqrt": True}, id="both", marks=pytest.mark.slow),
    ],
)
def test_adam_flags_match_formula(flags):
    land = LANDS["valley"]
    # eps = 1e-4 makes ε inside/outside the root visibly different; lr swept: default and 1e-2.
    hyper = {**flags, "eps": 1e-4, "lr": [1e-3, 1e-2]}
    ds = simulate_trajectory("adam", land, 1000, hyper)
    assert ds.attrs["hyper_adam_bias_correction"] == int(flags.get("bias_correction", True))
    assert ds.attrs["hyper_adam_eps_inside_sqrt"] == int(flags.get("eps_inside_sqrt", False))
    worst = 0.0
    for k, lr in enumerate(hyper["lr"]):
        ref = numpy_adam(land, lr, flags.get("bias_correction", True), flags.get("eps_inside_sqrt", False))
        sim = ds.trajectory.isel(lr=k).values
        assert_trajectories_close(sim, ref, RTOL, f"adam {flags} lr={lr}")
        worst = max(worst, max_rel_diff(sim, ref))
    # the flag changes the dynamics (the test would not notice a flag that is ignored)
    plain = numpy_adam(land, 1e-3, True, False)
    assert max_rel_diff(ds.trajectory.isel(lr=0).values, plain) > 1e-3
    print(f"\nPARITY adam {flags} vs NumPy formula: max rel diff {worst:.2e}")


# --------------------------------------------------------------------------------- float32

FLOAT32_STEPS = 200


@pytest.mark.parametrize(
    "setting",
    [
        pytest.param(s, id=s.optimizer, marks=() if s.optimizer in QUICK_FLOAT32 else pytest.mark.slow)
        for s in SETTINGS
        if s.id == "default"
    ],
)
def test_float32_matches_torch_float32(setting):
    land = LANDS["valley"]
    ds = simulate_trajectory(setting.optimizer, land, FLOAT32_STEPS, dict(setting.hyper), dtype="float32")
    sim = ds.trajectory.values
    assert sim.dtype == np.float32
    x0 = land.x0.astype(np.float32)
    ref = torch_trajectory(setting.torch_cls, setting.torch_kwargs, land.grad, x0, FLOAT32_STEPS, dtype=torch.float32)
    assert ref.dtype == np.float32
    # atol: the smallest normal float32 (rmsprop decays into subnormals, which carry few digits)
    np.testing.assert_allclose(sim, ref, rtol=RTOL_FLOAT32, atol=float(np.finfo(np.float32).tiny))
    # and float32 really is float32: it differs from the float64 run by more than float64 rounding
    ref64 = torch_trajectory(setting.torch_cls, setting.torch_kwargs, land.grad, land.x0, FLOAT32_STEPS)
    assert max_rel_diff(sim, ref64) > 1e-9
    print(f"\nPARITY float32 {setting.optimizer:9s} max rel diff {max_rel_diff(sim, ref):.2e}")
