"""The streaming period detector (sd.observe.Period), Tail, period_scan and their plots.

Oracles are closed forms and independent iterations, never simdyn itself: any map F runs as a
user landscape with ``sgd`` at lr = 1 and gradient g(w) = w − F(w) (one step is w − g = F(w)).
"""

import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import naive
import simdyn as sd
from simdyn.status import STATUS


# -- one 1-D landscape for every map test (one compiled kernel) -------------------------------
def map_grad(w, p, t):
    x = w[0]
    kind = p[0]
    r = p[1]
    if kind == 0.0:  # logistic map F(x) = r·x·(1 − x)
        return (x - r * x * (1.0 - x),)
    if kind == 1.0:  # linear map F(x) = −r·x
        return (x + r * x,)
    if kind == 2.0:  # staircase: x − 1 down to the 3-cycle 0 → −1 → −2 → 0
        return (-2.0 if x < -1.5 else 1.0,)
    if kind == 3.0:  # gradient descent with step r on (x² − 1)²
        return (r * (4.0 * x * x * x - 4.0 * x),)
    return (r * x,)  # kind 4: the gradient of (r/2)·x²


def map_loss(w, p, t):
    return 0.0


MAPS = sd.Landscape("map1d", 1, map_grad, map_loss, params={"kind": 0.0, "r": 3.0})
LOGISTIC, LINEAR, STAIRCASE, DOUBLE_WELL_GD, QUADRATIC = 0.0, 1.0, 2.0, 3.0, 4.0


def iterate(kind, r, x0, steps, **kwargs):
    kwargs.setdefault("observers", [sd.observe.Period(64)])
    return sd.simulate("sgd", MAPS, np.atleast_2d(np.asarray(x0, dtype=float)).T, steps=steps, hyper={"lr": 1.0},
                       params={"kind": kind, "r": r}, progress=False, **kwargs)


# -- maps with known periodic orbits ------------------------------------------------------------
# Superstable parameters of the logistic map (the critical point x = 1/2 lies on the cycle):
# r_1 = 2, r_2 = 1 + √5, r_4, r_8, r_16 of the period-doubling cascade, and the period-3 window.
SUPERSTABLE = {1: 2.0, 2: 1.0 + math.sqrt(5.0), 4: 3.498561699327702, 8: 3.554640862768825,
               16: 3.566667379856269, 3: 3.831874055283316}


def test_logistic_map_period_doubling_cascade():
    rs = np.array(list(SUPERSTABLE.values()))
    ds = iterate(LOGISTIC, rs, [0.3, 0.7], 3000)
    np.testing.assert_array_equal(ds.period.values, np.repeat(list(SUPERSTABLE), 2).reshape(-1, 2))
    assert np.all(ds.status.values[0] == STATUS["converged"])
    assert np.all(ds.status.values[1:] == STATUS["periodic"])


def test_logistic_two_cycle_amplitude_and_center_match_the_closed_form():
    # x± = (r + 1 ± √((r − 3)(r + 1)))/(2r): amplitude √((r − 3)(r + 1))/r, center (r + 1)/(2r).
    rs = np.array([3.1, 3.2, 3.3, 3.4])
    ds = iterate(LOGISTIC, rs, [0.4], 4000)
    assert np.all(ds.period.values == 2)
    np.testing.assert_allclose(ds.cycle_amplitude.values[:, 0, 0], np.sqrt((rs - 3) * (rs + 1)) / rs, rtol=1e-8)
    np.testing.assert_allclose(ds.cycle_center.values[:, 0, 0], (rs + 1) / (2 * rs), rtol=1e-8)


def test_chaotic_logistic_map_has_no_period():
    ds = iterate(LOGISTIC, np.array([3.9, 4.0]), [0.3, 0.61], 3000)
    assert np.all(ds.period.values == 0)
    assert np.all(ds.status.values == STATUS["bounded"])
    assert np.all(ds.transient.values == -1)
    assert np.all(np.isnan(ds.cycle_amplitude.values))


def two_cycles_of_gradient_descent(eta):
    """The 2-cycles of x ↦ G(x) = x − η(4x³ − 4x) (GD on (x² − 1)²), from the roots of
    G(G(x)) − x that are not fixed points, with their stability |G'(x₁)G'(x₂)| (NumPy only)."""
    g = np.polynomial.Polynomial([0.0, 1.0 + 4.0 * eta, 0.0, -4.0 * eta])
    dg = g.deriv()
    roots = (g(g) - np.polynomial.Polynomial([0.0, 1.0])).roots()
    roots = roots[np.abs(roots.imag) < 1e-9].real
    fixed = (g - np.polynomial.Polynomial([0.0, 1.0])).roots().real
    cycle = [x for x in roots if np.min(np.abs(x - fixed)) > 1e-6]
    return [(x, g(x), abs(dg(x) * dg(g(x)))) for x in cycle]


def test_gradient_descent_on_a_double_well_past_its_flip_bifurcation():
    # f = (x² − 1)², f''(±1) = 8: the minima flip at η = 2/8 = 0.25 into attracting 2-cycles.
    etas = np.array([0.2, 0.26, 0.28])
    ds = iterate(DOUBLE_WELL_GD, etas, [1.05, 0.95, -0.9], 3000)
    assert np.all(ds.period.values[0] == 1)
    np.testing.assert_allclose(np.abs(ds.cycle_center.values[0, :, 0]), 1.0, rtol=1e-9)
    for i, eta in enumerate(etas[1:], start=1):
        assert np.all(ds.period.values[i] == 2)
        stable = [(a, b) for a, b, mult in two_cycles_of_gradient_descent(eta) if mult < 1 and a > 0 and b > 0]
        lo, hi = sorted(stable[0])
        np.testing.assert_allclose(ds.cycle_amplitude.values[i, :2, 0], hi - lo, rtol=1e-7)
        np.testing.assert_allclose(ds.cycle_center.values[i, :2, 0], (lo + hi) / 2, rtol=1e-9)
        np.testing.assert_allclose(ds.cycle_center.values[i, 2, 0], -(lo + hi) / 2, rtol=1e-9)  # the mirror well


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    eigen=st.tuples(st.floats(0.1, 10.0), st.floats(0.1, 10.0)),
    angle=st.floats(0.0, math.pi),
    fraction=st.floats(0.01, 0.995),
    x0=st.tuples(st.floats(-3.0, 3.0), st.floats(-3.0, 3.0)),
)
def test_gradient_descent_on_a_quadratic_never_ends_in_a_cycle(eigen, angle, fraction, x0):
    # GD on ½wᵀHw with η < 2/λ_max is the contraction w ↦ (I − ηH)w: it converges to 0, so the
    # only possible verdicts are "fixed point" (at the origin) and "not yet".
    c, s = math.cos(angle), math.sin(angle)
    rotation = np.array([[c, -s], [s, c]])
    h = rotation @ np.diag(eigen) @ rotation.T
    lr = fraction * 2.0 / max(eigen)
    ds = sd.simulate("sgd", "quadratic", np.array([x0]), steps=400, hyper={"lr": lr}, params={"h": h},
                     observers=[sd.observe.Period(16)], progress=False)
    period = int(ds.period.values[0])
    assert period in (0, 1)
    if period == 1:
        # A fixed-point verdict means |w_T − w_{T−1}| ≤ atol + rtol·|w| ≈ 1e-9 per coordinate; for
        # w ↦ (I − ηH)w that puts w within |Δw| / (η·λ_min) of the origin (closed form), which a
        # slowly contracting run (small η·λ_min) need not bring below a fixed 1e-8.
        bound = 2 * 2e-9 / (lr * min(eigen))
        assert np.all(np.abs(ds.cycle_center.values[0]) <= bound)


# -- minimality, max_period, coordinates ----------------------------------------------------------
def permutation_grad(w, p, t):
    a, b, c, d, e = w
    # F permutes the coordinates: (a b) a 2-cycle and (c d e) a 3-cycle, so F has order 6.
    return (a - b, b - a, c - e, d - c, e - d)


def permutation_loss(w, p, t):
    return 0.0


PERMUTATION = sd.Landscape("permutation", 5, permutation_grad, permutation_loss)


def test_periods_of_a_permutation_are_minimal():
    # The period of w under F is the lcm of the lengths of the cycles on which w is not constant.
    x0 = np.array([
        [1.0, 2.0, 3.0, 4.0, 5.0],   # lcm(2, 3) = 6
        [1.0, 2.0, 3.0, 3.0, 3.0],   # 2 (the 3-cycle sees a constant)
        [1.0, 1.0, 3.0, 4.0, 5.0],   # 3
        [1.0, 1.0, 7.0, 7.0, 7.0],   # fixed point
    ])
    ds = sd.simulate("sgd", PERMUTATION, x0, steps=500, hyper={"lr": 1.0}, observers=[sd.observe.Period(8)],
                     progress=False)
    np.testing.assert_array_equal(ds.period.values, [6, 2, 3, 1])
    np.testing.assert_array_equal(ds.cycle_amplitude.values[0], [1.0, 1.0, 2.0, 2.0, 2.0])
    np.testing.assert_allclose(ds.cycle_center.values[0], [1.5, 1.5, 4.0, 4.0, 4.0])
    # A period above max_period is not reported (nor any of its divisors).
    short = sd.simulate("sgd", PERMUTATION, x0[:1], steps=500, hyper={"lr": 1.0}, observers=[sd.observe.Period(5)],
                        progress=False)
    assert short.period.values[0] == 0
    assert short.status.values[0] == STATUS["bounded"]
    # Comparing only some coordinates gives their own period.
    sub = sd.simulate("sgd", PERMUTATION, x0[:1], steps=500, hyper={"lr": 1.0},
                      observers=[sd.observe.Period(8, coords=["w1", "w2"])], progress=False)
    assert sub.period.values[0] == 2


# -- decaying oscillations, divergence ------------------------------------------------------------
def test_decaying_oscillations_are_not_cycles():
    # x_t = (−r)^t: a 2-periodic sign pattern whose amplitude decays by r² per period.
    rs = np.array([0.9, 0.99, 0.999, 0.9999])
    ds = iterate(LINEAR, rs, [1.0], 3000)
    period = ds.period.values[:, 0]
    assert np.all(period != 2)
    np.testing.assert_array_equal(period, [1, 1, 0, 0])  # 0.9^3000, 0.99^3000 < atol: at the fixed point 0
    exact = iterate(LINEAR, np.array([1.0]), [0.25], 100)  # r = 1: x ↦ −x, an exact 2-cycle
    assert exact.period.values[0, 0] == 2
    np.testing.assert_allclose(exact.cycle_amplitude.values[0, 0], 0.5)


def test_diverging_trajectories_have_no_period():
    # x ↦ (1 − 3)x doubles |x| every step: frozen at the threshold, status diverged, period 0.
    ds = iterate(QUADRATIC, np.array([3.0, 0.5]), [1.0], 200, diverge_threshold=1e6)
    assert ds.status.values[0, 0] == STATUS["diverged"]
    assert ds.period.values[0, 0] == 0
    assert ds.status.values[1, 0] == STATUS["converged"] and ds.period.values[1, 0] == 1


# -- transient ------------------------------------------------------------------------------------
@pytest.mark.parametrize("steps", [27, 25, 200])
def test_transient_is_within_max_period_of_the_onset(steps):
    # 10, 9, …, 1, 0, −1, −2, 0, −1, −2, …: the orbit repeats from step 10 on (w_10 = w_13 = 0).
    onset = 10
    ds = iterate(STAIRCASE, 0.0, [10.0], steps, observers=[sd.observe.Period(16)])
    assert ds.period.values[0] == 3
    transient = int(ds.transient.values[0])
    assert onset <= transient < onset + 16
    if steps == 25:  # the ring (steps 10 … 25) still holds the whole periodic regime: exact
        assert transient == onset


# -- on="state": the optimizer's slots are compared too ------------------------------------------
def slope_grad(w, p, t):
    return (1.0,)


def clip_to_unit(w, p):
    return (min(max(w[0], -1.0), 1.0),)


# f(w) = w on [−1, 1]: every method runs into the wall w = −1 and stays there (a fixed point of
# w) while its state keeps moving: momentum's buffer converges to 1/(1 − μ), AdaGrad's sum grows.
PINNED = sd.Landscape("pinned", 1, slope_grad, map_loss, project=clip_to_unit)


def onset(states, atol):
    """First step s from which every later state agrees with z_s (|z_{s+k} − z_s| ≤ atol)."""
    ok = [s for s in range(len(states)) if np.all(np.abs(states[s:] - states[s]) <= atol)]
    return ok[0]


def test_on_state_waits_for_the_momentum_buffer_to_settle():
    steps, atol, mu, max_period = 600, 1e-9, 0.9, 16
    kwargs = dict(steps=steps, hyper={"lr": 0.1, "momentum": mu}, progress=False)
    on_w = sd.simulate("momentum", PINNED, np.array([[0.5]]), observers=[sd.observe.Period(max_period, atol, 0.0)],
                       **kwargs)
    on_state = sd.simulate("momentum", PINNED, np.array([[0.5]]),
                           observers=[sd.observe.Period(max_period, atol, 0.0, on="state")], **kwargs)
    z = naive.heavy_ball_on_the_wall(0.5, 0.1, mu, steps)
    onset_w, onset_state = onset(z[:, :1], atol), onset(z, atol)
    assert onset_w < 10 < 150 < onset_state  # b_t − 10 = −10·0.9^t: about 219 steps to 1e-9
    for ds, start in ((on_w, onset_w), (on_state, onset_state)):
        assert ds.period.values[0] == 1 and ds.status.values[0] == STATUS["converged"]
        transient = int(ds.transient.values[0])
        assert transient - max_period < start <= transient
    np.testing.assert_array_equal(on_state.cycle_center.values, [[-1.0]])  # amplitude and center describe w
    assert on_state.attrs["period_on"] == "state"


def test_on_state_sees_adagrads_growing_sum():
    # w sits at −1, but AdaGrad's sum of squared gradients grows by 1 every step: no state repeats.
    kwargs = dict(steps=300, hyper={"lr": 0.5}, progress=False)
    on_w = sd.simulate("adagrad", PINNED, np.array([[0.5]]), observers=[sd.observe.Period(8)], **kwargs)
    on_state = sd.simulate("adagrad", PINNED, np.array([[0.5]]), observers=[sd.observe.Period(8, on="state")],
                           **kwargs)
    assert on_w.period.values[0] == 1
    assert on_state.period.values[0] == 0 and on_state.status.values[0] == STATUS["bounded"]


def test_on_state_is_on_w_for_an_optimizer_without_state():
    on_w = iterate(LOGISTIC, np.array([3.2, 3.5, 3.9]), [0.3], 800, observers=[sd.observe.Period(16)])
    on_state = iterate(LOGISTIC, np.array([3.2, 3.5, 3.9]), [0.3], 800, observers=[sd.observe.Period(16, on="state")])
    for var in ("period", "transient", "cycle_amplitude", "status"):
        np.testing.assert_array_equal(on_state[var].values, on_w[var].values)


def test_on_state_per_optimizer_in_one_call():
    # Several optimizers in one call on x²: each binds the detector to its own slots (0, 1, 2).
    ds = sd.simulate(["sgd", "momentum", "adam"], MAPS, np.array([[0.3]]), 3000,
                     hyper={"lr": 0.2, "beta1": 0.1, "beta2": 0.9, "bias_correction": False},
                     params={"kind": QUADRATIC, "r": 2.0}, observers=[sd.observe.Period(8, on="state")],
                     progress=False)
    assert ds.period.sel(optimizer="sgd").item() == 1
    assert ds.period.sel(optimizer="momentum").item() == 1
    assert ds.period.sel(optimizer="adam").item() == 2  # Proposition 4's 2-cycle, moments included
    expected = 0.2 * (1 - 0.1) / (1 + 0.1) - 2e-8 / 2.0
    np.testing.assert_allclose(ds.cycle_amplitude.sel(optimizer="adam").item(), expected, rtol=1e-9)


# -- Adam: Figure 5's 12-cycle and Proposition 4's 2-cycle --------------------------------------
def test_adam_falls_into_the_12_cycle_of_the_sharp_valley():
    # Figure 5b of "Exploring the dynamics of Adam": Adam on |x| + 1e-4|y| from (0.9, 0.9).
    ds = sd.simulate("adam", "sharp_valley", np.array([[0.9, 0.9]]), steps=5000,
                     observers=[sd.observe.Period(64, coords=["x"])], progress=False)
    path = naive.adam(lambda w: np.array([np.sign(w[0]), 1e-4 * np.sign(w[1])]), [0.9, 0.9], 5000, aten_order=True,
                      record=True)
    assert naive.minimal_period(path[:, 0]) == 12
    assert ds.period.values[0] == 12
    tail = path[-12:, 0]
    np.testing.assert_allclose(ds.cycle_amplitude.values[0, 0], tail.max() - tail.min(), rtol=1e-9)
    np.testing.assert_allclose(ds.cycle_center.values[0, 0], tail.mean(), rtol=1e-6, atol=1e-15)


def test_adam_two_cycle_amplitude_matches_proposition_4():
    # Long-run Adam on x² with β₁ = 0.1, β₂ = 0.9 (an attracting 2-cycle): peak-to-peak amplitude
    # η(1 − β₁)/(1 + β₁) − 2ε/h, h = 2 (Proposition 4 with σ = |C|).
    lr, beta1, beta2, eps = 1e-3, 0.1, 0.9, 1e-8
    ds = sd.simulate("adam", MAPS, np.array([[0.05], [-0.3]]), steps=3000,
                     hyper={"lr": lr, "beta1": beta1, "beta2": beta2, "bias_correction": False},
                     params={"kind": QUADRATIC, "r": 2.0}, observers=[sd.observe.Period(8)], progress=False)
    expected = lr * (1 - beta1) / (1 + beta1) - 2 * eps / 2.0
    assert np.all(ds.period.values == 2)
    np.testing.assert_allclose(ds.cycle_amplitude.values[:, 0], expected, rtol=1e-9)
    np.testing.assert_allclose(ds.cycle_center.values[:, 0], 0.0, atol=1e-15)
    path = naive.adam(lambda w: 2.0 * w, [0.05], 3000, lr, beta1, beta2, eps, bias_correction=False, aten_order=True,
                      record=True)
    assert naive.minimal_period(path[:, 0]) == 2


def test_rmsprop_two_cycle_and_decay_on_the_smooth_valley():
    # RMSProp (α = 0.99, torch's default) on x² ends in the 2-cycle ±(η/2 − ε/h): amplitude
    # η − ε; with α = 0.999 (the paper's β₂) the oscillation decays to the minimum instead.
    ds = sd.simulate("rmsprop", "valley", np.array([[0.9, 0.9]]), steps=10_000,
                     hyper={"lr": 1e-3, "alpha": np.array([0.99, 0.999])},
                     observers=[sd.observe.Period(64, coords=["x"])], progress=False)
    assert ds.period.values[0, 0] == 2
    np.testing.assert_allclose(ds.cycle_amplitude.values[0, 0, 0], 1e-3 - 1e-8, rtol=1e-9)
    assert ds.period.values[1, 0] == 1
    assert abs(ds.cycle_center.values[1, 0, 0]) < 1e-9


# -- API: Tail, orbit points, period_scan, errors ------------------------------------------------
def test_tail_and_orbit_hold_the_last_states():
    ds = iterate(LOGISTIC, 3.7, [0.3], 6, record_every=1,
                 observers=[sd.observe.Tail(9), sd.observe.Period(4, orbit=True)])
    x = ds.trajectory.values[0, :, 0]  # steps 0 … 6
    tail = ds["tail"].values[0, :, 0]
    assert np.all(np.isnan(tail[:2]))
    np.testing.assert_array_equal(tail[2:], x)
    np.testing.assert_array_equal(ds["orbit"].values[0, :, 0], x[-4:])
    assert ds["tail"].dims == ("traj", "tail_step", "coord")
    assert ds["tail"].attrs["last_step"] == 6


def test_period_scan_returns_periods_amplitudes_and_orbit_points():
    rs = np.array([2.9, 3.2, 3.5, 3.9])
    ds = sd.period_scan("sgd", MAPS, np.array([[0.3]]), hyper={"lr": 1.0}, params={"kind": LOGISTIC, "r": rs},
                        steps=2000, max_period=32, progress=False)
    np.testing.assert_array_equal(ds.period.values[:, 0], [1, 2, 4, 0])
    assert ds["orbit"].sizes["orbit_step"] == 32
    np.testing.assert_allclose(np.unique(np.round(ds["orbit"].values[1, 0, :, 0], 9)).size, 2)
    assert ds.attrs["period_max_period"] == 32
    with pytest.raises(ValueError, match="max_period"):
        sd.period_scan("sgd", MAPS, np.zeros((4, 1)), hyper={"lr": 1.0}, steps=10, max_memory=100)


def test_period_scan_runs_in_chunks():
    # simulate's chunk_size goes to simulate (it used to reach make_plan and raise a TypeError).
    # Oracle: the logistic map's periods 1, 2, 4 and chaos at r = 2.9, 3.2, 3.5, 3.9.
    rs = np.array([2.9, 3.2, 3.5, 3.9])
    ds = sd.period_scan("sgd", MAPS, np.array([[0.3], [0.6]]), hyper={"lr": 1.0}, params={"kind": LOGISTIC, "r": rs},
                        steps=2000, max_period=32, chunk_size=3, progress=False)
    np.testing.assert_array_equal(ds.period.values, [[1, 1], [2, 2], [4, 4], [0, 0]])


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="max_period"):
        sd.observe.Period(0)
    with pytest.raises(ValueError, match="atol"):
        sd.observe.Period(atol=-1.0)
    with pytest.raises(ValueError, match="both"):
        sd.observe.Period(atol=0.0, rtol=0.0)
    with pytest.raises(ValueError, match="on must be"):
        sd.observe.Period(on="slots")
    with pytest.raises(ValueError, match="unknown coordinate"):
        iterate(LOGISTIC, 3.2, [0.3], 5, observers=[sd.observe.Period(coords=["y"])])
    with pytest.raises(ValueError, match="k must be"):
        sd.observe.Tail(0)


def test_plots_draw_the_orbit_diagram_and_the_period_map():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rs = np.linspace(2.8, 4.0, 40)
    ds = sd.period_scan("sgd", MAPS, np.array([[0.3], [0.6]]), hyper={"lr": 1.0}, params={"kind": LOGISTIC, "r": rs},
                        steps=500, max_period=16, progress=False)
    fig = sd.plot.bifurcation(ds, param="r")
    assert len(fig.axes) == 2
    assert fig.axes[0].collections[0].get_offsets().shape[0] > 40
    plt.close(fig)
    grid = sd.period_scan("sgd", MAPS, np.array([[0.3]]), hyper={"lr": np.array([0.5, 1.0])},
                          params={"kind": LOGISTIC, "r": rs[::8]}, steps=500, max_period=16, progress=False)
    fig = sd.plot.period_map(grid, x="r", y="lr")
    assert len(fig.axes) >= 2
    plt.close(fig)
    with pytest.raises(ValueError, match="not a dimension"):
        sd.plot.period_map(grid, x="r", y="beta1")


@pytest.mark.skipif(os.environ.get("NUMBA_ENABLE_CUDASIM") == "1", reason="compile_ptx needs the real CUDA compiler")
def test_kernel_with_period_and_tail_compiles_to_ptx():
    pytest.importorskip("numba.cuda")
    from simdyn.engine.kernels import compile_ptx
    from simdyn.plan import make_plan

    for on in ("w", "state"):
        req = make_plan("adam", "sharp_valley", np.array([[0.9, 0.9]]), steps=3,
                        observers=[sd.observe.Period(64, coords=["x"], on=on), sd.observe.Tail(8)]).launches[0].request
        assert ".entry" in compile_ptx(req)


def test_readme_period_scan_example_runs(tmp_path, monkeypatch):
    import re
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Limit cycles and periods", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    ds = namespace["ds"]
    assert (ds.period.sel(beta1=0.0) == 2).any()  # Proposition 4's 2-cycle at beta1 = 0
    assert (tmp_path / "period_map.png").exists() and (tmp_path / "orbit_diagram.png").exists()
