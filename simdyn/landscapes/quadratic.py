"""``quadratic``: the quadratic form f(w) = ½ wᵀ H w in any dimension d.

Formula
    f(w) = ½ Σ_ij H_ij w_i w_j
Gradient convention
    ∇f(w) = ½ (H + Hᵀ) w — the exact gradient of the form for any square H; for a symmetric H
    it is H w. An antisymmetric part of H therefore has no effect on loss or gradient.
Parameter
    ``h``: the d×d matrix H (default diag(1, 10), so the registered landscape has d = 2). It
    reaches the compiled functions as ``p = h.ravel()`` (C order: ``p[i*d + j] = H_ij``).
    Being array-valued it is fixed, never swept.
Critical points (from the eigenvalues λ of the symmetric part S = ½(H + Hᵀ))
    origin "origin": a minimum if S is positive definite, a maximum if negative definite, a saddle
    if S has eigenvalues of both signs. If S is semidefinite and singular the minimizers
    (maximizers) form the null space of S, no isolated point: nothing is listed.

Forms
    Up to d = :data:`TUPLE_MAX_DIM` the landscape is in the tuple form (the fast path for small
    d); above, in the array form, with S = ½(H + Hᵀ) and H as data: the gradient is the loop
    g_i = Σ_j S_ij w_j in the tuple form's order (so both forms give the same bits), and on the
    CPU a tile of trajectories takes one product G = W·S (BLAS; equal to the loop to rounding).
    The array form also gives ``hvp`` (∇²f·u = S u), ``value_grad`` and ``tile_value_grad``.
    ``quadratic(h, form="array")`` picks the array form at any d.

A tuple of generic length cannot be built inside a numba-compiled loop, so :func:`quadratic`
generates the scalar source of grad/loss for each dimension d (the entries are read from ``p``
at run time, so one pair of functions serves every H of that size) and caches it per d. The
generated source is registered with :mod:`linecache`, so ``inspect.getsource`` works on it.
"""

from __future__ import annotations

import linecache
import math

import numpy as np

from .base import CriticalPoint, Landscape

_FUNCTIONS: dict[int, tuple] = {}


def _source(d: int) -> str:
    names = [f"w{i}" for i in range(d)]
    unpack = ", ".join(names) + ("," if d == 1 else "")

    def h(i, j):
        return f"p[{i * d + j}]"

    grad_terms = []
    for i in range(d):
        terms = []
        for j in range(d):
            coef = h(i, i) if i == j else f"0.5 * ({h(i, j)} + {h(j, i)})"
            terms.append(f"{coef} * {names[j]}")
        grad_terms.append(" + ".join(terms))
    grad_body = ",\n        ".join(grad_terms) + ("," if d == 1 else "")
    loss_terms = []
    for i in range(d):
        row = " + ".join(f"{h(i, j)} * {names[j]}" for j in range(d))
        loss_terms.append(f"{names[i]} * ({row})")
    loss_body = " + ".join(loss_terms)
    return (
        f"def grad(w, p, t):\n"
        f"    {unpack} = w\n"
        f"    return (\n        {grad_body}\n    )\n"
        f"\n\n"
        f"def loss(w, p, t):\n"
        f"    {unpack} = w\n"
        f"    return 0.5 * ({loss_body})\n"
    )


def quadratic_functions(d: int) -> tuple:
    """The generated ``(grad, loss)`` pair for dimension ``d`` (cached: same objects per d)."""
    d = int(d)
    if d < 1:
        raise ValueError(f"quadratic: dimension must be >= 1, got {d}")
    if d not in _FUNCTIONS:
        src = _source(d)
        filename = f"<simdyn.landscapes.quadratic d={d}>"
        linecache.cache[filename] = (len(src), None, src.splitlines(True), filename)
        namespace = {"math": math, "__name__": __name__}
        exec(compile(src, filename, "exec"), namespace)
        grad, loss = namespace["grad"], namespace["loss"]
        for fn in (grad, loss):
            fn.__qualname__ = f"quadratic_{fn.__name__}_d{d}"
            fn.__module__ = __name__
        _FUNCTIONS[d] = (grad, loss)
    return _FUNCTIONS[d]


def _as_matrix(h) -> np.ndarray:
    try:
        h = np.array(h, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"quadratic: h must be a square d×d matrix of numbers, got {h!r}") from None
    if h.ndim == 0:
        h = h.reshape(1, 1)
    if h.ndim != 2 or h.shape[0] != h.shape[1] or h.shape[0] < 1:
        raise ValueError(f"quadratic: h must be a square d×d matrix, got shape {h.shape}")
    if not np.all(np.isfinite(h)):
        raise ValueError("quadratic: h must be finite")
    return h


def _critical_points(values: dict) -> list[CriticalPoint]:
    h = _as_matrix(values["h"])
    eig = np.linalg.eigvalsh(0.5 * (h + h.T))
    tol = 1e-12 * max(1.0, float(np.max(np.abs(eig))))
    pos, neg = bool(np.any(eig > tol)), bool(np.any(eig < -tol))
    origin = (0.0,) * h.shape[0]
    if pos and neg:
        return [CriticalPoint("saddle", origin, "origin")]
    if np.all(np.abs(eig) > tol):
        return [CriticalPoint("minimum" if pos else "maximum", origin, "origin")]
    return []  # semidefinite and singular: a subspace of critical points, none isolated


#: Largest d of the tuple form of the quadratic; above it the array form is used.
TUPLE_MAX_DIM = 8


def _product(s, v, out):
    """out = S v, each row summed over j in order (the tuple form's order)."""
    for i in range(v.shape[0]):
        acc = s[i, 0] * v[0]
        for j in range(1, v.shape[0]):
            acc = acc + s[i, j] * v[j]
        out[i] = acc


def array_grad(w, p, data, t, g):
    """g = S w with S = ½(H + Hᵀ) = data[0], summed over j in order (as the tuple form)."""
    _product(data[0], w, g)


def array_tile_grad(w, p, data, t, g):
    """G = W·S for a tile of trajectories (rows of W): one matrix–matrix product (np.dot with
    ``out``: an array-expression assignment of its result compiles 10× slower in numba)."""
    np.dot(w, data[0], g)


def array_hvp(w, p, data, t, u, out):
    """∇²f·u = S u, S = ½(H + Hᵀ) = data[0] (the Hessian of the form, constant in w)."""
    _product(data[0], u, out)


def array_value_grad(w, p, data, t, g):
    """f(w) and g = S w in one pass: f = ½ wᵀ(S w) (equal to ½ wᵀHw; the antisymmetric part
    of H adds nothing to the form, so this differs from :func:`array_loss` by rounding only)."""
    s = data[0]
    total = 0.0
    for i in range(w.shape[0]):
        acc = s[i, 0] * w[0]
        for j in range(1, w.shape[0]):
            acc = acc + s[i, j] * w[j]
        g[i] = acc
        total = total + w[i] * acc
    return 0.5 * total


def array_tile_value_grad(w, p, data, t, g, out):
    """G = W·S (one GEMM) and the losses ½ Σ_k W_rk G_rk of a tile of trajectories."""
    np.dot(w, data[0], g)
    for r in range(w.shape[0]):
        total = 0.0
        for k in range(w.shape[1]):
            total = total + w[r, k] * g[r, k]
        out[r] = 0.5 * total


def array_loss(w, p, data, t):
    """½ Σ_i w_i (Σ_j H_ij w_j), H = data[1], in the tuple form's order."""
    h = data[1]
    total = 0.0
    for i in range(w.shape[0]):
        row = h[i, 0] * w[0]
        for j in range(1, w.shape[0]):
            row = row + h[i, j] * w[j]
        total = total + w[i] * row
    return 0.5 * total


def quadratic(h, form: str | None = None) -> Landscape:
    """The landscape ½ wᵀ H w for a square matrix ``h`` (any d ≥ 1; d follows h's shape).

    ``form``: "tuple" or "array"; by default the tuple form up to d = TUPLE_MAX_DIM, else the
    array form (module docstring).
    """
    h = _as_matrix(h)
    d = h.shape[0]
    if form not in (None, "tuple", "array"):
        raise ValueError(f"quadratic: form must be None, 'tuple' or 'array', got {form!r}")
    if form == "array" or (form is None and d > TUPLE_MAX_DIM):
        return Landscape(
            "quadratic",
            d,
            array_grad,
            array_loss,
            critical_points=lambda values: _critical_points({"h": h}),
            formula="0.5 * w^T H w  (grad = 0.5 * (H + H^T) w)",
            doc=__doc__,
            form="array",
            data={"s": 0.5 * (h + h.T), "h": h},
            tile_grad=array_tile_grad,
            value_grad=array_value_grad,
            tile_value_grad=array_tile_value_grad,
            hvp=array_hvp,
        )
    grad, loss = quadratic_functions(d)
    return Landscape(
        "quadratic",
        d,
        grad,
        loss,
        params={"h": h},
        critical_points=_critical_points,
        formula="0.5 * w^T H w  (grad = 0.5 * (H + H^T) w)",
        doc=__doc__,
    )


LANDSCAPE = quadratic(np.diag([1.0, 10.0]))
