"""``saddle``: the canonical saddle f(x, y) = ½(−x² + y²), Hessian diag(−1, 1).

This is the saddle of Section 5 of "Exploring the dynamics of Adam" (Hessian [[−1, 0], [0, 1]]).
No parameters. Gradient: (−x, y), exact.
Critical points: a saddle at the origin ("origin"); no minimum (f is unbounded below along x).
"""

from .base import CriticalPoint, Landscape


def grad(w, p, t):
    x, y = w
    return (-x, y)


def loss(w, p, t):
    x, y = w
    return 0.5 * (y * y - x * x)


LANDSCAPE = Landscape(
    "saddle",
    2,
    grad,
    loss,
    params={},
    critical_points=[CriticalPoint("saddle", (0.0, 0.0), "origin")],
    formula="0.5 * (-x^2 + y^2)",
    doc=__doc__,
)
