"""``rosenbrock``: Rosenbrock's banana valley, f(x, y) = (a − x)² + b·(y − x²)².

Parameters ``a`` (default 1.0) and ``b`` (default 100.0) (Rosenbrock, Computer J. 3, 1960).
Gradient (exact): (−2(a − x) − 4b·x(y − x²), 2b(y − x²)).
Critical points: (a, a²) is the only one; Hessian determinant 4b there, so it is the
global minimum "min" for b > 0 and a saddle "saddle" for b < 0. For b = 0 the minimizers are the line x = a
and nothing is listed.
"""

from .base import CriticalPoint, Landscape


def grad(w, p, t):
    x, y = w
    a = p[0]
    b = p[1]
    r = y - x * x
    return (-2.0 * (a - x) - 4.0 * b * x * r, 2.0 * b * r)


def loss(w, p, t):
    x, y = w
    a = p[0]
    b = p[1]
    u = a - x
    r = y - x * x
    return u * u + b * r * r


def _critical_points(values):
    a, b = float(values["a"]), float(values["b"])
    if b > 0.0:
        return [CriticalPoint("minimum", (a, a * a), "min")]
    if b < 0.0:
        return [CriticalPoint("saddle", (a, a * a), "saddle")]
    return []


LANDSCAPE = Landscape(
    "rosenbrock",
    2,
    grad,
    loss,
    params={"a": 1.0, "b": 100.0},
    critical_points=_critical_points,
    formula="(a - x)^2 + b*(y - x^2)^2",
    doc=__doc__,
)
