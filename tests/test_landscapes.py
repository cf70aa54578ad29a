"""Tests of the registered landscapes (simdyn/landscapes): gradients, compilation, critical points.

Run: python -m pytest tests/test_landscapes.py -p no:cacheprovider -o addopts=""
"""

from __future__ import annotations

import functools
import importlib
import inspect
import math
import types

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba.np.numpy_support import as_dtype

from simdyn.landscapes import (
    LANDSCAPES,
    CriticalPoint,
    Landscape,
    get_landscape,
    quadratic,
)

NAMES = [
    "quadratic",
    "valley",
    "sharp_valley",
    "saddle",
    "rosenbrock",
    "himmelblau",
    "double_well",
    "plateau",
    "reddi",
]
SETTINGS = settings(max_examples=50, deadline=None)


# ------------------------------------------------------------------------------------ helpers


def _p(ls: Landscape, params: dict | None = None) -> tuple:
    return ls.flat_params(params or {})


def _fd_grad(ls: Landscape, w, p, t=1):
    """Central finite differences of ``ls.loss`` and a tolerance for comparing with grad."""
    w = [float(v) for v in w]
    f0 = abs(ls.loss(tuple(w), p, t))
    out, tol = [], []
    for i in range(len(w)):
        h = 1e-6 * max(1.0, abs(w[i]))
        hi, lo = list(w), list(w)
        hi[i] += h
        lo[i] -= h
        out.append((ls.loss(tuple(hi), p, t) - ls.loss(tuple(lo), p, t)) / (2.0 * h))
        tol.append(1e-8 * (1.0 + f0) + 1e-6)  # rounding ~ 2e-16 f/h, truncation ~ h^2 f'''/6
    return np.array(out), np.array(tol)


def _assert_grad_matches_fd(ls, w, p, t=1):
    g = np.array(ls.grad(tuple(w), p, t), dtype=float)
    fd, tol = _fd_grad(ls, w, p, t)
    assert g.shape == (ls.dim,)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=float(np.max(tol)))


def _fd_hessian(ls, w, p, t=1):
    d = len(w)
    hess = np.empty((d, d))
    for j in range(d):
        h = 1e-5 * max(1.0, abs(w[j]))
        hi, lo = list(w), list(w)
        hi[j] += h
        lo[j] -= h
        hess[:, j] = (np.array(ls.grad(tuple(hi), p, t)) - np.array(ls.grad(tuple(lo), p, t))) / (2 * h)
    return 0.5 * (hess + hess.T)


def _kind_from_hessian(hess) -> str:
    eig = np.linalg.eigvalsh(hess)
    scale = max(1.0, float(np.max(np.abs(eig))))
    assert np.all(np.abs(eig) > 1e-6 * scale), f"degenerate Hessian {eig}"
    if np.all(eig > 0):
        return "minimum"
    if np.all(eig < 0):
        return "maximum"
    return "saddle"


def _to_float32_consts(fn):
    """``fn`` with every float literal replaced by a float32 constant (what the engine does for
    float32 runs). Integer literals are left alone, so one used in float arithmetic would still
    promote float32 to float64 — which is what test_float32_stays_float32 detects."""

    def convert(c):
        if type(c) is float:
            return np.float32(c)
        if type(c) is tuple:
            return tuple(convert(x) for x in c)
        return c

    code = fn.__code__
    code = code.replace(co_consts=tuple(convert(c) for c in code.co_consts))
    return types.FunctionType(code, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__)


@functools.cache
def _jit(fn):
    return numba.njit(error_model="numpy")(fn)


@functools.cache
def _jit32(fn):
    return numba.njit(error_model="numpy")(_to_float32_consts(fn))


def _all_float32(numba_type) -> bool:
    elements = numba_type.types if isinstance(numba_type, numba.types.BaseTuple) else (numba_type,)
    return all(as_dtype(e) == np.dtype(np.float32) for e in elements)


# ------------------------------------------------------- gradient vs finite differences (hypothesis)

coord = st.floats(-3.0, 3.0, allow_nan=False, allow_infinity=False)
away_from_zero = st.one_of(st.floats(-3.0, -1e-3), st.floats(1e-3, 3.0))


@SETTINGS
@given(h=st.lists(st.floats(-10.0, 10.0), min_size=4, max_size=4), w=st.tuples(coord, coord))
def test_grad_fd_quadratic(h, w):
    ls = quadratic(np.array(h).reshape(2, 2))
    _assert_grad_matches_fd(ls, w, _p(ls))


@SETTINGS
@given(a=st.floats(1e-6, 10.0), w=st.tuples(coord, coord))
def test_grad_fd_valley(a, w):
    ls = LANDSCAPES["valley"]
    _assert_grad_matches_fd(ls, w, _p(ls, {"a": a}))


@SETTINGS
@given(a=st.floats(0.0, 2.0), w=st.tuples(away_from_zero, away_from_zero))
def test_grad_fd_sharp_valley(a, w):
    ls = LANDSCAPES["sharp_valley"]
    _assert_grad_matches_fd(ls, w, _p(ls, {"a": a}))


@SETTINGS
@given(w=st.tuples(coord, coord))
def test_grad_fd_saddle(w):
    ls = LANDSCAPES["saddle"]
    _assert_grad_matches_fd(ls, w, _p(ls))


@SETTINGS
@given(a=st.floats(-2.0, 2.0), b=st.floats(0.0, 200.0), w=st.tuples(coord, coord))
def test_grad_fd_rosenbrock(a, b, w):
    ls = LANDSCAPES["rosenbrock"]
    _assert_grad_matches_fd(ls, w, _p(ls, {"a": a, "b": b}))


@SETTINGS
@given(w=st.tuples(st.floats(-6.0, 6.0), st.floats(-6.0, 6.0)))
def test_grad_fd_himmelblau(w):
    ls = LANDSCAPES["himmelblau"]
    _assert_grad_matches_fd(ls, w, _p(ls))


@SETTINGS
@given(c=st.floats(-3.0, 3.0), k=st.floats(0.01, 10.0), w=st.tuples(coord, coord))
def test_grad_fd_double_well(c, k, w):
    ls = LANDSCAPES["double_well"]
    _assert_grad_matches_fd(ls, w, _p(ls, {"c": c, "k": k}))


@SETTINGS
@given(s=st.floats(0.01, 10.0), w=st.tuples(away_from_zero, coord))
def test_grad_fd_plateau(s, w):
    ls = LANDSCAPES["plateau"]
    _assert_grad_matches_fd(ls, w, _p(ls, {"s": s}))


@SETTINGS
@given(s=st.floats(0.01, 10.0), x=st.floats(0.0, 100.0), y=coord)
def test_plateau_exactly_flat(s, x, y):
    ls = LANDSCAPES["plateau"]
    p = _p(ls, {"s": s})
    g = ls.grad((x, y), p, 1)
    assert g[0] == 0.0 and g[1] == y
    assert ls.loss((x, y), p, 1) == 0.5 * y * y
    assert ls.grad((-x - 1e-3, y), p, 1)[0] == -s
    assert ls.critical_points({"s": s}) == []


@SETTINGS
@given(c=st.floats(2.01, 20.0), x=st.floats(-1.0, 1.0), t=st.integers(1, 10_000))
def test_grad_reddi_online(c, x, t):
    """grad is f_t', not the derivative of ``loss``: C on t ≡ 1 (mod 3), −1 otherwise; over any
    three consecutive steps it averages to F'(x) = (C − 2)/3, the derivative of ``loss``."""
    ls = LANDSCAPES["reddi"]
    p = _p(ls, {"C": c})
    expected = c if t % 3 == 1 else -1.0
    assert ls.grad((x,), p, t) == (expected,)
    average = sum(ls.grad((x,), p, s)[0] for s in (t, t + 1, t + 2)) / 3.0
    fd, tol = _fd_grad(ls, (x,), p, t)
    assert average == pytest.approx((c - 2.0) / 3.0, rel=1e-12)
    assert fd[0] == pytest.approx(average, rel=1e-6, abs=tol[0])


@SETTINGS
@given(x=st.floats(-5.0, 5.0), c=st.floats(0.0, 10.0))
def test_reddi_projection(x, c):
    ls = LANDSCAPES["reddi"]
    assert ls.project((x,), _p(ls, {"C": c})) == (min(max(x, -1.0), 1.0),)


def test_reddi_projection_nan_passes_through():
    ls = LANDSCAPES["reddi"]
    assert math.isnan(ls.project((math.nan,), _p(ls))[0])
    assert math.isnan(_jit(ls.project)((math.nan,), _p(ls))[0])


def test_sharp_valley_subgradient_at_kinks():
    ls = LANDSCAPES["sharp_valley"]
    p = _p(ls, {"a": 0.5})
    assert ls.grad((0.0, 0.0), p, 1) == (0.0, 0.0)
    assert ls.grad((0.0, -2.0), p, 1) == (0.0, -0.5)
    assert ls.grad((3.0, 0.0), p, 1) == (1.0, 0.0)
    assert _jit(ls.grad)((0.0, 0.0), p, 1) == (0.0, 0.0)


# ------------------------------------------------------------------ compiled == plain Python


def _cases():
    """(landscape, parameter values) pairs covering every registered landscape."""
    return [(LANDSCAPES[name], {}) for name in NAMES] + [
        (LANDSCAPES["valley"], {"a": 0.3}),
        (LANDSCAPES["rosenbrock"], {"a": -1.5, "b": 7.0}),
        (LANDSCAPES["double_well"], {"c": -0.4, "k": 2.0}),
    ]


def _points(dim, n=6, seed=0):
    rng = np.random.default_rng(seed)
    pts = [tuple(float(v) for v in rng.uniform(-3.0, 3.0, dim)) for _ in range(n)]
    return pts + [(0.0,) * dim, (-1.0,) * dim]


@pytest.mark.parametrize("name", NAMES)
def test_njit_matches_python(name):
    ls = LANDSCAPES[name]
    p = _p(ls)
    grad, loss = _jit(ls.grad), _jit(ls.loss)
    for w in _points(ls.dim):
        for t in (1, 2, 3, 7):
            assert grad(w, p, t) == ls.grad(w, p, t)
            assert loss(w, p, t) == ls.loss(w, p, t)
        if ls.project is not None:
            assert _jit(ls.project)(w, p) == ls.project(w, p)


@pytest.mark.parametrize("d", [1, 3, 5])
def test_njit_matches_python_quadratic_dims(d):
    rng = np.random.default_rng(d)
    ls = quadratic(rng.normal(size=(d, d)))
    p = _p(ls)
    for w in _points(d):
        assert _jit(ls.grad)(w, p, 1) == ls.grad(w, p, 1)
        assert _jit(ls.loss)(w, p, 1) == ls.loss(w, p, 1)


@pytest.mark.parametrize("name", NAMES)
def test_functions_are_plain_python(name):
    ls = LANDSCAPES[name]
    for fn in (ls.grad, ls.loss) + ((ls.project,) if ls.project else ()):
        assert inspect.isfunction(fn), f"{name}: {fn!r} must be a plain Python function"
        assert inspect.getsource(fn)  # also for the generated quadratic functions
    assert ls.formula and ls.doc
    module = importlib.import_module(ls.grad.__module__)
    assert module.__doc__ and name in module.__doc__


# ----------------------------------------------------------------------- float32 stays float32


@pytest.mark.parametrize("name", NAMES + ["quadratic3"])
def test_float32_stays_float32(name):
    """With float literals turned into float32 constants (as the engine does), float32 inputs
    give float32 results: no integer literal or float64 constant promotes the arithmetic.
    (t is int64; reddi only compares ``t % 3 == 1``, which yields a bool, so it is no exception.)"""
    ls = quadratic(np.arange(9.0).reshape(3, 3) - 4.0) if name == "quadratic3" else LANDSCAPES[name]
    p64 = _p(ls, {"C": 3.0} if name == "reddi" else None)
    p32 = tuple(np.float32(v) for v in p64)
    fns = [("grad", ls.grad), ("loss", ls.loss)]
    if ls.project is not None:
        fns.append(("project", ls.project))
    for w64 in _points(ls.dim, n=2):
        w32 = tuple(np.float32(v) for v in w64)
        for t in (1, 2):
            for label, fn in fns:
                compiled = _jit32(fn)
                args = (w32, p32) if label == "project" else (w32, p32, np.int64(t))
                result = compiled(*args)
                reference = fn(*((w64, p64) if label == "project" else (w64, p64, t)))
                np.testing.assert_allclose(result, reference, rtol=1e-5, atol=1e-5)
    for label, fn in fns:
        for sig in _jit32(fn).nopython_signatures:
            assert _all_float32(sig.return_type), f"{name}.{label}: {sig} returns non-float32"


def test_float32_check_catches_integer_literal():
    def bad_grad(w, p, t):
        x, y = w
        return (2 * x, y)

    _jit32(bad_grad)((np.float32(1.0), np.float32(2.0)), (), np.int64(1))
    (sig,) = _jit32(bad_grad).nopython_signatures
    assert not _all_float32(sig.return_type)


# ---------------------------------------------------------------------------- critical points


CRITICAL_CASES = [
    ("quadratic", {}),
    ("quadratic", {"h": np.array([[2.0, 1.0], [1.0, -3.0]])}),
    ("quadratic", {"h": np.array([[-2.0, 0.5], [0.0, -1.0]])}),
    ("valley", {}),
    ("valley", {"a": -0.5}),
    ("saddle", {}),
    ("rosenbrock", {}),
    ("rosenbrock", {"a": -1.5, "b": 10.0}),
    ("rosenbrock", {"a": 1.0, "b": -3.0}),
    ("himmelblau", {}),
    ("double_well", {}),
    ("double_well", {"c": 0.0}),
    ("double_well", {"c": -0.7, "k": 3.0}),
    ("double_well", {"c": 1.5, "k": 0.5}),
    ("double_well", {"c": 2.0}),
    ("double_well", {"c": -5.0}),
]


@pytest.mark.parametrize("name,params", CRITICAL_CASES)
def test_critical_points(name, params):
    ls = get_landscape(name, params)
    p = _p(ls, params)
    points = ls.critical_points(params)
    assert points, f"{name} {params}: no critical points listed"
    for cp in points:
        assert isinstance(cp, CriticalPoint) and len(cp.location) == ls.dim and cp.name
        w = cp.location
        g = np.abs(np.array(ls.grad(w, p, 1)))
        # "relative": against the gradient size one unit away from the point
        scale = max(
            1.0,
            *(
                float(np.max(np.abs(ls.grad(tuple(w[j] + s * (i == j) for j in range(ls.dim)), p, 1))))
                for i in range(ls.dim)
                for s in (-1.0, 1.0)
            ),
        )
        assert np.all(g <= 1e-9 * scale), f"{name} {cp}: grad {g}"
        assert _kind_from_hessian(_fd_hessian(ls, w, p)) == cp.kind, f"{name} {cp}"
    assert len({cp.name for cp in points}) == len(points)


def test_critical_point_counts():
    assert len(LANDSCAPES["himmelblau"].critical_points()) == 9
    assert [cp.kind for cp in LANDSCAPES["himmelblau"].critical_points()].count("minimum") == 4
    assert LANDSCAPES["valley"].critical_points({"a": 0.0}) == []
    assert LANDSCAPES["rosenbrock"].critical_points()[0].location == (1.0, 1.0)
    assert LANDSCAPES["rosenbrock"].critical_points({"a": -2.0})[0].location == (-2.0, 4.0)
    assert [cp.kind for cp in LANDSCAPES["saddle"].critical_points()] == ["saddle"]
    assert quadratic(np.diag([1.0, 0.0])).critical_points() == []
    assert LANDSCAPES["double_well"].critical_points({"k": 0.0}) == []


def test_himmelblau_minima_full_precision():
    from scipy.optimize import root

    from simdyn.landscapes import himmelblau

    ls = LANDSCAPES["himmelblau"]
    approx = dict(((n, xy) for _, xy, n in himmelblau._APPROX))
    for cp in ls.critical_points():
        sol = root(
            lambda v: ls.grad(tuple(v), (), 1),
            np.array(approx[cp.name]),
            jac=lambda v: np.array(himmelblau._hessian(*v)).take([0, 1, 1, 2]).reshape(2, 2),
            tol=1e-14,
        )
        assert np.max(np.abs(sol.fun)) < 1e-10
        np.testing.assert_allclose(cp.location, sol.x, rtol=0, atol=1e-12)
        np.testing.assert_allclose(cp.location, approx[cp.name], rtol=0, atol=1.5e-6)
        if cp.kind == "minimum":
            assert ls.loss(cp.location, (), 1) < 1e-24
    assert ls.critical_points()[0].location == (3.0, 2.0)


@pytest.mark.parametrize("c", [0.25, -0.25, 1.0, -1.5])
def test_double_well_global_and_local(c):
    ls = LANDSCAPES["double_well"]
    p = _p(ls, {"c": c})
    byname = {cp.name: cp for cp in ls.critical_points({"c": c})}
    assert set(byname) == {"global_min", "local_min", "saddle"}
    g, loc, s = (byname[k].location for k in ("global_min", "local_min", "saddle"))
    assert c * g[0] < 0.0 < c * loc[0]
    assert ls.loss(g, p, 1) < ls.loss(loc, p, 1) < ls.loss(s, p, 1)
    assert min(g[0], loc[0]) < s[0] < max(g[0], loc[0])


def test_double_well_symmetric():
    ls = LANDSCAPES["double_well"]
    byname = {cp.name: cp.location for cp in ls.critical_points({"c": 0.0})}
    assert byname == {"left_min": (-1.0, 0.0), "right_min": (1.0, 0.0), "saddle": (0.0, 0.0)}
    p = _p(ls, {"c": 0.0})
    assert ls.grad((0.0, 0.3), p, 1)[0] == 0.0  # the ridge x = 0 splits the basins exactly


def test_sharp_valley_minimum():
    ls = LANDSCAPES["sharp_valley"]
    (cp,) = ls.critical_points()
    assert cp.kind == "minimum" and cp.location == (0.0, 0.0)
    p = _p(ls)
    assert ls.grad(cp.location, p, 1) == (0.0, 0.0)
    f0 = ls.loss(cp.location, p, 1)
    for w in _points(2):
        if w != (0.0, 0.0):
            assert ls.loss(w, p, 1) > f0
    assert ls.critical_points({"a": 0.0}) == []


@pytest.mark.parametrize("c,xmin", [(3.0, -1.0), (10.0, -1.0), (1.5, 1.0)])
def test_reddi_constrained_minimum(c, xmin):
    ls = LANDSCAPES["reddi"]
    p = _p(ls, {"C": c})
    (cp,) = ls.critical_points({"C": c})
    assert cp.kind == "minimum" and cp.name == "constrained_min" and cp.location == (xmin,)
    # the loss (average objective) is minimal there over [-1, 1] ...
    assert all(ls.loss(cp.location, p, 1) < ls.loss((x,), p, 1) for x in np.linspace(-0.99, 0.99, 9))
    # ... and a projected step along the averaged gradient leaves it fixed
    average = sum(ls.grad(cp.location, p, t)[0] for t in (1, 2, 3)) / 3.0
    assert ls.project((xmin - 0.1 * average,), p) == (xmin,)
    assert ls.critical_points({"C": 2.0}) == []


# ------------------------------------------------------------------------------------ quadratic


@pytest.mark.parametrize("d", [1, 3, 5])
def test_quadratic_random_symmetric(d):
    rng = np.random.default_rng(100 + d)
    a = rng.normal(size=(d, d))
    h = a + a.T
    ls = quadratic(h)
    assert ls.dim == d and ls.name == "quadratic"
    p = _p(ls)
    assert p == tuple(h.ravel())
    for w in _points(d, seed=d):
        wv = np.array(w)
        np.testing.assert_allclose(ls.grad(w, p, 1), h @ wv, rtol=1e-12, atol=1e-12)
        assert ls.loss(w, p, 1) == pytest.approx(0.5 * wv @ h @ wv, rel=1e-12, abs=1e-12)
        _assert_grad_matches_fd(ls, w, p)
    (cp,) = ls.critical_points()
    eig = np.linalg.eigvalsh(h)
    expected = "minimum" if eig.min() > 0 else ("maximum" if eig.max() < 0 else "saddle")
    assert cp.location == (0.0,) * d and cp.kind == expected
    pd = quadratic(a @ a.T + np.eye(d))
    assert pd.critical_points()[0].kind == "minimum"
    assert _kind_from_hessian(_fd_hessian(pd, (0.0,) * d, _p(pd))) == "minimum"
    # the generated functions are cached per d: the same objects for every matrix of that size
    assert pd.grad is ls.grad and pd.loss is ls.loss


def test_quadratic_nonsymmetric_uses_symmetric_part():
    h = np.array([[1.0, 4.0, 0.0], [0.0, 2.0, -2.0], [1.0, 0.0, 3.0]])
    ls = quadratic(h)
    w = (0.3, -1.2, 2.0)
    s = 0.5 * (h + h.T)
    np.testing.assert_allclose(ls.grad(w, _p(ls), 1), s @ np.array(w), rtol=1e-14)
    _assert_grad_matches_fd(ls, w, _p(ls))


def test_quadratic_default_and_errors():
    ls = LANDSCAPES["quadratic"]
    assert ls.dim == 2
    np.testing.assert_array_equal(ls.params["h"], np.diag([1.0, 10.0]))
    assert ls.grad((1.0, 1.0), _p(ls), 1) == (1.0, 10.0)
    assert ls.critical_points()[0].kind == "minimum"
    for bad in (np.ones((2, 3)), np.ones(3), [[np.nan]]):
        with pytest.raises(ValueError, match="quadratic"):
            quadratic(bad)


# ------------------------------------------------------------------------------------- registry


def test_registry_names():
    assert list(LANDSCAPES) == NAMES
    for name, ls in LANDSCAPES.items():
        assert isinstance(ls, Landscape) and ls.name == name
        assert get_landscape(name) is ls
        assert get_landscape(name.upper()) is ls
    assert LANDSCAPES["reddi"].dim == 1 and LANDSCAPES["reddi"].project is not None


def test_registry_passthrough_and_quadratic_params():
    mine = Landscape("mine", 1, lambda w, p, t: (w[0],), lambda w, p, t: 0.5 * w[0] * w[0])
    assert get_landscape(mine) is mine
    ls = get_landscape("Quadratic", {"h": np.eye(3)})
    assert ls.dim == 3 and ls.name == "quadratic"
    assert get_landscape("quadratic", {"lr": 1.0}) is LANDSCAPES["quadratic"]
    assert get_landscape("valley", {"a": 2.0}) is LANDSCAPES["valley"]


def test_registry_errors():
    with pytest.raises(ValueError) as info:
        get_landscape("no_such_landscape")
    message = str(info.value)
    assert message.startswith("landscape: unknown name")
    assert all(name in message for name in NAMES)
    for bad in (3, None, ["valley"]):
        with pytest.raises(TypeError, match="landscape"):
            get_landscape(bad)
