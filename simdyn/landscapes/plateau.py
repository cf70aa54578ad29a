"""``plateau``: a slope that ends in an exactly flat region, f(x, y) = s·max(−x, 0) + ½·y².

The setting of Proposition 2 of "Exploring the dynamics of Adam" (Section 4): an optimizer
running down a constant slope reaches a flat where the gradient is exactly zero, and only its
momentum (Adam: the decaying ratio m/√v) carries it further; the proposition bounds the
distance crossed (≈ 73·lr for the default betas). Measure it as x_final − 0 for starts at x < 0.

Parameter ``s`` (slope, default 1.0; use s > 0): for x < 0 the loss falls linearly at rate s
towards x = 0; for x ≥ 0 it is exactly flat in x. The y-part ½·y² keeps a second, ordinary
coordinate (gradient y) for 2-D studies.
Gradient convention: x-component −s for x < 0 and exactly 0.0 for x ≥ 0 (the one-sided value
at the kink x = 0 is the flat side's); y-component y.
Critical points: the minimizers are the whole flat half-line {x ≥ 0, y = 0}, no isolated
point, so nothing is listed (``critical_points`` returns []).
"""

from .base import Landscape


def grad(w, p, t):
    x, y = w
    s = p[0]
    return (-s if x < 0.0 else 0.0, y)


def loss(w, p, t):
    x, y = w
    s = p[0]
    return (-s * x if x < 0.0 else 0.0) + 0.5 * y * y


LANDSCAPE = Landscape(
    "plateau",
    2,
    grad,
    loss,
    params={"s": 1.0},
    critical_points=[],
    formula="s*max(-x, 0) + 0.5*y^2  (flat for x >= 0)",
    doc=__doc__,
)
