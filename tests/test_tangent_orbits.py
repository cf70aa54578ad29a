"""Periodic-orbit refinement, Floquet multipliers and continuation against closed forms.

Oracles: the logistic map's 2-cycle multiplier −r² + 2r + 4 (= 0.16 at r = 3.2; May 1976);
Proposition 4's cycle of Adam on x² (its half amplitude A = η(1 − β₁)/(2(1 + β₁)) − ε/h and the
multipliers of :func:`simdyn.analysis.adam_two_cycle_multipliers`, computed from a hand-derived
Jacobian independent of the source transformation) and its stability boundary in β₁ from
:func:`simdyn.analysis.periods.two_cycle_stability_boundary` (≈ 0.1717 at the defaults).
"""

import numpy as np
import pytest

import simdyn as sd
from simdyn.analysis.periods import adam_two_cycle, adam_two_cycle_multipliers, two_cycle_stability_boundary
from tangent_landscapes import LOGISTIC

H1 = np.array([[2.0]])  # f = x², curvature 2


def test_logistic_two_cycle_multiplier_is_016_at_r_32():
    ds = sd.simulate("sgd", LOGISTIC, x0=np.array([[0.3], [0.6]]), steps=2000, hyper={"lr": 1.0},
                     observers=[sd.observe.Period(on="state", orbit=True, max_period=8)])
    out = sd.refine_orbits(ds, landscape=LOGISTIC)
    r = 3.2
    np.testing.assert_array_equal(ds.period.values, [2, 2])
    np.testing.assert_allclose(out.floquet_modulus.values[:, 0], abs(-r * r + 2 * r + 4), rtol=1e-12)
    assert out.orbit_stable.all() and out.orbit_converged.all()
    # the cycle points are the roots of r²x² − r(r + 1)x + (r + 1) = 0
    roots = np.sort(np.roots([r * r, -r * (r + 1), r + 1]).real)
    np.testing.assert_allclose(np.sort(out.orbit_point.values[:, 0]), roots, rtol=1e-12)


def test_adam_two_cycle_refined_equals_proposition_4():
    lr, betas = 1e-3, [0.05, 0.1]
    ds = sd.simulate("adam", "quadratic", x0=np.array([[4e-4]]), steps=80000, hyper={"lr": lr, "beta1": betas},
                     params={"h": H1}, observers=[sd.observe.Period(on="state", orbit=True, max_period=8,
                                                                   atol=1e-12, rtol=1e-6)])
    out = sd.refine_orbits(ds)
    for i, beta1 in enumerate(betas):
        assert int(ds.period[i, 0]) == 2
        cycle = adam_two_cycle(lr, beta1)
        np.testing.assert_allclose(abs(out.orbit_point.values[i, 0, 0]), cycle["half_amplitude"], rtol=1e-9)
        np.testing.assert_allclose(out.floquet_modulus.values[i, 0],
                                   adam_two_cycle_multipliers(lr, beta1)[::-1], rtol=1e-8)
    assert bool(out.orbit_stable.all())


def test_continuation_in_beta1_finds_the_stability_boundary():
    lr = 1e-3
    cycle = adam_two_cycle(lr, 0.1)
    a, c, k = float(cycle["half_amplitude"]), float(cycle["gradient"]), 0.9 / 1.1
    z0 = (a * 1.001, -c * k, c * c * 0.999)  # a perturbed cycle point (x, m, v)
    values = np.arange(0.10, 0.2501, 0.005)
    cont = sd.continue_orbit("adam", sd.get_landscape("quadratic", {"h": H1}), z0, 2, "beta1", values,
                             hyper={"lr": lr})
    assert bool(cont.orbit_converged.all())
    boundary = two_cycle_stability_boundary()
    (change,) = cont.attrs["stability_changes"]
    assert change == pytest.approx(boundary, abs=2e-4)
    assert abs(boundary - 0.172) < 1e-3
    stable = cont.orbit_stable.values
    np.testing.assert_array_equal(stable, values < boundary)
    for i, beta1 in enumerate(values):  # every point of the branch is Proposition 4's cycle
        np.testing.assert_allclose(cont.floquet_modulus.values[i], adam_two_cycle_multipliers(lr, beta1)[::-1],
                                   rtol=1e-7)
        np.testing.assert_allclose(np.sort(cont.orbit_points.values[i, :, 0]),
                                   [-adam_two_cycle(lr, beta1)["half_amplitude"], adam_two_cycle(lr, beta1)["half_amplitude"]],
                                   rtol=1e-9)
    # the plot draws the stable part solid and the unstable part dashed
    import matplotlib

    matplotlib.use("Agg")
    fig = sd.plot.orbit_branches(cont, "x")
    styles = {line.get_linestyle() for line in fig.axes[0].lines if np.isfinite(line.get_ydata()).any()}
    assert {"-", "--"} <= styles


def test_refine_orbits_needs_the_full_state_orbit():
    ds = sd.simulate("sgd", "valley", x0=np.array([[0.1, 0.1]]), steps=10, hyper={"lr": 0.1},
                     observers=[sd.observe.Period(orbit=True)])
    with pytest.raises(ValueError, match="orbit_state"):
        sd.refine_orbits(ds)


def test_refine_orbits_asks_for_a_user_landscape():
    ds = sd.simulate("sgd", LOGISTIC, x0=np.array([[0.3]]), steps=50, hyper={"lr": 1.0},
                     observers=[sd.observe.Period(on="state", orbit=True, max_period=4)])
    with pytest.raises(ValueError, match="landscape"):
        sd.refine_orbits(ds)


def test_continue_orbit_rejects_bad_arguments():
    land = sd.get_landscape("quadratic", {"h": H1})
    with pytest.raises(ValueError, match="parameter"):
        sd.continue_orbit("adam", land, (0.0, 0.0, 0.0), 2, "gamma", [0.1])
    with pytest.raises(ValueError, match="z0"):
        sd.continue_orbit("adam", land, (0.0, 0.0), 2, "beta1", [0.1])
    with pytest.raises(ValueError, match="period"):
        sd.continue_orbit("adam", land, (0.0, 0.0, 0.0), 0, "beta1", [0.1])


def test_refine_orbits_refuses_a_learning_rate_schedule():
    ds = sd.simulate("sgd", LOGISTIC, x0=np.array([[0.3]]), steps=50, hyper={"lr": sd.schedule.exponential(1.0, 0.99)},
                     observers=[sd.observe.Period(on="state", orbit=True, max_period=4)])
    with pytest.raises(ValueError, match="schedule"):
        sd.refine_orbits(ds, landscape=LOGISTIC)
