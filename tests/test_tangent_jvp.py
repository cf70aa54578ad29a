"""Jacobian–vector products of the step map (simdyn.tangent) against torch autograd.

Oracle: the Jacobian of torch.optim's own step, built with ``differentiable=True`` (torch then
records the optimizer step in autograd), composed with the gradient of the loss written below in
torch, independently of simdyn's landscape code; so ġ = H·ẇ comes from torch's double backward.
The full optimizer × landscape matrix runs the generated plain-Python JVP (no compilation, the
same source numba compiles); compiled CPU functions are checked against it for every optimizer.
Flags torch lacks (adam's ``bias_correction=False``, ``eps_inside_sqrt``), the non-smooth and
projected landscapes are checked against central differences of simdyn's own step.
Tolerance rtol 1e-10 relative to the Jacobian's largest entry (torch fuses some multiply-adds).
"""

from __future__ import annotations

import numpy as np
import pytest

import simdyn as sd
from simdyn.tangent.forward import jvp
from simdyn.tangent.stepmap import StepMap, step_map

torch = pytest.importorskip("torch")

RTOL = 1e-10
H3 = np.array([[2.0, 0.6, -0.3], [0.6, 1.5, 0.4], [-0.3, 0.4, 0.8]])


# ----------------------------------------------------------------- torch losses (from DESIGN.md)
def loss_valley(w):
    return w[0] ** 2 + 1e-3 * w[1] ** 2


def loss_rosenbrock(w):
    return (1.0 - w[0]) ** 2 + 100.0 * (w[1] - w[0] ** 2) ** 2


def loss_himmelblau(w):
    return (w[0] ** 2 + w[1] - 11.0) ** 2 + (w[0] + w[1] ** 2 - 7.0) ** 2


def loss_double_well(w):
    return (w[0] ** 2 - 1.0) ** 2 + 0.25 * w[0] + 0.5 * w[1] ** 2


def loss_saddle(w):
    return 0.5 * (w[1] ** 2 - w[0] ** 2)


def loss_quadratic(w):
    return 0.5 * w @ torch.tensor(H3) @ w


LANDSCAPES = {
    "valley": (lambda: sd.get_landscape("valley"), loss_valley),
    "rosenbrock": (lambda: sd.get_landscape("rosenbrock"), loss_rosenbrock),
    "himmelblau": (lambda: sd.get_landscape("himmelblau"), loss_himmelblau),
    "double_well": (lambda: sd.get_landscape("double_well"), loss_double_well),
    "saddle": (lambda: sd.get_landscape("saddle"), loss_saddle),
    "quadratic": (lambda: sd.get_landscape("quadratic", {"h": H3}), loss_quadratic),
}

# ------------------------------------------------------------------- torch.optim per optimizer
HYPER = {  # non-default values so every term is exercised (momentum in RMSProp, weight decay …)
    "sgd": {"lr": 0.05},
    "momentum": {"lr": 0.05, "momentum": 0.8, "dampening": 0.1},
    "nesterov": {"lr": 0.05, "momentum": 0.8},
    "adagrad": {"lr": 0.05, "lr_decay": 0.01, "weight_decay": 0.02, "eps": 1e-3},
    "rmsprop": {"lr": 0.02, "alpha": 0.9, "momentum": 0.5, "weight_decay": 0.01, "eps": 1e-3, "centered": True},
    "adam": {"lr": 0.02, "beta1": 0.8, "beta2": 0.95, "weight_decay": 0.01, "eps": 1e-3},
    "amsgrad": {"lr": 0.02, "beta1": 0.8, "beta2": 0.95, "eps": 1e-3},
    "adamw": {"lr": 0.02, "beta1": 0.8, "beta2": 0.95, "weight_decay": 0.05, "eps": 1e-3},
    "adamax": {"lr": 0.02, "beta1": 0.8, "beta2": 0.95, "weight_decay": 0.01, "eps": 1e-3},
    "nadam": {"lr": 0.02, "beta1": 0.8, "beta2": 0.95, "momentum_decay": 0.004, "eps": 1e-3},
    "radam": {"lr": 0.02, "beta1": 0.8, "beta2": 0.95, "eps": 1e-3},
}


def torch_optimizer(name, params, hyper):
    o, h = torch.optim, dict(hyper)
    betas = (h.pop("beta1", 0.9), h.pop("beta2", 0.999))
    if name == "sgd":
        return o.SGD(params, differentiable=True, **h)
    if name in ("momentum", "nesterov"):
        return o.SGD(params, differentiable=True, nesterov=name == "nesterov", **h)
    if name == "adagrad":
        return o.Adagrad(params, differentiable=True, **h)
    if name == "rmsprop":
        return o.RMSprop(params, differentiable=True, **h)
    cls = {"adam": o.Adam, "amsgrad": o.Adam, "adamw": o.AdamW, "adamax": o.Adamax, "nadam": o.NAdam,
           "radam": o.RAdam}[name]
    extra = {"amsgrad": True} if name == "amsgrad" else {}
    return cls(params, differentiable=True, betas=betas, **extra, **h)


def random_state(opt, dim, rng):
    """A random state z = (w, slots), every slot in its valid range (second moments > 0 …)."""
    w = rng.uniform(-1.5, 1.5, dim)
    slots = []
    for slot in opt.slots:
        if slot in ("exp_avg_sq", "sum", "square_avg", "exp_inf"):
            values = rng.uniform(0.5, 2.0, dim)
        elif slot == "max_exp_avg_sq":
            values = rng.uniform(2.5, 3.0, dim) * np.where(rng.random(dim) < 0.5, 1.0, 0.1)
        elif slot == "mu_product":
            values = rng.uniform(0.2, 0.6, dim)
        elif slot == "grad_avg":
            values = rng.uniform(-0.3, 0.3, dim)
        else:
            values = rng.uniform(-1.0, 1.0, dim)
        slots.append(values)
    return w, slots


def torch_jacobian(name, loss, opt, w, slots, t):
    """∂z′/∂z of torch's step at z = (w, slots), step t (torch's state['step'] = t − 1 before it)."""
    def step(w_t, *slot_t):
        g = torch.autograd.grad(loss(w_t), w_t, create_graph=True)[0]
        p = w_t.clone()
        p.grad = g
        optimizer = torch_optimizer(name, [p], HYPER[name])
        state = {slot: s.clone() for slot, s in zip(opt.slots, slot_t)}
        state["step"] = torch.tensor(float(t - 1), dtype=torch.float64)
        optimizer.state[p] = state
        optimizer.step()
        return torch.cat([p, *(optimizer.state[p][slot] for slot in opt.slots)])

    inputs = tuple(torch.tensor(a, requires_grad=True) for a in (w, *slots))
    jac = torch.autograd.functional.jacobian(step, inputs)
    return torch.cat(list(jac), dim=1).numpy()


def simdyn_jacobian(fn, smap, z, t, hyper, p):
    lr, h = smap.hyper_tuple({k: v for k, v in hyper.items() if k not in smap.optimizer.flags})
    n = len(z)
    cols = [fn(tuple(z), tuple(float(i == c) for i in range(n)), t, lr, h, p)[1] for c in range(n)]
    return np.array(cols).T


def flags_of(name):
    opt = sd.get_optimizer(name)
    return {k: v for k, v in HYPER[name].items() if k in opt.flags}


@pytest.mark.parametrize("landscape", list(LANDSCAPES))
@pytest.mark.parametrize("name", list(sd.OPTIMIZERS))
def test_step_jvp_equals_torch_autograd_of_torch_optim_step(name, landscape):
    make, loss = LANDSCAPES[landscape]
    land = make()
    smap = StepMap(name, land, flags_of(name))
    rng = np.random.default_rng(abs(hash((name, landscape))) % 2**32)
    opt = smap.optimizer
    for t in (2, 7, 40):
        w, slots = random_state(opt, land.dim, rng)
        z = np.concatenate([w, *slots])
        ours = simdyn_jacobian(smap.step_jvp_py, smap, z, t, HYPER[name], land.flat_params({}))
        ref = torch_jacobian(name, loss, opt, w, slots, t)
        np.testing.assert_allclose(ours, ref, rtol=RTOL, atol=RTOL * np.abs(ref).max())


@pytest.mark.parametrize("name", list(sd.OPTIMIZERS))
def test_compiled_step_jvp_equals_plain_python(name):
    smap = step_map(name, "rosenbrock", flags_of(name))
    _, compiled = smap.compiled("cpu")
    rng = np.random.default_rng(3)
    w, slots = random_state(smap.optimizer, 2, rng)
    z = np.concatenate([w, *slots])
    p = (1.0, 100.0)
    ref = simdyn_jacobian(smap.step_jvp_py, smap, z, 5, HYPER[name], p)
    np.testing.assert_allclose(simdyn_jacobian(compiled, smap, z, 5, HYPER[name], p), ref,
                               rtol=1e-13, atol=1e-13 * np.abs(ref).max())


def central_difference_jacobian(smap, z, t, lr, h, p, step=1e-6):
    """(F(z + δe_c) − F(z − δe_c))/2δ per column, of simdyn's own step (second oracle)."""
    cols = []
    for c in range(len(z)):
        e = np.zeros(len(z))
        e[c] = step
        cols.append((np.array(smap.step_py(tuple(z + e), t, lr, h, p)) -
                     np.array(smap.step_py(tuple(z - e), t, lr, h, p))) / (2 * step))
    return np.array(cols).T


@pytest.mark.parametrize("flags", [{"bias_correction": False}, {"eps_inside_sqrt": True}])
@pytest.mark.parametrize("landscape", ["rosenbrock", "sharp_valley", "plateau"])
def test_step_jvp_equals_central_differences_for_flags_torch_lacks(flags, landscape):
    smap = StepMap("adam", landscape, flags)
    rng = np.random.default_rng(7)
    lr, h = smap.hyper_tuple({"lr": 0.01, "eps": 1e-3})
    w, slots = random_state(smap.optimizer, 2, rng)
    z = np.concatenate([w, *slots])
    p = smap.landscape.flat_params({})
    ours = simdyn_jacobian(smap.step_jvp_py, smap, z, 9, {"lr": 0.01, "eps": 1e-3}, p)
    np.testing.assert_allclose(ours, central_difference_jacobian(smap, z, 9, lr, h, p), rtol=1e-7, atol=1e-8)


def test_projection_is_differentiated_on_the_branch_taken():
    """reddi clamps x to [−1, 1]: where the step lands inside, the Jacobian of SGD is 1 (the
    gradient does not depend on x); where it lands outside, the clamp is constant, so it is 0
    (central differences agree). At t = 5 the gradient is −1, so the step is x + 0.1."""
    smap = StepMap("sgd", "reddi")
    lr, h = smap.hyper_tuple({"lr": 0.1})
    for x, expected in ((0.2, 1.0), (0.95, 0.0), (-1.3, 0.0)):
        (jac,) = simdyn_jacobian(smap.step_jvp_py, smap, np.array([x]), 5, {"lr": 0.1}, (3.0,))
        np.testing.assert_allclose(jac, [expected])
        np.testing.assert_allclose(jac, central_difference_jacobian(smap, np.array([x]), 5, lr, h, (3.0,))[0])


def test_piecewise_functions_take_the_branch_taken():
    """abs → sign(u)·u̇ with sign(0) = 0; max/min → the tangent of the argument returned."""
    def f(x, y):
        return abs(x) + max(x, y) - min(2.0 * x, y)

    g = jvp(f, (True, True))
    assert g(0.5, 0.2, 1.0, 0.0) == (f(0.5, 0.2), 1.0 + 1.0 - 0.0)  # max → x, min → y
    assert g(-0.5, 0.2, 1.0, 0.0)[1] == -1.0 + 0.0 - 2.0  # max → y, min → 2x
    assert g(0.0, -1.0, 1.0, 0.0)[1] == 0.0 + 1.0 - 0.0  # sign(0) = 0


def test_unsupported_constructs_raise_type_error_naming_the_function():
    def keyword_call(x):
        return round(x, ndigits=2)

    with pytest.raises(TypeError, match="keyword_call"):
        jvp(keyword_call, (True,))


def test_step_map_rejects_unknown_flags():
    with pytest.raises(ValueError, match="flags"):
        StepMap("adam", "valley", {"nesterov": True})


def test_float32_step_jvp_computes_in_float32():
    """The JVP source goes through compile_scalar's float32 literal retyping like any optimizer:
    the float32 product agrees with float64 to float32 precision and is not bitwise float64."""
    smap = step_map("adam", "rosenbrock")
    _, f32 = smap.compiled("cpu", "float32")
    _, f64 = smap.compiled("cpu", "float64")
    f = np.float32
    z = (0.3, 0.7, 0.1, -0.2, 0.05, 0.02)
    args32 = (tuple(f(x) for x in z), tuple(f(x) for x in (1, 0, 0, 0, 0, 0)), 7, f(0.01),
              tuple(f(x) for x in (0.9, 0.999, 1e-8, 0.0)), (f(1.0), f(100.0)))
    single = np.array(f32(*args32)[1])
    double = np.array(f64(z, (1.0, 0, 0, 0, 0, 0), 7, 0.01, (0.9, 0.999, 1e-8, 0.0), (1.0, 100.0))[1])
    np.testing.assert_allclose(single, double, rtol=1e-4, atol=1e-6)  # inputs rounded to float32
    assert not np.array_equal(single, double)
