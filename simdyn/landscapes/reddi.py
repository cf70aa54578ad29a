"""``reddi``: the online counterexample of Reddi, Kale & Kumar (2018), "On the Convergence of
Adam and Beyond" (ICLR), Section 3: Adam fails to converge on it, AMSGrad does not.

Online losses on the feasible set F = [−1, 1] (1-D, projected after every step):
    f_t(x) = C·x   if t mod 3 == 1
    f_t(x) = −x    otherwise,
with t the 1-based step and ``C`` > 2 (default 3.0). (The survey in
adam-latest-trends.md prints "t mod 3 = 3"; the paper's condition is t mod 3 = 1.)
Gradient: f_t'(x), i.e. C on steps 1, 4, 7, … and −1 otherwise; it depends on t, not on x.
Projection ``project``: clamps x to [−1, 1] (NaN passes through).
Loss: ``loss`` returns the average objective F(x) = (f_1 + f_2 + f_3)(x)/3 = (C − 2)·x/3, the
quantity the regret compares against (not f_t itself, which would jump every step).
Critical points: F is linear, so its minimizer on [−1, 1] is on the boundary: "constrained_min"
at x = −1 for C > 2 (the paper's regime, in which Adam drifts to x = +1
instead), at x = +1 for C < 2, none listed for C = 2 (F constant). The gradient is not zero
there: it is a minimum of the projected problem (the averaged projected gradient step fixes it).
"""

from .base import CriticalPoint, Landscape


def grad(w, p, t):
    c = p[0]
    if t % 3 == 1:
        return (c,)
    return (-1.0,)


def loss(w, p, t):
    x = w[0]
    c = p[0]
    return (c - 2.0) * x / 3.0


def project(w, p):
    x = w[0]
    if x < -1.0:
        return (-1.0,)
    if x > 1.0:
        return (1.0,)
    return (x,)


def _critical_points(values):
    c = float(values["C"])
    if c > 2.0:
        return [CriticalPoint("minimum", (-1.0,), "constrained_min")]
    if c < 2.0:
        return [CriticalPoint("minimum", (1.0,), "constrained_min")]
    return []


LANDSCAPE = Landscape(
    "reddi",
    1,
    grad,
    loss,
    params={"C": 3.0},
    project=project,
    critical_points=_critical_points,
    formula="f_t(x) = C*x if t mod 3 == 1 else -x, x in [-1, 1]; loss = (C - 2)*x/3",
    doc=__doc__,
)
