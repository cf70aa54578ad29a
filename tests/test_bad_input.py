"""Bad input (DESIGN.md §4): every invalid argument raises a plain ValueError/TypeError that names
the argument, before any kernel is compiled.

"Before any compilation" is checked with ``sd.cache_info()``: its ``builds`` counter (kernels
generated) and ``size`` (kernels and loss kernels cached) must not move across a failing call.

Run: python -m pytest tests/test_bad_input.py -p no:cacheprovider -q -o addopts=""
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import simdyn as sd

X0 = np.array([[0.5, 0.5], [-1.0, 2.0]])
BASE = dict(optimizer="adam", landscape="valley", x0=X0, steps=10)


def _kernels() -> tuple[int, int]:
    info = sd.cache_info()
    return info["builds"], info["size"]


def expect_error(call, exc, pattern):
    """``call()`` raises exactly ``exc`` (not a subclass such as a numba error) whose message
    matches ``pattern``, and no kernel was built or cached meanwhile."""
    before = _kernels()
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    assert type(info.value) is exc, f"expected {exc.__name__}, got {type(info.value).__module__}.{type(info.value).__name__}: {info.value}"
    assert re.search(pattern, str(info.value), flags=re.S), f"{pattern!r} not in message: {info.value}"
    assert _kernels() == before, "a kernel was compiled before the argument was rejected"
    return info.value


def simulate_with(**overrides):
    return sd.simulate(**{**BASE, **overrides})


# ---------------------------------------------------------------------------------------------
# sd.simulate arguments
# ---------------------------------------------------------------------------------------------


def _case(id_, overrides, exc, pattern):
    return pytest.param(overrides, exc, pattern, id=id_)


def _range_cases():
    cases = []
    for opt, name in (("adam", "beta1"), ("adam", "beta2"), ("rmsprop", "alpha"), ("momentum", "momentum"),
                      ("nadam", "beta1"), ("adamax", "beta2")):
        for label, value in (("1.0", 1.0), ("-0.1", -0.1), ("1.5", 1.5), ("swept-with-1.0", [0.5, 0.9, 1.0])):
            cases.append(_case(f"{opt}-{name}={label}", {"optimizer": opt, "hyper": {name: value}}, ValueError,
                               rf"^{name}: .*{name} in \[0, 1\)"))
        cases.append(_case(f"{opt}-{name}=nan", {"optimizer": opt, "hyper": {name: math.nan}}, ValueError,
                           rf"^{name}: .*{name} in \[0, 1\).*got nan"))
    return cases


SIMULATE_CASES = [
    # names and types of optimizer / landscape
    _case("optimizer-unknown", {"optimizer": "adamz"}, ValueError, r"optimizer: unknown name 'adamz'; known optimizers: .*adam"),
    _case("optimizer-unknown-in-list", {"optimizer": ["sgd", "adamz"]}, ValueError, r"optimizer: unknown name 'adamz'"),
    _case("optimizer-int", {"optimizer": 3}, TypeError, r"optimizer: expected a registered name or an sd\.Optimizer, got int"),
    _case("optimizer-None", {"optimizer": None}, TypeError, r"optimizer: .*got NoneType"),
    _case("optimizer-list-with-int", {"optimizer": ["sgd", 1]}, TypeError, r"optimizer: .*got int"),
    _case("optimizer-empty-list", {"optimizer": []}, ValueError, r"optimizer: the list is empty"),
    _case("optimizer-duplicate", {"optimizer": ["adam", "Adam"]}, ValueError, r"optimizer: names must be unique"),
    _case("landscape-unknown", {"landscape": "vally"}, ValueError, r"landscape: unknown name 'vally'; known landscapes: .*valley"),
    _case("landscape-int", {"landscape": 3}, TypeError, r"landscape: expected a registered name or an sd\.Landscape, got int"),
    _case("landscape-list", {"landscape": ["valley"]}, TypeError, r"landscape: .*got list"),
    # ranges of hyperparameters
    *_range_cases(),
    _case("lr=0", {"hyper": {"lr": 0}}, ValueError, r"\blr\b.*> 0"),
    _case("lr=-1", {"hyper": {"lr": -1.0}}, ValueError, r"\blr\b.*> 0"),
    _case("lr-swept-with-0", {"hyper": {"lr": [0.1, 0.0]}}, ValueError, r"\blr\b.*> 0"),
    _case("lr-swept-with-negative", {"hyper": {"lr": np.array([1e-3, -1e-3])}}, ValueError, r"\blr\b.*> 0"),
    _case("lr=inf", {"hyper": {"lr": math.inf}}, ValueError, r"\blr\b"),
    _case("lr-str", {"hyper": {"lr": "0.1"}}, TypeError, r"hyper\['lr'\]"),
    _case("lr-None", {"hyper": {"lr": None}}, TypeError, r"hyper\['lr'\]"),
    _case("eps<0", {"hyper": {"eps": -1e-8}}, ValueError, r"^eps: adam needs eps in \[0, inf\]"),
    _case("eps<0-rmsprop", {"optimizer": "rmsprop", "hyper": {"eps": -1.0}}, ValueError, r"^eps: rmsprop needs eps"),
    _case("eps<0-swept", {"hyper": {"eps": [1e-8, -1e-8]}}, ValueError, r"^eps: "),
    _case("weight_decay<0", {"hyper": {"weight_decay": -0.1}}, ValueError, r"^weight_decay: "),
    # steps
    _case("steps=0", {"steps": 0}, ValueError, r"steps must be an integer >= 1, got 0"),
    _case("steps=-5", {"steps": -5}, ValueError, r"steps must be an integer >= 1"),
    _case("steps=1.5", {"steps": 1.5}, ValueError, r"steps must be an integer >= 1, got 1\.5"),
    _case("steps='10'", {"steps": "10"}, ValueError, r"steps must be an integer >= 1, got '10'"),
    _case("steps=True", {"steps": True}, ValueError, r"steps must be an integer >= 1, got True"),
    _case("steps=10.0", {"steps": 10.0}, ValueError, r"steps must be an integer"),
    # x0
    _case("x0-(n,3)-for-2d", {"x0": np.zeros((4, 3))}, ValueError, r"x0: expected shape \(n, 2\) .*got \(4, 3\)"),
    _case("x0-3d-array", {"x0": np.zeros((2, 2, 2))}, ValueError, r"x0: expected shape \(n, 2\)"),
    _case("x0-empty-(0,2)", {"x0": np.zeros((0, 2))}, ValueError, r"x0: expected shape \(n, 2\)"),
    _case("x0-empty-list", {"x0": []}, ValueError, r"x0: expected shape \(n, 2\)"),
    _case("x0-one-point-wrong-d", {"x0": [0.1, 0.2, 0.3]}, ValueError, r"x0: expected shape \(n, 2\)"),
    _case("x0-nan", {"x0": [[np.nan, 0.0]]}, ValueError, r"x0: .*finite"),
    _case("x0-inf", {"x0": [[0.0, np.inf]]}, ValueError, r"x0: .*finite"),
    _case("x0-str", {"x0": "abc"}, TypeError, r"x0: expected an \(n, 2\) array"),
    _case("x0-grid-wrong-d", {"x0": sd.grid(x=(-1, 1, 3))}, ValueError, r"x0: the landscape has dimension 2"),
    _case("x0-ball-wrong-d", {"x0": sd.ball([0, 0, 0], 1.0, 4)}, ValueError, r"x0: the landscape has dimension 2"),
    # hyperparameter names, flags, shapes
    _case("hyper-unknown-name", {"hyper": {"betaa": 0.9}}, ValueError,
          r"hyper: unknown hyperparameter 'betaa'; known \(adam: lr, beta1, beta2, eps"),
    _case("hyper-not-of-this-optimizer", {"optimizer": "sgd", "hyper": {"beta1": 0.9}}, ValueError,
          r"hyper: unknown hyperparameter 'beta1'; known \(sgd: lr\)"),
    _case("hyper-key-not-str", {"hyper": {1: 0.9}}, TypeError, r"hyper: keys must be names"),
    _case("flag-int", {"hyper": {"bias_correction": 1}}, TypeError, r"bias_correction: a flag must be True or False"),
    _case("flag-str", {"hyper": {"bias_correction": "yes"}}, TypeError, r"bias_correction: a flag must be True or False"),
    _case("flag-None", {"hyper": {"eps_inside_sqrt": None}}, TypeError, r"eps_inside_sqrt: a flag must be True or False"),
    _case("flag-array", {"hyper": {"bias_correction": np.array([True, False])}}, TypeError,
          r"bias_correction: a flag must be True or False"),
    _case("flag-list", {"optimizer": "rmsprop", "hyper": {"centered": [True, False]}}, TypeError,
          r"centered: a flag must be True or False"),
    _case("hyper-2d-array", {"hyper": {"beta1": [[0.8, 0.9]]}}, ValueError, r"^beta1: expected a scalar or a non-empty 1-D array"),
    _case("hyper-empty-array", {"hyper": {"beta1": []}}, ValueError, r"^beta1: expected a scalar or a non-empty 1-D array"),
    _case("hyper-str", {"hyper": {"beta1": "0.9"}}, TypeError, r"^beta1: expected a number"),
    _case("lr-2d-array", {"hyper": {"lr": [[0.1, 0.2]]}}, ValueError, r"\blr\b.*1-D"),
    # landscape parameters
    _case("param-unknown", {"params": {"b": 1.0}}, ValueError, r"params: unknown parameter 'b' of landscape 'valley'; known: a"),
    _case("param-of-paramless-landscape", {"landscape": "saddle", "params": {"a": 1.0}}, ValueError,
          r"params: unknown parameter 'a' of landscape 'saddle'; known: none"),
    _case("param-2d-array", {"params": {"a": [[1.0, 2.0]]}}, ValueError, r"^a: expected a scalar or a non-empty 1-D array"),
    _case("param-nan", {"params": {"a": math.nan}}, ValueError, r"^a: .*finite"),
    _case("param-quadratic-h-wrong-shape", {"landscape": "quadratic", "params": {"h": np.ones((2, 3))}}, ValueError, r"\bh\b"),
    # dtype, target
    _case("dtype-float16", {"dtype": "float16"}, ValueError, r"dtype must be one of \('float64', 'float32'\), got 'float16'"),
    _case("target-tpu", {"target": "tpu"}, ValueError, r"target must be one of \('cpu', 'cuda', 'auto'\), got 'tpu'"),
    _case("target-None", {"target": None}, ValueError, r"target must be one of"),
    # recording
    _case("record_every=0", {"record_every": 0}, ValueError, r"record_every must be None or an integer >= 1, got 0"),
    _case("record_every=-1", {"record_every": -1}, ValueError, r"record_every must be None or an integer >= 1, got -1"),
    _case("record_every=1.5", {"record_every": 1.5}, ValueError, r"record_every must be None or an integer >= 1, got 1\.5"),
    _case("record_every=True", {"record_every": True}, ValueError, r"record_every must be None or an integer >= 1"),
    _case("recording-too-large", {"record_every": 1, "steps": 1000, "max_memory": 1000}, ValueError,
          r"record_every=1: the recording needs .*chunks"),
    # tolerances
    _case("converge_tol=0", {"converge_tol": 0.0}, ValueError, r"converge_tol must be a number > 0"),
    _case("converge_tol<0", {"converge_tol": -1e-9}, ValueError, r"converge_tol must be a number > 0"),
    _case("converge_tol=nan", {"converge_tol": math.nan}, ValueError, r"converge_tol must be a number > 0"),
    _case("converge_tol-str", {"converge_tol": "1e-9"}, ValueError, r"converge_tol must be a number > 0"),
    _case("diverge_threshold=0", {"diverge_threshold": 0}, ValueError, r"diverge_threshold must be a number > 0"),
    # noise and observers
    _case("noise-float", {"noise": 0.1}, TypeError, r"noise must be None or an sd\.noise\.Gaussian, got float"),
    _case("noise-dict", {"noise": {"sigma": 0.1}}, TypeError, r"noise must be None or an sd\.noise\.Gaussian, got dict"),
    _case("observers-not-observers", {"observers": [1]}, TypeError, r"observers: expected sd\.observe observers, got int"),
]


@pytest.mark.parametrize("overrides, exc, pattern", SIMULATE_CASES)
def test_simulate_rejects(overrides, exc, pattern):
    expect_error(lambda: simulate_with(**overrides), exc, pattern)


def test_unknown_optimizer_lists_every_known_name():
    err = expect_error(lambda: simulate_with(optimizer="adamz"), ValueError, r"known optimizers")
    known = str(err).split("known optimizers:")[1]
    assert {n.strip() for n in known.split(",")} == set(sd.OPTIMIZERS)


def test_unknown_landscape_lists_every_known_name():
    err = expect_error(lambda: simulate_with(landscape="vally"), ValueError, r"known landscapes")
    known = str(err).split("known landscapes:")[1]
    assert {n.strip() for n in known.split(",")} == set(sd.LANDSCAPES)


def test_unknown_hyperparameter_lists_every_optimizers_names():
    err = expect_error(lambda: simulate_with(optimizer=["sgd", "rmsprop"], hyper={"beta9": 0.1}), ValueError,
                       r"'beta9'")
    for opt in ("sgd", "rmsprop"):
        for name in sd.OPTIMIZERS[opt].names:
            assert re.search(rf"\b{name}\b", str(err)), name


def test_schedule_parameter_errors_name_the_schedule():
    with pytest.raises(ValueError, match=r"schedule\.constant: lr must lie in \(0, inf\]"):
        sd.schedule.constant(-1.0)
    with pytest.raises(ValueError, match=r"schedule\.exponential: gamma"):
        sd.schedule.exponential(0.1, [0.9, 0.0])


# ---------------------------------------------------------------------------------------------
# sd.noise.Gaussian, sd.Landscape, sd.grid, sd.ball constructors
# ---------------------------------------------------------------------------------------------


def _noop_grad(w, p, t):
    return (w[0],)


CONSTRUCTOR_CASES = [
    pytest.param(lambda: sd.noise.Gaussian(sigma=-1.0), ValueError, r"Gaussian: sigma must be finite and >= 0", id="gaussian-sigma=-1"),
    pytest.param(lambda: sd.noise.Gaussian(sigma=math.nan), ValueError, r"Gaussian: sigma", id="gaussian-sigma=nan"),
    pytest.param(lambda: sd.noise.Gaussian(sigma=math.inf), ValueError, r"Gaussian: sigma", id="gaussian-sigma=inf"),
    pytest.param(lambda: sd.noise.Gaussian(sigma="0.1"), TypeError, r"Gaussian: sigma must be a number", id="gaussian-sigma-str"),
    pytest.param(lambda: sd.noise.Gaussian(sigma=0.1, seed=-1), ValueError, r"Gaussian: seed must be an integer in \[0, 2\*\*63\)", id="gaussian-seed=-1"),
    pytest.param(lambda: sd.noise.Gaussian(sigma=0.1, seed=1.5), ValueError, r"Gaussian: seed", id="gaussian-seed=1.5"),
    pytest.param(lambda: sd.noise.Gaussian(sigma=0.1, seed=2**63), ValueError, r"Gaussian: seed", id="gaussian-seed=2**63"),
    pytest.param(lambda: sd.Landscape("bad", 0, _noop_grad, _noop_grad), ValueError, r"Landscape 'bad': dim must be an integer >= 1, got 0", id="landscape-dim=0"),
    pytest.param(lambda: sd.Landscape("bad", 1.5, _noop_grad, _noop_grad), ValueError, r"Landscape 'bad': dim", id="landscape-dim=1.5"),
    pytest.param(lambda: sd.Landscape("bad", True, _noop_grad, _noop_grad), ValueError, r"Landscape 'bad': dim", id="landscape-dim=True"),
    pytest.param(lambda: sd.Landscape("bad", 1, "grad", _noop_grad), TypeError, r"Landscape 'bad': grad must be callable", id="landscape-grad-not-callable"),
    pytest.param(lambda: sd.Landscape("bad", 1, _noop_grad, None), TypeError, r"Landscape 'bad': loss must be callable", id="landscape-loss-None"),
    pytest.param(lambda: sd.Landscape("bad", 1, _noop_grad, _noop_grad, project=3), TypeError, r"Landscape 'bad': project", id="landscape-project-not-callable"),
    pytest.param(lambda: sd.Landscape("", 1, _noop_grad, _noop_grad), TypeError, r"Landscape: name", id="landscape-empty-name"),
    pytest.param(lambda: sd.Landscape("bad", 1, _noop_grad, _noop_grad, params={"1a": 1.0}), ValueError, r"Landscape 'bad': parameter names", id="landscape-param-not-identifier"),
    pytest.param(lambda: sd.grid(), ValueError, r"grid: give one axis", id="grid-no-axes"),
    pytest.param(lambda: sd.grid(a=(0, 1, 3), b=(0, 1, 3)), ValueError, r"grid: axes must be named \['x', 'y'\]", id="grid-wrong-names"),
    pytest.param(lambda: sd.grid(y=(0, 1, 3), x=(0, 1, 3)), ValueError, r"grid: axes must be named \['x', 'y'\] in this order", id="grid-wrong-order"),
    pytest.param(lambda: sd.grid(x=(0, 1, 3), y=(0, 1, 3), z=(0, 1, 3), w=(0, 1, 3)), ValueError, r"grid: axes must be named \['w1', 'w2', 'w3', 'w4'\]", id="grid-4d-letters"),
    pytest.param(lambda: sd.grid(x=(0, 1, 0), y=(0, 1, 3)), ValueError, r"grid: x=\(lo, hi, n\) needs an integer n >= 1, got 0", id="grid-n=0"),
    pytest.param(lambda: sd.grid(x=(0, 1, 3), y=(0, 1, -2)), ValueError, r"grid: y=\(lo, hi, n\) needs an integer n >= 1", id="grid-n<0"),
    pytest.param(lambda: sd.grid(x=(0, 1, 2.5), y=(0, 1, 3)), ValueError, r"grid: x=.*integer n", id="grid-n=2.5"),
    pytest.param(lambda: sd.grid(x=(0, math.nan, 3), y=(0, 1, 3)), ValueError, r"grid: x has non-finite values", id="grid-nan"),
    pytest.param(lambda: sd.grid(x=[], y=(0, 1, 3)), ValueError, r"grid: x must be \(lo, hi, n\) or a non-empty 1-D array", id="grid-empty-axis"),
    pytest.param(lambda: sd.grid(x=np.zeros((2, 2)), y=(0, 1, 3)), ValueError, r"grid: x must be", id="grid-2d-axis"),
    pytest.param(lambda: sd.ball([0.0, 0.0], 0.0, 5), ValueError, r"ball: radius must be > 0, got 0", id="ball-radius=0"),
    pytest.param(lambda: sd.ball([0.0, 0.0], -1.0, 5), ValueError, r"ball: radius must be > 0", id="ball-radius<0"),
    pytest.param(lambda: sd.ball([0.0, 0.0], math.nan, 5), ValueError, r"ball: radius", id="ball-radius=nan"),
    pytest.param(lambda: sd.ball([0.0, 0.0], 1.0, 0), ValueError, r"ball: n must be an integer >= 1, got 0", id="ball-n=0"),
    pytest.param(lambda: sd.ball([0.0, 0.0], 1.0, 2.5), ValueError, r"ball: n must be an integer >= 1", id="ball-n=2.5"),
    pytest.param(lambda: sd.ball([np.nan, 0.0], 1.0, 5), ValueError, r"ball: center must be a finite 1-D point", id="ball-center-nan"),
    pytest.param(lambda: sd.ball([[0.0, 0.0]], 1.0, 5), ValueError, r"ball: center must be a finite 1-D point", id="ball-center-2d"),
]


@pytest.mark.parametrize("call, exc, pattern", CONSTRUCTOR_CASES)
def test_constructor_rejects(call, exc, pattern):
    expect_error(call, exc, pattern)


@pytest.mark.parametrize(
    "call, pattern",
    [
        pytest.param(lambda: sd.grid(x="abc", y=(0, 1, 3)), r"grid: x", id="grid-axis-str"),
        pytest.param(lambda: sd.grid(x=("a", 1, 3), y=(0, 1, 3)), r"grid: x", id="grid-lo-str"),
        pytest.param(lambda: sd.ball([0.0, 0.0], "a", 5), r"ball: radius", id="ball-radius-str"),
        pytest.param(lambda: sd.ball([0.0, 0.0], 1.0, 5, seed=-1), r"ball: seed", id="ball-seed=-1"),
        pytest.param(lambda: sd.ball([0.0, 0.0], 1.0, 5, seed="a"), r"ball: seed", id="ball-seed-str"),
        pytest.param(lambda: simulate_with(landscape="quadratic", params={"h": [[1.0, 0.0], [0.0]]}), r"\bh\b",
                     id="quadratic-h-ragged"),
    ],
)
def test_helpers_name_the_argument(call, pattern):
    with pytest.raises((ValueError, TypeError), match=pattern):
        call()


# ---------------------------------------------------------------------------------------------
# user landscapes that numba cannot compile or that misbehave in Python
# ---------------------------------------------------------------------------------------------

_LOOKUP_LIST = [1.0, 2.0]
_LOOKUP_DICT = {"a": 1.0}


def _loss2(w, p, t):
    return w[0] * w[0] + w[1] * w[1]


def _grad2(w, p, t):
    return (2.0 * w[0], 2.0 * w[1])


def _grad_global_list(w, p, t):
    return (w[0] * _LOOKUP_LIST[0], w[1] * _LOOKUP_LIST[1])


def _grad_global_dict(w, p, t):
    return (w[0] * _LOOKUP_DICT["a"], w[1])


def _grad_print_object(w, p, t):
    print(object())
    return (2.0 * w[0], 2.0 * w[1])


def _grad_eig_of_tuple(w, p, t):
    vals = np.linalg.eig(w)
    return (vals[0][0] * w[0], w[1])


def _grad_three_components(w, p, t):
    return (2.0 * w[0], 2.0 * w[1], 0.0)


def _grad_one_component(w, p, t):
    return (2.0 * w[0],)


def _grad_list(w, p, t):
    return [2.0 * w[0], 2.0 * w[1]]


def _grad_raises(w, p, t):
    raise RuntimeError("boom")


def _grad_zero_division(w, p, t):
    return (w[0] / (w[1] - w[1]), w[1])


def _loss_global_dict(w, p, t):
    return w[0] * w[0] * _LOOKUP_DICT["a"]


def _loss_tuple(w, p, t):
    return (w[0], w[1])


def _grad_string_component(w, p, t):
    return (2.0 * w[0], "2 * y")


def _grad_none_on_a_branch(w, p, t):  # floats at the first point, None elsewhere
    if w[0] > 100.0:
        return (2.0 * w[0], None)
    return (2.0 * w[0], 2.0 * w[1])


def _loss_string(w, p, t):
    return "w[0] ** 2"


USER_LANDSCAPE_CASES = [
    pytest.param("uses_global_list", _grad_global_list, _loss2, r"numba cannot compile grad\(\)", id="grad-global-list"),
    pytest.param("uses_global_dict", _grad_global_dict, _loss2, r"numba cannot compile grad\(\)", id="grad-global-dict"),
    pytest.param("prints_object", _grad_print_object, _loss2, r"numba cannot compile grad\(\)", id="grad-print-object"),
    pytest.param("eig_of_tuple", _grad_eig_of_tuple, _loss2, r"grad raised LinAlgError", id="grad-linalg-eig-of-tuple"),
    pytest.param("three_components", _grad_three_components, _loss2, r"grad must return a tuple of 2 floats", id="grad-3-components"),
    pytest.param("one_component", _grad_one_component, _loss2, r"grad must return a tuple of 2 floats", id="grad-1-component"),
    pytest.param("returns_list", _grad_list, _loss2, r"grad must return a tuple of 2 floats", id="grad-returns-list"),
    pytest.param("raises", _grad_raises, _loss2, r"grad raised RuntimeError: boom", id="grad-raises"),
    pytest.param("divides_by_zero", _grad_zero_division, _loss2, r"grad raised ZeroDivisionError", id="grad-zero-division"),
    pytest.param("string_component", _grad_string_component, _loss2,
                 r"grad must return a tuple of 2 floats, got .*: element 1 is a str", id="grad-string-component"),
    pytest.param("none_on_a_branch", _grad_none_on_a_branch, _loss2,
                 r"grad must return a tuple of 2 floats; numba types it as .*Optional", id="grad-none-on-a-branch"),
    pytest.param("loss_string", _grad2, _loss_string, r"loss must return a float, got 'w\[0\] \*\* 2'",
                 id="loss-returns-string"),
    pytest.param("loss_global_dict", _grad2, _loss_global_dict, r"numba cannot compile loss\(\)", id="loss-global-dict"),
    pytest.param("loss_tuple", _grad2, _loss_tuple, r"loss must return a float", id="loss-returns-tuple"),
]


@pytest.mark.parametrize("name, grad, loss, pattern", USER_LANDSCAPE_CASES)
def test_user_landscape_rejected_with_its_name(name, grad, loss, pattern):
    land = sd.Landscape(name, dim=2, grad=grad, loss=loss)
    err = expect_error(lambda: simulate_with(landscape=land), TypeError, rf"landscape '{name}': " + pattern)
    assert err.__cause__ is None or not type(err.__cause__).__module__.startswith("numba"), \
        "the numba error should not be chained into the user-facing TypeError"


def test_user_landscape_with_params_rejected_with_its_name():
    def grad(w, p, t):
        return (2.0 * w[0], 2.0 * p[0] * w[1], 0.0)

    land = sd.Landscape("param_valley", dim=2, grad=grad, loss=_loss2, params={"a": 1e-3})
    expect_error(lambda: simulate_with(landscape=land, params={"a": [1e-3, 1e-2]}), TypeError,
                 r"landscape 'param_valley': grad must return a tuple of 2 floats")
    expect_error(lambda: simulate_with(landscape=land, params={"b": 1.0}), ValueError,
                 r"params: unknown parameter 'b' of landscape 'param_valley'; known: a")


# ---------------------------------------------------------------------------------------------
# inconsistencies found while writing these tests (fixed since)
# ---------------------------------------------------------------------------------------------

VALID = dict(optimizer="sgd", landscape="valley", x0=X0, steps=10, hyper={"lr": 0.1})


def test_dtype_given_as_numpy_dtype():
    # Checked on the plan (validation only) so that no kernel is compiled for it.
    from simdyn.plan import make_plan

    # A numpy dtype is accepted and recorded as its name (the attrs and the cache key hold strings);
    # a numpy dtype simdyn does not run is rejected naming the argument.
    plan = make_plan(**VALID, dtype=np.dtype("float64"))
    assert type(plan.dtype) is str and plan.dtype == "float64"
    assert make_plan(**VALID, dtype=np.float32).dtype == "float32"
    with pytest.raises(ValueError, match=r"\bdtype\b"):
        make_plan(**VALID, dtype=np.dtype("int32"))


def _cuda_available() -> bool:
    try:
        from numba import cuda

        return bool(cuda.is_available())
    except Exception:
        return False


@pytest.mark.skipif(_cuda_available(), reason="a CUDA device is present")
def test_target_cuda_without_a_device():
    expect_error(lambda: sd.simulate(**VALID, target="cuda"), ValueError, r"target")


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda: sd.noise.Gaussian(sigma=0.1, seed=np.int64(3)), id="gaussian-seed-np.int64"),
        pytest.param(lambda: sd.noise.Gaussian(sigma=np.float32(0.1)), id="gaussian-sigma-np.float32"),
        pytest.param(lambda: sd.simulate(**VALID, converge_tol=np.float32(1e-6)), id="converge_tol-np.float32"),
    ],
)
def test_numpy_scalars_accepted(call):
    call()


# ---------------------------------------------------------------------------------------------
# after all of the above, a valid call still works (no bad state left behind)
# ---------------------------------------------------------------------------------------------


def test_valid_call_after_failures():
    for param in SIMULATE_CASES:
        overrides = param.values[0]
        with pytest.raises((ValueError, TypeError)):
            simulate_with(**overrides)
    for name, grad, loss, _ in (p.values for p in USER_LANDSCAPE_CASES):
        with pytest.raises(TypeError):
            simulate_with(landscape=sd.Landscape(name, dim=2, grad=grad, loss=loss))

    ds = sd.simulate(**VALID)
    # sgd on x^2 + a y^2: w_T = ((1 - 2 lr)^T x, (1 - 2 a lr)^T y)
    a, lr, t = 1e-3, 0.1, 10
    expected = X0 * np.array([(1 - 2 * lr) ** t, (1 - 2 * a * lr) ** t])
    np.testing.assert_allclose(ds["w"].values, expected, rtol=1e-12)
    np.testing.assert_array_equal(ds["w0"].values, X0)
    assert ds["status"].dtype == np.uint8
    assert set(np.unique(ds["status"].values)) <= {0, 2}
    # the same call again reuses the kernel
    before = sd.cache_info()["builds"]
    sd.simulate(**VALID)
    assert sd.cache_info()["builds"] == before
