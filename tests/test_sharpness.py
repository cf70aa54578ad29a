"""sd.observe.Sharpness: λ_max of the (preconditioned) Hessian every k steps.

Oracles: numpy.linalg.eigvalsh of the quadratic's H (closed form); the top eigenvalue of torch's
Hessian (torch.autograd.functional.hessian) of the network written in torch from the reference
code; λ_max(P_t⁻¹H) in NumPy with P_t built from Adam's v_t recomputed in NumPy from the formula
(Cohen et al. 2022's definition), on the trajectory of tests/naive.py's Adam.
"""

import numpy as np
import pytest

import naive
import simdyn as sd
from simdyn.status import STATUS

H = np.array([[3.0, 1.0], [1.0, 7.0]])
X0 = np.array([[1.0, -0.5], [0.2, 0.9], [-1.5, 0.3]])


@pytest.fixture(scope="module")
def gd_on_quadratic():
    """GD at a stable and a diverging learning rate (one compile), every 4 steps."""
    kwargs = dict(hyper={"lr": [0.05, 0.6]}, params={"h": H}, observers=[sd.observe.Sharpness(every=4, iterations=40)],
                  progress=False)
    return sd.simulate("sgd", "quadratic", X0, 30, **kwargs), kwargs


def test_sharpness_on_the_quadratic_is_the_top_eigenvalue_and_nan_after_divergence(gd_on_quadratic):
    ds, _ = gd_on_quadratic
    top = np.linalg.eigvalsh(H)[-1]  # oracle: 4 + √10
    assert ds.sharpness.dims == ("lr", "traj", "sharpness_step")
    np.testing.assert_array_equal(ds.sharpness_step.values, np.arange(0, 29, 4))
    np.testing.assert_allclose(ds.sharpness.sel(lr=0.05).values, top, rtol=1e-12)
    # lr = 0.6 > 2/λ_max: the iterates grow by |1 − 0.6 λ_max| ≈ 3.3 per step and freeze at the threshold
    diverged = ds.sel(lr=0.6)
    assert (diverged.status == STATUS["diverged"]).all()
    for traj in range(len(X0)):
        stop = int(diverged.stop_step[traj])
        series = diverged.sharpness[traj]
        np.testing.assert_allclose(series.sel(sharpness_step=slice(None, stop - 1)).values, top, rtol=1e-12)
        assert np.isnan(series.sel(sharpness_step=slice(stop, None)).values).all()


def test_sharpness_does_not_depend_on_chunks(gd_on_quadratic):
    ds, kwargs = gd_on_quadratic
    chunked = sd.simulate("sgd", "quadratic", X0, 30, chunk_size=2, **kwargs)
    np.testing.assert_array_equal(chunked.sharpness.values, ds.sharpness.values)


def adam_preconditioned_oracle(w0, steps, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """λ_max(P_t⁻¹H) for t = 1 … steps, P_t = (1 − β₁ᵗ)(√(v_t/(1 − β₂ᵗ)) + ε) with v_t the
    second-moment average of the gradients H w_{t−1} along naive.adam's trajectory."""
    path = naive.adam(lambda w: w @ H, w0, steps, lr=lr, beta1=beta1, beta2=beta2, eps=eps, record=True)
    v = np.zeros_like(w0)
    out = []
    for t in range(1, steps + 1):
        g = H @ path[t - 1]
        v = beta2 * v + (1 - beta2) * g * g
        p = (1 - beta1 ** t) * (np.sqrt(v / (1 - beta2 ** t)) + eps)
        out.append(np.max(np.linalg.eigvals(H / p[:, None]).real))
    return np.array(out)


def test_preconditioned_sharpness_with_adam_is_top_eigenvalue_of_p_inverse_h():
    ds = sd.simulate("adam", "quadratic", X0, 12, hyper={"lr": 0.05}, params={"h": H},
                     observers=[sd.observe.Sharpness(every=3, iterations=200, preconditioned=True)], progress=False)
    for i, w0 in enumerate(X0):
        expected = adam_preconditioned_oracle(w0, 12, 0.05)[2::3]  # t = 3, 6, 9, 12
        series = ds.sharpness[i].values
        assert np.isnan(series[0])  # P_0 = 0: no second moment before the first step
        np.testing.assert_allclose(series[1:], expected, rtol=1e-9)


def test_mlp_sharpness_equals_top_eigenvalue_of_torch_hessian():
    torch = pytest.importorskip("torch")
    from test_models import case

    # the relu network 5-7-3 (d = 56) and Adam of tests/test_models.py: the same step kernel
    land, loss, _ = case("mlp", 1)
    w0 = np.random.default_rng(4).normal(scale=0.5, size=(2, land.dim))
    ds = sd.simulate("adam", land, w0, 20, hyper={"lr": 1e-2}, record_every=1,
                     observers=[sd.observe.Sharpness(every=10, iterations=300)], progress=False)
    for i in range(len(w0)):
        for t in (0, 10, 20):
            w = torch.tensor(ds.trajectory.isel(traj=i).sel(step=t).values)
            eigenvalues = np.linalg.eigvalsh(torch.autograd.functional.hessian(loss, w).numpy())
            assert eigenvalues[-1] > abs(eigenvalues[0])  # power iteration finds the largest |λ|
            np.testing.assert_allclose(ds.sharpness.isel(traj=i).sel(sharpness_step=t), eigenvalues[-1], rtol=1e-7)


def _quadratic_hvp(w, p, data, t, u, out):
    h = data[0]
    for i in range(w.shape[0]):
        acc = 0.0
        for k in range(w.shape[0]):
            acc += h[i, k] * u[k]
        out[i] = acc


def _quadratic_grad(w, p, data, t, g):
    _quadratic_hvp(w, p, data, t, w, g)


def _quadratic_loss(w, p, data, t):
    h = data[0]
    total = 0.0
    for i in range(w.shape[0]):
        for k in range(w.shape[0]):
            total += w[i] * h[i, k] * w[k]
    return 0.5 * total


def array_quadratic(h, hvp=True):
    """½ wᵀHw in array form with its exact Hessian–vector product H·u (or without, then the
    engine takes central differences of the gradient)."""
    return sd.Landscape("array_quadratic", h.shape[0], _quadratic_grad, _quadratic_loss, form="array",
                        data={"h": h}, hvp=_quadratic_hvp if hvp else None)


@pytest.mark.parametrize("exact", [True, pytest.param(False, marks=pytest.mark.slow)], ids=["hvp", "central_difference"])
def test_array_form_sharpness_is_the_top_eigenvalue(exact):
    h = np.random.default_rng(1).normal(size=(6, 6))
    h = h @ h.T + np.diag(np.arange(6.0))
    w0 = np.random.default_rng(2).normal(size=(3 if exact else 1, 6))  # one trajectory: its work rows are its own
    ds = sd.simulate("momentum", array_quadratic(h, exact), w0, 6, hyper={"lr": 0.01, "momentum": 0.9},
                     observers=[sd.observe.Sharpness(every=2, iterations=300)], progress=False)
    np.testing.assert_allclose(ds.sharpness.values, np.linalg.eigvalsh(h)[-1], rtol=1e-12 if exact else 1e-8)


@pytest.mark.parametrize("make, match", [
    (lambda: sd.observe.Sharpness(every=0), r"Sharpness\(every\)"),
    (lambda: sd.observe.Sharpness(iterations=1.5), r"Sharpness\(iterations\)"),
    (lambda: sd.observe.Sharpness(preconditioned="yes"), r"Sharpness\(preconditioned\)"),
    (lambda: sd.simulate("sgd", "quadratic", X0, 3, observers=[sd.observe.Sharpness(preconditioned=True)]),
     r"observers: Sharpness\(preconditioned=True\).*'sgd'"),
])
def test_bad_sharpness_arguments_are_rejected_by_name(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_planned_outputs_and_memory_include_the_series():
    from simdyn.engine.allocation import launch_bytes
    from simdyn.output_size import output_variables
    from simdyn.plan import make_plan

    def plan(observers):
        return make_plan("adam", "quadratic", X0, 30, observers=observers)

    with_series = plan([sd.observe.Sharpness(every=4)])
    assert output_variables(with_series)["sharpness"] == ((len(X0), 8), np.dtype(np.float64))  # t = 0, 4, …, 28
    bare = plan([])
    extra = [launch_bytes(p.launches[0].request, p.launches[0].inputs, len(X0)) for p in (with_series, bare)]
    assert extra[0] - extra[1] == len(X0) * 8 * (8 + 2 * (9 + 2))  # series + rows of d = 2, 2 Adam slots
