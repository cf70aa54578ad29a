"""Forward-mode differentiation of plain scalar Python by source transformation.

:func:`jvp` turns a scalar function ``f(x₁, …, xₙ)`` written as the optimizers and landscapes are
(scalars, tuples, ``if``/``else``, ``math`` calls, calls to other such functions) into a new plain
Python function

    f__jvp(x₁, …, xₙ, ẋ_a, ẋ_b, …) -> (f(x), ∂f(x)·ẋ)

that carries, next to every active variable ``v``, its tangent ``v̇`` (a number for a number, a
tuple of tangents for a tuple): dual numbers (v, v̇) written out as pairs of scalars. Only the
arguments marked active get a tangent argument; every variable computed from an active one
becomes active (a flow-insensitive activity analysis), everything else is emitted verbatim. The
result is itself plain scalar Python, so :func:`simdyn.engine.compile.compile_scalar` compiles it
for the CPU and as an ``inline="always"`` CUDA device function, float32 literals included, and it
can be fused into kernels like the function it came from.

Rules (u̇ the tangent of u; c a constant):

    u ± v → u̇ ± v̇      u·v → u̇·v + u·v̇      u/v → (u̇ − (u/v)·v̇)/v
    uᶜ → c·u^(c−1)·u̇    uᵛ → v·u^(v−1)·u̇ + uᵛ·ln(u)·v̇  (the second term taken as 0 for u ≤ 0)
    √u → u̇/(2√u)   exp u → exp(u)·u̇   ln u → u̇/u   tanh u → (1 − tanh²u)·u̇
    sin, cos, float(u) → u̇;  int, floor, ceil, sign, comparisons, booleans → 0
    −u → −u̇    u mod c → u̇

Piecewise functions take **the derivative of the branch taken** at the current point: an
``if``/``else`` statement or ``a if c else b`` differentiates the branch that runs;
``abs(u)`` → sign(u)·u̇ with sign(0) = 0 (the subgradient convention of ``sharp_valley``);
``max(u, v)`` → the tangent of the argument returned (v̇ if v > u else u̇, as Python's and
numba's ``max`` return the first of equal arguments), ``min`` likewise. At a kink this is one
one-sided derivative, not a generalized gradient: a tie (u = v) or a branch switching exactly at
the point is resolved by whichever branch the comparison picks.

A call to another plain-Python (or numba-compiled) function through a global name is transformed
recursively, specialised to the arguments that are active at the call site, so helpers
(``lerp``, ``adam_apply`` …) are differentiated from their own source too. The helper's
transformed statements are inlined into the caller's (:mod:`simdyn.tangent.inline`: its locals
renamed, its parameters bound, its returns turned into assignments), so that one function holds
the whole step; a helper with a return inside a loop is called as its own JVP function instead.
Recursion (a function that calls itself, directly or through others) cannot be transformed and
raises ``TypeError``. The primal statements are the helper's, in its order. The finished body
then has its chains of tangent divisions fused, one division per chain
(:mod:`simdyn.tangent.divisions`; ``jvp(..., fuse=False)`` keeps each rule's division). Loops (``for``,
``while``) are supported when their iteration bounds do not depend on active variables.
Unsupported constructs (keyword arguments, array stores, nested functions …) raise ``TypeError``
naming the function.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import itertools
import linecache
import math
import textwrap

import numpy as np

from ..engine.compile import python_function
from .divisions import fuse_divisions
from .inline import rename, returns_to_assignments

_memo: dict[tuple, object] = {}
_building: set[tuple] = set()  # the (function, activity, fuse) keys being transformed now
_serial = itertools.count()

TANGENT_PREFIX = "_d_"


def _zero():
    return ast.Constant(0.0)


def _name(ident: str) -> ast.Name:
    return ast.Name(id=ident, ctx=ast.Load())


def _store(ident: str) -> ast.Name:
    return ast.Name(id=ident, ctx=ast.Store())


def _assign(target: str, value: ast.expr) -> ast.Assign:
    return ast.Assign(targets=[_store(target)], value=value)


def _binop(a, op, b):
    return ast.BinOp(left=a, op=op, right=b)


def _ifexp(test, body, orelse):
    return ast.IfExp(test=test, body=body, orelse=orelse)


def _compare(a, op, b):
    return ast.Compare(left=a, ops=[op], comparators=[b])


def _zeros_like(node):
    """A zero tangent with the structure of the expression ``node`` (tuples literal, else scalar)."""
    if isinstance(node, ast.Tuple):
        return ast.Tuple(elts=[_zeros_like(e) for e in node.elts], ctx=ast.Load())
    return _zero()


def _materialize(tangent, primal):
    return _zeros_like(primal) if tangent is None else tangent


def _source_of(py):
    try:
        source = textwrap.dedent(inspect.getsource(py))
    except (OSError, TypeError):
        raise TypeError(f"jvp: the source of {py.__name__!r} is not available, so it cannot be differentiated") from None
    tree = ast.parse(source)
    fdef = tree.body[0]
    if not isinstance(fdef, ast.FunctionDef):
        raise TypeError(f"jvp: {py.__name__!r} is not a plain function definition")
    return fdef


def _local_names(fdef) -> set[str]:
    names = {a.arg for a in fdef.args.args}
    for node in ast.walk(fdef):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def _loaded_names(node) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _stored_names(node) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def _activity(fdef, active_args: set[str]) -> set[str]:
    """Local variables that depend on an active argument (fixed point over all assignments)."""
    active = set(active_args)
    while True:
        before = len(active)
        for node in ast.walk(fdef):
            if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                value_names = _loaded_names(node.value)
                if isinstance(node, ast.AugAssign):
                    value_names |= _loaded_names(ast.Name(id=node.target.id, ctx=ast.Load())) \
                        if isinstance(node.target, ast.Name) else set()
                if value_names & active:
                    for target in targets:
                        active |= _stored_names(target)
        if len(active) == before:
            return active


#: Elementary functions: object -> rule(primal_args, tangents, value) -> tangent expression.
def _rules():
    def sqrt(a, da, v):
        return _binop(da[0], ast.Div(), _binop(ast.Constant(2.0), ast.Mult(), v))

    def exp(a, da, v):
        return _binop(v, ast.Mult(), da[0])

    def log(a, da, v):
        return _binop(da[0], ast.Div(), a[0])

    def tanh(a, da, v):
        return _binop(_binop(ast.Constant(1.0), ast.Sub(), _binop(v, ast.Mult(), v)), ast.Mult(), da[0])

    def sin(a, da, v):
        return _binop(ast.Call(func=_name("_simdyn_cos"), args=[a[0]], keywords=[]), ast.Mult(), da[0])

    def cos(a, da, v):
        return ast.UnaryOp(op=ast.USub(), operand=_binop(
            ast.Call(func=_name("_simdyn_sin"), args=[a[0]], keywords=[]), ast.Mult(), da[0]))

    def absolute(a, da, v):
        return _ifexp(_compare(a[0], ast.Gt(), _zero()), da[0],
                      _ifexp(_compare(a[0], ast.Lt(), _zero()), ast.UnaryOp(op=ast.USub(), operand=da[0]), _zero()))

    def identity(a, da, v):
        return da[0]

    def zero(a, da, v):
        return None

    def maximum(a, da, v):
        return _ifexp(_compare(a[1], ast.Gt(), a[0]), da[1], da[0])

    def minimum(a, da, v):
        return _ifexp(_compare(a[1], ast.Lt(), a[0]), da[1], da[0])

    table = {
        math.sqrt: sqrt, np.sqrt: sqrt, math.exp: exp, np.exp: exp, math.log: log, np.log: log,
        math.tanh: tanh, np.tanh: tanh, math.sin: sin, np.sin: sin, math.cos: cos, np.cos: cos,
        builtins.abs: absolute, np.abs: absolute, math.fabs: absolute, builtins.float: identity,
        builtins.max: maximum, builtins.min: minimum, builtins.int: zero, builtins.bool: zero,
        math.floor: zero, math.ceil: zero, np.floor: zero, np.ceil: zero, np.sign: zero,
        np.float64: identity, np.float32: identity,
    }
    return table


_RULES = _rules()


def _rule_for(obj):
    try:
        return _RULES.get(obj)
    except TypeError:  # unhashable
        return None


class _Transform:
    """One function's transformation, for one pattern of active arguments."""

    def __init__(self, py, active_mask: tuple[bool, ...], fuse: bool = True, inlining: frozenset = frozenset()):
        self.py = py
        self.fuse = fuse
        self.inlining = inlining | {py}
        self.fdef = _source_of(py)
        self.args = [a.arg for a in self.fdef.args.args]
        if len(active_mask) != len(self.args):
            raise TypeError(f"jvp: {py.__name__!r} takes {len(self.args)} arguments, got an activity mask of "
                            f"{len(active_mask)}")
        if self.fdef.args.vararg or self.fdef.args.kwarg or self.fdef.args.kwonlyargs:
            raise TypeError(f"jvp: {py.__name__!r} has *args, **kwargs or keyword-only arguments")
        self.locals = _local_names(self.fdef)
        self.active = _activity(self.fdef, {a for a, m in zip(self.args, active_mask) if m})
        self.mask = active_mask
        self.namespace = dict(py.__globals__)
        self.namespace.update(_simdyn_log=math.log, _simdyn_sin=math.sin, _simdyn_cos=math.cos)
        self.temps = itertools.count()
        self.out: list[ast.stmt] = []

    # -- helpers ---------------------------------------------------------------------------------
    def fail(self, node, what):
        raise TypeError(f"jvp: cannot differentiate {what} in {self.py.__name__!r} "
                        f"(line {getattr(node, 'lineno', '?')}: {ast.unparse(node)})")

    def is_active(self, node) -> bool:
        return bool(_loaded_names(node) & self.active)

    def temp(self, value: ast.expr, prefix: str = "_jv") -> ast.Name:
        ident = f"{prefix}{next(self.temps)}"
        self.out.append(_assign(ident, value))
        return _name(ident)

    def resolve(self, func):
        """The object a call's function expression names (a global, possibly dotted), or None."""
        if _loaded_names(func) & self.locals:
            return None
        try:
            return eval(compile(ast.Expression(body=func), "<jvp>", "eval"), self.namespace)
        except Exception:
            return None

    # -- expressions -----------------------------------------------------------------------------
    def expr(self, node):
        """(primal, tangent) of an expression; tangent None means identically zero."""
        if not self.is_active(node):
            return node, None
        method = getattr(self, "expr_" + type(node).__name__, None)
        if method is None:
            self.fail(node, f"a {type(node).__name__} expression")
        return method(node)

    def expr_Name(self, node):
        return node, (_name(TANGENT_PREFIX + node.id) if node.id in self.active else None)

    def expr_Tuple(self, node):
        pairs = [self.expr(e) for e in node.elts]
        primal = ast.Tuple(elts=[p for p, _ in pairs], ctx=ast.Load())
        if all(t is None for _, t in pairs):
            return primal, None
        return primal, ast.Tuple(elts=[_materialize(t, p) for p, t in pairs], ctx=ast.Load())

    def expr_Subscript(self, node):
        if self.is_active(node.slice):
            self.fail(node, "an index that depends on an active variable")
        value, tangent = self.expr(node.value)
        primal = ast.Subscript(value=value, slice=node.slice, ctx=ast.Load())
        if tangent is None:
            return primal, None
        return primal, ast.Subscript(value=tangent, slice=node.slice, ctx=ast.Load())

    def expr_Compare(self, node):
        return node, None

    def expr_BoolOp(self, node):
        return node, None

    def expr_UnaryOp(self, node):
        if isinstance(node.op, ast.Not):
            return node, None
        value, tangent = self.expr(node.operand)
        primal = ast.UnaryOp(op=node.op, operand=value)
        if tangent is None:
            return primal, None
        return primal, ast.UnaryOp(op=node.op, operand=tangent)

    def expr_BinOp(self, node):
        a, da = self.expr(node.left)
        b, db = self.expr(node.right)
        a, b = self.temp(a), self.temp(b)
        v = self.temp(_binop(a, node.op, b))
        op = node.op
        if da is None and db is None:
            return v, None
        if isinstance(op, (ast.Add, ast.Sub)):
            if db is None:
                d = da
            elif da is None:
                d = db if isinstance(op, ast.Add) else ast.UnaryOp(op=ast.USub(), operand=db)
            else:
                d = _binop(da, op, db)
        elif isinstance(op, ast.Mult):
            terms = []
            if da is not None:
                terms.append(_binop(da, ast.Mult(), b))
            if db is not None:
                terms.append(_binop(a, ast.Mult(), db))
            d = terms[0] if len(terms) == 1 else _binop(terms[0], ast.Add(), terms[1])
        elif isinstance(op, ast.Div):
            if db is None:
                d = _binop(da, ast.Div(), b)
            else:
                num = _binop(v, ast.Mult(), db)
                num = ast.UnaryOp(op=ast.USub(), operand=num) if da is None else _binop(da, ast.Sub(), num)
                d = _binop(num, ast.Div(), b)
        elif isinstance(op, ast.Pow):
            terms = []
            if da is not None:
                power = _binop(a, ast.Pow(), _binop(b, ast.Sub(), ast.Constant(1)))
                terms.append(_binop(_binop(b, ast.Mult(), power), ast.Mult(), da))
            if db is not None:
                log_term = _binop(_binop(v, ast.Mult(), ast.Call(func=_name("_simdyn_log"), args=[a], keywords=[])),
                                  ast.Mult(), db)
                terms.append(_ifexp(_compare(a, ast.Gt(), _zero()), log_term, _zero()))
            d = terms[0] if len(terms) == 1 else _binop(terms[0], ast.Add(), terms[1])
        elif isinstance(op, ast.Mod) and db is None:
            d = da
        elif isinstance(op, ast.FloorDiv):
            return v, None
        else:
            self.fail(node, f"the operator {type(op).__name__} with these active operands")
        return v, self.temp(d, "_jd")

    def expr_IfExp(self, node):
        saved = self.out
        branches = []
        for branch in (node.body, node.orelse):
            self.out = []
            primal, tangent = self.expr(branch)
            branches.append((self.out, primal, tangent))
        self.out = saved
        if all(t is None for _, _, t in branches):
            return node, None
        v, d = f"_jv{next(self.temps)}", f"_jd{next(self.temps)}"
        bodies = [stmts + [_assign(v, primal), _assign(d, _materialize(tangent, primal))]
                  for stmts, primal, tangent in branches]
        self.out.append(ast.If(test=node.test, body=bodies[0], orelse=bodies[1]))
        return _name(v), _name(d)

    def expr_Call(self, node):
        if node.keywords:
            self.fail(node, "a call with keyword arguments")
        obj = self.resolve(node.func)
        if obj is None:
            self.fail(node, "a call to a local or unknown function")
        pairs = [self.expr(a) for a in node.args]
        args = [self.temp(p) if t is not None else p for p, t in pairs]
        tangents = [t for _, t in pairs]
        if all(t is None for t in tangents):
            return ast.Call(func=node.func, args=args, keywords=[]), None
        rule = _rule_for(obj)
        if rule is not None:
            v = self.temp(ast.Call(func=node.func, args=args, keywords=[]))
            zeroed = [_materialize(t, p) for p, t in zip(args, tangents)]
            d = rule(args, zeroed, v)
            return v, (None if d is None else self.temp(d, "_jd"))
        py = python_function(obj)
        if not inspect.isfunction(py):
            self.fail(node, f"a call to {obj!r}, which has no differentiation rule")
        mask = tuple(t is not None for t in tangents)
        inlined = self.inline(py, mask, args, [t for t in tangents if t is not None])
        if inlined is not None:
            return inlined
        callee = jvp(py, mask, self.fuse)
        ident = f"_simdyn_jvp_{callee.__name__}"
        self.namespace[ident] = callee
        call = ast.Call(func=_name(ident), args=args + [t for t in tangents if t is not None], keywords=[])
        result = self.temp(call)
        index = lambda i: ast.Subscript(value=result, slice=ast.Constant(i), ctx=ast.Load())  # noqa: E731
        return self.temp(index(0)), self.temp(index(1), "_jd")

    def inline(self, py, mask, args, tangents):
        """(value, tangent) names of the call ``py(*args)`` with its JVP's statements put here
        (:mod:`simdyn.tangent.inline`), or None when they cannot be (recursion, a return in a loop)."""
        if py in self.inlining:
            return None
        callee = _Transform(py, mask, self.fuse, self.inlining)
        body = callee.body(callee.fdef.body)
        params = callee.args + [TANGENT_PREFIX + a for a, m in zip(callee.args, mask) if m]
        suffix = f"__i{next(self.temps)}"
        mapping = {name: name + suffix for name in set(params) | set().union(*map(_stored_names, body))}
        for name in set().union(*map(_loaded_names, body)) - set(mapping):
            mapping.update(self.import_global(name, callee.namespace))
        value, tangent = f"_jv{next(self.temps)}", f"_jd{next(self.temps)}"

        def bind(ret):
            result = ret.value
            return [_assign(value, result.elts[0]), _assign(tangent, result.elts[1])]

        body = returns_to_assignments(rename(body, mapping), bind)
        if body is None:
            return None
        self.out += [_assign(mapping[p], a) for p, a in zip(params, args + tangents)] + body
        return _name(value), _name(tangent)

    def import_global(self, name, namespace) -> dict[str, str]:
        """Make the global ``name`` of another function's ``namespace`` visible here: {} when it
        means the same here (or is added under its name), else {name: alias}. A name that is a
        local of this function (an argument, a variable, a generated temporary or tangent) always
        gets an alias: the inlined statements would otherwise read the local."""
        missing = object()
        theirs = namespace.get(name, getattr(builtins, name, missing))
        ours = self.namespace.get(name, getattr(builtins, name, missing))
        if theirs is missing:
            return {}
        shadowed = name in self.locals or name.startswith(("_jv", "_jd", TANGENT_PREFIX))
        if theirs is ours and not shadowed:
            return {}
        if ours is missing and not shadowed:
            self.namespace[name] = theirs
            return {}
        alias = f"_simdyn_global{next(_serial)}_{name}"
        self.namespace[alias] = theirs
        return {name: alias}

    # -- statements ------------------------------------------------------------------------------
    def body(self, statements) -> list[ast.stmt]:
        saved, self.out = self.out, []
        for stmt in statements:
            method = getattr(self, "stmt_" + type(stmt).__name__, None)
            if method is None:
                self.fail(stmt, f"a {type(stmt).__name__} statement")
            method(stmt)
        out, self.out = self.out, saved
        return out or [ast.Pass()]

    def assign(self, target, value, tangent):
        if isinstance(target, ast.Name):
            self.out.append(ast.Assign(targets=[target], value=value))
            if target.id in self.active:
                self.out.append(_assign(TANGENT_PREFIX + target.id, _materialize(tangent, value)))
            return
        if isinstance(target, ast.Tuple) and all(isinstance(e, ast.Name) for e in target.elts):
            self.out.append(ast.Assign(targets=[target], value=value))
            names = [e.id for e in target.elts]
            if not any(n in self.active for n in names):
                return
            if tangent is not None:
                tangent = self.temp(tangent, "_jd")
            for i, n in enumerate(names):
                if n in self.active:
                    d = _zero() if tangent is None else ast.Subscript(value=tangent, slice=ast.Constant(i), ctx=ast.Load())
                    self.out.append(_assign(TANGENT_PREFIX + n, d))
            return
        self.fail(target, "an assignment to this target")

    def stmt_Assign(self, stmt):
        if len(stmt.targets) != 1:
            self.fail(stmt, "a chained assignment")
        value, tangent = self.expr(stmt.value)
        self.assign(stmt.targets[0], value, tangent)

    def stmt_AugAssign(self, stmt):
        if not isinstance(stmt.target, ast.Name):
            self.fail(stmt, "an augmented assignment to this target")
        load = ast.Name(id=stmt.target.id, ctx=ast.Load())
        value, tangent = self.expr(_binop(load, stmt.op, stmt.value))
        self.assign(_store(stmt.target.id), value, tangent)

    def stmt_AnnAssign(self, stmt):
        if stmt.value is not None:
            value, tangent = self.expr(stmt.value)
            self.assign(stmt.target, value, tangent)

    def stmt_Return(self, stmt):
        if stmt.value is None:
            self.fail(stmt, "a return without a value")
        value, tangent = self.expr(stmt.value)
        self.out.append(ast.Return(value=ast.Tuple(elts=[value, _materialize(tangent, value)], ctx=ast.Load())))

    def stmt_If(self, stmt):
        self.out.append(ast.If(test=stmt.test, body=self.body(stmt.body), orelse=self.body(stmt.orelse)
                               if stmt.orelse else []))

    def stmt_For(self, stmt):
        if self.is_active(stmt.iter) or (_stored_names(stmt.target) & self.active):
            self.fail(stmt, "a loop over active values")
        self.out.append(ast.For(target=stmt.target, iter=stmt.iter, body=self.body(stmt.body),
                                orelse=self.body(stmt.orelse) if stmt.orelse else []))

    def stmt_While(self, stmt):
        self.out.append(ast.While(test=stmt.test, body=self.body(stmt.body),
                                  orelse=self.body(stmt.orelse) if stmt.orelse else []))

    def stmt_Expr(self, stmt):
        if isinstance(stmt.value, ast.Constant):  # a docstring
            return
        self.out.append(stmt)

    def stmt_Pass(self, stmt):
        pass

    def stmt_Break(self, stmt):
        self.out.append(stmt)

    def stmt_Continue(self, stmt):
        self.out.append(stmt)

    # -- the whole function ----------------------------------------------------------------------
    def build(self):
        name = f"{self.py.__name__}__jvp_{''.join('1' if m else '0' for m in self.mask)}_{next(_serial)}"
        tangent_args = [TANGENT_PREFIX + a for a, m in zip(self.args, self.mask) if m]
        fdef = self.fdef  # reused so that every Python version's extra fields are present
        fdef.body = self.body(fdef.body)
        if self.fuse:
            fdef.body = fuse_divisions(fdef.body)
        fdef.name = name
        fdef.decorator_list = []
        fdef.returns = None
        fdef.args = ast.arguments(posonlyargs=[], args=[ast.arg(arg=a) for a in self.args + tangent_args],
                                  kwonlyargs=[], kw_defaults=[], defaults=[])
        module = ast.fix_missing_locations(ast.Module(body=[fdef], type_ignores=[]))
        source = ast.unparse(module) + "\n"
        filename = f"<simdyn.tangent jvp of {self.py.__module__}.{self.py.__qualname__} #{name}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        local: dict = {}
        exec(compile(source, filename, "exec"), self.namespace, local)
        func = local[name]
        func.simdyn_forceinline = True  # always inlined by LLVM into its caller's loop (simdyn.engine.compile)
        func.__doc__ = (f"Forward-mode JVP of {self.py.__qualname__} (active arguments "
                        f"{', '.join(a for a, m in zip(self.args, self.mask) if m)}): returns (value, tangent).")
        return func


def jvp(func, active, fuse: bool = True):
    """The forward-mode Jacobian–vector product of the plain scalar function ``func``.

    ``active`` gives, per positional argument, whether it is differentiated (a tangent argument is
    appended for it, with the same structure: a number for a number, a tuple for a tuple). Returns
    a plain Python function ``(*args, *tangents) -> (func(*args), J·tangents)`` generated from
    ``func``'s source (see the module docstring for the rules); memoised per (func, active,
    fuse). ``fuse=False`` leaves every tangent division as its rule wrote it (no fusion of
    division chains, :mod:`simdyn.tangent.divisions`): the reference the fused form is tested
    against.
    """
    py = python_function(func)
    key = (py, tuple(bool(a) for a in active), bool(fuse))
    if key not in _memo:
        if key in _building:
            raise TypeError(f"jvp: {py.__name__!r} calls itself (directly or through other functions); "
                            "recursion cannot be differentiated")
        _building.add(key)
        try:
            _memo[key] = _Transform(py, key[1], key[2]).build()
        finally:
            _building.discard(key)
    return _memo[key]


def generated_source(func) -> str:
    """The source of a function made by :func:`jvp` (for reading and debugging)."""
    return inspect.getsource(func)
