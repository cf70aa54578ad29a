"""The Lyapunov spectrum in the kernel (sd.observe.Lyapunov(spectrum=True)) against closed forms and the driver.

Oracles: GD on ½Σhᵢwᵢ² has the diagonal Jacobian diag(1 − ηhᵢ), so the identity frame stays
diagonal and every exponent is exactly ln|1 − ηhᵢ| (sorted descending); heavy ball on the same
quadratic has, per coordinate, the two ln|μ| of the companion matrix [[1 + β − ηh, −β], [1, 0]]
(Polyak 1964); otherwise the standalone driver sd.lyapunov(spectrum=True) (a separate,
independently generated loop: modified Gram–Schmidt and a logarithm every step). CUDA: the same
kernel under numba's simulator (marked cudasim) and compiled to PTX.
"""

import os

import numpy as np
import pytest

import simdyn as sd
from cudasim_helpers import both_targets

SIMULATOR = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
H = np.diag([1.0, 10.0])
X0 = np.random.default_rng(1).uniform(-1.0, 1.0, (23, 2))


def spectrum(optimizer, landscape, x0, steps, observer, **kwargs):
    kwargs.setdefault("progress", False)
    return sd.simulate(optimizer, landscape, x0=x0, steps=steps, observers=[observer], **kwargs)


@pytest.mark.parametrize("transient, every", [(0, 1), (13, 7)])
def test_gd_on_a_quadratic_has_the_exponents_ln_abs_1_minus_lr_h(transient, every):
    lrs = np.array([0.05, 0.15, 0.21])
    ds = spectrum("sgd", "quadratic", np.array([[0.3, -0.2]]), 200,
                  sd.observe.Lyapunov(spectrum=True, transient=transient, renormalize_every=every),
                  hyper={"lr": lrs}, params={"h": H})
    expected = -np.sort(-np.log(np.abs(1.0 - lrs[:, None] * np.diag(H)[None, :])), axis=1)
    assert ds.lyapunov_spectrum.dims == ("lr", "traj", "exponent")
    np.testing.assert_allclose(ds.lyapunov_spectrum.values[:, 0], expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ds.lyapunov.values[:, 0], expected[:, 0], rtol=1e-12, atol=1e-14)


def _companion_exponents(lr, beta):
    """ln|μ| of [[1 + β − ηh, −β], [1, 0]] for each h of H, descending."""
    mus = [np.linalg.eigvals(np.array([[1 + beta - lr * h, -beta], [1.0, 0.0]])) for h in np.diag(H)]
    return -np.sort(-np.log(np.abs(np.concatenate(mus))))


@pytest.mark.slow  # compiles a kernel with 4 to 6 step JVPs
@pytest.mark.parametrize("lr, beta", [(0.1, 0.5), (0.15, 0.05)])
def test_heavy_ball_has_the_log_moduli_of_the_companion_matrices(lr, beta):
    # transient ≥ 1: the first step b₁ = g₁ discards the buffer (a singular Jacobian)
    ds = spectrum("momentum", "quadratic", np.array([[0.3, -0.2]]), 20000,
                  sd.observe.Lyapunov(spectrum=True, transient=10), hyper={"lr": lr, "momentum": beta},
                  params={"h": H})
    np.testing.assert_allclose(ds.lyapunov_spectrum.values.ravel(), _companion_exponents(lr, beta), atol=2e-3)


@pytest.mark.slow  # compiles a kernel with 4 to 6 step JVPs
def test_the_first_exponents_alone_from_a_generic_frame():
    # n_exponents = 2 of the 4: the two largest ln|μ| (oracle: the companion matrices)
    lr, beta = 0.15, 0.05
    ds = spectrum("momentum", "quadratic", np.array([[0.3, -0.2]]), 20000,
                  sd.observe.Lyapunov(spectrum=True, n_exponents=2, transient=10), hyper={"lr": lr, "momentum": beta},
                  params={"h": H})
    assert ds.lyapunov_spectrum.sizes["exponent"] == 2
    np.testing.assert_allclose(ds.lyapunov_spectrum.values.ravel(), _companion_exponents(lr, beta)[:2], atol=2e-3)


@pytest.mark.slow  # compiles a kernel with 4 to 6 step JVPs
def test_adam_equals_the_standalone_driver():
    hyper = {"lr": np.array([1e-2, 3e-2]), "beta1": np.array([0.8, 0.9])}
    ds = spectrum("adam", "valley", X0, 300, sd.observe.Lyapunov(spectrum=True, transient=25), hyper=hyper)
    ref = sd.lyapunov("adam", "valley", X0, 300, hyper=hyper, transient=25, spectrum=True)
    assert np.all(np.isfinite(ref.lyapunov_spectrum.values))
    assert ds.lyapunov_spectrum.sizes["exponent"] == 6
    np.testing.assert_allclose(ds.lyapunov_spectrum.values, ref.lyapunov_spectrum.values, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(ds.w.values, ref.w.values)  # the tangents do not disturb the state


def test_state_dimension_beyond_32_is_refused_by_name():
    # AMSGrad in 9-D: 9·(1 + 3) = 36 > 32; refused before anything is compiled
    from simdyn.landscapes.quadratic import quadratic

    with pytest.raises(ValueError, match="spectrum.*36"):
        sd.simulate("amsgrad", quadratic(np.eye(9), form="tuple"), x0=np.zeros((1, 9)), steps=5,
                    observers=[sd.observe.Lyapunov(spectrum=True)], progress=False)
    with pytest.raises(ValueError, match="n_exponents"):
        sd.simulate("adam", "valley", x0=np.zeros((1, 2)), steps=5,
                    observers=[sd.observe.Lyapunov(spectrum=True, n_exponents=7)], progress=False)


@pytest.mark.skipif(SIMULATOR, reason="compile_ptx needs the real CUDA compiler, not the simulator")
def test_kernel_with_the_spectrum_compiles_to_ptx():
    pytest.importorskip("numba.cuda")
    from simdyn.engine.kernels import compile_ptx
    from simdyn.plan import make_plan

    # GD on Rosenbrock (n = 2: one Gram–Schmidt projection); Adam's 6 vectors take a minute to compile
    req = make_plan("sgd", "rosenbrock", np.full((2, 2), 0.1), steps=3,
                    observers=[sd.observe.Lyapunov(spectrum=True, transient=1)]).launches[0].request
    ptx = compile_ptx(req)
    assert ".entry" in ptx and ".target sm_90" in ptx


@pytest.mark.cudasim
@pytest.mark.skipif(not SIMULATOR, reason="needs NUMBA_ENABLE_CUDASIM=1")
def test_cuda_equals_the_cpu_under_the_simulator():
    cpu, gpu = both_targets("adam", "rosenbrock", X0[:3], 40, hyper={"lr": 1e-3},
                            observers=[sd.observe.Lyapunov(spectrum=True, transient=4, renormalize_every=3)])
    np.testing.assert_allclose(gpu.lyapunov_spectrum.values, cpu.lyapunov_spectrum.values, rtol=1e-12, atol=1e-14)
