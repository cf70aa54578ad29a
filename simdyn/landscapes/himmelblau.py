"""``himmelblau``: Himmelblau's function, f(x, y) = (x² + y − 11)² + (x + y² − 7)².

(D. M. Himmelblau, Applied Nonlinear Programming, 1972.) No parameters.
Gradient (exact), with A = x² + y − 11 and B = x + y² − 7: (4x·A + 2B, 2A + 4y·B).
Critical points (nine, all listed; locations Newton-polished to full double precision at import
from the 6-digit values below):

* four global minima, f = 0: "min_3_2" (3, 2) exactly, "min_-2.81_3.13" (−2.805118, 3.131312),
  "min_-3.78_-3.28" (−3.779310, −3.283186), "min_3.58_-1.85" (3.584428, −1.848126);
* one local maximum "max_-0.27_-0.92" (−0.270845, −0.923039), f ≈ 181.617;
* four saddles "saddle_0.09_2.88" (0.086678, 2.884255), "saddle_-3.07_-0.08" (−3.073026,
  −0.081353), "saddle_3.39_0.07" (3.385154, 0.073852), "saddle_-0.13_-1.95" (−0.127961, −1.953715).
"""

from .base import CriticalPoint, Landscape


def grad(w, p, t):
    x, y = w
    a = x * x + y - 11.0
    b = x + y * y - 7.0
    return (4.0 * x * a + 2.0 * b, 2.0 * a + 4.0 * y * b)


def loss(w, p, t):
    x, y = w
    a = x * x + y - 11.0
    b = x + y * y - 7.0
    return a * a + b * b


def _hessian(x, y):
    a = x * x + y - 11.0
    b = x + y * y - 7.0
    return (4.0 * a + 8.0 * x * x + 2.0, 4.0 * (x + y), 2.0 + 4.0 * b + 8.0 * y * y)


def _newton(x, y, iterations=50):
    """Newton's method on ∇f = 0 from (x, y), until the step stops shrinking."""
    last = float("inf")
    for _ in range(iterations):
        gx, gy = grad((x, y), (), 1)
        hxx, hxy, hyy = _hessian(x, y)
        det = hxx * hyy - hxy * hxy
        dx = (hyy * gx - hxy * gy) / det
        dy = (hxx * gy - hxy * gx) / det
        size = abs(dx) + abs(dy)
        if size >= last and size < 1e-12:
            break
        x, y, last = x - dx, y - dy, size
    return x, y


_APPROX = (
    ("minimum", (3.0, 2.0), "min_3_2"),
    ("minimum", (-2.805118, 3.131312), "min_-2.81_3.13"),
    ("minimum", (-3.779310, -3.283186), "min_-3.78_-3.28"),
    ("minimum", (3.584428, -1.848126), "min_3.58_-1.85"),
    ("maximum", (-0.270845, -0.923039), "max_-0.27_-0.92"),
    ("saddle", (0.086678, 2.884255), "saddle_0.09_2.88"),
    ("saddle", (-3.073026, -0.081353), "saddle_-3.07_-0.08"),
    ("saddle", (3.385154, 0.073852), "saddle_3.39_0.07"),
    ("saddle", (-0.127961, -1.953715), "saddle_-0.13_-1.95"),
)

CRITICAL_POINTS = [
    CriticalPoint(kind, (3.0, 2.0) if name == "min_3_2" else _newton(*xy), name)
    for kind, xy, name in _APPROX
]

LANDSCAPE = Landscape(
    "himmelblau",
    2,
    grad,
    loss,
    params={},
    critical_points=CRITICAL_POINTS,
    formula="(x^2 + y - 11)^2 + (x + y^2 - 7)^2",
    doc=__doc__,
)
