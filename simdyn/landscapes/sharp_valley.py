"""``sharp_valley``: a non-smooth valley, f(x, y) = |x| + a·|y|.

Parameter ``a`` (default 1e-4): slope along the valley floor (y).
Gradient convention: the subgradient (sign x, a·sign y) with sign(0) = 0, so the returned
vector is exactly zero at the origin. Everywhere off the axes it is the gradient.
Critical points: for a > 0 the minimum at the origin ("origin"), a non-smooth (kink) minimum
with no Hessian. For a ≤ 0 there is no isolated minimum and nothing is listed.
"""

from .base import CriticalPoint, Landscape


def grad(w, p, t):
    x, y = w
    a = p[0]
    sx = 1.0 if x > 0.0 else (-1.0 if x < 0.0 else 0.0)
    sy = 1.0 if y > 0.0 else (-1.0 if y < 0.0 else 0.0)
    return (sx, a * sy)


def loss(w, p, t):
    x, y = w
    a = p[0]
    return abs(x) + a * abs(y)


def _critical_points(values):
    if float(values["a"]) > 0.0:
        return [CriticalPoint("minimum", (0.0, 0.0), "origin")]
    return []


LANDSCAPE = Landscape(
    "sharp_valley",
    2,
    grad,
    loss,
    params={"a": 1e-4},
    critical_points=_critical_points,
    formula="|x| + a*|y|  (subgradient, sign(0) = 0)",
    doc=__doc__,
)
