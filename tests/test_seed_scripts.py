"""The scripts that reproduce Reddi et al.'s counterexample, Adam's noise profile and Adam's first
step (``scripts/reddi_counterexample.py``, ``scripts/noise_profile.py``, ``scripts/first_step.py``).

Default run: the key numbers on small sizes against closed forms, NumPy loops and torch.optim.
``-m slow``: each script's ``--quick`` mode end to end (files written, numbers printed).
"""

import numpy as np
import pytest

import simdyn as sd

from scripts_loader import load


@pytest.fixture(scope="module")
def reddi():
    return load("reddi_counterexample")


@pytest.fixture(scope="module")
def first_step():
    return load("first_step")


@pytest.fixture(scope="module")
def noise_profile():
    return load("noise_profile")


# --- Reddi et al. -------------------------------------------------------------------------------


def test_regret_observer_equals_the_numpy_loop(reddi):
    """Oracle: a NumPy loop over t of Adam / AMSGrad with projection, summing c_t·(x_{t−1} + 1)."""
    beta2s = np.array([0.1, 0.6, 0.99])
    ds = sd.simulate(reddi.OPTIMIZERS, "reddi", reddi.STARTS, 301, hyper=reddi.hyper(beta2s), params={"C": reddi.C},
                     observers=[reddi.Regret(reddi.C)], progress=False)
    shape = (2, beta2s.size, reddi.STARTS.shape[0])
    b = np.broadcast_to(beta2s[None, :, None], shape).ravel()
    ams = np.broadcast_to(np.array([False, True])[:, None, None], shape).ravel()
    x0 = np.broadcast_to(reddi.STARTS[:, 0][None, None, :], shape).ravel()
    ref = reddi.numpy_reference(b, ams, x0, [301])
    np.testing.assert_allclose(ds.regret.transpose("optimizer", "beta2", "traj").values.ravel(), ref["regret"][301],
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ds.w.sel(coord="x").transpose("optimizer", "beta2", "traj").values.ravel(),
                               ref["x"][301], rtol=0, atol=1e-13)


def test_regret_of_a_point_fixed_at_plus_one_is_two_thirds_of_c_minus_two_per_step(reddi):
    """Oracle: R_T = Σ c_t·(1 + 1) = 2·(C·⌈T/3⌉ − (T − ⌈T/3⌉)) for x ≡ 1 (SGD at a tiny lr stays at the
    projected boundary: its gradient pushes x up on 2 of 3 steps and the C step is clipped back)."""
    T = 999
    ds = sd.simulate("sgd", "reddi", np.array([[1.0]]), T, hyper={"lr": 1e-15}, params={"C": 3.0},
                     observers=[reddi.Regret(3.0)], progress=False)
    big = -(-T // 3)
    np.testing.assert_allclose(float(ds.regret[0]), 2.0 * (3.0 * big - (T - big)), rtol=1e-9)
    assert float(ds.regret[0]) / T == pytest.approx(2 * (3.0 - 2) / 3, rel=1e-9)


def test_adam_drift_root_matches_the_iterated_second_moment(reddi):
    """Oracle: iterate v_t = β₂v + (1 − β₂)g_t² for 3000 steps of the gradient sequence C, −1, −1
    and evaluate −C/√v₁ + 1/√v₂ + 1/√v₃ on the last period: equals the closed form, and its sign
    changes at β₂*."""
    c = reddi.C
    for beta2 in (0.05, 0.3, 0.5, 0.9):
        v, last = 0.0, []
        for t in range(1, 3001):
            g = c if t % 3 == 1 else -1.0
            v = beta2 * v + (1 - beta2) * g * g
            last.append(v)
        v1, v2, v3 = last[-3:]
        iterated = -c / np.sqrt(v1) + 1 / np.sqrt(v2) + 1 / np.sqrt(v3)
        assert reddi.adam_drift(beta2) == pytest.approx(iterated, rel=1e-12)
    star = reddi.critical_beta2()
    assert reddi.adam_drift(star - 1e-3) > 0 > reddi.adam_drift(star + 1e-3)
    assert 0.1 < star < 0.999


def test_adam_goes_to_plus_one_and_amsgrad_to_minus_one(reddi):
    """Oracle: the closed-form limits R_T/T → 2(C − 2)/3 at x = +1 and → 0 at x = −1 (T = 3·10⁴)."""
    T = 30_000
    ds = sd.simulate(reddi.OPTIMIZERS, "reddi", reddi.STARTS, T, hyper=reddi.hyper(reddi.BETA2),
                     params={"C": reddi.C}, observers=[reddi.Regret(reddi.C)], progress=False)
    x = ds.w.sel(coord="x")
    assert bool((x.sel(optimizer="adam") > 0.99).all()) and bool((x.sel(optimizer="amsgrad") < -0.99).all())
    per_step = ds.regret / T
    np.testing.assert_allclose(per_step.sel(optimizer="adam"), 2 * (reddi.C - 2) / 3, atol=0.02)  # transient / T
    assert bool((per_step.sel(optimizer="amsgrad") < 0.06).all())  # transient / T from x0 = +1


# --- first step ---------------------------------------------------------------------------------


def test_first_steps_are_the_forum_numbers(first_step):
    """Oracle: the forum's SGD values and the closed form 1 − 10⁻³·|g|/(|g| + 10⁻⁸) written out,
    and torch.optim (float64)."""
    forum = first_step.forum_steps()
    sim = forum.simulated
    np.testing.assert_allclose(sim.sel(optimizer="sgd", landscape="x^2 + y^2"), [0.8, 0.8], rtol=1e-15)
    np.testing.assert_allclose(sim.sel(optimizer="sgd", landscape="2x^2 + 0.5y^2"), [0.6, 0.9], rtol=1e-15)
    np.testing.assert_allclose(sim.sel(optimizer="adam", landscape="x^2 + y^2"), [0.999000000005] * 2, rtol=1e-15)
    np.testing.assert_allclose(sim.sel(optimizer="adam", landscape="2x^2 + 0.5y^2"),
                               [0.9990000000025, 0.99900000001], rtol=1e-15)
    np.testing.assert_allclose(sim, forum.torch, rtol=1e-15)


def test_adam_first_step_is_invariant_to_diagonal_scaling_and_sgd_is_not(first_step):
    """Oracle: the closed form −η·g/(|g| + ε): every Adam step is −η(1, 1) to ε/min|g|; SGD's angle spreads."""
    scaled = first_step.scalings(5, seed=3)
    lr, eps = first_step.ADAM["lr"], first_step.ADAM["eps"]
    np.testing.assert_allclose(scaled.adam_step, -lr, rtol=eps / first_step.SCALE_RANGE[0])
    np.testing.assert_allclose(scaled.adam_step, scaled.adam_step_torch, rtol=1e-15)
    np.testing.assert_allclose(scaled.sgd_step, scaled.sgd_step_torch, rtol=1e-15)
    assert float(scaled.adam_angle_deg.max()) < 1e-3
    assert float(scaled.sgd_angle_deg.max()) > 10.0


# --- noise profile -----------------------------------------------------------------------------


def wavy_grad(w, p, t):
    return (1.5 * np.cos(1.3 * t) + 0.2,)


def wavy_loss(w, p, t):
    return 0.0


@pytest.mark.parametrize("bias_correction", [True, False])
def test_moment_checkpoints_equal_the_adam_recurrence(noise_profile, bias_correction):
    """Oracle: Adam's recurrences (torch.optim.Adam's formula) in a NumPy loop, on a gradient that
    depends on t only, g_t = 1.5·cos(1.3t) + 0.2: m_t and w_t − w_{t−1} at the checkpoints."""
    wavy = sd.Landscape("wavy", dim=1, grad=wavy_grad, loss=wavy_loss)
    checkpoints = (1, 2, 7, 40)
    hyper = {**noise_profile.ADAM, "bias_correction": bias_correction}
    ds = sd.simulate("adam", wavy, np.zeros((2, 1)), 50, hyper=hyper,
                     observers=[noise_profile.MomentCheckpoints(checkpoints)], progress=False)
    b1, b2, lr, eps = (noise_profile.ADAM[k] for k in ("beta1", "beta2", "lr", "eps"))
    m = v = 0.0
    expected_m, expected_step = [], []
    for t in range(1, 41):
        g = 1.5 * np.cos(1.3 * t) + 0.2
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        bc1, bc2 = (1 - b1 ** t, 1 - b2 ** t) if bias_correction else (1.0, 1.0)
        if t in checkpoints:
            expected_m.append(m)
            expected_step.append(-(lr / bc1) * m / (np.sqrt(v) / np.sqrt(bc2) + eps))
    np.testing.assert_allclose(ds.m.values, [expected_m] * 2, rtol=1e-12)
    np.testing.assert_allclose(ds.step.values, [expected_step] * 2, rtol=1e-9, atol=1e-18)


def test_moment_checkpoints_refuse_bad_settings(noise_profile):
    with pytest.raises(ValueError, match="checkpoints"):
        noise_profile.MomentCheckpoints([0, 5])
    with pytest.raises(ValueError, match="1-D"):
        noise_profile.MomentCheckpoints([1]).slots(2)


def test_first_moment_variance_is_the_closed_form_not_one_over_root_t(noise_profile):
    """Oracle: Var[m_T] = σ²(1 − β₁)²(1 − β₁^{2T})/(1 − β₁²) within 5 standard errors (N = 2·10⁴,
    σ = 0.5), so the limit σ²(1 − β₁)/(1 + β₁) is reached and kept, not decaying as 1/√T."""
    sigma, n = 0.5, 20_000
    ds = noise_profile.simulate(n, 200, sigma, False)
    measured = ds.m.var("traj", ddof=1)
    closed = noise_profile.var_m_closed_form(ds.checkpoint.values, sigma)
    se = closed * np.sqrt(2.0 / (n - 1))
    assert np.all(np.abs(measured.values - closed) < 5 * se)
    assert float(measured.sel(checkpoint=200) / measured.sel(checkpoint=20)) == pytest.approx(1.0, abs=0.05)
    assert noise_profile.var_m_limit(sigma) == pytest.approx(closed[-1], rel=1e-12)


def test_first_step_variance_with_and_without_bias_correction(noise_profile):
    """Oracle: at T = 1 the step is −η·g/(|g| + ε) (variance η²) with bias correction and
    −η(1 − β₁)g/(√(1 − β₂)|g| + ε) (variance η²(1 − β₁)²/(1 − β₂)) without."""
    lr, b1, b2 = (noise_profile.ADAM[k] for k in ("lr", "beta1", "beta2"))
    on = noise_profile.simulate(2000, 1, 1.0, True).step.sel(checkpoint=1)
    off = noise_profile.simulate(2000, 1, 1.0, False).step.sel(checkpoint=1)
    np.testing.assert_allclose(float((on ** 2).mean()), lr ** 2, rtol=1e-4)
    np.testing.assert_allclose(float((off ** 2).mean()), lr ** 2 * (1 - b1) ** 2 / (1 - b2), rtol=1e-4)


# --- the scripts end to end -------------------------------------------------------------------------


@pytest.mark.slow
def test_reddi_counterexample_quick(tmp_path, reddi):
    result = reddi.main(["--quick", "--out", str(tmp_path)])
    for name in ("reddi_counterexample.nc", "reddi_counterexample_beta2.nc", "reddi_counterexample.png",
                 "reddi_counterexample.txt"):
        assert (tmp_path / name).stat().st_size > 0
    sweep = sd.load(tmp_path / "reddi_counterexample_beta2.nc")
    below = sweep.beta2 < result["beta2_star"] - 0.15
    assert bool((sweep.w.sel(optimizer="adam", coord="x").where(below, 1.0) > 0.99).all())
    assert bool((sweep.w.sel(optimizer="amsgrad", coord="x") < -0.99).all())


@pytest.mark.slow
def test_first_step_quick(tmp_path, first_step):
    first_step.main(["--quick", "--out", str(tmp_path)])
    for name in ("first_step.nc", "first_step_scalings.nc", "first_step.png", "first_step.txt"):
        assert (tmp_path / name).stat().st_size > 0
    assert "0.9990000000025000" in (tmp_path / "first_step.txt").read_text()


@pytest.mark.slow
def test_noise_profile_quick(tmp_path, noise_profile):
    res = noise_profile.main(["--quick", "--out", str(tmp_path)])
    for name in ("noise_profile.nc", "noise_profile.png", "noise_profile.txt"):
        assert (tmp_path / name).stat().st_size > 0
    limit = float(res.var_m_limit)
    assert float(res.sel(bias_correction=True, T=10_000).var_m) == pytest.approx(limit, rel=0.15)


def test_scripts_help_shows_the_whole_docstring(reddi, first_step, noise_profile, capsys):
    for module in (reddi, first_step, noise_profile):
        with pytest.raises(SystemExit):
            module.parse_args(["--help"])
        text = capsys.readouterr().out
        assert module.__doc__.strip().splitlines()[-1].strip() in text
