"""Lyapunov exponents (sd.lyapunov, Benettin's method) against closed forms.

Oracles: GD on ½Σhᵢwᵢ² is linear, λ = ln max|1 − ηhᵢ| and the spectrum {ln|1 − ηhᵢ|}; heavy
ball on the same quadratic has per coordinate the companion matrix M = [[1 + β − ηh, −β], [1, 0]]
of the recurrence (Polyak 1964), λ = ln ρ(M), which is ln √β for every exponent in the complex
regime (1 + β − ηh)² < 4β; the logistic map at r = 4 has λ = ln 2 for almost every start
(Ulam & von Neumann 1947).
"""

import numpy as np
import pytest

import simdyn as sd
from tangent_landscapes import LOGISTIC

H = np.diag([1.0, 10.0])


def test_gd_on_a_quadratic_has_ln_max_abs_one_minus_lr_h():
    lrs = np.array([0.05, 0.15, 0.21])
    ds = sd.lyapunov("sgd", "quadratic", np.array([[0.3, -0.2]]), 200, hyper={"lr": lrs}, params={"h": H},
                     spectrum=True)
    rates = np.log(np.abs(1.0 - lrs[:, None] * np.diag(H)[None, :]))
    np.testing.assert_allclose(ds.lyapunov.values[:, 0], rates.max(axis=1), rtol=1e-12)
    np.testing.assert_allclose(ds.lyapunov_spectrum.values[:, 0], -np.sort(-rates, axis=1), rtol=1e-12)
    # one vector (the default) sees the slower of the two decoupled coordinates too
    largest = sd.lyapunov("sgd", "quadratic", np.array([[0.3, -0.2]]), 200, hyper={"lr": lrs}, params={"h": H})
    np.testing.assert_allclose(largest.lyapunov.values[:, 0], rates.max(axis=1), atol=0.02)


def companion_radius(lr, beta, h):
    return max(abs(np.linalg.eigvals(np.array([[1 + beta - lr * h, -beta], [1.0, 0.0]]))))


@pytest.mark.parametrize("lr, beta", [(0.1, 0.5), (0.01, 0.3), (0.15, 0.05)])
def test_heavy_ball_on_a_quadratic_has_ln_spectral_radius(lr, beta):
    ds = sd.lyapunov("momentum", "quadratic", np.array([[0.3, -0.2]]), 20000, transient=10,
                     hyper={"lr": lr, "momentum": beta}, params={"h": H}, spectrum=True)
    expected = np.log(max(companion_radius(lr, beta, h) for h in np.diag(H)))
    assert float(ds.lyapunov[0]) == pytest.approx(expected, abs=2e-3)
    if all((1 + beta - lr * h) ** 2 < 4 * beta for h in np.diag(H)):  # complex regime: all are ln √β
        np.testing.assert_allclose(ds.lyapunov_spectrum.values.ravel(), np.log(np.sqrt(beta)), atol=2e-3)


def test_logistic_map_at_r_4_has_ln_2_on_average():
    x0 = np.random.default_rng(0).uniform(0.01, 0.99, (10_000, 1))
    ds = sd.lyapunov("sgd", LOGISTIC, x0, 2000, hyper={"lr": 1.0}, params={"r": 4.0}, transient=100)
    values = ds.lyapunov.values
    assert np.isfinite(values).mean() > 0.99
    assert np.nanmean(values) == pytest.approx(np.log(2.0), abs=5e-3)


def test_lyapunov_rejects_bad_arguments():
    x0 = np.array([[0.1, 0.2]])
    with pytest.raises(ValueError, match="transient"):
        sd.lyapunov("sgd", "valley", x0, 10, transient=10)
    with pytest.raises(ValueError, match="transient"):
        sd.lyapunov("sgd", "valley", x0, 10, transient=-1)
    with pytest.raises(ValueError, match="optimizer"):
        sd.lyapunov(["sgd", "adam"], "valley", x0, 10)
    with pytest.raises(ValueError, match="lr"):
        sd.lyapunov("sgd", "valley", x0, 10, hyper={"lr": -1.0})


def test_array_form_landscapes_are_refused_by_name():
    with pytest.raises(ValueError, match="tuple-form"):
        sd.lyapunov("sgd", "quadratic", np.full((1, 11), 0.1), 10,
                    params={"h": np.eye(11)})


def test_spectrum_beyond_32_state_components_is_refused():
    h = np.eye(11)  # adam: 11 · (1 + 2) = 33 components
    with pytest.raises(ValueError, match="spectrum"):
        sd.lyapunov("adam", sd.landscapes.quadratic(h, form="tuple"), np.full((1, 11), 0.1), 10, spectrum=True)
