"""Inlining a generated JVP into its caller's: renaming its locals, and its returns as assignments.

:mod:`simdyn.tangent.forward` transforms a call to a plain-Python helper into the helper's own
JVP; to put the helper's statements in the caller's (so that the caller's tangent divisions and
the helper's share one block, :mod:`simdyn.tangent.divisions`), the helper's transformed body
gets unique names (:func:`rename`) and single exit (:func:`returns_to_assignments`): every
``return (value, tangent)`` becomes two assignments to the caller's result names. That needs
every return in tail position: the last statement, or inside an ``if`` whose other path goes on
to one (the guard clause ``if c: return a`` then ``return b`` becomes ``if c: r = a`` ``else:
r = b``); a return inside a loop keeps the call. The statements are the helper's, in its order,
so the primal arithmetic is unchanged.
"""

from __future__ import annotations

import ast
import copy
from typing import Callable


class _Renamer(ast.NodeTransformer):
    def __init__(self, mapping: dict[str, str]):
        self.mapping = mapping

    def visit_Name(self, node):
        if node.id in self.mapping:
            return ast.copy_location(ast.Name(id=self.mapping[node.id], ctx=node.ctx), node)
        return node


def rename(stmts: list[ast.stmt], mapping: dict[str, str]) -> list[ast.stmt]:
    """``stmts`` with every name in ``mapping`` (loads and stores) renamed."""
    renamer = _Renamer(mapping)
    return [renamer.visit(s) for s in stmts]


def _returns(stmts) -> bool:
    return any(isinstance(n, ast.Return) for s in stmts for n in ast.walk(s))


def _loop_returns(stmts) -> bool:
    return any(isinstance(n, (ast.For, ast.While)) and _returns([n]) for s in stmts for n in ast.walk(s))


def returns_to_assignments(stmts: list[ast.stmt], bind: Callable[[ast.Return], list[ast.stmt]]):
    """``stmts`` with each ``return`` replaced by ``bind(return)``, or None when a path falls off
    the end without a return or a return sits in a loop. An ``if`` holding a return takes the
    statements after it into both branches (dead after a branch's own return, so dropped there)."""
    if _loop_returns(stmts):
        return None
    return _single_exit(stmts, bind)


def _single_exit(stmts, bind):
    out: list[ast.stmt] = []
    for i, stmt in enumerate(stmts):
        if isinstance(stmt, ast.Return):
            return out + bind(stmt)  # anything after it is dead
        if isinstance(stmt, ast.If) and _returns([stmt]):
            rest = stmts[i + 1:]
            body = _single_exit(stmt.body + rest, bind)
            orelse = _single_exit(stmt.orelse + copy.deepcopy(rest), bind)
            if body is None or orelse is None:
                return None
            return out + [ast.If(test=stmt.test, body=body, orelse=orelse)]
        out.append(stmt)
    return None
