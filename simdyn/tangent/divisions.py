"""One division for a chain of tangent divisions: a rewrite of a generated JVP's body.

The forward-mode rules divide tangents by primal values (√u → u̇/(2√u), u/v → (u̇ − (u/v)·v̇)/v,
ln u → u̇/u …), so a JVP pays a division per rule where its primal may pay none; on the CPU the
divider bounds a vectorised step (Adam: 1 sqrt + 1 division per coordinate for the step, 2 more
divisions for its JVP). When a tangent made by a division flows only into another tangent
division, the two fuse (the quotient-rule identity, exact in real arithmetic):

    u = N/D,   t = (Y(u))/b   →   t = (Y·D, with u replaced by N) / (b·D)

where Y is a sum, difference, negation or product by primal factors in which u appears once,
and u reaches N/D through a chain of single-use tangent statements, u₀ = X/c, then u_{k+1} =
E(u_k) with E of Y's kind (u_{k+1} = (E·D, u_k → N_k)/D). Two divisions become one, at the
price of a product per term without u along the chain, and b·D; applied again, a chain of k
divisions costs one.
For Adam, ḋ = c·v̇/(2√v) and ẇ′ = ẇ + (ȧ − q·ḋ)/d with d = √v·c + ε, q = a/d, a = −η/bc₁·m:

    ẇ′ = ẇ + (ȧ·2√v − q·(v̇·c)) / (d·2√v)        (5 products and 1 division, was 3 and 2)

:func:`fuse_divisions` rewrites the body of a function made by :func:`simdyn.tangent.forward.jvp`
(after the helpers are inlined, :mod:`simdyn.tangent.inline`). Within one straight-line block,
tangent statements (targets named ``_jd…`` or ``_d_…``) are first moved after the primal
statements they may pass (primal statements never read tangents), so that a chain and its
consumer stand together after every divisor is computed; a tangent statement moves past a
primal one only when that statement neither stores a name it reads or stores nor reads a name it
stores. ``if``/``for``/``while``, ``return``, ``break`` and ``continue`` end a block, and the
bodies of compound statements are blocks of their own. When a block's last compound statement
is an ``if`` and both it and the straight-line statements after it divide a tangent, those
statements are copied into its branches (Adam: the sqrt rule of √v sits in the branch on
``eps_inside_sqrt``, the quotient rule after it); a flag is a compile-time constant, so the
compiler keeps one branch.

**The trade.** Primal statements are untouched, so the trajectory is bit for bit the plain
kernel's; the fused tangents differ from the rule-by-rule ones by rounding (a few ulp). A zero
divisor still poisons only what it poisoned before: the chain's tangent flowed into the
consumer alone, so D = 0 made t non-finite before too (for Adam v = 0 gave v̇/0 in the sqrt rule,
so a coordinate whose v is exactly 0 had a non-finite tangent before and has one now). New is
the product b·D: it must stay a normal number. If it overflows, t becomes 0 or NaN; if it is
subnormal, t loses digits; if it underflows to 0, t is infinite, where the separate quotients
were fine. Nothing guards this: a test and a fallback division per coordinate would keep the
division the rewrite removes (a select computes both sides in a vectorised loop). For Adam
with ε > 0, b·D = 2√v·(√v·c + ε) ≥ 2√v·ε stays normal for every v > 0 (≥ 4·10⁻¹⁷⁰ at the
smallest subnormal v, ε = 10⁻⁸, as √v lifts a small v; a converged trajectory's v → 0 is
fine), and overflows only for v ≳ 10³⁰⁷, a gradient beyond 10¹⁵³ that the divergence threshold
stops first. With ε = 0, b·D = 2v·c is subnormal (digits lost) once v < 2.2·10⁻³⁰⁸/(2c).
"""

from __future__ import annotations

import ast
import copy

#: The names :mod:`simdyn.tangent.forward` gives tangents: ``_d_`` + a variable, ``_jd`` + a temporary.
TANGENT_PREFIXES = ("_d_", "_jd")

_COMPOUND = (ast.If, ast.For, ast.While)
_BARRIERS = _COMPOUND + (ast.Return, ast.Break, ast.Continue)
_PURE = (ast.Name, ast.Constant, ast.BinOp, ast.UnaryOp, ast.Subscript, ast.Tuple, ast.operator, ast.unaryop,
         ast.expr_context)


def is_tangent_name(name: str) -> bool:
    return name.startswith(TANGENT_PREFIXES)


def _loads(node) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _stores(node) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def _count_loads(node, name: str) -> int:
    return sum(1 for n in ast.walk(node) if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load))


def is_tangent(stmt) -> bool:
    """An assignment whose every target is a tangent name."""
    return isinstance(stmt, ast.Assign) and bool(_stores(stmt)) and all(is_tangent_name(n) for n in _stores(stmt))


def _primal(node) -> bool:
    """A pure expression (names, constants, arithmetic, constant subscripts) reading no tangent."""
    return all(isinstance(n, _PURE) for n in ast.walk(node)) and not any(is_tangent_name(n) for n in _loads(node))


def _tangent_division(node) -> bool:
    return isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and _primal(node.right) \
        and not isinstance(node.right, ast.Constant)


def _single_target(stmt) -> str | None:
    if is_tangent(stmt) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
        return stmt.targets[0].id
    return None


def _returns_at_end(stmts) -> bool:
    return bool(stmts) and isinstance(stmts[-1], ast.Return)


def _divides(stmts) -> bool:
    return any(is_tangent(s) and any(_tangent_division(n) for n in ast.walk(s.value)) for s in stmts)


def _mul(a, b):
    return ast.BinOp(left=a, op=ast.Mult(), right=b)


def _times_denominator(expr, name, numerator, denominator):
    """``expr``·D with the tangent ``name`` (= N/D, loaded once in ``expr``) replaced by N: terms
    without it are multiplied by D; None when ``name`` is not reached through sums, differences,
    negations and products."""
    if name not in _loads(expr):
        return _mul(copy.deepcopy(expr), copy.deepcopy(denominator))
    if isinstance(expr, ast.Name):
        return copy.deepcopy(numerator)
    if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, (ast.USub, ast.UAdd)):
        inner = _times_denominator(expr.operand, name, numerator, denominator)
        return None if inner is None else ast.UnaryOp(op=type(expr.op)(), operand=inner)
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, (ast.Add, ast.Sub)):
        left = _times_denominator(expr.left, name, numerator, denominator)
        right = _times_denominator(expr.right, name, numerator, denominator)
        return None if left is None or right is None else ast.BinOp(left=left, op=type(expr.op)(), right=right)
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Mult):
        if name in _loads(expr.left):
            inner = _times_denominator(expr.left, name, numerator, denominator)
            return None if inner is None else _mul(inner, copy.deepcopy(expr.right))
        inner = _times_denominator(expr.right, name, numerator, denominator)
        return None if inner is None else _mul(copy.deepcopy(expr.left), inner)
    return None


def _duplicate_tail(stmts):
    """Copy the straight-line statements after the block's last ``if`` into its branches, when
    both sides divide a tangent."""
    last = max((i for i, s in enumerate(stmts) if isinstance(s, _COMPOUND)), default=None)
    if last is None or not isinstance(stmts[last], ast.If):
        return stmts
    branch, tail = stmts[last], stmts[last + 1:]
    if not _divides(tail) or not (_divides(branch.body) or _divides(branch.orelse)):
        return stmts
    for name in ("body", "orelse"):
        part = getattr(branch, name)
        if not (part and isinstance(part[-1], (ast.Return, ast.Break, ast.Continue))):
            setattr(branch, name, [s for s in part if not isinstance(s, ast.Pass)] + copy.deepcopy(tail))
    return stmts[:last + 1]


def _sink(stmts):
    """Tangent statements moved after the primal statements they may pass (stable otherwise)."""
    out, deferred = [], []
    for stmt in stmts:
        if is_tangent(stmt):
            deferred.append(stmt)
            continue
        if isinstance(stmt, _BARRIERS) or not isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            out += deferred + [stmt]
            deferred = []
            continue
        stores, loads = _stores(stmt), _loads(stmt)
        blocked = [i for i, d in enumerate(deferred) if stores & (_loads(d) | _stores(d)) or loads & _stores(d)]
        cut = blocked[-1] + 1 if blocked else 0
        out += deferred[:cut] + [stmt]
        deferred = deferred[cut:]
    return out + deferred


def _chain(stmts, i, name, outside, end=None):
    """(N, D, indices of the chain's statements) when the tangent ``name``, loaded once in the
    block (by statement i) and nowhere in ``outside``, is N/D through a chain of tangent
    statements that runs up to statement i, whose inputs are still there at statement ``end``
    (the consumer, where N is evaluated; default i); else None."""
    end = i if end is None else end
    if name in outside or sum(_count_loads(s, name) for s in stmts) != 1:
        return None
    j = i - 1
    while j >= 0 and is_tangent(stmts[j]) and name not in _stores(stmts[j]):
        j -= 1
    if j < 0 or _single_target(stmts[j]) != name:
        return None
    value = stmts[j].value
    if any(_loads(value) & _stores(s) for s in stmts[j + 1:end]):  # it is evaluated at statement end instead
        return None
    if _tangent_division(value):
        return value.left, value.right, {j}
    for inner_name in sorted(n for n in _loads(value) if is_tangent_name(n)):
        inner = _chain(stmts, j, inner_name, outside, end)
        if inner is None:
            continue
        numerator = _times_denominator(value, inner_name, inner[0], inner[1])  # E(u) = (E·D, u → N)/D
        if numerator is not None:
            return numerator, inner[1], inner[2] | {j}
    return None


def _pull(stmts, i, outside):
    """``stmts`` with statement i, a tangent division, fused with one chain of its numerator,
    and the consumer's new index; None when none fuses."""
    target = _single_target(stmts[i])
    if target is None or not _tangent_division(stmts[i].value):
        return None
    numerator, divisor = stmts[i].value.left, stmts[i].value.right
    for name in sorted(n for n in _loads(numerator) if is_tangent_name(n)):
        chain = _chain(stmts, i, name, outside)
        if chain is None:
            continue
        n_expr, d_expr, dropped = chain
        scaled = _times_denominator(numerator, name, n_expr, d_expr)
        if scaled is None:
            continue
        fused = ast.Assign(targets=[ast.Name(id=target, ctx=ast.Store())],
                           value=ast.BinOp(left=scaled, op=ast.Div(),
                                           right=_mul(copy.deepcopy(divisor), copy.deepcopy(d_expr))))
        kept = [s for j, s in enumerate(stmts[:i]) if j not in dropped]
        return kept + [fused] + stmts[i + 1:], len(kept)
    return None


def _fuse(stmts, outside):
    i = 0
    while i < len(stmts):
        pulled = _pull(stmts, i, outside)
        if pulled is None:
            i += 1
        else:
            stmts, i = pulled  # the consumer again: its numerator may hold another chain
    return stmts


def _block(stmts, outside: set[str]):
    """The block ``stmts`` rewritten; ``outside``: the names read where this block's values may
    flow after it (none when it ends in a return)."""
    stmts = _duplicate_tail(list(stmts))
    for k, stmt in enumerate(stmts):
        if not isinstance(stmt, _COMPOUND):
            continue
        others = set().union(*(_loads(s) for j, s in enumerate(stmts) if j != k))
        head = [stmt.test] if isinstance(stmt, (ast.If, ast.While)) else [stmt.target, stmt.iter]
        parts = [stmt.body] + ([stmt.orelse] if stmt.orelse else [])
        for index, part in enumerate(parts):
            nearby = head + [s for j, other in enumerate(parts) if j != index for s in other]
            inner = set() if _returns_at_end(part) else outside | others | set().union(*(_loads(n) for n in nearby))
            part[:] = _block(part, inner)
    return _fuse(_sink(stmts), outside)


def fuse_divisions(stmts: list[ast.stmt]) -> list[ast.stmt]:
    """The body ``stmts`` of a generated JVP with its chains of tangent divisions fused (module
    docstring). Nodes are reused: pass a tree that is not needed elsewhere."""
    return _block(list(stmts), set())
