"""Fused tangent divisions (simdyn.tangent.divisions) and inlined helpers (simdyn.tangent.inline).

Oracles: the rule-by-rule JVP (``jvp(..., fuse=False)``, every tangent division as its rule
wrote it), central differences of the function itself, and the function's own value (the primal
part must be bit for bit the function's). Divisions are counted as executed, by running the
generated source with every ``/`` replaced by a counting call. Plain Python only: no compiles
(the compiled kernels are covered by the existing tangent and Lyapunov tests).
"""

from __future__ import annotations

import ast
import math

import numpy as np
import pytest

import simdyn as sd
from simdyn.tangent.forward import generated_source, jvp

RTOL = 1e-13


def counted(func):
    """``func`` (made by jvp) recompiled with each division counted; returns (run, counter)."""
    tree = ast.parse(generated_source(func))

    class Count(ast.NodeTransformer):
        def visit_BinOp(self, node):
            self.generic_visit(node)
            if isinstance(node.op, ast.Div):
                return ast.Call(func=ast.Name(id="_count_division", ctx=ast.Load()), args=[node.left, node.right],
                                keywords=[])
            return node

    tree = ast.fix_missing_locations(Count().visit(tree))
    counter = {"divisions": 0}

    def count_division(a, b):
        counter["divisions"] += 1
        return a / b

    namespace = dict(func.__globals__, _count_division=count_division)
    exec(compile(tree, "<counted>", "exec"), namespace)
    return namespace[tree.body[0].name], counter


def divisions(func, *args) -> int:
    run, counter = counted(func)
    run(*args)
    return counter["divisions"]


# ----------------------------------------------------------------------- functions to differentiate
def two_chained(x, y):  # √x's rule divides by 2√x, the quotient's by the denominator: k = 2
    return (x + y) / (math.sqrt(x) * 3.0 + y)


def three_chained(x, y):  # each quotient's tangent flows into the next: k = 3
    return ((x / y + x) / (y * y + 1.0) - y) / (x * x + 2.0)


def single(x, y):  # k = 1: nothing to fuse
    return x / y


def inside_if(x, y):
    if x > 1.0:
        r = ((x * y) / (y * y + 1.0)) / (x + 2.0)
    else:
        r = (x - y / x) / (y + 3.0)
    return r


def shared(x, y):  # the root's tangent is read twice: it stays a division
    d = math.sqrt(x)
    return x / d + y / d


def reassigned(x, y):  # ẋ changes between the root a = x/y and the consumer: no fusion
    a = x / y
    b = a * 2.0
    x = x * 3.0
    return (b + x) / (x + 1.0)


def first_above(x, y):  # a return inside a loop: the call is kept, not inlined
    for k in range(3):
        if x * k > y:
            return x / (y + k)
    return x / y


def calls_loop_helper(x, y):
    return first_above(x, y) / (x * x + 1.0)


def guard_clause(x, y, inside):  # two returns in tail position, as adam_denominator
    if inside:
        return math.sqrt(x * y + 1.0)
    return math.sqrt(x) * y + 1.0


def calls_guard_clause(x, y):
    return (x - y) / guard_clause(x, y, False)


FUNCTIONS = {two_chained: 1, three_chained: 2, single: 0, inside_if: 1, shared: 0, reassigned: 0, calls_loop_helper: 0,
             calls_guard_clause: 1}


def central_difference(f, point, direction, step=1e-6):
    plus = f(*(p + step * d for p, d in zip(point, direction)))
    minus = f(*(p - step * d for p, d in zip(point, direction)))
    return (plus - minus) / (2 * step)


@pytest.mark.parametrize("f", list(FUNCTIONS), ids=lambda f: f.__name__)
def test_fused_jvp_equals_rule_by_rule_jvp_and_central_differences(f):
    fused, plain = jvp(f, (True, True)), jvp(f, (True, True), fuse=False)
    rng = np.random.default_rng(11)
    for _ in range(20):
        point = tuple(float(v) for v in rng.uniform(0.5, 2.0, 2))
        direction = tuple(float(v) for v in rng.normal(size=2))
        value, tangent = fused(*point, *direction)
        assert value == f(*point)  # the primal is the function's, bit for bit
        reference_value, reference = plain(*point, *direction)
        assert reference_value == value
        np.testing.assert_allclose(tangent, reference, rtol=RTOL, atol=RTOL * abs(reference))
        np.testing.assert_allclose(tangent, central_difference(f, point, direction), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("f", list(FUNCTIONS), ids=lambda f: f.__name__)
def test_each_fused_chain_saves_one_executed_division(f):
    """k chained tangent divisions cost one: k − 1 fewer executed divisions."""
    for point in ((1.5, 0.7), (0.6, 1.9)):  # both branches of inside_if and first_above's loop exit
        args = point + (0.3, -0.8)
        saved = divisions(jvp(f, (True, True), fuse=False), *args) - divisions(jvp(f, (True, True)), *args)
        assert saved == FUNCTIONS[f]


def test_helpers_are_inlined_unless_a_return_sits_in_a_loop():
    assert "_simdyn_jvp_" not in generated_source(jvp(calls_guard_clause, (True, True)))
    assert "_simdyn_jvp_first_above" in generated_source(jvp(calls_loop_helper, (True, True)))


@pytest.mark.parametrize("flags", [(True, False), (True, True), (False, False)])
def test_adam_update_jvp_pays_one_tangent_division_per_coordinate(flags):
    """Adam's step executes 3 divisions per coordinate (1/bc₁, 1/√bc₂ or 1/bc₂, the quotient);
    the rule-by-rule JVP adds 2 (the sqrt rule's and the quotient rule's), the fused one 1; the
    values agree with the rule-by-rule JVP to a few ulp."""
    opt = sd.get_optimizer("adam")
    active = (True, True, True, False, False, False, False)
    fused, plain = jvp(opt.update, active), jvp(opt.update, active, fuse=False)
    lr, h = 1e-2, (0.9, 0.999, 1e-8, 0.0)
    rng = np.random.default_rng(5)
    for t in (1, 7, 300):
        w, g, m = (float(v) for v in rng.normal(size=3))
        v = float(rng.uniform(1e-6, 1.0))
        args = (w, g, (m, v), t, lr, h, flags, 0.3, -1.2, (0.5, 0.25))
        assert divisions(plain, *args) == 5
        assert divisions(fused, *args) == 4
        (value, state), (tangent, tangent_state) = fused(*args)
        (reference_value, reference_state), (reference, reference_tangent_state) = plain(*args)
        assert (value, state) == (reference_value, reference_state) == opt.update(w, g, (m, v), t, lr, h, flags)
        assert tangent_state == reference_tangent_state
        np.testing.assert_allclose(tangent, reference, rtol=RTOL)


SCALE = 2.0


def scaled(x):
    return x * SCALE


def caller_with_a_local_named_like_the_helpers_global(x, SCALE):
    return scaled(x) + SCALE


def root_of(x):
    return math.sqrt(x)


def caller_with_a_local_named_like_the_helpers_function(x, y):
    sqrt = x * y
    return root_of(x) + sqrt


@pytest.mark.parametrize("fuse", [True, False])
def test_an_inlined_helper_reads_its_own_globals_not_the_callers_locals(fuse):
    """Oracle: the functions themselves (value) and their closed-form derivatives: d/dx (2x + S)
    = 2; d/dx (√x + xy) = 1/(2√x) + y."""
    value, tangent = jvp(caller_with_a_local_named_like_the_helpers_global, (True, False), fuse)(1.5, 3.0, 1.0)
    assert value == caller_with_a_local_named_like_the_helpers_global(1.5, 3.0) == 6.0 and tangent == 2.0
    value, tangent = jvp(caller_with_a_local_named_like_the_helpers_function, (True, False), fuse)(0.7, 0.4, 1.0)
    assert value == caller_with_a_local_named_like_the_helpers_function(0.7, 0.4)
    np.testing.assert_allclose(tangent, 0.5 / math.sqrt(0.7) + 0.4, rtol=RTOL)


def countdown(x, n):
    if n <= 0:
        return x
    return countdown(x * 0.5, n - 1)


def test_recursion_is_refused_by_name():
    with pytest.raises(TypeError, match="'countdown' calls itself"):
        jvp(countdown, (True, False))
