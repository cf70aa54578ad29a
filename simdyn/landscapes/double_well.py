"""``double_well``: a tilted double well, f(x, y) = (x² − 1)² + c·x + (k/2)·y².

Design (simdyn's own): a quartic double well in x with wells near x = ±1 separated by a hump
of height ≈ 1 at x ≈ 0, tilted by the linear term c·x, and a plain quadratic (curvature k) in y.

Parameters
    ``c`` (tilt, default 0.25): the well on the side where c·x < 0 is the global minimum, the
    other a local one. With c = 0 the landscape is symmetric and the basins split exactly at
    the ridge x = 0. For |c| ≥ 8/(3√3) ≈ 1.5396 the local well and the hump merge and vanish:
    a single minimum remains.
    ``k`` (default 1.0): curvature in y; the structure below needs k > 0.
Gradient (exact): (4x³ − 4x + c, k·y).
Critical points (y = 0, x a real root of 4x³ − 4x + c = 0, found with numpy.roots and
Newton-polished; f''(x) = 12x² − 4 classifies them):
    c ≠ 0, |c| < 8/(3√3): "global_min", "local_min" (f''> 0) and "saddle" (the hump, f'' < 0);
    c = 0: "left_min" (−1, 0), "right_min" (1, 0) and "saddle" (0, 0);
    |c| ≥ 8/(3√3): only "global_min" (a degenerate double root, f'' = 0, is not listed).
    k ≤ 0: nothing is listed (no minimum: unbounded below in y for k < 0, a line for k = 0).
"""

import math

import numpy as np

from .base import CriticalPoint, Landscape


def grad(w, p, t):
    x, y = w
    c = p[0]
    k = p[1]
    return (4.0 * x * (x * x - 1.0) + c, k * y)


def loss(w, p, t):
    x, y = w
    c = p[0]
    k = p[1]
    u = x * x - 1.0
    return u * u + c * x + 0.5 * k * y * y


def _polish(x, c):
    """Newton on 4x³ − 4x + c = 0 until the step stops shrinking (safe near a double root)."""
    last = math.inf
    for _ in range(100):
        d2 = 12.0 * x * x - 4.0
        if d2 == 0.0:
            break
        step = (4.0 * x * (x * x - 1.0) + c) / d2
        if abs(step) >= last and abs(step) < 1e-12:
            break
        x, last = x - step, abs(step)
    return x


def x_critical(c: float) -> list[float]:
    """The distinct real roots of 4x³ − 4x + c, polished and sorted (1 or 3 of them)."""
    c = float(c)
    if c == 0.0:
        return [-1.0, 0.0, 1.0]
    roots = np.roots([4.0, 0.0, -4.0, c])
    xs = []
    for r in roots:
        if abs(r.imag) <= 1e-6 * max(1.0, abs(r)):
            x = _polish(float(r.real), c)
            if not any(abs(x - other) <= 1e-9 * max(1.0, abs(x)) for other in xs):
                xs.append(x)
    return sorted(xs)


def _critical_points(values):
    c, k = float(values["c"]), float(values["k"])
    if not k > 0.0 or not math.isfinite(c):
        return []
    minima, saddles = [], []
    for x in x_critical(c):
        curvature = 12.0 * x * x - 4.0
        if curvature > 1e-6:
            minima.append(x)
        elif curvature < -1e-6:
            saddles.append(x)
    if c == 0.0:
        names = ("left_min", "right_min")
    else:
        minima = sorted(minima, key=lambda x: (x * x - 1.0) ** 2 + c * x)
        names = ("global_min", "local_min")
    points = [CriticalPoint("minimum", (x, 0.0), name) for x, name in zip(minima, names)]
    return points + [CriticalPoint("saddle", (x, 0.0), "saddle") for x in saddles]


LANDSCAPE = Landscape(
    "double_well",
    2,
    grad,
    loss,
    params={"c": 0.25, "k": 1.0},
    critical_points=_critical_points,
    formula="(x^2 - 1)^2 + c*x + (k/2)*y^2",
    doc=__doc__,
)
