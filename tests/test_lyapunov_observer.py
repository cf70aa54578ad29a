"""The in-kernel Lyapunov observer (sd.observe.Lyapunov) against closed forms and the driver.

Oracles: GD on ½Σhᵢwᵢ² is linear, ż_T = ((1 − ηh₁)ᵀ, (1 − ηh₂)ᵀ)/√2 from ż₀ = (1, 1)/√2, so the
one-vector estimate is exactly (1/T)·ln ‖ż_T‖ (→ ln max|1 − ηhᵢ|); heavy ball on the same
quadratic has λ = ln ρ(M), M = [[1 + β − ηh, −β], [1, 0]] per coordinate (Polyak 1964);
otherwise the standalone Benettin driver sd.lyapunov (a separate, independently generated
loop: state advanced by its own step_jvp, renormalised every step, logarithms of products every
8 steps). The spectrum (spectrum=True, tests/test_lyapunov_spectrum_observer.py) has its own
oracles. CUDA: the same kernel under numba's simulator (marked cudasim) and compiled to PTX.
"""

import os

import numpy as np
import pytest

import simdyn as sd
from cudasim_helpers import both_targets
from simdyn.status import STATUS

SIMULATOR = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
H = np.diag([1.0, 10.0])
X0 = np.random.default_rng(0).uniform(-1.0, 1.0, (37, 2))


def in_kernel(optimizer, landscape, x0, steps, observer=None, **kwargs):
    kwargs.setdefault("progress", False)
    return sd.simulate(optimizer, landscape, x0=x0, steps=steps, observers=[observer or sd.observe.Lyapunov()],
                       **kwargs)


@pytest.mark.parametrize("transient, every", [(0, 1), (30, 1), (30, 7)])
def test_gd_on_a_quadratic_equals_the_closed_form_finite_time_stretch(transient, every):
    lrs = np.array([0.05, 0.15, 0.21])
    steps = 200
    ds = in_kernel("sgd", "quadratic", np.array([[0.3, -0.2]]), steps, sd.observe.Lyapunov(
        transient=transient, renormalize_every=every), hyper={"lr": lrs}, params={"h": H})
    factors = np.abs(1.0 - lrs[:, None] * np.diag(H)[None, :])
    span = steps - transient
    # ln ‖ż_T‖ with ż₀ = (1, 1)/√2, written as max + log-sum to stay finite
    top = np.log(factors.max(axis=1))
    rest = np.sum((factors / factors.max(axis=1, keepdims=True)) ** (2 * span), axis=1)
    expected = top + 0.5 * np.log(rest / 2.0) / span
    np.testing.assert_allclose(ds.lyapunov.values.ravel(), expected, rtol=1e-11, atol=1e-13)
    assert ds.lyapunov.attrs["units"] == "1/step"


@pytest.mark.parametrize("h, lrs", [(H, [100.0, 1.0, 0.05]), (np.eye(2), [0.999, 1.001, 0.5])])
def test_tangent_growing_or_shrinking_a_thousandfold_a_step_keeps_the_closed_form(h, lrs):
    # ż is rescaled by a power of two each step: here by about 2^±10 (factors |1 − ηhᵢ| of 999 and
    # 10⁻³); GD at rest at the minimum keeps the state still while ż grows or shrinks (oracle: the
    # closed form of the first test; ż's coordinates are 0 after one step where ηhᵢ = 1)
    lrs = np.array(lrs)
    steps = 200
    ds = in_kernel("sgd", "quadratic", np.array([[0.0, 0.0]]), steps, sd.observe.Lyapunov(renormalize_every=7),
                   hyper={"lr": lrs}, params={"h": h})
    factors = np.abs(1.0 - lrs[:, None] * np.diag(h)[None, :])
    top = np.log(factors.max(axis=1))
    rest = np.sum((factors / factors.max(axis=1, keepdims=True)) ** (2 * steps), axis=1)
    expected = top + 0.5 * np.log(rest / 2.0) / steps
    assert np.all(ds.w.values == 0.0)
    np.testing.assert_allclose(ds.lyapunov.values.ravel(), expected, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("lr, beta", [(0.1, 0.5), (0.15, 0.05)])
def test_heavy_ball_on_a_quadratic_has_ln_spectral_radius(lr, beta):
    ds = in_kernel("momentum", "quadratic", np.array([[0.3, -0.2]]), 20000, sd.observe.Lyapunov(transient=10),
                   hyper={"lr": lr, "momentum": beta}, params={"h": H})
    radius = max(max(abs(np.linalg.eigvals(np.array([[1 + beta - lr * h, -beta], [1.0, 0.0]]))))
                 for h in np.diag(H))
    assert float(ds.lyapunov.values.ravel()[0]) == pytest.approx(np.log(radius), abs=2e-3)


@pytest.mark.parametrize("landscape, hyper, transient", [
    ("valley", {"lr": 1e-2}, 0),
    ("valley", {"lr": np.array([1e-2, 3e-2]), "beta1": np.array([0.8, 0.9])}, 25),
    ("rosenbrock", {"lr": 1e-3}, 10),
])
def test_adam_equals_the_standalone_driver(landscape, hyper, transient):
    steps = 300
    ds = in_kernel("adam", landscape, X0, steps, sd.observe.Lyapunov(transient=transient), hyper=hyper)
    ref = sd.lyapunov("adam", landscape, X0, steps, hyper=hyper, transient=transient)
    assert np.all(np.isfinite(ref.lyapunov.values))
    np.testing.assert_allclose(ds.lyapunov.values, ref.lyapunov.values, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(ds.w.values, ref.w.values)  # the tangent does not disturb the state


def test_renormalising_every_k_steps_gives_the_same_exponent():
    # oracle: renormalise every step; the stretch telescopes, so k only changes rounding
    one = in_kernel("adam", "rosenbrock", X0, 250, sd.observe.Lyapunov(transient=5), hyper={"lr": 1e-3})
    for every in (4, 16):
        k = in_kernel("adam", "rosenbrock", X0, 250, sd.observe.Lyapunov(transient=5, renormalize_every=every),
                      hyper={"lr": 1e-3})
        np.testing.assert_allclose(k.lyapunov.values, one.lyapunov.values, rtol=1e-11, atol=1e-13)


def test_chunked_runs_give_the_same_exponents_bit_for_bit():
    kwargs = dict(hyper={"lr": np.array([1e-3, 3e-3])})
    whole = in_kernel("adam", "rosenbrock", X0, 120, sd.observe.Lyapunov(transient=7, renormalize_every=3), **kwargs)
    for chunk in (5, 16):
        part = in_kernel("adam", "rosenbrock", X0, 120, sd.observe.Lyapunov(transient=7, renormalize_every=3),
                         chunk_size=chunk, **kwargs)
        np.testing.assert_array_equal(part.lyapunov.values, whole.lyapunov.values)


def test_with_another_observer_and_on_a_projected_landscape():
    # reddi projects onto [−1, 1]: the projection's JVP is fused too (oracle: the driver)
    x0 = np.array([[0.5], [-0.3], [0.9]])
    ds = sd.simulate("adam", "reddi", x0=x0, steps=90, hyper={"lr": 0.05},
                     observers=[sd.observe.PathLength(), sd.observe.Lyapunov(transient=3)], progress=False)
    ref = sd.lyapunov("adam", "reddi", x0, 90, hyper={"lr": 0.05}, transient=3)
    np.testing.assert_allclose(ds.lyapunov.values, ref.lyapunov.values, rtol=1e-10, atol=1e-12)
    assert np.all(ds.path_length.values > 0)


def test_frozen_trajectories_stop_accumulating():
    # GD at lr 0.25 on h = 10: |1 − ηh| = 1.5, so w_y grows ×1.5 a step and leaves |w| ≤ 1e3 at a known step;
    # until then λ is exactly ln 1.5 from the dominant coordinate (oracle: the closed form over the steps taken)
    ds = in_kernel("sgd", "quadratic", np.array([[0.0, 1.0]]), 100, hyper={"lr": 0.25}, params={"h": H},
                   diverge_threshold=1e3)
    assert ds.status.values.ravel()[0] == STATUS["diverged"]
    moved = int(np.floor(np.log(1e3) / np.log(1.5)))  # steps with |w_y| = 1.5ᵗ ≤ 1e3
    expected = np.log(1.5) + 0.5 * np.log((1 + (0.75 / 1.5) ** (2 * moved)) / 2.0) / moved
    assert float(ds.lyapunov.values.ravel()[0]) == pytest.approx(expected, rel=1e-12)


def test_float32_runs_close_to_float64():
    # oracle: the float64 run (single precision rounds the state, not the method)
    d64 = in_kernel("adam", "valley", X0[:8], 200, hyper={"lr": 1e-2})
    d32 = in_kernel("adam", "valley", X0[:8], 200, hyper={"lr": 1e-2}, dtype="float32")
    np.testing.assert_allclose(d32.lyapunov.values, d64.lyapunov.values, atol=2e-4)


def test_bad_arguments_are_refused_by_name():
    with pytest.raises(ValueError, match="transient"):
        sd.observe.Lyapunov(transient=-1)
    with pytest.raises(ValueError, match="renormalize_every"):
        sd.observe.Lyapunov(renormalize_every=0)
    with pytest.raises(ValueError, match="n_exponents"):
        sd.observe.Lyapunov(n_exponents=2)  # without spectrum=True
    with pytest.raises(ValueError, match="n_exponents"):
        sd.observe.Lyapunov(spectrum=True, n_exponents=0)
    with pytest.raises(TypeError, match="spectrum"):
        sd.observe.Lyapunov(spectrum="yes")


@pytest.mark.skipif(SIMULATOR, reason="compile_ptx needs the real CUDA compiler, not the simulator")
@pytest.mark.parametrize("landscape", ["rosenbrock", "reddi"])
def test_kernel_with_the_lyapunov_observer_compiles_to_ptx(landscape):
    pytest.importorskip("numba.cuda")
    from simdyn.engine.kernels import compile_ptx
    from simdyn.plan import make_plan

    x0 = np.full((2, 2 if landscape == "rosenbrock" else 1), 0.1)
    req = make_plan("adam", landscape, x0, steps=3, observers=[sd.observe.Lyapunov(transient=1)]).launches[0].request
    ptx = compile_ptx(req)
    assert ".entry" in ptx and ".target sm_90" in ptx


@pytest.mark.cudasim
@pytest.mark.skipif(not SIMULATOR, reason="needs NUMBA_ENABLE_CUDASIM=1")
def test_cuda_equals_the_cpu_under_the_simulator():
    x0 = X0[:4]
    cpu, gpu = both_targets("adam", "rosenbrock", x0, 40, hyper={"lr": 1e-3},
                            observers=[sd.observe.Lyapunov(transient=4, renormalize_every=3)])
    np.testing.assert_allclose(gpu.lyapunov.values, cpu.lyapunov.values, rtol=1e-12, atol=1e-14)


def test_the_cpu_kernel_streams_only_the_observer_slots_its_step_touches():
    # One tangent vector keeps its stretch slot at 1 (only the spectrum updates it): the step
    # neither loads nor stores it; every slot the step assigns is stored.
    import re

    from simdyn.engine.codegen import cpu_source
    from simdyn.plan import make_plan

    layout = make_plan("adam", "rosenbrock", np.zeros((4, 2)), 3, observers=[sd.observe.Lyapunov()]).launches[0].request.layout
    step = cpu_source(layout).split("for t in range(t_begin + 1, t_end + 1):")[1]
    stretch = sum(layout.observer_slots) - 1  # tangent (6), log_stretch, lyapunov_steps, stretch
    assert f"O[{stretch}, j]" not in step and f"ob_{stretch}" not in step
    stored = set(re.findall(r"O\[(\d+), j\] = ob_", step))
    assigned = set(re.findall(r"^\s*ob_(\d+) \S?=", step, flags=re.M))
    assert stored == assigned and len(stored) == stretch


def test_the_step_jvp_is_inlined_into_the_kernel_loop(monkeypatch):
    """NAdam's step JVP is long enough that LLVM kept it a call, which computed its per-step
    powers in every call (31x the plain kernel instead of 2-3x); the JVPs are marked for LLVM to
    always inline (simdyn.engine.compile). Oracle: the kernel's LLVM IR has no call left to a
    JVP function."""
    import re

    from simdyn.engine import kernels
    from simdyn.engine.kernels import get_kernel
    from simdyn.engine.run import run_batch
    from simdyn.plan import make_plan

    # compiled in this process (numba hides the IR of a kernel loaded from the disk cache)
    monkeypatch.setenv("SIMDYN_DISK_CACHE", "0")
    monkeypatch.setattr(kernels, "_KERNELS", {})
    (launch,) = make_plan("nadam", "valley", np.zeros((4, 2)), 3, observers=[sd.observe.Lyapunov()]).launches
    run_batch(launch.request, launch.inputs)
    kernel = get_kernel(launch.request)
    ir = kernel.inspect_llvm(kernel.signatures[0])
    assert "jvp" in ir  # the JVP's code is there (its inlined blocks keep their names)
    assert not re.findall(r"call [^\n]*@\S*jvp", ir)
