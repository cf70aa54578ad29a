"""``valley``: a long, nearly flat valley, f(x, y) = x² + a·y².

Parameter ``a`` (default 1e-3): curvature along the valley floor (y), so the Hessian is
diag(2, 2a) and the condition number 1/a.
Gradient: (2x, 2a·y), exact.
Critical points: for a > 0 a minimum at the origin ("origin"); for a < 0 the origin is a saddle;
for a = 0 the minimizers form the line x = 0 and nothing is listed.
"""

from .base import CriticalPoint, Landscape


def grad(w, p, t):
    x, y = w
    a = p[0]
    return (2.0 * x, 2.0 * a * y)


def loss(w, p, t):
    x, y = w
    a = p[0]
    return x * x + a * y * y


def _critical_points(values):
    a = float(values["a"])
    if a > 0.0:
        return [CriticalPoint("minimum", (0.0, 0.0), "origin")]
    if a < 0.0:
        return [CriticalPoint("saddle", (0.0, 0.0), "origin")]
    return []


LANDSCAPE = Landscape(
    "valley",
    2,
    grad,
    loss,
    params={"a": 1e-3},
    critical_points=_critical_points,
    formula="x^2 + a*y^2",
    doc=__doc__,
)
