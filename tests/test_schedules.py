"""Learning-rate schedules (simdyn.schedule) compiled into runs, against torch.optim.lr_scheduler.

``sgd`` on ``valley`` (f = x² + a·y², gradient (2x, 2a·y) written out below), 300 steps: the
simdyn trajectory with ``hyper={"lr": sd.schedule.…}`` against torch.optim.SGD stepped with the
matching scheduler (``scheduler.step()`` after each ``optimizer.step()``; CosineAnnealingLR
through its closed form ``_get_closed_form_lr``, which is the formula simdyn documents, since its
recursive form differs by rounding), and inverse_sqrt against a NumPy loop. Also: the schedule's
Python ``__call__`` against the compiled run, swept schedule parameters as dims, the attrs that
record the schedule, and bad parameters.

Run: python -m pytest tests/test_schedules.py -p no:cacheprovider -q -o addopts=""
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import naive
import simdyn as sd

STEPS = 300
A = 1e-3
X0 = np.array([[1.0, 2.0], [-0.7, 1.3], [0.3, -1.7]])
RTOL = 1e-10


def grad_valley(w):
    """∇(x² + a·y²) = (2x, 2a·y) for w of shape (n, 2)."""
    return np.stack([2.0 * w[:, 0], 2.0 * A * w[:, 1]], axis=1)


def run(schedule, x0=X0, steps=STEPS):
    return sd.simulate(
        "sgd", "valley", x0, steps, hyper={"lr": schedule}, params={"a": A}, record_every=1, progress=False
    )


def numpy_sgd(etas, x0=X0):
    """Oracle: w_t = w_{t-1} − η_t·∇f(w_{t-1}), t = 1…len(etas) (naive.gradient_descent): (n, steps + 1, 2)."""
    return np.moveaxis(naive.gradient_descent(grad_valley, x0, etas, record=True), 0, 1)


def steps_1_based(steps=STEPS):
    return np.arange(1, steps + 1)


# ------------------------------------------------------------------------- against torch


def _torch_cases():
    return [
        pytest.param(lambda: sd.schedule.constant(0.05), None, id="constant"),
        pytest.param(
            lambda: sd.schedule.exponential(0.1, 0.99),
            lambda torch, opt: _recursive(torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.99)),
            id="exponential",
        ),
        pytest.param(
            lambda: sd.schedule.step(0.1, 50, gamma=0.5),
            lambda torch, opt: _recursive(torch.optim.lr_scheduler.StepLR(opt, step_size=50, gamma=0.5)),
            id="step",
        ),
        pytest.param(
            # t_max < steps: the run goes past the first minimum of the cosine (torch's closed form
            # is periodic there too)
            lambda: sd.schedule.cosine(0.1, 120, eta_min=0.01),
            lambda torch, opt: _closed_form(torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=120, eta_min=0.01)),
            id="cosine",
        ),
    ]


def _recursive(scheduler):
    return scheduler.step


def _closed_form(scheduler):
    """Advance ``scheduler`` one epoch and set the lr from its closed form (no deprecated
    ``step(epoch)``, which warns)."""
    assert hasattr(scheduler, "_get_closed_form_lr")

    def step():
        scheduler.last_epoch += 1
        for group, lr in zip(scheduler.optimizer.param_groups, scheduler._get_closed_form_lr()):
            group["lr"] = lr

    return step


@pytest.mark.parametrize("make_schedule, make_torch_scheduler", _torch_cases())
def test_schedule_matches_torch_scheduler(make_schedule, make_torch_scheduler):
    torch = pytest.importorskip("torch")
    schedule = make_schedule()
    p = torch.nn.Parameter(torch.tensor(X0, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=float(schedule.params["lr"]), foreach=False)
    step_lr = make_torch_scheduler(torch, opt) if make_torch_scheduler else None
    ref = np.empty((X0.shape[0], STEPS + 1, 2))
    ref[:, 0] = X0
    torch_lrs = []
    for t in range(1, STEPS + 1):
        torch_lrs.append(opt.param_groups[0]["lr"])
        p.grad = torch.from_numpy(grad_valley(p.detach().numpy().copy()))
        opt.step()
        if step_lr is not None:
            step_lr()
        ref[:, t] = p.detach().numpy()

    # the schedule's values are torch's (ExponentialLR/StepLR multiply recursively: a few ulp)
    np.testing.assert_allclose(schedule(steps_1_based()), torch_lrs, rtol=1e-12, atol=0)
    ds = run(schedule)
    sim = ds.trajectory.values
    assert ds.trajectory.dims == ("traj", "step", "coord")
    np.testing.assert_allclose(sim, ref, rtol=RTOL, atol=1e-300)
    nz = ref != 0
    print(f"\nSCHEDULE {schedule.kind}: max rel diff vs torch {np.max(np.abs(sim[nz] - ref[nz]) / np.abs(ref[nz])):.2e}")


def test_inverse_sqrt_matches_numpy_loop():
    alpha = 0.2
    schedule = sd.schedule.inverse_sqrt(alpha)
    etas = [alpha / math.sqrt(t) for t in range(1, STEPS + 1)]
    ref = numpy_sgd(etas)
    sim = run(schedule).trajectory.values
    np.testing.assert_allclose(sim, ref, rtol=RTOL, atol=1e-300)
    np.testing.assert_allclose(schedule(steps_1_based()), etas, rtol=1e-15, atol=0)


# ---------------------------------------------------------- Python __call__ vs compiled run

ALL_SCHEDULES = [
    pytest.param(lambda: sd.schedule.constant(0.05), id="constant"),
    pytest.param(lambda: sd.schedule.inverse_sqrt(0.2), id="inverse_sqrt"),
    pytest.param(lambda: sd.schedule.exponential(0.1, 0.99), id="exponential"),
    pytest.param(lambda: sd.schedule.step(0.1, 50, gamma=0.5), id="step"),
    pytest.param(lambda: sd.schedule.cosine(0.1, 120, eta_min=0.01), id="cosine"),
]


@pytest.mark.parametrize("make_schedule", ALL_SCHEDULES)
def test_python_call_agrees_with_compiled_run(make_schedule):
    """SGD's update w − η_t·g with η_t from ``schedule(t)`` reproduces the compiled run."""
    schedule = make_schedule()
    etas = schedule(steps_1_based())
    assert etas.shape == (STEPS,)
    assert isinstance(schedule(7), float) and schedule(7) == etas[6]
    sim = run(schedule).trajectory.values
    np.testing.assert_allclose(sim, numpy_sgd(etas), rtol=1e-14, atol=1e-300)


def test_schedule_values_follow_their_formulas():
    t = steps_1_based(400)
    np.testing.assert_array_equal(sd.schedule.constant(0.3)(t), np.full(400, 0.3))
    np.testing.assert_allclose(sd.schedule.inverse_sqrt(0.3)(t), 0.3 / np.sqrt(t), rtol=1e-15)
    np.testing.assert_allclose(sd.schedule.exponential(0.3, 0.98)(t), 0.3 * 0.98 ** (t - 1.0), rtol=1e-13)
    np.testing.assert_array_equal(sd.schedule.step(0.3, 7, 0.5)(t), 0.3 * 0.5 ** ((t - 1) // 7))
    cos = sd.schedule.cosine(0.3, 100, eta_min=0.05)(t)
    np.testing.assert_allclose(cos, 0.05 + 0.25 * (1 + np.cos(np.pi * (t - 1) / 100)) / 2, rtol=1e-14)
    assert cos[0] == 0.3 and cos[100] == pytest.approx(0.05, rel=1e-15)  # t − 1 = T_max: η_min


# -------------------------------------------------------------------- sweeps become dims


def test_swept_base_rate_becomes_dim_lr():
    ds = run(sd.schedule.exponential(np.array([0.1, 0.2]), 0.99))
    assert ds.trajectory.dims == ("lr", "traj", "step", "coord")
    np.testing.assert_array_equal(ds["lr"].values, [0.1, 0.2])
    for k, lr in enumerate([0.1, 0.2]):
        single = run(sd.schedule.exponential(lr, 0.99)).trajectory.values
        np.testing.assert_array_equal(ds.trajectory.isel(lr=k).values, single)


def test_swept_gamma_becomes_dim_lr_gamma():
    ds = run(sd.schedule.exponential(0.1, np.array([0.9, 0.99])))
    assert ds.trajectory.dims == ("lr_gamma", "traj", "step", "coord")
    np.testing.assert_array_equal(ds["lr_gamma"].values, [0.9, 0.99])
    for k, gamma in enumerate([0.9, 0.99]):
        single = run(sd.schedule.exponential(0.1, gamma)).trajectory.values
        np.testing.assert_array_equal(ds.trajectory.isel(lr_gamma=k).values, single)


def test_two_swept_schedule_parameters_give_two_dims():
    ds = run(sd.schedule.step(np.array([0.05, 0.1]), np.array([10, 50]), gamma=0.5), steps=60)
    assert ds.trajectory.dims == ("lr", "lr_step_size", "traj", "step", "coord")
    for i, lr in enumerate([0.05, 0.1]):
        for j, size in enumerate([10, 50]):
            single = run(sd.schedule.step(lr, size, gamma=0.5), steps=60).trajectory.values
            np.testing.assert_array_equal(ds.trajectory.isel(lr=i, lr_step_size=j).values, single)


def test_swept_cosine_t_max_and_list_values():
    ds = run(sd.schedule.cosine(0.1, [40, 80], eta_min=[0.0, 0.01]), steps=100)
    assert ds.trajectory.dims == ("lr_t_max", "lr_eta_min", "traj", "step", "coord")
    for i, t_max in enumerate([40, 80]):
        for j, eta_min in enumerate([0.0, 0.01]):
            etas = sd.schedule.cosine(0.1, t_max, eta_min=eta_min)(steps_1_based(100))
            np.testing.assert_allclose(
                ds.trajectory.isel(lr_t_max=i, lr_eta_min=j).values, numpy_sgd(etas), rtol=1e-14, atol=1e-300
            )


# ------------------------------------------------------------------------------- attrs


@pytest.mark.parametrize(
    "schedule, kind, recorded",
    [
        (sd.schedule.constant(0.05), "constant", {"lr": 0.05}),
        (sd.schedule.inverse_sqrt(0.2), "inverse_sqrt", {"lr": 0.2}),
        (sd.schedule.exponential(0.1, 0.99), "exponential", {"lr": 0.1, "lr_gamma": 0.99}),
        (sd.schedule.step(0.1, 50, gamma=0.5), "step", {"lr": 0.1, "lr_step_size": 50, "lr_gamma": 0.5}),
        (sd.schedule.cosine(0.1, 120, eta_min=0.01), "cosine", {"lr": 0.1, "lr_t_max": 120, "lr_eta_min": 0.01}),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_attrs_record_the_schedule(schedule, kind, recorded):
    ds = run(schedule, steps=3)
    assert ds.attrs["hyper_sgd_lr_schedule"] == kind
    assert ds.attrs["hyper_sgd_lr_formula"] == schedule.formula
    for name, value in recorded.items():
        assert ds.attrs[f"hyper_sgd_{name}"] == value, name


def test_attrs_record_swept_schedule_values():
    ds = run(sd.schedule.exponential(0.1, np.array([0.9, 0.99])), steps=3)
    assert ds.attrs["hyper_sgd_lr_schedule"] == "exponential"
    np.testing.assert_array_equal(ds.attrs["hyper_sgd_lr_gamma"], [0.9, 0.99])


def test_plain_lr_is_recorded_as_constant_schedule():
    ds = sd.simulate("sgd", "valley", X0, 3, hyper={"lr": 0.05}, progress=False)
    assert ds.attrs["hyper_sgd_lr_schedule"] == "constant"
    assert ds.attrs["hyper_sgd_lr"] == 0.05


# -------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "make, name",
    [
        pytest.param(lambda: sd.schedule.constant(0.0), "lr", id="constant-lr=0"),
        pytest.param(lambda: sd.schedule.constant(-0.1), "lr", id="constant-lr<0"),
        pytest.param(lambda: sd.schedule.constant(float("nan")), "lr", id="constant-lr=nan"),
        pytest.param(lambda: sd.schedule.inverse_sqrt(0.0), "lr", id="inverse_sqrt-lr=0"),
        pytest.param(lambda: sd.schedule.exponential(-1.0, 0.9), "lr", id="exponential-lr<0"),
        pytest.param(lambda: sd.schedule.exponential(np.array([0.1, 0.0]), 0.9), "lr", id="exponential-lr-array-with-0"),
        pytest.param(lambda: sd.schedule.exponential(0.1, 0.0), "gamma", id="exponential-gamma=0"),
        pytest.param(lambda: sd.schedule.exponential(0.1, -0.5), "gamma", id="exponential-gamma<0"),
        pytest.param(lambda: sd.schedule.step(0.0, 10), "lr", id="step-lr=0"),
        pytest.param(lambda: sd.schedule.step(0.1, 0), "step_size", id="step-step_size=0"),
        pytest.param(lambda: sd.schedule.step(0.1, 2.5), "step_size", id="step-step_size=2.5"),
        pytest.param(lambda: sd.schedule.step(0.1, np.array([10, 0])), "step_size", id="step-step_size-array-with-0"),
        pytest.param(lambda: sd.schedule.step(0.1, 10, gamma=0.0), "gamma", id="step-gamma=0"),
        pytest.param(lambda: sd.schedule.cosine(0.1, 0), "t_max", id="cosine-t_max=0"),
        pytest.param(lambda: sd.schedule.cosine(0.1, -10), "t_max", id="cosine-t_max<0"),
        pytest.param(lambda: sd.schedule.cosine(0.0, 10), "lr", id="cosine-lr=0"),
    ],
)
def test_bad_schedule_parameter_raises_naming_it(make, name):
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        make()
